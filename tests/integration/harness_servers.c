/*
 * The harness's servers and helpers, used as a test would use them: a real
 * SELECT 1 through libpq (Unix socket and TCP), a real NATS publish and
 * subscribe through nats.c, restarts and crashes that keep data and port,
 * spawned programs with timeouts, HTTP against nats-server's monitoring
 * port.  Prints the measured start-up times ("figure:" lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nats/nats.h>

#include "tests/harness/harness.h"

/* The first column of the first row of sql, or NULL on any failure. */
static char *
query1(const char *conninfo, const char *sql)
{
	static char value[256];
	PGresult *r;
	PGconn *c;
	char *out = NULL;

	c = PQconnectdb(conninfo);
	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
			snprintf(
			    value, sizeof(value), "%s", PQgetvalue(r, 0, 0));
			out = value;
		} else
			fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
		PQclear(r);
	} else
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
	PQfinish(c);
	return out;
}

static int
path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void
test_pg_select1(void **state)
{
	struct th_pg *pg;
	char *v;

	pg = th_pg_start(NULL);
	assert_non_null(pg);
	printf(
	    "figure: postgres data dir %.0f ms, start to accepting %.0f ms\n",
	    pg->initdb_ms, pg->start_ms);
	assert_true(pg->up);
	assert_true(pg->port > 0);
	assert_non_null(strstr(pg->conninfo, pg->sockdir));
	assert_non_null(v = query1(pg->conninfo, "SELECT 1"));
	assert_string_equal(v, "1");
	assert_non_null(v = query1(pg->url, "SELECT current_user"));
	assert_string_equal(v, "postgres");
	/* fsync is off, synchronous_commit stays on (see th_pg.c). */
	assert_string_equal(query1(pg->url, "SHOW fsync"), "off");
	assert_string_equal(query1(pg->url, "SHOW synchronous_commit"), "on");
	assert_int_equal(th_pg_stop(pg), 0);
}

static void
test_pg_tcp(void **state)
{
	struct th_pg_opts opts = {.tcp = 1};
	struct th_pg *pg;
	char *v;

	assert_non_null(pg = th_pg_start(&opts));
	assert_non_null(strstr(pg->tcp_url, "127.0.0.1"));
	assert_non_null(v = query1(pg->tcp_url, "SELECT inet_server_addr()"));
	assert_string_equal(v, "127.0.0.1");
	assert_int_equal(th_pg_stop(pg), 0);
}

static void
test_pg_restart_keeps_data(void **state)
{
	struct th_pg *pg;
	PGconn *old;
	PGresult *r;
	int port;

	assert_non_null(pg = th_pg_start(NULL));
	port = pg->port;
	assert_int_equal(
	    th_pg_exec(
	        pg, NULL, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"),
	    0);
	old = PQconnectdb(pg->conninfo);
	assert_int_equal(PQstatus(old), CONNECTION_OK);
	assert_int_equal(th_pg_restart(pg), 0);
	assert_int_equal(pg->port, port);
	printf("figure: postgres restart to accepting %.0f ms\n", pg->start_ms);
	/* The old session is gone: a client sees the error. */
	r = PQexec(old, "SELECT 1");
	assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQstatus(old), CONNECTION_BAD);
	PQclear(r);
	PQfinish(old);
	assert_string_equal(query1(pg->conninfo, "SELECT v FROM t"), "42");
	/* Down: nothing accepts; up again on the same port. */
	assert_int_equal(th_pg_down(pg), 0);
	assert_int_equal(PQping(pg->conninfo), PQPING_NO_RESPONSE);
	assert_int_equal(th_pg_up(pg), 0);
	assert_string_equal(query1(pg->conninfo, "SELECT v FROM t"), "42");
	assert_int_equal(th_pg_stop(pg), 0);
}

static void
test_pg_kill9_recovers(void **state)
{
	struct th_pg *pg;
	pid_t pm;

	assert_non_null(pg = th_pg_start(NULL));
	assert_int_equal(
	    th_pg_exec(
	        pg, NULL, "CREATE TABLE t (v int); INSERT INTO t VALUES (7)"),
	    0);
	pm = pg->proc->pid;
	assert_int_equal(th_pg_kill9(pg), 0);
	assert_int_equal(kill(pm, 0), -1);
	assert_int_equal(PQping(pg->conninfo), PQPING_NO_RESPONSE);
	/* Crash recovery replays the WAL: the committed row is there. */
	assert_int_equal(th_pg_up(pg), 0);
	printf("figure: postgres crash recovery to accepting %.0f ms\n",
	    pg->start_ms);
	assert_string_equal(query1(pg->conninfo, "SELECT v FROM t"), "7");
	assert_int_equal(th_pg_stop(pg), 0);
}

