/*
 * The router's NATS traffic, through the frontend agent.
 *
 * In: worker heartbeats (localai.heartbeat.<node>, or relayed by the
 * frontend that got them over HTTP), replica state changes
 * (localai.events.replica, from workers), node changes
 * (localai.events.node, from frontends: reload the row; or "suspect":
 * another frontend's api could not reach the node), other frontends'
 * in-flight snapshots (localai.inflight.<frontend>).  Out: node events, our own
 * in-flight snapshot every 100 ms while it changes (and every second
 * while it is not empty, so it never expires while true), and requests to
 * workers (nodes.<id>.…) whose replies come back to a callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/bus.h"
#include "proto/event_catalog.h"
#include "proto/log.h"
#include "router/router.h"

#define SNAPSHOT_MS 100
#define SNAPSHOT_REFRESH_MS 1000
#define SNAPSHOT_EXPIRE_MS 3000

struct pending {
	uint64_t id;
	rb_reply_fn fn;
	void *arg;
	struct pending *next;
};

static struct pending *rb_pending;
static uint64_t rb_next_id = 1;
static uint64_t rb_last_snap, rb_last_snap_nonempty;

static void
rb_send(uint32_t type, uint64_t id, const char *subject, uint32_t timeout_ms,
    const char *data, size_t len)
{
	struct msg_bus h;

	memset(&h, 0, sizeof(h));
	h.id = id;
	snprintf(h.subject, sizeof(h.subject), "%s", subject);
	h.timeout_ms = timeout_ms;
	h.payload_len = (uint32_t)len;
	r_send2(0, type, 0, &h, sizeof(h), data, len);
}

void
rb_publish(const char *subject, const char *data, size_t len)
{
	if (R.have_agent)
		rb_send(MSG_BUS_PUB, 0, subject, 0, data, len);
}

void
rb_publish_json(const char *subject, json_t *o)
{
	char *s;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL)
		return;
	rb_publish(subject, s, strlen(s));
	free(s);
}

void
rb_request(const char *subject, json_t *payload, uint32_t timeout_ms,
    rb_reply_fn fn, void *arg)
{
	struct pending *p;
	char *s;

	if (!R.have_agent || !R.bus_up) {
		fn(arg, BUS_EDOWN, "", 0);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (s = json_dumps(payload, JSON_COMPACT)) == NULL) {
		free(p);
		fn(arg, -1, "", 0);
		return;
	}
	p->id = rb_next_id++;
	p->fn = fn;
	p->arg = arg;
	p->next = rb_pending;
	rb_pending = p;
	rb_send(MSG_BUS_REQ, p->id, subject, timeout_ms, s, strlen(s));
	free(s);
}

void
rb_reply(const struct msg_bus *h, const char *payload)
{
	struct pending **pp, *p;

	for (pp = &rb_pending; (p = *pp) != NULL; pp = &p->next)
		if (p->id == h->id) {
			*pp = p->next;
			p->fn(p->arg, h->status, payload, h->payload_len);
			free(p);
			return;
		}
}

/* The agent went away: every outstanding request fails now. */
void
rb_fail_all(void)
{
	struct pending *p;

	while ((p = rb_pending) != NULL) {
		rb_pending = p->next;
		p->fn(p->arg, BUS_EDOWN, "", 0);
		free(p);
	}
}

/*
 * A worker announced an event (a crash, a crash loop, a backend package
 * installed or refused): the health leader records it, so that N
 * frontends do not write N rows.
 */
static void
rb_replica_event(json_t *o)
{
	const char *ev = json_string_value(json_object_get(o, "event"));
	const char *node = json_string_value(json_object_get(o, "node_id"));
	const char *more; /* the detail's second field */
	char actor[96];

	if (!R.leader || ev == NULL || node == NULL)
		return;
	if (strcmp(ev, EVENT_REPLICA_CRASHED) == 0 ||
	    strcmp(ev, EVENT_REPLICA_CRASH_LOOP) == 0)
		more = "restarts";
	else if (strcmp(ev, EVENT_BACKEND_INSTALLED) == 0 ||
	         strcmp(ev, EVENT_BACKEND_INSTALL_FAILED) == 0)
		more = "backend";
	else
		return;
	snprintf(actor, sizeof(actor), "node:%s", node);
	rn_event(ev, node, json_string_value(json_object_get(o, "model")),
	    actor,
	    json_pack("{s:O,s:O}", "error",
	        json_object_get(o, "error") ?: json_null(), more,
	        json_object_get(o, more) ?: json_null()));
}

/*
 * The last snapshot of each other frontend, as received.  A snapshot may
 * name a replica this router does not know yet (the worker's "ready"
 * event has not arrived, or arrives later than the other frontend's first
 * request on it); those entries cannot be counted then, so the snapshot
 * is applied again when a replica joins the view (rb_snapshots_reapply),
 * instead of waiting up to a second for the sender's next refresh.
 */
struct rb_snap {
	char frontend[RT_ID_MAX];
	json_t *o;
	uint64_t expires;
	struct rb_snap *next;
};

static struct rb_snap *rb_snaps;

static void
rb_snap_keep(const char *fe, json_t *o, uint64_t expires)
{
	struct rb_snap *s, **pp;
	uint64_t now = r_now();

	for (pp = &rb_snaps; (s = *pp) != NULL;) {
		if (strcmp(s->frontend, fe) == 0 || s->expires <= now) {
			*pp = s->next;
			json_decref(s->o);
			free(s);
		} else
			pp = &s->next;
	}
	if (o == NULL || (s = calloc(1, sizeof(*s))) == NULL)
		return;
	snprintf(s->frontend, sizeof(s->frontend), "%s", fe);
	s->o = json_incref(o);
	s->expires = expires;
	s->next = rb_snaps;
	rb_snaps = s;
}

