/*
 * Whatever way a test program ends, the harness leaves nothing behind: no
 * PostgreSQL, nats-server or spawned process (not even a zombie), and no
 * temporary directory.  Each case runs harness_child (which starts
 * PostgreSQL, nats-server and a `sleep`) with TH_TMPDIR pointing at an
 * empty directory, ends it in one way, and then checks the pids it
 * reported, every process's command line, and that directory.  Two
 * children at once must get different ports; th-env must pass its
 * command's status through and kill what the command left running.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/harness/harness.h"

#define CHILD_READY_TIMEOUT 60000
#define CHILD_EXIT_TIMEOUT 30000
#define GONE_TIMEOUT 10000

struct info {
	int test_pid;
	int guardian_pid;
	int pg_pid;
	int pg_port;
	int nats_pid;
	int nats_port;
	int proc_pid;
	char root[PATH_MAX];
	char pg_conninfo[PATH_MAX + 128];
};

struct child {
	struct th_proc *proc;
	char tmpdir[PATH_MAX]; /* its TH_TMPDIR */
	char infofile[PATH_MAX];
	char env[PATH_MAX + 16];
	struct info info;
};

static const char *
build_dir(void)
{
	const char *b = getenv("BUILD");

	return b != NULL && *b != '\0' ? b : "build";
}

static int
info_ready(void *arg)
{
	struct child *c = arg;

	return access(c->infofile, R_OK) == 0 || !th_proc_alive(c->proc);
}

static void
copy_field(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
read_info(struct child *c)
{
	char line[PATH_MAX + 160];
	struct info *i = &c->info;
	FILE *f;

	assert_non_null(f = fopen(c->infofile, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		sscanf(line, "test_pid=%d", &i->test_pid);
		sscanf(line, "guardian_pid=%d", &i->guardian_pid);
		sscanf(line, "pg_pid=%d", &i->pg_pid);
		sscanf(line, "pg_port=%d", &i->pg_port);
		sscanf(line, "nats_pid=%d", &i->nats_pid);
		sscanf(line, "nats_port=%d", &i->nats_port);
		sscanf(line, "proc_pid=%d", &i->proc_pid);
		if (strncmp(line, "root=", 5) == 0)
			copy_field(i->root, sizeof(i->root), line + 5);
		if (strncmp(line, "pg_conninfo=", 12) == 0)
			copy_field(
			    i->pg_conninfo, sizeof(i->pg_conninfo), line + 12);
	}
	fclose(f);
	assert_true(i->pg_pid > 0 && i->nats_pid > 0 && i->proc_pid > 0);
	assert_true(i->root[0] == '/');
}

/* Start harness_child MODE and wait until it reports what it started. */
static void
start_child(struct child *c, const char *mode)
{
	char prog[PATH_MAX], log[PATH_MAX + 16];
	char *argv[] = {prog, (char *)(uintptr_t)mode, c->infofile, NULL};
	char *env[] = {c->env, NULL};
	const char *dir;

	memset(c, 0, sizeof(*c));
	assert_non_null(dir = th_tmpdir());
	snprintf(c->tmpdir, sizeof(c->tmpdir), "%s", dir);
	assert_non_null(dir = th_tmpdir());
	snprintf(c->infofile, sizeof(c->infofile), "%s/info", dir);
	snprintf(log, sizeof(log), "%s/child.log", dir);
	snprintf(c->env, sizeof(c->env), "TH_TMPDIR=%s", c->tmpdir);
	snprintf(prog, sizeof(prog), "%s/tests/integration/harness_child",
	    build_dir());
	assert_non_null(c->proc = th_proc_spawn(argv, env, log));
	assert_int_equal(th_wait_for(info_ready, c, CHILD_READY_TIMEOUT), 0);
	/* It wrote the file only if everything started. */
	assert_int_equal(access(c->infofile, R_OK), 0);
	read_info(c);
	assert_int_equal(c->info.guardian_pid, c->proc->pid);
}

/* Running and not a zombie. */
static int
pid_running(int pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Processes (zombies included) whose command line mentions needle. */
static int
procs_mentioning(const char *needle)
{
	char path[300], buf[4096];
	struct dirent *de;
	int fd, count = 0;
	ssize_t n, i;
	DIR *d;

	assert_non_null(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, needle) != NULL) {
			fprintf(
			    stderr, "left behind: %s: %s\n", de->d_name, buf);
			count++;
		}
	}
	closedir(d);
	return count;
}

static int
dir_is_empty(const char *path)
{
	struct dirent *de;
	int n = 0;
	DIR *d;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n == 0;
}

static int
all_gone(void *arg)
{
	const struct child *c = arg;
	const struct info *i = &c->info;

	/* The guardian reaps, so even zombies must disappear. */
	return kill(i->pg_pid, 0) == -1 && kill(i->nats_pid, 0) == -1 &&
	       kill(i->proc_pid, 0) == -1 && kill(i->test_pid, 0) == -1 &&
	       access(i->root, F_OK) == -1 && dir_is_empty(c->tmpdir);
}

/* The child has ended with status want; nothing of it remains. */
static void
assert_child_ended(struct child *c, int want)
{
	assert_int_equal(th_proc_wait(c->proc, CHILD_EXIT_TIMEOUT), 0);
	assert_int_equal(th_exit_code(c->proc), want);
	assert_int_equal(th_wait_for(all_gone, c, GONE_TIMEOUT), 0);
	assert_false(pid_running(c->info.pg_pid));
	assert_int_equal(procs_mentioning(c->info.root), 0);
}

static void
test_normal_exit(void **state)
{
	struct child c;

	start_child(&c, "ok");
	assert_child_ended(&c, 0);
}

static void
test_sigterm_to_guardian(void **state)
{
	struct child c;

	start_child(&c, "hold");
	assert_true(pid_running(c.info.pg_pid));
	assert_int_equal(kill(c.proc->pid, SIGTERM), 0);
	assert_child_ended(&c, 128 + SIGTERM);
}

static void
test_sigterm_to_test(void **state)
{
	struct child c;

	start_child(&c, "hold");
	assert_int_equal(kill(c.info.test_pid, SIGTERM), 0);
	assert_child_ended(&c, 128 + SIGTERM);
}

static void
test_sigkill_to_test(void **state)
{
	struct child c;

	start_child(&c, "hold");
	assert_int_equal(kill(c.info.test_pid, SIGKILL), 0);
	assert_child_ended(&c, 128 + SIGKILL);
}

static void
test_failed_assertion(void **state)
{
	struct child c;

	start_child(&c, "assert");
	assert_child_ended(&c, 1); /* cmocka: one test failed */
}

static void
test_abort(void **state)
{
	struct child c;

	start_child(&c, "abort");
	assert_child_ended(&c, 128 + SIGABRT);
}

/* 1 if 127.0.0.1:port greets with a NATS INFO line. */
static int
nats_answers(int port)
{
	struct sockaddr_in sin;
	char buf[5];
	int fd, ok = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    recv(fd, buf, 5, MSG_WAITALL) == 5)
		ok = memcmp(buf, "INFO ", 5) == 0;
	close(fd);
	return ok;
}

