/*
 * rlink: the api process's link to the router process.
 *
 * The link is one Unix stream socket (msg.h framing), handed over by the
 * supervisor as MSG_PEER_FD {PEER_ROUTER}, and again whenever the router
 * restarts.  Many threads use it at once (every request placement runs on
 * its own thread), so:
 *   - writers serialise on rl_wmu and write whole frames (msgbuf_send);
 *   - one reader thread reads every answer and hands it to the waiting
 *     request by peerid, which is the request's slot number here;
 *   - a slot also remembers the request id it asked for, so an answer that
 *     arrives for a request that gave up (timed out, client gone) or for an
 *     earlier user of the slot is recognised as stray; a stray PLACE_OK is
 *     answered at once with DONE (outcome CANCELLED), because the router
 *     counts every grant in flight until its DONE.
 *
 * Router restarts: the old socket reads end of file, the link is "down"
 * until the new one arrives.  Placements still waiting are sent again on
 * the new link (the new router knows nothing of them); relayed HTTP
 * requests are failed (they may not be idempotent); a grant obtained from
 * the old router is never reported DONE to the new one, which never
 * counted it.  A request that finds the link down waits for a new one at
 * most RL_LINK_WAIT_US, then gets 503.
 *
 * Lock order: rl_wmu before rl_mu; neither is held while calling out.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "proto/log.h"
#include "proto/msgbuf.h"

#define RL_LINK_WAIT_US (5 * 1000000ull)
#define RL_TICK_US (100 * 1000ull)
#define RL_SLOTS_CHUNK 64
#define RL_SLOTS_MAX 65536

/* What a slot is doing. */
enum rl_state {
	RL_IDLE, /* free, or its user has its answer */
	RL_PLACING, /* a PLACE waits for OK or REJECT */
	RL_HTTP, /* an HTTP_REQ waits for its HTTP_RESP */
};

struct rl_slot {
	int used;
	enum rl_state state;
	pthread_cond_t cv;
	uint32_t sent_gen; /* link it went out on, 0 none */
	struct msg_place place; /* kept to send it again */
	uint32_t answer; /* message type, 0 none */
	uint32_t granted_gen;
	struct msg_place_ok ok;
	struct msg_place_reject reject;
	struct msg_place_wait wait;
	uint32_t waits;
	struct msg_http_resp hresp;
	char *hbody;
};

static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rl_wmu = PTHREAD_MUTEX_INITIALIZER;
static struct rl_slot **rl_slots;
static uint32_t rl_nslots;
static uint32_t rl_hint;
static int rl_fd = -1; /* current link (rl_wmu + rl_mu) */
static uint32_t rl_gen; /* bumped with every new link */
static int rl_up;
static uint64_t rl_down_since;
static int rl_pending = -1; /* from the main thread */
static int rl_stopping;
static int rl_wake[2] = {-1, -1};
static struct msgbuf rl_wmb; /* writer side, under rl_wmu */
static struct msgbuf rl_rmb; /* reader thread only */
static pthread_t rl_thread;
static int rl_started;

static struct rl_slot *
rl_slot(uint32_t i)
{
	return i < rl_nslots && rl_slots[i]->used ? rl_slots[i] : NULL;
}

/* Write one frame on the current link; -1 when there is none. */
static int
rl_send_locked(uint32_t type, uint32_t peerid, const void *data, size_t len)
{
	if (rl_fd == -1)
		return -1;
	if (msgbuf_send(&rl_wmb, type, peerid, -1, data, len) == -1) {
		log_warn("router link: send");
		return -1;
	}
	return 0;
}

