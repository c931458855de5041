/*
 * Warm and cold placement; the rules are in place.h.
 */
#include <errno.h>
#include <string.h>

#include "router/place.h"

/* Replicas examined per node when planning an eviction. */
#define EVICT_SCAN_MAX 64

#define NODE(v, s) (&((struct rt_node *)(v)->nodes.v)[s])
#define MODEL(v, s) (&((struct rt_model *)(v)->models.v)[s])
#define REPLICA(v, s) (&((struct rt_replica *)(v)->replicas.v)[s])

static int
node_matches(
    const struct rt_node *n, const struct rt_model *m, uint32_t skip_tag)
{
	uint32_t i;

	for (i = 0; i < m->n_selector; i++)
		if (m->selector[i] != skip_tag &&
		    !rt_slots_has(&n->labels, m->selector[i]))
			return 0;
	return 1;
}

static uint32_t
node_cap(const struct rt_view *v, const struct rt_node *n)
{
	if (n->max_concurrency != 0)
		return n->max_concurrency;
	return v->default_cap != 0 ? v->default_cap : 1;
}

/* ---- warm ------------------------------------------------------------- */

/* Is replica a (in-flight ia, cap ca) a better pick than b? */
static int
warm_better(const struct rt_replica *a, uint32_t ia, uint32_t ca, uint32_t sa,
    const struct rt_replica *b, uint32_t ib, uint32_t cb, uint32_t sb)
{
	uint64_t la = (uint64_t)ia * cb, lb = (uint64_t)ib * ca;

	if (la != lb)
		return la < lb;
	if (a->last_used != b->last_used)
		return a->last_used > b->last_used;
	return sa < sb;
}

/* Decide whether the caller should start a cold load now. */
static int
warm_wants_cold(const struct rt_model *m, const struct rt_warm *w)
{
	uint32_t max = m->replicas_max != 0 ? m->replicas_max : 1;

	if (w->loading > 0)
		return 0;
	if (w->ready == 0 || w->live < m->replicas_min)
		return 1;
	return w->at_cap == w->ready && w->live < max;
}

enum rt_warm_status
rt_place_warm(struct rt_view *v, uint32_t model, uint32_t exclude_node,
    uint64_t now, struct rt_warm *out)
{
	const struct rt_model *m;
	const struct rt_replica *r, *best = NULL;
	const struct rt_node *n;
	uint32_t i, slot, inflight, cap, best_if = 0, best_cap = 1, mcap;
	int node_full;

	memset(out, 0, sizeof(*out));
	out->replica = RT_NONE;
	out->status = RT_WARM_NONE;
	if ((m = rt_view_model(v, model)) == NULL)
		return out->status;
	rt_view_snapshot_expire(v, now);
	mcap = m->max_concurrency;
	for (i = 0; i < m->replicas.n; i++) {
		slot = m->replicas.v[i];
		r = REPLICA(v, slot);
		n = NODE(v, r->node);
		if (r->node == exclude_node ||
		    !rt_nodestate_routable(&n->state, &v->health, now))
			continue;
		if (r->state == RT_REPLICA_LOADING) {
			out->loading++;
			out->live++;
			continue;
		}
		if (r->state != RT_REPLICA_READY ||
		    r->revision != m->revision || !node_matches(n, m, RT_NONE))
			continue;
		out->ready++;
		out->live++;
		inflight = r->own + r->other;
		/* rt_view_replica_cap(), without the look-ups. */
		cap = mcap != 0 ? mcap : node_cap(v, n);
		out->capacity += cap;
		/* The node's own limit covers all its replicas together. */
		node_full = n->max_concurrency != 0 &&
		            n->inflight >= n->max_concurrency;
		if (inflight >= cap || node_full) {
			out->at_cap++;
			continue;
		}
		if (best == NULL || warm_better(r, inflight, cap, slot, best,
		                        best_if, best_cap, out->replica)) {
			best = r;
			best_if = inflight;
			best_cap = cap;
			out->replica = slot;
		}
	}
	if (best != NULL)
		out->status = RT_WARM_OK;
	else if (out->ready > 0)
		out->status = RT_WARM_BUSY;
	out->cold = warm_wants_cold(m, out);
	return out->status;
}

