/*
 * The router process: its loop, its links and its timers.  See router.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/proc.h"
#include "router/rdb.h"
#include "router/router.h"

struct router R;

uint64_t
r_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
r_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct rlink *
r_link(uint32_t owner)
{
	int i;

	for (i = 0; i < RT_MAX_LINKS; i++)
		if (R.links[i].used && R.links[i].owner == owner)
			return &R.links[i];
	return NULL;
}

static struct msgbuf *
r_mb(uint32_t owner)
{
	struct rlink *l;

	if (owner == 0)
		return R.have_agent ? &R.agent : NULL;
	return (l = r_link(owner)) != NULL ? &l->mb : NULL;
}

void
r_send(uint32_t owner, uint32_t type, uint32_t peerid, const void *data,
    size_t len)
{
	struct msgbuf *mb = r_mb(owner);

	if (mb == NULL)
		return; /* the peer went away: nothing to answer */
	if (msgbuf_compose(mb, type, peerid, -1, data, len) == -1)
		log_warn("message %u to peer %u", type, owner);
	else
		(void)msgbuf_flush(mb);
}

void
r_send2(uint32_t owner, uint32_t type, uint32_t peerid, const void *hdr,
    size_t hlen, const void *body, size_t blen)
{
	char *buf;

	if ((buf = malloc(hlen + blen)) == NULL) {
		log_warn("message %u", type);
		return;
	}
	memcpy(buf, hdr, hlen);
	if (blen > 0)
		memcpy(buf + hlen, body, blen);
	r_send(owner, type, peerid, buf, hlen + blen);
	free(buf);
}

/* The supervisor handed us a socket to an api process or the agent. */
static void
r_peer(int fd, const struct msg_peer *p, void *arg)
{
	int i;

	if (p->kind == PEER_AGENT) {
		if (R.have_agent) {
			close(R.agent.fd);
			msgbuf_clear(&R.agent);
			rb_fail_all();
		}
		msgbuf_init(&R.agent, fd);
		R.have_agent = 1;
		return;
	}
	if (p->kind != PEER_API)
		fatalx("MSG_PEER_FD for unexpected peer kind %u", p->kind);
	for (i = 0; i < RT_MAX_LINKS && R.links[i].used; i++)
		;
	if (i == RT_MAX_LINKS)
		fatalx("too many api links");
	R.links[i].used = 1;
	R.links[i].owner = ++R.next_owner;
	R.links[i].instance = p->instance;
	msgbuf_init(&R.links[i].mb, fd);
	log_debug("api %u linked as owner %u", p->instance, R.links[i].owner);
}

#define CHECK_LEN(m, T)                                                        \
	do {                                                                   \
		if (msg_check_len((m), sizeof(T)) == -1)                       \
			fatalx("bad message %u from api", (m)->hdr.type);      \
	} while (0)

static void
r_api_msg(struct rlink *l, struct msg *m)
{
	struct msg_place p;
	struct msg_done d;
	struct msg_replica_fail f;
	struct msg_http_req h;

	switch (m->hdr.type) {
	case MSG_PLACE:
		CHECK_LEN(m, p);
		memcpy(&p, m->data, sizeof(p));
		MSG_TERMINATE(p.request_id);
		MSG_TERMINATE(p.model);
		MSG_TERMINATE(p.endpoint);
		MSG_TERMINATE(p.exclude_node);
		rp_place(l->owner, m->hdr.peerid, &p);
		break;
	case MSG_DONE:
		CHECK_LEN(m, d);
		memcpy(&d, m->data, sizeof(d));
		MSG_TERMINATE(d.request_id);
		rp_done(l->owner, &d);
		break;
	case MSG_REPLICA_FAIL:
		CHECK_LEN(m, f);
		memcpy(&f, m->data, sizeof(f));
		MSG_TERMINATE(f.request_id);
		MSG_TERMINATE(f.node_id);
		MSG_TERMINATE(f.reason);
		rp_replica_fail(l->owner, &f);
		break;
	case MSG_METRICS_SNAP:
		rm_api_snapshot(l, m->data, m->hdr.len);
		break;
	case MSG_HTTP_REQ:
		if (m->hdr.len < sizeof(h))
			fatalx("short MSG_HTTP_REQ");
		memcpy(&h, m->data, sizeof(h));
		if (m->hdr.len != sizeof(h) + h.body_len)
			fatalx("bad MSG_HTTP_REQ length");
		MSG_TERMINATE(h.method);
		MSG_TERMINATE(h.path);
		MSG_TERMINATE(h.authorization);
		MSG_TERMINATE(h.request_id);
		MSG_TERMINATE(h.remote);
		rh_request(l->owner, m->hdr.peerid, &h,
		    (const char *)m->data + sizeof(h), h.body_len);
		break;
	default:
		fatalx("unexpected message type %u from api", m->hdr.type);
	}
}

static void
r_link_close(struct rlink *l)
{
	log_debug("api link %u closed", l->owner);
	rp_owner_gone(l->owner);
	rm_link_gone(l);
	close(l->mb.fd);
	msgbuf_clear(&l->mb);
	l->used = 0;
}

