/*
 * fakeproc: a test-only stand-in for the core processes (api, router,
 * agent) and for backends, driven by environment variables.  The
 * supervisor runs it instead of its own binary when the test sets
 * LOCALAI_TEST_CHILD_EXEC=<path to fakeproc>; as a core child it speaks
 * the real control protocol through proto/proc.c.
 *
 *	fakeproc -P api|router|agent -R frontend|worker	a core process
 *	fakeproc --addr ADDR				a backend
 *
 * Variables are FAKE_<WHO>_<KEY>, WHO being API, ROUTER, AGENT (frontend
 * agent), WAGENT (worker agent) or BACKEND:
 *	READY_MS=N	become ready N ms after start (default 0)
 *	NEVER_READY=1	never send READY
 *	EXIT_MS=N	exit N ms after start with EXIT_CODE (default 1)
 *	CRASH_MS=N	kill itself with CRASH_SIG (default 9) after N ms
 *	HANG_MS=N	stop answering anything after N ms (pings go unanswered)
 *	IGNORE_TERM=1	ignore SIGTERM and MSG_CTL_SHUTDOWN
 *	TIMES=N		the misbehaviour above only in the first N runs
 *			(counted in $FAKE_DIR/<who>.runs)
 *	ACCEPT=1	api: answer each connection on the listening socket
 *			with "fakeproc <name> pid <pid> fd <fd>\n"
 *	HELLO=1		write "hello from <name> <pid>\n" into each peer socket
 *			and log every line read from a peer
 *	STATUS=TEXT	send TEXT as MSG_CTL_STATUS once ready
 * Worker agent only (WAGENT):
 *	BE_RUN=PATH	after READY, ask for backend BE_ID (default "be1")
 *			run as PATH --addr BE_ADDR with BE_TOKEN in BE_WORKDIR
 *	BE_STOP_MS=N	ask to stop it N ms after READY
 *	DRAIN_MS=N	on shutdown, keep running N ms ("fake: draining"),
 *			then ask to stop the backend (as the real agent does
 *			after draining) and exit once it is reported stopped
 * Everything it does is logged on stderr ("fake: ..."), which the tests
 * read: readiness, configurations, peers, MSG_BE_STATE reports.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/proc.h"

#define FAKE_MAX_PEERS 64

static const char *fake_who = "API";
static char fake_name[32];
static int fake_runs; /* this run's number, from 1 */
static int fake_peers[FAKE_MAX_PEERS];
static int fake_npeers;
static int fake_hello;

static int64_t
fake_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
fake_env(const char *key)
{
	char name[128];
	const char *v;

	snprintf(name, sizeof(name), "FAKE_%s_%s", fake_who, key);
	v = getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

static long
fake_num(const char *key, long def)
{
	const char *v = fake_env(key);

	return v != NULL ? strtol(v, NULL, 10) : def;
}

/* Count this run in $FAKE_DIR/<who>.runs. */
static void
fake_count_run(void)
{
	const char *dir = getenv("FAKE_DIR");
	char path[512];
	FILE *fp;

	fake_runs = 1;
	if (dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.runs", dir, fake_who);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fscanf(fp, "%d", &fake_runs) == 1)
			fake_runs++;
		fclose(fp);
	}
	if ((fp = fopen(path, "w")) != NULL) {
		fprintf(fp, "%d\n", fake_runs);
		fclose(fp);
	}
}

/* The misbehaviours apply in this run (TIMES not exceeded). */
static int
fake_misbehave(void)
{
	long times = fake_num("TIMES", -1);

	return times < 0 || fake_runs <= times;
}

/* A deadline N ms from start for a misbehaviour key, or -1. */
static int64_t
fake_at(int64_t start, const char *key)
{
	long ms = fake_num(key, -1);

	return ms >= 0 && fake_misbehave() ? start + ms : -1;
}

/* The fds >= 3 this process inherited, as "3,4" ("" for none). */
static void
fake_fds(char *buf, size_t len)
{
	struct dirent *de;
	size_t off = 0;
	DIR *d;
	int fd;

	buf[0] = '\0';
	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL && off + 12 < len) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd < 3 || fd == dirfd(d))
			continue;
		off += (size_t)snprintf(
		    buf + off, len - off, "%s%d", off > 0 ? "," : "", fd);
	}
	closedir(d);
}