/* ---- cold ------------------------------------------------------------- */

/* What placement knows about one candidate node. */
struct cand {
	uint32_t slot;
	const struct rt_node *n;
	enum rt_mem mem;
	uint64_t est;
	int64_t avail; /* rt_node_available() */
	int installed;
	int cached;
};

enum cand_verdict {
	CAND_NO = 0, /* not for this model */
	CAND_YES, /* a candidate */
	CAND_LATER, /* would be, but it is suspect right now */
};

/*
 * Mark the nodes that already hold a replica of the model: they are not
 * candidates for another one.  A replica that failed long enough ago no
 * longer blocks its node.
 */
static void
mark_hosts(struct rt_view *v, const struct rt_model *m, uint64_t now)
{
	const struct rt_replica *r;
	uint32_t i;

	if (++v->stamp == 0) {
		for (i = 0; i < v->nodes.n; i++)
			NODE(v, i)->stamp = 0;
		v->stamp = 1;
	}
	for (i = 0; i < m->replicas.n; i++) {
		r = REPLICA(v, m->replicas.v[i]);
		if (r->state == RT_REPLICA_FAILED && now >= r->state_since &&
		    now - r->state_since >= v->failed_backoff_ms)
			continue;
		NODE(v, r->node)->stamp = v->stamp;
	}
}

static int
backend_ok(const struct rt_view *v, const struct rt_node *n,
    const struct rt_model *m, int *installed)
{
	const struct rt_tag *t = &v->tags[m->backend_tag];

	if ((*installed = rt_slots_has(&n->backends, m->backend_tag)))
		return 1;
	return n->can_install && t->installable && (!t->gpu_only || n->has_gpu);
}

static enum cand_verdict
candidate(const struct rt_view *v, const struct rt_model *m, uint32_t slot,
    uint32_t exclude, uint32_t skip_tag, uint64_t now, struct cand *c)
{
	const struct rt_node *n = NODE(v, slot);
	const struct rt_nodestate *s = &n->state;

	if (!n->used || slot == exclude || n->stamp == v->stamp)
		return CAND_NO;
	if (!s->approved || s->offline || s->draining)
		return CAND_NO;
	if (!node_matches(n, m, skip_tag) ||
	    !backend_ok(v, n, m, &c->installed))
		return CAND_NO;
	c->slot = slot;
	c->n = n;
	c->mem = rt_view_model_mem(n, m);
	c->est = m->estimate[c->mem];
	c->avail = rt_node_available(n, c->mem);
	c->cached =
	    m->file_tag != RT_NONE && rt_slots_has(&n->files, m->file_tag);
	if (rt_nodestate_suspect(s, &v->health, now))
		return CAND_LATER;
	return CAND_YES;
}

/* Could the node ever hold the model (were everything else gone)? */
static int
could_fit(const struct cand *c)
{
	uint64_t size = c->n->total[c->mem];

	if (c->n->free[c->mem] > size)
		size = c->n->free[c->mem];
	return size >= c->est;
}

/* The cold ranking, items 1-5 of place.h: is a better than b? */
static int
cold_better(const struct rt_view *v, const struct cand *a, const struct cand *b)
{
	uint64_t la, lb;
	int64_t ha, hb;

	/*
	 * No `cached` item: the scans compare only nodes that agree on it
	 * (phase 1 walks the cached nodes, and in phase 2 none of them fits).
	 */
	if ((a->n->inflight == 0) != (b->n->inflight == 0))
		return a->n->inflight == 0;
	if ((a->n->n_loaded == 0) != (b->n->n_loaded == 0))
		return a->n->n_loaded == 0;
	la = (uint64_t)a->n->inflight * node_cap(v, b->n);
	lb = (uint64_t)b->n->inflight * node_cap(v, a->n);
	if (la != lb)
		return la < lb;
	if (a->installed != b->installed)
		return a->installed;
	ha = a->avail - (int64_t)a->est;
	hb = b->avail - (int64_t)b->est;
	if (ha != hb)
		return ha > hb;
	return a->slot < b->slot;
}

