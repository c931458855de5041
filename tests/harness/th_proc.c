/*
 * Spawned programs: fork+exec with their own process group, a log file,
 * an environment built before the fork (only async-signal-safe calls run in
 * the child), optional switch to another user (postgres refuses root), and
 * bounded waits and stops.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/th_internal.h"

#define TH_PROC_KILL_WAIT 5000 /* after SIGKILL */

extern char **environ;

static struct th_proc *th_procs;

/* argv[0] as a path: unchanged when it has a '/', else found in $PATH. */
static int
th_find_program(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096], *dir, *save = NULL;

	if (strchr(name, '/') != NULL)
		return th__fmt(buf, len, "%s", name);
	/* Servers such as nats-server live in sbin, not in every $PATH. */
	snprintf(dirs, sizeof(dirs), "%s:/usr/local/sbin:/usr/sbin:/sbin",
	    path != NULL ? path : "/usr/local/bin:/usr/bin:/bin");
	for (dir = strtok_r(dirs, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
			continue;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	th__log("%s: not found in PATH", name);
	return -1;
}

/* Length of the NAME part of "NAME=VALUE" (or of "NAME"). */
static size_t
th_env_namelen(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq != NULL ? (size_t)(eq - s) : strlen(s);
}

/* environ with the overrides applied; the strings are not copied. */
static char **
th_build_env(char *const env[])
{
	size_t n = 0, extra = 0, i, j, k;
	char **out;

	while (environ[n] != NULL)
		n++;
	while (env != NULL && env[extra] != NULL)
		extra++;
	if ((out = calloc(n + extra + 1, sizeof(*out))) == NULL)
		return NULL;
	for (i = 0, k = 0; i < n; i++) {
		size_t len = th_env_namelen(environ[i]);
		int overridden = 0;

		for (j = 0; j < extra; j++)
			if (th_env_namelen(env[j]) == len &&
			    strncmp(env[j], environ[i], len) == 0)
				overridden = 1;
		if (!overridden)
			out[k++] = environ[i];
	}
	for (j = 0; j < extra; j++)
		if (strchr(env[j], '=') != NULL)
			out[k++] = env[j];
	out[k] = NULL;
	return out;
}

/* In the child: only async-signal-safe calls from here to execve. */
static void __attribute__((noreturn)) th_child(const struct th_spawn *sp,
    const char *path, char **envp, int logfd, int errfd)
{
	struct sigaction sa;
	sigset_t none;
	int sig, nullfd, err;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if ((nullfd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(nullfd, STDIN_FILENO) == -1)
		goto fail;
	if (logfd != -1 && (dup2(logfd, STDOUT_FILENO) == -1 ||
	                       dup2(logfd, STDERR_FILENO) == -1))
		goto fail;
	if (sp->cwd != NULL && chdir(sp->cwd) == -1)
		goto fail;
	if (sp->drop && (setgroups(sp->ngroups, sp->groups) == -1 ||
	                    setgid(sp->gid) == -1 || setuid(sp->uid) == -1))
		goto fail;
	/* Nothing of the test's (sockets, pipes) leaks into the program. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		for (int fd = 3; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(path, sp->argv, envp);
fail:
	err = errno;
	(void)write(errfd, &err, sizeof(err));
	_exit(127);
}

/* Fork and exec; the exec's errno comes back through a CLOEXEC pipe. */
static pid_t
th_fork_exec(
    const struct th_spawn *sp, const char *path, char **envp, int logfd)
{
	int pfd[2], err = 0, st;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0)
		th_child(sp, path, envp, logfd, pfd[1]);
	(void)setpgid(pid, pid); /* whichever of the two runs first */
	close(pfd[1]);
	while ((n = read(pfd[0], &err, sizeof(err))) == -1 && errno == EINTR)
		;
	close(pfd[0]);
	if (n > 0) {
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		th__log("cannot run %s: %s", path, strerror(err));
		errno = err;
		return -1;
	}
	return pid;
}

struct th_proc *
th__spawn(const struct th_spawn *sp)
{
	char path[PATH_MAX], base[PATH_MAX];
	struct th_proc *p;
	char **envp;
	int logfd = -1;

	if (th_find_program(sp->argv[0], path, sizeof(path)) == -1)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(base, sizeof(base), "%s", sp->argv[0]);
	snprintf(p->name, sizeof(p->name), "%s", basename(base));
	if (sp->log != NULL) {
		snprintf(p->log, sizeof(p->log), "%s", sp->log);
		if ((logfd = open(sp->log,
		         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) ==
		    -1) {
			th__log("open %s: %s", sp->log, strerror(errno));
			free(p);
			return NULL;
		}
	}
	if ((envp = th_build_env(sp->env)) == NULL ||
	    (p->pid = th_fork_exec(sp, path, envp, logfd)) == -1) {
		free(envp);
		if (logfd != -1)
			close(logfd);
		free(p);
		return NULL;
	}
	free(envp);
	if (logfd != -1)
		close(logfd);
	p->internal = sp->internal;
	p->next = th_procs;
	th_procs = p;
	return p;
}

struct th_proc *
th_proc_spawn(char *const argv[], char *const env[], const char *log)
{
	struct th_spawn sp;

	if (th__need_init("th_proc_spawn") == -1)
		return NULL;
	if (argv == NULL || argv[0] == NULL)
		return NULL;
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.env = env;
	sp.log = log;
	return th__spawn(&sp);
}

/* Reap p if it has exited: 1 if it has, 0 if it still runs. */
static int
th_reap(struct th_proc *p)
{
	pid_t r;
	int st;

	if (p->exited)
		return 1;
	while ((r = waitpid(p->pid, &st, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == 0)
		return 0;
	/* ECHILD: someone else reaped it; report it as killed. */
	p->status = r == p->pid ? st : (SIGKILL & 0x7f);
	p->exited = 1;
	return 1;
}

int
th_proc_alive(struct th_proc *p)
{
	return !th_reap(p);
}

int
th_exit_code(const struct th_proc *p)
{
	if (!p->exited)
		return -1;
	if (WIFSIGNALED(p->status))
		return 128 + WTERMSIG(p->status);
	return WEXITSTATUS(p->status);
}

int
th_proc_kill(struct th_proc *p, int sig)
{
	if (kill(-p->pid, sig) == -1) {
		/* A group that has emptied out is not an error. */
		if (errno == ESRCH && !th_proc_alive(p))
			return 0;
		return -1;
	}
	return 0;
}

int
th_proc_signal(struct th_proc *p, int sig)
{
	if (th_reap(p))
		return 0;
	return kill(p->pid, sig);
}

int
th_proc_wait(struct th_proc *p, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	int step = 1;

	while (!th_reap(p)) {
		if (th_now_ms() >= deadline)
			return -1;
		th_sleep_ms(step);
		if (step < 20)
			step *= 2;
	}
	return 0;
}

/* SIGKILL to every pid in the list and to p's group, then wait for them. */
static void
th_kill_all(struct th_proc *p, pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	th_proc_kill(p, SIGKILL);
	if (th_proc_wait(p, TH_PROC_KILL_WAIT) == -1)
		th__log("%s[%d]: still running after SIGKILL", p->name,
		    (int)p->pid);
	if (n > 0 && th__wait_gone(pids, n, TH_PROC_KILL_WAIT) == -1)
		th__log("%s[%d]: descendants still running after SIGKILL",
		    p->name, (int)p->pid);
}

int
th_proc_stop(struct th_proc *p, int timeout_ms)
{
	pid_t *pids = NULL;
	int n;

	/* Descendants in other groups (setsid) become orphans; note them. */
	n = th_proc_alive(p) ? th__descendants(p->pid, &pids) : 0;
	if (n < 0)
		n = 0;
	th_proc_kill(p, SIGTERM);
	if (th_proc_wait(p, timeout_ms) == -1)
		th__log("%s[%d]: no exit %d ms after SIGTERM, killing", p->name,
		    (int)p->pid, timeout_ms);
	else if (n > 0 && th__wait_gone(pids, n, 1000) == 0)
		n = 0;
	/* Whatever is left of the tree has outlived its leader: kill it. */
	th_kill_all(p, pids, n);
	free(pids);
	return th_exit_code(p);
}

void
th__proc_cleanup(void)
{
	struct th_proc *p;

	for (p = th_procs; p != NULL; p = p->next)
		if (!p->internal && (th_proc_alive(p) || kill(-p->pid, 0) == 0))
			th_proc_stop(p, TH_STOP_TIMEOUT / 2);
}