static void
fake_peer_fd(int fd, const struct msg_peer *peer, void *arg)
{
	char line[128];
	int n;

	log_info(
	    "fake: peer fd kind=%u instance=%u", peer->kind, peer->instance);
	if (fake_npeers == FAKE_MAX_PEERS) {
		close(fd);
		return;
	}
	if (fake_hello) {
		n = snprintf(line, sizeof(line), "hello from %s %d\n",
		    fake_name, (int)getpid());
		if (write(fd, line, (size_t)n) != n)
			log_warn("fake: hello");
	}
	fake_peers[fake_npeers++] = fd;
}

static void
fake_reload(void *arg)
{
	log_info("fake: config generation %u", proc_conf()->generation);
}

static int fake_be_stopped; /* MSG_BE_STATE STOPPED seen */

static int
fake_message(struct msg *m, void *arg)
{
	struct msg_be_state st;

	if (m->hdr.type != MSG_BE_STATE || msg_check_len(m, sizeof(st)) == -1)
		return -1;
	memcpy(&st, m->data, sizeof(st));
	MSG_TERMINATE(st.id);
	log_info("fake: be_state id=%s phase=%d pid=%d exit=%d signal=%d "
	         "restarts=%u next_retry_ms=%u",
	    st.id, st.phase, st.pid, st.exit_status, st.signal, st.restarts,
	    st.next_retry_ms);
	if (st.phase == BE_STOPPED)
		fake_be_stopped = 1;
	return 0;
}

static void
fake_copy(char *dst, size_t len, const char *key, const char *def)
{
	const char *v = fake_env(key);

	snprintf(dst, len, "%s", v != NULL ? v : def);
}

static void
fake_be_start(void)
{
	struct msg_be_start bs;

	memset(&bs, 0, sizeof(bs));
	fake_copy(bs.id, sizeof(bs.id), "BE_ID", "be1");
	fake_copy(bs.backend, sizeof(bs.backend), "BE_BACKEND", "fake");
	fake_copy(bs.run_path, sizeof(bs.run_path), "BE_RUN", "");
	fake_copy(bs.addr, sizeof(bs.addr), "BE_ADDR", "127.0.0.1:1");
	fake_copy(bs.token, sizeof(bs.token), "BE_TOKEN", "");
	fake_copy(bs.workdir, sizeof(bs.workdir), "BE_WORKDIR", "");
	log_info("fake: asking for backend %s: %s", bs.id, bs.run_path);
	if (proc_send(MSG_BE_START, 0, -1, &bs, sizeof(bs)) == -1)
		exit(1);
}

static void
fake_be_stop(void)
{
	struct msg_be_id id;

	memset(&id, 0, sizeof(id));
	fake_copy(id.id, sizeof(id.id), "BE_ID", "be1");
	log_info("fake: asking to stop backend %s", id.id);
	if (proc_send(MSG_BE_STOP, 0, -1, &id, sizeof(id)) == -1)
		exit(1);
}

