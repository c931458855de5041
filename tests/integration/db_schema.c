/*
 * db/db.c and db/migrations against a real PostgreSQL (started by the
 * harness): migrations apply on an empty database and re-running them is a
 * no-op; a failing migration is rolled back whole; the schema's
 * constraints reject bad rows with the right error class; db_event writes
 * rows; prepared statements, advisory locks and notices work; and a lost
 * connection (server restarted, stopped or killed) is classified DB_ECONN
 * and recovered by db_reconnect.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "proto/log.h"
#include "tests/harness/harness.h"

static struct th_pg *pg;
static char migrations[PATH_MAX];
static int ndb;
static char conninfo[PATH_MAX + 128]; /* of the last fresh_db() */

/* A fresh database; returns a connected handle. */
static struct db *
fresh_db(void)
{
	char name[32];
	struct db *db;

	snprintf(name, sizeof(name), "t%d", ++ndb);
	assert_int_equal(
	    th_pg_createdb(pg, name, conninfo, sizeof(conninfo)), 0);
	assert_non_null(db = db_connect(conninfo));
	return db;
}

static struct db *
migrated_db(void)
{
	struct db *db = fresh_db();

	assert_int_equal(db_migrate(db, migrations), 1);
	return db;
}

/* The first value of a one-row query, copied into a static buffer. */
static const char *
one(struct db *db, const char *sql)
{
	static char buf[512];
	PGresult *r;

	assert_non_null(r = db_query(db, NULL, sql, 0, NULL));
	assert_int_equal(PQntuples(r), 1);
	snprintf(buf, sizeof(buf), "%s",
	    PQgetisnull(r, 0, 0) ? "(null)" : PQgetvalue(r, 0, 0));
	PQclear(r);
	return buf;
}

/* sql must fail with this kind, SQLSTATE and (if given) constraint. */
static void
must_fail(struct db *db, const char *sql, enum db_error kind,
    const char *sqlstate, const char *constraint)
{
	const struct db_errinfo *e;

	if (db_exec(db, NULL, sql, 0, NULL) != -1)
		fail_msg("accepted: %s", sql);
	e = db_error(db);
	if (e->kind != kind || strcmp(e->sqlstate, sqlstate) != 0 ||
	    (constraint != NULL && strcmp(e->constraint, constraint) != 0))
		fail_msg("%s: got %s %s %s (%s)", sql, db_error_name(e->kind),
		    e->sqlstate, e->constraint, e->message);
}

static void
test_migrate_empty_database(void **state)
{
	struct db *db = fresh_db();
	const char *v;

	assert_int_equal(db_migrate(db, migrations), 1);
	assert_string_equal(
	    one(db, "SELECT count(*) FROM pg_tables WHERE "
	            "schemaname = 'public' AND tablename IN ('nodes', "
	            "'node_backends', 'replicas', 'load_jobs', 'events', "
	            "'schema_version')"),
	    "6");
	assert_string_equal(one(db, "SELECT version || ' ' || name FROM "
	                            "schema_version"),
	    "1 init");
	v = one(db, "SELECT checksum FROM schema_version");
	assert_int_equal(strlen(v), 64);
	assert_string_equal(one(db, "SELECT count(*) FROM pg_indexes WHERE "
	                            "indexname = 'events_at_idx'"),
	    "1");
	db_close(db);
}

