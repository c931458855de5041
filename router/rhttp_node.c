/*
 * The worker-facing node API: registration, heartbeats, drain,
 * deregistration, a node's models, and model files / backend packages
 * handed to the api to stream ("sendfile").  See rhttp.c.
 */
#include <sys/random.h>

#include <ctype.h>
#include <stdint.h>
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

#define SENDFILE_TYPE "application/x-localai-sendfile"
#define HB_DB_MS 10000
/* The largest memory size a node may declare: 1 EiB, well inside bigint. */
#define REG_BYTES_MAX ((json_int_t)1 << 60)

struct reg_job {
	struct rdb_job j;
	uint32_t owner, peerid;
	char id[40];
	char token[65]; /* plaintext, returned once */
	char *params[17];
	json_t *backends;
	PGresult *row;
	int existed;
};

static void
uuid4(char out[37])
{
	unsigned char b[16];
	static const char *hex = "0123456789abcdef";
	int i, o = 0;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		fatal("getrandom");
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

static void
token_new(char out[65])
{
	unsigned char b[32];
	static const char *hex = "0123456789abcdef";
	int i;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		fatal("getrandom");
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[64] = '\0';
}

static int
reg_run(PGconn *c, struct rdb_job *j)
{
	struct reg_job *r = (struct reg_job *)j;
	const char *p1[1];
	const char *p2[2];
	PGresult *res;
	json_t *b;
	size_t i;
	int st = RDB_OK;

	if (rdb_simple(c, j, &st, "BEGIN") == -1)
		return st;
	if ((res = rdb_exec(c, j, &st, RSQL_NODE_REGISTER, 16,
	         (const char *const *)r->params)) == NULL)
		goto fail;
	snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, 0, 0));
	r->existed = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	p1[0] = r->id;
	if ((res = rdb_exec(c, j, &st, RSQL_BACKENDS_CLEAR, 1, p1)) == NULL)
		goto fail;
	PQclear(res);
	json_array_foreach(r->backends, i, b)
	{
		p2[0] = r->id;
		p2[1] = json_string_value(b);
		if (p2[1] == NULL)
			continue;
		if ((res = rdb_exec(c, j, &st, RSQL_BACKEND_ADD, 2, p2)) ==
		    NULL)
			goto fail;
		PQclear(res);
	}
	if ((res = rdb_exec(c, j, &st, RSQL_REPLICA_DELETE_NODE, 1, p1)) ==
	    NULL)
		goto fail;
	PQclear(res);
	if (rdb_simple(c, j, &st, "COMMIT") == -1)
		goto fail;
	r->row = rdb_exec(c, j, &st, RSQL_NODE_SELECT_ONE, 1, p1);
	return r->row != NULL ? RDB_OK : st;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return st;
}

static void
reg_done(struct rdb_job *j)
{
	struct reg_job *r = (struct reg_job *)j;
	int i;

	if (j->status == RDB_UNAVAILABLE) {
		rh_error(r->owner, r->peerid, 503, "database_unavailable",
		    "the database is unavailable; retry");
		goto out;
	}
	if (j->status != RDB_OK || r->row == NULL || PQntuples(r->row) != 1) {
		/* Input is checked before the statement: this is our bug. */
		log_warnx(
		    "registration of %s failed: %s", r->params[1], j->error);
		rh_error(r->owner, r->peerid, 500, "internal_error",
		    "the registration could not be stored");
		goto out;
	}
	if (rn_apply_row(r->row, 0) != RT_NONE)
		rn_registered(r->id);
	rn_event(EVENT_NODE_REGISTERED, r->id, NULL, "node",
	    json_pack("{s:s,s:b}", "name", r->params[1], "again", r->existed));
	rn_publish_node(r->id, "registered");
	rh_reply_json(r->owner, r->peerid, 201,
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "id", r->id, "name",
	        r->params[1], "node_type", r->params[2], "status",
	        PQgetvalue(r->row, 0, 5), "created_at",
	        PQgetvalue(r->row, 0, 17), "node_token", r->token));
out:
	PQclear(r->row);
	for (i = 0; i < 17; i++)
		free(r->params[i]);
	json_decref(r->backends);
	free(r);
}

/*
 * An optional integer field in [0, max] as a decimal string for a
 * statement parameter (absent or null: "0"); -1 with err set otherwise, so
 * that a value the column cannot hold is the client's 400, not a failed
 * statement.
 */
