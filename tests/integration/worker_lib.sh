# Helpers for the worker tests (tests/integration/worker_*.test), on top of
# cluster.sh: NATS requests to a node (natsc.py, the text protocol over a
# socket), the worker's process tree read from /proc, and polling.
#
#	. "$TOP/tests/integration/cluster.sh"
#	. "$TOP/tests/integration/worker_lib.sh"
#	start_worker w1 LOCALAI_HEARTBEAT_INTERVAL=200ms
#	node_cmd backend.install '{"backend":"fake","model_id":"m1"}'
NATS_URL=${NATS_URL:-${TH_NATS_URL:-}}
SPEECH_CLIENT=$TOP/$BUILD/tests/integration/speech_client
# A signal (run.sh's timeout) must still run cluster.sh's EXIT trap.
trap 'exit 143' TERM
trap 'exit 130' INT

# Some tests need the real frontend; skip (saying so) before it exists.
need_frontend() {
	if ! nm "$LOCALAI" 2>/dev/null | grep -q ' T api_main$'; then
		echo "SKIP: localai has no api process yet"
		exit 0
	fi
}

natsc() {
	python3 "$TOP/tests/integration/natsc.py" "$@"
}

# nats_req SUBJECT JSON [TIMEOUT_S]: print the reply.
nats_req() {
	natsc req "$NATS_URL" "$1" "$2" "${3:-60}"
}

# node_cmd VERB JSON [TIMEOUT_S]: request nodes.<NODE_ID>.VERB.
node_cmd() {
	nats_req "nodes.$NODE_ID.$1" "$2" "${3:-60}"
}

# start_worker NAME [ENV=VALUE...]: a worker registering with the frontend
# at FRONTEND_PORT; sets W_PID (its supervisor), W_DIR (state dir), W_HTTP
# (host:port of its HTTP endpoint) and W_GPORT (its first backend port).
start_worker() {
	_name=$1; shift
	W_GPORT=$(free_port)
	W_HTTP=127.0.0.1:$(http_port "$W_GPORT")
	cluster_worker "$_name" "$FRONTEND_PORT" "$W_GPORT" \
	    LOCALAI_HTTP_ADDR="$W_HTTP" "$@" >/dev/null
	W_PID=$!
	W_DIR=$CT/$_name
	wait_http "http://$W_HTTP/healthz" 200 20 ||
	    fail "worker $_name: no /healthz"
}

# node_id_of NAME: the node id the frontend gave NAME (from its state).
node_id_of() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' \
	    "$CT/$1/node.json"
}

# wait_registered NAME SECONDS: until NAME has an id; sets NODE_ID.
wait_registered() {
	wait_for "$2" sh -c "grep -q '\"id\": \"[^\"]' '$CT/$1/node.json'" ||
	    fail "worker $1 did not register"
	NODE_ID=$(node_id_of "$1")
}

# node_get NAME EXPR: EXPR on node NAME's entry n in GET /api/nodes.
node_get() {
	admin GET /api/nodes |
	    json "[n for n in j if n['name']=='$1'][0]$2" 2>/dev/null
}

