/*
 * dataplane: placement, the backend call, DONE, retries and failover, and
 * the watchdog that enforces each request's deadlines.
 *
 * api_dp_call() is the loop every inference request goes through:
 *	PLACE (attempt n, avoiding the node that just failed)
 *	  REJECT	-> the router's status and message, with Retry-After
 *	  OK		-> run the call on the replica; then exactly one DONE
 *	run failed with a retryable error, output not yet sent (or the
 *	caller can continue its output elsewhere) -> REPLICA_FAIL, DONE
 *	(UNAVAILABLE), a short pause with jitter, PLACE attempt n + 1, at
 *	most frontend.retries times.
 * A busy backend (BC_EBUSY) is retried without REPLICA_FAIL: the replica
 * is healthy, only full.
 *
 * Stale channels: bclient caches one gRPC channel per address.  After a
 * backend process restarts (same port, or the router learns a new one),
 * the cached channel may still be in its reconnect backoff and fail a
 * call at once with "failed to connect", or still hold the dead
 * process's connection and fail the first write ("Broken pipe"),
 * although the backend is back.  So the first connection failure of a
 * request before any output (BC_ECONNREFUSED, or BC_EUNAVAILABLE before
 * the first token) drops that channel (bc_forget), reports the attempt
 * DONE (UNAVAILABLE) without REPLICA_FAIL and places again, not
 * excluding the node, at once and outside the retry budget; the router
 * answers with the replica's current address.  Only a second failure, on
 * a fresh channel, is the replica's fault.  The price when the backend
 * really is gone: one more quick attempt (refused at once, unless its
 * host vanished from the network: then gRPC's connect timeout).  A
 * channel gRPC could not even create (a lame channel: "Failed to create
 * ... channel", an unusable address) is a connection failure like a
 * refused one, but never worth the fresh-channel try.
 *
 * Text generation (api_dp_generate) streams tokens as SSE.  Before the
 * first token nothing has been sent, so a failure is an ordinary HTTP
 * error.  After it, a broken stream is continued on another replica by
 * replaying the prompt plus every byte generated so far (completion
 * style, with the remaining token budget), so the client sees one stream
 * without duplicates; when that is impossible the stream ends with an
 * error event.  Models whose backend applies its own chat template
 * (use_tokenizer_template) cannot be continued that way.
 *
 * The watchdog thread wakes every DP_TICK_MS: it aborts requests past
 * their deadline (whole request, or first token while one is awaited) and
 * requests whose client went away while the connection was suspended
 * (poll for POLLRDHUP on its socket; MHD itself notices only when it next
 * writes).  Aborting fires the request's bclient cancel handle, which ends
 * the gRPC call at once, so the backend stops generating.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "proto/log.h"

#define DP_TICK_MS 100
#define DP_PLACE_SLACK_MS 10000
/*
 * A busy replica's request waits this long before it is placed again:
 * two of the routers' 100 ms in-flight snapshot periods, so that the
 * router's view then includes the other frontends' requests that filled
 * the replica (the cross-frontend last-slot race, docs/DESIGN.md §10).
 */
#define DP_BUSY_BACKOFF_MS 200

static pthread_mutex_t dp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dp_cv;
static struct api_req *dp_head;
static int dp_count;
static int dp_stopping;
static pthread_t dp_thread;
static int dp_started;

/* ---- the watchdog ------------------------------------------------------- */

void
api_dp_watch(struct api_req *r)
{
	pthread_mutex_lock(&dp_mu);
	r->wprev = NULL;
	r->wnext = dp_head;
	if (dp_head != NULL)
		dp_head->wprev = r;
	dp_head = r;
	dp_count++;
	pthread_mutex_unlock(&dp_mu);
}

void
api_dp_unwatch(struct api_req *r)
{
	pthread_mutex_lock(&dp_mu);
	if (r->wprev != NULL)
		r->wprev->wnext = r->wnext;
	else
		dp_head = r->wnext;
	if (r->wnext != NULL)
		r->wnext->wprev = r->wprev;
	r->wprev = r->wnext = NULL;
	dp_count--;
	pthread_mutex_unlock(&dp_mu);
}

int
api_dp_active(void)
{
	int n;

	pthread_mutex_lock(&dp_mu);
	n = dp_count;
	pthread_mutex_unlock(&dp_mu);
	return n;
}

