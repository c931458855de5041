/*
 * The supervisor's control socket, <state_dir>/control.sock: what
 * `localai status` reads (protocol and document in supervisor/status.h).
 *
 * The supervisor is single-threaded, so this side never blocks and never
 * reads: a client connects, the document is rendered at once into the
 * client's own buffer, written as the socket accepts it, and the
 * connection is shut down and closed; a client still not done after
 * SUP_STATUS_TIMEOUT_MS is closed.  At most SUP_STATUS_CLIENTS are served
 * at a time; more are accepted and closed at once.  A client can make the
 * supervisor neither wait nor hold more than that much memory.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor/status.h"
#include "supervisor/sup.h"

struct ctl_client {
	int fd; /* -1: free slot */
	char *buf;
	size_t len, off;
	int64_t deadline;
};

static int ctl_fd = -1;
static char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct ctl_client ctl_clients[SUP_STATUS_CLIENTS];

static void
ctl_client_close(struct ctl_client *cl)
{
	if (cl->fd == -1)
		return;
	(void)shutdown(cl->fd, SHUT_RDWR);
	close(cl->fd);
	free(cl->buf);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* Does a live supervisor answer on the socket at sun? */
static int
ctl_in_use(const struct sockaddr_un *sun)
{
	int fd, live;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return live;
}

/*
 * Listen on <state_dir>/control.sock.  A stale socket there is replaced;
 * one a running supervisor answers on, or anything that is not a socket,
 * is left alone (and this supervisor has none).  Failing is not fatal:
 * the supervisor runs without it.
 */
void
sup_ctl_open(const char *state_dir)
{
	struct sockaddr_un sun;
	struct stat st;
	size_t i;

	for (i = 0; i < SUP_STATUS_CLIENTS; i++)
		ctl_clients[i].fd = -1;
	if ((size_t)snprintf(ctl_path, sizeof(ctl_path), "%s/%s", state_dir,
	        SUP_STATUS_SOCKET) >= sizeof(ctl_path)) {
		log_warnx("control socket: %s: path too long", state_dir);
		ctl_path[0] = '\0';
		return;
	}
	if (lstat(ctl_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		log_warnx("control socket: %s exists and is not a socket; "
		          "running without one",
		    ctl_path);
		ctl_path[0] = '\0';
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, ctl_path, strlen(ctl_path));
	if (ctl_in_use(&sun)) {
		log_warnx(
		    "control socket: another supervisor answers on %s; "
		    "running without one (two supervisors share a state_dir?)",
		    ctl_path);
		ctl_path[0] = '\0';
		return;
	}
	(void)unlink(ctl_path);
	if ((ctl_fd = socket(AF_UNIX,
	         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(ctl_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(ctl_path, 0660) == -1 || listen(ctl_fd, 8) == -1) {
		if (errno == ENOENT)
			log_info("control socket: no directory %s; running "
			         "without one",
			    state_dir);
		else
			log_warn("control socket %s", ctl_path);
		if (ctl_fd != -1)
			close(ctl_fd);
		ctl_fd = -1;
		(void)unlink(ctl_path);
		ctl_path[0] = '\0';
		return;
	}
	log_debug("control socket %s", ctl_path);
}

void
sup_ctl_close(void)
{
	size_t i;

	for (i = 0; i < SUP_STATUS_CLIENTS; i++)
		ctl_client_close(&ctl_clients[i]);
	if (ctl_fd != -1) {
		close(ctl_fd);
		ctl_fd = -1;
	}
	if (ctl_path[0] != '\0')
		(void)unlink(ctl_path);
	ctl_path[0] = '\0';
}

/* Add the listener and the clients with output left; returns how many. */
size_t
sup_ctl_pollfds(struct pollfd *pfd)
{
	size_t i, n = 0;

	if (ctl_fd == -1)
		return 0;
	pfd[n].fd = ctl_fd;
	pfd[n++].events = POLLIN;
	for (i = 0; i < SUP_STATUS_CLIENTS; i++) {
		if (ctl_clients[i].fd == -1)
			continue;
		pfd[n].fd = ctl_clients[i].fd;
		pfd[n++].events = POLLOUT;
	}
	return n;
}

static void
ctl_write(struct ctl_client *cl)
{
	ssize_t w;

	while (cl->off < cl->len) {
		w = send(cl->fd, cl->buf + cl->off, cl->len - cl->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			ctl_client_close(cl); /* the client went away */
			return;
		}
		cl->off += (size_t)w;
	}
	ctl_client_close(cl);
}

/* A new client: render the document now, write what fits. */
static void
ctl_accept(int64_t now)
{
	struct ctl_client *cl;
	size_t i;
	int fd, n;

	while ((fd = accept4(
	            ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		for (cl = NULL, i = 0; i < SUP_STATUS_CLIENTS; i++)
			if (ctl_clients[i].fd == -1) {
				cl = &ctl_clients[i];
				break;
			}
		if (cl == NULL || (cl->buf = malloc(SUP_STATUS_MAX)) == NULL) {
			close(fd); /* busy: an empty answer */
			continue;
		}
		cl->fd = fd;
		cl->deadline = now + SUP_STATUS_TIMEOUT_MS;
		if ((n = sup_status_render(cl->buf, SUP_STATUS_MAX)) < 0) {
			log_warnx("control socket: the status does not fit");
			n = 0;
		}
		cl->len = (size_t)n;
		cl->off = 0;
		ctl_write(cl);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED)
		log_warn("control socket: accept");
}

/* After ppoll(): pfd/n as sup_ctl_pollfds() filled them. */
void
sup_ctl_handle(const struct pollfd *pfd, size_t n, int64_t now)
{
	size_t i, k;

	for (i = 1; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		for (k = 0; k < SUP_STATUS_CLIENTS; k++)
			if (ctl_clients[k].fd == pfd[i].fd) {
				ctl_write(&ctl_clients[k]);
				break;
			}
	}
	if (n > 0 && (pfd[0].revents & POLLIN))
		ctl_accept(now);
}

/* Close slow clients; the next deadline, -1 none. */
int64_t
sup_ctl_timers(int64_t now)
{
	int64_t next = -1;
	size_t i;

	for (i = 0; i < SUP_STATUS_CLIENTS; i++) {
		if (ctl_clients[i].fd == -1)
			continue;
		if (now >= ctl_clients[i].deadline) {
			ctl_client_close(&ctl_clients[i]);
			continue;
		}
		if (next == -1 || ctl_clients[i].deadline < next)
			next = ctl_clients[i].deadline;
	}
	return next;
}

/* ---- the document -------------------------------------------------------- */

static const char *
ctl_kind(const struct sup_child *c)
{
	switch (c->kind) {
	case SUP_API:
		return "api";
	case SUP_ROUTER:
		return "router";
	case SUP_AGENT_FE:
	case SUP_AGENT_WK:
		return "agent";
	case SUP_BACKEND:
		return "backend";
	case SUP_PG:
		return "postgres";
	case SUP_NATS:
		return "nats";
	}
	return "?";
}

static uint32_t
ctl_recent_crashes(const struct child_sm *sm, int64_t now)
{
	uint32_t i,
	    n = 0,
	    have = sm->ncrashes < CHILD_LOOP_CRASHES ? sm->ncrashes
	                                             : CHILD_LOOP_CRASHES;

	for (i = 0; i < have; i++)
		n += now - sm->crashes[i] < CHILD_LOOP_WINDOW_MS;
	return n;
}

static void
ctl_child(const struct sup_child *c, struct sup_status_child *o, int64_t now)
{
	memset(o, 0, sizeof(*o));
	o->name = c->name;
	o->kind = ctl_kind(c);
	o->state = child_state_name(c->sm.state);
	o->pid = c->pid;
	o->restarts = c->sm.restarts;
	o->uptime_ms = c->pid != -1 && c->sm.spawned_at != -1
	                   ? now - c->sm.spawned_at
	                   : -1;
	o->crashes_recent = ctl_recent_crashes(&c->sm, now);
	o->next_restart_ms =
	    c->pid == -1 && c->sm.next_at != -1
	        ? (c->sm.next_at > now ? c->sm.next_at - now : 0)
	        : -1;
	o->last_exit_code = c->exited && WIFEXITED(c->last_wstatus)
	                        ? WEXITSTATUS(c->last_wstatus)
	                        : -1;
	o->last_signal = c->exited && WIFSIGNALED(c->last_wstatus)
	                     ? WTERMSIG(c->last_wstatus)
	                     : 0;
	if (c->kind == SUP_BACKEND) {
		o->model = c->be.id;
		o->backend = c->be.backend;
		o->address = c->be.addr;
	}
}

int
sup_status_render(char *buf, size_t cap)
{
	struct sup_status_child *kids;
	struct sup_status st;
	struct sup_child *c;
	int64_t now = sup_now();
	size_t n = 0;
	int len;

	TAILQ_FOREACH(c, sup_children(), entry)
	n++;
	if ((kids = calloc(n > 0 ? n : 1, sizeof(*kids))) == NULL)
		return -1;
	n = 0;
	TAILQ_FOREACH(c, sup_children(), entry)
	ctl_child(c, &kids[n++], now);
	memset(&st, 0, sizeof(st));
	st.role = sup_role_name(sup_role());
	st.pid = (int32_t)getpid();
	st.localai_version = LOCALAI_VERSION;
	st.node_name =
	    sup_role() != ROLE_FRONTEND ? sup_conf()->worker.node_name : NULL;
	st.state = sup_is_stopping()    ? "stopping"
	           : sup_is_reloading() ? "reloading"
	                                : "running";
	st.uptime_ms = now - sup_started_at();
	st.config_generation = sup_conf()->generation;
	st.nchildren = n;
	st.children = kids;
	len = sup_status_json(&st, buf, cap);
	free(kids);
	return len;
}
