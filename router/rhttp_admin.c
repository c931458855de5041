/*
 * The admin API (admin key) and the node status changes shared with the
 * worker routes (drain, deregister).  See rhttp.c for the routes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "agent/bus.h"
#include "proto/event_catalog.h"
#include "proto/log.h"
#include "router/rdb.h"
#include "router/rhttp.h"
#include "router/rsql.h"
#include "router/router.h"

#define ADMIN_BUS_TIMEOUT_MS 30000
#define ADMIN_INSTALL_TIMEOUT_MS (15 * 60 * 1000)

struct status_job {
	struct rdb_job j;
	uint32_t owner, peerid;
	char id[64];
	char name[RT_NAME_MAX];
	char action[16];
	char status[16];
	char actor[16]; /* "admin" or "node" */
};

static const char *
status_sql(const char *action)
{
	if (strcmp(action, "drain") == 0)
		return RSQL_NODE_DRAIN;
	if (strcmp(action, "resume") == 0)
		return RSQL_NODE_RESUME;
	if (strcmp(action, "approve") == 0)
		return RSQL_NODE_APPROVE;
	if (strcmp(action, "deregister") == 0)
		return RSQL_NODE_DEREGISTER;
	return RSQL_NODE_DELETE;
}

static int
status_run(PGconn *c, struct rdb_job *j)
{
	struct status_job *s = (struct status_job *)j;
	const char *p[1] = {s->id};
	PGresult *r;
	int st = RDB_OK;

	if (rdb_simple(c, j, &st, "BEGIN") == -1)
		return st;
	if ((r = rdb_exec(c, j, &st, status_sql(s->action), 1, p)) == NULL)
		goto fail;
	if (PQntuples(r) != 1) {
		PQclear(r);
		PQclear(PQexec(c, "ROLLBACK"));
		return RDB_NOTFOUND;
	}
	snprintf(s->status, sizeof(s->status), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	if (strcmp(s->action, "deregister") == 0) {
		if ((r = rdb_exec(c, j, &st, RSQL_REPLICA_DELETE_NODE, 1, p)) ==
		    NULL)
			goto fail;
		PQclear(r);
	}
	if (rdb_simple(c, j, &st, "COMMIT") == -1)
		goto fail;
	return RDB_OK;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return st;
}

/* Apply the committed change to our view, announce it, answer. */
static void
status_done(struct rdb_job *j)
{
	struct status_job *s = (struct status_job *)j;
	uint32_t slot = rt_view_node_find(R.view, s->id);
	struct rt_nodestate *ns;

	if (j->status != RDB_OK) {
		rh_error(s->owner, s->peerid,
		    j->status == RDB_NOTFOUND ? 404 : 503,
		    j->status == RDB_NOTFOUND ? "not_found"
		                              : "database_unavailable",
		    j->status == RDB_NOTFOUND
		        ? "node not found"
		        : "the database is unavailable; retry");
		free(s);
		return;
	}
	if (slot != RT_NONE) {
		ns = &rt_view_node(R.view, slot)->state;
		if (strcmp(s->action, "drain") == 0)
			(void)rt_nodestate_drain(ns);
		else if (strcmp(s->action, "resume") == 0)
			(void)rt_nodestate_resume(ns);
		else if (strcmp(s->action, "approve") == 0)
			(void)rt_nodestate_approve(ns);
		else if (strcmp(s->action, "deregister") == 0) {
			rt_nodestate_set_offline(ns);
			rt_view_node_clear_replicas(R.view, slot);
		} else {
			free(rn_get(slot));
			rt_view_node(R.view, slot)->udata = NULL;
			rt_view_node_remove(R.view, slot);
		}
	}
	rn_event(strcmp(s->action, "delete") == 0    ? EVENT_NODE_REMOVED
	         : strcmp(s->action, "approve") == 0 ? EVENT_NODE_APPROVED
	         : strcmp(s->action, "drain") == 0   ? EVENT_NODE_DRAINING
	         : strcmp(s->action, "resume") == 0  ? EVENT_NODE_RESUMED
	                                             : EVENT_NODE_OFFLINE,
	    s->id, NULL, s->actor,
	    json_pack("{s:s,s:s}", "name", s->name, "action", s->action));
	rn_publish_node(s->id, s->action);
	rh_reply_json(s->owner, s->peerid, 200,
	    json_pack("{s:s,s:s,s:b}", "id", s->id, "status",
	        strcmp(s->action, "delete") == 0 ? "removed" : s->status,
	        "success", 1));
	free(s);
}

void
rh_node_status(struct rh_req *q, uint32_t slot, const char *action)
{
	struct status_job *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("calloc");
	s->owner = q->owner;
	s->peerid = q->peerid;
	snprintf(s->id, sizeof(s->id), "%s", rt_view_node(R.view, slot)->id);
	snprintf(
	    s->name, sizeof(s->name), "%s", rt_view_node(R.view, slot)->name);
	snprintf(s->action, sizeof(s->action), "%s", action);
	snprintf(s->actor, sizeof(s->actor), "%s",
	    rh_is_admin(q->h) ? "admin" : "node");
	s->j.run = status_run;
	s->j.done = status_done;
	rdb_submit(&s->j);
}

/* One node as the admin API shows it. */
json_t *
rh_node_json(uint32_t slot)
{
	struct rt_node *n = rt_view_node(R.view, slot);
	struct rnode *rn = n->udata;
	uint64_t now = r_now();
	const char *status;

	status = rt_node_status_name(rt_nodestate_status(&n->state));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:O,s:I,s:I,s:I,s:I,"
	                 "s:I,s:I,s:i,s:i,s:i,s:I,s:O,s:s,s:s}",
	    "id", n->id, "name", n->name, "node_type",
	    rn ? rn->node_type : "backend", "address", rn ? rn->address : "",
	    "http_address", rn ? rn->http_address : "", "status", status,
	    "suspect", rt_nodestate_suspect(&n->state, &R.view->health, now),
	    "labels", rn && rn->labels ? rn->labels : json_object(),
	    "total_ram", (json_int_t)n->total[RT_MEM_RAM], "available_ram",
	    (json_int_t)n->free[RT_MEM_RAM], "reserved_ram",
	    (json_int_t)n->reserved[RT_MEM_RAM], "total_vram",
	    (json_int_t)n->total[RT_MEM_VRAM], "available_vram",
	    (json_int_t)n->free[RT_MEM_VRAM], "reserved_vram",
	    (json_int_t)n->reserved[RT_MEM_VRAM], "in_flight", (int)n->inflight,
	    "max_concurrency", (int)n->max_concurrency, "models_loaded",
	    (int)n->n_loaded, "last_heartbeat_ms_ago",
	    (json_int_t)(n->state.last_heartbeat
	                     ? (int64_t)(now - n->state.last_heartbeat)
	                     : -1),
	    "backends", rn && rn->backends ? rn->backends : json_array(),
	    "gpu_vendor", rn ? rn->gpu_vendor : "", "created_at",
	    rn ? rn->created_at : "");
}

