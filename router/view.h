/*
 * The router's in-memory cluster view: nodes, models, replicas, memory
 * reservations and exact in-flight accounting.  Pure data and logic: no
 * I/O, no clock, no PostgreSQL, NATS or sockets.  The router process fills
 * it from PostgreSQL at start and from NATS events and api messages after,
 * and asks place.h for decisions on every request.  Single-threaded: the
 * router calls it from its one event loop, so a decision and the
 * reservation that follows it happen with nothing in between.
 *
 * Everything is addressed by slot (uint32_t index into a table; RT_NONE
 * for "none").  Slots are reused after removal; pointers returned by
 * rt_view_node() and friends stay valid only until the next call that
 * adds an object of that kind.  Times are milliseconds on the router's
 * monotonic clock.
 *
 * Indexes kept so that placement does not scan what it need not:
 *	- per model: its replica slots (warm placement is O(replicas));
 *	- per node: its replica slots (eviction, node removal);
 *	- per tag: the nodes carrying it, where a tag is a label key=value,
 *	  an installed backend, or a cached model file.  A label selector
 *	  scans only the nodes of its rarest label; "files cached" scans only
 *	  the nodes that have the file.
 *	- hash maps: node id, node name, model name, replica id, request id.
 */
#ifndef LOCALAI_ROUTER_VIEW_H
#define LOCALAI_ROUTER_VIEW_H

#include <stdint.h>

#include "router/map.h"
#include "router/nodestate.h"
#include "supervisor/config.h"

#define RT_ID_MAX 64 /* node ids, request ids, frontend ids (with NUL) */
#define RT_NAME_MAX 256 /* node names (LOCALAI_NODE_NAME) */
#define RT_ADDR_MAX 128 /* backend gRPC host:port */
#define RT_EVICT_MAX 8 /* victims one eviction decision may name */
#define RT_ERROR_MAX 256 /* a replica's failure reason (with NUL) */

/* Which memory a placement counts: VRAM on GPU nodes, RAM otherwise. */
enum rt_mem {
	RT_MEM_RAM = 0,
	RT_MEM_VRAM,
	RT_MEM_KINDS,
};

/* A growable array of slots. */
struct rt_slots {
	uint32_t *v;
	uint32_t n;
	uint32_t cap;
};

struct rt_node {
	/* Read by every placement scan: kept together at the start. */
	uint8_t used;
	uint8_t has_gpu;
	uint8_t can_install; /* the worker installs backends on request */
	uint32_t stamp; /* placement scratch */
	struct rt_nodestate state;
	uint64_t free[RT_MEM_KINDS]; /* from the last heartbeat */
	uint64_t reserved[RT_MEM_KINDS]; /* cold loads not yet in `free` */
	uint32_t inflight; /* all replicas, own and other frontends' */
	uint32_t n_loaded; /* replicas loading or ready ("models loaded") */
	uint32_t max_concurrency;
	uint32_t n_settled; /* settled reservations awaiting heartbeats */
	uint64_t total[RT_MEM_KINDS]; /* capacity (registration) */
	/* Estimates of the replicas that hold memory here (not failed). */
	uint64_t committed[RT_MEM_KINDS];
	struct rt_slots replicas;
	/* Tag ids, sorted: labels, installed backends, cached files. */
	struct rt_slots labels;
	struct rt_slots backends;
	struct rt_slots files;
	void *udata; /* the caller's: addresses, token… */
	char id[RT_ID_MAX];
	char name[RT_NAME_MAX];
};

struct rt_model {
	uint8_t used;
	uint32_t backend_tag; /* tag "b:<backend>" */
	uint32_t file_tag; /* tag "f:<sha256 or file>", RT_NONE if none */
	uint64_t estimate[RT_MEM_KINDS];
	uint32_t replicas_min;
	uint32_t replicas_max; /* 0 is taken as 1 */
	uint32_t max_concurrency; /* per replica; 0: the node's */
	uint32_t revision; /* config hash; older replicas get no work */
	uint32_t n_selector;
	uint32_t selector[CONF_MAX_LABELS]; /* label tag ids, all required */
	struct rt_slots replicas;
	void *udata;
	char name[CONF_NAME_MAX];
	char backend[CONF_NAME_MAX];
};