/* Send (again) the PLACE of a slot unless it already went out on this link. */
static void
rl_send_place(uint32_t i)
{
	struct msg_place p;
	struct rl_slot *s;

	pthread_mutex_lock(&rl_wmu);
	pthread_mutex_lock(&rl_mu);
	s = rl_slot(i);
	if (s == NULL || s->state != RL_PLACING || !rl_up ||
	    s->sent_gen == rl_gen || s->answer != 0) {
		pthread_mutex_unlock(&rl_mu);
		pthread_mutex_unlock(&rl_wmu);
		return;
	}
	s->sent_gen = rl_gen;
	p = s->place;
	pthread_mutex_unlock(&rl_mu);
	(void)rl_send_locked(MSG_PLACE, i, &p, sizeof(p));
	pthread_mutex_unlock(&rl_wmu);
}

/*
 * Relayed requests sent on a link that is gone will never be answered:
 * every one waiting when the link is lost (all), else those sent on an
 * earlier link.
 */
static void
rl_fail_http(int all)
{
	struct rl_slot *s;
	uint32_t i;

	pthread_mutex_lock(&rl_mu);
	for (i = 0; i < rl_nslots; i++) {
		s = rl_slots[i];
		if (s->used && s->state == RL_HTTP && s->answer == 0 &&
		    (all || s->sent_gen != rl_gen)) {
			s->answer = (uint32_t)-1;
			pthread_cond_broadcast(&s->cv);
		}
	}
	pthread_mutex_unlock(&rl_mu);
}

/* Replace the current link by fd (-1: the link is lost). */
static void
rl_switch(int fd)
{
	int old, quiet;

	pthread_mutex_lock(&rl_wmu);
	pthread_mutex_lock(&rl_mu);
	quiet = rl_stopping;
	if (fd != -1 && rl_pending == fd)
		rl_pending = -1; /* taken: rl_up covers it from now */
	old = rl_fd;
	rl_fd = fd;
	rl_up = fd != -1;
	if (fd != -1)
		rl_gen++;
	else
		rl_down_since = api_now_us();
	msgbuf_clear(&rl_wmb);
	msgbuf_init(&rl_wmb, fd);
	pthread_mutex_unlock(&rl_mu);
	if (old != -1)
		close(old);
	pthread_mutex_unlock(&rl_wmu);
	msgbuf_clear(&rl_rmb);
	msgbuf_init(&rl_rmb, fd);
	if (fd == -1 && !quiet)
		log_warnx("router link lost; waiting for the router to come "
		          "back");
	else
		log_debug("router link %u up", rl_gen);
	rl_fail_http(fd == -1);
}

/* A new link: every placement still waiting goes out on it. */
static void
rl_resend_all(void)
{
	uint32_t i, n;

	pthread_mutex_lock(&rl_mu);
	n = rl_nslots;
	pthread_mutex_unlock(&rl_mu);
	for (i = 0; i < n; i++)
		rl_send_place(i);
}

/* A grant nobody waits for any more: give it back at once. */
static void
rl_stray_grant(const struct msg_place_ok *ok)
{
	struct msg_done d;

	memset(&d, 0, sizeof(d));
	memcpy(d.request_id, ok->request_id, sizeof(d.request_id));
	d.replica_id = ok->replica_id;
	d.outcome = OUTCOME_CANCELLED;
	d.http_status = 499;
	log_fields(LOG_DEBUG,
	    &(struct log_fields){
	        .request_id = ok->request_id, .node_id = ok->node_id},
	    "a grant nobody waits for any more was returned");
	pthread_mutex_lock(&rl_wmu);
	(void)rl_send_locked(MSG_DONE, 0, &d, sizeof(d));
	pthread_mutex_unlock(&rl_wmu);
}

