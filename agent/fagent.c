/*
 * The frontend agent: the frontend's NATS link, kept in its own process so
 * the router (which holds the database credentials) never holds the NATS
 * ones and vice versa.
 *
 * It subscribes to what every router must see — worker heartbeats
 * (localai.heartbeat.*), replica and cluster events (localai.events.>)
 * and the other frontends' in-flight snapshots (localai.inflight.*) — and
 * relays each message to the router as MSG_BUS_MSG.  The router's
 * MSG_BUS_PUB are published as they come; its MSG_BUS_REQ (commands to
 * workers, answered by them) run on short-lived threads, because a
 * request may wait minutes (a cold load), and come back as MSG_BUS_REPLY.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/bus.h"
#include "agent/fagent.h"
#include "proto/log.h"
#include "proto/msgbuf.h"

static struct bus *fa_bus;
static struct msgbuf fa_router;
static int fa_have_router;
/* Writes to the router come from nats.c's thread and request threads. */
static pthread_mutex_t fa_wlock = PTHREAD_MUTEX_INITIALIZER;
/* Request threads still running, and no new ones once stopping: the bus
 * must outlive every thread that may use it. */
static pthread_mutex_t fa_rlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fa_rcv = PTHREAD_COND_INITIALIZER;
static int fa_requests;
static int fa_stopping;

#define FA_STOP_WAIT_MS 5000

static const char *fa_subjects[] = {
    "localai.heartbeat.*",
    "localai.events.>",
    "localai.inflight.*",
};

/* Send one bus message to the router: struct msg_bus + payload. */
static void
fa_send(uint32_t type, uint64_t id, const char *subject, int32_t status,
    const void *data, size_t len)
{
	struct msg_bus *h;
	size_t total = sizeof(*h) + len;

	if (total > msg_max_len(type)) {
		log_warnx("nats message on %s too large (%zu bytes), dropped",
		    subject, len);
		return;
	}
	if ((h = calloc(1, total)) == NULL)
		return;
	h->id = id;
	snprintf(h->subject, sizeof(h->subject), "%s", subject);
	h->status = status;
	h->payload_len = (uint32_t)len;
	memcpy(h + 1, data, len);
	pthread_mutex_lock(&fa_wlock);
	if (fa_have_router &&
	    msgbuf_send(&fa_router, type, 0, -1, h, total) == -1)
		log_warn("router link");
	pthread_mutex_unlock(&fa_wlock);
	free(h);
}

static void
fa_on_msg(void *arg, const char *subject, const char *reply, const char *data,
    size_t len)
{
	fa_send(MSG_BUS_MSG, 0, subject, 0, data, len);
}

static void
fa_on_state(void *arg, int connected, const char *server)
{
	struct msg_bus_state st = {0};

	st.connected = connected;
	snprintf(st.server, sizeof(st.server), "%s", server);
	pthread_mutex_lock(&fa_wlock);
	if (fa_have_router)
		(void)msgbuf_send(
		    &fa_router, MSG_BUS_STATE, 0, -1, &st, sizeof(st));
	pthread_mutex_unlock(&fa_wlock);
}

int
fagent_start(const struct conf *c)
{
	static const struct bus_handlers h = {fa_on_msg, fa_on_state};
	char name[128];
	size_t i;

	snprintf(name, sizeof(name), "localai-frontend-%s", c->instance_id);
	if ((fa_bus = bus_open(c->nats_url, name, &h, NULL)) == NULL)
		return -1;
	for (i = 0; i < sizeof(fa_subjects) / sizeof(fa_subjects[0]); i++)
		if (bus_subscribe(fa_bus, fa_subjects[i]) == -1)
			return -1;
	return 0;
}

/*
 * Close the connection first, so requests waiting for a worker's answer
 * return at once, wait (bounded) for their threads to finish, then free
 * the bus.  Threads still running after the bound keep it allocated.
 */
void
fagent_stop(void)
{
	struct timespec until;
	int left;

	pthread_mutex_lock(&fa_rlock);
	fa_stopping = 1;
	pthread_mutex_unlock(&fa_rlock);
	bus_disconnect(fa_bus);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += FA_STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&fa_rlock);
	while (fa_requests > 0 &&
	       pthread_cond_timedwait(&fa_rcv, &fa_rlock, &until) == 0)
		;
	left = fa_requests;
	pthread_mutex_unlock(&fa_rlock);
	if (left > 0) {
		log_warnx("%d NATS request(s) still running at exit", left);
		return;
	}
	bus_close(fa_bus);
	fa_bus = NULL;
}

