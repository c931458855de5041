/*
 * The integration-test harness: throwaway PostgreSQL and nats-server
 * instances, spawned programs, temporary directories, free ports, HTTP
 * requests and bounded waits, all of it stopped and removed when the test
 * program ends, however it ends.
 *
 * Usage: call th_init() first thing in main(), before any thread exists.
 * th_init() forks.  The original process becomes a small guardian that
 * stays the parent of the test: it forwards SIGINT/SIGTERM/SIGHUP to the
 * test, and once the test has exited (normally, by a failed assertion,
 * abort(), a sanitizer report, SIGKILL…) it terminates every process that
 * still descends from it, reaps them all (it is a child subreaper, so
 * orphans come back to it instead of becoming zombies under PID 1), removes
 * the run's temporary directory and exits with the test's status (128+N for
 * a test killed by signal N).  The child returns from th_init() and runs
 * the test; at exit it stops what it started in order (programs, then NATS,
 * then PostgreSQL) so the normal path is orderly and the guardian's sweep
 * finds nothing.
 *
 * Everything a run creates lives under one root directory,
 * $TH_TMPDIR (else $TMPDIR, else /tmp) / th-XXXXXX, mode 0711 so that the
 * postgres user can reach its data directory.
 *
 * Objects returned by th_*_start/spawn belong to the harness and stay valid
 * until the program exits (stopping one does not free it), so a pointer
 * kept by a test that failed half-way can never dangle.
 *
 * Link: $(BUILD)/tests/harness/libharness.a plus $(call libs,libpq libcurl).
 */
#ifndef TH_HARNESS_H
#define TH_HARNESS_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

/* Default bounds, in milliseconds. */
#define TH_PG_START_TIMEOUT 30000
#define TH_NATS_START_TIMEOUT 10000
#define TH_STOP_TIMEOUT 10000

/*
 * Fork the guardian and prepare the run's root directory.  Returns 0 in the
 * test process; the guardian never returns.  Returns -1 (after a message on
 * stderr) if the process already has threads or a resource is missing.
 * Calling it again is a no-op.
 */
int th_init(void);
/* The run's root directory (valid after th_init). */
const char *th_root(void);
/* A new empty directory under the root, mode 0755; NULL on failure. */
const char *th_tmpdir(void);
/*
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
 * released); never the same port twice in one run.  -1 on failure.
 */
int th_free_port(void);
/* Monotonic clock in milliseconds. */
double th_now_ms(void);
/* Sleep for ms milliseconds (restarted on EINTR). */
void th_sleep_ms(int ms);
/*
 * Poll pred(arg) (5 ms, backing off to 100 ms) until it returns non-zero:
 * 0, or -1 once timeout_ms have passed.
 */
int th_wait_for(int (*pred)(void *), void *arg, int timeout_ms);
/* Stop everything now (also runs at exit); the root directory stays. */
void th_cleanup(void);

/* ---- spawned programs ----------------------------------------------------- */

/*
 * A program started by th_proc_spawn.  It leads its own process group
 * (pgid == pid), so th_proc_kill reaches its children too, and terminal
 * signals meant for the test do not reach it.
 */
struct th_proc {
	pid_t pid;
	char name[64]; /* basename of argv[0] */
	char log[PATH_MAX]; /* stdout+stderr, "" if inherited */
	int exited; /* reaped */
	int status; /* wait(2) status once exited */
	int internal; /* a server process of the harness */
	struct th_proc *next; /* harness registry */
};

/*
 * Start argv[0] (searched in $PATH when it has no '/') with stdin from
 * /dev/null and stdout+stderr appended to log (NULL: inherited).  env is a
 * NULL-terminated list applied on top of the current environment:
 * "NAME=VALUE" sets, "NAME" unsets; NULL means unchanged.  NULL on failure
 * (including a program that cannot be executed).
 */
struct th_proc *th_proc_spawn(
    char *const argv[], char *const env[], const char *log);
/* Send sig to the program's whole process group. 0 or -1. */
int th_proc_kill(struct th_proc *p, int sig);
/* Send sig to the program's own pid only. 0 or -1. */
int th_proc_signal(struct th_proc *p, int sig);
/* Wait up to timeout_ms for it to exit: 0 (p->status set) or -1. */
int th_proc_wait(struct th_proc *p, int timeout_ms);
/*
 * SIGTERM to the group, wait timeout_ms, then SIGKILL to the group and
 * every remaining descendant.  Returns its exit code (th_exit_code).
 */
int th_proc_stop(struct th_proc *p, int timeout_ms);
/* 1 while it has not been reaped. */
int th_proc_alive(struct th_proc *p);
/* exit status, or 128+N for a program killed by signal N; -1 if running. */
int th_exit_code(const struct th_proc *p);

/* ---- PostgreSQL ---------------------------------------------------------- */

/* Options for th_pg_start; NULL means all defaults. */
struct th_pg_opts {
	int tcp; /* also listen on 127.0.0.1:port */
	int max_connections; /* 0: 200 */
};