static void
rl_on_place_ok(uint32_t peerid, struct msg_place_ok *ok)
{
	struct rl_slot *s;
	int stray = 1;

	MSG_TERMINATE(ok->request_id);
	MSG_TERMINATE(ok->node_id);
	MSG_TERMINATE(ok->node_name);
	MSG_TERMINATE(ok->address);
	MSG_TERMINATE(ok->http_address);
	MSG_TERMINATE(ok->token);
	MSG_TERMINATE(ok->backend);
	pthread_mutex_lock(&rl_mu);
	s = rl_slot(peerid);
	if (s != NULL && s->state == RL_PLACING && s->answer == 0 &&
	    strcmp(s->place.request_id, ok->request_id) == 0) {
		s->ok = *ok;
		s->answer = MSG_PLACE_OK;
		s->granted_gen = rl_gen;
		pthread_cond_broadcast(&s->cv);
		stray = 0;
	}
	pthread_mutex_unlock(&rl_mu);
	if (stray)
		rl_stray_grant(ok);
}

static void
rl_on_place_other(uint32_t type, uint32_t peerid, const void *data)
{
	const struct msg_place_reject *rej = data;
	const struct msg_place_wait *w = data;
	struct rl_slot *s;

	pthread_mutex_lock(&rl_mu);
	s = rl_slot(peerid);
	if (s == NULL || s->state != RL_PLACING || s->answer != 0 ||
	    strncmp(s->place.request_id,
	        type == MSG_PLACE_WAIT ? w->request_id : rej->request_id,
	        API_RID_MAX) != 0) {
		pthread_mutex_unlock(&rl_mu);
		return;
	}
	if (type == MSG_PLACE_WAIT) {
		s->wait = *w;
		s->waits++;
	} else {
		s->reject = *rej;
		MSG_TERMINATE(s->reject.code);
		MSG_TERMINATE(s->reject.message);
		s->answer = MSG_PLACE_REJECT;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&rl_mu);
}

static int
rl_on_http_resp(uint32_t peerid, const struct msg *m)
{
	struct msg_http_resp h;
	struct rl_slot *s;
	char *body;

	if (m->hdr.len < sizeof(h))
		return -1;
	memcpy(&h, m->data, sizeof(h));
	MSG_TERMINATE(h.content_type);
	if (h.body_len != m->hdr.len - sizeof(h))
		return -1;
	if ((body = malloc((size_t)h.body_len + 1)) == NULL)
		fatal("malloc");
	memcpy(body, m->data + sizeof(h), h.body_len);
	body[h.body_len] = '\0';
	pthread_mutex_lock(&rl_mu);
	s = rl_slot(peerid);
	if (s != NULL && s->state == RL_HTTP && s->answer == 0) {
		s->hresp = h;
		s->hbody = body;
		body = NULL;
		s->answer = MSG_HTTP_RESP;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&rl_mu);
	free(body);
	return 0;
}

/* One message from the router; -1 for a protocol error. */
static int
rl_dispatch(struct msg *m)
{
	struct msg_place_ok ok;
	struct msg_place_reject rej;
	struct msg_place_wait w;

	switch (m->hdr.type) {
	case MSG_PLACE_OK:
		if (msg_check_len(m, sizeof(ok)) == -1)
			return -1;
		memcpy(&ok, m->data, sizeof(ok));
		rl_on_place_ok(m->hdr.peerid, &ok);
		return 0;
	case MSG_PLACE_REJECT:
		if (msg_check_len(m, sizeof(rej)) == -1)
			return -1;
		memcpy(&rej, m->data, sizeof(rej));
		MSG_TERMINATE(rej.request_id);
		rl_on_place_other(m->hdr.type, m->hdr.peerid, &rej);
		return 0;
	case MSG_PLACE_WAIT:
		if (msg_check_len(m, sizeof(w)) == -1)
			return -1;
		memcpy(&w, m->data, sizeof(w));
		MSG_TERMINATE(w.request_id);
		MSG_TERMINATE(w.state);
		rl_on_place_other(m->hdr.type, m->hdr.peerid, &w);
		return 0;
	case MSG_HTTP_RESP:
		return rl_on_http_resp(m->hdr.peerid, m);
	default:
		log_warnx(
		    "router link: unexpected message type %u", m->hdr.type);
		return -1;
	}
}