void
api_dp_stop_all(void)
{
	struct api_req *r;

	pthread_mutex_lock(&dp_mu);
	for (r = dp_head; r != NULL; r = r->wnext)
		api_req_stop(r, API_STOP_SHUTDOWN);
	pthread_mutex_unlock(&dp_mu);
}

/*
 * Did the client of a suspended connection hang up?  Only while it is
 * suspended: MHD cannot close (and reuse) the socket then.
 */
static int
dp_client_gone(struct api_req *r)
{
	struct pollfd pfd;
	int gone = 0;

	pthread_mutex_lock(&r->mu);
	if (r->suspended && !r->closed && r->sock != -1) {
		pfd.fd = r->sock;
		pfd.events = POLLRDHUP;
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			gone = 1;
	}
	pthread_mutex_unlock(&r->mu);
	return gone;
}

static void
dp_check(struct api_req *r, uint64_t now)
{
	uint64_t ft =
	    __atomic_load_n(&r->first_token_deadline, __ATOMIC_RELAXED);

	if (api_req_stopped(r))
		return;
	if (now >= r->deadline)
		api_req_stop(r, API_STOP_DEADLINE);
	else if (ft != 0 && now >= ft)
		api_req_stop(r, API_STOP_FIRST_TOKEN);
	else if (dp_client_gone(r))
		api_req_stop(r, API_STOP_GONE);
	else
		return;
	log_fields(LOG_INFO,
	    &(struct log_fields){
	        .request_id = r->request_id, .model = r->model},
	    "request stopped: %s",
	    api_req_stopped(r) == API_STOP_GONE ? "the client went away"
	    : api_req_stopped(r) == API_STOP_FIRST_TOKEN
	        ? "no first token in time"
	        : "request timeout");
}

static void *
dp_main(void *arg)
{
	struct api_req *r;
	struct timespec ts;

	pthread_mutex_lock(&dp_mu);
	while (!dp_stopping) {
		for (r = dp_head; r != NULL; r = r->wnext)
			dp_check(r, api_now_us());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += DP_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&dp_cv, &dp_mu, &ts);
	}
	pthread_mutex_unlock(&dp_mu);
	return NULL;
}

int
api_dp_init(void)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&dp_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&dp_thread, NULL, dp_main, NULL)) != 0) {
		log_warn("watchdog thread");
		return -1;
	}
	dp_started = 1;
	return 0;
}

void
api_dp_stop(void)
{
	if (!dp_started)
		return;
	pthread_mutex_lock(&dp_mu);
	dp_stopping = 1;
	pthread_cond_signal(&dp_cv);
	pthread_mutex_unlock(&dp_mu);
	pthread_join(dp_thread, NULL);
	dp_started = 0;
}

/* ---- errors --------------------------------------------------------------- */

/* An error for a request that was stopped (enum api_stop); 0 if it was not. */
static int
dp_stop_error(
    struct api_req *r, struct openai_error *out, unsigned *retry_after)
{
	switch (api_req_stopped(r)) {
	case API_STOP_GONE:
		openai_error_set(out, 499, "invalid_request_error",
		    "client_closed", NULL, "the client closed the connection");
		return 1;
	case API_STOP_FIRST_TOKEN:
		openai_error_timeout(out, "first token");
		return 1;
	case API_STOP_DEADLINE:
		openai_error_timeout(out, "request");
		return 1;
	case API_STOP_SHUTDOWN:
		openai_error_overloaded(out, "the server is shutting down");
		*retry_after = 1;
		return 1;
	default:
		return 0;
	}
}

void
api_dp_error(struct api_req *r, const struct bc_error *e,
    struct openai_error *out, unsigned *retry_after)
{
	*retry_after = 0;
	if (dp_stop_error(r, out, retry_after))
		return;
	switch (e->kind) {
	case BC_ECONNREFUSED:
		openai_error_set(out, 503, "server_error",
		    "service_unavailable", NULL,
		    "cannot connect to any replica of the model: %s", e->msg);
		*retry_after = 1;
		break;
	case BC_EUNAVAILABLE:
	case BC_EBUSY:
		openai_error_set(out, 503, "server_error",
		    "service_unavailable", NULL,
		    "no replica of the model could serve the request: %s",
		    e->msg);
		*retry_after = 1;
		break;
	case BC_EDEADLINE:
		openai_error_timeout(out, "request");
		break;
	case BC_EINVAL:
	case BC_ETOOBIG:
		openai_error_set(out, 400, "invalid_request_error",
		    "invalid_request", NULL,
		    "the backend refused the request: "
		    "%s",
		    e->msg);
		break;
	case BC_EUNIMPL:
		openai_error_set(out, 400, "invalid_request_error",
		    "unsupported", NULL,
		    "the model's backend does not support "
		    "this endpoint");
		break;
	case BC_EUNAUTH:
		openai_error_set(out, 502, "server_error", "upstream_error",
		    NULL, "the backend refused the node's credentials");
		break;
	default:
		openai_error_set(out, 500, "server_error", "backend_error",
		    NULL, "the backend failed: %s", e->msg);
		break;
	}
}

