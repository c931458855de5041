# Shared shell helpers for tests/integration/standalone_*.test (sourced).
#
# They run the real `localai standalone` from an empty state directory:
# its private PostgreSQL and nats-server, the frontend's processes and the
# local worker agent.  Every process started carries SUPTEST_TAG (the
# supervisor passes it on to every child, PostgreSQL's backends included),
# so the EXIT trap of supervisor_lib.sh removes whatever is left and
# sup_leftovers finds stragglers.
. "$(dirname "$0")/supervisor_lib.sh"

# supervisor_lib.sh points the roles at unused servers; standalone must
# start its own.
unset LOCALAI_DATABASE_URL LOCALAI_NATS_URL LOCALAI_REGISTER_TO \
    LOCALAI_REGISTRATION_TOKEN LOCALAI_TEST_CHILD_EXEC || true
chmod 755 "$T"		# PostgreSQL runs as another user: it must traverse
STATE=$T/state
SA_PORT=$(free_port)
SA_URL=http://127.0.0.1:$SA_PORT
SA_HTTP=$(free_port)
SA_BASE=$(free_port)
while [ "$SA_HTTP" -ge "$SA_BASE" ] && [ "$SA_HTTP" -lt $((SA_BASE + 20)) ]; do
	SA_HTTP=$(free_port)
done
PSQL="psql -X -q -At -h $STATE/pg/run -U localai -d localai"

# The api process is someone else's part; until it is built in, the
# checks that need HTTP are skipped (and the test says so).
HAVE_API=0
if nm "$LOCALAI" 2>/dev/null | grep -q ' T api_main$'; then
	HAVE_API=1
fi

# sa_start [VAR=value...]: start `localai standalone` in the background.
sa_start() {
	: >"$LOG"
	env SUPTEST_TAG="$TAG" LOCALAI_STATE_DIR="$STATE" \
	    LOCALAI_ADDRESS="127.0.0.1:$SA_PORT" LOCALAI_API_WORKERS=2 \
	    LOCALAI_SERVE_ADDR="127.0.0.1:$SA_BASE" LOCALAI_PORT_COUNT=20 \
	    LOCALAI_HTTP_ADDR="127.0.0.1:$SA_HTTP" LOCALAI_NODE_NAME=local \
	    LOCALAI_DRAIN_TIMEOUT=5s LOCALAI_MODELS_CONFIG_DIR="$T/models.d" \
	    "$@" "$LOCALAI" -f "$T/localai.conf" standalone >>"$LOG" 2>&1 &
	SUP_PID=$!
}

# The pid of the supervisor's child running PROGRAM (postgres, nats-server).
child_pid() {
	for p in $(ps -o pid= --ppid "$SUP_PID"); do
		if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

secret() {	# secret NAME: a value from the secrets file
	sed -n "s/^$1=//p" "$STATE/standalone.secrets"
}

# admin METHOD PATH: the admin API with the generated admin key.
admin() {
	curl -s -X "$1" -H "Authorization: Bearer $(secret admin_key)" "$SA_URL$2"
}

json() {
	python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

# wait_node_healthy SECONDS: the local worker is registered and healthy.
wait_node_healthy() {
	end=$(( $(date +%s) + $1 ))
	while :; do
		n=$(admin GET /api/nodes 2>/dev/null | json "sum(1 for n in j if n['name']=='local' and n['status']=='healthy')" 2>/dev/null || echo 0)
		[ "$n" = 1 ] && return 0
		[ "$(date +%s)" -lt "$end" ] || { admin GET /api/nodes >&2 || true; return 1; }
		sleep 0.2
	done
}

# wait_sql SECONDS QUERY EXPECTED: until QUERY (over the private socket)
# prints EXPECTED.
wait_sql() {
	end=$(( $(date +%s) + $1 ))
	while [ "$($PSQL -c "$2" 2>/dev/null)" != "$3" ]; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# Nothing of ours left: no tagged process, no zombie child.
check_all_gone() {
	check_no_leftovers
	pgrep -f "$STATE/pg/data" >/dev/null && fail "a postgres of ours still runs"
	pgrep -f "$STATE/nats/nats.conf" >/dev/null && fail "our nats-server still runs"
	echo "ok: no postgres, nats-server or localai process left"
}
mkdir -p "$T/models.d"

# wait_http URL STATUS SECONDS
wait_http() {
	end=$(( $(date +%s) + $3 ))
	while [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" != "$2" ]; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
