/*
 * Standalone mode's private servers: a PostgreSQL cluster in
 * <state_dir>/pg and a nats-server configured in <state_dir>/nats, run as
 * children of the supervisor with the same state machine as every child.
 *
 * They are foreign programs, not our binary: no control channel, no
 * READY message.  Readiness is probed from the supervisor's loop without
 * blocking and without any client library (libpq and nats.c start
 * threads): PostgreSQL is ready when postmaster.pid names our child and
 * says "ready" and its Unix socket accepts a connection; nats-server when
 * its loopback port accepts a connection and greets it with INFO.
 *
 * Privileges: PostgreSQL refuses to run as root, so when we are root both
 * servers run as an unprivileged user ("postgres", which Debian's
 * postgresql-common creates, or $LOCALAI_PG_USER); otherwise as us.
 * Access: PostgreSQL listens on no TCP address, only on a Unix socket in
 * <state_dir>/pg/run, a directory of mode 0700 owned by the server's user,
 * with "trust" authentication.  The directory is the access control: only
 * that user and root can reach the socket, and our own processes are one
 * of the two.  nats-server listens on loopback with a generated
 * user/password (its config file is mode 0600).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor/sup.h"

#define SVC_PG_PORT 5432 /* names the socket file only */
#define SVC_PG_DB "localai"
#define SVC_PG_ROLE "localai"
#define SVC_PROBE_MS 100 /* readiness checks this often */
#define SVC_PG_READY_MS 120000 /* crash recovery may take a while */
#define SVC_NATS_READY_MS 30000
#define SVC_PG_STOP_MS 30000 /* fast shutdown, then SIGKILL */
#define SVC_NATS_USER "localai"

struct sup_svc {
	char path[PATH_MAX]; /* the executable */
	char *argv[24]; /* into store */
	char store[4096];
	size_t used;
	char dir[PATH_MAX]; /* its working directory */
	int switch_user; /* we are root: become uid */
	char user[64];
	uid_t uid;
	gid_t gid;
	char pidfile[PATH_MAX]; /* PostgreSQL: postmaster.pid */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint16_t port; /* nats-server */
	int probe_fd;
	int64_t probe_deadline;
};

static struct sup_svc svc_pg, svc_nats;

/* ---- small helpers ------------------------------------------------------ */

/* Copy a NULL-terminated argument list into s; -1 when it does not fit. */
static int
svc_args(struct sup_svc *s, const char *const *args)
{
	size_t i, n;

	memset(s->argv, 0, sizeof(s->argv));
	s->used = 0;
	for (i = 0; args[i] != NULL; i++) {
		n = strlen(args[i]) + 1;
		if (i + 1 >= sizeof(s->argv) / sizeof(s->argv[0]) ||
		    n > sizeof(s->store) - s->used)
			return -1;
		memcpy(s->store + s->used, args[i], n);
		s->argv[i] = s->store + s->used;
		s->used += n;
	}
	return 0;
}

