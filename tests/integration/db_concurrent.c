/*
 * Several frontends starting at once migrate one database: four
 * db_migrate_tool processes run together against an empty database and
 * must all succeed, apply each migration exactly once between them, and
 * leave one schema_version row per migration.  A slow second migration
 * (pg_sleep) keeps the first process inside the lock long enough for the
 * others to queue behind it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "tests/harness/harness.h"

#define NPROCS 4

static struct th_pg *pg;
static char top[PATH_MAX];

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

static void
show_log(const char *path)
{
	char line[512];
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "| %s", line);
	fclose(f);
}

/* "applied=N" from a tool's log, or -1. */
static int
applied_in(const char *log)
{
	char line[512];
	int n = -1;
	FILE *f;

	if ((f = fopen(log, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		sscanf(line, "applied=%d", &n);
	fclose(f);
	return n;
}

static char *
query1(const char *conninfo, const char *sql)
{
	static char value[256];
	PGresult *r;
	PGconn *c;

	c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(value, sizeof(value), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return value;
}

/* Run NPROCS migrators on a new database dbname with dir; check. */
static void
migrate_together(const char *dbname, const char *dir, int nfiles)
{
	char conninfo[PATH_MAX + 128], prog[PATH_MAX], logs[NPROCS][PATH_MAX];
	char *argv[] = {prog, conninfo, (char *)(uintptr_t)dir, NULL};
	struct th_proc *p[NPROCS];
	const char *b = getenv("BUILD"), *tmp;
	double t0;
	int i, total = 0, n;

	assert_int_equal(
	    th_pg_createdb(pg, dbname, conninfo, sizeof(conninfo)), 0);
	snprintf(prog, sizeof(prog), "%s/tests/integration/db_migrate_tool",
	    b != NULL && *b != '\0' ? b : "build");
	assert_non_null(tmp = th_tmpdir());
	t0 = th_now_ms();
	for (i = 0; i < NPROCS; i++) {
		snprintf(logs[i], sizeof(logs[i]), "%s/migrate%d.log", tmp, i);
		assert_non_null(p[i] = th_proc_spawn(argv, NULL, logs[i]));
	}
	for (i = 0; i < NPROCS; i++) {
		assert_int_equal(th_proc_wait(p[i], 60000), 0);
		if (th_exit_code(p[i]) != 0) {
			show_log(logs[i]);
			fail_msg("migrator %d exited %d (see %s)", i,
			    th_exit_code(p[i]), logs[i]);
		}
		assert_true((n = applied_in(logs[i])) >= 0);
		total += n;
	}
	printf(
	    "figure: %d concurrent migrators of %d file(s) done in %.0f ms\n",
	    NPROCS, nfiles, th_now_ms() - t0);
	assert_int_equal(total, nfiles);
	snprintf(prog, sizeof(prog), "%d", nfiles);
	assert_string_equal(
	    query1(
	        conninfo, "SELECT count(DISTINCT version) FROM schema_version"),
	    prog);
	assert_string_equal(
	    query1(conninfo, "SELECT count(*) FROM schema_version"), prog);
	assert_string_equal(query1(conninfo, "SELECT count(*) FROM pg_tables "
	                                     "WHERE tablename = 'nodes'"),
	    "1");
}

static void
test_concurrent_real_migrations(void **state)
{
	char dir[PATH_MAX + 16];

	snprintf(dir, sizeof(dir), "%s/db/migrations", top);
	migrate_together("together", dir, 1);
}

static void
test_concurrent_with_slow_migration(void **state)
{
	char from[PATH_MAX + 32], to[PATH_MAX + 32];
	const char *dir;
	FILE *f;

	assert_non_null(dir = th_tmpdir());
	snprintf(from, sizeof(from), "%s/db/migrations/001_init.sql", top);
	snprintf(to, sizeof(to), "%s/001_init.sql", dir);
	copy_file(from, to);
	snprintf(to, sizeof(to), "%s/002_slow.sql", dir);
	assert_non_null(f = fopen(to, "w"));
	fputs("SELECT pg_sleep(0.5);\nCREATE TABLE slow_done (x int);\n", f);
	assert_int_equal(fclose(f), 0);
	migrate_together("slow", dir, 2);
}

static int
setup(void **state)
{
	const char *t = getenv("TOP");

	snprintf(top, sizeof(top), "%s", t != NULL && *t != '\0' ? t : ".");
	return (pg = th_pg_start(NULL)) == NULL ? -1 : 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_concurrent_real_migrations),
	    cmocka_unit_test(test_concurrent_with_slow_migration),
	};

	if (th_init() == -1)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests(tests, setup, NULL);
}