struct rt_replica {
	uint8_t used;
	enum rt_replica_state state;
	enum rt_mem mem; /* what its memory was counted as */
	uint32_t gen; /* unique per replica: stale references miss */
	uint32_t model;
	uint32_t node;
	uint32_t model_pos; /* index in the model's and node's lists */
	uint32_t node_pos;
	uint32_t revision;
	uint32_t own; /* in-flight placed by this router */
	uint32_t other; /* other frontends' unexpired snapshots */
	uint64_t id; /* durable id (database row), 0 until known */
	uint64_t mem_bytes;
	uint64_t reservation; /* handle while loading, else 0 */
	uint64_t last_used;
	uint64_t state_since;
	void *udata;
	char address[RT_ADDR_MAX];
	/* Shown to operators, not used by placement: the load's progress
	 * (percent, as the worker last reported it) and why it failed. */
	uint32_t progress;
	char error[RT_ERROR_MAX];
};

/* One tag (label, backend or file) and the nodes that carry it. */
struct rt_tag {
	struct rt_slots nodes;
	uint8_t installable; /* backends: the gallery can install it */
	uint8_t gpu_only; /* backends: needs a GPU node */
};

struct rt_reservation {
	uint8_t used;
	uint8_t settled; /* the load finished; heartbeats will show it */
	uint8_t beats_left;
	enum rt_mem mem;
	uint32_t gen;
	uint32_t node;
	uint64_t bytes;
};

/* One in-flight request of this router. */
struct rt_request {
	uint8_t used;
	uint32_t owner; /* api process that asked */
	uint32_t replica;
	uint32_t gen; /* of the replica at placement */
	uint64_t started;
	char id[RT_ID_MAX];
};

/* One replica's count in a frontend snapshot. */
struct rt_snap_entry {
	uint32_t replica;
	uint32_t inflight;
};

/* Another frontend's last snapshot, counted until it expires. */
struct rt_frontend {
	uint8_t used;
	uint64_t expires;
	struct rt_snap_stored {
		uint32_t replica;
		uint32_t gen;
		uint32_t inflight;
	} * e;
	uint32_t n;
	uint32_t cap;
	char id[RT_ID_MAX];
};

/* A table of fixed-size objects addressed by slot, with a free list. */
struct rt_table {
	void *v;
	uint32_t n; /* high-water mark of slots */
	uint32_t cap;
	uint32_t count; /* slots in use */
	struct rt_slots freel;
};

struct rt_view {
	struct rt_health_conf health;
	uint32_t default_cap; /* per replica, when model and node say 0 */
	uint32_t failed_backoff_ms; /* a failed load keeps that node away */
	uint32_t settle_beats; /* heartbeats that retire a reservation */
	struct rt_table nodes; /* struct rt_node */
	struct rt_table models; /* struct rt_model */
	struct rt_table replicas; /* struct rt_replica */
	struct rt_table reservations;
	struct rt_table requests; /* struct rt_request */
	struct rt_table frontends; /* struct rt_frontend */
	struct rt_tag *tags;
	uint32_t n_tags;
	uint32_t cap_tags;
	struct rt_map node_ids;
	struct rt_map node_names;
	struct rt_map model_names;
	struct rt_map replica_ids;
	struct rt_map tag_names;
	struct rt_map request_ids;
	struct rt_map frontend_ids;
	uint32_t stamp; /* placement scratch generation */
	uint32_t replica_gen;
	uint32_t reservation_gen;
	int own_dirty; /* own in-flight changed since last snapshot */
	uint64_t next_expiry; /* earliest frontend snapshot expiry */
};

/*
 * Lifecycle.  rt_view_new() sets the defaults: health per
 * rt_health_conf_default(), default_cap 1, failed_backoff_ms 30000,
 * settle_beats 2.  The caller may change them before use.
 */
struct rt_view *rt_view_new(void);
void rt_view_free(struct rt_view *v);

/*
 * Nodes.  rt_view_node_add() registers a new node (pending unless
 * auto_approve; see nodestate.h); it returns the slot, or RT_NONE when the
 * id or name is taken or memory ran out.  Health transitions go through
 * rt_nodestate_*(&node->state, &v->health, …) directly, except heartbeats
 * (below), which also carry memory figures.
 */
uint32_t rt_view_node_add(struct rt_view *v, const char *id, const char *name,
    int auto_approve, uint32_t heartbeat_ms, uint64_t now);
uint32_t rt_view_node_find(const struct rt_view *v, const char *id);
uint32_t rt_view_node_find_name(const struct rt_view *v, const char *name);
struct rt_node *rt_view_node(const struct rt_view *v, uint32_t slot);
/* Forget a node: its replicas, reservations and tags go with it. */
void rt_view_node_remove(struct rt_view *v, uint32_t slot);
void rt_view_node_set_capacity(struct rt_view *v, uint32_t slot, int has_gpu,
    uint64_t ram, uint64_t vram, uint32_t max_concurrency);
