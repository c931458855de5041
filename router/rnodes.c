/*
 * The node registry: database rows <-> the router's view, heartbeats,
 * health, and the health leader.
 *
 * Every router keeps every node in memory (view.h + struct rnode) and
 * keeps it current from three sources: the database at start and after a
 * node event from another frontend (one SELECT of that node), worker
 * heartbeats on NATS (memory only: per-heartbeat database writes would
 * cost one statement per node per second), and its own writes (register,
 * approve, drain…), which it applies after the database accepted them and
 * then announces on localai.events.node so the other frontends reload
 * the row.
 *
 * One router at a time is the health leader: it holds a session advisory
 * lock on its lock connection and writes the durable transitions
 * (offline after offline_after without heartbeats, healthy again when
 * they resume).  When the leader dies PostgreSQL drops its session and
 * its lock, and another router takes it within a second.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "proto/event_catalog.h"
#include "proto/log.h"
#include "router/rdb.h"
#include "router/rsql.h"
#include "router/router.h"

#define LEADER_LOCK_NS "localai"
#define LEADER_LOCK "health-leader"
/* Heartbeats this far behind the last one mean a restarted worker. */

static uint64_t rn_last_health, rn_last_leader;
static int rn_leader_job;

struct rnode *
rn_get(uint32_t node)
{
	struct rt_node *n = rt_view_node(R.view, node);

	return n != NULL ? n->udata : NULL;
}

static struct rnode *
rn_ensure_udata(uint32_t slot)
{
	struct rt_node *n = rt_view_node(R.view, slot);

	if (n->udata == NULL &&
	    (n->udata = calloc(1, sizeof(struct rnode))) == NULL)
		fatal("calloc");
	return n->udata;
}

static int64_t
col_i64(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col)
	           ? 0
	           : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static const char *
