/*
 * Throwaway PostgreSQL clusters.
 *
 * initdb and postgres refuse to run as root, so when we are root both run
 * as the existing `postgres` user: we fork, switch uid/gid in the child and
 * exec them directly (not through runuser or pg_ctl), so the postmaster is
 * our own child and we wait() for it.  The cluster listens on a Unix socket
 * in its own directory and, when asked, on 127.0.0.1; its port is chosen
 * free at run time.  fsync and full_page_writes are off: these clusters
 * hold nothing worth keeping across a machine crash.  synchronous_commit
 * stays on, so a committed row survives th_pg_kill9 as it would survive a
 * real PostgreSQL crash (with it off, the last ~200 ms of commits would
 * vanish and fault tests would see phantom data loss).
 *
 * initdb costs about 0.5 s; copying an initdb'd template costs about
 * 0.1 s, so the first cluster of a machine is kept as a template in
 * $TMPDIR/localai-th-pg-UID-KEY (KEY hashes the initdb binary and our
 * options), created atomically by rename(2).  TH_PG_NOCACHE=1 disables it.
 */
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/harness/th_internal.h"

#define TH_PG_USER "postgres"
#define TH_PG_MAXGROUPS 32
#define TH_PG_INITDB_TIMEOUT 120000
#define TH_PG_KILL_WAIT 10000
#define TH_PG_TEMPLATE_VERSION "1"

/* Who runs initdb and postgres. */
struct th_pg_user {
	int drop;
	uid_t uid;
	gid_t gid;
	gid_t groups[TH_PG_MAXGROUPS];
	int ngroups;
};

static struct th_pg *th_pgs;
static char th_pg_bindir[PATH_MAX];
static struct th_pg_user th_pg_user;
static int th_pg_ready;

