/*
 * The frontend agent process: its loop around fagent.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/fagent.h"
#include "proto/log.h"
#include "proto/msgbuf.h"
#include "proto/proc.h"

/* The supervisor hands us the router link with MSG_PEER_FD. */
static void
agent_peer(int fd, const struct msg_peer *p, void *arg)
{
	if (p->kind != PEER_ROUTER)
		fatalx("MSG_PEER_FD for an unexpected peer %u", p->kind);
	fagent_set_router(fd);
}

/*
 * `localai -P agent`: the frontend's NATS agent, or on a worker the
 * worker agent (worker.c).
 */
int
agent_main(enum conf_role role)
{
	static const struct proc_handlers h = {.peer_fd = agent_peer};
	struct pollfd pfd[2];
	int n;

	if (proc_init(role == ROLE_WORKER ? "worker-agent" : "agent") == -1)
		return 1;
	if (role == ROLE_WORKER)
		return worker_agent_main();
	proc_set_handlers(&h);
	if (fagent_start(proc_conf()) == -1)
		fatalx("bad NATS configuration");
	if (proc_ready() == -1)
		return 1;
	while (!proc_shutting_down()) {
		pfd[0].fd = proc_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = fagent_router_fd();
		pfd[1].events = POLLIN;
		n = pfd[1].fd == -1 ? 1 : 2;
		if (poll(pfd, (nfds_t)n, 1000) == -1 && errno != EINTR)
			fatal("poll");
		if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
		    proc_dispatch() == -1)
			return 1;
		if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP)))
			(void)fagent_router_readable();
	}
	fagent_stop();
	/* Read the supervisor's shutdown message: closing a socket with
	 * unread data resets the connection. */
	(void)proc_dispatch();
	return 0;
}
