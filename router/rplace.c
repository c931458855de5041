/*
 * Placement requests from the api processes: warm placement, the
 * admission queues, cold loads, and exact in-flight accounting.
 *
 * A PLACE is answered at once (PLACE_OK, or PLACE_REJECT) or queued: the
 * api is told PLACE_WAIT and gets its PLACE_OK when capacity frees (a
 * DONE, a replica turning ready) or its PLACE_REJECT when the wait
 * passes its deadline (queue_wait when replicas are busy, load_wait while
 * a cold load runs).  Queued requests are served strictly in arrival
 * order (admit.h's fairness rule).
 *
 * One cold load per model at a time across every frontend: this router
 * takes the model's advisory lock (on the database thread) before it asks
 * a worker to load; a frontend that cannot take it waits for the
 * replica's "ready" event from the worker like everyone else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/bus.h"
#include "proto/event_catalog.h"
#include "proto/hash.h"
#include "proto/log.h"
#include "router/rdb.h"
#include "router/rlerr.h"
#include "router/rsql.h"
#include "router/router.h"

#define INSTALL_TIMEOUT_MS (15 * 60 * 1000)
#define UNLOAD_TIMEOUT_MS 30000
#define COLD_ATTEMPTS 3
#define REMOTE_RECHECK_MS 2000
#define MIN_CHECK_MS 1000

/* A cold load in progress (one per model). */
enum cold_phase {
	COLD_WAITING, /* nothing fits now: retried on every tick */
	COLD_LOCKING, /* taking the model lock, writing the job row */
	COLD_REMOTE, /* another frontend holds the lock and loads */
	COLD_EVICTING, /* unloading victims first */
	COLD_INSTALLING, /* the worker is fetching and loading */
};

struct cold {
	uint32_t model;
	uint32_t node;
	uint32_t replica;
	enum cold_phase phase;
	int attempts;
	int have_lock;
	int victims_left;
	int evict_failed; /* a victim's unload failed */
	uint32_t exclude; /* node that failed last */
	uint64_t since;
	uint32_t progress;
	int64_t job_id; /* load_jobs row */
	char node_id[64];
	char error[256];
	char request_id[RT_ID_MAX]; /* the request that caused it, or "" */
	struct rt_cold plan;
	struct cold *next;
};

static struct cold *colds;

void
rp_init(void)
{
}

/*
 * The request id the client knows, from a PLACE's: the api sends a
 * client's X-Request-Id with "." and 8 hex digits appended (clients may
 * reuse ids, the router's must be unique: api/http.c) and the ids it
 * makes up ("req-" and 32 hex digits) as they are.  Events and journal
 * records carry the client's, so `journalctl REQUEST_ID=<X-Request-Id>`
 * finds them.
 */
static void
client_rid(const char *place_id, char *out, size_t len)
{
	const char *dot = strrchr(place_id, '.');
	size_t n = strlen(place_id);

	if (dot != NULL && place_id + n - dot == 9 &&
	    strspn(dot + 1, "0123456789abcdef") == 8)
		n = (size_t)(dot - place_id);
	snprintf(out, len, "%.*s", (int)n, place_id);
}

static struct cold *
cold_find(uint32_t model)
{
	struct cold *c;

	for (c = colds; c != NULL; c = c->next)
		if (c->model == model)
			return c;
	return NULL;
}