/* Replace the node's labels, installed backends or cached files. */
int rt_view_node_set_labels(struct rt_view *v, uint32_t slot,
    const struct conf_label *labels, uint32_t n);
int rt_view_node_set_backends(
    struct rt_view *v, uint32_t slot, const char *const *names, uint32_t n);
/* Files are keyed as models are: lower-case hex SHA-256, or file name. */
int rt_view_node_set_files(
    struct rt_view *v, uint32_t slot, const char *const *keys, uint32_t n);
/*
 * A heartbeat with the node's free memory.  Updates health (see
 * rt_nodestate_heartbeat()) and retires settled reservations once
 * settle_beats heartbeats have passed since the load finished, by which
 * time `free` reflects the loaded model.
 */
enum rt_health_change rt_view_node_heartbeat(struct rt_view *v, uint32_t slot,
    uint64_t free_ram, uint64_t free_vram, uint64_t now);
/* Forget every replica of the node (it went offline or restarted). */
void rt_view_node_clear_replicas(struct rt_view *v, uint32_t slot);
/*
 * Periodic health check of every node (rt_nodestate_check()); cb is
 * called for each node whose check returned something other than SAME.
 * The leader writes RT_HEALTH_OFFLINE; others may ignore it.
 */
void rt_view_health_check(struct rt_view *v, uint64_t now,
    void (*cb)(void *arg, uint32_t node, enum rt_health_change ch), void *arg);
/*
 * What a new replica may take on a node, in the kind placement uses: the
 * free memory the node last reported minus reservations, but never more
 * than its capacity minus the estimates of the replicas it holds.  The
 * second bound matters because a node's report does not always show its
 * models: MemAvailable counts the page cache, and a model a backend
 * mmap()ed lives there; trusting the report alone would stack models on
 * one node and overcommit it.  Inline: placement asks it of every node.
 */
static inline int64_t
rt_node_available(const struct rt_node *n, enum rt_mem mem)
{
	int64_t a = (int64_t)n->free[mem] - (int64_t)n->reserved[mem];
	int64_t b = (int64_t)n->total[mem] - (int64_t)n->committed[mem];

	return n->total[mem] > 0 && b < a ? b : a;
}
int64_t rt_view_node_available(
    const struct rt_view *v, uint32_t slot, enum rt_mem mem);
/*
 * Which memory a model takes on a node: VRAM on a GPU node (unless the
 * model has no VRAM estimate: it runs from RAM, CPU-only backends), RAM
 * otherwise.  Inline: placement asks this of every node it scans.
 */
static inline enum rt_mem
rt_view_model_mem(const struct rt_node *n, const struct rt_model *m)
{
	if (n->has_gpu && m->estimate[RT_MEM_VRAM] > 0)
		return RT_MEM_VRAM;
	return RT_MEM_RAM;
}

/*
 * Backends the gallery can install; a backend that is neither installed
 * on a node nor installable there rules the node out.
 */
int rt_view_backend_set(
    struct rt_view *v, const char *name, int installable, int gpu_only);

/*
 * Models.  rt_view_model_set() adds or updates a model from its config
 * (estimate = resources ram/vram, files = sha256 when given, else the
 * file name); returns the slot or RT_NONE when out of memory.  Removing a
 * model removes its replicas (stop them first).
 */
uint32_t rt_view_model_set(struct rt_view *v, const struct conf_model *m);
uint32_t rt_view_model_find(const struct rt_view *v, const char *name);
struct rt_model *rt_view_model(const struct rt_view *v, uint32_t slot);
void rt_view_model_remove(struct rt_view *v, uint32_t slot);

/*
 * Replicas: at most one per (model, node).  rt_view_replica_add() returns
 * the slot, or RT_NONE when one exists already or memory ran out.
 */
uint32_t rt_view_replica_add(struct rt_view *v, uint32_t model, uint32_t node,
    enum rt_replica_state st, uint32_t revision, const char *address,
    uint64_t now);
uint32_t rt_view_replica_find(
    const struct rt_view *v, uint32_t model, uint32_t node);
uint32_t rt_view_replica_find_id(const struct rt_view *v, uint64_t id);
struct rt_replica *rt_view_replica(const struct rt_view *v, uint32_t slot);
int rt_view_replica_set_id(struct rt_view *v, uint32_t slot, uint64_t id);
void rt_view_replica_set_address(
    struct rt_view *v, uint32_t slot, const char *address, uint32_t revision);
