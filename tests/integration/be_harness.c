/*
 * Harness of the backend conformance tests: see be_harness.h.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/be_harness.h"

const char *fakebin;
int failures;

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

extern char **environ;

/* The environment of a child: ours, plus extra "K=V" strings. */
static char **
srv_env(char *const *extra, const char *events)
{
	static char ev[160];
	char **envp;
	size_t n = 0, m = 0, i;

	while (environ[n] != NULL)
		n++;
	while (extra != NULL && extra[m] != NULL)
		m++;
	if ((envp = calloc(n + m + 2, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	for (i = 0; i < m; i++)
		envp[n + i] = extra[i];
	snprintf(ev, sizeof(ev), "FAKE_BACKEND_EVENTS=%s", events);
	envp[n + m] = ev;
	return envp;
}

/* posix_spawn, not fork: this process has gRPC's threads running. */
int
srv_spawn(struct srv *s, char **argv, char *const *env)
{
	posix_spawn_file_actions_t fa;
	char **envp;
	int rc;

	if ((envp = srv_env(env, s->events)) == NULL)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
	    &fa, STDERR_FILENO, s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	rc = posix_spawn(&s->pid, fakebin, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	return rc == 0 ? 0 : -1;
}

/* Wait for the --port-file the child writes once it serves. */
static int
srv_port(struct srv *s)
{
	char path[128];
	int64_t end = now_ms() + 10000;
	FILE *f;
	int port;

	snprintf(path, sizeof(path), "%s/port", s->dir);
	while (now_ms() < end) {
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%d", &port) == 1) {
				fclose(f);
				return port;
			}
			fclose(f);
		}
		sleep_ms(10);
	}
	return -1;
}

/*
 * Start a fakebackend: tcp == 0 serves unix:DIR/be.sock, tcp == 1
 * 127.0.0.1:0.  env are extra "K=V" strings, args extra flags.  Waits
 * until Health answers.
 */
int
srv_start(struct srv *s, int tcp, char *const *env, char *const *args)
{
	char *argv[20], sockaddr[128], portfile[128];
	struct bc_opts o = {NULL, 10000, 1, NULL};
	int i, n = 0, port;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/be_conform.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(s->events, sizeof(s->events), "%s/events", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
	snprintf(sockaddr, sizeof(sockaddr),
	    tcp ? "127.0.0.1:0" : "unix:%s/be.sock", s->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", s->dir);
	argv[n++] = (char *)(uintptr_t)fakebin;
	argv[n++] = (char *)(uintptr_t) "--addr";
	argv[n++] = sockaddr;
	if (tcp) {
		argv[n++] = (char *)(uintptr_t) "--port-file";
		argv[n++] = portfile;
	}
	for (i = 0; args != NULL && args[i] != NULL && n < 18; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (srv_spawn(s, argv, env) == -1)
		return -1;
	if (tcp) {
		if ((port = srv_port(s)) <= 0)
			return -1;
		snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", port);
	} else
		snprintf(s->addr, sizeof(s->addr), "%s", sockaddr);
	return bc_health(s->addr, &o, NULL);
}

/* Wait up to ms for the child; its wait status, or -1 if still running. */
int
srv_wait(struct srv *s, int ms)
{
	int64_t end = now_ms() + ms;
	int st;

	while (now_ms() < end) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return st;
		}
		sleep_ms(5);
	}
	return -1;
}

/* SIGTERM, then require a clean exit (status 0) within ms. */
void
srv_stop(struct srv *s, int ms)
{
	char cmd[200];
	int st;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		st = srv_wait(s, ms);
		CHECK(st != -1, "backend did not exit within %d ms", ms);
		if (st == -1) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		} else
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "backend exit status 0x%x", st);
	}
	bc_forget(s->addr);
	if (failures > 0) {
		snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", s->log);
		(void)system(cmd);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
	(void)system(cmd);
}

/* The number in the last "stream WHAT N" event, or -1. */
int
srv_event(const struct srv *s, const char *what, int wait_ms)
{
	char line[128], w[32];
	int64_t end = now_ms() + wait_ms;
	int n, found;
	FILE *f;

	do {
		found = -1;
		if ((f = fopen(s->events, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (sscanf(line, "stream %31s %d", w, &n) ==
				        2 &&
				    strcmp(w, what) == 0)
					found = n;
			fclose(f);
		}
		if (found >= 0)
			return found;
		sleep_ms(10);
	} while (now_ms() < end);
	return -1;
}

/* Does the backend's log contain text, within wait_ms?  1 or 0. */
int
srv_logged(const struct srv *s, const char *text, int wait_ms)
{
	char line[512];
	int64_t end = now_ms() + wait_ms;
	int found;
	FILE *f;

	do {
		found = 0;
		if ((f = fopen(s->log, "r")) != NULL) {
			while (!found && fgets(line, sizeof(line), f) != NULL)
				found = strstr(line, text) != NULL;
			fclose(f);
		}
		if (found)
			return 1;
		sleep_ms(5);
	} while (now_ms() < end);
	return 0;
}

int
load(const char *addr, const char **options, size_t n, struct bc_error *err)
{
	Backend__ModelOptions mo = BACKEND__MODEL_OPTIONS__INIT;
	struct bc_opts o = {NULL, 10000, 0, NULL};

	mo.model = (char *)(uintptr_t) "fake-model";
	mo.options = (char **)(uintptr_t)options;
	mo.n_options = n;
	return bc_load_model(addr, &o, &mo, err);
}

const struct bc_opts opts5s = {NULL, 5000, 0, NULL};

/* Sockets the backend process holds: its listener plus connections. */
int
srv_sockets(const struct srv *s)
{
	char dir[64], path[400], target[64];
	struct dirent *de;
	ssize_t n;
	int count = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)s->pid);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0 && strncmp(target, "socket:", 7) == 0)
			count++;
	}
	closedir(d);
	return count;
}