/* The router said no: its status, code and message, OpenAI-shaped. */
static void
dp_reject_error(struct api_call *c, const struct msg_place_reject *rej)
{
	int st = (int)rej->http_status;

	if (st < 400 || st > 599)
		st = 503;
	if (st == 404 && strcmp(rej->code, "model_not_found") == 0)
		openai_error_model_not_found(&c->err, c->r->model);
	else
		openai_error_set(&c->err, st,
		    st == 429  ? "rate_limit_error"
		    : st < 500 ? "invalid_request_error"
		               : "server_error",
		    rej->code[0] != '\0' ? rej->code : "service_unavailable",
		    NULL, "%s",
		    rej->message[0] != '\0'
		        ? rej->message
		        : "the request cannot be placed now");
	c->retry_after = rej->retry_after_s;
}

static void
dp_place_error(
    struct api_call *c, enum api_place_rc rc, const struct api_grant *g)
{
	struct api_req *r = c->r;

	c->retry_after = 0;
	switch (rc) {
	case API_PLACE_REJECT:
		dp_reject_error(c, &g->reject);
		return;
	case API_PLACE_DOWN:
		openai_error_overloaded(&c->err, "the router is unavailable");
		c->retry_after = 1;
		return;
	case API_PLACE_CANCELLED:
		if (dp_stop_error(r, &c->err, &c->retry_after))
			return;
		/* FALLTHROUGH */
	default:
		if (g->waits > 0 && strcmp(g->wait.state, "queued") != 0)
			openai_error_set(&c->err, 503, "server_error",
			    "model_loading", NULL,
			    "model %s is still loading "
			    "(%" PRIu32 " %%); retry later",
			    r->model, g->wait.progress_pct);
		else
			openai_error_timeout(&c->err, "queue");
		c->retry_after = 5;
		return;
	}
}

/* ---- the placement loop --------------------------------------------------- */

static void
dp_place_msg(struct api_call *c, struct msg_place *p, const char *exclude)
{
	struct api_req *r = c->r;
	uint64_t now = api_now_us(), left;

	memset(p, 0, sizeof(*p));
	snprintf(p->request_id, sizeof(p->request_id), "%s", r->place_id);
	snprintf(p->model, sizeof(p->model), "%s", r->model);
	snprintf(p->endpoint, sizeof(p->endpoint), "%s", c->endpoint);
	snprintf(p->exclude_node, sizeof(p->exclude_node), "%s", exclude);
	p->prefix_hash = c->prefix_hash;
	p->attempt = c->attempt;
	left = r->deadline > now ? (r->deadline - now) / 1000 : 1;
	p->wait_ms =
	    left > UINT32_MAX ? UINT32_MAX : (uint32_t)(left ? left : 1);
}

/* How long we wait for the router's answer ourselves. */
static uint64_t
dp_place_deadline(const struct api_req *r)
{
	const struct conf_frontend *f = &r->cfg->conf.frontend;
	uint64_t w = f->queue_wait_ms > f->load_wait_ms ? f->queue_wait_ms
	                                                : f->load_wait_ms,
	         d;

	d = api_now_us() + (w + DP_PLACE_SLACK_MS) * 1000;
	return d < r->deadline ? d : r->deadline;
}

static uint32_t
dp_outcome(const struct api_req *r, int rc, const struct bc_error *e)
{
	if (rc == 0)
		return OUTCOME_OK;
	switch (api_req_stopped(r)) {
	case API_STOP_GONE:
	case API_STOP_SHUTDOWN:
		return OUTCOME_CANCELLED;
	case API_STOP_FIRST_TOKEN:
	case API_STOP_DEADLINE:
		return OUTCOME_TIMEOUT;
	default:
		break;
	}
	switch (e->kind) {
	case BC_ECONNREFUSED:
	case BC_EUNAVAILABLE:
	case BC_EBUSY:
		return OUTCOME_UNAVAILABLE;
	case BC_EDEADLINE:
		return OUTCOME_TIMEOUT;
	case BC_ECANCELLED:
		return OUTCOME_CANCELLED;
	default:
		return OUTCOME_ERROR;
	}
}

