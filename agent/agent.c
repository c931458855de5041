/*
 * The frontend agent process: its loop around fagent.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>

#include "agent/agent.h"
#include "agent/fagent.h"
#include "proto/log.h"
#include "proto/msgbuf.h"
#include "proto/proc.h"

/* The supervisor hands us the router link with MSG_PEER_FD. */
static void
agent_sup_msg(struct msg *m, void *arg)
{
	struct msg_peer p;

	if (m->hdr.type != MSG_PEER_FD)
		fatalx("unexpected message type %u from the supervisor",
		    m->hdr.type);
	if (msg_check_len(m, sizeof(p)) == -1 || m->fd == -1)
		fatalx("bad MSG_PEER_FD");
	memcpy(&p, m->data, sizeof(p));
	if (p.kind != PEER_ROUTER)
		fatalx("MSG_PEER_FD for an unexpected peer %u", p.kind);
	fagent_set_router(m->fd);
	m->fd = -1;	/* ours now */
}

int
agent_main(void)
{
	struct pollfd pfd[2];
	int n;

	proc_set_handler(agent_sup_msg, NULL);
	if (fagent_start(proc_conf()) == -1)
		fatalx("bad NATS configuration");
	proc_ready();
	while (!proc_shutdown_requested()) {
		pfd[0].fd = proc_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = fagent_router_fd();
		pfd[1].events = POLLIN;
		n = pfd[1].fd == -1 ? 1 : 2;
		if (poll(pfd, (nfds_t)n, 1000) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & (POLLIN | POLLHUP))
			proc_dispatch();
		if (n == 2 && (pfd[1].revents & (POLLIN | POLLHUP)))
			(void)fagent_router_readable();
	}
	fagent_stop();
	return 0;
}