static void
test_migrate_rerun_is_noop(void **state)
{
	struct db *db = migrated_db();
	char before[128];

	snprintf(before, sizeof(before), "%s",
	    one(db, "SELECT applied_at FROM schema_version"));
	assert_int_equal(db_migrate(db, migrations), 0);
	assert_int_equal(db_migrate(db, migrations), 0);
	assert_string_equal(
	    one(db, "SELECT count(*) FROM schema_version"), "1");
	assert_string_equal(
	    one(db, "SELECT applied_at FROM schema_version"), before);
	db_close(db);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	size_t n;
	FILE *in, *out;

	assert_non_null(in = fopen(from, "r"));
	assert_non_null(out = fopen(to, "w"));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/* Run fn(db) with stderr captured; returns what was written. */
static const char *
capture_stderr(int (*fn)(struct db *, const char *), struct db *db,
    const char *arg, int *rc)
{
	static char buf[16384];
	char path[PATH_MAX];
	int fd, saved;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stderr", th_tmpdir());
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	*rc = fn(db, arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	fputs(buf, stderr);
	return buf;
}

static void
test_failed_migration_rolls_back(void **state)
{
	char dir[PATH_MAX], from[PATH_MAX + 16], to[PATH_MAX + 32], sql[128];
	struct db *db = fresh_db();
	const char *out;
	int rc;

	snprintf(dir, sizeof(dir), "%s", th_tmpdir());
	snprintf(from, sizeof(from), "%s/001_init.sql", migrations);
	snprintf(to, sizeof(to), "%s/001_init.sql", dir);
	copy_file(from, to);
	snprintf(to, sizeof(to), "%s/002_broken.sql", dir);
	write_file(to, "CREATE TABLE half_done (x int);\n"
	               "SELECT no_such_column FROM nodes;\n");
	assert_int_equal(db_migrate(db, dir), -1);
	assert_int_equal(db_error(db)->kind, DB_EOTHER);
	assert_string_equal(db_error(db)->sqlstate, "42703");
	/* 001 stays applied; nothing of 002 remains; the session works. */
	assert_string_equal(one(db, "SELECT string_agg(version::text, ',') "
	                            "FROM schema_version"),
	    "1");
	assert_string_equal(
	    one(db, "SELECT to_regclass('half_done') IS NULL"), "t");
	/* The migration lock was released. */
	snprintf(sql, sizeof(sql), "SELECT pg_try_advisory_lock(%" PRId64 ")",
	    DB_LOCK_MIGRATE);
	assert_string_equal(one(db, sql), "t");
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%" PRId64 ")",
	    DB_LOCK_MIGRATE);
	assert_string_equal(one(db, sql), "t");
	write_file(to, "CREATE TABLE half_done (x int);\n");
	assert_int_equal(db_migrate(db, dir), 1);
	assert_string_equal(
	    one(db, "SELECT count(*) FROM schema_version"), "2");
	/* An applied file that changed is reported, not re-run. */
	snprintf(to, sizeof(to), "%s/001_init.sql", dir);
	write_file(to, "-- edited\n");
	out = capture_stderr(db_migrate, db, dir, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "001_init.sql was changed"));
	/* Two files with one version: refused before touching anything. */
	snprintf(to, sizeof(to), "%s/002_again.sql", dir);
	write_file(to, "SELECT 1;\n");
	assert_int_equal(db_migrate(db, dir), -1);
	assert_int_equal(db_migrate(db, "/nonexistent"), -1);
	db_close(db);
}

static void
test_node_constraints(void **state)
{
	struct db *db = migrated_db();
	char before[64];

	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO nodes (id, name) "
	                     "VALUES ('n1', 'worker-1')",
	                     0, NULL),
	    1);
	assert_string_equal(one(db, "SELECT status || ' ' || approved || ' ' "
	                            "|| node_type FROM nodes"),
	    "pending false backend");
	must_fail(db, "INSERT INTO nodes (id, name) VALUES ('n2', 'worker-1')",
	    DB_ECONSTRAINT, "23505", "nodes_name_key");
	must_fail(db, "INSERT INTO nodes (id, name) VALUES ('n1', 'other')",
	    DB_ECONSTRAINT, "23505", "nodes_pkey");
	must_fail(db, "UPDATE nodes SET status = 'zombie'", DB_ECONSTRAINT,
	    "23514", "nodes_status_check");
	must_fail(db, "UPDATE nodes SET status = 'unhealthy'", DB_ECONSTRAINT,
	    "23514", "nodes_status_check");
	must_fail(db, "UPDATE nodes SET approved = true", DB_ECONSTRAINT,
	    "23514", NULL); /* pending but approved */
	must_fail(db, "UPDATE nodes SET token_hash = 'abc'", DB_ECONSTRAINT,
	    "23514", "nodes_token_hash_check");
	must_fail(db, "UPDATE nodes SET labels = '[1]'", DB_ECONSTRAINT,
	    "23514", "nodes_labels_check");
	must_fail(db, "UPDATE nodes SET total_ram = -1", DB_ECONSTRAINT,
	    "23514", "nodes_total_ram_check");
	must_fail(db, "UPDATE nodes SET node_type = 'gpu'", DB_ECONSTRAINT,
	    "23514", "nodes_node_type_check");
	must_fail(db, "INSERT INTO nodes (id, name) VALUES ('bad id', 'x')",
	    DB_ECONSTRAINT, "23514", "nodes_id_check");
	must_fail(db, "INSERT INTO nodes (id) VALUES ('n3')", DB_ECONSTRAINT,
	    "23502", NULL);
	/* Every status of the state machine is accepted; updated_at moves. */
	snprintf(before, sizeof(before), "%s",
	    one(db, "SELECT updated_at FROM nodes"));
	assert_int_equal(
	    db_exec(db, NULL,
	        "UPDATE nodes SET approved = true,"
	        " status = 'healthy', token_hash = repeat('a', 64), labels = "
	        "'{\"gpu\": \"none\"}'",
	        0, NULL),
	    1);
	assert_string_not_equal(
	    one(db, "SELECT updated_at FROM nodes"), before);
	assert_int_equal(db_exec(db, NULL,
	                     "UPDATE nodes SET status = "
	                     "'suspect'",
	                     0, NULL),
	    1);
	assert_int_equal(db_exec(db, NULL,
	                     "UPDATE nodes SET status = "
	                     "'draining'",
	                     0, NULL),
	    1);
	assert_int_equal(db_exec(db, NULL,
	                     "UPDATE nodes SET status = "
	                     "'offline'",
	                     0, NULL),
	    1);
	db_close(db);
}