/* A replica failed under us (not our own abort): tell the router. */
static int
dp_replica_failed(const struct api_req *r, int rc, const struct bc_error *e)
{
	return rc != 0 && !api_req_stopped(r) &&
	       (e->kind == BC_ECONNREFUSED || e->kind == BC_EUNAVAILABLE);
}

/*
 * REPLICA_FAIL when the replica failed (not for a stale channel: see the
 * top of the file), then the attempt's DONE.
 */
static void
dp_finish_attempt(struct api_call *c, const struct api_grant *g, int rc,
    const struct bc_error *e, uint64_t t0, int stale)
{
	struct api_req *r = c->r;
	struct msg_replica_fail f;
	struct msg_done d;

	if (!stale && dp_replica_failed(r, rc, e)) {
		memset(&f, 0, sizeof(f));
		snprintf(f.request_id, sizeof(f.request_id), "%s", r->place_id);
		f.replica_id = g->ok.replica_id;
		snprintf(f.node_id, sizeof(f.node_id), "%s", g->ok.node_id);
		f.grpc_status = e->grpc_status;
		snprintf(f.reason, sizeof(f.reason), "%s", e->msg);
		api_rlink_replica_fail(g->gen, &f);
		log_fields(LOG_INFO,
		    &(struct log_fields){.request_id = r->request_id,
		        .model = r->model,
		        .node_id = g->ok.node_id},
		    "replica %s on %s failed: %s", g->ok.address,
		    g->ok.node_name, e->msg);
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.request_id, sizeof(d.request_id), "%s", r->place_id);
	d.replica_id = g->ok.replica_id;
	d.outcome = dp_outcome(r, rc, e);
	d.prompt_tokens = c->prompt_tokens;
	d.completion_tokens = c->completion_tokens;
	d.http_status = rc == 0                          ? 200
	                : d.outcome == OUTCOME_CANCELLED ? 499
	                : d.outcome == OUTCOME_TIMEOUT   ? 504
	                                                 : 503;
	d.ttft_us = c->ttft_us;
	d.duration_us = api_now_us() - t0;
	api_rlink_done(g->gen, &d);
	api_metrics_attempt(r->model, &d);
}

/* What the attempts of one request share (api_dp_call). */
struct dp_try {
	char exclude[64]; /* node to avoid on the next PLACE */
	int refreshed; /* a possibly stale channel was dropped already */
	int busy; /* the last attempt's backend was full */
};

/*
 * gRPC turns a channel it cannot create (an address it cannot use) into
 * a "lame" channel whose calls fail with UNKNOWN "Failed to create secure
 * client channel", even with insecure credentials.  Nothing reached a
 * backend: it is a connection failure (retryable elsewhere, the node
 * suspect), not a backend error (HTTP 500).  1 when e was one.
 */
static int
dp_channel_failed(struct bc_error *e)
{
	if (e->kind != BC_EBACKEND ||
	    strstr(e->msg, "Failed to create") == NULL ||
	    strstr(e->msg, "channel") == NULL)
		return 0;
	e->kind = BC_ECONNREFUSED;
	return 1;
}

/* May this failure be a stale cached channel?  (See the top.) */
static int
dp_stale_channel(
    const struct api_call *c, const struct dp_try *t, const struct bc_error *e)
{
	if (t->refreshed || api_req_stopped(c->r))
		return 0;
	if (e->kind == BC_ECONNREFUSED)
		return !c->started || c->can_continue;
	return e->kind == BC_EUNAVAILABLE && !c->started;
}

static int
dp_retryable(const struct api_call *c, const struct bc_error *e)
{
	if (api_req_stopped(c->r) || !bc_is_retryable(e))
		return 0;
	return !c->started || c->can_continue;
}

/* Pause before the next attempt; 0, or -1 when the request was stopped. */
static int
dp_backoff(struct api_call *c, const struct dp_try *t)
{
	uint32_t rnd, ms;
	uint64_t until;

	api_random(&rnd, sizeof(rnd));
	ms = api_backoff_ms(c->attempt + 1, rnd);
	if (t->busy && ms < DP_BUSY_BACKOFF_MS)
		ms = DP_BUSY_BACKOFF_MS;
	until = api_now_us() + (uint64_t)ms * 1000;
	while (api_now_us() < until) {
		if (api_req_stopped(c->r))
			return -1;
		usleep(5000);
	}
	return api_req_stopped(c->r) ? -1 : 0;
}