/*
 * Is node a strictly worse than node b on the ranking items that need
 * nothing but the node's own fields (idle, no models, load)?  Lets the
 * scan skip the label and backend look-ups for most nodes.
 */
static int
cheap_worse(
    const struct rt_view *v, const struct rt_node *a, const struct rt_node *b)
{
	uint64_t la, lb;

	if ((a->inflight == 0) != (b->inflight == 0))
		return b->inflight == 0;
	if ((a->n_loaded == 0) != (b->n_loaded == 0))
		return b->n_loaded == 0;
	la = (uint64_t)a->inflight * node_cap(v, b);
	lb = (uint64_t)b->inflight * node_cap(v, a);
	return la > lb;
}

/*
 * The best fitting candidate among `count` nodes (set->v, or every slot
 * when set is NULL).  Cheap tests first (health, host stamp, memory fit,
 * rank against the best so far); selector and backend only for nodes
 * that could win.  Every candidate seen here has the same `cached` value
 * (phase 1 scans only cached nodes; in phase 2 no cached node fits), so
 * pruning on the items after it is exact.
 */
static int
scan_fit(struct rt_view *v, const struct rt_model *m,
    const struct rt_slots *set, uint32_t skip_tag, uint32_t exclude,
    uint64_t now, struct cand *best)
{
	uint32_t i, slot, count = set != NULL ? set->n : v->nodes.n;
	const struct rt_node *n;
	enum rt_mem mem;
	struct cand c;
	int64_t avail;
	int have = 0;

	for (i = 0; i < count; i++) {
		slot = set != NULL ? set->v[i] : i;
		n = NODE(v, slot);
		if (!n->used || slot == exclude || n->stamp == v->stamp ||
		    !rt_nodestate_routable(&n->state, &v->health, now))
			continue;
		mem = rt_view_model_mem(n, m);
		avail = rt_node_available(n, mem);
		if (avail < 0 || (uint64_t)avail < m->estimate[mem])
			continue;
		if (have && cheap_worse(v, n, best->n))
			continue;
		if (candidate(v, m, slot, exclude, skip_tag, now, &c) !=
		    CAND_YES)
			continue;
		if (!have || cold_better(v, &c, best)) {
			*best = c;
			have = 1;
		}
	}
	return have;
}

/* The nodes to scan: the rarest selector label's, or NULL for all. */
static const struct rt_slots *
scan_set(const struct rt_view *v, const struct rt_model *m, uint32_t *tag)
{
	const struct rt_slots *s, *best = NULL;
	uint32_t i;

	*tag = RT_NONE;
	for (i = 0; i < m->n_selector; i++) {
		s = &v->tags[m->selector[i]].nodes;
		if (best == NULL || s->n < best->n) {
			best = s;
			*tag = m->selector[i];
		}
	}
	return best;
}

/* An eviction plan for one node. */
struct plan {
	uint32_t node;
	uint32_t n;
	uint32_t victims[RT_EVICT_MAX];
	uint64_t newest; /* last_used of the most recent victim */
	int cached;
};

/*
 * Does the model keep more READY replicas than its replicas_min?  Counts
 * only as far as it must: models without a minimum cost nothing.
 */
static int
above_min(const struct rt_view *v, const struct rt_model *m)
{
	uint32_t i, n = 0;

	if (m->replicas_min == 0)
		return 1;
	for (i = 0; i < m->replicas.n; i++)
		if (REPLICA(v, m->replicas.v[i])->state == RT_REPLICA_READY &&
		    ++n > m->replicas_min)
			return 1;
	return 0;
}

