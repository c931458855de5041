/*
 * The router's database thread.  See rdb.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "router/rdb.h"

static pthread_t rdb_thread;
static pthread_mutex_t rdb_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rdb_cv = PTHREAD_COND_INITIALIZER;
static struct rdb_job *rdb_todo, **rdb_todo_tail = &rdb_todo;
static struct rdb_job *rdb_done, **rdb_done_tail = &rdb_done;
static int rdb_pipe[2] = {-1, -1};
static int rdb_quit;
static volatile int rdb_is_up;
static char rdb_url[1024];
static PGconn *rdb_conn; /* statements */
static PGconn *rdb_lockconn; /* advisory locks */
static int rdb_lock_epoch; /* bumped when the lock connection is new */
static uint64_t rdb_next_try;
static uint32_t rdb_backoff_ms = 250;

static uint64_t
rdb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Copy a libpq message without its trailing newline. */
static void
rdb_message(char *dst, size_t len, const char *msg)
{
	size_t n;

	snprintf(dst, len, "%s", msg);
	n = strlen(dst);
	while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
		dst[--n] = '\0';
}

static void
rdb_notice(void *arg, const char *msg)
{
	log_debug("postgresql: %s", msg);
}

static PGconn *
rdb_open(void)
{
	PGconn *c = PQconnectdb(rdb_url);

	if (PQstatus(c) != CONNECTION_OK) {
		char msg[512];

		rdb_message(msg, sizeof(msg), PQerrorMessage(c));
		log_warnx("postgresql: %s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, rdb_notice, NULL);
	return c;
}

/* Make sure both connections are up; at most one attempt per backoff. */
static int
rdb_ensure(void)
{
	if (rdb_conn != NULL && PQstatus(rdb_conn) == CONNECTION_OK &&
	    rdb_lockconn != NULL && PQstatus(rdb_lockconn) == CONNECTION_OK)
		return 0;
	if (rdb_now_ms() < rdb_next_try)
		return -1;
	if (rdb_conn == NULL || PQstatus(rdb_conn) != CONNECTION_OK) {
		PQfinish(rdb_conn);
		rdb_conn = rdb_open();
	}
	if (rdb_conn != NULL &&
	    (rdb_lockconn == NULL || PQstatus(rdb_lockconn) != CONNECTION_OK)) {
		PQfinish(rdb_lockconn);
		rdb_lockconn = rdb_open();
		rdb_lock_epoch++; /* every lock held before is gone */
	}
	if (rdb_conn == NULL || rdb_lockconn == NULL) {
		rdb_next_try = rdb_now_ms() + rdb_backoff_ms;
		if (rdb_backoff_ms < 5000)
			rdb_backoff_ms *= 2;
		if (rdb_is_up)
			log_warnx("postgresql: connection lost, reconnecting");
		rdb_is_up = 0;
		return -1;
	}
	if (!rdb_is_up)
		log_info("postgresql: connected");
	rdb_backoff_ms = 250;
	rdb_is_up = 1;
	return 0;
}

static void
rdb_complete(struct rdb_job *j)
{
	char c = 'j';

	pthread_mutex_lock(&rdb_mtx);
	j->next = NULL;
	*rdb_done_tail = j;
	rdb_done_tail = &j->next;
	pthread_mutex_unlock(&rdb_mtx);
	if (write(rdb_pipe[1], &c, 1) == -1 && errno != EAGAIN)
		log_warn("rdb: wake");
}

static void *
rdb_main(void *arg)
{
	struct rdb_job *j;

	for (;;) {
		pthread_mutex_lock(&rdb_mtx);
		while (rdb_todo == NULL && !rdb_quit)
			pthread_cond_wait(&rdb_cv, &rdb_mtx);
		if (rdb_quit && rdb_todo == NULL) {
			pthread_mutex_unlock(&rdb_mtx);
			break;
		}
		j = rdb_todo;
		if ((rdb_todo = j->next) == NULL)
			rdb_todo_tail = &rdb_todo;
		pthread_mutex_unlock(&rdb_mtx);

		j->error[0] = '\0';
		if (rdb_ensure() == -1) {
			j->status = RDB_UNAVAILABLE;
			snprintf(j->error, sizeof(j->error),
			    "the database is unavailable");
		} else {
			j->status = j->run(rdb_conn, j);
			if (PQstatus(rdb_conn) != CONNECTION_OK)
				rdb_is_up = 0;
		}
		rdb_complete(j);
	}
	PQfinish(rdb_conn);
	PQfinish(rdb_lockconn);
	rdb_conn = rdb_lockconn = NULL;
	return NULL;
}

int
rdb_start(const char *url)
{
	snprintf(rdb_url, sizeof(rdb_url), "%s", url);
	if (pipe2(rdb_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return -1;
	rdb_quit = 0;
	if (pthread_create(&rdb_thread, NULL, rdb_main, NULL) != 0) {
		log_warnx("rdb: cannot start the database thread");
		return -1;
	}
	return 0;
}

void
rdb_stop(void)
{
	pthread_mutex_lock(&rdb_mtx);
	rdb_quit = 1;
	pthread_cond_signal(&rdb_cv);
	pthread_mutex_unlock(&rdb_mtx);
	pthread_join(rdb_thread, NULL);
	rdb_collect();
	close(rdb_pipe[0]);
	close(rdb_pipe[1]);
}

int
rdb_fd(void)
{
	return rdb_pipe[0];
}

int
rdb_up(void)
{
	return rdb_is_up;
}

void
rdb_submit(struct rdb_job *j)
{
	pthread_mutex_lock(&rdb_mtx);
	j->next = NULL;
	*rdb_todo_tail = j;
	rdb_todo_tail = &j->next;
	pthread_cond_signal(&rdb_cv);
	pthread_mutex_unlock(&rdb_mtx);
}

void
rdb_collect(void)
{
	struct rdb_job *list, *j;
	char buf[64];

	while (read(rdb_pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&rdb_mtx);
	list = rdb_done;
	rdb_done = NULL;
	rdb_done_tail = &rdb_done;
	pthread_mutex_unlock(&rdb_mtx);
	while ((j = list) != NULL) {
		list = j->next;
		if (j->done != NULL)
			j->done(j);
	}
}

PGresult *
rdb_exec(PGconn *c, struct rdb_job *j, int *st, const char *sql, int n,
    const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	if (PQstatus(c) != CONNECTION_OK) {
		*st = RDB_UNAVAILABLE;
		snprintf(
		    j->error, sizeof(j->error), "the database is unavailable");
	} else {
		*st = RDB_ERROR;
		rdb_message(
		    j->error, sizeof(j->error), PQresultErrorMessage(r));
		log_warnx("postgresql: %s", j->error);
	}
	PQclear(r);
	return NULL;
}

/* PQexec, not PQexecParams: migrations hold several statements. */
int
rdb_simple(PGconn *c, struct rdb_job *j, int *st, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		*st = RDB_UNAVAILABLE;
		snprintf(
		    j->error, sizeof(j->error), "the database is unavailable");
	} else {
		*st = RDB_ERROR;
		rdb_message(
		    j->error, sizeof(j->error), PQresultErrorMessage(r));
		log_warnx("postgresql: %s", j->error);
	}
	PQclear(r);
	return -1;
}

static int
rdb_lock_call(const char *fn, int64_t key)
{
	char sql[96], k[32];
	const char *p[1] = {k};
	PGresult *r;
	int rc = -1;

	if (rdb_lockconn == NULL || PQstatus(rdb_lockconn) != CONNECTION_OK)
		return -1;
	snprintf(k, sizeof(k), "%lld", (long long)key);
	snprintf(sql, sizeof(sql), "SELECT %s($1::bigint)", fn);
	r = PQexecParams(rdb_lockconn, sql, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		rc = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return rc;
}

int
rdb_lock_alive(int epoch)
{
	PGresult *r;
	int ok;

	if (epoch != rdb_lock_epoch)
		return -1;
	if (rdb_lockconn == NULL || PQstatus(rdb_lockconn) != CONNECTION_OK)
		return -1;
	r = PQexec(rdb_lockconn, "SELECT 1");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok ? 1 : -1;
}

int
rdb_lock_epoch_get(void)
{
	return rdb_lock_epoch;
}

int
rdb_lock_try(int64_t key)
{
	return rdb_lock_call("pg_try_advisory_lock", key);
}

int
rdb_lock_release(int64_t key)
{
	return rdb_lock_call("pg_advisory_unlock", key);
}

int64_t
rdb_lock_key(const char *ns, const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;

	for (p = ns; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	h = (h ^ ':') * 1099511628211ULL;
	for (p = name; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	return (int64_t)(h >> 1);
}