col_s(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

/* Labels jsonb text -> conf_label array for the view. */
static uint32_t
rn_labels(json_t *o, struct conf_label *out)
{
	const char *k;
	json_t *v;
	uint32_t n = 0;

	json_object_foreach(o, k, v)
	{
		if (n == CONF_MAX_LABELS || !json_is_string(v))
			continue;
		snprintf(out[n].key, sizeof(out[n].key), "%s", k);
		snprintf(out[n].value, sizeof(out[n].value), "%s",
		    json_string_value(v));
		n++;
	}
	return n;
}

/* Apply the installed-backend list (JSON array of names) to the view. */
static void
rn_set_backends(uint32_t slot, json_t *list)
{
	const char *names[64];
	json_t *e;
	size_t i;
	uint32_t n = 0;

	json_array_foreach(list, i, e) if (n < 64 && json_is_string(e))
	    names[n++] = json_string_value(e);
	(void)rt_view_node_set_backends(R.view, slot, names, n);
}

/*
 * A row reloaded for a node we know: take its durable facts, keep what
 * we observed ourselves (last heartbeat, connection failures).  Resetting
 * those on every reload would hide a silent node for another
 * offline_after, and show a dead one as just heard from.
 */
static void
rn_restore_known(struct rt_nodestate *s, int approved, int draining,
    int offline, uint32_t interval)
{
	struct rt_nodestate keep = *s;

	rt_nodestate_restore(s, &R.view->health, approved, draining, offline,
	    interval, keep.last_heartbeat);
	s->conn_suspect = keep.conn_suspect;
	s->beats_since_failure = keep.beats_since_failure;
	s->failed_at = keep.failed_at;
	s->stale_seen = keep.stale_seen;
	s->hb_seq = keep.hb_seq;
}

/*
 * One nodes row (RSQL_NODE_COLUMNS order) into the view: add the node if
 * new, then capacity, labels, backends and the durable state.
 */
uint32_t
rn_apply_row(PGresult *r, int row)
{
	struct conf_label labels[CONF_MAX_LABELS];
	const char *id = col_s(r, row, 0), *status = col_s(r, row, 5);
	uint64_t now = r_now();
	struct rt_node *n;
	struct rnode *rn;
	json_error_t je;
	uint32_t slot;
	int approved = col_s(r, row, 13)[0] == 't';
	int draining = col_s(r, row, 14)[0] == 't';
	int fresh;
	uint32_t interval = (uint32_t)col_i64(r, row, 15);

	if ((fresh = (slot = rt_view_node_find(R.view, id)) == RT_NONE)) {
		slot = rt_view_node_add(
		    R.view, id, col_s(r, row, 1), approved, interval, now);
		if (slot == RT_NONE) {
			log_warnx("node %s: cannot add to the view", id);
			return RT_NONE;
		}
		n = rt_view_node(R.view, slot);
		rt_nodestate_restore(&n->state, &R.view->health, approved,
		    draining, strcmp(status, "offline") == 0, interval, now);
	} else {
		n = rt_view_node(R.view, slot);
		rn_restore_known(&n->state, approved, draining,
		    strcmp(status, "offline") == 0, interval);
	}
	rn = rn_ensure_udata(slot);
	snprintf(rn->address, sizeof(rn->address), "%s", col_s(r, row, 3));
	snprintf(
	    rn->http_address, sizeof(rn->http_address), "%s", col_s(r, row, 4));
	snprintf(
	    rn->token_hash, sizeof(rn->token_hash), "%s", col_s(r, row, 11));
	snprintf(rn->backend_token, sizeof(rn->backend_token), "%s",
	    col_s(r, row, 16));
	snprintf(
	    rn->gpu_vendor, sizeof(rn->gpu_vendor), "%s", col_s(r, row, 12));
	snprintf(rn->node_type, sizeof(rn->node_type), "%s", col_s(r, row, 2));
	snprintf(
	    rn->created_at, sizeof(rn->created_at), "%s", col_s(r, row, 17));
	json_decref(rn->labels);
	rn->labels = json_loads(col_s(r, row, 6), 0, &je);
	if (rn->labels == NULL)
		rn->labels = json_object();
	json_decref(rn->backends);
	rn->backends = json_loads(col_s(r, row, 18), 0, &je);
	if (rn->backends == NULL)
		rn->backends = json_array();
	rt_view_node_set_capacity(R.view, slot, col_i64(r, row, 9) > 0,
	    (uint64_t)col_i64(r, row, 7), (uint64_t)col_i64(r, row, 9),
	    (uint32_t)col_i64(r, row, 10));
	(void)rt_view_node_set_labels(
	    R.view, slot, labels, rn_labels(rn->labels, labels));
	rn_set_backends(slot, rn->backends);
	/* Until its first heartbeat, assume the registered free memory
	 * (a known node's last heartbeat is fresher than the row). */
	if (fresh || n->state.hb_seq == 0) {
		n->free[RT_MEM_RAM] = (uint64_t)col_i64(r, row, 8);
		n->free[RT_MEM_VRAM] = (uint64_t)col_i64(r, row, 19);
	}
	/* The leader deleted an offline node's replicas with its status:
	 * forget them here too (they come back with its heartbeats). */
	if (n->state.offline)
		rt_view_node_clear_replicas(R.view, slot);
	return slot;
}

struct load_job {
	struct rdb_job j;
	PGresult *nodes;
	PGresult *replicas;
	int finished;
	int registered; /* the node (re-)registered */
	char node_id[64]; /* one node, or "" for all */
};

static int
rn_load_run(PGconn *c, struct rdb_job *j)
{
	struct load_job *lj = (struct load_job *)j;
	const char *p[1] = {lj->node_id};
	int st = RDB_OK;

	if (lj->node_id[0] == '\0' && rsql_migrate(R.cf.frontend.database_url,
	                                  j->error, sizeof(j->error)) == -1)
		return RDB_UNAVAILABLE;
	lj->nodes = lj->node_id[0]
	                ? rdb_exec(c, j, &st, RSQL_NODE_SELECT_ONE, 1, p)
	                : rdb_exec(c, j, &st, RSQL_NODE_SELECT_ALL, 0, NULL);
	if (lj->nodes == NULL)
		return st;
	lj->replicas =
	    lj->node_id[0]
	        ? rdb_exec(c, j, &st, RSQL_REPLICA_SELECT_NODE, 1, p)
	        : rdb_exec(c, j, &st, RSQL_REPLICA_SELECT_ALL, 0, NULL);
	return lj->replicas == NULL ? st : RDB_OK;
}

/* Replica rows (model, node_id, address, state) into the view. */
static void
rn_apply_replicas(PGresult *r)
{
	uint32_t model, node;
	int i;

	for (i = 0; i < PQntuples(r); i++) {
		model = rt_view_model_find(R.view, col_s(r, i, 0));
		node = rt_view_node_find(R.view, col_s(r, i, 1));
		if (model == RT_NONE || node == RT_NONE)
			continue;
		/* A load in progress is re-learned from events; a row with
		 * no address cannot be routed to. */
		if (strcmp(col_s(r, i, 3), "ready") != 0 ||
		    col_s(r, i, 2)[0] == '\0')
			continue;
		/* A replica we know: the worker's reports are fresher. */
		if (rt_view_replica_find(R.view, model, node) != RT_NONE)
			continue;
		(void)rt_view_replica_add(R.view, model, node, RT_REPLICA_READY,
		    rt_view_model(R.view, model)->revision, col_s(r, i, 2),
		    r_now());
	}
}

/*
 * A node registered (again), here or through another frontend: it is
 * alive, and a
 * worker that registers again has restarted or lost us, so the replicas
 * we knew of it are gone (the registering frontend deleted their rows;
 * its heartbeats bring back the ones still running).  Its heartbeat
 * sequence starts over.
 */
void
rn_registered(const char *node_id)
{
	uint32_t slot = rt_view_node_find(R.view, node_id);

	if (slot == RT_NONE)
		return;
	rt_view_node_clear_replicas(R.view, slot);
	/* This also starts its heartbeat sequence over. */
	(void)rt_nodestate_register(
	    &rt_view_node(R.view, slot)->state, &R.view->health, 0, r_now());
}

static void
rn_load_done(struct rdb_job *j)
{
	struct load_job *lj = (struct load_job *)j;
	int i;

	if (j->status == RDB_OK) {
		for (i = 0; i < PQntuples(lj->nodes); i++)
			(void)rn_apply_row(lj->nodes, i);
		if (lj->registered)
			rn_registered(lj->node_id);
		if (lj->node_id[0] != '\0' && PQntuples(lj->nodes) == 0) {
			uint32_t slot = rt_view_node_find(R.view, lj->node_id);

			if (slot != RT_NONE) { /* deleted elsewhere */
				free(rn_get(slot));
				rt_view_node(R.view, slot)->udata = NULL;
				rt_view_node_remove(R.view, slot);
			}
		}
		rn_apply_replicas(lj->replicas);
		rb_snapshots_reapply();
	} else {
		log_warnx("loading nodes: %s", j->error);
	}
	PQclear(lj->nodes);
	PQclear(lj->replicas);
	lj->finished = 1;
	if (lj->node_id[0] != '\0')
		free(lj);
}

/*
 * At start: migrate the schema and load every node and ready replica.
 * Waits (bounded) for PostgreSQL; -1 makes the router exit 75 so the
 * supervisor retries with backoff.
 */
int
rn_load_all(void)
{
	struct load_job lj;
	uint32_t i;
	int attempt;

	for (i = 0; i < R.models.n; i++)
		if (rt_view_model_set(R.view, &R.models.models[i]) == RT_NONE)
			fatalx("out of memory");
	for (attempt = 0; attempt < 20; attempt++) {
		memset(&lj, 0, sizeof(lj));
		lj.j.run = rn_load_run;
		lj.j.done = rn_load_done;
		rdb_submit(&lj.j);
		while (!lj.finished) {
			struct pollfd p = {rdb_fd(), POLLIN, 0};

			(void)poll(&p, 1, 1000);
			rdb_collect();
		}
		if (lj.j.status == RDB_OK) {
			log_info("cluster view loaded: %u nodes",
			    R.view->nodes.count);
			return 0;
		}
		usleep(500 * 1000);
	}
	log_warnx("PostgreSQL unreachable: %s", lj.j.error);
	return -1;
}

/*
 * Backends the gallery offers can be installed on any node that lacks
 * them: tell placement which ones (<gallery_dir>/index.json, as `make`
 * writes it: an array of packages, or an object with a "backends" array).
 */
void
rn_gallery_load(void)
{
	char path[512];
	json_error_t je;
	json_t *idx, *list, *e;
	size_t i;
	int n = 0;

	snprintf(
	    path, sizeof(path), "%s/index.json", R.cf.frontend.gallery_dir);
	if ((idx = json_load_file(path, 0, &je)) == NULL) {
		log_info(
		    "no backend gallery at %s: nodes run only the backends "
		    "they have installed",
		    path);
		return;
	}
	list = json_is_array(idx) ? idx : json_object_get(idx, "backends");
	json_array_foreach(list, i, e)
	{
		const char *name =
		    json_string_value(json_object_get(e, "name"));

		if (name != NULL &&
		    rt_view_backend_set(R.view, name, 1, 0) == 0)
			n++;
	}
	json_decref(idx);
	log_info("backend gallery %s: %d installable backend(s)", path, n);
}

/*
 * Another frontend (or we) changed a node: reload its row.  An empty id
 * would mean "every node" to rn_load_run (a full reload, which only
 * rn_load_all may ask for), so a message without one is ignored.
 */
void
rn_node_event(const char *node_id, const char *what)
{
	struct load_job *lj;

	if (node_id[0] == '\0' || strlen(node_id) >= sizeof(lj->node_id))
		return;
	if ((lj = calloc(1, sizeof(*lj))) == NULL)
		return;
	snprintf(lj->node_id, sizeof(lj->node_id), "%s", node_id);
	lj->registered = strcmp(what, "registered") == 0;
	lj->j.run = rn_load_run;
	lj->j.done = rn_load_done;
	rdb_submit(&lj->j);
}

/*
 * Another frontend could not reach one of the node's backends: treat it
 * as our own connection failure (no new work until heartbeats clear it).
 * Nothing durable: the row is not reloaded.
 */
void
rn_node_suspect(const char *node_id)
{
	uint32_t slot = rt_view_node_find(R.view, node_id);

	if (slot != RT_NONE)
		(void)rt_nodestate_conn_failure(
		    &rt_view_node(R.view, slot)->state, &R.view->health,
		    r_now());
}

void
rn_publish_node(const char *node_id, const char *what)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "node_id", node_id, "event",
	    what, "frontend", R.cf.instance_id);

	rb_publish_json("localai.events.node", o);
	json_decref(o);
}

