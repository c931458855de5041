#!/bin/sh
# Run every benchmark and print its figures (they are measurements, not
# tests: nothing here passes or fails on speed).  BENCH=regex limits the
# set; bench_llama generates a TinyLlama-sized model under /tmp first
# (several GB, minutes): BENCH=llama runs it alone.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
b=${BUILD:-build}
filter=${BENCH:-'^(place|openai|metrics|grpc|api)$'}
run() {	# name command...
	echo "$1" | grep -Eq "$filter" || return 0
	shift
	echo "==== $*"
	"$@" || echo "(benchmark exited $?)"
	echo
}
run place "$b/tests/bench/bench_place"
run openai "$b/tests/bench/bench_openai"
run metrics "$b/tests/bench/bench_metrics"
run grpc "$b/tests/bench/bench_grpc" "$b/tests/fakes/fakebackend"
run api "$b/tests/bench/bench_api" "$b"
run llama "$b/tests/bench/bench_llama"
