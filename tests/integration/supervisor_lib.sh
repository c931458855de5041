# Shared shell helpers for tests/integration/supervisor_*.test (sourced).
#
# Each test runs `localai` with LOCALAI_TEST_CHILD_EXEC pointing at
# tests/fakes/fakeproc, so the core children are fakes whose behaviour
# the FAKE_* variables choose.  Every process the test starts carries
# SUPTEST_TAG=<unique> in its environment; the EXIT trap kills whatever
# still carries it, and sup_leftovers lists them for assertions.
set -eu
: "${BUILD:=build}"
: "${TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
LOCALAI=$TOP/$BUILD/bin/localai
FAKE=$TOP/$BUILD/tests/fakes/fakeproc
HERE=$TOP/tests/integration
T=$(mktemp -d /tmp/suptest.XXXXXX)
TAG="suptest-$$-$(date +%s%N)"
SUP_PID=
SUP_RC=
NOTIFY_PID=
LOG=$T/log
printf '# supervisor test configuration\n' >"$T/localai.conf"
[ -x "$LOCALAI" ] || { echo "FAIL: $LOCALAI not built"; exit 1; }
[ -x "$FAKE" ] || { echo "FAIL: $FAKE not built"; exit 1; }

# Settings the configuration checks of each role want; the fakes use none.
export LOCALAI_REGISTRATION_TOKEN=test-registration-token
export LOCALAI_DATABASE_URL=postgresql://unused@127.0.0.1:1/unused
export LOCALAI_NATS_URL=nats://127.0.0.1:1
export LOCALAI_REGISTER_TO=http://127.0.0.1:1
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID LISTEN_FDS LISTEN_PID || true

fail() {
	echo "FAIL: $*"
	echo "---- supervisor log ($LOG)"
	cat "$LOG" 2>/dev/null | tail -n 80
	exit 1
}

# Live processes carrying our tag (zombies have no environment: see
# sup_zombies for those).
sup_leftovers() {
	for e in /proc/[0-9]*/environ; do
		if tr '\0' '\n' 2>/dev/null <"$e" | grep -qx "SUPTEST_TAG=$TAG"; then
			p=${e#/proc/}
			echo "${p%/environ}"
		fi
	done
}

# Zombie children of the supervisor (unreaped).
sup_zombies() {
	ps -o pid=,stat= --ppid "$SUP_PID" 2>/dev/null | awk '$2 ~ /^Z/ {print $1}'
}

sup_cleanup() {
	if [ -n "$SUP_PID" ] && [ -d "/proc/$SUP_PID" ]; then
		kill -KILL "$SUP_PID" 2>/dev/null || true
		wait "$SUP_PID" 2>/dev/null || true
	fi
	for p in $(sup_leftovers); do
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ -n "$NOTIFY_PID" ]; then
		kill "$NOTIFY_PID" 2>/dev/null || true
		wait "$NOTIFY_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap 'rc=$?; sup_cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM HUP PIPE

# sup_start VAR=value... -- localai arguments: start the supervisor in the
# background with the fakes, logging to $LOG.
sup_start() {
	: >"$LOG"
	env SUPTEST_TAG="$TAG" LOCALAI_TEST_CHILD_EXEC="$FAKE" \
	    FAKE_DIR="$T" "$@" >>"$LOG" 2>&1 &
	SUP_PID=$!
}

# wait_log REGEX [SECONDS] [COUNT]: until $LOG has COUNT matching lines.
wait_log() {
	end=$(( $(date +%s) + ${2:-10} ))
	while [ "$(grep -cE "$1" "$LOG" || true)" -lt "${3:-1}" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			fail "timed out waiting for ${3:-1} x /$1/"
		fi
		sleep 0.1
	done
}

count_log() {
	grep -cE "$1" "$LOG" || true
}

# Still running (and not a zombie)?
sup_running() {
	[ -r "/proc/$SUP_PID/stat" ] &&
	    [ "$(cut -d' ' -f3 "/proc/$SUP_PID/stat" 2>/dev/null)" != Z ]
}

# wait_exit SECONDS: until the supervisor exits; its status in SUP_RC.
wait_exit() {
	end=$(( $(date +%s) + $1 ))
	while sup_running; do
		if [ "$(date +%s)" -ge "$end" ]; then
			fail "supervisor still running after $1 s"
		fi
		sleep 0.1
	done
	SUP_RC=0
	wait "$SUP_PID" || SUP_RC=$?
	SUP_PID=
}

# The supervisor has exactly one thread (and so never started a library
# that makes its own).
check_one_thread() {
	n=$(ls "/proc/$SUP_PID/task" | wc -l)
	[ "$n" -eq 1 ] || fail "supervisor has $n threads"
	echo "ok: supervisor has 1 thread"
}

check_no_leftovers() {
	sleep 0.2
	left=$(sup_leftovers)
	[ -z "$left" ] || { ps -o pid,ppid,stat,args -p "$(echo $left | tr ' ' ,)" || true; fail "processes left behind: $left"; }
	echo "ok: no process left behind"
}

# notify_listen: a datagram socket in $T for NOTIFY_SOCKET; what arrives
# goes to $T/notify, one message per line ("\n" inside shown as "|").
notify_listen() {
	python3 "$HERE/supervisor_notify.py" "$T/notify.sock" "$T/notify" &
	NOTIFY_PID=$!
	i=0
	while [ ! -S "$T/notify.sock" ]; do
		i=$((i + 1))
		[ "$i" -lt 50 ] || fail "notify listener did not start"
		sleep 0.1
	done
}

# wait_notify REGEX [SECONDS] [COUNT]
wait_notify() {
	end=$(( $(date +%s) + ${2:-10} ))
	while [ "$(grep -cE "$1" "$T/notify" 2>/dev/null || true)" -lt "${3:-1}" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "---- notify messages"; cat "$T/notify" || true
			fail "timed out waiting for notify ${3:-1} x /$1/"
		fi
		sleep 0.1
	done
}

# log_times REGEX: the unix times of the matching lines of $LOG.
log_times() {
	grep -E "$1" "$LOG" | python3 -c '
import sys, re, datetime
for line in sys.stdin:
    m = re.search(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z", line)
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
    print("%.3f" % t.replace(tzinfo=datetime.timezone.utc).timestamp())
'
}

# since START: seconds elapsed since START (a `date +%s.%N` value).
since() {
	awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