/* Read what the link has; -1 when it is gone or broke the protocol. */
static int
rl_read(void)
{
	struct msg m;
	ssize_t n;
	int rc;

	n = msgbuf_read(&rl_rmb);
	if (n == 0)
		return -1;
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	while ((rc = msgbuf_get(&rl_rmb, &m)) == 1) {
		rc = rl_dispatch(&m);
		msg_free(&m);
		if (rc == -1)
			return -1;
	}
	if (rc == -1)
		log_warnx("router link: malformed message");
	return rc;
}

/* The reader thread: answers in, link changes. */
static void *
rl_main(void *arg)
{
	struct pollfd pfd[2];
	char buf[64];
	int fd;

	for (;;) {
		pfd[0].fd = rl_wake[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = rl_rmb.fd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("router link: poll");
		}
		if (pfd[0].revents & POLLIN) {
			while (read(rl_wake[0], buf, sizeof(buf)) > 0)
				;
			pthread_mutex_lock(&rl_mu);
			fd = rl_pending;
			if (rl_stopping) {
				rl_pending = -1;
				pthread_mutex_unlock(&rl_mu);
				if (fd != -1)
					close(fd);
				break;
			}
			pthread_mutex_unlock(&rl_mu);
			if (fd != -1) {
				rl_switch(fd);
				rl_resend_all();
				continue;
			}
		}
		if (pfd[1].fd != -1 && pfd[1].revents != 0 && rl_read() == -1)
			rl_switch(-1);
	}
	return NULL;
}

int
api_rlink_init(void)
{
	msgbuf_init(&rl_wmb, -1);
	msgbuf_init(&rl_rmb, -1);
	rl_down_since = api_now_us();
	if (pipe2(rl_wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("pipe2");
		return -1;
	}
	if ((errno = pthread_create(&rl_thread, NULL, rl_main, NULL)) != 0) {
		log_warn("router link thread");
		return -1;
	}
	rl_started = 1;
	return 0;
}

static void
rl_kick(void)
{
	char c = 1;

	if (write(rl_wake[1], &c, 1) == -1 && errno != EAGAIN)
		log_warn("router link wake");
}

void
api_rlink_set_fd(int fd)
{
	int old;

	pthread_mutex_lock(&rl_mu);
	old = rl_pending;
	rl_pending = fd;
	pthread_mutex_unlock(&rl_mu);
	if (old != -1)
		close(old);
	rl_kick();
}

void
api_rlink_stop(void)
{
	if (!rl_started)
		return;
	pthread_mutex_lock(&rl_mu);
	rl_stopping = 1;
	pthread_mutex_unlock(&rl_mu);
	rl_kick();
	pthread_join(rl_thread, NULL);
	rl_started = 0;
	rl_switch(-1);
}

int
api_rlink_up(void)
{
	int up;

	/* A link handed over but not yet taken by the reader counts. */
	pthread_mutex_lock(&rl_mu);
	up = rl_up || rl_pending != -1;
	pthread_mutex_unlock(&rl_mu);
	return up;
}

/* Make room for RL_SLOTS_CHUNK more slots (rl_mu held); 0 or -1. */
static int
rl_grow(void)
{
	struct rl_slot **v;
	pthread_condattr_t ca;
	uint32_t i, n = rl_nslots + RL_SLOTS_CHUNK;

	if (n > RL_SLOTS_MAX)
		return -1;
	if ((v = realloc(rl_slots, n * sizeof(*v))) == NULL)
		return -1;
	rl_slots = v;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (i = rl_nslots; i < n; i++) {
		if ((v[i] = calloc(1, sizeof(*v[i]))) == NULL)
			fatal("calloc");
		pthread_cond_init(&v[i]->cv, &ca);
	}
	pthread_condattr_destroy(&ca);
	rl_nslots = n;
	return 0;
}

int
api_rlink_slot_new(void)
{
	uint32_t i, k;
	int slot = -1;

	pthread_mutex_lock(&rl_mu);
	for (k = 0; k < rl_nslots; k++) {
		i = (rl_hint + k) % rl_nslots;
		if (!rl_slots[i]->used) {
			slot = (int)i;
			break;
		}
	}
	if (slot == -1 && rl_grow() == 0)
		slot = (int)(rl_nslots - RL_SLOTS_CHUNK);
	if (slot != -1) {
		rl_slots[slot]->used = 1;
		rl_slots[slot]->state = RL_IDLE;
		rl_slots[slot]->answer = 0;
		rl_hint = (uint32_t)slot + 1;
	}
	pthread_mutex_unlock(&rl_mu);
	return slot;
}

void
api_rlink_slot_free(int slot)
{
	struct rl_slot *s;

	pthread_mutex_lock(&rl_mu);
	if ((s = rl_slot((uint32_t)slot)) != NULL) {
		s->used = 0;
		s->state = RL_IDLE;
		s->answer = 0;
		free(s->hbody);
		s->hbody = NULL;
	}
	pthread_mutex_unlock(&rl_mu);
}

/* Wait on a slot's condition until the next tick or the deadline. */
static void
rl_wait(struct rl_slot *s, uint64_t deadline_us)
{
	uint64_t now = api_now_us(), until = now + RL_TICK_US;
	struct timespec ts;

	if (deadline_us < until)
		until = deadline_us;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)((until - now) / 1000000);
	ts.tv_nsec += (long)((until - now) % 1000000) * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	(void)pthread_cond_timedwait(&s->cv, &rl_mu, &ts);
}

