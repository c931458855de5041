/*
 * Node and replica health: pure state machines, time passed in.
 *
 * Every router keeps one struct rt_nodestate per worker node and feeds it
 * what it hears: registrations, heartbeats (NATS, or HTTP while NATS is
 * down), connection failures the api processes report, operator actions,
 * and the durable transitions the health leader decides.  The functions
 * answer what changed; the caller logs, writes PostgreSQL (leader only)
 * and broadcasts.  No clock is read here: `now` is milliseconds on the
 * router's monotonic clock, and heartbeat times are receipt times on that
 * same clock, so worker clock skew never matters.
 *
 * The durable status is derived from three independent facts instead of
 * being one mutable field:
 *
 *	approved   set only by rt_nodestate_init() with auto-approve, or by
 *	           an operator's rt_nodestate_approve().  Nothing else, in
 *	           particular not a re-registration, a heartbeat or a return
 *	           from offline, can set it.
 *	draining   operator intent (drain / resume); survives going offline
 *	           and coming back.
 *	offline    liveness as the health leader declared it.
 *
 * status = !approved ? pending : offline ? offline : draining ? draining :
 * healthy.  So a pending node that goes stale and comes back is still
 * pending: LocalAI's approval bypass (stale pending -> offline ->
 * re-register -> healthy) cannot be expressed.
 *
 * Suspect is local and fast (no database write): a node is suspect from
 * the first connection failure the api reports until `clear_beats`
 * heartbeats have arrived after it, or while its last heartbeat is older
 * than `suspect_missed` heartbeat intervals.  Suspect nodes get no new
 * work; their in-flight requests continue.
 */
#ifndef LOCALAI_ROUTER_NODESTATE_H
#define LOCALAI_ROUTER_NODESTATE_H

#include <stdint.h>

/* A node's status as users and the database see it (LocalAI's names). */
enum rt_node_status {
	RT_NODE_PENDING = 0, /* registered, awaiting approval: never routable */
	RT_NODE_HEALTHY, /* the only routable status */
	RT_NODE_DRAINING, /* operator: no new work, in-flight completes */
	RT_NODE_OFFLINE, /* no heartbeat for offline_after (leader) */
};

/* Timing rules; rt_health_conf_default() fills the defaults. */
struct rt_health_conf {
	uint32_t offline_after_ms; /* 5000: stale this long -> offline */
	uint32_t suspect_missed; /* 2: intervals without a beat -> suspect */
	uint32_t clear_beats; /* 2: beats after a failure -> not suspect */
	uint32_t default_interval_ms; /* 1000: when a node reports none */
};

struct rt_nodestate {
	uint8_t approved;
	uint8_t draining;
	uint8_t offline;
	uint8_t conn_suspect; /* since a reported connection failure */
	uint8_t stale_seen; /* rt_nodestate_check() reported staleness */
	uint32_t interval_ms; /* the node's heartbeat interval */
	uint32_t beats_since_failure;
	uint64_t last_heartbeat; /* receipt time, router monotonic ms */
	uint64_t failed_at;
	uint64_t hb_seq; /* last heartbeat sequence counted, 0 none */
};

/* What a call changed, for the caller to log, write or broadcast. */
enum rt_health_change {
	RT_HEALTH_SAME = 0,
	RT_HEALTH_SUSPECT, /* newly suspect (failure or missed beats) */
	RT_HEALTH_CLEARED, /* no longer suspect */
	RT_HEALTH_ONLINE, /* was offline, alive again: leader writes it */
	RT_HEALTH_OFFLINE, /* should go offline: leader writes it */
};

void rt_health_conf_default(struct rt_health_conf *c);

/*
 * A node registering for the first time.  It is approved only when
 * auto_approve is set; interval_ms 0 means the configured default.
 */
void rt_nodestate_init(struct rt_nodestate *s, const struct rt_health_conf *c,
    int auto_approve, uint32_t interval_ms, uint64_t now);
/*
 * Restore a node from the database at router start.  Its last heartbeat
 * is taken as `now` (a grace period: we have not heard from it yet, nor
 * have we missed anything).  A row that is not approved stays pending
 * whatever its other columns say.
 */
void rt_nodestate_restore(struct rt_nodestate *s,
    const struct rt_health_conf *c, int approved, int draining, int offline,
    uint32_t interval_ms, uint64_t now);
/*
 * A known node registers again (worker restart).  Counts as a heartbeat,
 * clears suspicion and offline; never touches approval or draining.
 * Returns RT_HEALTH_ONLINE when an approved node came back from offline.
 */
