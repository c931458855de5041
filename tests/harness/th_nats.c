/*
 * Throwaway nats-server instances on 127.0.0.1 and a free port, with a
 * private store directory.  "Ready" means a TCP client received the
 * server's INFO line, which is what a NATS client waits for too.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/th_internal.h"

#define TH_NATS_STOP_WAIT 5000

static struct th_nats *th_natses;

/* Read the server's first line (INFO {...}) within 200 ms. */
static int
th_nats_read_info(int fd, char *buf, size_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t off = 0;
	ssize_t n;

	while (off < len - 1 && poll(&pfd, 1, 200) == 1) {
		if ((n = recv(fd, buf + off, len - 1 - off, 0)) <= 0)
			break;
		off += (size_t)n;
		buf[off] = '\0';
		if (strchr(buf, '\n') != NULL)
			return 0;
	}
	return -1;
}

/*
 * 1 if 127.0.0.1:port greets us as our server.  The name check matters:
 * if another run's nats-server grabbed the port first, ours exits, and
 * without it we would take theirs for ours.
 */
static int
th_nats_probe(const struct th_nats *n)
{
	char buf[4096], want[64];
	struct sockaddr_in sin;
	int fd, ok = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(n->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(want, sizeof(want), "\"server_name\":\"%s\"", n->name);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    th_nats_read_info(fd, buf, sizeof(buf)) == 0)
		ok = strncmp(buf, "INFO ", 5) == 0 && strstr(buf, want) != NULL;
	close(fd);
	return ok;
}

static struct th_proc *
th_nats_spawn(struct th_nats *n)
{
	char port[16], mport[16], store[PATH_MAX + 8];
	char *argv[16];
	struct th_spawn sp;
	int i = 0;

	snprintf(port, sizeof(port), "%d", n->port);
	snprintf(mport, sizeof(mport), "%d", n->monitor_port);
	snprintf(store, sizeof(store), "%s/store", n->dir);
	argv[i++] = "nats-server";
	argv[i++] = "-a";
	argv[i++] = "127.0.0.1";
	argv[i++] = "-p";
	argv[i++] = port;
	argv[i++] = "-n";
	argv[i++] = n->name;
	argv[i++] = "-sd";
	argv[i++] = store;
	if (n->jetstream)
		argv[i++] = "-js";
	if (n->monitor_port != 0) {
		argv[i++] = "-m";
		argv[i++] = mport;
	}
	argv[i] = NULL;
	memset(&sp, 0, sizeof(sp));
	sp.argv = argv;
	sp.log = n->log;
	sp.cwd = n->dir;
	sp.internal = 1;
	return th__spawn(&sp);
}

static int
th_nats_launch(struct th_nats *n)
{
	double t0 = th_now_ms(), deadline = t0 + TH_NATS_START_TIMEOUT;

	if ((n->proc = th_nats_spawn(n)) == NULL)
		return -1;
	while (!th_nats_probe(n)) {
		if (!th_proc_alive(n->proc)) {
			th__log("nats-server exited with %d during start",
			    th_exit_code(n->proc));
			th__log_tail(n->log, 10);
			return -1;
		}
		if (th_now_ms() > deadline) {
			th__log("nats-server not ready after %d ms",
			    TH_NATS_START_TIMEOUT);
			th__log_tail(n->log, 10);
			th_proc_stop(n->proc, 1000);
			return -1;
		}
		th_sleep_ms(2);
	}
	n->start_ms = th_now_ms() - t0;
	n->up = 1;
	return 0;
}

static int
th_nats_ports(struct th_nats *n)
{
	if ((n->port = th_free_port()) == -1)
		return -1;
	/* Unique on the machine: pid and port. */
	snprintf(
	    n->name, sizeof(n->name), "th-nats-%d-%d", (int)getpid(), n->port);
	if (n->monitor_port != 0 && (n->monitor_port = th_free_port()) == -1)
		return -1;
	snprintf(n->url, sizeof(n->url), "nats://127.0.0.1:%d", n->port);
	if (n->monitor_port != 0)
		snprintf(n->monitor_url, sizeof(n->monitor_url),
		    "http://127.0.0.1:%d", n->monitor_port);
	return 0;
}

struct th_nats *
th_nats_start(const struct th_nats_opts *opts)
{
	struct th_nats *n;
	int tries;

	if (th__need_init("th_nats_start") == -1)
		return NULL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->jetstream = opts != NULL && opts->jetstream;
	if (th__mkinstance("nats", n->dir, sizeof(n->dir)) == -1 ||
	    th__fmt(n->log, sizeof(n->log), "%s/nats.log", n->dir) == -1)
		goto fail;
	/* A port can be taken between th_free_port and bind: retry. */
	for (tries = 0; tries < 3; tries++) {
		n->monitor_port = opts != NULL && opts->monitor;
		if (th_nats_ports(n) == -1)
			goto fail;
		if (th_nats_launch(n) == 0) {
			n->next = th_natses;
			th_natses = n;
			return n;
		}
		if (n->proc == NULL)
			break;
	}
fail:
	if (n->dir[0] != '\0')
		th__rmtree(n->dir);
	free(n);
	return NULL;
}

int
th_nats_down(struct th_nats *n)
{
	int rc = 0;

	if (n->proc == NULL || !th_proc_alive(n->proc)) {
		n->up = 0;
		return 0;
	}
	th_proc_signal(n->proc, SIGTERM);
	if (th_proc_wait(n->proc, TH_NATS_STOP_WAIT) == -1) {
		th__log("nats-server[%d]: no exit after SIGTERM, killing",
		    (int)n->proc->pid);
		th_proc_stop(n->proc, 0);
		rc = -1;
	}
	n->up = 0;
	return rc;
}

int
th_nats_kill(struct th_nats *n)
{
	int rc = 0;

	if (n->proc != NULL && th_proc_alive(n->proc)) {
		th_proc_signal(n->proc, SIGKILL);
		rc = th_proc_wait(n->proc, TH_NATS_STOP_WAIT);
	}
	n->up = 0;
	return rc;
}

int
th_nats_up(struct th_nats *n)
{
	if (n->up)
		return 0;
	return th_nats_launch(n);
}

int
th_nats_restart(struct th_nats *n)
{
	if (th_nats_down(n) == -1)
		return -1;
	return th_nats_up(n);
}

int
th_nats_stop(struct th_nats *n)
{
	int rc;

	if (n->dir[0] == '\0')
		return 0;
	rc = th_nats_down(n);
	if (th__rmtree(n->dir) == -1)
		rc = -1;
	n->dir[0] = '\0';
	return rc;
}

void
th__nats_cleanup(void)
{
	struct th_nats *n;

	for (n = th_natses; n != NULL; n = n->next)
		th_nats_stop(n);
}