struct event_job {
	struct rdb_job j;
	char kind[48], node_id[64], model[CONF_NAME_MAX], actor[64];
	char *detail;
};

static int
rn_event_run(PGconn *c, struct rdb_job *j)
{
	struct event_job *e = (struct event_job *)j;
	const char *p[5] = {e->kind, e->node_id[0] ? e->node_id : NULL,
	    e->model[0] ? e->model : NULL, e->actor, e->detail};
	PGresult *r;
	int st = RDB_OK;

	if ((r = rdb_exec(c, j, &st, RSQL_EVENT_INSERT, 5, p)) != NULL)
		PQclear(r);
	return st;
}

static void
rn_event_done(struct rdb_job *j)
{
	struct event_job *e = (struct event_job *)j;

	free(e->detail);
	free(e);
}

/*
 * A cluster event: a journal record with LOCALAI_EVENT (and NODE_ID,
 * MODEL), and a row in the events table (best effort: lost when the
 * database is down).  Takes the reference to detail.
 */
void
rn_event(const char *kind, const char *node_id, const char *model,
    const char *actor, json_t *detail)
{
	rn_event_rid(kind, node_id, model, actor, NULL, detail);
}

/*
 * The same for an event a request caused (a cold load it asked for):
 * its id is the record's REQUEST_ID and the detail's request_id, so
 * `journalctl REQUEST_ID=…` finds the load with the request.
 */