static void
admin_list(struct rh_req *q)
{
	json_t *list = json_array();
	uint32_t i;

	for (i = 0; i < R.view->nodes.n; i++)
		if (rt_view_node(R.view, i) != NULL)
			json_array_append_new(list, rh_node_json(i));
	rh_reply_json(q->owner, q->peerid, 200, list);
}

/* A request to a worker on NATS whose reply answers the HTTP request. */
struct relay {
	uint32_t owner, peerid;
	char node_id[64];
	char model[CONF_NAME_MAX];
	int unload;
};

static void
relay_reply(void *arg, int status, const char *data, size_t len)
{
	struct relay *r = arg;
	json_error_t je;
	json_t *o;
	uint32_t n, m, slot;

	if (status != 0) {
		rh_error(r->owner, r->peerid, 503, "node_unreachable",
		    bus_strerror(status));
		free(r);
		return;
	}
	if ((o = json_loadb(data, len, 0, &je)) == NULL) {
		rh_error(r->owner, r->peerid, 502, "bad_reply",
		    "the node answered with something that is not JSON");
		free(r);
		return;
	}
	/* The event whether or not the view still holds the replica: the
	 * worker's own status message may have removed it first. */
	if (r->unload && json_is_true(json_object_get(o, "success"))) {
		if ((n = rt_view_node_find(R.view, r->node_id)) != RT_NONE &&
		    (m = rt_view_model_find(R.view, r->model)) != RT_NONE &&
		    (slot = rt_view_replica_find(R.view, m, n)) != RT_NONE)
			rt_view_replica_remove(R.view, slot);
		rn_event(EVENT_REPLICA_UNLOADED, r->node_id, r->model, "admin",
		    NULL);
	}
	rh_reply_json(r->owner, r->peerid, 200, o);
	free(r);
}