static void
test_two_instances(void **state)
{
	struct child a, b;

	start_child(&a, "hold");
	start_child(&b, "hold");
	assert_int_not_equal(a.info.pg_port, b.info.pg_port);
	assert_int_not_equal(a.info.nats_port, b.info.nats_port);
	assert_string_not_equal(a.info.root, b.info.root);
	assert_int_equal(PQping(a.info.pg_conninfo), PQPING_OK);
	assert_int_equal(PQping(b.info.pg_conninfo), PQPING_OK);
	assert_true(nats_answers(a.info.nats_port));
	assert_true(nats_answers(b.info.nats_port));
	assert_int_equal(kill(a.proc->pid, SIGINT), 0);
	assert_int_equal(kill(b.proc->pid, SIGTERM), 0);
	assert_child_ended(&a, 128 + SIGINT);
	assert_child_ended(&b, 128 + SIGTERM);
}

static int
read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static void
test_th_env(void **state)
{
	static const char script[] = "psql -Atc 'SELECT 41 + 1' >\"$1/psql\";"
	                             "echo \"$TH_NATS_URL\" >\"$1/nats\";"
	                             "echo \"$TH_ROOT\" >\"$1/root\";"
	                             "sleep 1000 & echo $! >\"$1/bg\";"
	                             "exit 7";
	char prog[PATH_MAX], out[PATH_MAX], path[PATH_MAX + 8], env[PATH_MAX];
	char buf[PATH_MAX], log[PATH_MAX + 8], root[PATH_MAX];
	char *argv[] = {prog, "--pg", "--nats", "--", "sh", "-c",
	    (char *)(uintptr_t)script, "sh", out, NULL};
	char *envv[] = {env, NULL};
	const char *tmp;
	struct th_proc *p;
	int bg;

	snprintf(prog, sizeof(prog), "%s/tests/harness/th-env", build_dir());
	assert_non_null(tmp = th_tmpdir());
	snprintf(out, sizeof(out), "%s", tmp);
	assert_non_null(tmp = th_tmpdir());
	snprintf(env, sizeof(env), "TH_TMPDIR=%s", tmp);
	snprintf(log, sizeof(log), "%s/log", out);
	assert_non_null(p = th_proc_spawn(argv, envv, log));
	assert_int_equal(th_proc_wait(p, CHILD_EXIT_TIMEOUT), 0);
	assert_int_equal(th_exit_code(p), 7);
	snprintf(path, sizeof(path), "%s/psql", out);
	assert_int_equal(read_file(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "42\n");
	snprintf(path, sizeof(path), "%s/nats", out);
	assert_int_equal(read_file(path, buf, sizeof(buf)), 0);
	assert_true(strncmp(buf, "nats://127.0.0.1:", 17) == 0);
	snprintf(path, sizeof(path), "%s/root", out);
	assert_int_equal(read_file(path, root, sizeof(root)), 0);
	root[strcspn(root, "\n")] = '\0';
	assert_true(root[0] == '/');
	snprintf(path, sizeof(path), "%s/bg", out);
	assert_int_equal(read_file(path, buf, sizeof(buf)), 0);
	assert_true((bg = atoi(buf)) > 0);
	/* The background sleep, the servers and the directory are gone. */
	assert_int_equal(kill(bg, 0), -1);
	assert_int_equal(procs_mentioning(root), 0);
	assert_int_equal(access(root, F_OK), -1);
	assert_true(dir_is_empty(tmp));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normal_exit),
	    cmocka_unit_test(test_sigterm_to_guardian),
	    cmocka_unit_test(test_sigterm_to_test),
	    cmocka_unit_test(test_sigkill_to_test),
	    cmocka_unit_test(test_failed_assertion),
	    cmocka_unit_test(test_abort),
	    cmocka_unit_test(test_two_instances),
	    cmocka_unit_test(test_th_env),
	};

	if (th_init() == -1)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("TH_TEST_FILTER") != NULL)
		cmocka_set_test_filter(getenv("TH_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
