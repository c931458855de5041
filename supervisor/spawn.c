/*
 * How a child process is started: fork, then in the child its signals,
 * process group, fds and environment, then exec (our own binary with
 * `-P <proc>` for core children, `run --addr` for backends).  And the
 * listening socket the api processes share, which is one of those fds.
 * The fd numbers are proc.h's contract.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "proto/log.h"
#include "proto/proc.h"
#include "supervisor/sup.h"

static int spawn_devnull = -1;
static int spawn_listen_fd = -1; /* api: shared listening socket */
static const char *spawn_exec_path = "/proc/self/exe";
static char *spawn_argv0;
static pid_t spawn_parent;

int
sup_spawn_init(char *argv0)
{
	const char *test_exec = getenv(SUP_TEST_CHILD_EXEC_ENV);

	spawn_parent = getpid();
	spawn_argv0 = argv0;
	if (test_exec != NULL && *test_exec != '\0') {
		log_warnx("%s is set: core processes run %s (tests only)",
		    SUP_TEST_CHILD_EXEC_ENV, test_exec);
		spawn_exec_path = test_exec;
		spawn_argv0 = (char *)(uintptr_t)test_exec;
	}
	if ((spawn_devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("/dev/null");
		return -1;
	}
	return 0;
}

void
sup_spawn_cleanup(void)
{
	if (spawn_devnull != -1)
		close(spawn_devnull);
	spawn_devnull = -1;
	sup_listen_close();
}

const char *
sup_exec_path(void)
{
	return spawn_exec_path;
}

static const char *
sup_proc_name(const struct sup_child *c)
{
	switch (c->kind) {
	case SUP_API:
		return "api";
	case SUP_ROUTER:
		return "router";
	default:
		return "agent";
	}
}

/*
 * Move fd to `to` in a forked child.  Every source was first copied
 * above the targets (sup_exec_fds), so no dup2() clobbers another.
 */
static void
sup_fd_to(int fd, int to)
{
	if (dup2(fd, to) == -1)
		_exit(127);
}

/*
 * In the forked child: stdin from /dev/null, the control socket on
 * PROC_CTL_FD, the listening socket on PROC_LISTEN_FD (api), every other
 * descriptor close-on-exec.
 */
static void
sup_exec_fds(const struct sup_child *c, int ctl, int errfd)
{
	int null, hctl = -1, hlisten = -1, first_free = 3;

	if ((null = fcntl(spawn_devnull, F_DUPFD_CLOEXEC, 10)) == -1 ||
	    (ctl != -1 && (hctl = fcntl(ctl, F_DUPFD_CLOEXEC, 10)) == -1) ||
	    (c->kind == SUP_API &&
	        (hlisten = fcntl(spawn_listen_fd, F_DUPFD_CLOEXEC, 10)) == -1))
		goto fail;
	sup_fd_to(null, STDIN_FILENO);
	if (hctl != -1) {
		sup_fd_to(hctl, PROC_CTL_FD);
		first_free = PROC_CTL_FD + 1;
	}
	if (hlisten != -1) {
		sup_fd_to(hlisten, PROC_LISTEN_FD);
		first_free = PROC_LISTEN_FD + 1;
	}
	/* Whatever else is open (inherited by us) must not reach it. */
	(void)close_range((unsigned)first_free, ~0U, CLOSE_RANGE_CLOEXEC);
	return;
fail:
	(void)write(errfd, &errno, sizeof(errno));
	_exit(127);
}

/* Remove every LOCALAI_* variable: backends get no secrets of ours. */
static void
sup_env_scrub_localai(void)
{
	extern char **environ;
	char name[256], **e;
	size_t n;
	int again = 1;

	while (again) {
		again = 0;
		for (e = environ; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, "LOCALAI_", 8) != 0)
				continue;
			n = strcspn(*e, "=");
			if (n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static void
sup_exec_env(const struct sup_child *c)
{
	static const char *drop[] = {"NOTIFY_SOCKET", "LISTEN_PID",
	    "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"};
	size_t i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		unsetenv(drop[i]);
	if (c->kind != SUP_BACKEND)
		return; /* services scrub their own (sup_svc_exec) */
	sup_env_scrub_localai();
	if (c->be.token[0] != '\0')
		setenv("LOCALAI_GRPC_AUTH_TOKEN", c->be.token, 1);
}

/*
 * The forked child, up to exec: signals back to defaults, its own process
 * group, death with the supervisor, its fds, its environment.  On failure
 * the errno goes up errfd (close-on-exec, so silence means exec worked).
 */
static void
sup_exec(const struct sup_child *c, int ctl, int errfd)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGPIPE};
	char *argv[6];
	const char *side;
	sigset_t none;
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	/*
	 * A service changes user before PR_SET_PDEATHSIG: a change of
	 * credentials clears the death signal.
	 */
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
	    setpgid(0, 0) == -1 ||
	    (sup_is_service(c) && sup_svc_drop_privileges(c) == -1) ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		goto fail;
	if (getppid() != spawn_parent)
		_exit(1); /* the supervisor died before prctl() */
	sup_exec_fds(c, ctl, errfd);
	sup_exec_env(c);
	if (c->kind == SUP_BACKEND) {
		if (c->be.workdir[0] != '\0' && chdir(c->be.workdir) == -1)
			goto fail;
		argv[0] = (char *)(uintptr_t)c->be.run_path;
		argv[1] = (char *)(uintptr_t) "--addr";
		argv[2] = (char *)(uintptr_t)c->be.addr;
		argv[3] = NULL;
		execv(c->be.run_path, argv);
		goto fail;
	}
	if (sup_is_service(c)) {
		sup_svc_exec(c);
		goto fail;
	}
	side = c->kind == SUP_AGENT_WK ? "worker" : "frontend";
	argv[0] = spawn_argv0;
	argv[1] = (char *)(uintptr_t) "-P";
	argv[2] = (char *)(uintptr_t)sup_proc_name(c);
	argv[3] = (char *)(uintptr_t) "-R";
	argv[4] = (char *)(uintptr_t)side;
	argv[5] = NULL;
	execv(spawn_exec_path, argv);
fail:
	(void)write(errfd, &errno, sizeof(errno));
	_exit(127);
}

/* Wait for exec (the pipe closes) or its errno; 0 or the errno. */
static int
sup_exec_result(int fd)
{
	ssize_t n;
	int err = 0;

	do {
		n = read(fd, &err, sizeof(err));
	} while (n == -1 && errno == EINTR);
	close(fd);
	return n == (ssize_t)sizeof(err) ? err : 0;
}

pid_t
sup_fork_exec(const struct sup_child *c, int *ctl, int *exec_errno)
{
	int sv[2] = {-1, -1}, ep[2];
	pid_t pid;

	if (sup_has_ctl(c) &&
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if (pipe2(ep, O_CLOEXEC) == -1)
		fatal("pipe2");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(ep[0]);
		sup_exec(c, sv[1], ep[1]);
	}
	(void)setpgid(pid, pid); /* the child does it too: no race */
	close(ep[1]);
	if (sv[1] != -1)
		close(sv[1]);
	if (sv[0] != -1 && fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	*ctl = sv[0];
	*exec_errno = sup_exec_result(ep[0]);
	return pid;
}

/* ---- the listening socket ---------------------------------------------- */

/* "host:port", "[v6]:port", ":port" (every address). */
static int
sup_split_addr(
    const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(addr, ':');
	size_t n;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	n = (size_t)(colon - addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n >= hlen || strlen(colon + 1) >= plen)
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

static int
sup_listen_ai(const struct addrinfo *ai, int dual)
{
	int fd, on = 1, off = 0;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (dual && ai->ai_family == AF_INET6 &&
	        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) ==
	            -1) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Open frontend.listen: the fd, -2 (logged) for an address that cannot
 * be parsed or resolved, -1 (logged) when socket/bind/listen fail.
 */
static int
sup_listen_open(const char *addr)
{
	struct addrinfo hints, *res, *ai;
	char host[256], port[32];
	int fd = -1, r, wild;

	if (sup_split_addr(addr, host, sizeof(host), port, sizeof(port)) ==
	    -1) {
		log_warnx("listen address \"%s\": want host:port", addr);
		return -2;
	}
	wild = host[0] == '\0' || strcmp(host, "*") == 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = wild ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(wild ? NULL : host, port, &hints, &res)) != 0 &&
	    wild) {
		hints.ai_family = AF_INET; /* no IPv6 here */
		r = getaddrinfo(NULL, port, &hints, &res);
	}
	if (r != 0) {
		log_warnx("listen address \"%s\": %s", addr, gai_strerror(r));
		return -2;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = sup_listen_ai(ai, wild);
	if (fd == -1)
		log_warn("listen on %s", addr);
	freeaddrinfo(res);
	return fd;
}

/*
 * The api processes' listening socket: systemd's (socket activation:
 * fd 3, passed on to the api processes as PROC_LISTEN_FD) or our own.
 * Returns the fd, -1 when none is wanted, -2 for a bad configuration
 * (exit 78), -3 when the socket cannot be opened (exit 1).
 */
/* Say where we listen, with the port the kernel chose for port 0. */
static void
sup_listen_log(int fd, const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
	        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		log_info("listening on %s", listen);
		return;
	}
	log_info("listening on %s (%s port %s)", listen, host, port);
}

int
sup_listen_setup(const char *listen, int wanted)
{
	int n, fd;

	if ((n = sd_listen_fds(1)) < 0) {
		log_warnx("sd_listen_fds: %s", strerror(-n));
		n = 0;
	}
	for (fd = SD_LISTEN_FDS_START + (wanted ? 1 : 0);
	     fd < SD_LISTEN_FDS_START + n; fd++) {
		log_warnx("ignoring extra socket fd %d from systemd", fd);
		close(fd);
	}
	if (!wanted)
		return -1;
	if (n > 0) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_warnx("fd %d from systemd is not a listening "
			          "stream socket",
			    fd);
			return -2;
		}
		if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
			fatal("fcntl");
		log_info("listening on the socket from systemd (fd %d)", fd);
		return spawn_listen_fd = fd;
	}
	if ((fd = sup_listen_open(listen)) < 0)
		return fd == -1 ? -3 : -2;
	sup_listen_log(fd, listen);
	return spawn_listen_fd = fd;
}

void
sup_listen_close(void)
{
	if (spawn_listen_fd != -1)
		close(spawn_listen_fd);
	spawn_listen_fd = -1;
}