/*
 * A throwaway cluster: initdb --no-sync into its own directory under the
 * root, run as the postgres user when we are root, fsync off, superuser
 * "postgres" with trust authentication, listening on a Unix socket in its
 * own directory (and on 127.0.0.1 when asked).
 */
struct th_pg {
	int port;
	int tcp;
	int up; /* accepting connections */
	char dir[PATH_MAX]; /* data/, sock/, *.log */
	char datadir[PATH_MAX];
	char sockdir[PATH_MAX];
	char log[PATH_MAX]; /* the server's log */
	/* host=SOCKDIR port=P user=postgres dbname=postgres */
	char conninfo[PATH_MAX + 128];
	/* postgresql:///postgres?host=SOCKDIR&port=P&user=postgres */
	char url[PATH_MAX + 128];
	/* postgresql://postgres@127.0.0.1:P/postgres, "" unless tcp */
	char tcp_url[128];
	double initdb_ms; /* time spent in initdb (or copy) */
	double start_ms; /* last start until connections accepted */
	int max_connections;
	struct th_proc *proc; /* the postmaster */
	struct th_pg *next;
};

struct th_pg *th_pg_start(const struct th_pg_opts *opts);
/* Fast shutdown, then remove the directory. 0 or -1. */
int th_pg_stop(struct th_pg *pg);
/* Fast shutdown, keeping data and port (for fault tests). 0 or -1. */
int th_pg_down(struct th_pg *pg);
/* Start again on the same data directory and port. 0 or -1. */
int th_pg_up(struct th_pg *pg);
/* th_pg_down + th_pg_up. */
int th_pg_restart(struct th_pg *pg);
/*
 * SIGKILL the postmaster and every backend at once (a crash), wait until
 * they are gone; th_pg_up then runs crash recovery. 0 or -1.
 */
int th_pg_kill9(struct th_pg *pg);
/* Run one SQL string on database dbname (NULL: postgres). 0 or -1. */
int th_pg_exec(struct th_pg *pg, const char *dbname, const char *sql);
/*
 * CREATE DATABASE name and write a keyword/value conninfo for it into
 * buf.  0 or -1.
 */
int th_pg_createdb(struct th_pg *pg, const char *name, char *buf, size_t len);

/* ---- NATS ---------------------------------------------------------------- */

struct th_nats_opts {
	int jetstream; /* -js, store under the instance directory */
	int monitor; /* HTTP monitoring on monitor_port (-m) */
};

struct th_nats {
	int port;
	int monitor_port; /* 0 unless opts.monitor */
	int jetstream;
	int up;
	char dir[PATH_MAX]; /* store/, nats.log */
	char log[PATH_MAX];
	char url[64]; /* nats://127.0.0.1:PORT */
	char name[48]; /* server_name, unique on the machine */
	char monitor_url[64]; /* http://127.0.0.1:MPORT, "" if none */
	double start_ms; /* last start until INFO received */
	struct th_proc *proc;
	struct th_nats *next;
};

struct th_nats *th_nats_start(const struct th_nats_opts *opts);
/* SIGTERM (SIGKILL after a bound), then remove the directory. */
int th_nats_stop(struct th_nats *n);
/* Stop, keeping port and directory. */
int th_nats_down(struct th_nats *n);
/* Start again on the same port. */
int th_nats_up(struct th_nats *n);
int th_nats_restart(struct th_nats *n);
/* SIGKILL, keeping port and directory (th_nats_up brings it back). */
int th_nats_kill(struct th_nats *n);

/* ---- HTTP (libcurl) -------------------------------------------------------- */

struct th_http_response {
	long status; /* HTTP status, 0 if no response */
	char *body; /* NUL-terminated (body_len excludes it) */
	size_t body_len;
	char *headers; /* raw header block(s), NUL-terminated */
	size_t headers_len;
	double total_ms;
};

/*
 * One request.  headers is a NULL-terminated list of "Name: value" (or
 * NULL); body may be NULL.  Proxies are never used.  Returns 0 when a
 * response arrived (any status), -1 on a transport error or timeout.
 * Free the response with th_http_response_free (also after -1).
 */
int th_http_request(const char *method, const char *url,
    const char *const headers[], const char *body, size_t body_len,
    int timeout_ms, struct th_http_response *resp);
/*
 * The same, but every chunk of the body is handed to on_data as it
 * arrives (for SSE); on_data returns 0 to go on or -1 to hang up (the
 * call then returns 0 with what was received).  resp->body stays empty.
 */
int th_http_stream(const char *method, const char *url,
    const char *const headers[], const char *body, size_t body_len,
    int timeout_ms, int (*on_data)(const char *, size_t, void *), void *arg,
    struct th_http_response *resp);
/* Value of the last header called name (case-insensitive): 0 or -1. */
int th_http_header(const struct th_http_response *resp, const char *name,
    char *buf, size_t len);
void th_http_response_free(struct th_http_response *resp);
/* Poll GET url until it answers status: 0, or -1 after timeout_ms. */
int th_wait_http(const char *url, long status, int timeout_ms);

#endif