static void
cold_free(struct cold *x)
{
	struct cold **pp;

	for (pp = &colds; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	free(x);
}

static void reject(uint32_t owner, uint32_t peerid, const char *rid,
    unsigned status, unsigned retry, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void
reject(uint32_t owner, uint32_t peerid, const char *rid, unsigned status,
    unsigned retry, const char *code, const char *fmt, ...)
{
	struct msg_place_reject r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	snprintf(r.request_id, sizeof(r.request_id), "%s", rid);
	r.http_status = status;
	r.retry_after_s = retry;
	snprintf(r.code, sizeof(r.code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(r.message, sizeof(r.message), fmt, ap);
	va_end(ap);
	r_send(owner, MSG_PLACE_REJECT, peerid, &r, sizeof(r));
}

/* Answer PLACE_OK for replica slot and count the request. */
static int
grant(uint32_t owner, uint32_t peerid, const char *rid, uint32_t slot)
{
	struct rt_replica *r = rt_view_replica(R.view, slot);
	struct rt_node *n = rt_view_node(R.view, r->node);
	struct rnode *rn = n->udata;
	struct msg_place_ok ok;

	if (rt_view_inflight_add(R.view, owner, rid, slot, r_now()) == -1) {
		log_warnx("request %s placed twice (errno %d)", rid, errno);
		return -1;
	}
	memset(&ok, 0, sizeof(ok));
	snprintf(ok.request_id, sizeof(ok.request_id), "%s", rid);
	ok.replica_id = ((uint64_t)r->gen << 32) | slot;
	snprintf(ok.node_id, sizeof(ok.node_id), "%s", n->id);
	snprintf(ok.node_name, sizeof(ok.node_name), "%s", n->name);
	snprintf(ok.address, sizeof(ok.address), "%s", r->address);
	if (rn != NULL) {
		snprintf(ok.http_address, sizeof(ok.http_address), "%s",
		    rn->http_address);
		snprintf(ok.token, sizeof(ok.token), "%s", rn->backend_token);
	}
	snprintf(ok.backend, sizeof(ok.backend), "%s",
	    rt_view_model(R.view, r->model)->backend);
	r_send(owner, MSG_PLACE_OK, peerid, &ok, sizeof(ok));
	return 0;
}

static void cold_start(uint32_t model, uint32_t exclude, const char *rid);
static void cold_start_why(
    uint32_t model, uint32_t exclude, const char *why, const char *rid);

/* cookie = peerid | exclude node << 32, for queued requests. */
static uint64_t
cookie_make(uint32_t peerid, uint32_t exclude)
{
	return (uint64_t)exclude << 32 | peerid;
}

static void
queue_wait_msg(uint32_t owner, uint32_t peerid, const char *rid, uint32_t pos,
    uint32_t model)
{
	struct cold *c = cold_find(model);
	struct msg_place_wait w;

	memset(&w, 0, sizeof(w));
	snprintf(w.request_id, sizeof(w.request_id), "%s", rid);
	w.queue_position = pos;
	w.progress_pct = c ? c->progress : 0;
	snprintf(w.state, sizeof(w.state), "%s",
	    c == NULL                  ? "queued"
	    : c->phase == COLD_WAITING ? "waiting-for-memory"
	                               : "loading");
	r_send(owner, MSG_PLACE_WAIT, peerid, &w, sizeof(w));
}

/* Queue a request; answers WAIT or the 429. */
static void
enqueue(uint32_t owner, uint32_t peerid, const struct msg_place *p,
    uint32_t model, uint32_t exclude, const struct rt_warm *w)
{
	const struct conf_frontend *f = &R.cf.frontend;
	uint32_t wait_ms, pos, retry;
	uint64_t now = r_now();

	wait_ms =
	    w->status == RT_WARM_BUSY ? f->queue_wait_ms : f->load_wait_ms;
	if (p->wait_ms != 0 && p->wait_ms < wait_ms)
		wait_ms = p->wait_ms;
	if (rt_admit_push(R.admit, model, owner, p->request_id,
	        cookie_make(peerid, exclude), now, now + wait_ms, w->capacity,
	        &pos, &retry) == -1) {
		if (errno == EBUSY)
			reject(owner, peerid, p->request_id, 429, retry,
			    "rate_limit_exceeded",
			    "too many requests queued for "
			    "model %s; retry in %u s",
			    p->model, retry);
		else
			reject(owner, peerid, p->request_id, 500, 0,
			    "internal_error", "cannot queue the request");
		return;
	}
	queue_wait_msg(owner, peerid, p->request_id, pos, model);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rp_place_decide(
    uint32_t owner, uint32_t peerid, const struct msg_place *p);

/* A PLACE, timed for localai_placement_duration_seconds. */
void
rp_place(uint32_t owner, uint32_t peerid, const struct msg_place *p)
{
	double t0 = mono_s();

	rp_place_decide(owner, peerid, p);
	(void)metrics_observe(
	    R.metrics, MET_PLACEMENT_DURATION, NULL, mono_s() - t0);
}

static void
rp_place_decide(uint32_t owner, uint32_t peerid, const struct msg_place *p)
{
	uint32_t model, exclude = RT_NONE;
	struct rt_warm w;

	if ((model = rt_view_model_find(R.view, p->model)) == RT_NONE) {
		reject(owner, peerid, p->request_id, 404, 0, "model_not_found",
		    "The model `%s` does not exist", p->model);
		return;
	}
	if (p->exclude_node[0] != '\0')
		exclude = rt_view_node_find(R.view, p->exclude_node);
	/* Fairness: join a non-empty queue even if a slot looks free. */
	if (rt_admit_length(R.admit, model) == 0 &&
	    rt_place_warm(R.view, model, exclude, r_now(), &w) == RT_WARM_OK) {
		(void)grant(owner, peerid, p->request_id, w.replica);
		if (w.cold) /* scale out */
			cold_start(model, RT_NONE, p->request_id);
		return;
	}
	if (rt_admit_length(R.admit, model) != 0)
		(void)rt_place_warm(R.view, model, exclude, r_now(), &w);
	if (w.cold)
		cold_start(model, RT_NONE, p->request_id);
	/* Nothing can serve it, nor will: say so now, not after load_wait. */
	if (w.status == RT_WARM_NONE && w.loading == 0 &&
	    cold_find(model) == NULL) {
		if (rp_lerr_msg(model) != NULL)
			reject(owner, peerid, p->request_id, 503, 30,
			    "service_unavailable", "%s", rp_lerr_msg(model));
		else
			reject(owner, peerid, p->request_id, 503, 30,
			    "service_unavailable",
			    "no node can run model %s now (none is healthy, "
			    "approved, matches its selector and has memory)",
			    p->model);
		return;
	}
	enqueue(owner, peerid, p, model, exclude, &w);
}

/*
 * Serve every model's queue as far as capacity allows.  Our own DONEs
 * and replicas turning ready serve a model's queue at once; capacity also
 * frees when another frontend's snapshot shows its requests ended (or
 * expires), which this catches: after each snapshot, and on every tick.
 */
void
rp_serve_queues(void)
{
	uint32_t m;

	for (m = 0; m < R.view->models.n; m++)
		if (rt_view_model(R.view, m) != NULL &&
		    rt_admit_length(R.admit, m) > 0)
			rp_capacity_changed(m);
}

/* Serve queued requests of a model while placement succeeds. */
void
rp_capacity_changed(uint32_t model)
{
	struct rt_waiter_info wi;
	struct rt_warm w;
	uint32_t exclude;

	while (rt_admit_peek(R.admit, model, &wi) == 1) {
		exclude = (uint32_t)(wi.cookie >> 32);
		if (rt_place_warm(R.view, model, exclude, r_now(), &w) !=
		    RT_WARM_OK) {
			if (w.cold)
				cold_start(model, RT_NONE, wi.id);
			return;
		}
		(void)rt_admit_pop(R.admit, model, &wi);
		(void)grant(wi.owner, (uint32_t)wi.cookie, wi.id, w.replica);
	}
}

/*
 * Every waiter of the model gets the same rejection, unless ready
 * replicas can still serve them: a scale-out (or a replicas_min load)
 * that cannot happen is no reason to fail requests that existing
 * replicas will serve; they keep their place and their deadline.
 */
static void
fail_waiters(uint32_t model, unsigned status, unsigned retry, const char *msg)
{
	struct rt_waiter_info wi;
	struct rt_warm w;

	if (rt_place_warm(R.view, model, RT_NONE, r_now(), &w) != RT_WARM_NONE)
		return;
	while (rt_admit_pop(R.admit, model, &wi) == 1)
		reject(wi.owner, (uint32_t)wi.cookie, wi.id, status, retry,
		    status == 503 ? "service_unavailable" : "model_error", "%s",
		    msg);
}

void
rp_done(uint32_t owner, const struct msg_done *d)
{
	uint32_t replica;
	struct rt_replica *r;

	if (rt_view_inflight_done(
	        R.view, owner, d->request_id, r_now(), &replica) == -1) {
		log_warnx("DONE for unknown request %s", d->request_id);
		return;
	}
	if (replica == RT_NONE ||
	    (r = rt_view_replica(R.view, replica)) == NULL)
		return;
	r->last_used = r_now();
	if (d->outcome == OUTCOME_OK)
		rt_admit_observe(
		    R.admit, r->model, (uint32_t)(d->duration_us / 1000));
	rp_capacity_changed(r->model);
}

void
rp_replica_fail(uint32_t owner, const struct msg_replica_fail *f)
{
	uint32_t node = rt_view_node_find(R.view, f->node_id);
	struct rt_node *n;
	char rid[RT_ID_MAX];

	if (node == RT_NONE)
		return;
	n = rt_view_node(R.view, node);
	client_rid(f->request_id, rid, sizeof(rid));
	if (rt_nodestate_conn_failure(&n->state, &R.view->health, r_now()) ==
	    RT_HEALTH_SUSPECT) {
		rn_event_rid(EVENT_NODE_SUSPECT, n->id, NULL, "api", rid,
		    json_pack("{s:s,s:i}", "reason", f->reason, "grpc_status",
		        f->grpc_status));
		/* Tell the other frontends, so that none of them sends a
		 * request there before its own first failure. */
		rn_publish_node(n->id, "suspect");
	}
}

void
rp_owner_gone(uint32_t owner)
{
	uint32_t n = rt_view_inflight_release_owner(R.view, owner, r_now());
	uint32_t q = rt_admit_release_owner(R.admit, owner);
	uint32_t m;

	if (n > 0 || q > 0)
		log_info("api link %u closed: released %u request(s) in flight "
		         "and %u queued",
		    owner, n, q);
	for (m = 0; m < R.view->models.n; m++)
		if (rt_view_model(R.view, m) != NULL)
			rp_capacity_changed(m);
}

/* ---- cold loads ----------------------------------------------------------- */

/* The files a model's replica needs: its model file when it is one. */
struct model_file {
	char name[256];
	uint64_t size;
	char sha256[65];
};

static int
model_file(const struct conf_model *cm, struct model_file *f)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", R.cf.models_path, cm->model);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0; /* not a file: a voice name, a built-in model */
	snprintf(f->name, sizeof(f->name), "%s", cm->model);
	f->size = (uint64_t)st.st_size;
	return 1;
}

static const struct conf_model *
conf_of(uint32_t model)
{
	return conf_model_find(&R.models, rt_view_model(R.view, model)->name);
}

struct cold_job {
	struct rdb_job j;
	struct cold *c;
	char model[CONF_NAME_MAX];
	char node_id[64];
	char file_path[600]; /* to hash, "" when no file */
	char sha256[65];
	int want_lock; /* 1 take, 0 release */
	int got_lock;
	char state[16]; /* replica row state to write */
	char address[RT_ADDR_MAX]; /* the replica's, once ready */
	char error[256];
	int64_t job_id;
};

/* Database thread: hash the file (cached by the caller), take the model
 * lock, record the load job and the replica row. */
static int
cold_lock_run(PGconn *c, struct rdb_job *j)
{
	struct cold_job *cj = (struct cold_job *)j;
	const char *p[3] = {cj->model, cj->node_id, R.cf.instance_id};
	PGresult *r;
	int st = RDB_OK;

	if (cj->file_path[0] != '\0' && cj->sha256[0] == '\0' &&
	    rsql_sha256_file(cj->file_path, cj->sha256) == -1) {
		snprintf(j->error, sizeof(j->error), "cannot read %s",
		    cj->file_path);
		return RDB_ERROR;
	}
	cj->got_lock = rdb_lock_try(rdb_lock_key("model-load", cj->model));
	if (cj->got_lock == -1)
		return RDB_UNAVAILABLE;
	if (cj->got_lock == 0)
		return RDB_CONFLICT;
	if ((r = rdb_exec(c, j, &st, RSQL_LOADJOB_ABANDON, 1, p)) == NULL)
		goto fail;
	PQclear(r);
	if ((r = rdb_exec(c, j, &st, RSQL_LOADJOB_INSERT, 3, p)) == NULL)
		goto fail;
	cj->job_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if ((r = rdb_exec(c, j, &st, RSQL_REPLICA_UPSERT_LOADING, 2, p)) ==
	    NULL)
		goto fail;
	PQclear(r);
	return RDB_OK;
fail:
	(void)rdb_lock_release(rdb_lock_key("model-load", cj->model));
	cj->got_lock = 0;
	return st;
}

/* Database thread: record the outcome and release the model lock. */
static int
cold_finish_run(PGconn *c, struct rdb_job *j)
{
	struct cold_job *cj = (struct cold_job *)j;
	char id[32];
	const char *p[5] = {
	    cj->model, cj->node_id, cj->state, cj->error, cj->address};
	const char *pj[3] = {id, cj->state, cj->error};
	PGresult *r;
	int st = RDB_OK;

	snprintf(id, sizeof(id), "%lld", (long long)cj->job_id);
	if ((r = rdb_exec(c, j, &st, RSQL_REPLICA_SET_STATE, 5, p)) != NULL)
		PQclear(r);
	if (cj->job_id > 0 &&
	    (r = rdb_exec(c, j, &st, RSQL_LOADJOB_FINISH, 3, pj)) != NULL)
		PQclear(r);
	(void)rdb_lock_release(rdb_lock_key("model-load", cj->model));
	return st;
}

static void
cold_finish_done(struct rdb_job *j)
{
	free(j);
}

static void
cold_record(struct cold *c, const char *state, const char *error)
{
	struct cold_job *cj;

	if (!c->have_lock)
		return;
	if ((cj = calloc(1, sizeof(*cj))) == NULL)
		return;
	snprintf(cj->model, sizeof(cj->model), "%s",
	    rt_view_model(R.view, c->model)->name);
	snprintf(cj->node_id, sizeof(cj->node_id), "%s", c->node_id);
	snprintf(cj->state, sizeof(cj->state), "%s", state);
	snprintf(cj->error, sizeof(cj->error), "%s", error ? error : "");
	if (c->replica != RT_NONE && rt_view_replica(R.view, c->replica))
		snprintf(cj->address, sizeof(cj->address), "%s",
		    rt_view_replica(R.view, c->replica)->address);
	cj->job_id = c->job_id;
	cj->j.run = cold_finish_run;
	cj->j.done = cold_finish_done;
	rdb_submit(&cj->j);
	c->have_lock = 0;
}

/*
 * The load failed on that node: try another (bounded), else give up.
 * Either way the waiters that get no replica learn why it failed, in
 * the words of the backend (or worker) that failed it.
 */
static void
cold_failed(struct cold *c, const char *why)
{
	uint32_t model = c->model, node = c->node,
	         ns = rt_view_node_find(R.view, c->node_id);
	int attempts = c->attempts;
	const char *name;
	char msg[400], rid[RT_ID_MAX];

	(void)metrics_inc(R.metrics, MET_COLD_LOADS,
	    METRICS_L(rt_view_model(R.view, model)->name, METRICS_LOAD_FAILED));
	rn_event_rid(EVENT_REPLICA_FAILED, c->node_id,
	    rt_view_model(R.view, model)->name, "router", c->request_id,
	    json_pack("{s:s}", "error", why));
	if (c->replica != RT_NONE) {
		struct rt_replica *r = rt_view_replica(R.view, c->replica);

		snprintf(r->error, sizeof(r->error), "%s", why);
		(void)rt_view_replica_event(
		    R.view, c->replica, RT_REPLICA_EV_FAILED, r_now());
	}
	cold_record(c, "failed", why);
	name = ns != RT_NONE ? rt_view_node(R.view, ns)->name : c->node_id;
	snprintf(msg, sizeof(msg), "model '%s' failed to load on node '%s': %s",
	    rt_view_model(R.view, model)->name, name, why);
	rp_lerr_set(
	    rt_view_model(R.view, model)->name, msg, c->node_id, name, why);
	snprintf(rid, sizeof(rid), "%s", c->request_id);
	cold_free(c);
	if (attempts < COLD_ATTEMPTS && rt_admit_length(R.admit, model) > 0) {
		cold_start_why(model, node, msg, NULL);
		if ((c = cold_find(model)) != NULL) {
			c->attempts = attempts + 1;
			snprintf(
			    c->request_id, sizeof(c->request_id), "%s", rid);
		}
		return;
	}
	fail_waiters(model, 503, 30, msg);
}

static void
cold_install_reply(void *arg, int status, const char *data, size_t len)
{
	struct cold *c = arg;
	const char *addr, *err;
	json_error_t je;
	json_t *o = NULL;
	char why[300];

	if (status != 0) {
		snprintf(why, sizeof(why), "worker did not answer: %s",
		    bus_strerror(status));
		cold_failed(c, why);
		return;
	}
	o = json_loadb(data, len, 0, &je);
	addr = json_string_value(json_object_get(o, "address"));
	err = json_string_value(json_object_get(o, "error"));
	if (!json_is_true(json_object_get(o, "success")) || addr == NULL) {
		snprintf(why, sizeof(why), "%s", err ? err : "install failed");
		json_decref(o);
		cold_failed(c, why);
		return;
	}
	rt_view_replica_set_address(R.view, c->replica, addr,
	    rt_view_model(R.view, c->model)->revision);
	(void)rt_view_replica_event(
	    R.view, c->replica, RT_REPLICA_EV_READY, r_now());
	(void)metrics_inc(R.metrics, MET_COLD_LOADS,
	    METRICS_L(rt_view_model(R.view, c->model)->name, METRICS_LOAD_OK));
	(void)metrics_observe(
	    R.metrics, MET_LOAD_DURATION, NULL, (r_now() - c->since) / 1000.0);
	rn_event_rid(EVENT_REPLICA_READY, c->node_id,
	    rt_view_model(R.view, c->model)->name, "router", c->request_id,
	    json_pack("{s:s,s:I}", "address", addr, "load_ms",
	        (json_int_t)(r_now() - c->since)));
	cold_record(c, "ready", NULL);
	rp_lerr_clear(rt_view_model(R.view, c->model)->name);
	json_decref(o);
	{
		uint32_t model = c->model;

		cold_free(c);
		rp_capacity_changed(model);
	}
}

/* Ask the chosen worker to install the backend and load the model. */
static void
cold_install(struct cold *c, const char *sha256)
{
	const struct conf_model *cm = conf_of(c->model);
	struct model_file f;
	json_t *req, *opts, *files = json_array();
	char subj[160], tok[80];

	opts = json_pack("{s:s}", "Model", cm->model);
	if (cm->context_size)
		json_object_set_new(
		    opts, "ContextSize", json_integer(cm->context_size));
	if (cm->threads)
		json_object_set_new(opts, "Threads", json_integer(cm->threads));
	if (cm->n_options > 0) {
		json_t *o = json_array();
		uint32_t i;

		for (i = 0; i < cm->n_options; i++)
			json_array_append_new(o, json_string(cm->options[i]));
		json_object_set_new(opts, "Options", o);
	}
	if (model_file(cm, &f))
		json_array_append_new(
		    files, json_pack("{s:s,s:I,s:s}", "name", f.name, "size",
		               (json_int_t)f.size, "sha256", sha256));
	req = json_pack("{s:s,s:s,s:o,s:o}", "backend", cm->backend, "model_id",
	    cm->name, "files", files, "options", opts);
	c->phase = COLD_INSTALLING;
	bus_token(tok, sizeof(tok), c->node_id);
	snprintf(subj, sizeof(subj), "nodes.%s.backend.install", tok);
	rb_request(subj, req, INSTALL_TIMEOUT_MS, cold_install_reply, c);
	json_decref(req);
}

struct unload_ctx {
	struct cold *c;
	uint32_t victim;
	char sha256[65];
};

/*
 * A victim's unload answered.  The victim leaves the view either way (if
 * its backend still runs, the worker's heartbeats bring it back).  The
 * load goes on once every node answered (an answer "nothing running" is
 * fine: the memory is free); a node that did not answer may still hold
 * the memory, so the load fails here (the next request may try
 * elsewhere).
 */
static void
cold_unload_reply(void *arg, int status, const char *data, size_t len)
{
	struct unload_ctx *u = arg;
	struct cold *c = u->c;
	struct rt_replica *r = rt_view_replica(R.view, u->victim);
	int ok = status == 0;

	if (r != NULL && r->state == RT_REPLICA_STOPPING) {
		if (ok) {
			(void)metrics_inc(R.metrics, MET_EVICTIONS, NULL);
			rn_event(EVENT_REPLICA_EVICTED,
			    rt_view_node(R.view, r->node)->id,
			    rt_view_model(R.view, r->model)->name, "router",
			    NULL);
		}
		rt_view_replica_remove(R.view, u->victim);
	}
	if (!ok)
		c->evict_failed = 1;
	if (--c->victims_left == 0) {
		if (c->evict_failed)
			cold_failed(c, "the node did not answer the eviction");
		else
			cold_install(c, u->sha256);
	}
	free(u);
}

static void
cold_evict(struct cold *c, const char *sha256)
{
	struct unload_ctx *u;
	char subj[160], tok[80];
	json_t *req;
	uint32_t i;

	c->phase = COLD_EVICTING;
	c->victims_left = (int)c->plan.n_victims;
	for (i = 0; i < c->plan.n_victims; i++) {
		struct rt_replica *r =
		    rt_view_replica(R.view, c->plan.victims[i]);

		if ((u = calloc(1, sizeof(*u))) == NULL)
			fatal("calloc");
		u->c = c;
		u->victim = c->plan.victims[i];
		snprintf(u->sha256, sizeof(u->sha256), "%s", sha256);
		req = json_pack("{s:s,s:s}", "model_name",
		    rt_view_model(R.view, r->model)->name, "address",
		    r->address);
		bus_token(tok, sizeof(tok), c->node_id);
		snprintf(subj, sizeof(subj), "nodes.%s.model.unload", tok);
		rb_request(subj, req, UNLOAD_TIMEOUT_MS, cold_unload_reply, u);
		json_decref(req);
	}
}

static void
cold_lock_done(struct rdb_job *j)
{
	struct cold_job *cj = (struct cold_job *)j;
	struct cold *c = cj->c;

	if (j->status == RDB_CONFLICT) {
		/* Another frontend loads it: wait for the worker's event. */
		if (c->replica != RT_NONE)
			rt_view_replica_remove(R.view, c->replica);
		c->replica = RT_NONE;
		c->phase = COLD_REMOTE;
		c->since = r_now();
	} else if (j->status != RDB_OK) {
		char why[300];

		snprintf(why, sizeof(why), "%s",
		    j->status == RDB_UNAVAILABLE
		        ? "the database is unavailable (cold loads need "
		          "PostgreSQL)"
		        : j->error);
		if (c->replica != RT_NONE)
			rt_view_replica_remove(R.view, c->replica);
		c->replica = RT_NONE;
		c->attempts = COLD_ATTEMPTS; /* not the node's fault */
		cold_failed(c, why);
	} else {
		uint32_t ns = rt_view_node_find(R.view, c->node_id);

		/* Only the frontend that holds the model's lock loads it (and
		 * says so): the others wait for its replica. */
		rn_event_rid(EVENT_REPLICA_LOADING, c->node_id, cj->model,
		    "router", c->request_id,
		    json_pack("{s:s,s:b,s:I}", "node_name",
		        ns == RT_NONE ? "" : rt_view_node(R.view, ns)->name,
		        "evict", c->plan.status == RT_COLD_EVICT, "job_id",
		        (json_int_t)cj->job_id));
		c->have_lock = 1;
		c->job_id = cj->job_id;
		if (c->plan.status == RT_COLD_EVICT && c->plan.n_victims > 0)
			cold_evict(c, cj->sha256);
		else
			cold_install(c, cj->sha256);
	}
	free(cj);
}

/*
 * Decide where to load model and start doing it.  rid (or NULL) is the
 * request that asked for it: its id goes on the load's events.
 */
static void
cold_start(uint32_t model, uint32_t exclude, const char *rid)
{
	cold_start_why(model, exclude, NULL, rid);
}

/*
 * The same; why (or NULL) is what the waiters are told when no node can
 * be tried: the previous attempt's failure, which says more than "no
 * node can run this model".
 */
static void
cold_start_why(
    uint32_t model, uint32_t exclude, const char *why, const char *rid)
{
	const struct conf_model *cm;
	struct model_file f;
	struct cold_job *cj;
	struct cold *c;
	uint32_t slot;

	if ((c = cold_find(model)) != NULL && c->phase != COLD_WAITING)
		return;
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->model = model;
		c->replica = RT_NONE;
		c->since = r_now();
		c->next = colds;
		colds = c;
	}
	/* A load that waited for memory keeps the request that started it. */
	if (c->request_id[0] == '\0' && rid != NULL)
		client_rid(rid, c->request_id, sizeof(c->request_id));
	switch (rt_place_cold(R.view, model, exclude, r_now(), &c->plan)) {
	case RT_COLD_NONE:
		cold_free(c);
		if (why == NULL)
			why = rp_lerr_msg(model);
		fail_waiters(model, 503, 30,
		    why != NULL ? why
		                : "no node can run this model now (none is "
		                  "healthy, matches its selector and has "
		                  "memory)");
		return;
	case RT_COLD_WAIT:
		c->phase = COLD_WAITING;
		return;
	default:
		break;
	}
	if ((slot = rt_place_cold_commit(R.view, model, &c->plan, r_now())) ==
	    RT_NONE) {
		cold_free(c);
		return;
	}
	c->replica = slot;
	c->node = c->plan.node;
	c->exclude = exclude;
	snprintf(c->node_id, sizeof(c->node_id), "%s",
	    rt_view_node(R.view, c->node)->id);
	c->phase = COLD_LOCKING;
	cm = conf_of(model);
	if ((cj = calloc(1, sizeof(*cj))) == NULL)
		fatal("calloc");
	cj->c = c;
	snprintf(cj->model, sizeof(cj->model), "%s", cm->name);
	snprintf(cj->node_id, sizeof(cj->node_id), "%s", c->node_id);
	if (model_file(cm, &f)) {
		snprintf(cj->file_path, sizeof(cj->file_path), "%s/%s",
		    R.cf.models_path, cm->model);
		if (cm->have_sha256)
			hash_hex(cm->sha256, 32, cj->sha256);
		else
			rsql_sha256_cached(cj->file_path, cj->sha256);
	}
	cj->j.run = cold_lock_run;
	cj->j.done = cold_lock_done;
	rdb_submit(&cj->j);
}

json_t *
rp_prewarm(uint32_t model)
{
	const char *name = rt_view_model(R.view, model)->name;
	struct cold *c;

	cold_start(model, RT_NONE, NULL);
	if ((c = cold_find(model)) == NULL)
		return json_pack("{s:b,s:s,s:s}", "success", 0, "model", name,
		    "error", "no node can load this model now");
	return json_pack("{s:b,s:s,s:s,s:s}", "success", 1, "model", name,
	    "node_id", c->node_id, "state",
	    c->phase == COLD_WAITING ? "waiting-for-memory" : "loading");
}

/*
 * A replica of node n is ready again (its backend restarted and reloaded):
 * the connection failures that made the node suspect are over, and
 * requests need not wait for its next heartbeats (nodestate.h).
 */
static void
replica_back(uint32_t n)
{
	struct rt_node *node = rt_view_node(R.view, n);

	if (rt_nodestate_replica_ready(
	        &node->state, &R.view->health, r_now()) == RT_HEALTH_CLEARED)
		log_info("node %s healthy again: a replica is ready", node->id);
}

/*
 * A replica changed state, as a worker reported it (event or heartbeat).
 * Cheap when nothing changed: heartbeats repeat every replica every second.
 */
void
rp_replica_update(const char *node_id, const char *model, const char *address,
    const char *state, const char *error)
{
	uint32_t m, n, slot;
	enum rt_replica_event ev;
	struct rt_replica *r;
	struct cold *c;

	if (node_id == NULL || model == NULL || state == NULL ||
	    (m = rt_view_model_find(R.view, model)) == RT_NONE ||
	    (n = rt_view_node_find(R.view, node_id)) == RT_NONE)
		return;
	slot = rt_view_replica_find(R.view, m, n);
	if (strcmp(state, "ready") == 0)
		ev = RT_REPLICA_EV_READY;
	else if (strcmp(state, "failed") == 0)
		ev = RT_REPLICA_EV_FAILED;
	else if (strcmp(state, "stopping") == 0)
		ev = RT_REPLICA_EV_STOP;
	else
		ev = RT_REPLICA_EV_LOADING;
	if (slot == RT_NONE) {
		/* A replica we did not place (another frontend's, or from
		 * before our start) that is ready joins the view. */
		if (ev != RT_REPLICA_EV_READY || address == NULL)
			return;
		slot = rt_view_replica_add(R.view, m, n, RT_REPLICA_READY,
		    rt_view_model(R.view, m)->revision, address, r_now());
		if (slot == RT_NONE)
			return;
		if ((c = cold_find(m)) != NULL && c->phase == COLD_REMOTE)
			cold_free(c);
		rp_lerr_clear(model);
		rb_snapshots_reapply();
		rp_capacity_changed(m);
		return;
	}
	r = rt_view_replica(R.view, slot);
	/* A failed replica's process being stopped (the worker cleans up
	 * after a failed load): the failure stays, with its reason and the
	 * backoff that keeps placement off this node (place.c); whether a
	 * heartbeat caught the worker between the two was a race. */
	if (ev == RT_REPLICA_EV_STOP && r->state == RT_REPLICA_FAILED)
		return;
	/* What the page shows: why it failed, until it loads again. */
	if (ev == RT_REPLICA_EV_FAILED && error != NULL && *error != '\0')
		snprintf(r->error, sizeof(r->error), "%s", error);
	else if (ev != RT_REPLICA_EV_FAILED)
		r->error[0] = '\0';
	/* Our own cold load answers through its install reply. */
	if ((c = cold_find(m)) != NULL && c->replica == slot)
		return;
	if (ev == RT_REPLICA_EV_READY && address != NULL &&
	    strcmp(r->address, address) != 0)
		rt_view_replica_set_address(R.view, slot, address, r->revision);
	if (rt_view_replica_event(R.view, slot, ev, r_now()) == 1) {
		log_fields(ev == RT_REPLICA_EV_FAILED ? 4 : 6,
		    &(struct log_fields){.node_id = node_id,
		        .model = model,
		        .event = "replica_state"},
		    "replica of %s on %s: %s%s%s", model, node_id, state,
		    error && *error ? ": " : "", error ? error : "");
		if (ev == RT_REPLICA_EV_STOP)
			rt_view_replica_remove(R.view, slot);
		if (ev == RT_REPLICA_EV_READY) {
			rp_lerr_clear(model);
			replica_back(n);
			rp_capacity_changed(m);
		}
	}
}

/*
 * A worker's heartbeat says how far a replica's load got (percent): kept
 * on the replica and on our cold load of it, for the admin API and for
 * the "loading (N%)" answers to waiting requests.
 */
void
rp_replica_progress(const char *node_id, const char *model, int progress)
{
	uint32_t m, n, slot;
	struct cold *c;

	if (node_id == NULL || model == NULL ||
	    (m = rt_view_model_find(R.view, model)) == RT_NONE ||
	    (n = rt_view_node_find(R.view, node_id)) == RT_NONE ||
	    (slot = rt_view_replica_find(R.view, m, n)) == RT_NONE)
		return;
	if (progress < 0)
		progress = 0;
	if (progress > 100)
		progress = 100;
	rt_view_replica(R.view, slot)->progress = (uint32_t)progress;
	if ((c = cold_find(m)) != NULL && c->replica == slot)
		c->progress = (uint32_t)progress;
}

/*
 * A worker's report of one replica (an entry of a heartbeat's "replicas",
 * or a localai.events.replica message): its state, and its load progress
 * when it says.
 */
void
rp_replica_report(const char *node_id, json_t *e)
{
	const char *model = json_string_value(json_object_get(e, "model"));
	json_t *pr = json_object_get(e, "progress");
	json_int_t v;

	rp_replica_update(node_id, model,
	    json_string_value(json_object_get(e, "address")),
	    json_string_value(json_object_get(e, "state")),
	    json_string_value(json_object_get(e, "error")));
	if (json_is_integer(pr)) {
		v = json_integer_value(pr);
		rp_replica_progress(node_id, model,
		    v < 0     ? 0
		    : v > 100 ? 100
		              : (int)v);
	}
}

static const char *
cold_phase_name(enum cold_phase p)
{
	switch (p) {
	case COLD_WAITING:
		return "waiting";
	case COLD_LOCKING:
		return "locking";
	case COLD_REMOTE:
		return "remote";
	case COLD_EVICTING:
		return "evicting";
	default:
		return "installing";
	}
}

/*
 * The model's load jobs as the admin API shows them, from memory: the
 * load in progress here (at most one per model: waiting for memory, or
 * loading with its node, progress and age; "remote" when another
 * frontend holds the model's lock and loads it), then the last failed
 * load while it is remembered (until a replica is ready, at most
 * RP_LERR_KEEP_MS).
 */
json_t *
rp_model_loads(uint32_t model)
{
	json_t *list = json_array();
	struct rp_lerr *e = rp_lerr_recent(model);
	struct cold *c = cold_find(model);
	uint64_t now = r_now();
	uint32_t ns;

	if (c != NULL) {
		ns = c->phase == COLD_WAITING || c->phase == COLD_REMOTE
		         ? RT_NONE
		         : rt_view_node_find(R.view, c->node_id);
		json_array_append_new(list,
		    json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:s}", "state",
		        c->phase == COLD_WAITING ? "waiting-for-memory"
		                                 : "loading",
		        "phase", cold_phase_name(c->phase), "node_id",
		        ns == RT_NONE ? "" : c->node_id, "node_name",
		        ns == RT_NONE ? "" : rt_view_node(R.view, ns)->name,
		        "progress", (int)c->progress, "elapsed_ms",
		        (json_int_t)(now - c->since), "started_at_ms",
		        (json_int_t)(r_wall_ms() - (int64_t)(now - c->since)),
		        "job_id", (json_int_t)c->job_id, "request_id",
		        c->request_id));
	}
	if (e != NULL)
		json_array_append_new(list,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "state",
		        "failed", "node_id", e->node_id, "node_name",
		        e->node_name, "error", e->why, "message", e->msg,
		        "failed_ms_ago", (json_int_t)(now - e->at),
		        "failed_at_ms",
		        (json_int_t)(r_wall_ms() - (int64_t)(now - e->at))));
	return list;
}