static void
test_pg_stop_leaves_nothing(void **state)
{
	char dir[PATH_MAX], conninfo[PATH_MAX + 128];
	struct th_pg *pg;
	pid_t pm;

	assert_non_null(pg = th_pg_start(NULL));
	assert_int_equal(
	    th_pg_createdb(pg, "second", conninfo, sizeof(conninfo)), 0);
	assert_string_equal(
	    query1(conninfo, "SELECT current_database()"), "second");
	pm = pg->proc->pid;
	snprintf(dir, sizeof(dir), "%s", pg->dir);
	assert_true(path_exists(dir));
	assert_int_equal(th_pg_stop(pg), 0);
	assert_int_equal(kill(pm, 0), -1);
	assert_int_equal(errno, ESRCH);
	assert_false(path_exists(dir));
	/* Stopping twice is harmless. */
	assert_int_equal(th_pg_stop(pg), 0);
}

/* Connect, subscribe to subj, publish from a second connection, receive. */
static void
nats_roundtrip(const char *url, const char *subj)
{
	natsConnection *a = NULL, *b = NULL;
	natsSubscription *sub = NULL;
	natsMsg *msg = NULL;

	assert_int_equal(natsConnection_ConnectTo(&a, url), NATS_OK);
	assert_int_equal(natsConnection_ConnectTo(&b, url), NATS_OK);
	assert_int_equal(natsConnection_SubscribeSync(&sub, a, subj), NATS_OK);
	assert_int_equal(natsConnection_Flush(a), NATS_OK);
	assert_int_equal(
	    natsConnection_PublishString(b, subj, "hello"), NATS_OK);
	assert_int_equal(natsConnection_Flush(b), NATS_OK);
	assert_int_equal(natsSubscription_NextMsg(&msg, sub, 2000), NATS_OK);
	assert_string_equal(natsMsg_GetData(msg), "hello");
	natsMsg_Destroy(msg);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(a);
	natsConnection_Destroy(b);
}

static void
test_nats_pubsub(void **state)
{
	struct th_nats *n;
	char dir[PATH_MAX];
	pid_t pid;

	assert_non_null(n = th_nats_start(NULL));
	printf("figure: nats-server start to INFO %.1f ms\n", n->start_ms);
	assert_non_null(strstr(n->url, "nats://127.0.0.1:"));
	nats_roundtrip(n->url, "th.test");
	pid = n->proc->pid;
	snprintf(dir, sizeof(dir), "%s", n->dir);
	assert_int_equal(th_nats_stop(n), 0);
	assert_int_equal(kill(pid, 0), -1);
	assert_false(path_exists(dir));
}

struct nc_state {
	natsConnection *nc;
};

static int
nats_connected(void *arg)
{
	struct nc_state *s = arg;

	return natsConnection_Status(s->nc) == NATS_CONN_STATUS_CONNECTED;
}

static void
test_nats_restart_same_port(void **state)
{
	natsConnection *probe = NULL;
	natsOptions *opts = NULL;
	struct nc_state s = {NULL};
	struct th_nats *n;
	int port;

	assert_non_null(n = th_nats_start(NULL));
	port = n->port;
	/* A client that reconnects forever, as the agents do. */
	assert_int_equal(natsOptions_Create(&opts), NATS_OK);
	assert_int_equal(natsOptions_SetURL(opts, n->url), NATS_OK);
	assert_int_equal(natsOptions_SetMaxReconnect(opts, -1), NATS_OK);
	assert_int_equal(natsOptions_SetReconnectWait(opts, 20), NATS_OK);
	assert_int_equal(natsConnection_Connect(&s.nc, opts), NATS_OK);
	assert_int_equal(th_nats_kill(n), 0);
	assert_int_equal(
	    natsConnection_ConnectTo(&probe, n->url), NATS_NO_SERVER);
	assert_int_equal(th_nats_up(n), 0);
	assert_int_equal(n->port, port);
	assert_int_equal(th_wait_for(nats_connected, &s, 5000), 0);
	assert_int_equal(th_nats_restart(n), 0);
	assert_int_equal(n->port, port);
	assert_int_equal(th_wait_for(nats_connected, &s, 5000), 0);
	nats_roundtrip(n->url, "th.after");
	natsConnection_Destroy(s.nc);
	natsOptions_Destroy(opts);
	assert_int_equal(th_nats_stop(n), 0);
}

static int
stop_after_first(const char *data, size_t len, void *arg)
{
	size_t *seen = arg;

	*seen += len;
	return -1;
}