void
rn_event_rid(const char *kind, const char *node_id, const char *model,
    const char *actor, const char *rid, json_t *detail)
{
	struct log_fields f = {.node_id = node_id,
	    .model = model,
	    .request_id = rid,
	    .event = kind};
	struct event_job *e;
	char *d;

	if (detail == NULL)
		detail = json_object();
	if (rid != NULL && *rid != '\0')
		(void)json_object_set_new(
		    detail, "request_id", json_string(rid));
	d = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	log_fields(
	    6, &f, "%s %s by %s", kind, d ? d : "{}", actor ? actor : "router");
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		free(d);
		return;
	}
	snprintf(e->kind, sizeof(e->kind), "%s", kind);
	snprintf(e->node_id, sizeof(e->node_id), "%s", node_id ? node_id : "");
	snprintf(e->model, sizeof(e->model), "%s", model ? model : "");
	snprintf(e->actor, sizeof(e->actor), "%s", actor ? actor : "router");
	e->detail = d;
	e->j.run = rn_event_run;
	e->j.done = rn_event_done;
	rdb_submit(&e->j);
}

/*
 * A heartbeat from NATS (or relayed from HTTP).  Returns 1 when it was
 * news, 0 when ignored (unknown node, a beat already counted).
 */
/* A byte count from a worker's JSON: an integer >= 0, else 0. */
static uint64_t
rn_json_bytes(json_t *v)
{
	json_int_t n = json_integer_value(v);

	return n > 0 ? (uint64_t)n : 0;
}

