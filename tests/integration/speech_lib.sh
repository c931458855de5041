# Shared shell helpers of the speech backend tests (speech_*.test), sourced,
# not run.  Backends run as children of the test shell on a Unix socket in
# a private directory or on an ephemeral TCP port, and are stopped with
# SIGTERM; a clean exit (status 0, so no ASan/LSan report) is checked.
set -eu
: "${BUILD:=build}"
CLIENT="$BUILD/tests/integration/speech_client"
TESTDATA=/usr/share/pocketsphinx/test/data
tmp=$(mktemp -d /tmp/speech_test.XXXXXX)
failed=0
children=""

speech_cleanup() {
	for p in $children; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap speech_cleanup EXIT

pass() { echo "ok - $1"; }
fail() {
	echo "not ok - $1"
	failed=$((failed + 1))
}

# start_backend NAME unix|tcp [FLAGS...]: sets ADDR and PID.
start_backend() {
	name=$1 transport=$2
	shift 2
	log="$tmp/$name.log"
	if [ "$transport" = tcp ]; then
		rm -f "$tmp/$name.port"
		"$BUILD/backends/$name/run" --addr 127.0.0.1:0 \
		    --port-file "$tmp/$name.port" "$@" 2>>"$log" &
		PID=$!
		i=0
		while [ ! -s "$tmp/$name.port" ] && [ $i -lt 200 ]; do
			sleep 0.05
			i=$((i + 1))
		done
		ADDR="127.0.0.1:$(cat "$tmp/$name.port")"
	else
		ADDR="unix:$tmp/$name.sock"
		"$BUILD/backends/$name/run" --addr "$ADDR" "$@" 2>>"$log" &
		PID=$!
	fi
	children="$children $PID"
	if ! "$CLIENT" health "$ADDR" >/dev/null; then
		echo "not ok - $name did not answer Health on $ADDR"
		cat "$log"
		exit 1
	fi
}

# stop_backend PID NAME: SIGTERM, then the exit status must be 0.
stop_backend() {
	kill -TERM "$1"
	if wait "$1"; then
		pass "$2 exits 0 on SIGTERM"
	else
		fail "$2 exits 0 on SIGTERM (status $?)"
		cat "$tmp/$2.log"
	fi
	children=$(echo "$children" | sed "s/ $1\$//; s/ $1 / /")
}

# expect_ok DESC CMD...: the call succeeds; its output is in $OUT.
expect_ok() {
	desc=$1
	shift
	if OUT=$("$@" 2>&1); then
		pass "$desc"
	else
		fail "$desc: $OUT"
	fi
}

# expect_error DESC CODE TEXT CMD...: fails with gRPC status CODE and a
# message containing TEXT.
expect_error() {
	desc=$1 code=$2 text=$3
	shift 3
	if OUT=$("$@" 2>&1); then
		fail "$desc: succeeded: $OUT"
	elif echo "$OUT" | grep -q "^error $code " &&
	    echo "$OUT" | grep -qF -- "$text"; then
		pass "$desc ($OUT)"
	else
		fail "$desc: want $code '$text', got: $OUT"
	fi
}

# count_words REFERENCE HYPOTHESIS: how many reference words the
# hypothesis contains, in order (longest common subsequence of words).
count_words() {
	awk -v ref="$1" -v hyp="$2" 'BEGIN {
		n = split(ref, r, " "); m = split(hyp, h, " ")
		for (i = 0; i <= n; i++) L[i, 0] = 0
		for (j = 0; j <= m; j++) L[0, j] = 0
		for (i = 1; i <= n; i++)
			for (j = 1; j <= m; j++)
				if (r[i] == h[j]) L[i, j] = L[i - 1, j - 1] + 1
				else L[i, j] = L[i - 1, j] > L[i, j - 1] ? \
				    L[i - 1, j] : L[i, j - 1]
		print L[n, m]
	}'
}

# field NAME "k1 v1 k2 v2 ...": the value after NAME.
field() {
	echo "$2" | awk -v k="$1" '{ for (i = 1; i < NF; i++)
	    if ($i == k) { print $(i + 1); exit } }'
}

finish() {
	if [ "$failed" -ne 0 ]; then
		echo "$failed check(s) failed"
		exit 1
	fi
	echo "all checks passed"
}