static int
evictable(const struct rt_view *v, const struct rt_replica *r, enum rt_mem mem)
{
	const struct rt_model *owner = MODEL(v, r->model);

	/* Nodes holding the model being placed are never candidates. */
	return r->state == RT_REPLICA_READY && r->own + r->other == 0 &&
	       r->mem == mem && r->reservation == 0 && above_min(v, owner);
}

/*
 * Drop from a plan's first k victims (all but the last, which made it
 * enough) those it does not need: evicting a replica that frees nothing
 * useful only costs its users a cold load.
 */
static uint32_t
plan_prune(const struct rt_view *v, const struct cand *c, uint32_t *victims,
    uint32_t k, int64_t freed)
{
	uint32_t i, n = 0;
	int64_t b;

	for (i = 0; i < k; i++) {
		b = (int64_t)REPLICA(v, victims[i])->mem_bytes;
		if (i + 1 < k && c->avail + freed - b >= (int64_t)c->est) {
			freed -= b;
			continue;
		}
		victims[n++] = victims[i];
	}
	return n;
}

/*
 * Plan an eviction on candidate c: its idle replicas, least recently used
 * first, until enough is free; then only those the plan needs.  Returns 1
 * with *p filled, or 0.
 */
static int
plan_node(const struct rt_view *v, const struct cand *c, struct plan *p)
{
	uint32_t pick[EVICT_SCAN_MAX], i, j, k, n = 0;
	const struct rt_replica *r;
	int64_t freed = 0;

	for (i = 0; i < c->n->replicas.n && n < EVICT_SCAN_MAX; i++) {
		r = REPLICA(v, c->n->replicas.v[i]);
		if (!evictable(v, r, c->mem) || r->mem_bytes == 0)
			continue;
		/* Insertion sort by last_used, oldest first. */
		for (j = n;
		     j > 0 && REPLICA(v, pick[j - 1])->last_used > r->last_used;
		     j--)
			pick[j] = pick[j - 1];
		pick[j] = c->n->replicas.v[i];
		n++;
	}
	for (k = 0; k < n && k < RT_EVICT_MAX; k++) {
		r = REPLICA(v, pick[k]);
		p->victims[k] = pick[k];
		freed += (int64_t)r->mem_bytes;
		if (c->avail + freed >= 0 &&
		    (uint64_t)(c->avail + freed) >= c->est) {
			p->node = c->slot;
			p->n = plan_prune(v, c, p->victims, k + 1, freed);
			p->newest = r->last_used;
			p->cached = c->cached;
			return 1;
		}
	}
	return 0;
}

static int
plan_better(const struct plan *a, const struct plan *b)
{
	if (a->newest != b->newest)
		return a->newest < b->newest;
	if (a->n != b->n)
		return a->n < b->n;
	if (a->cached != b->cached)
		return a->cached;
	return a->node < b->node;
}

/*
 * Nothing fits anywhere: the best eviction among the candidates.  Also
 * counts the candidates (or suspect nodes) that could hold the model
 * some day, which tells WAIT from NONE.
 */
static int
plan_eviction(struct rt_view *v, uint32_t model, const struct rt_slots *set,
    uint32_t skip_tag, uint32_t exclude, uint64_t now, struct plan *best,
    uint32_t *later)
{
	const struct rt_model *m = MODEL(v, model);
	uint32_t i, slot, count;
	enum cand_verdict verdict;
	struct plan p;
	struct cand c;
	int found = 0;

	count = set != NULL ? set->n : v->nodes.n;
	for (i = 0; i < count; i++) {
		slot = set != NULL ? set->v[i] : i;
		verdict = candidate(v, m, slot, exclude, skip_tag, now, &c);
		if (verdict == CAND_NO || !could_fit(&c))
			continue;
		(*later)++;
		if (verdict != CAND_YES || c.n->replicas.n == 0)
			continue;
		if (plan_node(v, &c, &p) && (!found || plan_better(&p, best))) {
			*best = p;
			found = 1;
		}
	}
	return found;
}