/*
 * Apply a state event (rt_replica_next()).  READY settles the load's
 * reservation; FAILED releases it.  Returns 1 when the state changed.
 */
int rt_view_replica_event(
    struct rt_view *v, uint32_t slot, enum rt_replica_event ev, uint64_t now);
/* Forget a replica; its reservation, if any, is released. */
void rt_view_replica_remove(struct rt_view *v, uint32_t slot);
/* Own plus other frontends' in-flight. */
uint32_t rt_view_replica_inflight(const struct rt_view *v, uint32_t slot);
/* Max concurrency: the model's, else the node's, else default_cap. */
uint32_t rt_view_replica_cap(const struct rt_view *v, uint32_t slot);

/*
 * Memory reservations: taken when a cold load is decided, so that the
 * next decision sees the memory as gone before the node reports it.
 * rt_view_reserve() returns a non-zero handle (0 when out of memory).
 * Release on failure; settle on success (it then retires by heartbeats).
 * Both return 0, or -1 for a stale handle (so a double release is harmless).
 */
uint64_t rt_view_reserve(
    struct rt_view *v, uint32_t node, enum rt_mem mem, uint64_t bytes);
int rt_view_release(struct rt_view *v, uint64_t handle);
int rt_view_settle(struct rt_view *v, uint64_t handle);
/*
 * Reserve `bytes` for a replica on its node (in the node's memory kind)
 * and link it: READY settles it, FAILED or removal releases it.  Used by
 * rt_place_cold_commit() and when restoring loading replicas at start.
 * Returns 0, or -1 when out of memory.
 */
int rt_view_replica_reserve(struct rt_view *v, uint32_t slot, uint64_t bytes);

/*
 * In-flight accounting (inflight.c).  Exactly once per request: add at
 * PLACE_OK, done at DONE.  A request is keyed by (owner, request id): the
 * api process and its request id.
 *	add:  -1 with errno EEXIST if already counted, EINVAL for a bad
 *	      replica, ENOMEM.
 *	done: -1 with errno ENOENT if not counted (a second DONE); else 0
 *	      and *replica = the replica slot, or RT_NONE when the replica
 *	      has since been removed.
 * rt_view_inflight_release_owner() ends every request of an api process
 * whose socket closed; it returns how many.
 */
int rt_view_inflight_add(struct rt_view *v, uint32_t owner,
    const char *request_id, uint32_t replica, uint64_t now);
int rt_view_inflight_done(struct rt_view *v, uint32_t owner,
    const char *request_id, uint64_t now, uint32_t *replica);
uint32_t rt_view_inflight_release_owner(
    struct rt_view *v, uint32_t owner, uint64_t now);
uint32_t rt_view_inflight_count(const struct rt_view *v);

/*
 * Other frontends' snapshots.  Each snapshot replaces that frontend's
 * previous one and counts until `expires`; rt_view_snapshot_expire()
 * (cheap when nothing is due; placement calls it too) stops counting the
 * stale ones.  Entries name replicas by slot: the caller resolves the
 * published (node id, model) or replica id first.
 */
int rt_view_snapshot_apply(struct rt_view *v, const char *frontend,
    const struct rt_snap_entry *e, uint32_t n, uint64_t expires);
void rt_view_snapshot_drop(struct rt_view *v, const char *frontend);
void rt_view_snapshot_expire(struct rt_view *v, uint64_t now);
/*
 * Our own snapshot to publish: every replica with own in-flight > 0.
 * Returns the number of entries (which may exceed max: call again with a
 * bigger array); clears the dirty flag when they all fitted.  Publish when
 * rt_view_own_dirty() says so, and at least every expiry/2 while not
 * empty, so that receivers do not let it expire.
 */
uint32_t rt_view_own_snapshot(
    struct rt_view *v, struct rt_snap_entry *out, uint32_t max);
int rt_view_own_dirty(const struct rt_view *v);

/*
 * Internal helpers shared by view.c, inflight.c and place.c.
 * rt_view_inflight_adjust() moves a replica's counts (never below zero)
 * and its node's total with them.
 */
void rt_view_inflight_adjust(
    struct rt_view *v, struct rt_replica *r, int64_t own, int64_t other);
int rt_slots_has(const struct rt_slots *s, uint32_t x);
int rt_slots_push(struct rt_slots *s, uint32_t x);
uint32_t rt_table_alloc(struct rt_table *t, size_t size);
void rt_table_release(struct rt_table *t, uint32_t slot);

#endif
