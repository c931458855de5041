/*
 * rdb: the router's PostgreSQL access, off the event loop.
 *
 * The router's loop must never wait for PostgreSQL: warm routing goes on
 * while the database is slow or down.  So every statement runs on one
 * database thread, as a job: the loop submits a job, the database thread
 * runs job->run with a live connection, and the loop gets job->done back
 * (in submission order) when it calls rdb_collect() after rdb_fd() turned
 * readable.  When the database is unreachable a job is completed at once
 * with status RDB_UNAVAILABLE, so callers answer 503 without waiting; the
 * thread reconnects by itself (backoff 250 ms doubling to 5 s).
 *
 * A second connection, used only through rdb_lock_*() from the database
 * thread's jobs, holds session advisory locks (the health-leader lock and
 * per-model cold-load locks); PostgreSQL releases them if this process
 * dies, which is what makes leader failover work.
 */
#ifndef LOCALAI_RDB_H
#define LOCALAI_RDB_H

#include <stdint.h>

#include <libpq-fe.h>

enum rdb_status {
	RDB_OK = 0,
	RDB_UNAVAILABLE, /* no connection (or it broke during the job) */
	RDB_ERROR, /* the statement failed (constraint, …) */
	RDB_CONFLICT, /* the job's own "not possible" answer */
	RDB_NOTFOUND,
};

struct rdb_job;
/* Runs on the database thread; returns an enum rdb_status. */
typedef int (*rdb_run_fn)(PGconn *c, struct rdb_job *j);
/* Runs on the router's loop when the job is complete. */
typedef void (*rdb_done_fn)(struct rdb_job *j);

struct rdb_job {
	rdb_run_fn run;
	rdb_done_fn done;
	void *arg;
	int status; /* enum rdb_status, set by rdb */
	char error[256];
	struct rdb_job *next;
};

/* Start the database thread; `url` is a libpq conninfo or URI. */
int rdb_start(const char *url);
void rdb_stop(void);
/* The fd that becomes readable when completed jobs wait. */
int rdb_fd(void);
/* Queue a job (never blocks). */
void rdb_submit(struct rdb_job *j);
/* Call done for every completed job. */
void rdb_collect(void);
/* Is the connection up (as far as the last job knows)? */
int rdb_up(void);

/*
 * Helpers for run functions (database thread only).  Parameters are
 * text; NULL is SQL NULL.  rdb_exec returns the result when its status is
 * COMMAND_OK or TUPLES_OK, else NULL with j->error set and the status to
 * return in *st (RDB_UNAVAILABLE when the connection broke).
 */
PGresult *rdb_exec(PGconn *c, struct rdb_job *j, int *st, const char *sql,
    int n, const char *const *params);
/* Run a statement list (BEGIN; …; COMMIT) as one; 0 or -1. */
int rdb_simple(PGconn *c, struct rdb_job *j, int *st, const char *sql);

/* Session advisory locks on the lock connection: 1 got it, 0 busy, -1 err. */
int rdb_lock_try(int64_t key);
int rdb_lock_release(int64_t key);
/*
 * Locks live as long as the lock connection: rdb_lock_epoch_get() names
 * the current one, and rdb_lock_alive(epoch) answers 1 while the locks
 * taken under that epoch are still held, -1 once they are gone.
 */
int rdb_lock_epoch_get(void);
int rdb_lock_alive(int epoch);

/* Stable 63-bit lock key for a name (FNV-1a), in a namespace. */
int64_t rdb_lock_key(const char *ns, const char *name);

#endif