static void
test_replica_and_job_constraints(void **state)
{
	struct db *db = migrated_db();

	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO nodes (id, name) "
	                     "VALUES ('n1', 'w1'), ('n2', 'w2')",
	                     0, NULL),
	    2);
	assert_int_equal(
	    db_exec(db, NULL,
	        "INSERT INTO replicas (model, "
	        "node_id, address) VALUES ('m', 'n1', '10.0.0.1:50051'), "
	        "('m', 'n2', '10.0.0.2:50051')",
	        0, NULL),
	    2);
	assert_string_equal(
	    one(db, "SELECT state FROM replicas LIMIT 1"), "loading");
	must_fail(db,
	    "INSERT INTO replicas (model, node_id) VALUES "
	    "('m', 'n1')",
	    DB_ECONSTRAINT, "23505",
	    "replicas_model_node_id_replica_index_key");
	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO replicas (model, "
	                     "node_id, replica_index) VALUES ('m', 'n1', 1)",
	                     0, NULL),
	    1);
	must_fail(db,
	    "INSERT INTO replicas (model, node_id) VALUES "
	    "('m', 'ghost')",
	    DB_ECONSTRAINT, "23503", "replicas_node_id_fkey");
	must_fail(db, "UPDATE replicas SET state = 'idle'", DB_ECONSTRAINT,
	    "23514", "replicas_state_check");
	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO node_backends (node_id,"
	                     " name, version) VALUES ('n1', 'llama', '1.0')",
	                     0, NULL),
	    1);
	must_fail(db,
	    "INSERT INTO node_backends (node_id, name) VALUES "
	    "('n1', '../etc')",
	    DB_ECONSTRAINT, "23514", NULL);
	/* One active cold load per model; finished jobs say when. */
	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO load_jobs (model, "
	                     "node_id) VALUES ('m', 'n1')",
	                     0, NULL),
	    1);
	must_fail(db,
	    "INSERT INTO load_jobs (model, node_id) VALUES "
	    "('m', 'n2')",
	    DB_ECONSTRAINT, "23505", "load_jobs_one_active");
	must_fail(db, "UPDATE load_jobs SET state = 'done'", DB_ECONSTRAINT,
	    "23514", NULL);
	must_fail(db, "UPDATE load_jobs SET progress = 1.5", DB_ECONSTRAINT,
	    "23514", "load_jobs_progress_check");
	assert_int_equal(db_exec(db, NULL,
	                     "UPDATE load_jobs SET state = "
	                     "'failed', error = 'oom', finished_at = now()",
	                     0, NULL),
	    1);
	assert_int_equal(db_exec(db, NULL,
	                     "INSERT INTO load_jobs (model, "
	                     "node_id) VALUES ('m', 'n2')",
	                     0, NULL),
	    1);
	/* Deleting a node takes its replicas and backends, keeps its jobs. */
	assert_int_equal(
	    db_exec(db, NULL, "DELETE FROM nodes WHERE id = 'n1'", 0, NULL), 1);
	assert_string_equal(one(db, "SELECT count(*) FROM replicas"), "1");
	assert_string_equal(one(db, "SELECT count(*) FROM node_backends"), "0");
	assert_string_equal(one(db, "SELECT count(*) FROM load_jobs WHERE "
	                            "node_id IS NULL"),
	    "1");
	db_close(db);
}

