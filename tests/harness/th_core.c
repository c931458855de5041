/*
 * Harness core: th_init and the guardian, the run's root directory, ports,
 * clocks, waits, process-tree scans and the exit-time cleanup.
 *
 * Why a guardian process: a test can die in ways no handler inside it sees
 * (SIGKILL, a sanitizer report that calls _exit, abort()).  Its servers
 * would then live on, and on this machine PID 1 does not reap orphans, so
 * even killed servers would stay as zombies.  The guardian is the test's
 * parent and a child subreaper: every process the test leaves behind ends
 * up as the guardian's child, which it kills and reaps before it exits.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "tests/harness/th_internal.h"

#define TH_GUARD_TERM_GRACE 5000 /* SIGTERM → SIGKILL for leftovers */
#define TH_GUARD_GIVE_UP 30000
#define TH_GUARD_CHILD_GRACE 10000 /* forwarded signal → SIGKILL */
#define TH_MAX_PORTS 256

static int th_inited;
static pid_t th_owner; /* the test process */
static char th_rootdir[PATH_MAX];
static int th_ninstances;
static int th_ports[TH_MAX_PORTS];
static int th_nports;

/* th_tmpdir's answers, kept for the run and freed at exit. */
struct th_dir {
	struct th_dir *next;
	char path[];
};
static struct th_dir *th_dirs;

void
th__log(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "th[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, n);
}

int
th__fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		th__log("name too long: %.60s…", buf);
		return -1;
	}
	return 0;
}

int
th__need_init(const char *caller)
{
	if (th_inited && getpid() == th_owner)
		return 0;
	th__log("%s: call th_init() first thing in main()", caller);
	return -1;
}

double
th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void
th_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
th_wait_for(int (*pred)(void *), void *arg, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	int step = 5;

	for (;;) {
		if (pred(arg))
			return 0;
		if (th_now_ms() >= deadline)
			return -1;
		th_sleep_ms(step);
		if (step < 100)
			step *= 2;
	}
}

const char *
th_root(void)
{
	return th_rootdir;
}

/* ---- process tree --------------------------------------------------------- */

struct th_pstat {
	pid_t pid;
	pid_t ppid;
	char state;
};

/* Parse /proc/PID/stat: "pid (comm) S ppid …"; comm may hold ')' too. */
static int
th_read_stat(pid_t pid, struct th_pstat *ps)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -1;
	ps->pid = pid;
	ps->state = p[2];
	ps->ppid = (pid_t)strtol(p + 4, NULL, 10);
	return 0;
}

int
th__pid_running(pid_t pid)
{
	struct th_pstat ps;

	if (th_read_stat(pid, &ps) == -1)
		return 0;
	return ps.state != 'Z' && ps.state != 'X';
}

/* Every process on the machine with its parent, from /proc. */
static int
th_scan_procs(struct th_pstat **out)
{
	struct th_pstat *all = NULL, *tmp;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((tmp = realloc(all, cap * sizeof(*all))) == NULL) {
				free(all);
				closedir(d);
				return -1;
			}
			all = tmp;
		}
		if (th_read_stat(atoi(de->d_name), &all[n]) == 0)
			n++;
	}
	closedir(d);
	*out = all;
	return (int)n;
}

int
th__descendants(pid_t root, pid_t **out)
{
	struct th_pstat *all;
	pid_t *found;
	int n, i, nfound = 0, head = 0, total;

	if ((n = th_scan_procs(&all)) == -1)
		return -1;
	/* found[] doubles as the BFS queue; zombies are listed then dropped. */
	if ((found = calloc(n + 1, sizeof(*found))) == NULL) {
		free(all);
		return -1;
	}
	found[nfound++] = root;
	while (head < nfound) {
		pid_t parent = found[head++];

		for (i = 0; i < n; i++)
			if (all[i].ppid == parent && all[i].pid != root)
				found[nfound++] = all[i].pid;
	}
	total = 0;
	for (i = 1; i < nfound; i++)
		if (th__pid_running(found[i]))
			found[total++] = found[i];
	free(all);
	*out = found;
	return total;
}

int
th__wait_gone(const pid_t *pids, int n, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	int i, left;

	for (;;) {
		for (i = 0, left = 0; i < n; i++)
			left += th__pid_running(pids[i]);
		if (left == 0)
			return 0;
		if (th_now_ms() >= deadline)
			return -1;
		th_sleep_ms(5);
	}
}

/* ---- directories ----------------------------------------------------------- */

static int
th_rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_DP)
		return rmdir(path) == -1 && errno != ENOENT ? -1 : 0;
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}