/* Count another frontend's snapshot o; 1 if it named unknown replicas. */
static int
rb_snapshot_apply(const char *fe, json_t *o, uint64_t expires)
{
	struct rt_snap_entry e[512];
	json_t *list = json_object_get(o, "replicas"), *x;
	uint32_t n = 0, model, node, slot;
	int unknown = 0;
	size_t i;

	json_array_foreach(list, i, x)
	{
		if (n == 512)
			break;
		model = rt_view_model_find(R.view,
		    json_string_value(json_object_get(x, "model")) ?: "");
		node = rt_view_node_find(R.view,
		    json_string_value(json_object_get(x, "node_id")) ?: "");
		slot = model == RT_NONE || node == RT_NONE
		           ? RT_NONE
		           : rt_view_replica_find(R.view, model, node);
		if (slot == RT_NONE) {
			unknown = 1;
			continue;
		}
		e[n].replica = slot;
		e[n++].inflight = (uint32_t)json_integer_value(
		    json_object_get(x, "in_flight"));
	}
	(void)rt_view_snapshot_apply(R.view, fe, e, n, expires);
	return unknown;
}

/* Another frontend's in-flight snapshot. */
static void
rb_snapshot(json_t *o)
{
	const char *fe = json_string_value(json_object_get(o, "frontend"));
	uint64_t expires = r_now() + SNAPSHOT_EXPIRE_MS;

	if (fe == NULL || strcmp(fe, R.cf.instance_id) == 0 ||
	    strlen(fe) >= RT_ID_MAX)
		return;
	if (rb_snapshot_apply(fe, o, expires))
		rb_snap_keep(fe, o, expires);
	else
		rb_snap_keep(fe, NULL, 0); /* drop an older one */
	rp_serve_queues(); /* its requests may have ended */
}

/* A replica joined the view: count what other frontends said of it. */
void
rb_snapshots_reapply(void)
{
	struct rb_snap *s, **pp;
	uint64_t now = r_now();

	for (pp = &rb_snaps; (s = *pp) != NULL;) {
		if (s->o == NULL || s->expires <= now ||
		    !rb_snapshot_apply(s->frontend, s->o, s->expires)) {
			/* Expired, or fully counted now. */
			*pp = s->next;
			json_decref(s->o);
			free(s);
		} else
			pp = &s->next;
	}
}

void
rb_message(const struct msg_bus *h, const char *payload)
{
	json_error_t je;
	json_t *o;
	const char *s;

	if ((o = json_loadb(payload, h->payload_len, 0, &je)) == NULL) {
		log_debug("bus: %s: not JSON", h->subject);
		return;
	}
	if (strncmp(h->subject, "localai.heartbeat.", 18) == 0) {
		s = json_string_value(json_object_get(o, "relayed_by"));
		if (s == NULL || strcmp(s, R.cf.instance_id) != 0)
			(void)rn_apply_heartbeat(o); /* not our own relay */
	} else if (strcmp(h->subject, "localai.events.replica") == 0) {
		rb_replica_event(o);
		rp_replica_report(
		    json_string_value(json_object_get(o, "node_id")), o);
	} else if (strcmp(h->subject, "localai.events.node") == 0) {
		s = json_string_value(json_object_get(o, "frontend"));
		if (s != NULL && strcmp(s, R.cf.instance_id) == 0)
			; /* our own */
		else if (json_string_value(json_object_get(o, "event")) &&
		         strcmp(json_string_value(json_object_get(o, "event")),
		             "suspect") == 0)
			rn_node_suspect(
			    json_string_value(json_object_get(o, "node_id"))
			        ?: "");
		else
			rn_node_event(
			    json_string_value(json_object_get(o, "node_id"))
			        ?: "",
			    json_string_value(json_object_get(o, "event"))
			        ?: "");
	} else if (strncmp(h->subject, "localai.inflight.", 17) == 0) {
		rb_snapshot(o);
	}
	json_decref(o);
}

/* Publish our own in-flight snapshot when due. */
void
rb_tick(void)
{
	struct rt_snap_entry e[512];
	uint64_t now = r_now();
	json_t *list, *o;
	uint32_t n, i;
	char subj[128];

	rt_view_snapshot_expire(R.view, now);
	if (now - rb_last_snap < SNAPSHOT_MS)
		return;
	if (!rt_view_own_dirty(R.view) &&
	    (rb_last_snap_nonempty == 0 ||
	        now - rb_last_snap < SNAPSHOT_REFRESH_MS))
		return;
	rb_last_snap = now;
	n = rt_view_own_snapshot(R.view, e, 512);
	if (n > 512)
		n = 512;
	list = json_array();
	for (i = 0; i < n; i++) {
		struct rt_replica *r = rt_view_replica(R.view, e[i].replica);

		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:i}", "node_id",
		              rt_view_node(R.view, r->node)->id, "model",
		              rt_view_model(R.view, r->model)->name,
		              "in_flight", (int)e[i].inflight));
	}
	rb_last_snap_nonempty = n > 0 ? now : 0;
	o = json_pack(
	    "{s:s,s:o}", "frontend", R.cf.instance_id, "replicas", list);
	snprintf(subj, sizeof(subj), "localai.inflight.%s", R.cf.instance_id);
	rb_publish_json(subj, o);
	json_decref(o);
}
