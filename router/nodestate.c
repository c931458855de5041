/*
 * Node and replica health state machines; see nodestate.h for the rules.
 */
#include <string.h>

#include "router/nodestate.h"

static const char *const status_names[] = {
    [RT_NODE_PENDING] = "pending",
    [RT_NODE_HEALTHY] = "healthy",
    [RT_NODE_DRAINING] = "draining",
    [RT_NODE_OFFLINE] = "offline",
};

static const char *const replica_names[] = {
    [RT_REPLICA_LOADING] = "loading",
    [RT_REPLICA_READY] = "ready",
    [RT_REPLICA_FAILED] = "failed",
    [RT_REPLICA_STOPPING] = "stopping",
};

void
rt_health_conf_default(struct rt_health_conf *c)
{
	c->offline_after_ms = 5000;
	c->suspect_missed = 2;
	c->clear_beats = 2;
	c->default_interval_ms = 1000;
}

static uint32_t
interval_or_default(const struct rt_health_conf *c, uint32_t interval_ms)
{
	if (interval_ms != 0)
		return interval_ms;
	return c->default_interval_ms != 0 ? c->default_interval_ms : 1000;
}

void
rt_nodestate_init(struct rt_nodestate *s, const struct rt_health_conf *c,
    int auto_approve, uint32_t interval_ms, uint64_t now)
{
	memset(s, 0, sizeof(*s));
	s->approved = auto_approve != 0;
	s->interval_ms = interval_or_default(c, interval_ms);
	s->last_heartbeat = now;
}

void
rt_nodestate_restore(struct rt_nodestate *s, const struct rt_health_conf *c,
    int approved, int draining, int offline, uint32_t interval_ms, uint64_t now)
{
	rt_nodestate_init(s, c, approved, interval_ms, now);
	s->draining = draining != 0;
	s->offline = approved && offline;
}

/* Silent for longer than the suspect threshold? */
static int
stale(
    const struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	uint64_t limit = (uint64_t)s->interval_ms * c->suspect_missed;

	return now > s->last_heartbeat && now - s->last_heartbeat > limit;
}

enum rt_health_change
rt_nodestate_register(struct rt_nodestate *s, const struct rt_health_conf *c,
    uint32_t interval_ms, uint64_t now)
{
	int was_offline = s->offline;

	s->interval_ms = interval_or_default(c, interval_ms);
	s->last_heartbeat = now;
	s->stale_seen = 0;
	s->conn_suspect = 0;
	s->beats_since_failure = 0;
	s->offline = 0;
	s->hb_seq = 0;
	return was_offline && s->approved ? RT_HEALTH_ONLINE : RT_HEALTH_SAME;
}

int
rt_nodestate_seq_accept(struct rt_nodestate *s, uint64_t seq)
{
	if (seq != 0 && seq <= s->hb_seq && s->hb_seq - seq < RT_HB_REORDER_MAX)
		return 0;
	s->hb_seq = seq;
	return 1;
}

enum rt_health_change
rt_nodestate_replica_ready(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	int was_suspect = rt_nodestate_suspect(s, c, now);

	s->conn_suspect = 0;
	s->beats_since_failure = 0;
	if (was_suspect && !rt_nodestate_suspect(s, c, now))
		return RT_HEALTH_CLEARED;
	return RT_HEALTH_SAME;
}

enum rt_health_change
rt_nodestate_heartbeat(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	int was_suspect = rt_nodestate_suspect(s, c, now);

	if (now > s->last_heartbeat)
		s->last_heartbeat = now;
	s->stale_seen = 0;
	if (s->conn_suspect && ++s->beats_since_failure >= c->clear_beats)
		s->conn_suspect = 0;
	if (s->offline && s->approved) {
		/* Heartbeats resumed: healthy again, the leader records it. */
		s->offline = 0;
		s->conn_suspect = 0;
		return RT_HEALTH_ONLINE;
	}
	if (was_suspect && !rt_nodestate_suspect(s, c, now))
		return RT_HEALTH_CLEARED;
	return RT_HEALTH_SAME;
}

enum rt_health_change
rt_nodestate_conn_failure(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	int was_suspect = rt_nodestate_suspect(s, c, now);

	/*
	 * Every new failure restarts the count: the node must prove it is
	 * alive with heartbeats received after the last failure.
	 */
	s->conn_suspect = 1;
	s->beats_since_failure = 0;
	s->failed_at = now;
	return was_suspect ? RT_HEALTH_SAME : RT_HEALTH_SUSPECT;
}

enum rt_health_change
rt_nodestate_check(
    struct rt_nodestate *s, const struct rt_health_conf *c, uint64_t now)
{
	uint64_t silent;

	if (!s->approved || s->offline)
		return RT_HEALTH_SAME;
	silent = now > s->last_heartbeat ? now - s->last_heartbeat : 0;
	if (silent > c->offline_after_ms)
		return RT_HEALTH_OFFLINE;
	if (stale(s, c, now) && !s->stale_seen) {
		s->stale_seen = 1;
		return s->conn_suspect ? RT_HEALTH_SAME : RT_HEALTH_SUSPECT;
	}
	return RT_HEALTH_SAME;
}

void
rt_nodestate_set_offline(struct rt_nodestate *s)
{
	if (s->approved)
		s->offline = 1;
}

int
rt_nodestate_approve(struct rt_nodestate *s)
{
	if (s->approved)
		return 0;
	s->approved = 1;
	return 1;
}

int
rt_nodestate_drain(struct rt_nodestate *s)
{
	if (s->draining)
		return 0;
	s->draining = 1;
	return 1;
}

int
rt_nodestate_resume(struct rt_nodestate *s)
{
	if (!s->draining)
		return 0;
	s->draining = 0;
	return 1;
}

enum rt_node_status
rt_nodestate_status(const struct rt_nodestate *s)
{
	if (!s->approved)
		return RT_NODE_PENDING;
	if (s->offline)
		return RT_NODE_OFFLINE;
	if (s->draining)
		return RT_NODE_DRAINING;
	return RT_NODE_HEALTHY;
}

const char *
rt_node_status_name(enum rt_node_status st)
{
	if ((unsigned)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

int
rt_node_status_parse(const char *name, enum rt_node_status *st)
{
	unsigned i;

	for (i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(name, status_names[i]) == 0) {
			*st = (enum rt_node_status)i;
			return 0;
		}
	return -1;
}

int
rt_replica_next(enum rt_replica_state cur, enum rt_replica_event ev,
    enum rt_replica_state *next)
{
	enum rt_replica_state to;

	if (cur == RT_REPLICA_STOPPING) {
		*next = cur;
		return 0;
	}
	switch (ev) {
	case RT_REPLICA_EV_LOADING:
		to = RT_REPLICA_LOADING;
		break;
	case RT_REPLICA_EV_READY:
		to = RT_REPLICA_READY;
		break;
	case RT_REPLICA_EV_FAILED:
		to = RT_REPLICA_FAILED;
		break;
	case RT_REPLICA_EV_STOP:
		to = RT_REPLICA_STOPPING;
		break;
	default:
		*next = cur;
		return 0;
	}
	*next = to;
	return to != cur;
}

const char *
rt_replica_state_name(enum rt_replica_state st)
{
	if ((unsigned)st >= sizeof(replica_names) / sizeof(replica_names[0]))
		return "unknown";
	return replica_names[st];
}
