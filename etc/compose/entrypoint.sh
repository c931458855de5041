#!/bin/sh
# localai-entrypoint: the one entry point of the localai image, installed as
# /usr/local/bin/localai-entrypoint.  The container runs as root only long
# enough to prepare its volume; each server then runs as its own user.
#
#	postgres	PostgreSQL 15 on :5432 (password auth over TCP), data
#			in $PGDATA; the cluster, the role and the database
#			"localai" are created on first start from
#			$POSTGRES_PASSWORD
#	nats		nats-server on :4222 (token $NATS_TOKEN), monitoring
#			on :8222 (/healthz)
#	frontend	localai frontend (api, router, agent)
#	worker		localai worker
#	standalone	localai standalone (everything in one container)
#	*		any other command, run as it is
set -eu
PGBIN=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/postgresql/data}"

die() { echo "localai-entrypoint: $*" >&2; exit 1; }

pg_first_start() {
	[ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not set"
	pw=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
	chown postgres: "$pw"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA.new" -U localai \
	    --pwfile="$pw" --auth-local=peer --auth-host=scram-sha-256 \
	    -E UTF8 --locale=C --no-instructions
	rm -f "$pw"
	echo "CREATE DATABASE localai;" | runuser -u postgres -- \
	    "$PGBIN/postgres" --single -D "$PGDATA.new" postgres >/dev/null
	echo "host all all all scram-sha-256" >>"$PGDATA.new/pg_hba.conf"
	mv "$PGDATA.new" "$PGDATA"
}

case "${1:-}" in
postgres)
	install -d -o postgres -g postgres -m 0700 "$(dirname "$PGDATA")"
	rm -rf "$PGDATA.new"
	[ -f "$PGDATA/PG_VERSION" ] || pg_first_start
	exec runuser -u postgres -- "$PGBIN/postgres" -D "$PGDATA" \
	    -c listen_addresses='*' -c shared_buffers=64MB \
	    -c max_connections=200
	;;
nats)
	[ -n "${NATS_TOKEN:-}" ] || die "NATS_TOKEN is not set"
	exec runuser -u nobody -- nats-server -a 0.0.0.0 -p 4222 -m 8222 \
	    --auth "$NATS_TOKEN"
	;;
frontend|worker|standalone)
	install -d -o localai -g localai -m 0750 /var/lib/localai
	exec runuser -u localai -- /usr/local/bin/localai "$1"
	;;
"")
	die "usage: localai-entrypoint postgres|nats|frontend|worker|standalone"
	;;
*)
	exec "$@"
	;;
esac
