/*
 * The router process: the frontend's control plane.  One event loop owns
 * the cluster view (view.h), the admission queues (admit.h), the links to
 * the api processes and to the frontend agent; PostgreSQL is reached only
 * through the database thread (rdb.h), NATS only through the agent.
 *
 * Files: router.c (loop, links, timers), rplace.c (PLACE/DONE, queues,
 * cold loads), rnodes.c (node registry: database rows <-> view, health
 * leader), rhttp.c (the node and admin HTTP API relayed by the api
 * processes), rbus.c (NATS: heartbeats, events, in-flight snapshots,
 * requests to workers).
 */
#ifndef LOCALAI_ROUTER_H
#define LOCALAI_ROUTER_H

#include <stdint.h>

#include <jansson.h>

#include "proto/msg.h"
#include "proto/metrics.h"
#include "proto/msgbuf.h"
#include "router/admit.h"
#include "router/place.h"
#include "router/view.h"
#include "supervisor/config.h"

#define RT_MAX_LINKS 128

/* What the router keeps per node besides the view (view's udata). */
struct rnode {
	char token_hash[65]; /* SHA-256 of the node token */
	char backend_token[80]; /* we hand it to api processes */
	char address[RT_ADDR_MAX];
	char http_address[RT_ADDR_MAX];
	char gpu_vendor[16];
	char node_type[16];
	char created_at[40];
	json_t *labels;
	json_t *backends; /* installed backend names */
	int64_t last_heartbeat_wall; /* unix ms of the last beat */
	uint64_t hb_db_at; /* last heartbeat written (r_now) */
};

/* One api process link (owner in the view and admission queue). */
struct rlink {
	int used;
	uint32_t owner; /* unique per link, never reused */
	uint32_t instance;
	struct msgbuf mb;
	struct metrics_snap *snap; /* its latest metrics, or NULL */
};

struct router {
	struct conf cf;
	struct conf_models models;
	struct rt_view *view;
	struct rt_admit *admit;
	struct rlink links[RT_MAX_LINKS];
	uint32_t next_owner;
	struct msgbuf agent;
	int have_agent;
	int bus_up;
	int leader;
	int stopping;
	struct metrics *metrics; /* the router's own */
	struct metrics *retired; /* counters of api links gone */
	struct metrics *scrape; /* scratch for /metrics */
};

extern struct router R;

uint64_t r_now(void); /* monotonic ms */
int64_t r_wall_ms(void); /* unix ms */
struct rlink *r_link(uint32_t owner);
/* Queue a message on an api link (or the agent link: owner 0). */
void r_send(uint32_t owner, uint32_t type, uint32_t peerid, const void *data,
    size_t len);
void r_send2(uint32_t owner, uint32_t type, uint32_t peerid, const void *hdr,
    size_t hlen, const void *body, size_t blen);

/* rplace.c */
void rp_init(void);
void rp_place(uint32_t owner, uint32_t peerid, const struct msg_place *p);
void rp_done(uint32_t owner, const struct msg_done *d);
void rp_replica_fail(uint32_t owner, const struct msg_replica_fail *f);
void rp_owner_gone(uint32_t owner);
void rp_capacity_changed(uint32_t model); /* serve queued requests */
void rp_serve_queues(void); /* every model's */
void rp_tick(void); /* expiry, stuck models */
/* Start a cold load of model now (admin pre-warm); the answer body. */
json_t *rp_prewarm(uint32_t model);
/* A replica came up or failed elsewhere (worker or other frontend). */
void rp_replica_update(const char *node_id, const char *model,
    const char *address, const char *state, const char *error);
/* A worker's heartbeat: how far the replica's load got (percent). */
void rp_replica_report(const char *node_id, json_t *e);
void rp_replica_progress(const char *node_id, const char *model, int progress);
/* The model's load jobs (in progress, last failed) for the admin API. */
json_t *rp_model_loads(uint32_t model);

/* rnodes.c */
int rn_load_all(void); /* at start, synchronous */
struct rnode *rn_get(uint32_t node);
#include <libpq-fe.h>
uint32_t rn_apply_row(PGresult *r, int row);
void rn_node_event(const char *node_id, const char *what);
void rn_registered(const char *node_id);
/* Another frontend's api could not reach the node. */
void rn_node_suspect(const char *node_id);
void rn_tick(void); /* health check, leader */
void rn_publish_node(const char *node_id, const char *what);
int rn_apply_heartbeat(json_t *hb);
void rn_leader_online(uint32_t node);
void rn_gallery_load(void);
void rn_event(const char *kind, const char *node_id, const char *model,
    const char *actor, json_t *detail);
/* The same, caused by request rid (NULL or "": none). */
void rn_event_rid(const char *kind, const char *node_id, const char *model,
    const char *actor, const char *rid, json_t *detail);

/* rhttp.c */
void rh_request(uint32_t owner, uint32_t peerid, const struct msg_http_req *h,
    const char *body, size_t len);
void rh_reply(uint32_t owner, uint32_t peerid, unsigned status,
    const char *content_type, const char *body, size_t len);
void rh_reply_json(uint32_t owner, uint32_t peerid, unsigned status, json_t *o);
void rh_error(uint32_t owner, uint32_t peerid, unsigned status,
    const char *code, const char *msg);

/* rmetrics.c */
void rm_init(void);
void rm_api_snapshot(struct rlink *l, const void *data, size_t len);
void rm_link_gone(struct rlink *l);
void rm_scrape(uint32_t owner, uint32_t peerid);

/* rbus.c */
typedef void (*rb_reply_fn)(
    void *arg, int status, const char *data, size_t len);
void rb_publish(const char *subject, const char *data, size_t len);
void rb_publish_json(const char *subject, json_t *o);
void rb_request(const char *subject, json_t *payload, uint32_t timeout_ms,
    rb_reply_fn fn, void *arg);
void rb_message(const struct msg_bus *h, const char *payload);
void rb_reply(const struct msg_bus *h, const char *payload);
void rb_tick(void); /* in-flight snapshots */
void rb_snapshots_reapply(void); /* a replica joined the view */
void rb_fail_all(void); /* agent link lost */

#endif