/* api: answer one connection on the shared listening socket. */
static void
fake_accept(void)
{
	char line[128];
	int fd, n;

	if ((fd = accept4(PROC_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return; /* another api process took it */
	n = snprintf(line, sizeof(line), "fakeproc %s pid %d fd %d\n",
	    fake_name, (int)getpid(), PROC_LISTEN_FD);
	if (write(fd, line, (size_t)n) != n)
		log_warn("fake: answer");
	close(fd);
}

static void
fake_peer_input(int i)
{
	char buf[256];
	ssize_t n;

	n = read(fake_peers[i], buf, sizeof(buf) - 1);
	if (n <= 0) {
		log_info("fake: peer socket closed");
		close(fake_peers[i]);
		fake_peers[i] = fake_peers[--fake_npeers];
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	log_info("fake: peer says: %s", buf);
}

static void
fake_hang(void)
{
	log_info("fake: hanging");
	for (;;)
		pause();
}

/* Timed actions: returns the next deadline (-1 none). */
struct fake_timers {
	int64_t ready, exit, crash, hang, be_stop;
	int ready_sent;
};

static int64_t
fake_min(int64_t a, int64_t b)
{
	return a == -1 ? b : (b == -1 || a < b ? a : b);
}

static int64_t
fake_tick(struct fake_timers *t)
{
	int64_t now = fake_now();

	if (t->exit != -1 && now >= t->exit) {
		log_info("fake: exit %ld", fake_num("EXIT_CODE", 1));
		exit((int)fake_num("EXIT_CODE", 1));
	}
	if (t->crash != -1 && now >= t->crash) {
		log_info("fake: crash, signal %ld", fake_num("CRASH_SIG", 9));
		signal((int)fake_num("CRASH_SIG", 9), SIG_DFL);
		raise((int)fake_num("CRASH_SIG", 9));
	}
	if (t->hang != -1 && now >= t->hang)
		fake_hang();
	if (!t->ready_sent && t->ready != -1 && now >= t->ready) {
		t->ready_sent = 1;
		if (proc_ready() == -1)
			exit(1);
		log_info("fake: ready");
		if (fake_env("STATUS") != NULL &&
		    proc_status("%s", fake_env("STATUS")) == -1)
			exit(1);
		if (fake_env("BE_RUN") != NULL)
			fake_be_start();
		if (fake_env("BE_STOP_MS") != NULL)
			t->be_stop = now + fake_num("BE_STOP_MS", 0);
	}
	if (t->be_stop != -1 && now >= t->be_stop) {
		t->be_stop = -1;
		fake_be_stop();
	}
	return fake_min(fake_min(t->exit, t->crash),
	    fake_min(
	        t->hang, fake_min(t->ready_sent ? -1 : t->ready, t->be_stop)));
}

static int
fake_wait(int64_t deadline, int accept_fd)
{
	struct pollfd pfd[FAKE_MAX_PEERS + 2];
	int n = 0, i, npeers = fake_npeers, timeout = -1;

	pfd[n].fd = proc_fd();
	pfd[n++].events = POLLIN;
	if (accept_fd) {
		pfd[n].fd = PROC_LISTEN_FD;
		pfd[n++].events = POLLIN;
	}
	for (i = 0; i < npeers; i++) {
		pfd[n].fd = fake_peers[i];
		pfd[n++].events = POLLIN;
	}
	if (deadline != -1)
		timeout =
		    deadline > fake_now() ? (int)(deadline - fake_now()) : 0;
	if (poll(pfd, (nfds_t)n, timeout) == -1)
		return errno == EINTR ? 0 : -1;
	if ((pfd[0].revents & (POLLIN | POLLHUP)) && proc_dispatch() == -1)
		return -1;
	if (accept_fd && (pfd[1].revents & POLLIN))
		fake_accept();
	for (i = npeers - 1; i >= 0; i--) {
		if (pfd[n - npeers + i].revents & (POLLIN | POLLHUP))
			fake_peer_input(i);
	}
	return 0;
}

static int
fake_core(const char *proc, const char *side)
{
	struct proc_handlers h = {.peer_fd = fake_peer_fd,
	    .reload = fake_reload,
	    .message = fake_message};
	struct fake_timers t;
	char fds[128];
	int64_t start;
	int ignore_term, accept_fd, said = 0;
	int64_t drain_end = -1, stop_sent = -1;

	snprintf(fake_name, sizeof(fake_name), "%s", proc);
	fake_fds(fds, sizeof(fds));
	if (proc_init(proc) == -1)
		return 1;
	proc_set_handlers(&h);
	start = fake_now();
	fake_count_run();
	log_info("fake: %s (%s side) run %d, config generation %u, fds %s",
	    proc, side, fake_runs, proc_conf()->generation, fds);
	log_info("fake: has database_url=%d nats_url=%d",
	    proc_conf()->frontend.database_url[0] != '\0',
	    proc_conf()->nats_url[0] != '\0');
	fake_hello = fake_env("HELLO") != NULL;
	ignore_term = fake_env("IGNORE_TERM") != NULL && fake_misbehave();
	accept_fd = fake_env("ACCEPT") != NULL;
	memset(&t, 0, sizeof(t));
	t.ready = fake_env("NEVER_READY") != NULL && fake_misbehave()
	              ? -1
	              : start + fake_num("READY_MS", 0);
	t.exit = fake_at(start, "EXIT_MS");
	t.crash = fake_at(start, "CRASH_MS");
	t.hang = fake_at(start, "HANG_MS");
	t.be_stop = -1;
	for (;;) {
		if (proc_shutting_down() && !ignore_term &&
		    fake_env("DRAIN_MS") == NULL)
			break;
		if (proc_shutting_down() && ignore_term && !said++)
			log_info("fake: ignoring the shutdown");
		if (proc_shutting_down() && !ignore_term && drain_end == -1) {
			log_info("fake: draining");
			drain_end = fake_now() + fake_num("DRAIN_MS", 0);
		}
		if (drain_end != -1 && stop_sent == -1 &&
		    fake_now() >= drain_end) {
			log_info("fake: drained");
			fake_be_stop();
			stop_sent = fake_now();
		}
		if (stop_sent != -1 &&
		    (fake_be_stopped || fake_now() - stop_sent > 5000))
			break;
		if (fake_wait(drain_end != -1 ? fake_now() + 20 : fake_tick(&t),
		        accept_fd) == -1)
			return 1;
	}
	log_info("fake: clean exit");
	return 0;
}

static volatile sig_atomic_t fake_term;

static void
fake_on_term(int sig)
{
	fake_term = 1;
}

/* The names of the LOCALAI_* variables in our environment, "a,b". */
static void
fake_localai_vars(char *buf, size_t len)
{
	extern char **environ;
	char **e;
	size_t off = 0, n;

	buf[0] = '\0';
	for (e = environ; *e != NULL; e++) {
		if (strncmp(*e, "LOCALAI_", 8) != 0)
			continue;
		n = strcspn(*e, "=");
		if (off + n + 2 >= len)
			break;
		if (off > 0)
			buf[off++] = ',';
		memcpy(buf + off, *e, n);
		off += n;
		buf[off] = '\0';
	}
}

/* A backend: report how it was started, then live until SIGTERM. */
static int
fake_backend(const char *addr)
{
	const char *tok = getenv("LOCALAI_GRPC_AUTH_TOKEN");
	const char *reg = getenv("LOCALAI_REGISTRATION_TOKEN");
	struct fake_timers t;
	char cwd[512], fds[128], vars[512];

	fake_who = "BACKEND";
	snprintf(fake_name, sizeof(fake_name), "backend");
	log_procinit("backend");
	fake_count_run();
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		snprintf(cwd, sizeof(cwd), "?");
	fake_fds(fds, sizeof(fds));
	fake_localai_vars(vars, sizeof(vars));
	log_info("fake: backend run %d addr=%s cwd=%s token=%s "
	         "registration_token=%s localai_vars=%s fds=%s",
	    fake_runs, addr, cwd, tok ? tok : "(unset)", reg ? reg : "(unset)",
	    vars, fds);
	signal(SIGTERM, fake_on_term);
	memset(&t, 0, sizeof(t));
	t.ready = -1;
	t.ready_sent = 1;
	t.exit = fake_at(fake_now(), "EXIT_MS");
	t.crash = fake_at(fake_now(), "CRASH_MS");
	t.hang = t.be_stop = -1;
	while (!fake_term) {
		if (fake_tick(&t) == -1)
			pause();
		else
			usleep(10000);
	}
	log_info("fake: backend clean exit");
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *proc = NULL, *side = "frontend";
	struct rlimit no_core = {0, 0};
	int ch;

	log_init(0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
	if (argc == 3 && strcmp(argv[1], "--addr") == 0)
		return fake_backend(argv[2]);
	while ((ch = getopt(argc, argv, "P:R:")) != -1) {
		switch (ch) {
		case 'P':
			proc = optarg;
			break;
		case 'R':
			side = optarg;
			break;
		default:
			return 64;
		}
	}
	if (proc == NULL)
		return 64;
	if (strcmp(proc, "api") == 0)
		fake_who = "API";
	else if (strcmp(proc, "router") == 0)
		fake_who = "ROUTER";
	else if (strcmp(side, "worker") == 0)
		fake_who = "WAGENT";
	else
		fake_who = "AGENT";
	return fake_core(proc, side);
}
