# lib_cluster.sh: a throwaway localai cluster for shell tests, sourced by
# tests/integration/api_cluster.test (and tests/e2e).  It is a stop-gap
# until the harness (tests/harness, th-env) is in main; then these
# functions can become thin wrappers around it.
#
#	. tests/integration/lib_cluster.sh
#	lc_init                     # temp dir, cleanup at exit
#	lc_has_cluster || { echo "SKIP: ..."; exit 0; }
#	lc_pg_start; lc_nats_start  # LC_PG_URL, LC_NATS_URL
#	lc_frontend_start           # LC_URL (api), LC_ADMIN_KEY, LC_API_KEY
#	lc_worker_start w1          # registers with the frontend
#
# PostgreSQL runs as the postgres user (initdb refuses root) on a Unix
# socket in the temp dir; nats-server on a free port.  Every process is a
# child of the test shell and is stopped at exit.
: "${BUILD:=build}" "${TOP:=$(pwd)}"
LC_BIN=$TOP/$BUILD/bin/localai
LC_PIDS=""
LC_TOKEN=lc-registration-token
LC_ADMIN_KEY=lc-admin-key
LC_API_KEY=lc-api-key

lc_cleanup() {
	for p in $LC_PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $LC_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${LC_PGDATA:-}" ] && [ -d "$LC_PGDATA" ]; then
		runuser -u postgres -- "$LC_PGBIN/pg_ctl" -D "$LC_PGDATA" \
		    -m immediate -w stop >/dev/null 2>&1 || true
	fi
	[ -n "${LC_DIR:-}" ] && rm -rf "$LC_DIR"
}

lc_init() {
	LC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lc.XXXXXX")
	chmod 755 "$LC_DIR"
	trap lc_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Does this binary have the processes a cluster needs (not placeholders)?
lc_has_cluster() {
	nm "$LC_BIN" 2>/dev/null | grep -q ' T router_main$' &&
	    nm "$LC_BIN" 2>/dev/null | grep -q ' T agent_main$'
}

lc_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Poll URL until it answers STATUS (default 200), TIMEOUT seconds (30).
lc_wait_http() {
	_n=0
	while [ "$_n" -lt "$(( ${3:-30} * 10 ))" ]; do
		_s=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' \
		    ${4:+-H "$4"} "$1" || true)
		[ "$_s" = "${2:-200}" ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	echo "timeout waiting for $1 to answer ${2:-200} (last $_s)" >&2
	return 1
}

lc_pg_start() {
	LC_PGBIN=$(pg_config --bindir)
	LC_PGDATA=$LC_DIR/pg/data
	mkdir -p "$LC_PGDATA" "$LC_DIR/pg/sock"
	chown -R postgres: "$LC_DIR/pg"
	LC_PGPORT=$(lc_free_port)
	runuser -u postgres -- "$LC_PGBIN/initdb" -D "$LC_PGDATA" -A trust \
	    -U postgres -E UTF8 --locale=C --no-sync --no-instructions \
	    >"$LC_DIR/initdb.log" 2>&1
	runuser -u postgres -- "$LC_PGBIN/pg_ctl" -D "$LC_PGDATA" \
	    -l "$LC_DIR/pg/log" -w -o "-k $LC_DIR/pg/sock -p $LC_PGPORT \
	    -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
	    -c full_page_writes=off" start >/dev/null
	LC_PG_URL="postgresql:///postgres?host=$LC_DIR/pg/sock&port=$LC_PGPORT&user=postgres"
}

lc_nats_start() {
	_p=$(lc_free_port)
	nats-server -a 127.0.0.1 -p "$_p" >"$LC_DIR/nats.log" 2>&1 &
	LC_PIDS="$LC_PIDS $!"
	LC_NATS_URL=nats://127.0.0.1:$_p
	python3 - "$_p" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}

# A model config for the fake backend: lc_model NAME [OPTIONS].
lc_model() {
	mkdir -p "$LC_DIR/models.d"
	cat >"$LC_DIR/models.d/$1.conf" <<EOC
name = "$1";
backend = "fake";
model = "$1";
EOC
}

lc_frontend_start() {
	: >"$LC_DIR/empty.conf"
	LC_PORT=$(lc_free_port)
	LC_URL=http://127.0.0.1:$LC_PORT
	mkdir -p "$LC_DIR/fe" "$LC_DIR/models.d"
	env LOCALAI_ADDRESS=127.0.0.1:$LC_PORT \
	    LOCALAI_DATABASE_URL="$LC_PG_URL" LOCALAI_NATS_URL="$LC_NATS_URL" \
	    LOCALAI_REGISTRATION_TOKEN=$LC_TOKEN LOCALAI_ADMIN_KEY=$LC_ADMIN_KEY \
	    LOCALAI_API_KEYS=$LC_API_KEY LOCALAI_API_WORKERS=2 \
	    LOCALAI_AUTO_APPROVE_NODES=true LOCALAI_STATE_DIR="$LC_DIR/fe" \
	    LOCALAI_MODELS_CONFIG_DIR="$LC_DIR/models.d" \
	    "$LC_BIN" -d -f "$LC_DIR/empty.conf" frontend \
	    >"$LC_DIR/frontend.log" 2>&1 &
	LC_PIDS="$LC_PIDS $!"
	lc_wait_http "$LC_URL/healthz" 200 30
}

# lc_worker_start NAME [FAKE_BACKEND_OPTIONS]: a worker with the fake
# backend installed as "fake".
lc_worker_start() {
	_d=$LC_DIR/$1
	mkdir -p "$_d/backends/fake"
	cp "$TOP/$BUILD/tests/fakes/fakebackend" "$_d/backends/fake/run"
	printf '{"name":"fake","version":"test"}\n' \
	    >"$_d/backends/fake/metadata.json"
	_base=$(lc_free_port)
	env FAKE_BACKEND_OPTIONS="${2:-}" \
	    FAKE_BACKEND_EVENTS="$_d/events" \
	    LOCALAI_REGISTER_TO="$LC_URL" LOCALAI_NATS_URL="$LC_NATS_URL" \
	    LOCALAI_REGISTRATION_TOKEN=$LC_TOKEN LOCALAI_NODE_NAME="$1" \
	    LOCALAI_SERVE_ADDR=127.0.0.1:$_base \
	    LOCALAI_HTTP_ADDR=127.0.0.1:$(lc_free_port) \
	    LOCALAI_PORT_COUNT=10 LOCALAI_STATE_DIR="$_d" \
	    LOCALAI_BACKENDS_PATH="$_d/backends" \
	    LOCALAI_MODELS_PATH="$_d/models" \
	    "$LC_BIN" -d -f "$LC_DIR/empty.conf" worker \
	    >"$LC_DIR/worker-$1.log" 2>&1 &
	LC_PIDS="$LC_PIDS $!"
}

# lc_wait_nodes N [SECONDS]: until N nodes are healthy.
lc_wait_nodes() {
	_n=0
	while [ "$_n" -lt "$(( ${2:-30} * 10 ))" ]; do
		_h=$(curl -s --noproxy '*' -H "Authorization: Bearer $LC_ADMIN_KEY" \
		    "$LC_URL/api/nodes" | python3 -c 'import json, sys
print(sum(1 for n in json.load(sys.stdin) if n.get("status") == "healthy"))' \
		    2>/dev/null || echo 0)
		[ "$_h" = "$1" ] && return 0
		sleep 0.1
		_n=$((_n + 1))
	done
	return 1
}

# Show the logs (on failure).
lc_logs() {
	for f in "$LC_DIR"/*.log; do
		echo "--- $f"
		tail -n 40 "$f"
	done
}