static int
svc_is_exec(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

/*
 * Find a program in $PATH, then in the sbin directories a non-root PATH
 * often lacks (Debian puts nats-server in /usr/sbin).
 */
static int
svc_which(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	static const char *extra = "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	                           "/usr/bin:/sbin:/bin";
	char dirs[4096];
	size_t n;

	snprintf(dirs, sizeof(dirs), "%s:%s", path != NULL ? path : "", extra);
	for (p = dirs; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (n == 0)
			continue;
		if ((size_t)snprintf(out, len, "%.*s/%s", (int)n, p, name) >=
		    len)
			continue;
		if (svc_is_exec(out))
			return 0;
	}
	return -1;
}

/* mkdir (if missing) with mode, owned by the service user. */
static int
svc_mkdir(const struct sup_svc *s, const char *dir, mode_t mode)
{
	if (mkdir(dir, mode) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	if (chmod(dir, mode) == -1) {
		log_warn("chmod %s", dir);
		return -1;
	}
	if (s->switch_user && chown(dir, s->uid, s->gid) == -1) {
		log_warn("chown %s to %s", dir, s->user);
		return -1;
	}
	return 0;
}

/*
 * Can uid/gid search (traverse) dir?  Checked for every ancestor of the
 * service's directory, so that a state directory under a 0700 root
 * directory gives a clear message instead of a cryptic initdb failure.
 */
static int
svc_can_traverse(const struct sup_svc *s, const char *dir)
{
	struct stat st;

	if (!s->switch_user)
		return 1;
	if (stat(dir, &st) == -1)
		return 0;
	if (st.st_uid == s->uid)
		return (st.st_mode & S_IXUSR) != 0;
	if (st.st_gid == s->gid)
		return (st.st_mode & S_IXGRP) != 0;
	return (st.st_mode & S_IXOTH) != 0;
}

static int
svc_check_path(const struct sup_svc *s, const char *path)
{
	char buf[PATH_MAX], *slash;

	snprintf(buf, sizeof(buf), "%s", path);
	for (slash = buf; (slash = strchr(slash + 1, '/')) != NULL;) {
		*slash = '\0';
		if (!svc_can_traverse(s, buf)) {
			log_warnx(
			    "standalone: user %s cannot reach %s: %s is "
			    "not searchable for it (chmod o+x %s, or choose "
			    "another state_dir)",
			    s->user, path, buf, buf);
			return -1;
		}
		*slash = '/';
	}
	return 0;
}

/*
 * Which user runs the servers: as root, $LOCALAI_PG_USER or "postgres"
 * (PostgreSQL will not run as root); otherwise ourselves.
 */
static int
svc_user(struct sup_svc *s)
{
	const char *name = getenv("LOCALAI_PG_USER");
	struct passwd *pw;

	s->switch_user = 0;
	s->uid = geteuid();
	s->gid = getegid();
	if (s->uid != 0) {
		if ((pw = getpwuid(s->uid)) != NULL)
			snprintf(s->user, sizeof(s->user), "%s", pw->pw_name);
		else
			snprintf(
			    s->user, sizeof(s->user), "%u", (unsigned)s->uid);
		return 0;
	}
	if (name == NULL || *name == '\0')
		name = "postgres";
	errno = 0;
	if ((pw = getpwnam(name)) == NULL || pw->pw_uid == 0) {
		log_warnx(
		    "standalone: running as root, the private PostgreSQL "
		    "needs an unprivileged user and \"%s\" %s; create it or "
		    "set LOCALAI_PG_USER",
		    name, pw == NULL ? "does not exist" : "is root");
		return -1;
	}
	snprintf(s->user, sizeof(s->user), "%s", pw->pw_name);
	s->uid = pw->pw_uid;
	s->gid = pw->pw_gid;
	s->switch_user = 1;
	return 0;
}

/* In a forked child: become the service's user (no-op when not root). */
static int
svc_become(const struct sup_svc *s)
{
	if (!s->switch_user)
		return 0;
	if (initgroups(s->user, s->gid) == -1 || setgid(s->gid) == -1 ||
	    setuid(s->uid) == -1)
		return -1;
	return setuid(0) == 0 ? -1 : 0; /* must not be able to return */
}

/* Remove every LOCALAI_* variable: the servers get none of our secrets. */
static void
svc_env_scrub(void)
{
	extern char **environ;
	char name[256], **e;
	size_t n;

	for (e = environ; e != NULL && *e != NULL;) {
		if (strncmp(*e, "LOCALAI_", 8) != 0 ||
		    (n = strcspn(*e, "=")) >= sizeof(name)) {
			e++;
			continue;
		}
		memcpy(name, *e, n);
		name[n] = '\0';
		unsetenv(name);
		e = environ; /* unsetenv() moved the entries */
	}
}

/*
 * Run a setup command (initdb) as the service user and wait for it.
 * input, when not NULL, is written to its standard input; its standard
 * output is discarded (errors go to standard error, which is ours).
 */
static int
svc_run(const struct sup_svc *s, char *const argv[], const char *input)
{
	int in[2], null, wstatus;
	size_t len = input != NULL ? strlen(input) : 0;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if ((null = open("/dev/null", O_WRONLY)) == -1 ||
		    dup2(in[0], STDIN_FILENO) == -1 ||
		    dup2(null, STDOUT_FILENO) == -1 || svc_become(s) == -1 ||
		    chdir(s->dir) == -1)
			_exit(127);
		svc_env_scrub();
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (len > 0 && write(in[1], input, len) != (ssize_t)len)
		log_warn("%s: writing its input", argv[0]);
	close(in[1]);
	while (waitpid(pid, &wstatus, 0) == -1) {
		if (errno != EINTR)
			return -1;
	}
	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		log_warnx("%s failed (wait status %#x)", argv[0], wstatus);
		return -1;
	}
	return 0;
}

/* Remove a directory tree (a failed initdb's leftovers). */
static void
svc_rmtree(const char *path)
{
	struct dirent *de;
	char sub[PATH_MAX];
	struct stat st;
	DIR *d;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode)) {
		(void)unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			svc_rmtree(sub);
		}
		closedir(d);
	}
	(void)rmdir(path);
}