static int
num_field(json_t *o, const char *key, json_int_t max, char **out, char *err,
    size_t errlen)
{
	json_t *v = json_object_get(o, key);
	json_int_t n = 0;
	char buf[32];

	if (v != NULL && !json_is_null(v)) {
		n = json_integer_value(v);
		if (!json_is_integer(v) || n < 0 || n > max) {
			snprintf(err, errlen,
			    "%s must be an integer from 0 to %lld", key,
			    (long long)max);
			return -1;
		}
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)n);
	if ((*out = strdup(buf)) == NULL)
		fatal("strdup");
	return 0;
}

static int
str_field(json_t *o, const char *key, size_t max, int required,
    const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = "";
	if (v == NULL || json_is_null(v)) {
		if (required)
			snprintf(err, errlen, "%s is required", key);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s must be a string", key);
		return -1;
	}
	if (json_string_length(v) > max ||
	    (required && json_string_length(v) == 0)) {
		snprintf(
		    err, errlen, "%s must be 1 to %zu characters", key, max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* A node name: printable, no white space. */
static int
node_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return 0;
	return 1;
}

/* The node types the nodes table allows ("" is the default, backend). */
static int
node_type_ok(const char *type, char *err, size_t errlen)
{
	if (type[0] == '\0' || strcmp(type, "backend") == 0 ||
	    strcmp(type, "agent") == 0)
		return 1;
	snprintf(err, errlen, "node_type must be \"backend\" or \"agent\"");
	return 0;
}

static void
node_register(struct rh_req *q)
{
	const char *name, *addr, *http, *vendor, *type, *btok, *why = NULL;
	struct reg_job *r;
	json_error_t je;
	json_t *o, *labels;
	char err[200] = "", hash[65];
	int i;

	if (!rh_is_registrar(q->h)) {
		rh_error(q->owner, q->peerid, 401, "unauthorized",
		    "missing or wrong registration token");
		return;
	}
	if ((o = json_loadb(q->body, q->len, 0, &je)) == NULL ||
	    !json_is_object(o)) {
		rh_error(q->owner, q->peerid, 400, "invalid_request",
		    "body must be a JSON object");
		json_decref(o);
		return;
	}
	if (str_field(o, "name", 255, 1, &name, err, sizeof(err)) == -1 ||
	    str_field(o, "node_type", 16, 0, &type, err, sizeof(err)) == -1 ||
	    str_field(o, "address", 512, strcmp(type, "agent") != 0, &addr, err,
	        sizeof(err)) == -1 ||
	    str_field(o, "http_address", 512, 0, &http, err, sizeof(err)) ==
	        -1 ||
	    str_field(o, "gpu_vendor", 15, 0, &vendor, err, sizeof(err)) ==
	        -1 ||
	    str_field(o, "backend_token", 79, 0, &btok, err, sizeof(err)) ==
	        -1 ||
	    !node_name_ok(name) || !node_type_ok(type, err, sizeof(err)) ||
	    ((labels = json_object_get(o, "labels")) != NULL &&
	        (why = rh_labels_invalid(labels)) != NULL)) {
		rh_error(q->owner, q->peerid, 400, "invalid_request",
		    err[0]        ? err
		    : why != NULL ? why
		                  : "invalid node name");
		json_decref(o);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("calloc");
	if (num_field(o, "total_ram", REG_BYTES_MAX, &r->params[6], err,
	        sizeof(err)) == -1 ||
	    num_field(o, "available_ram", REG_BYTES_MAX, &r->params[7], err,
	        sizeof(err)) == -1 ||
	    num_field(o, "total_vram", REG_BYTES_MAX, &r->params[8], err,
	        sizeof(err)) == -1 ||
	    num_field(o, "available_vram", REG_BYTES_MAX, &r->params[9], err,
	        sizeof(err)) == -1 ||
	    num_field(o, "max_concurrency", INT32_MAX, &r->params[10], err,
	        sizeof(err)) == -1 ||
	    num_field(o, "heartbeat_interval_ms", INT32_MAX, &r->params[15],
	        err, sizeof(err)) == -1) {
		rh_error(q->owner, q->peerid, 400, "invalid_request", err);
		for (i = 0; i < 16; i++)
			free(r->params[i]);
		free(r);
		json_decref(o);
		return;
	}
	r->owner = q->owner;
	r->peerid = q->peerid;
	uuid4(r->id);
	token_new(r->token);
	rh_sha256_hex(r->token, hash);
	r->params[0] = strdup(r->id);
	r->params[1] = strdup(name);
	r->params[2] = strdup(type[0] ? type : "backend");
	r->params[3] = strdup(addr);
	r->params[4] = strdup(http);
	r->params[5] = labels ? json_dumps(labels, JSON_COMPACT) : strdup("{}");
	r->params[11] = strdup(hash);
	r->params[12] = strdup(vendor);
	r->params[13] =
	    strdup(R.cf.frontend.auto_approve_nodes ? "true" : "false");
	r->params[14] = strdup(btok);
	r->params[16] = NULL;
	r->backends = json_incref(json_object_get(o, "backends"));
	if (!json_is_array(r->backends)) {
		json_decref(r->backends);
		r->backends = json_array();
	}
	json_decref(o);
	r->j.run = reg_run;
	r->j.done = reg_done;
	rdb_submit(&r->j);
}

/* Find the node of /api/node/:id/... and check its token (or admin). */
static uint32_t
node_auth(struct rh_req *q, const char **rest, int admin_ok)
{
	char id[64];
	uint32_t slot;

	if (rh_split(q->path, "/api/node/", id, sizeof(id), rest) == -1) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such route");
		return RT_NONE;
	}
	slot = rt_view_node_find(R.view, id);
	if (!(admin_ok && rh_is_admin(q->h)) && !rh_is_node(q->h, slot)) {
		/* 404 tells a worker its node was removed, 401 that its token
		 * is no longer valid: either way it registers again. */
		rh_error(q->owner, q->peerid, slot == RT_NONE ? 404 : 401,
		    slot == RT_NONE ? "not_found" : "unauthorized",
		    slot == RT_NONE ? "node not found"
		                    : "missing or wrong node token");
		return RT_NONE;
	}
	return slot;
}

struct hb_job {
	struct rdb_job j;
	char id[64];
	char ram[24], vram[24];
};

static int
hb_run(PGconn *c, struct rdb_job *j)
{
	struct hb_job *h = (struct hb_job *)j;
	const char *p[3] = {h->id, h->ram, h->vram};
	PGresult *r;
	int st = RDB_OK;

	if ((r = rdb_exec(c, j, &st, RSQL_NODE_HEARTBEAT, 3, p)) != NULL)
		PQclear(r);
	return st;
}

static void
free_job(struct rdb_job *j)
{
	free(j);
}

/*
 * HTTP heartbeat: LocalAI sends {available_vram} or {available_ram}; our
 * workers send the same body as on NATS.  It counts like a NATS heartbeat
 * and is also written to the database, at most every HB_DB_MS per node
 * (LocalAI's workers send every heartbeat over HTTP).
 */
static void
node_heartbeat(struct rh_req *q, uint32_t slot)
{
	struct rt_node *n = rt_view_node(R.view, slot);
	json_error_t je;
	struct hb_job *h;
	struct rnode *rn;
	json_t *o;

	o = q->len ? json_loadb(q->body, q->len, 0, &je) : json_object();
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		rh_error(q->owner, q->peerid, 400, "invalid_request",
		    "body must be a JSON object");
		return;
	}
	json_object_set_new(o, "node_id", json_string(n->id));
	if (json_object_get(o, "available_ram") == NULL)
		json_object_set_new(o, "available_ram",
		    json_integer((json_int_t)n->free[RT_MEM_RAM]));
	if (json_object_get(o, "available_vram") == NULL)
		json_object_set_new(o, "available_vram",
		    json_integer((json_int_t)n->free[RT_MEM_VRAM]));
	if (rn_apply_heartbeat(o) == 1 && R.bus_up) {
		/* News to us, so the worker could not publish it on NATS:
		 * relay it, so that every frontend hears it. */
		char subj[128], tok[80];

		bus_token(tok, sizeof(tok), n->id);
		snprintf(subj, sizeof(subj), "localai.heartbeat.%s", tok);
		json_object_set_new(
		    o, "relayed_by", json_string(R.cf.instance_id));
		rb_publish_json(subj, o);
	}
	rn = rn_get(slot);
	if ((rn == NULL || rn->hb_db_at == 0 ||
	        r_now() - rn->hb_db_at >= HB_DB_MS) &&
	    (h = calloc(1, sizeof(*h))) != NULL) {
		if (rn != NULL)
			rn->hb_db_at = r_now();
		snprintf(h->id, sizeof(h->id), "%s", n->id);
		snprintf(h->ram, sizeof(h->ram), "%lld",
		    (long long)json_integer_value(
		        json_object_get(o, "available_ram")));
		snprintf(h->vram, sizeof(h->vram), "%lld",
		    (long long)json_integer_value(
		        json_object_get(o, "available_vram")));
		h->j.run = hb_run;
		h->j.done = free_job;
		rdb_submit(&h->j);
	}
	json_decref(o);
	rh_reply_json(
	    q->owner, q->peerid, 200, json_pack("{s:b}", "success", 1));
}

/* A node's replicas as LocalAI's /api/node/:id/models lists them. */
json_t *
rh_node_models(uint32_t slot)
{
	struct rt_node *n = rt_view_node(R.view, slot);
	json_t *list = json_array();
	uint32_t i;

	for (i = 0; i < n->replicas.n; i++) {
		uint32_t rs = n->replicas.v[i];
		struct rt_replica *r = rt_view_replica(R.view, rs);

		json_array_append_new(list,
		    json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:I,s:i,s:s}", "id",
		        (json_int_t)(((uint64_t)r->gen << 32) | rs), "node_id",
		        n->id, "model_name",
		        rt_view_model(R.view, r->model)->name, "address",
		        r->address, "state", rt_replica_state_name(r->state),
		        "in_flight", (int)rt_view_replica_inflight(R.view, rs),
		        "last_used_ms_ago",
		        (json_int_t)(r->last_used
		                         ? (int64_t)(r_now() - r->last_used)
		                         : -1),
		        "progress", (int)r->progress, "error", r->error));
	}
	return list;
}