/* Why a wait must end now (rl_mu held), or API_PLACE_OK to go on. */
static enum api_place_rc
rl_wait_check(uint64_t deadline_us, const int *abort_flag)
{
	uint64_t now = api_now_us();

	if (abort_flag != NULL && __atomic_load_n(abort_flag, __ATOMIC_ACQUIRE))
		return API_PLACE_CANCELLED;
	if (now >= deadline_us)
		return API_PLACE_TIMEOUT;
	if (!rl_up && now - rl_down_since >= RL_LINK_WAIT_US)
		return API_PLACE_DOWN;
	return API_PLACE_OK;
}

enum api_place_rc
api_rlink_place(int slot, const struct msg_place *p, uint64_t deadline_us,
    const int *abort_flag, struct api_grant *g)
{
	struct rl_slot *s;
	enum api_place_rc rc;
	int resend;

	pthread_mutex_lock(&rl_mu);
	if ((s = rl_slot((uint32_t)slot)) == NULL)
		fatalx("%s: bad slot %d", __func__, slot);
	s->state = RL_PLACING;
	s->place = *p;
	s->sent_gen = 0;
	s->answer = 0;
	s->waits = 0;
	pthread_mutex_unlock(&rl_mu);
	rl_send_place((uint32_t)slot);
	pthread_mutex_lock(&rl_mu);
	for (;;) {
		if (s->answer != 0) {
			rc = s->answer == MSG_PLACE_OK ? API_PLACE_OK
			                               : API_PLACE_REJECT;
			break;
		}
		if ((rc = rl_wait_check(deadline_us, abort_flag)) !=
		    API_PLACE_OK)
			break;
		resend = rl_up && s->sent_gen != rl_gen;
		if (resend) {
			pthread_mutex_unlock(&rl_mu);
			rl_send_place((uint32_t)slot);
			pthread_mutex_lock(&rl_mu);
			continue;
		}
		rl_wait(s, deadline_us);
	}
	g->ok = s->ok;
	g->reject = s->reject;
	g->gen = s->granted_gen;
	g->waits = s->waits;
	g->wait = s->wait;
	s->state = RL_IDLE;
	pthread_mutex_unlock(&rl_mu);
	return rc;
}