static void
test_http(void **state)
{
	struct th_nats_opts opts = {.monitor = 1};
	struct th_http_response r;
	char url[128], ct[128];
	struct th_nats *n;
	size_t seen = 0;

	assert_non_null(n = th_nats_start(&opts));
	snprintf(url, sizeof(url), "%s/varz", n->monitor_url);
	assert_int_equal(th_wait_http(url, 200, 5000), 0);
	assert_int_equal(
	    th_http_request("GET", url, NULL, NULL, 0, 5000, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"server_id\""));
	assert_int_equal(th_http_header(&r, "content-type", ct, sizeof(ct)), 0);
	assert_non_null(strstr(ct, "application/json"));
	assert_int_equal(th_http_header(&r, "X-None", ct, sizeof(ct)), -1);
	th_http_response_free(&r);
	snprintf(url, sizeof(url), "%s/no-such-page", n->monitor_url);
	assert_int_equal(
	    th_http_request("GET", url, NULL, NULL, 0, 5000, &r), 0);
	assert_int_equal(r.status, 404);
	th_http_response_free(&r);
	/* A streaming reader may hang up after the first chunk. */
	snprintf(url, sizeof(url), "%s/varz", n->monitor_url);
	assert_int_equal(th_http_stream("GET", url, NULL, NULL, 0, 5000,
	                     stop_after_first, &seen, &r),
	    0);
	assert_true(seen > 0);
	th_http_response_free(&r);
	/* Nothing listening: a transport error, bounded by the timeout. */
	assert_int_equal(th_nats_stop(n), 0);
	assert_int_equal(
	    th_http_request("GET", url, NULL, NULL, 0, 2000, &r), -1);
	th_http_response_free(&r);
	assert_int_equal(th_wait_http(url, 200, 100), -1);
}

static int
file_contains(const char *path, const char *needle)
{
	char buf[4096];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void
test_proc(void **state)
{
	char *echo[] = {"sh", "-c",
	    "echo hello; echo \"$FOO\"; "
	    "test -z \"$HOME\" && exit 3",
	    NULL};
	char *env[] = {"FOO=bar", "HOME", NULL};
	char *sleeper[] = {"sleep", "100", NULL};
	char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 100 & wait", NULL};
	char *missing[] = {"/nonexistent/program", NULL};
	char log[PATH_MAX];
	struct th_proc *p;
	double t0;

	snprintf(log, sizeof(log), "%s/echo.log", th_tmpdir());
	assert_non_null(p = th_proc_spawn(echo, env, log));
	assert_int_equal(th_proc_wait(p, 5000), 0);
	assert_int_equal(th_exit_code(p), 3);
	assert_true(file_contains(log, "hello\nbar\n"));
	/* A wait that times out leaves the program running. */
	assert_non_null(p = th_proc_spawn(sleeper, NULL, NULL));
	assert_int_equal(th_proc_wait(p, 50), -1);
	assert_true(th_proc_alive(p));
	assert_int_equal(th_exit_code(p), -1);
	assert_int_equal(th_proc_stop(p, 2000), 128 + SIGTERM);
	/* SIGTERM ignored by the whole group: stop escalates in bounded time. */
	assert_non_null(p = th_proc_spawn(stubborn, NULL, NULL));
	th_sleep_ms(100);
	t0 = th_now_ms();
	assert_int_equal(th_proc_stop(p, 300), 128 + SIGKILL);
	assert_true(th_now_ms() - t0 < 3000);
	assert_null(th_proc_spawn(missing, NULL, NULL));
}

static void
test_ports_and_dirs(void **state)
{
	const char *a, *b;
	int p1, p2;

	p1 = th_free_port();
	p2 = th_free_port();
	assert_true(p1 > 0 && p2 > 0);
	assert_int_not_equal(p1, p2);
	assert_non_null(a = th_tmpdir());
	assert_non_null(b = th_tmpdir());
	assert_string_not_equal(a, b);
	assert_true(strncmp(a, th_root(), strlen(th_root())) == 0);
	assert_true(path_exists(a));
}

static int
never(void *arg)
{
	return 0;
}

static void
test_wait_for_is_bounded(void **state)
{
	double t0 = th_now_ms();

	assert_int_equal(th_wait_for(never, NULL, 200), -1);
	assert_true(th_now_ms() - t0 >= 200);
	assert_true(th_now_ms() - t0 < 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pg_select1),
	    cmocka_unit_test(test_pg_tcp),
	    cmocka_unit_test(test_pg_restart_keeps_data),
	    cmocka_unit_test(test_pg_kill9_recovers),
	    cmocka_unit_test(test_pg_stop_leaves_nothing),
	    cmocka_unit_test(test_nats_pubsub),
	    cmocka_unit_test(test_nats_restart_same_port),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_proc),
	    cmocka_unit_test(test_ports_and_dirs),
	    cmocka_unit_test(test_wait_for_is_bounded),
	};
	int rc;

	if (th_init() == -1)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("TH_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TH_TEST_FILTER"));
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	nats_Close();
	return rc;
}