static void
test_events(void **state)
{
	struct db *db = migrated_db();

	assert_int_equal(db_event(db, "node.registered", "n1", NULL, "admin",
	                     "{\"address\": \"10.0.0.1:50051\"}"),
	    0);
	assert_int_equal(
	    db_event(db, "replica.ready", "n1", "phi", NULL, NULL), 0);
	assert_string_equal(one(db, "SELECT count(*) FROM events"), "2");
	assert_string_equal(one(db, "SELECT detail->>'address' FROM events "
	                            "WHERE kind = 'node.registered'"),
	    "10.0.0.1:50051");
	assert_string_equal(one(db, "SELECT actor || ' ' || node_id FROM events"
	                            " WHERE kind = 'node.registered'"),
	    "admin n1");
	assert_string_equal(
	    one(db, "SELECT detail::text || coalesce(actor, "
	            "'-') || model FROM events WHERE kind = 'replica.ready'"),
	    "{}-phi");
	/* Newest first through the index on at. */
	assert_string_equal(one(db, "SELECT kind FROM events ORDER BY at DESC,"
	                            " id DESC LIMIT 1"),
	    "replica.ready");
	assert_int_equal(
	    db_event(db, "node.registered", NULL, NULL, NULL, "not json"), -1);
	assert_int_equal(db_error(db)->kind, DB_EOTHER);
	assert_int_equal(db_event(db, "Bad Kind", NULL, NULL, NULL, NULL), -1);
	assert_int_equal(db_error(db)->kind, DB_ECONSTRAINT);
	assert_int_equal(db_event(db, "x", NULL, NULL, NULL, "[1]"), -1);
	assert_int_equal(db_error(db)->kind, DB_ECONSTRAINT);
	db_close(db);
}

static void
test_statements(void **state)
{
	static const char sql[] = "SELECT name, gpu_vendor, last_heartbeat "
	                          "FROM nodes WHERE id = $1";
	struct db *db = migrated_db();
	const char *p1[] = {"n1"}, *p2[] = {"n2"};
	const char *ins[] = {"n2", "w2", NULL};
	PGresult *r;

	assert_int_equal(
	    db_exec(db, "ins",
	        "INSERT INTO nodes (id, name, "
	        "gpu_vendor) VALUES ($1, $2, coalesce($3, 'none'))",
	        3, (const char *[]){"n1", "w1", "nvidia"}),
	    1);
	assert_int_equal(
	    db_exec(db, "ins",
	        "INSERT INTO nodes (id, name, "
	        "gpu_vendor) VALUES ($1, $2, coalesce($3, 'none'))",
	        3, ins),
	    1);
	assert_non_null(r = db_query(db, "get", sql, 1, p1));
	assert_string_equal(db_value(r, 0, "name"), "w1");
	assert_string_equal(db_value(r, 0, "gpu_vendor"), "nvidia");
	assert_null(db_value(r, 0, "last_heartbeat")); /* SQL NULL */
	assert_null(db_value(r, 0, "no_such_column"));
	assert_null(db_value(r, 1, "name"));
	PQclear(r);
	assert_non_null(r = db_query(db, "get", sql, 1, p2));
	assert_string_equal(db_value(r, 0, "gpu_vendor"), "none");
	PQclear(r);
	assert_int_equal(db_error(db)->kind, DB_OK);
	/* One name, one statement. */
	assert_null(db_query(db, "get", "SELECT 1", 0, NULL));
	assert_int_equal(db_error(db)->kind, DB_EOTHER);
	assert_int_equal(db_exec(db, NULL,
	                     "UPDATE nodes SET max_concurrency "
	                     "= 4",
	                     0, NULL),
	    2);
	/* Transactions. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, NULL, "DELETE FROM nodes", 0, NULL), 2);
	assert_int_equal(db_rollback(db), 0);
	assert_string_equal(one(db, "SELECT count(*) FROM nodes"), "2");
	db_close(db);
}

static void
test_advisory_locks(void **state)
{
	struct db *a = fresh_db(), *b;

	/* Advisory locks are per database: b must use a's. */
	assert_non_null(b = db_connect(conninfo));
	assert_int_equal(db_trylock(a, DB_LOCK_BASE | 0x7f), 1);
	assert_int_equal(db_trylock(b, DB_LOCK_BASE | 0x7f), 0);
	assert_int_equal(db_unlock(a, DB_LOCK_BASE | 0x7f), 0);
	assert_int_equal(db_trylock(b, DB_LOCK_BASE | 0x7f), 1);
	assert_int_equal(db_unlock(a, DB_LOCK_BASE | 0x7f), -1);
	/* A session's locks die with it. */
	db_close(b);
	assert_int_equal(db_lock(a, DB_LOCK_BASE | 0x7f), 0);
	assert_int_equal(db_unlock(a, DB_LOCK_BASE | 0x7f), 0);
	db_close(a);
}