static void
cold_set(struct rt_cold *out, const struct cand *c, enum rt_cold_status st)
{
	out->status = st;
	out->node = c->slot;
	out->mem = c->mem;
	out->bytes = c->est;
	out->cached = c->cached;
	out->install = !c->installed;
}

enum rt_cold_status
rt_place_cold(struct rt_view *v, uint32_t model, uint32_t exclude_node,
    uint64_t now, struct rt_cold *out)
{
	const struct rt_model *m;
	const struct rt_slots *set;
	uint32_t skip_tag, later = 0;
	struct cand best;
	struct plan p;

	memset(out, 0, sizeof(*out));
	out->node = RT_NONE;
	out->status = RT_COLD_NONE;
	if ((m = rt_view_model(v, model)) == NULL)
		return out->status;
	rt_view_snapshot_expire(v, now);
	mark_hosts(v, m, now);
	/* Phase 1: only the nodes that have the model's files. */
	if (m->file_tag != RT_NONE) {
		set = &v->tags[m->file_tag].nodes;
		out->scanned = set->n;
		if (scan_fit(v, m, set, RT_NONE, exclude_node, now, &best)) {
			cold_set(out, &best, RT_COLD_PLACE);
			return out->status;
		}
	}
	/* Phase 2: every matching node. */
	set = scan_set(v, m, &skip_tag);
	out->scanned += set != NULL ? set->n : v->nodes.count;
	if (scan_fit(v, m, set, skip_tag, exclude_node, now, &best)) {
		cold_set(out, &best, RT_COLD_PLACE);
		return out->status;
	}
	/* Phase 3: evict, wait, or give up. */
	if (plan_eviction(
	        v, model, set, skip_tag, exclude_node, now, &p, &later)) {
		candidate(v, m, p.node, exclude_node, RT_NONE, now, &best);
		cold_set(out, &best, RT_COLD_EVICT);
		out->n_victims = p.n;
		memcpy(out->victims, p.victims, p.n * sizeof(p.victims[0]));
		return out->status;
	}
	out->status = later > 0 ? RT_COLD_WAIT : RT_COLD_NONE;
	return out->status;
}

uint32_t
rt_place_cold_commit(
    struct rt_view *v, uint32_t model, const struct rt_cold *c, uint64_t now)
{
	const struct rt_model *m;
	struct rt_replica *r;
	uint32_t i, slot;

	if ((c->status != RT_COLD_PLACE && c->status != RT_COLD_EVICT) ||
	    (m = rt_view_model(v, model)) == NULL ||
	    rt_view_node(v, c->node) == NULL) {
		errno = EINVAL;
		return RT_NONE;
	}
	for (i = 0; i < c->n_victims && i < RT_EVICT_MAX; i++)
		rt_view_replica_event(
		    v, c->victims[i], RT_REPLICA_EV_STOP, now);
	slot = rt_view_replica_find(v, model, c->node);
	if (slot != RT_NONE) {
		/* A replica that failed here earlier (it holds no memory, so
		 * its kind may change): try it again. */
		r = REPLICA(v, slot);
		r->mem = c->mem;
		r->revision = m->revision;
		rt_view_replica_event(v, slot, RT_REPLICA_EV_LOADING, now);
	} else if ((slot = rt_view_replica_add(v, model, c->node,
	                RT_REPLICA_LOADING, m->revision, NULL, now)) ==
	           RT_NONE) {
		return RT_NONE;
	}
	/* rt_view_replica_add() chose the same kind as the candidate. */
	if (rt_view_replica_reserve(v, slot, c->bytes) == -1) {
		rt_view_replica_remove(v, slot);
		errno = ENOMEM;
		return RT_NONE;
	}
	return slot;
}