/*
 * replicas_min is kept, not only reached when requests come: the health
 * leader (one frontend, so that N frontends do not race for the same
 * loads; the model lock would serialise them anyway) starts a load for
 * every model below its minimum that has none in progress, once a
 * second.  Nothing else is done for a model that cannot get one now.
 */
static void
rp_keep_min(uint64_t now)
{
	static uint64_t last;
	struct rt_model *m;
	struct rt_warm w;
	uint32_t i;

	if (!R.leader || now - last < MIN_CHECK_MS)
		return;
	last = now;
	for (i = 0; i < R.view->models.n; i++) {
		if ((m = rt_view_model(R.view, i)) == NULL ||
		    m->replicas_min == 0 || cold_find(i) != NULL)
			continue;
		(void)rt_place_warm(R.view, i, RT_NONE, now, &w);
		if (w.cold && w.live < m->replicas_min)
			cold_start(i, RT_NONE, NULL);
	}
}

/* Timers: expired waiters, models waiting for memory, remote loads. */
void
rp_tick(void)
{
	struct rt_waiter_info wi;
	uint64_t now = r_now();
	struct cold *c, *next;

	while (rt_admit_expire(R.admit, now, &wi) == 1) {
		c = cold_find(wi.model);
		if (c != NULL)
			reject(wi.owner, (uint32_t)wi.cookie, wi.id, 503, 10,
			    "model_loading",
			    "model %s is still loading (%u%%); "
			    "retry later",
			    rt_view_model(R.view, wi.model)->name, c->progress);
		else
			reject(wi.owner, (uint32_t)wi.cookie, wi.id, 503,
			    rt_admit_retry_after(R.admit, wi.model, 1),
			    "service_unavailable",
			    "all replicas of %s are busy",
			    rt_view_model(R.view, wi.model)->name);
	}
	for (c = colds; c != NULL; c = next) {
		next = c->next;
		if (c->phase == COLD_WAITING &&
		    rt_admit_length(R.admit, c->model) > 0)
			cold_start(c->model, RT_NONE, NULL);
		else if (c->phase == COLD_WAITING)
			cold_free(c);
		else if (c->phase == COLD_REMOTE &&
		         now - c->since > REMOTE_RECHECK_MS) {
			/* The other frontend may have died: try the lock. */
			c->phase = COLD_WAITING;
			cold_start(c->model, RT_NONE, NULL);
		}
	}
	rp_keep_min(now);
	rp_serve_queues();
}