static void
dp_attempt_reset(struct api_call *c)
{
	c->prompt_tokens = 0;
	c->completion_tokens = 0;
	c->ttft_us = 0;
}

/*
 * One placement and one call: -1 stop, 0 done, 1 try again, 2 try again
 * at once (a stale channel was dropped).
 */
static int
dp_attempt(struct api_call *c, int slot, struct dp_try *t, int *rc)
{
	struct api_req *r = c->r;
	struct api_grant g;
	struct bc_error e;
	struct msg_place p;
	enum api_place_rc prc;
	uint64_t t0;
	int lame, stale;

	dp_place_msg(c, &p, t->exclude);
	memset(&g, 0, sizeof(g));
	prc = api_rlink_place(slot, &p, dp_place_deadline(r), &r->abort, &g);
	if (prc != API_PLACE_OK) {
		dp_place_error(c, prc, &g);
		return -1;
	}
	api_metrics_in_flight(r->model, 1);
	dp_attempt_reset(c);
	memset(&e, 0, sizeof(e));
	t0 = api_now_us();
	*rc = c->run(c, &g.ok, &e);
	lame = *rc != 0 && dp_channel_failed(&e);
	stale = *rc != 0 && !lame && dp_stale_channel(c, t, &e);
	if (lame || stale)
		bc_forget(g.ok.address);
	dp_finish_attempt(c, &g, *rc, &e, t0, stale);
	if (*rc == 0)
		return 0;
	if (stale) {
		t->refreshed = 1;
		t->exclude[0] = '\0';
		log_fields(LOG_INFO,
		    &(struct log_fields){.request_id = r->request_id,
		        .model = r->model,
		        .node_id = g.ok.node_id},
		    "replica %s on %s: %s; placing again on a fresh channel",
		    g.ok.address, g.ok.node_name, e.msg);
		api_metrics_retry("stale_channel", c->started);
		return 2;
	}
	if (!dp_retryable(c, &e) ||
	    c->attempt >= r->cfg->conf.frontend.retries) {
		api_dp_error(r, &e, &c->err, &c->retry_after);
		return -1;
	}
	/*
	 * A failed replica's node is avoided.  A busy one's is not: it is
	 * healthy, and may hold the model's only replica; the router, whose
	 * view includes the other frontends' load by the time we ask again,
	 * places elsewhere or queues the request until a slot frees.
	 */
	t->busy = e.kind == BC_EBUSY;
	snprintf(
	    t->exclude, sizeof(t->exclude), "%s", t->busy ? "" : g.ok.node_id);
	api_metrics_retry(e.kind == BC_EDEADLINE ? "timeout"
	                  : e.kind == BC_EBUSY   ? "busy"
	                                         : "unavailable",
	    c->started);
	return 1;
}

int
api_dp_call(struct api_call *c)
{
	struct dp_try t;
	int slot, rc = -1, more;

	if ((slot = api_rlink_slot_new()) == -1) {
		openai_error_overloaded(
		    &c->err, "too many requests in progress");
		c->retry_after = 1;
		return -1;
	}
	memset(&t, 0, sizeof(t));
	for (c->attempt = 0;; c->attempt++) {
		more = dp_attempt(c, slot, &t, &rc);
		rc = more == 0 ? rc : -1;
		if (more == 2) {
			c->attempt--; /* outside the retry budget */
			continue;
		}
		if (more != 1)
			break;
		if (dp_backoff(c, &t) == -1) {
			(void)dp_stop_error(c->r, &c->err, &c->retry_after);
			break;
		}
	}
	api_rlink_slot_free(slot);
	return rc;
}

void
api_dp_opts(struct api_req *r, const struct msg_place_ok *ok, struct bc_opts *o)
{
	uint64_t now = api_now_us();

	memset(o, 0, sizeof(*o));
	o->token = ok->token;
	o->timeout_ms =
	    r->deadline > now ? (int64_t)((r->deadline - now) / 1000) : 1;
	if (o->timeout_ms <= 0)
		o->timeout_ms = 1;
	o->cancel = r->cancel;
}

void
api_dp_reply_error(const struct api_call *c)
{
	api_reply_error(c->r, &c->err);
	c->r->reply.retry_after = c->retry_after;
}