enum rt_health_change rt_nodestate_register(struct rt_nodestate *s,
    const struct rt_health_conf *c, uint32_t interval_ms, uint64_t now);
/*
 * Does a heartbeat numbered seq count?  Not one already counted (the same
 * beat by NATS, then relayed over HTTP) nor one overtaken by a later one,
 * up to RT_HB_REORDER_MAX behind; one further behind means the worker
 * restarted unseen and starts over.  Registration (rt_nodestate_register,
 * _init, _restore) forgets the sequence, so a worker that restarts and
 * counts from 1 again is heard at once, whatever its numbers were; the
 * router assumes nothing about where a worker starts counting.  seq 0
 * (unnumbered) always counts.  Records seq when it counts; 1 or 0.
 */
#define RT_HB_REORDER_MAX 3
int rt_nodestate_seq_accept(struct rt_nodestate *s, uint64_t seq);
/* A heartbeat arrived.  May clear suspicion or bring a node online. */
enum rt_health_change rt_nodestate_heartbeat(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now);
/*
 * One of the node's replicas became ready (again): the worker restarted a
 * backend and loaded its model, so the connection failures reported
 * before are explained and over.  Clears that suspicion (not staleness);
 * RT_HEALTH_CLEARED when the node is routable again because of it.
 */
enum rt_health_change rt_nodestate_replica_ready(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now);
/* The api could not reach one of the node's backends. */
enum rt_health_change rt_nodestate_conn_failure(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now);
/*
 * Periodic check (every few hundred ms).  Returns RT_HEALTH_OFFLINE when
 * an approved, online node has been silent for offline_after (the leader
 * writes it, then every router applies rt_nodestate_set_offline());
 * RT_HEALTH_SUSPECT once when heartbeats stop; otherwise SAME.  A pending
 * node is never reported: it stays pending.
 */
enum rt_health_change rt_nodestate_check(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now);
/* Apply the leader's durable "offline".  No effect on a pending node. */
void rt_nodestate_set_offline(struct rt_nodestate *s);
/* Operator actions.  Each returns 1 when it changed something, else 0. */
int rt_nodestate_approve(struct rt_nodestate *s);
int rt_nodestate_drain(struct rt_nodestate *s);
int rt_nodestate_resume(struct rt_nodestate *s);

enum rt_node_status rt_nodestate_status(const struct rt_nodestate *s);

/*
 * Suspect: a connection failure not yet cleared, or silent for more than
 * suspect_missed intervals.  Inline: placement asks this of every node.
 */
static inline int
rt_nodestate_suspect(
    const struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	return s->conn_suspect ||
	       (now > s->last_heartbeat &&
	           now - s->last_heartbeat >
	               (uint64_t)s->interval_ms * c->suspect_missed);
}

/* May new work go to this node?  Healthy, approved and not suspect. */
static inline int
rt_nodestate_routable(
    const struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	return s->approved && !s->offline && !s->draining &&
	       !rt_nodestate_suspect(s, c, now);
}
/* "pending", "healthy", "draining", "offline". */
const char *rt_node_status_name(enum rt_node_status st);
/* The reverse, for database rows.  Returns 0, or -1 for an unknown name. */
int rt_node_status_parse(const char *name, enum rt_node_status *st);

/*
 * Replica states, as the worker reports them (and the router's own STOP).
 *
 *	LOADING  -> READY | FAILED | STOPPING
 *	READY    -> LOADING (backend restarted) | FAILED | STOPPING
 *	FAILED   -> LOADING (retry) | READY (recovered) | STOPPING
 *	STOPPING -> (removed)
 *
 * Only READY replicas receive requests.  STOPPING is terminal: a late
 * "ready" from a worker that has not yet processed our stop must not put
 * an evicted replica back into routing.
 */
enum rt_replica_state {
	RT_REPLICA_LOADING = 0,
	RT_REPLICA_READY,
	RT_REPLICA_FAILED,
	RT_REPLICA_STOPPING,
};

enum rt_replica_event {
	RT_REPLICA_EV_LOADING = 0, /* worker: (re)starting, LoadModel running */
	RT_REPLICA_EV_READY, /* worker: LoadModel succeeded */
	RT_REPLICA_EV_FAILED, /* worker: load failed / backend gave up */
	RT_REPLICA_EV_STOP, /* router: evict or unload */
};

/*
 * The state after event ev.  Returns 1 when the state changes, 0 when the
 * event is a repeat or is ignored (anything but STOP while STOPPING).
 */
int rt_replica_next(enum rt_replica_state cur, enum rt_replica_event ev,
    enum rt_replica_state *next);
const char *rt_replica_state_name(enum rt_replica_state st);

#endif
