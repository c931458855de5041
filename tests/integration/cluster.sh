# Shell helpers for cluster tests: real `localai frontend` and `localai
# worker` processes against the PostgreSQL and NATS that th-env started
# (TH_PG_URL, TH_NATS_URL).  Source it from a test running under th-env:
#
#	exec "$BUILD/tests/harness/th-env" --pg --nats -- sh -c '. …; …'
#
# Every process started here is recorded and stopped by cluster_stop
# (installed as an EXIT trap), so a failing test leaves nothing behind.
set -eu
: "${BUILD:=build}" "${TOP:=$(pwd)}"
LOCALAI="$TOP/$BUILD/bin/localai"
CT=$(mktemp -d "${TMPDIR:-/tmp}/cluster.XXXXXX")
chmod 755 "$CT"
CLUSTER_PIDS=""
REG_TOKEN=reg-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
ADMIN_KEY=adm-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

cluster_stop() {
	for p in $CLUSTER_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $CLUSTER_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	CLUSTER_PIDS=""
}
trap 'rc=$?; cluster_stop; [ $rc -eq 0 ] || cluster_logs; rm -rf "$CT"; exit $rc' EXIT

cluster_logs() {
	for f in "$CT"/*.log; do
		[ -f "$f" ] || continue
		echo "==== $f"; tail -n 60 "$f"
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# http_port GPORT: a free port for a worker's HTTP address outside its
# backend ports (GPORT and the 99 after it, the default port_count), which
# the worker's configuration rightly refuses.
http_port() {
	while :; do
		_p=$(free_port)
		{ [ "$_p" -lt "$1" ] || [ "$_p" -ge $(($1 + 100)) ]; } && break
	done
	echo "$_p"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# A models directory with a model config for the fake backend.
cluster_models() {
	mkdir -p "$CT/models"
	cat >"$CT/models/fake.conf" <<EOC
name = "fake";
backend = "fake";
model = "fake-model";
EOC
}

# A backends directory where `fake` is installed (the test-only backend).
cluster_backends() {	# dir
	mkdir -p "$1/fake"
	ln -sf "$TOP/$BUILD/tests/fakes/fakebackend" "$1/fake/run"
	echo '{"name":"fake","version":"test","capabilities":["llm"]}' >"$1/fake/metadata.json"
}

# cluster_frontend NAME PORT [ENV=VALUE...]: start a frontend.
cluster_frontend() {
	name=$1 port=$2; shift 2
	mkdir -p "$CT/$name"
	env LOCALAI_DATABASE_URL="$TH_PG_URL" LOCALAI_NATS_URL="$TH_NATS_URL" \
	    LOCALAI_ADDRESS="127.0.0.1:$port" \
	    LOCALAI_REGISTRATION_TOKEN="$REG_TOKEN" \
	    LOCALAI_ADMIN_KEY="$ADMIN_KEY" LOCALAI_AUTO_APPROVE_NODES=true \
	    LOCALAI_STATE_DIR="$CT/$name" LOCALAI_MODELS_PATH="$CT/models" \
	    LOCALAI_API_WORKERS=2 "$@" \
	    "$LOCALAI" -f /dev/null frontend >"$CT/$name.log" 2>&1 &
	CLUSTER_PIDS="$CLUSTER_PIDS $!"
	wait_http "http://127.0.0.1:$port/healthz" 200 20 ||
	    fail "frontend $name did not come up"
}

# cluster_worker NAME FRONTEND_PORT GRPC_PORT [ENV=VALUE...]: start a worker.
cluster_worker() {
	name=$1 fport=$2 gport=$3; shift 3
	mkdir -p "$CT/$name"
	cluster_backends "$CT/$name/backends"
	env LOCALAI_REGISTER_TO="http://127.0.0.1:$fport" \
	    LOCALAI_NATS_URL="$TH_NATS_URL" \
	    LOCALAI_REGISTRATION_TOKEN="$REG_TOKEN" \
	    LOCALAI_SERVE_ADDR="127.0.0.1:$gport" \
	    LOCALAI_HTTP_ADDR="127.0.0.1:$(http_port "$gport")" \
	    LOCALAI_NODE_NAME="$name" LOCALAI_STATE_DIR="$CT/$name" \
	    LOCALAI_BACKENDS_PATH="$CT/$name/backends" \
	    LOCALAI_MODELS_PATH="$CT/$name/models" "$@" \
	    "$LOCALAI" -f /dev/null worker >"$CT/$name.log" 2>&1 &
	CLUSTER_PIDS="$CLUSTER_PIDS $!"
	echo $!
}

# wait_http URL STATUS SECONDS
wait_http() {
	i=0
	while [ $i -lt $(($3 * 10)) ]; do
		s=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)
		[ "$s" = "$2" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# admin METHOD PATH [BODY]: the admin API; prints the body.
admin() {
	curl -s -X "$1" -H "Authorization: Bearer $ADMIN_KEY" \
	    -H 'Content-Type: application/json' ${3:+-d "$3"} \
	    "http://127.0.0.1:$FRONTEND_PORT$2"
}

# json EXPR: evaluate a Python expression on the JSON read from stdin (j).
json() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# wait_nodes N SECONDS: until N nodes are healthy.
wait_nodes() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		n=$(admin GET /api/nodes | json "sum(1 for n in j if n['status']=='healthy' and not n['suspect'])" 2>/dev/null || echo 0)
		[ "$n" = "$1" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	admin GET /api/nodes >&2 || true
	return 1
}