# backend_token NAME: what the frontend presents to NAME's backends.
backend_token() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backend_token"])' \
	    "$CT/$1/node.json"
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	_t=$1; shift
	_i=0
	while [ $_i -lt $((_t * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# children PID: its direct children.
children() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true
}

# descendants PID: every process below PID.
descendants() {
	for _c in $(children "$1"); do
		echo "$_c"
		descendants "$_c"
	done
}

# agent_pid SUPERVISOR_PID: the worker agent process.
agent_pid() {
	for _c in $(children "$1"); do
		{ tr '\0' ' ' <"/proc/$_c/cmdline"; } 2>/dev/null |
		    grep -q -- '-P agent' && echo "$_c"
	done
	return 0
}

# backend_pids SUPERVISOR_PID: the backend processes (every child but
# the agent).
backend_pids() {
	_a=$(agent_pid "$1")
	for _c in $(children "$1"); do
		[ "$_c" = "$_a" ] || echo "$_c"
	done
	return 0
}

# count_backends SUPERVISOR_PID
count_backends() {
	backend_pids "$1" | grep -c . || true
}

# pids_under DIR: processes whose command line mentions DIR (a worker's
# state directory holds its backends, so this finds leftovers).
pids_under() {
	for _p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$_p/cmdline"; } 2>/dev/null |
		    grep -qF -- "$1" && echo "${_p#/proc/}"
	done
	return 0
}

# json_ok: stdin is a command reply with "success": true.
json_ok() {
	json "j.get('success') is True" | grep -qx True
}

# expect_refused WHAT REPLY: a {success:false, error} reply.
expect_refused() {
	echo "$2" | json "j['success'] is False and len(j['error']) > 0" |
	    grep -qx True || fail "$1: expected {success:false,error}, got $2"
}

# node_status_is NAME STATUS: NAME's status in GET /api/nodes.
node_status_is() {
	[ "$(node_get "$1" "['status']")" = "$2" ]
}

# watch_events FILE SECONDS PYEXPR: in the background, record every
# localai.events.replica message in FILE until one makes PYEXPR true (j
# is the message); returns once subscribed.  WATCH_PID is the watcher;
# `wait "$WATCH_PID"` is 0 when the awaited event came.
watch_events() {
	rm -f "$1" "$1.err"
	natsc wait "$NATS_URL" localai.events.replica "$2" "$3" >"$1" \
	    2>"$1.err" &
	WATCH_PID=$!
	wait_for 10 grep -q subscribed "$1.err" || fail "no NATS watcher"
}

# chat MODEL: a non-streaming chat completion; prints the content.
chat() {
	curl -s "http://127.0.0.1:$FRONTEND_PORT/v1/chat/completions" \
	    -H 'Content-Type: application/json' \
	    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" |
	    json "j['choices'][0]['message']['content']"
}

# replica_is MODEL STATES: the states of MODEL's replicas are STATES.
replica_is() {
	[ "$(replica_state "$1")" = "$2" ]
}

# replica_state MODEL: its replicas' states in GET /api/models.
replica_state() {
	admin GET /api/models |
	    json "' '.join(r['state'] for m in j if m['name']=='$1' for r in m['replicas'])"
}

# nats_start PORT: a nats-server of our own on 127.0.0.1:PORT (so a test
# can stop and restart it); sets NATSD_PID.  nats_stop kills it.
nats_start() {
	nats-server -a 127.0.0.1 -p "$1" -n "wtest-$1" \
	    >>"$CT/nats-$1.log" 2>&1 &
	NATSD_PID=$!
	CLUSTER_PIDS="$CLUSTER_PIDS $NATSD_PID"
	wait_for 10 natsc pub "nats://127.0.0.1:$1" wtest.ping "" ||
	    fail "nats-server on port $1 did not start"
}

nats_stop() {
	kill -KILL "$NATSD_PID" 2>/dev/null || true
	wait "$NATSD_PID" 2>/dev/null || true
}

# hb_age NAME: milliseconds since the frontend heard from node NAME.
hb_age() {
	node_get "$1" "['last_heartbeat_ms_ago']"
}

# alive PID: it exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] &&
	    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# worker_finish: stop everything, then fail on any sanitizer report in
# the workers' logs (their processes report at exit); print "ok".
worker_finish() {
	cluster_stop
	if grep -E -l 'ERROR: [A-Za-z]+Sanitizer|runtime error:' \
	    "$CT"/w*.log >/dev/null 2>&1; then
		grep -E -A30 'ERROR: [A-Za-z]+Sanitizer|runtime error:' \
		    "$CT"/w*.log >&2
		fail "sanitizer report in a worker's log"
	fi
	echo "ok"
}