static void
admin_relay(struct rh_req *q, uint32_t slot, const char *verb, json_t *body,
    uint32_t timeout_ms)
{
	struct relay *r;
	char subj[160], tok[80];
	const char *model;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	r->owner = q->owner;
	r->peerid = q->peerid;
	snprintf(r->node_id, sizeof(r->node_id), "%s",
	    rt_view_node(R.view, slot)->id);
	if (strcmp(verb, "model.unload") == 0 &&
	    (model = json_string_value(json_object_get(body, "model_name")))) {
		r->unload = 1;
		snprintf(r->model, sizeof(r->model), "%s", model);
	}
	bus_token(tok, sizeof(tok), r->node_id);
	snprintf(subj, sizeof(subj), "nodes.%s.%s", tok, verb);
	rb_request(subj, body, timeout_ms, relay_reply, r);
}

struct labels_job {
	struct rdb_job j;
	uint32_t owner, peerid;
	char id[64];
	char *labels;
};

static int
labels_run(PGconn *c, struct rdb_job *j)
{
	struct labels_job *l = (struct labels_job *)j;
	const char *p[2] = {l->id, l->labels};
	PGresult *r;
	int st = RDB_OK, n;

	if ((r = rdb_exec(c, j, &st, RSQL_NODE_SET_LABELS, 2, p)) == NULL)
		return st;
	n = PQntuples(r);
	PQclear(r);
	return n == 1 ? RDB_OK : RDB_NOTFOUND;
}

static void
labels_done(struct rdb_job *j)
{
	struct labels_job *l = (struct labels_job *)j;
	struct rnode *rn;
	uint32_t slot;
	json_t *now;

	if (j->status == RDB_OK) {
		/* Our copy at once, so a GET right after this reply (the CLI
		 * prints the labels it set) sees them; the reload confirms. */
		if ((slot = rt_view_node_find(R.view, l->id)) != RT_NONE &&
		    (rn = rn_get(slot)) != NULL &&
		    (now = json_loads(l->labels, 0, NULL)) != NULL) {
			json_decref(rn->labels);
			rn->labels = now;
		}
		rn_node_event(l->id, "labels"); /* reload our copy */
		rn_publish_node(l->id, "labels");
		rn_event(EVENT_NODE_LABELS, l->id, NULL, "admin", NULL);
		rh_reply_json(
		    l->owner, l->peerid, 200, json_pack("{s:b}", "success", 1));
	} else {
		rh_error(l->owner, l->peerid,
		    j->status == RDB_NOTFOUND ? 404 : 503,
		    j->status == RDB_NOTFOUND ? "not_found"
		                              : "database_unavailable",
		    j->status == RDB_NOTFOUND
		        ? "node not found"
		        : "the database is unavailable; retry");
	}
	free(l->labels);
	free(l);
}

/* Why labels (a JSON value) cannot be a node's labels, or NULL. */
const char *
rh_labels_invalid(json_t *labels)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels))
		return "labels must be an object";
	json_object_foreach(labels, k, v)
	{
		if (!json_is_string(v) || strlen(k) >= CONF_NAME_MAX ||
		    json_string_length(v) >= CONF_NAME_MAX)
			return "labels must be an object of short strings";
	}
	if (json_object_size(labels) > CONF_MAX_LABELS)
		return "too many labels";
	return NULL;
}

/*
 * PUT /api/nodes/:id/labels {"labels":{k:v}} (or the object itself)
 * replaces the labels; PATCH merges into them; DELETE …/labels/:key
 * removes one (mode 'r', 'm', 'd').
 */
static void
admin_labels(
    struct rh_req *q, uint32_t slot, json_t *body, int mode, const char *key)
{
	struct rnode *rn = rn_get(slot);
	json_t *labels = json_object_get(body, "labels"), *merged;
	struct labels_job *l;
	const char *why;