static int
raise_warning(struct db *db, const char *text)
{
	return db_exec(db, NULL, text, 0, NULL);
}

static void
test_notices_go_to_log(void **state)
{
	struct db *db = fresh_db();
	const char *out;
	int rc;

	out = capture_stderr(raise_warning, db,
	    "DO $$ BEGIN "
	    "RAISE WARNING 'th warning %', 42; END $$",
	    &rc);
	assert_int_equal(rc, 0);
	/* Our log's format: "<4>" (warning) prefix and the process name. */
	assert_non_null(strstr(out, "<4>"));
	assert_non_null(strstr(out, "db_schema"));
	assert_non_null(strstr(out, "postgres: th warning 42"));
	db_close(db);
}

static void
test_connection_loss(void **state)
{
	static const char sql[] = "SELECT count(*) AS n FROM pg_class";
	struct db *db = fresh_db();
	PGresult *r;

	assert_non_null(r = db_query(db, "count", sql, 0, NULL));
	PQclear(r);
	/* Restarted server: the next call fails as a connection error. */
	assert_int_equal(th_pg_restart(pg), 0);
	assert_null(db_query(db, "count", sql, 0, NULL));
	assert_int_equal(db_error(db)->kind, DB_ECONN);
	assert_false(db_connected(db));
	assert_int_equal(db_exec(db, NULL, "SELECT 1", 0, NULL), -1);
	assert_int_equal(db_error(db)->kind, DB_ECONN);
	assert_int_equal(db_rollback(db), 0);
	/* Reconnect; the prepared statement is prepared again on use. */
	assert_int_equal(db_reconnect(db), 0);
	assert_non_null(r = db_query(db, "count", sql, 0, NULL));
	PQclear(r);
	/* Server down: reconnecting fails as a connection error, quickly. */
	assert_int_equal(th_pg_down(pg), 0);
	assert_int_equal(db_reconnect(db), -1);
	assert_int_equal(db_error(db)->kind, DB_ECONN);
	assert_null(db_connect(pg->conninfo));
	assert_int_equal(th_pg_up(pg), 0);
	assert_int_equal(db_reconnect(db), 0);
	/* A crash in the middle of a transaction. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(th_pg_kill9(pg), 0);
	assert_int_equal(db_exec(db, NULL, "SELECT 1", 0, NULL), -1);
	assert_int_equal(db_error(db)->kind, DB_ECONN);
	assert_int_equal(th_pg_up(pg), 0);
	assert_int_equal(db_reconnect(db), 0);
	assert_non_null(r = db_query(db, "count", sql, 0, NULL));
	PQclear(r);
	db_close(db);
}

static int
setup(void **state)
{
	const char *top = getenv("TOP");

	snprintf(migrations, sizeof(migrations), "%s/db/migrations",
	    top != NULL && *top != '\0' ? top : ".");
	return (pg = th_pg_start(NULL)) == NULL ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate_empty_database),
	    cmocka_unit_test(test_migrate_rerun_is_noop),
	    cmocka_unit_test(test_failed_migration_rolls_back),
	    cmocka_unit_test(test_node_constraints),
	    cmocka_unit_test(test_replica_and_job_constraints),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_statements),
	    cmocka_unit_test(test_advisory_locks),
	    cmocka_unit_test(test_notices_go_to_log),
	    cmocka_unit_test(test_connection_loss),
	};

	if (th_init() == -1)
		return 1;
	log_init(0);
	log_procinit("db_schema");
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("TH_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TH_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, NULL);
}