void
api_rlink_done(uint32_t gen, const struct msg_done *d)
{
	pthread_mutex_lock(&rl_wmu);
	if (gen == rl_gen)
		(void)rl_send_locked(MSG_DONE, 0, d, sizeof(*d));
	pthread_mutex_unlock(&rl_wmu);
}

void
api_rlink_send(uint32_t type, const void *data, size_t len)
{
	pthread_mutex_lock(&rl_wmu);
	if (rl_fd != -1)
		(void)rl_send_locked(type, 0, data, len);
	pthread_mutex_unlock(&rl_wmu);
}

void
api_rlink_replica_fail(uint32_t gen, const struct msg_replica_fail *f)
{
	pthread_mutex_lock(&rl_wmu);
	if (gen == rl_gen)
		(void)rl_send_locked(MSG_REPLICA_FAIL, 0, f, sizeof(*f));
	pthread_mutex_unlock(&rl_wmu);
}

/* Send a relayed request on the current link: 0, 1 no link, -1 error. */
static int
rl_send_http(
    int slot, const struct msg_http_req *h, const void *body, size_t len)
{
	struct rl_slot *s;
	char *buf;
	int rc = -1;

	if ((buf = malloc(sizeof(*h) + len)) == NULL)
		return -1;
	memcpy(buf, h, sizeof(*h));
	if (len > 0)
		memcpy(buf + sizeof(*h), body, len);
	pthread_mutex_lock(&rl_wmu);
	pthread_mutex_lock(&rl_mu);
	s = rl_slot((uint32_t)slot);
	s->state = RL_HTTP;
	s->answer = 0;
	s->sent_gen = rl_up ? rl_gen : 0;
	pthread_mutex_unlock(&rl_mu);
	if (s->sent_gen != 0)
		rc = rl_send_locked(
		    MSG_HTTP_REQ, (uint32_t)slot, buf, sizeof(*h) + len);
	else
		rc = 1;
	pthread_mutex_unlock(&rl_wmu);
	free(buf);
	return rc;
}

/*
 * Send a relayed request, waiting (as placements do) for a router link
 * when there is none yet: nothing was sent, so nothing can be applied
 * twice.  API_PLACE_OK once sent.
 */
static enum api_place_rc
rl_send_http_wait(int slot, const struct msg_http_req *h, const void *body,
    size_t len, uint64_t deadline_us)
{
	enum api_place_rc rc;
	int sent;

	while ((sent = rl_send_http(slot, h, body, len)) == 1) {
		pthread_mutex_lock(&rl_mu);
		if ((rc = rl_wait_check(deadline_us, NULL)) == API_PLACE_OK)
			rl_wait(rl_slot((uint32_t)slot), deadline_us);
		pthread_mutex_unlock(&rl_mu);
		if (rc != API_PLACE_OK)
			return rc;
	}
	return sent == 0 ? API_PLACE_OK : API_PLACE_DOWN;
}

enum api_place_rc
api_rlink_http(int slot, const struct msg_http_req *h, const void *body,
    size_t len, uint64_t deadline_us, struct msg_http_resp *resp, char **rbody)
{
	struct rl_slot *s;
	enum api_place_rc rc = API_PLACE_OK;

	*rbody = NULL;
	rc = rl_send_http_wait(slot, h, body, len, deadline_us);
	pthread_mutex_lock(&rl_mu);
	s = rl_slot((uint32_t)slot);
	while (rc == API_PLACE_OK && s->answer == 0) {
		if (api_now_us() >= deadline_us)
			rc = API_PLACE_TIMEOUT;
		else
			rl_wait(s, deadline_us);
	}
	if (rc == API_PLACE_OK && s->answer != MSG_HTTP_RESP)
		rc = API_PLACE_DOWN;
	if (rc == API_PLACE_OK) {
		*resp = s->hresp;
		*rbody = s->hbody;
		s->hbody = NULL;
	}
	s->state = RL_IDLE;
	pthread_mutex_unlock(&rl_mu);
	return rc;
}