/* The supervisor handed us (a new) socket to the router. */
void
fagent_set_router(int fd)
{
	pthread_mutex_lock(&fa_wlock);
	if (fa_have_router) {
		close(fa_router.fd);
		msgbuf_clear(&fa_router);
	}
	msgbuf_init(&fa_router, fd);
	fa_have_router = 1;
	pthread_mutex_unlock(&fa_wlock);
	/* Tell the new router where the link stands. */
	fa_on_state(NULL, bus_connected(fa_bus), "");
}

int
fagent_router_fd(void)
{
	return fa_have_router ? fa_router.fd : -1;
}

struct fa_req {
	uint64_t id;
	char subject[128];
	uint32_t timeout_ms;
	size_t len;
	char data[];
};

static void *
fa_request_main(void *arg)
{
	struct fa_req *r = arg;
	char *reply = NULL;
	size_t n = 0;
	int rc;

	rc = bus_request(fa_bus, r->subject, r->data, r->len,
	    (int)r->timeout_ms, &reply, &n);
	fa_send(MSG_BUS_REPLY, r->id, r->subject, rc, reply ? reply : "", n);
	free(reply);
	free(r);
	pthread_mutex_lock(&fa_rlock);
	if (--fa_requests == 0)
		pthread_cond_broadcast(&fa_rcv);
	pthread_mutex_unlock(&fa_rlock);
	return NULL;
}

static void
fa_request(const struct msg_bus *h, const char *payload)
{
	pthread_attr_t attr;
	struct fa_req *r;
	pthread_t t;

	if ((r = malloc(sizeof(*r) + h->payload_len)) == NULL)
		return;
	r->id = h->id;
	snprintf(r->subject, sizeof(r->subject), "%s", h->subject);
	r->timeout_ms = h->timeout_ms ? h->timeout_ms : 30000;
	r->len = h->payload_len;
	memcpy(r->data, payload, h->payload_len);
	pthread_mutex_lock(&fa_rlock);
	if (fa_stopping) {
		pthread_mutex_unlock(&fa_rlock);
		fa_send(MSG_BUS_REPLY, r->id, r->subject, BUS_EDOWN, "", 0);
		free(r);
		return;
	}
	fa_requests++;
	pthread_mutex_unlock(&fa_rlock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fa_request_main, r) != 0) {
		fa_send(MSG_BUS_REPLY, r->id, r->subject, BUS_EDOWN, "", 0);
		free(r);
		pthread_mutex_lock(&fa_rlock);
		fa_requests--;
		pthread_mutex_unlock(&fa_rlock);
	}
	pthread_attr_destroy(&attr);
}

/* One message from the router; -1 on a protocol error. */
static int
fa_router_msg(struct msg *m)
{
	struct msg_bus h;
	const char *payload;

	if (m->hdr.type != MSG_BUS_PUB && m->hdr.type != MSG_BUS_REQ) {
		log_warnx(
		    "router sent unexpected message type %u", m->hdr.type);
		return -1;
	}
	if (m->hdr.len < sizeof(h))
		return -1;
	memcpy(&h, m->data, sizeof(h));
	MSG_TERMINATE(h.subject);
	if (m->hdr.len != sizeof(h) + h.payload_len)
		return -1;
	payload = (const char *)m->data + sizeof(h);
	if (m->hdr.type == MSG_BUS_PUB) {
		if (bus_publish(fa_bus, h.subject, payload, h.payload_len) != 0)
			log_debug("publish %s dropped (NATS down)", h.subject);
	} else {
		fa_request(&h, payload);
	}
	return 0;
}

/*
 * The router socket is readable: take every whole message.  Returns 0, or
 * -1 when the router went away (the supervisor will hand us a new link).
 */
int
fagent_router_readable(void)
{
	struct msg m;
	ssize_t n;
	int rc;

	n = msgbuf_read(&fa_router);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
		goto gone;
	while ((rc = msgbuf_get(&fa_router, &m)) == 1) {
		rc = fa_router_msg(&m);
		msg_free(&m);
		if (rc == -1)
			fatalx("protocol error on the router link");
	}
	if (rc == -1)
		fatalx("protocol error on the router link");
	return 0;
gone:
	pthread_mutex_lock(&fa_wlock);
	close(fa_router.fd);
	msgbuf_clear(&fa_router);
	fa_have_router = 0;
	pthread_mutex_unlock(&fa_wlock);
	return -1;
}