/* ---- PostgreSQL ------------------------------------------------------------ */

/* The major version an existing cluster was made with, or 0. */
static int
svc_pg_data_version(const char *data)
{
	char path[PATH_MAX];
	FILE *fp;
	int v = 0;

	snprintf(path, sizeof(path), "%s/PG_VERSION", data);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%d", &v) != 1)
		v = 0;
	fclose(fp);
	return v;
}

/* The newest /usr/lib/postgresql/N/bin with a postgres in it, or 0. */
static int
svc_pg_newest(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int best = 0, v;

	if ((d = opendir("/usr/lib/postgresql")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		v = atoi(de->d_name);
		snprintf(path, sizeof(path),
		    "/usr/lib/postgresql/%d/bin/"
		    "postgres",
		    v);
		if (v > best && svc_is_exec(path))
			best = v;
	}
	closedir(d);
	return best;
}

/*
 * Where postgres and initdb are: the version the data directory was made
 * with, else the newest under /usr/lib/postgresql (Debian keeps them out
 * of PATH), else $PATH.  bindir gets the directory.
 */
static int
svc_pg_bindir(const char *data, char *bindir, size_t len)
{
	char path[PATH_MAX], *slash;
	int v;

	v = svc_pg_data_version(data);
	if (v > 0) {
		snprintf(path, sizeof(path),
		    "/usr/lib/postgresql/%d/bin/"
		    "postgres",
		    v);
		if (!svc_is_exec(path))
			v = 0;
	}
	if (v == 0)
		v = svc_pg_newest();
	if (v > 0) {
		snprintf(bindir, len, "/usr/lib/postgresql/%d/bin", v);
		return 0;
	}
	if (svc_which("postgres", path, sizeof(path)) == -1)
		return -1;
	if ((slash = strrchr(path, '/')) != NULL)
		*slash = '\0';
	snprintf(bindir, len, "%s", path);
	return 0;
}

/*
 * First start: initdb into data.new, create our database in single-user
 * mode, then rename to data, so that an interrupted initdb is never
 * mistaken for a cluster.  fsync stays on: this is the cluster's real
 * data.
 */
static int
svc_pg_initdb(struct sup_svc *s, const char *bindir, const char *data)
{
	char tmp[PATH_MAX], initdb[PATH_MAX], pg[PATH_MAX];
	char *argv[16];
	int i = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", data);
	snprintf(initdb, sizeof(initdb), "%s/initdb", bindir);
	snprintf(pg, sizeof(pg), "%s/postgres", bindir);
	svc_rmtree(tmp);
	log_info("standalone: first start: creating the PostgreSQL cluster in "
	         "%s (as user %s)",
	    data, s->user);
	argv[i++] = initdb;
	argv[i++] = (char *)(uintptr_t) "-D";
	argv[i++] = tmp;
	argv[i++] = (char *)(uintptr_t) "-U";
	argv[i++] = (char *)(uintptr_t)SVC_PG_ROLE;
	argv[i++] = (char *)(uintptr_t) "--auth=trust";
	argv[i++] = (char *)(uintptr_t) "--encoding=UTF8";
	argv[i++] = (char *)(uintptr_t) "--locale=C";
	argv[i++] = (char *)(uintptr_t) "--no-instructions";
	argv[i] = NULL;
	if (svc_run(s, argv, NULL) == -1)
		goto fail;
	i = 0;
	argv[i++] = pg;
	argv[i++] = (char *)(uintptr_t) "--single";
	argv[i++] = (char *)(uintptr_t) "-c";
	argv[i++] = (char *)(uintptr_t) "log_checkpoints=off";
	argv[i++] = (char *)(uintptr_t) "-D";
	argv[i++] = tmp;
	argv[i++] = (char *)(uintptr_t) "postgres";
	argv[i] = NULL;
	if (svc_run(s, argv, "CREATE DATABASE " SVC_PG_DB ";\n") == -1)
		goto fail;
	if (rename(tmp, data) == -1) {
		log_warn("rename %s", tmp);
		goto fail;
	}
	return 0;
fail:
	log_warnx("standalone: cannot create the PostgreSQL cluster");
	svc_rmtree(tmp);
	return -1;
}

/*
 * The server's command line: Unix socket only, small (16 MB of shared
 * buffers, 50 connections), log lines marked as PostgreSQL's.
 */
static int
svc_pg_argv(
    struct sup_svc *s, const char *bindir, const char *data, const char *run)
{
	char port[16];
	const char *args[] = {"postgres", "-D", data, "-k", run, "-p", port,
	    "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
	    "-c", "shared_buffers=16MB", "-c", "max_connections=50", "-c",
	    "fsync=on", "-c", "log_line_prefix=postgres[%p]: ", NULL};

	snprintf(port, sizeof(port), "%d", SVC_PG_PORT);
	snprintf(s->path, sizeof(s->path), "%s/postgres", bindir);
	return svc_args(s, args);
}

int
sup_svc_pg_setup(const char *state_dir, char *url, size_t urllen)
{
	struct sup_svc *s = &svc_pg;
	char data[PATH_MAX], run[PATH_MAX], bindir[PATH_MAX];
	struct sup_child *c;

	memset(s, 0, sizeof(*s));
	s->probe_fd = -1;
	snprintf(s->dir, sizeof(s->dir), "%s/pg", state_dir);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(run, sizeof(run), "%s/run", s->dir);
	if (svc_user(s) == -1 || svc_check_path(s, s->dir) == -1 ||
	    svc_mkdir(s, s->dir, 0700) == -1 || svc_mkdir(s, run, 0700) == -1)
		return -1;
	if (svc_pg_bindir(data, bindir, sizeof(bindir)) == -1) {
		log_warnx(
		    "standalone: PostgreSQL's server programs are not "
		    "installed (Debian: apt-get install postgresql-15); or set "
		    "frontend.database_url");
		return -1;
	}
	if (svc_pg_data_version(data) == 0 &&
	    svc_pg_initdb(s, bindir, data) == -1)
		return -1;
	if ((size_t)snprintf(s->sock, sizeof(s->sock), "%s/.s.PGSQL.%d", run,
	        SVC_PG_PORT) >= sizeof(s->sock)) {
		log_warnx(
		    "standalone: %s: path too long for a Unix socket", run);
		return -1;
	}
	snprintf(s->pidfile, sizeof(s->pidfile), "%s/postmaster.pid", data);
	if (svc_pg_argv(s, bindir, data, run) != 0) {
		log_warnx("standalone: PostgreSQL command line too long");
		return -1;
	}
	snprintf(url, urllen, "host=%s port=%d user=%s dbname=%s", run,
	    SVC_PG_PORT, SVC_PG_ROLE, SVC_PG_DB);
	log_info("standalone: private PostgreSQL %s, data in %s, socket in %s",
	    s->path, data, run);
	c = sup_child_new(SUP_PG, 0, "postgres");
	c->svc = s;
	return 0;
}

/* ---- nats-server --------------------------------------------------------- */

uint16_t
sup_svc_free_port(uint16_t want)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t port = 0;
	int fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(want);
	if (want == 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		sin.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
			goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
out:
	close(fd);
	return port;
}

/* nats.conf, rewritten at every start (the port may have changed). */
static int
svc_nats_conf(const struct sup_svc *s, const char *path, const char *password)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	        -1 ||
	    (s->switch_user && fchown(fd, s->uid, s->gid) == -1) ||
	    (fp = fdopen(fd, "w")) == NULL) {
		log_warn("%s", tmp);
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(fp,
	    "# Written by localai standalone at each start; edits are "
	    "lost.\n"
	    "listen: \"127.0.0.1:%u\"\n"
	    "server_name: \"localai-standalone\"\n"
	    "pid_file: \"%s/nats-server.pid\"\n"
	    "max_payload: 8388608\n"
	    "authorization {\n"
	    "  user: \"%s\"\n"
	    "  password: \"%s\"\n"
	    "}\n",
	    s->port, s->dir, SVC_NATS_USER, password);
	if (fflush(fp) == EOF || fsync(fd) == -1 || fclose(fp) == EOF) {
		log_warn("%s", tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", tmp);
		return -1;
	}
	return 0;
}

int
sup_svc_nats_setup(const char *state_dir, const char *password, uint16_t port,
    char *url, size_t urllen)
{
	struct sup_svc *s = &svc_nats;
	char conf[PATH_MAX];
	struct sup_child *c;

	memset(s, 0, sizeof(*s));
	s->probe_fd = -1;
	s->port = port;
	snprintf(s->dir, sizeof(s->dir), "%s/nats", state_dir);
	snprintf(conf, sizeof(conf), "%s/nats.conf", s->dir);
	if (svc_user(s) == -1 || svc_check_path(s, s->dir) == -1 ||
	    svc_mkdir(s, s->dir, 0700) == -1 ||
	    svc_nats_conf(s, conf, password) == -1)
		return -1;
	if (svc_which("nats-server", s->path, sizeof(s->path)) == -1) {
		log_warnx("standalone: nats-server is not installed (Debian: "
		          "apt-get install nats-server); or set nats_url");
		return -1;
	}
	if (svc_args(s,
	        (const char *const[]){"nats-server", "-c", conf, NULL}) == -1)
		return -1;
	snprintf(url, urllen, "nats://%s:%s@127.0.0.1:%u", SVC_NATS_USER,
	    password, port);
	log_info("standalone: private nats-server %s on 127.0.0.1:%u", s->path,
	    port);
	c = sup_child_new(SUP_NATS, 0, "nats-server");
	c->svc = s;
	return 0;
}

/* ---- in the forked child ------------------------------------------------- */

int
sup_svc_drop_privileges(const struct sup_child *c)
{
	return svc_become(c->svc);
}

void
sup_svc_exec(const struct sup_child *c)
{
	if (chdir(c->svc->dir) == -1)
		return;
	svc_env_scrub();
	execv(c->svc->path, c->svc->argv);
}

const char *
sup_svc_path(const struct sup_child *c)
{
	return c->svc != NULL ? c->svc->path : "?";
}

/* ---- readiness ------------------------------------------------------------ */

/* postmaster.pid names this pid and its status line says "ready". */
static int
svc_pg_pidfile_ready(const struct sup_svc *s, pid_t pid)
{
	char line[256];
	FILE *fp;
	int n = 0, ok = 0;

	if ((fp = fopen(s->pidfile, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if (n == 1 && atoi(line) != (int)pid)
			break;
		if (n == 8) {
			ok = strncmp(line, "ready", 5) == 0;
			break;
		}
	}
	fclose(fp);
	return ok;
}

static int
svc_pg_ready(struct sup_svc *s, pid_t pid)
{
	struct sockaddr_un sun;
	int fd, ok;

	if (!svc_pg_pidfile_ready(s, pid))
		return 0;
	if ((fd = socket(
	         AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->sock, sizeof(s->sock));
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return ok;
}

static void
svc_probe_close(struct sup_svc *s)
{
	if (s->probe_fd != -1)
		close(s->probe_fd);
	s->probe_fd = -1;
}

/*
 * Connect (non-blocking) to nats-server's port, then, on later checks,
 * wait for its greeting.  1 when it said INFO.
 */
static int
svc_nats_ready(struct sup_svc *s)
{
	struct sockaddr_in sin;
	char buf[8];
	ssize_t n;

	if (s->probe_fd == -1) {
		s->probe_fd = socket(
		    AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->probe_fd == -1)
			return 0;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons(s->port);
		if (connect(s->probe_fd, (struct sockaddr *)&sin,
		        sizeof(sin)) == -1 &&
		    errno != EINPROGRESS) {
			svc_probe_close(s);
			return 0;
		}
	}
	n = recv(s->probe_fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n >= 5 && memcmp(buf, "INFO ", 5) == 0) {
		svc_probe_close(s);
		return 1;
	}
	svc_probe_close(s); /* refused, closed, or not NATS: again */
	return 0;
}

int64_t
sup_svc_probe(struct sup_child *c, int64_t now)
{
	struct sup_svc *s = c->svc;
	int ready;

	if (c->sm.state != CHILD_STARTING || c->doomed)
		return -1;
	if (s->probe_deadline == 0)
		s->probe_deadline =
		    now +
		    (c->kind == SUP_PG ? SVC_PG_READY_MS : SVC_NATS_READY_MS);
	ready = c->kind == SUP_PG ? svc_pg_ready(s, c->pid) : svc_nats_ready(s);
	if (ready) {
		s->probe_deadline = 0;
		sup_child_ready(c, now);
		return now; /* the loop looks again: others may start now */
	}
	if (now >= s->probe_deadline) {
		log_warnx("%s[%d]: does not accept connections after %lld s",
		    c->name, (int)c->pid,
		    (long long)(c->kind == SUP_PG ? SVC_PG_READY_MS
		                                  : SVC_NATS_READY_MS) /
		        1000);
		s->probe_deadline = 0;
		svc_probe_close(s);
		sup_child_kill(c, "not ready in time");
		return -1;
	}
	return now + SVC_PROBE_MS;
}

void
sup_svc_exited(struct sup_child *c)
{
	if (c->svc == NULL)
		return;
	svc_probe_close(c->svc);
	c->svc->probe_deadline = 0;
}

/*
 * PostgreSQL: SIGINT to the postmaster alone is a fast shutdown (it ends
 * its sessions and checkpoints); signalling its whole group would make
 * every backend die on its own.  SIGKILL of the group after 30 s.
 * nats-server: SIGTERM, SIGKILL after the usual 5 s.
 */
void
sup_svc_stop(struct sup_child *c, int64_t now)
{
	int pg = c->kind == SUP_PG;

	c->stopping = 1;
	if (c->pid == -1) {
		child_sm_stopped(&c->sm);
		return;
	}
	if (kill(pg ? c->pid : -c->pid, pg ? SIGINT : SIGTERM) == -1 &&
	    errno != ESRCH)
		log_warn("%s[%d]: stop", c->name, (int)c->pid);
	c->stop_at = now;
	c->kill_at = now + (pg ? SVC_PG_STOP_MS : SUP_KILL_AFTER_MS);
}