int
rn_apply_heartbeat(json_t *hb)
{
	const char *id = json_string_value(json_object_get(hb, "node_id"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(hb, "seq"));
	enum rt_health_change ch;
	struct rnode *rn;
	json_t *reps, *e;
	uint32_t slot;
	size_t i;

	if (id == NULL || (slot = rt_view_node_find(R.view, id)) == RT_NONE)
		return 0;
	/* The same beat twice (NATS, then HTTP) or one overtaken by the
	 * next: ignore (nodestate.h). */
	if (!rt_nodestate_seq_accept(&rt_view_node(R.view, slot)->state, seq))
		return 0;
	if ((rn = rn_get(slot)) != NULL)
		rn->last_heartbeat_wall = r_wall_ms();
	ch = rt_view_node_heartbeat(R.view, slot,
	    rn_json_bytes(json_object_get(hb, "available_ram")),
	    rn_json_bytes(json_object_get(hb, "available_vram")), r_now());
	if (ch == RT_HEALTH_CLEARED)
		log_info("node %s healthy again", id);
	else if (ch == RT_HEALTH_ONLINE)
		rn_leader_online(slot);
	reps = json_object_get(hb, "replicas");
	json_array_foreach(reps, i, e)
	{
		rp_replica_report(id, e);
	}
	return 1;
}

struct status_job {
	struct rdb_job j;
	char node_id[64];
	char status[16];
	int clear_replicas;
};

static int
rn_status_run(PGconn *c, struct rdb_job *j)
{
	struct status_job *s = (struct status_job *)j;
	const char *p[2] = {s->node_id, s->status};
	PGresult *r;
	int st = RDB_OK;

	if (rdb_simple(c, j, &st, "BEGIN") == -1)
		return st;
	if ((r = rdb_exec(c, j, &st, RSQL_NODE_SET_STATUS, 2, p)) == NULL)
		goto fail;
	PQclear(r);
	if (s->clear_replicas) {
		if ((r = rdb_exec(c, j, &st, RSQL_REPLICA_DELETE_NODE, 1, p)) ==
		    NULL)
			goto fail;
		PQclear(r);
	}
	if (rdb_simple(c, j, &st, "COMMIT") == -1)
		goto fail;
	return RDB_OK;
fail:
	(void)PQclear(PQexec(c, "ROLLBACK"));
	return st;
}

static void
rn_status_done(struct rdb_job *j)
{
	struct status_job *s = (struct status_job *)j;
	uint32_t slot = rt_view_node_find(R.view, s->node_id);

	if (j->status == RDB_OK && slot != RT_NONE) {
		if (strcmp(s->status, "offline") == 0) {
			rt_nodestate_set_offline(
			    &rt_view_node(R.view, slot)->state);
			rt_view_node_clear_replicas(R.view, slot);
		}
		rn_publish_node(s->node_id, s->status);
		rn_event(strcmp(s->status, "offline") == 0 ? EVENT_NODE_OFFLINE
		                                           : EVENT_NODE_HEALTHY,
		    s->node_id, NULL, "health-leader", NULL);
	} else if (j->status != RDB_OK) {
		log_warnx("node %s -> %s: %s", s->node_id, s->status, j->error);
	}
	free(s);
}

/* The leader writes a durable status for a node. */
static void
rn_leader_write(uint32_t slot, const char *status, int clear)
{
	struct status_job *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return;
	snprintf(s->node_id, sizeof(s->node_id), "%s",
	    rt_view_node(R.view, slot)->id);
	snprintf(s->status, sizeof(s->status), "%s", status);
	s->clear_replicas = clear;
	s->j.run = rn_status_run;
	s->j.done = rn_status_done;
	rdb_submit(&s->j);
}

void
rn_leader_online(uint32_t slot)
{
	log_info("node %s is back", rt_view_node(R.view, slot)->id);
	if (R.leader)
		rn_leader_write(slot, "healthy", 0);
}

static void
rn_health_cb(void *arg, uint32_t slot, enum rt_health_change ch)
{
	struct rt_node *n = rt_view_node(R.view, slot);

	switch (ch) {
	case RT_HEALTH_SUSPECT:
		log_fields(4,
		    &(struct log_fields){
		        .node_id = n->id, .event = EVENT_NODE_SUSPECT},
		    "node %s suspect: heartbeats "
		    "missed",
		    n->name);
		break;
	case RT_HEALTH_OFFLINE:
		if (R.leader)
			rn_leader_write(slot, "offline", 1);
		break;
	default:
		break;
	}
}

struct leader_job {
	struct rdb_job j;
	int was_leader;
	int is_leader;
};

static int rn_leader_epoch; /* lock connection epoch of our lock */

static int
rn_leader_run(PGconn *c, struct rdb_job *j)
{
	struct leader_job *l = (struct leader_job *)j;
	int64_t key = rdb_lock_key(LEADER_LOCK_NS, LEADER_LOCK);
	int rc;

	/* Holding it: just check the lock connection still lives (the lock
	 * goes with it).  Not holding it: try to take it. */
	if (l->was_leader) {
		rc = rdb_lock_alive(rn_leader_epoch);
	} else {
		rn_leader_epoch = rdb_lock_epoch_get();
		rc = rdb_lock_try(key);
	}
	l->is_leader = rc == 1;
	return rc == -1 ? RDB_UNAVAILABLE : RDB_OK;
}

static void
rn_leader_done(struct rdb_job *j)
{
	struct leader_job *l = (struct leader_job *)j;

	if (l->is_leader != R.leader)
		log_info(l->is_leader
		             ? "this frontend is the health leader"
		             : "this frontend is no longer the health leader");
	R.leader = l->is_leader;
	rn_leader_job = 0;
	free(l);
}

/*
 * While this router hears nothing from NATS (its link is down, or its
 * agent is), the silence of heartbeats says nothing about the workers.
 * Time stands still for every node that was heard from recently enough
 * to be routable when the link went down: its heartbeat age is frozen,
 * so it stays routable and never goes offline for that silence alone,
 * and warm routing goes on from memory.  A dead worker is still taken
 * out at once by the first connection failure the api reports, and HTTP
 * heartbeats still count.  A node already silent stays silent.
 */
static void
rn_bus_grace(uint64_t now)
{
	static uint64_t last;
	struct rt_nodestate *s;
	struct rt_node *n;
	uint64_t delta, limit;
	uint32_t i;

	if (R.have_agent && R.bus_up) {
		last = 0;
		return;
	}
	delta = last != 0 && now > last ? now - last : 0;
	last = now;
	for (i = 0; delta > 0 && i < R.view->nodes.n; i++) {
		if ((n = rt_view_node(R.view, i)) == NULL)
			continue;
		s = &n->state;
		limit =
		    (uint64_t)s->interval_ms * R.view->health.suspect_missed;
		if (s->offline || s->last_heartbeat + limit < now - delta)
			continue;
		s->last_heartbeat = s->last_heartbeat + delta > now
		                        ? now
		                        : s->last_heartbeat + delta;
	}
}

void
rn_tick(void)
{
	uint64_t now = r_now();
	struct leader_job *l;

	rn_bus_grace(now);
	if (now - rn_last_health >= 250) {
		rn_last_health = now;
		rt_view_health_check(R.view, now, rn_health_cb, NULL);
	}
	if (now - rn_last_leader >= 1000 && !rn_leader_job) {
		rn_last_leader = now;
		if ((l = calloc(1, sizeof(*l))) == NULL)
			return;
		l->was_leader = R.leader;
		l->j.run = rn_leader_run;
		l->j.done = rn_leader_done;
		rn_leader_job = 1;
		rdb_submit(&l->j);
	}
}