/* Read and dispatch; -1 when the peer closed. */
static int
r_read(struct msgbuf *mb, void (*fn)(void *, struct msg *), void *arg)
{
	struct msg m;
	ssize_t n;
	int rc;

	n = msgbuf_read(mb);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		return -1;
	while ((rc = msgbuf_get(mb, &m)) == 1) {
		fn(arg, &m);
		msg_free(&m);
	}
	if (rc == -1)
		fatalx("protocol error on a peer link");
	return 0;
}

static void
r_api_cb(void *arg, struct msg *m)
{
	r_api_msg(arg, m);
}

static void
r_agent_cb(void *arg, struct msg *m)
{
	struct msg_bus h;
	struct msg_bus_state st;

	if (m->hdr.type == MSG_BUS_STATE) {
		if (msg_check_len(m, sizeof(st)) == -1)
			fatalx("bad MSG_BUS_STATE");
		memcpy(&st, m->data, sizeof(st));
		if (R.bus_up != st.connected)
			log_info("NATS %s",
			    st.connected ? "connected" : "disconnected");
		R.bus_up = st.connected;
		return;
	}
	if (m->hdr.type != MSG_BUS_MSG && m->hdr.type != MSG_BUS_REPLY)
		fatalx(
		    "unexpected message type %u from the agent", m->hdr.type);
	if (m->hdr.len < sizeof(h))
		fatalx("short bus message");
	memcpy(&h, m->data, sizeof(h));
	if (m->hdr.len != sizeof(h) + h.payload_len)
		fatalx("bad bus message length");
	MSG_TERMINATE(h.subject);
	if (m->hdr.type == MSG_BUS_MSG)
		rb_message(&h, (const char *)m->data + sizeof(h));
	else
		rb_reply(&h, (const char *)m->data + sizeof(h));
}

/* Poll set: supervisor, database, agent, api links. */
static int
r_pollset(struct pollfd *pfd, struct rlink **who)
{
	int n = 0, i;

	pfd[n].fd = proc_fd();
	pfd[n++].events = POLLIN;
	pfd[n].fd = rdb_fd();
	pfd[n++].events = POLLIN;
	who[n] = NULL;
	pfd[n].fd = R.have_agent ? R.agent.fd : -1;
	pfd[n].events =
	    POLLIN | (R.have_agent && msgbuf_pending(&R.agent) ? POLLOUT : 0);
	n++;
	for (i = 0; i < RT_MAX_LINKS; i++) {
		if (!R.links[i].used)
			continue;
		who[n] = &R.links[i];
		pfd[n].fd = R.links[i].mb.fd;
		pfd[n++].events =
		    POLLIN | (msgbuf_pending(&R.links[i].mb) ? POLLOUT : 0);
	}
	return n;
}

static void
r_events(struct pollfd *pfd, struct rlink **who, int n)
{
	int i;

	if ((pfd[0].revents & (POLLIN | POLLHUP)) && proc_dispatch() == -1)
		fatalx("the supervisor went away");
	if (pfd[1].revents & POLLIN)
		rdb_collect();
	if (pfd[2].fd != -1 && pfd[2].revents) {
		if (pfd[2].revents & POLLOUT)
			(void)msgbuf_flush(&R.agent);
		if ((pfd[2].revents & (POLLIN | POLLHUP)) &&
		    r_read(&R.agent, r_agent_cb, NULL) == -1) {
			log_warnx("agent link closed");
			close(R.agent.fd);
			msgbuf_clear(&R.agent);
			R.have_agent = 0;
			R.bus_up = 0;
			rb_fail_all();
		}
	}
	for (i = 3; i < n; i++) {
		if (!who[i]->used || pfd[i].revents == 0)
			continue;
		if (pfd[i].revents & POLLOUT)
			(void)msgbuf_flush(&who[i]->mb);
		if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    r_read(&who[i]->mb, r_api_cb, who[i]) == -1)
			r_link_close(who[i]);
	}
}

static int
r_setup(void)
{
	R.cf = *proc_conf();
	R.models = *proc_models();
	if ((R.view = rt_view_new()) == NULL ||
	    (R.admit = rt_admit_new(R.cf.frontend.queue_max)) == NULL)
		fatalx("out of memory");
	R.view->health.offline_after_ms = R.cf.frontend.offline_after_ms;
	rp_init();
	rm_init();
	rn_gallery_load();
	if (rdb_start(R.cf.frontend.database_url) == -1)
		fatalx("cannot start the database thread");
	if (rn_load_all() == -1)
		return -1;
	return 0;
}

int
router_main(enum conf_role role)
{
	static const struct proc_handlers h = {.peer_fd = r_peer};
	struct pollfd pfd[RT_MAX_LINKS + 4];
	struct rlink *who[RT_MAX_LINKS + 4];
	uint64_t last_tick = 0;
	int n;

	if (proc_init("router") == -1)
		return 1;
	proc_set_handlers(&h);
	if (r_setup() == -1)
		return 75; /* PostgreSQL unreachable: retry later */
	if (proc_ready() == -1)
		return 1;
	while (!proc_shutting_down()) {
		n = r_pollset(pfd, who);
		if (poll(pfd, (nfds_t)n, 50) == -1 && errno != EINTR)
			fatal("poll");
		r_events(pfd, who, n);
		if (r_now() - last_tick >= 50) {
			last_tick = r_now();
			rp_tick();
			rn_tick();
			rb_tick();
		}
	}
	rdb_stop();
	(void)proc_dispatch(); /* the shutdown message, if unread */
	return 0;
}