	if (labels == NULL)
		labels = body;
	if (mode != 'd' && (why = rh_labels_invalid(labels)) != NULL) {
		rh_error(q->owner, q->peerid, 400, "invalid_request", why);
		return;
	}
	merged = rn && rn->labels && mode != 'r' ? json_deep_copy(rn->labels)
	                                         : json_object();
	if (mode == 'd') {
		if (json_object_del(merged, key) == -1) {
			json_decref(merged);
			rh_error(q->owner, q->peerid, 404, "not_found",
			    "no such label");
			return;
		}
	} else {
		(void)json_object_update(merged, labels);
	}
	labels = merged;
	if ((why = rh_labels_invalid(labels)) != NULL) {
		rh_error(q->owner, q->peerid, 400, "invalid_request", why);
		json_decref(merged);
		return;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->owner = q->owner;
	l->peerid = q->peerid;
	snprintf(l->id, sizeof(l->id), "%s", rt_view_node(R.view, slot)->id);
	l->labels = json_dumps(labels, JSON_COMPACT);
	json_decref(merged);
	l->j.run = labels_run;
	l->j.done = labels_done;
	rdb_submit(&l->j);
}

struct events_job {
	struct rdb_job j;
	uint32_t owner, peerid;
	char limit[16];
	PGresult *res;
};

static int
events_run(PGconn *c, struct rdb_job *j)
{
	struct events_job *e = (struct events_job *)j;
	const char *p[1] = {e->limit};
	int st = RDB_OK;

	e->res = rdb_exec(c, j, &st, RSQL_EVENTS_LATEST, 1, p);
	return e->res ? RDB_OK : st;
}

static void
events_done(struct rdb_job *j)
{
	struct events_job *e = (struct events_job *)j;
	json_error_t je;
	json_t *list;
	int i;

	if (j->status != RDB_OK) {
		rh_error(e->owner, e->peerid, 503, "database_unavailable",
		    "the database is unavailable; retry");
		free(e);
		return;
	}
	list = json_array();
	for (i = 0; i < PQntuples(e->res); i++) {
		json_t *detail = json_loads(PQgetvalue(e->res, i, 6), 0, &je);

		json_array_append_new(list,
		    json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o}", "id",
		        (json_int_t)strtoll(PQgetvalue(e->res, i, 0), NULL, 10),
		        "at", PQgetvalue(e->res, i, 1), "kind",
		        PQgetvalue(e->res, i, 2), "node_id",
		        PQgetvalue(e->res, i, 3), "model",
		        PQgetvalue(e->res, i, 4), "actor",
		        PQgetvalue(e->res, i, 5), "detail",
		        detail ? detail : json_object()));
	}
	PQclear(e->res);
	rh_reply_json(e->owner, e->peerid, 200, list);
	free(e);
}

static void
admin_events(struct rh_req *q)
{
	struct events_job *e;
	long limit = 100;
	const char *l;

	if (q->query != NULL && (l = strstr(q->query, "limit=")) != NULL)
		limit = strtol(l + 6, NULL, 10);
	if (limit < 1 || limit > 1000)
		limit = 100;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("calloc");
	e->owner = q->owner;
	e->peerid = q->peerid;
	snprintf(e->limit, sizeof(e->limit), "%ld", limit);
	e->j.run = events_run;
	e->j.done = events_done;
	rdb_submit(&e->j);
}

/*
 * GET /api/models: every configured model, its replicas (with the load
 * progress and failure reason the workers report), its load jobs
 * (rp_model_loads()) and its queue.
 */
static void
admin_models(struct rh_req *q)
{
	json_t *list = json_array(), *reps;
	uint32_t i, k;

	for (i = 0; i < R.view->models.n; i++) {
		struct rt_model *m = rt_view_model(R.view, i);

		if (m == NULL)
			continue;
		reps = json_array();
		for (k = 0; k < m->replicas.n; k++) {
			uint32_t rs = m->replicas.v[k];
			struct rt_replica *r = rt_view_replica(R.view, rs);

			json_array_append_new(reps,
			    json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:s}",
			        "node_id", rt_view_node(R.view, r->node)->id,
			        "node_name",
			        rt_view_node(R.view, r->node)->name, "address",
			        r->address, "state",
			        rt_replica_state_name(r->state), "in_flight",
			        (int)rt_view_replica_inflight(R.view, rs),
			        "progress", (int)r->progress, "error",
			        r->error));
		}
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:o,s:o,s:i,s:i,s:i}", "name",
		              m->name, "backend", m->backend, "replicas", reps,
		              "load_jobs", rp_model_loads(i), "queue_length",
		              (int)rt_admit_length(R.admit, i), "replicas_min",
		              (int)m->replicas_min, "replicas_max",
		              (int)m->replicas_max));
	}
	rh_reply_json(q->owner, q->peerid, 200, list);
}