static void
node_files(struct rh_req *q)
{
	char model[CONF_NAME_MAX], path[700];
	const struct conf_model *cm;
	const char *rest;

	if (!rh_any_node(q->h)) {
		rh_error(q->owner, q->peerid, 401, "unauthorized",
		    "a node token is required");
		return;
	}
	if (rh_split(q->path, "/api/node/files/", model, sizeof(model),
	        &rest) == -1 ||
	    rest[0] != '/' ||
	    (cm = conf_model_find(&R.models, model)) == NULL ||
	    strcmp(rest + 1, cm->model) != 0 ||
	    strchr(cm->model, '/') != NULL) {
		rh_error(q->owner, q->peerid, 404, "not_found", "no such file");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", R.cf.models_path, cm->model);
	rh_reply(q->owner, q->peerid, 200, SENDFILE_TYPE, path, strlen(path));
}

static void
node_gallery(struct rh_req *q)
{
	const char *name = q->path + strlen("/api/gallery/");
	char path[700];

	if (!rh_any_node(q->h) && !rh_is_admin(q->h)) {
		rh_error(q->owner, q->peerid, 401, "unauthorized",
		    "a node token is required");
		return;
	}
	if (*name == '\0' || strchr(name, '/') != NULL || name[0] == '.' ||
	    strstr(name, "..") != NULL) {
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such package");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", R.cf.frontend.gallery_dir, name);
	rh_reply(q->owner, q->peerid, 200, SENDFILE_TYPE, path, strlen(path));
}

void
rh_node(struct rh_req *q)
{
	const char *m = q->h->method, *rest;
	uint32_t slot;

	if (strncmp(q->path, "/api/gallery/", 13) == 0) {
		node_gallery(q);
		return;
	}
	if (strncmp(q->path, "/api/node/files/", 16) == 0) {
		node_files(q);
		return;
	}
	if (strcmp(q->path, "/api/node/register") == 0) {
		if (strcmp(m, "POST") != 0)
			rh_error(q->owner, q->peerid, 405, "method_not_allowed",
			    "use POST");
		else
			node_register(q);
		return;
	}
	if ((slot = node_auth(q, &rest, 1)) == RT_NONE)
		return;
	if (strcmp(rest, "/heartbeat") == 0 && strcmp(m, "POST") == 0)
		node_heartbeat(q, slot);
	else if (strcmp(rest, "/drain") == 0 && strcmp(m, "POST") == 0)
		rh_node_status(q, slot, "drain");
	else if (strcmp(rest, "/deregister") == 0 && strcmp(m, "POST") == 0)
		rh_node_status(q, slot, "deregister");
	else if (strcmp(rest, "/models") == 0 && strcmp(m, "GET") == 0)
		rh_reply_json(q->owner, q->peerid, 200, rh_node_models(slot));
	else
		rh_error(
		    q->owner, q->peerid, 404, "not_found", "no such route");
}
