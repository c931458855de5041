/*
 * Placement: which replica serves a request (warm), and which node loads
 * a model that needs another replica (cold).  Pure functions over the
 * cluster view (view.h), called per request: nothing is cached per model,
 * nothing touches the database.  See DESIGN.md §3 for the rules; each
 * function below states the exact order it applies.
 *
 * A node is *routable* when it is approved, online, not draining and not
 * suspect (nodestate.h).  A node *matches* a model when it carries every
 * label of the model's selector.
 */
#ifndef LOCALAI_ROUTER_PLACE_H
#define LOCALAI_ROUTER_PLACE_H

#include <stdint.h>

#include "router/view.h"

enum rt_warm_status {
	RT_WARM_OK = 0, /* out->replica chosen */
	RT_WARM_BUSY, /* ready replicas exist, every one at its cap */
	RT_WARM_NONE, /* no usable ready replica */
};

struct rt_warm {
	enum rt_warm_status status;
	uint32_t replica; /* RT_WARM_OK: the chosen replica */
	uint32_t ready; /* usable ready replicas */
	uint32_t at_cap; /* of those, at their cap */
	uint32_t loading; /* replicas loading on routable nodes */
	uint32_t live; /* loading + usable ready: counts toward max */
	uint32_t capacity; /* sum of the usable replicas' caps */
	/*
	 * Start a cold load now (rt_place_cold()): nothing is loading, and
	 * there is no usable replica, or every one is at its cap and
	 * replicas_max allows one more, or there are fewer than
	 * replicas_min.  Otherwise queue (BUSY) or wait for the load.
	 */
	int cold;
};

/*
 * Warm placement.  Among the model's replicas that are READY, at the
 * model's current config revision, on a routable matching node other
 * than exclude_node (RT_NONE for none: a retry passes the node that just
 * failed), below their cap (rt_view_replica_cap()) and on a node below
 * its max_concurrency (all its replicas together): the lowest in-flight
 * relative to the cap (idle first), ties to the most recently used (warm
 * caches), then the lowest slot.  In-flight is ours plus other frontends' unexpired
 * snapshots.  Fills *out and returns out->status.  O(replicas of the
 * model).  The caller then counts the request: rt_view_inflight_add().
 */
enum rt_warm_status rt_place_warm(struct rt_view *v, uint32_t model,
    uint32_t exclude_node, uint64_t now, struct rt_warm *out);

enum rt_cold_status {
	RT_COLD_PLACE = 0, /* load on out->node */
	RT_COLD_EVICT, /* stop out->victims on out->node, then load there */
	RT_COLD_WAIT, /* nodes could host it once busy work ends: wait */
	RT_COLD_NONE, /* no node can host it: 503 now */
};

struct rt_cold {
	enum rt_cold_status status;
	uint32_t node;
	enum rt_mem mem; /* memory the load takes on that node */
	uint64_t bytes; /* to reserve: the model's estimate */
	int cached; /* the model's files are on the node already */
	int install; /* the backend must be installed first */
	uint32_t n_victims;
	uint32_t victims[RT_EVICT_MAX]; /* replica slots, oldest first */
	uint32_t scanned; /* nodes the decision walked (index sizes) */
};

/*
 * Cold placement.  Candidates are routable nodes matching the selector,
 * other than exclude_node, with the model's backend installed or
 * installable, and with no replica of the model already (a replica that
 * failed less than failed_backoff_ms ago keeps its node out, so the
 * next attempt tries another node).  A candidate *fits* when what it has
 * available covers the estimate (rt_node_available(): its reported free
 * memory minus reservations, bounded by its capacity minus the estimates
 * of the replicas it holds), in VRAM on GPU nodes and RAM otherwise:
 * never overcommit.  Among fitting candidates:
 *	1. the model's files cached on the node;
 *	2. idle nodes (no in-flight);
 *	3. nodes with no model loaded;
 *	4. least loaded (in-flight / the node's concurrency);
 *	5. backend already installed; more memory left; lowest slot.
 * Nothing fits: EVICT on the node where the least recently used replicas
 * with zero in-flight (READY, other models, never below their model's
 * replicas_min, holding some memory) free enough, keeping only the
 * victims the plan needs, preferring the plan whose newest victim is
 * oldest, then fewer victims.  Else WAIT when some candidate (or a
 * suspect node that may recover) could hold the model, NONE otherwise.
 * Cached nodes are looked at first through the file index; only if none
 * fits are all matching nodes scanned (the rarest selector label's nodes
 * when there is a selector), cheap per-node tests first.  O(nodes) when
 * nothing is cached, O(cached nodes) otherwise.  Fills *out and returns
 * out->status.
 */
enum rt_cold_status rt_place_cold(struct rt_view *v, uint32_t model,
    uint32_t exclude_node, uint64_t now, struct rt_cold *out);

/*
 * Act on a PLACE or EVICT decision at once, before anything else runs:
 * mark the victims STOPPING (out of routing; the caller sends Free and
 * stop), add (or reuse a failed) replica of the model on the node in
 * LOADING state at the model's revision, and reserve its memory so the
 * next decision cannot overcommit the node.  Returns the replica slot,
 * or RT_NONE (errno EINVAL for another status, ENOMEM).
 */
uint32_t rt_place_cold_commit(
    struct rt_view *v, uint32_t model, const struct rt_cold *c, uint64_t now);

#endif