/* $TH_PG_BINDIR, else `pg_config --bindir`, else Debian's usual place. */
static int
th_pg_find_bindir(void)
{
	const char *env = getenv("TH_PG_BINDIR");
	char buf[PATH_MAX], path[PATH_MAX + 16];
	FILE *f;

	if (env != NULL && *env != '\0')
		snprintf(th_pg_bindir, sizeof(th_pg_bindir), "%s", env);
	else if ((f = popen("pg_config --bindir 2>/dev/null", "re")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(th_pg_bindir, sizeof(th_pg_bindir), "%s", buf);
		}
		pclose(f);
	}
	if (th_pg_bindir[0] == '\0')
		snprintf(th_pg_bindir, sizeof(th_pg_bindir),
		    "/usr/lib/postgresql/15/bin");
	snprintf(path, sizeof(path), "%s/postgres", th_pg_bindir);
	if (access(path, X_OK) == -1) {
		th__log("%s: %s (set TH_PG_BINDIR)", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
th_pg_find_user(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(TH_PG_USER)) == NULL) {
		th__log("running as root needs a '%s' user (postgresql-common"
		        " creates it)",
		    TH_PG_USER);
		return -1;
	}
	th_pg_user.drop = 1;
	th_pg_user.uid = pw->pw_uid;
	th_pg_user.gid = pw->pw_gid;
	th_pg_user.ngroups = TH_PG_MAXGROUPS;
	if (getgrouplist(TH_PG_USER, pw->pw_gid, th_pg_user.groups,
	        &th_pg_user.ngroups) == -1)
		th_pg_user.ngroups = 0;
	return 0;
}

static int
th_pg_setup(void)
{
	if (th_pg_ready)
		return 0;
	if (th_pg_find_bindir() == -1 || th_pg_find_user() == -1)
		return -1;
	th_pg_ready = 1;
	return 0;
}

/* Run one program (as the postgres user if asked), wait for it: 0 or -1. */
static int
th_pg_run(char *const argv[], const char *log, const char *cwd, int as_pg)
{
	struct th_spawn sp;
	struct th_proc *p;

	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.log = log;
	sp.cwd = cwd;
	sp.internal = 1;
	sp.drop = as_pg && th_pg_user.drop;
	sp.uid = th_pg_user.uid;
	sp.gid = th_pg_user.gid;
	sp.groups = th_pg_user.groups;
	sp.ngroups = th_pg_user.ngroups;
	if ((p = th__spawn(&sp)) == NULL)
		return -1;
	if (th_proc_wait(p, TH_PG_INITDB_TIMEOUT) == -1)
		th_proc_stop(p, 1000);
	if (th_exit_code(p) != 0) {
		th__log("%s exited with %d", argv[0], th_exit_code(p));
		if (log != NULL)
			th__log_tail(log, 20);
		return -1;
	}
	return 0;
}

/* An empty directory owned by the postgres user. */
static int
th_pg_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 || chmod(path, mode) == -1 ||
	    (th_pg_user.drop &&
	        chown(path, th_pg_user.uid, th_pg_user.gid) == -1)) {
		th__log("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
th_pg_initdb(const char *datadir, const char *log, const char *cwd)
{
	char initdb[PATH_MAX + 16];
	char *argv[] = {initdb, "-D", (char *)(uintptr_t)datadir, "-A", "trust",
	    "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
	    "--no-instructions", NULL};

	snprintf(initdb, sizeof(initdb), "%s/initdb", th_pg_bindir);
	if (th_pg_mkdir(datadir, 0700) == -1)
		return -1;
	return th_pg_run(argv, log, cwd, 1);
}

/* The template's path: the key changes with the initdb binary. */
static int
th_pg_template_path(char *buf, size_t len)
{
	const char *base = getenv("TMPDIR");
	char initdb[PATH_MAX + 16], key[PATH_MAX + 128];
	uint64_t h = 1469598103934665603ULL;
	struct stat st;
	size_t i;

	snprintf(initdb, sizeof(initdb), "%s/initdb", th_pg_bindir);
	if (stat(initdb, &st) == -1)
		return -1;
	snprintf(key, sizeof(key), "%s:%lld:%lld:%s", initdb,
	    (long long)st.st_size, (long long)st.st_mtime,
	    TH_PG_TEMPLATE_VERSION);
	for (i = 0; key[i] != '\0'; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	return th__fmt(buf, len, "%s/localai-th-pg-%d-%016llx",
	    base != NULL && *base != '\0' ? base : "/tmp", (int)getuid(),
	    (unsigned long long)h);
}

/* Make sure the shared template exists: 0, or -1 to fall back. */
static int
th_pg_template(const char *tpl, const char *log, const char *cwd)
{
	char tmp[PATH_MAX + 32], version[PATH_MAX + 16];
	struct stat st;

	snprintf(version, sizeof(version), "%s/PG_VERSION", tpl);
	if (stat(version, &st) == 0)
		return 0;
	if (th__fmt(tmp, sizeof(tmp), "%s.tmp%d", tpl, (int)getpid()) == -1)
		return -1;
	if (th_pg_initdb(tmp, log, cwd) == -1) {
		th__rmtree(tmp);
		return -1;
	}
	/* Another run may have won the race; theirs is as good as ours. */
	if (rename(tmp, tpl) == -1)
		th__rmtree(tmp);
	return stat(version, &st);
}

/* Fill datadir from the template (cp -a keeps owner and modes). */
static int
th_pg_make_datadir(struct th_pg *pg)
{
	char tpl[PATH_MAX], log[PATH_MAX + 16];
	char *argv[] = {"cp", "-a", tpl, pg->datadir, NULL};
	const char *nocache = getenv("TH_PG_NOCACHE");
	double t0 = th_now_ms();
	int rc = -1;

	snprintf(log, sizeof(log), "%s/initdb.log", pg->dir);
	if ((nocache == NULL || *nocache == '\0' || *nocache == '0') &&
	    th_pg_template_path(tpl, sizeof(tpl)) == 0 &&
	    th_pg_template(tpl, log, pg->dir) == 0)
		rc = th_pg_run(argv, log, pg->dir, 0);
	if (rc == -1) {
		th__rmtree(pg->datadir);
		rc = th_pg_initdb(pg->datadir, log, pg->dir);
	}
	pg->initdb_ms = th_now_ms() - t0;
	return rc;
}

static void
th_pg_set_addresses(struct th_pg *pg)
{
	snprintf(pg->conninfo, sizeof(pg->conninfo),
	    "host=%s port=%d user=postgres dbname=postgres", pg->sockdir,
	    pg->port);
	snprintf(pg->url, sizeof(pg->url),
	    "postgresql:///postgres?host=%s&port=%d&user=postgres", pg->sockdir,
	    pg->port);
	if (pg->tcp)
		snprintf(pg->tcp_url, sizeof(pg->tcp_url),
		    "postgresql://postgres@127.0.0.1:%d/postgres", pg->port);
}

static struct th_proc *
th_pg_spawn_postmaster(struct th_pg *pg)
{
	char postgres[PATH_MAX + 16], port[16], listen[64], maxconn[48];
	char *argv[] = {postgres, "-D", pg->datadir, "-p", port, "-k",
	    pg->sockdir, "-c", listen, "-c", maxconn, "-c", "fsync=off", "-c",
	    "full_page_writes=off", "-c", "shared_buffers=32MB", "-c",
	    "dynamic_shared_memory_type=mmap", "-c",
	    "unix_socket_permissions=0777", "-c", "log_line_prefix=%m [%p] ",
	    NULL};
	struct th_spawn sp;

	snprintf(postgres, sizeof(postgres), "%s/postgres", th_pg_bindir);
	snprintf(port, sizeof(port), "%d", pg->port);
	snprintf(listen, sizeof(listen), "listen_addresses=%s",
	    pg->tcp ? "127.0.0.1" : "");
	snprintf(maxconn, sizeof(maxconn), "max_connections=%d",
	    pg->max_connections);
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.log = pg->log;
	sp.cwd = pg->dir;
	sp.internal = 1;
	sp.drop = th_pg_user.drop;
	sp.uid = th_pg_user.uid;
	sp.gid = th_pg_user.gid;
	sp.groups = th_pg_user.groups;
	sp.ngroups = th_pg_user.ngroups;
	return th__spawn(&sp);
}

/*
 * Start the postmaster on pg->port and wait until it accepts connections
 * (PQping OK, not merely "starting up"), bounded.
 */
static int
th_pg_launch(struct th_pg *pg)
{
	double t0 = th_now_ms(), deadline = t0 + TH_PG_START_TIMEOUT;
	int step = 2;

	th_pg_set_addresses(pg);
	if ((pg->proc = th_pg_spawn_postmaster(pg)) == NULL)
		return -1;
	for (;;) {
		if (PQping(pg->conninfo) == PQPING_OK)
			break;
		if (!th_proc_alive(pg->proc)) {
			th__log("postgres exited with %d during start",
			    th_exit_code(pg->proc));
			th__log_tail(pg->log, 15);
			return -1;
		}
		if (th_now_ms() > deadline) {
			th__log("postgres not ready after %d ms",
			    TH_PG_START_TIMEOUT);
			th__log_tail(pg->log, 15);
			th_proc_stop(pg->proc, 2000);
			return -1;
		}
		th_sleep_ms(step);
		if (step < 50)
			step *= 2;
	}
	pg->start_ms = th_now_ms() - t0;
	pg->up = 1;
	return 0;
}

static int
th_pg_prepare(struct th_pg *pg, const struct th_pg_opts *opts)
{
	pg->tcp = opts != NULL && opts->tcp;
	pg->max_connections = opts != NULL && opts->max_connections > 0
	                          ? opts->max_connections
	                          : 200;
	if (th__mkinstance("pg", pg->dir, sizeof(pg->dir)) == -1)
		return -1;
	if (th__fmt(pg->datadir, sizeof(pg->datadir), "%s/data", pg->dir) ==
	        -1 ||
	    th__fmt(pg->sockdir, sizeof(pg->sockdir), "%s/sock", pg->dir) ==
	        -1 ||
	    th__fmt(pg->log, sizeof(pg->log), "%s/postgres.log", pg->dir) == -1)
		return -1;
	/* The socket path must fit sun_path (107 bytes) with its name. */
	if (strlen(pg->sockdir) + sizeof("/.s.PGSQL.65535") > 108) {
		th__log("socket directory path too long: %s", pg->sockdir);
		return -1;
	}
	if (th_pg_mkdir(pg->sockdir, 0755) == -1)
		return -1;
	return th_pg_make_datadir(pg);
}

struct th_pg *
th_pg_start(const struct th_pg_opts *opts)
{
	struct th_pg *pg;
	int tries;

	if (th__need_init("th_pg_start") == -1 || th_pg_setup() == -1)
		return NULL;
	if ((pg = calloc(1, sizeof(*pg))) == NULL)
		return NULL;
	if (th_pg_prepare(pg, opts) == -1)
		goto fail;
	/* A TCP port can be taken between th_free_port and bind: retry. */
	for (tries = 0; tries < 3; tries++) {
		if ((pg->port = th_free_port()) == -1)
			goto fail;
		if (th_pg_launch(pg) == 0) {
			pg->next = th_pgs;
			th_pgs = pg;
			return pg;
		}
		if (pg->proc == NULL || !pg->tcp)
			break;
	}
fail:
	if (pg->dir[0] != '\0')
		th__rmtree(pg->dir);
	free(pg);
	return NULL;
}

/*
 * A postmaster killed by SIGKILL leaves its System V interlock segment
 * behind (postmaster.pid line 7: key and id); remove it when nothing is
 * attached, so killed clusters do not accumulate segments.
 */
static void
th_pg_remove_shm(struct th_pg *pg)
{
	char path[PATH_MAX + 32], line[256];
	unsigned long key, id;
	struct shmid_ds ds;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/postmaster.pid", pg->datadir);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL && ++n < 7)
		;
	fclose(f);
	if (n != 7 || sscanf(line, "%lu %lu", &key, &id) != 2)
		return;
	if (shmctl((int)id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 0)
		(void)shmctl((int)id, IPC_RMID, NULL);
}

/* Signal the postmaster and wait; escalate to SIGKILL on the whole tree. */
static int
th_pg_halt(struct th_pg *pg, int sig, int timeout_ms)
{
	pid_t *pids = NULL;
	int n;

	if (pg->proc == NULL || !th_proc_alive(pg->proc)) {
		pg->up = 0;
		return 0;
	}
	th_proc_signal(pg->proc, sig);
	if (th_proc_wait(pg->proc, timeout_ms) == 0) {
		pg->up = 0;
		return 0;
	}
	th__log("postgres[%d]: no exit after signal %d, killing",
	    (int)pg->proc->pid, sig);
	if ((n = th__descendants(pg->proc->pid, &pids)) < 0)
		n = 0;
	th_proc_signal(pg->proc, SIGKILL);
	while (n-- > 0)
		kill(pids[n], SIGKILL);
	free(pids);
	th_proc_wait(pg->proc, TH_PG_KILL_WAIT);
	pg->up = 0;
	return -1;
}

int
th_pg_down(struct th_pg *pg)
{
	/* SIGINT is PostgreSQL's "fast" shutdown: clients are cut off. */
	return th_pg_halt(pg, SIGINT, TH_STOP_TIMEOUT);
}

int
th_pg_up(struct th_pg *pg)
{
	if (pg->up)
		return 0;
	return th_pg_launch(pg);
}

int
th_pg_restart(struct th_pg *pg)
{
	if (th_pg_down(pg) == -1)
		return -1;
	return th_pg_up(pg);
}

int
th_pg_kill9(struct th_pg *pg)
{
	pid_t *pids = NULL;
	int n, rc = 0;

	if (pg->proc == NULL || !th_proc_alive(pg->proc)) {
		pg->up = 0;
		return 0;
	}
	/* Backends are their own session leaders: list them by parent. */
	if ((n = th__descendants(pg->proc->pid, &pids)) < 0)
		n = 0;
	th_proc_signal(pg->proc, SIGKILL);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	if (th_proc_wait(pg->proc, TH_PG_KILL_WAIT) == -1 ||
	    th__wait_gone(pids, n, TH_PG_KILL_WAIT) == -1) {
		th__log("postgres[%d]: processes left after SIGKILL",
		    (int)pg->proc->pid);
		rc = -1;
	}
	free(pids);
	pg->up = 0;
	return rc;
}

int
th_pg_stop(struct th_pg *pg)
{
	int rc;

	if (pg->dir[0] == '\0')
		return 0;
	rc = th_pg_down(pg);
	th_pg_remove_shm(pg);
	if (th__rmtree(pg->dir) == -1)
		rc = -1;
	pg->dir[0] = '\0';
	return rc;
}

static PGconn *
th_pg_connect(struct th_pg *pg, const char *dbname)
{
	char conninfo[sizeof(pg->conninfo) + 128];
	PGconn *c;

	snprintf(conninfo, sizeof(conninfo),
	    "host=%s port=%d user=postgres dbname=%s", pg->sockdir, pg->port,
	    dbname != NULL ? dbname : "postgres");
	c = PQconnectdb(conninfo);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		th__log("connect %s: %s", conninfo,
		    c != NULL ? PQerrorMessage(c) : "out of memory");
		PQfinish(c);
		return NULL;
	}
	return c;
}

int
th_pg_exec(struct th_pg *pg, const char *dbname, const char *sql)
{
	ExecStatusType st;
	PGresult *r;
	PGconn *c;
	int rc = 0;

	if ((c = th_pg_connect(pg, dbname)) == NULL)
		return -1;
	r = PQexec(c, sql);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		th__log("%s: %s", sql, PQerrorMessage(c));
		rc = -1;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

int
th_pg_createdb(struct th_pg *pg, const char *name, char *buf, size_t len)
{
	char sql[128];
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_' ||
		        (name[i] >= '0' && name[i] <= '9')))
			break;
	if (i == 0 || i > 63 || name[i] != '\0') {
		th__log("th_pg_createdb: bad database name '%s'", name);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	if (th_pg_exec(pg, NULL, sql) == -1)
		return -1;
	return th__fmt(buf, len, "host=%s port=%d user=postgres dbname=%s",
	    pg->sockdir, pg->port, name);
}

void
th__pg_cleanup(void)
{
	struct th_pg *pg;

	for (pg = th_pgs; pg != NULL; pg = pg->next)
		th_pg_stop(pg);
}