/* POST /api/models/:name/load: start a replica now (pre-warm). */
static void
admin_model_load(struct rh_req *q)
{
	char name[CONF_NAME_MAX];
	const char *rest;
	uint32_t model;
	json_t *o;

	if (rh_split(q->path, "/api/models/", name, sizeof(name), &rest) ==
	        -1 ||
	    strcmp(rest, "/load") != 0) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such route");
		return;
	}
	if (strcmp(q->h->method, "POST") != 0) {
		rh_error(
		    q->owner, q->peerid, 405, "method_not_allowed", "use POST");
		return;
	}
	if ((model = rt_view_model_find(R.view, name)) == RT_NONE) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such model");
		return;
	}
	o = rp_prewarm(model);
	rh_reply_json(q->owner, q->peerid,
	    json_is_true(json_object_get(o, "success")) ? 202 : 503, o);
}

static json_t *
admin_body(struct rh_req *q)
{
	json_error_t je;
	json_t *o;

	o = q->len ? json_loadb(q->body, q->len, 0, &je) : json_object();
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		rh_error(q->owner, q->peerid, 400, "invalid_request",
		    "body must be a JSON object");
		return NULL;
	}
	return o;
}

/* Routes under /api/nodes/:id. */
static void
admin_node(struct rh_req *q, uint32_t slot, const char *rest)
{
	const char *m = q->h->method;
	json_t *b;

	if (*rest == '\0' && strcmp(m, "GET") == 0)
		rh_reply_json(q->owner, q->peerid, 200, rh_node_json(slot));
	else if (*rest == '\0' && strcmp(m, "DELETE") == 0)
		rh_node_status(q, slot, "delete");
	else if (strcmp(rest, "/models") == 0 && strcmp(m, "GET") == 0)
		rh_reply_json(q->owner, q->peerid, 200, rh_node_models(slot));
	else if ((strcmp(rest, "/approve") == 0 ||
	             strcmp(rest, "/drain") == 0 ||
	             strcmp(rest, "/resume") == 0) &&
	         strcmp(m, "POST") == 0)
		rh_node_status(q, slot, rest + 1);
	else if (strcmp(rest, "/backends") == 0 && strcmp(m, "GET") == 0) {
		b = json_object();
		admin_relay(q, slot, "backend.list", b, ADMIN_BUS_TIMEOUT_MS);
		json_decref(b);
	} else if (strcmp(m, "POST") == 0 &&
	           (strcmp(rest, "/backends/install") == 0 ||
	               strcmp(rest, "/backends/delete") == 0 ||
	               strcmp(rest, "/models/unload") == 0 ||
	               strcmp(rest, "/models/delete") == 0)) {
		if ((b = admin_body(q)) == NULL)
			return;
		admin_relay(q, slot,
		    strcmp(rest, "/backends/install") == 0  ? "backend.install"
		    : strcmp(rest, "/backends/delete") == 0 ? "backend.delete"
		    : strcmp(rest, "/models/unload") == 0   ? "model.unload"
		                                            : "model.delete",
		    b,
		    strcmp(rest, "/backends/install") == 0
		        ? ADMIN_INSTALL_TIMEOUT_MS
		        : ADMIN_BUS_TIMEOUT_MS);
		json_decref(b);
	} else if (strcmp(rest, "/labels") == 0 &&
	           (strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)) {
		if ((b = admin_body(q)) == NULL)
			return;
		admin_labels(q, slot, b, m[1] == 'U' ? 'r' : 'm', NULL);
		json_decref(b);
	} else if (strncmp(rest, "/labels/", 8) == 0 &&
	           strcmp(m, "DELETE") == 0) {
		b = json_object();
		admin_labels(q, slot, b, 'd', rest + 8);
		json_decref(b);
	} else {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such route");
	}
}

void
rh_admin(struct rh_req *q)
{
	const char *rest;
	char id[64];
	uint32_t slot;

	if (strcmp(q->path, "/api/nodes") == 0 &&
	    strcmp(q->h->method, "GET") == 0) {
		admin_list(q);
		return;
	}
	if (strcmp(q->path, "/api/events") == 0) {
		admin_events(q);
		return;
	}
	if (strcmp(q->path, "/api/models") == 0) {
		admin_models(q);
		return;
	}
	if (strncmp(q->path, "/api/models/", 12) == 0) {
		admin_model_load(q);
		return;
	}
	if (rh_split(q->path, "/api/nodes/", id, sizeof(id), &rest) == -1) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such route");
		return;
	}
	if ((slot = rt_view_node_find(R.view, id)) == RT_NONE) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "node not found");
		return;
	}
	admin_node(q, slot, rest);
}