int
th__rmtree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (nftw(path, th_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		th__log("cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
th__mkinstance(const char *prefix, char *buf, size_t len)
{
	if (th__fmt(buf, len, "%s/%s-%d", th_rootdir, prefix,
	        ++th_ninstances) == -1)
		return -1;
	if (mkdir(buf, 0711) == -1 || chmod(buf, 0711) == -1) {
		th__log("mkdir %s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

const char *
th_tmpdir(void)
{
	char path[PATH_MAX];
	struct th_dir *d;

	if (th__need_init("th_tmpdir") == -1)
		return NULL;
	if (th__mkinstance("tmp", path, sizeof(path)) == -1)
		return NULL;
	if (chmod(path, 0755) == -1 ||
	    (d = malloc(sizeof(*d) + strlen(path) + 1)) == NULL)
		return NULL;
	strcpy(d->path, path);
	d->next = th_dirs;
	th_dirs = d;
	return d->path;
}

void
th__log_tail(const char *path, int lines)
{
	char buf[8192], *p;
	ssize_t n;
	off_t size;
	int fd, seen = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (p = buf + n - 1; p > buf; p--)
		if (*p == '\n' && ++seen > lines)
			break;
	th__log("last lines of %s:\n%s", path, p);
}

/* ---- ports ----------------------------------------------------------------- */

static int
th_port_used(int port)
{
	int i;

	for (i = 0; i < th_nports; i++)
		if (th_ports[i] == port)
			return 1;
	return 0;
}

int
th_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t slen;
	int fd, port, tries;

	for (tries = 0; tries < 50; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		slen = sizeof(sin);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
		port = ntohs(sin.sin_port);
		if (!th_port_used(port)) {
			if (th_nports < TH_MAX_PORTS)
				th_ports[th_nports++] = port;
			return port;
		}
	}
	return -1;
}

/* ---- the guardian ---------------------------------------------------------- */

/* Reap every child that has exited; note the test's status. */
static void
th_guard_reap(pid_t test, int *status, int *done)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == test) {
			*status = st;
			*done = 1;
		}
}

/* Kill and reap every process still descending from the guardian. */
static void
th_guard_sweep(void)
{
	double start = th_now_ms();
	int n, i, dummy = 0, st = 0, termed = 0;
	pid_t *pids;

	for (;;) {
		th_guard_reap(0, &st, &dummy);
		if ((n = th__descendants(getpid(), &pids)) <= 0) {
			if (n == 0)
				free(pids);
			return;
		}
		if (!termed)
			th__log("guardian: stopping %d leftover process%s", n,
			    n == 1 ? "" : "es");
		for (i = 0; i < n; i++)
			kill(pids[i],
			    termed && th_now_ms() - start > TH_GUARD_TERM_GRACE
			        ? SIGKILL
			        : SIGTERM);
		free(pids);
		termed = 1;
		if (th_now_ms() - start > TH_GUARD_GIVE_UP) {
			th__log("guardian: giving up on %d processes", n);
			return;
		}
		th_sleep_ms(20);
	}
}

/*
 * The guardian's life: wait for the test, forwarding termination signals
 * (a second one, or 10 s without an exit, escalates to SIGKILL), then
 * sweep and leave with the test's status.
 */
static void __attribute__((noreturn))
th_guardian(pid_t test, const sigset_t *set)
{
	struct timespec tick = {0, 200 * 1000000L};
	double killat = 0;
	int status = 0, done = 0, forwarded = 0, sig;

	while (!done) {
		sig = sigtimedwait(set, NULL, &tick);
		th_guard_reap(test, &status, &done);
		if (done)
			break;
		if (sig > 0 && sig != SIGCHLD) {
			kill(test, forwarded++ ? SIGKILL : sig);
			if (killat == 0)
				killat = th_now_ms() + TH_GUARD_CHILD_GRACE;
		}
		if (killat != 0 && th_now_ms() > killat)
			kill(test, SIGKILL);
	}
	th_guard_sweep();
	th__rmtree(th_rootdir);
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

static int
th_thread_count(void)
{
	char line[256];
	FILE *f;
	int n = -1;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int
th_make_root(void)
{
	const char *base = getenv("TH_TMPDIR");

	if (base == NULL || *base == '\0')
		base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (th__fmt(th_rootdir, sizeof(th_rootdir), "%s/th-XXXXXX", base) == -1)
		return -1;
	if (mkdtemp(th_rootdir) == NULL || chmod(th_rootdir, 0711) == -1) {
		th__log("cannot create %s: %s", th_rootdir, strerror(errno));
		return -1;
	}
	return 0;
}

static void
th_atexit(void)
{
	struct th_dir *d;

	if (getpid() != th_owner)
		return; /* a fork of the test that called exit() */
	th_cleanup();
	th__rmtree(th_rootdir);
	while ((d = th_dirs) != NULL) {
		th_dirs = d->next;
		free(d);
	}
	curl_global_cleanup();
}

int
th_init(void)
{
	sigset_t set, old;
	pid_t pid;

	if (th_inited)
		return 0;
	if (th_thread_count() != 1) {
		th__log("th_init: threads already running; call it first");
		return -1;
	}
	if (th_make_root() == -1)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	fflush(NULL);
	if (sigprocmask(SIG_BLOCK, &set, &old) == -1)
		return -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		th__log("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		th__log("fork: %s", strerror(errno));
		return -1;
	}
	if (pid != 0)
		th_guardian(pid, &set);
	sigprocmask(SIG_SETMASK, &old, NULL);
	th_owner = getpid();
	th_inited = 1;
	if (setenv("TH_ROOT", th_rootdir, 1) == -1 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    atexit(th_atexit) != 0) {
		th__log("th_init: setup failed");
		return -1;
	}
	return 0;
}

void
th_cleanup(void)
{
	if (!th_inited || getpid() != th_owner)
		return;
	/* Clients first, then the servers they talk to. */
	th__proc_cleanup();
	th__nats_cleanup();
	th__pg_cleanup();
}
