#!/bin/sh
# Golden configuration tests: run `localai -n[v] -f NNN-name.conf` for each
# NNN-name.conf here and compare with the expected results:
#   NNN-name.out   expected stdout of `-nv` (the normalised configuration)
#   NNN-name.err   expected stderr (the errors); the exit code must be 78
#   NNN-name.env   optional: environment assignments (shell syntax) for it
# With only .out, stderr must be "configuration OK" and the exit code 0;
# with only .err, `-n` is run and stdout must be empty.  In .out files
# @NCPU@ and @HOSTNAME@ stand for this machine's CPU count and host name
# (the defaults of api_workers and node_name).
#
# Every successful -nv output is also fed back to localai: the printed
# configuration must parse and print the same again.  A few checks at the
# end cover what a .conf file cannot: a missing or unreadable -f FILE,
# that etc/localai.conf is the defaults, written out, and that the
# example model configs in etc/models.d load.
#
# Runs from tests/config so that file names in messages are relative.
# BUILD names the build directory (default build), TOP the repository.
# UPDATE=1 rewrites the expected files from the actual output (review the
# diff before committing).  Exits non-zero when any case fails.
set -u
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${BUILD:-build}
case $build in
/*) ;;
*) build=$top/$build ;;
esac
bin=$build/bin/localai
cd "$top/tests/config" || exit 1
[ -x "$bin" ] || { echo "no $bin (run make)"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
ncpu=$(nproc)
host=$(hostname)
pass=0
fail=0

# Run localai with no LOCALAI_* variable but those of the case's .env.
run() {	# envfile args...
	envfile=$1
	shift
	(
		for v in $(env | sed -n 's/^\(LOCALAI_[A-Za-z0-9_]*\)=.*/\1/p'); do
			unset "$v"
		done
		if [ -n "$envfile" ] && [ -f "$envfile" ]; then
			case $envfile in
			/*) ;;
			*) envfile=./$envfile ;;
			esac
			set -a
			. "$envfile"
			set +a
		fi
		exec "$bin" "$@"
	) >"$tmp/stdout" 2>"$tmp/stderr"
	echo $? >"$tmp/rc"
}

expected() {	# file: the expected text with the machine's values put in
	sed -e "s|@NCPU@|$ncpu|g" -e "s|@HOSTNAME@|$host|g" "$1"
}

check() {	# name actual expected-file: compare, show a diff on mismatch
	expected "$3" >"$tmp/want"
	if ! cmp -s "$tmp/want" "$2"; then
		echo "FAIL $1: $(basename "$3") differs"
		diff -u "$tmp/want" "$2" | sed 's/^/    /' | head -n 60
		return 1
	fi
	return 0
}

# Write the actual output over the expected file (UPDATE=1).
update() {	# actual expected-file
	sed -e "s|^\(    api_workers = \)$ncpu;|\1@NCPU@;|" \
	    -e "s|^\(    node_name = \)\"$host\";|\1\"@HOSTNAME@\";|" "$1" >"$2"
}

# The -nv output without its header line and models, fed back to localai.
roundtrip() {	# name envfile
	sed -e '1d' -e '/^models = (/,$d' "$tmp/stdout" >"$tmp/rt.conf"
	sed -e '1d' "$tmp/stdout" >"$tmp/first"
	run "$2" -nv -f "$tmp/rt.conf"
	sed -e '1d' "$tmp/stdout" >"$tmp/second"
	if [ "$(cat "$tmp/rc")" != 0 ] || ! cmp -s "$tmp/first" "$tmp/second"; then
		echo "FAIL $1: the printed configuration does not read back the same"
		cat "$tmp/stderr" | sed 's/^/    /'
		diff -u "$tmp/first" "$tmp/second" | sed 's/^/    /' | head -n 40
		return 1
	fi
	return 0
}

one() {	# name
	name=$1
	ok=0
	want_rc=0
	[ -f "$name.err" ] && want_rc=78
	if [ -f "$name.out" ]; then
		run "$name.env" -nv -f "$name.conf"
	elif [ -f "$name.err" ]; then
		run "$name.env" -n -f "$name.conf"
	else
		echo "FAIL $name: no $name.out or $name.err"
		return 1
	fi
	if [ "${UPDATE:-0}" = 1 ]; then
		[ -f "$name.out" ] && update "$tmp/stdout" "$name.out"
		[ -f "$name.err" ] && cp "$tmp/stderr" "$name.err"
	fi
	if [ "$(cat "$tmp/rc")" != "$want_rc" ]; then
		echo "FAIL $name: exit $(cat "$tmp/rc"), expected $want_rc"
		sed 's/^/    /' "$tmp/stderr"
		return 1
	fi
	if [ -f "$name.out" ]; then
		check "$name" "$tmp/stdout" "$name.out" || ok=1
	elif [ -s "$tmp/stdout" ]; then
		echo "FAIL $name: unexpected output on stdout"
		ok=1
	fi
	if [ -f "$name.err" ]; then
		check "$name" "$tmp/stderr" "$name.err" || ok=1
	else
		echo "configuration OK" >"$tmp/ok"
		check "$name" "$tmp/stderr" "$tmp/ok" || ok=1
	fi
	if [ $ok = 0 ] && [ -f "$name.out" ] && [ "$want_rc" = 0 ]; then
		roundtrip "$name" "$name.env" || ok=1
	fi
	return $ok
}

result() {	# name status
	if [ "$2" = 0 ]; then
		pass=$((pass + 1))
		echo "ok   $1"
	else
		fail=$((fail + 1))
	fi
}

for conf in [0-9][0-9][0-9]-*.conf; do
	name=${conf%.conf}
	one "$name"
	result "$name" $?
done

# A missing -f FILE is an error naming it; so is a directory.
run "" -n -f missing.conf
printf 'missing.conf: No such file or directory\n' >"$tmp/want-missing"
if [ "$(cat "$tmp/rc")" = 78 ] && cmp -s "$tmp/stderr" "$tmp/want-missing"; then
	result missing-file 0
else
	echo "FAIL missing-file: exit $(cat "$tmp/rc"): $(cat "$tmp/stderr")"
	result missing-file 1
fi
run "" -n -f models
if [ "$(cat "$tmp/rc")" = 78 ] &&
    [ "$(cat "$tmp/stderr")" = "models: Is a directory" ]; then
	result directory 0
else
	echo "FAIL directory: exit $(cat "$tmp/rc"): $(cat "$tmp/stderr")"
	result directory 1
fi

# etc/localai.conf parses and is exactly the defaults.
run "" -nv -f ../../etc/localai.conf
sed -e '1d' "$tmp/stdout" >"$tmp/example"
sed -e '1d' 001-defaults.out >"$tmp/defaults.out"
if [ "$(cat "$tmp/rc")" = 0 ] &&
    check example-config "$tmp/example" "$tmp/defaults.out"; then
	result example-config 0
else
	echo "FAIL example-config: exit $(cat "$tmp/rc"): $(cat "$tmp/stderr")"
	result example-config 1
fi

# The example model configs (etc/models.d, llm.conf.example too) load.
mkdir -p "$tmp/models.d"
cp ../../etc/models.d/*.conf "$tmp/models.d/"
cp ../../etc/models.d/llm.conf.example "$tmp/models.d/llm.conf"
printf 'LOCALAI_MODELS_CONFIG_DIR=%s\nLOCALAI_MODELS_PATH=%s\n' \
    "$tmp/models.d" "$tmp/none" >"$tmp/models.env"
run "$tmp/models.env" -nv -f 001-defaults.conf
n=$(sed -n '/^models = (/,$p' "$tmp/stdout" | grep -c '^        name = ')
if [ "$(cat "$tmp/rc")" = 0 ] && [ "$n" = 3 ]; then
	result example-models 0
else
	echo "FAIL example-models: exit $(cat "$tmp/rc"), $n models"
	sed 's/^/    /' "$tmp/stderr"
	result example-models 1
fi

echo "config: $pass passed, $fail failed"
[ "$fail" = 0 ]
