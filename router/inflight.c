/*
 * Exact in-flight accounting: this router's own requests, counted +1 at
 * placement and -1 at completion exactly once, and the other frontends'
 * snapshots, counted until they expire.  See view.h for the contract.
 *
 * Why per-request records rather than bare counters: a DONE may arrive
 * twice (api retry after a reconnect), or never (api process killed); the
 * record makes the second DONE a no-op and lets the router end every
 * request of a dead api process when its socket closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router/view.h"

#define REQ(v, s) (&((struct rt_request *)(v)->requests.v)[s])
#define FRONT(v, s) (&((struct rt_frontend *)(v)->frontends.v)[s])
#define REQ_KEY_MAX (sizeof(uint32_t) + RT_ID_MAX)

void
rt_view_inflight_adjust(
    struct rt_view *v, struct rt_replica *r, int64_t own, int64_t other)
{
	struct rt_node *n = rt_view_node(v, r->node);
	int64_t new_own = (int64_t)r->own + own;
	int64_t new_other = (int64_t)r->other + other;
	int64_t delta;

	if (new_own < 0)
		new_own = 0;
	if (new_other < 0)
		new_other = 0;
	delta = (new_own - r->own) + (new_other - r->other);
	r->own = (uint32_t)new_own;
	r->other = (uint32_t)new_other;
	if (n == NULL)
		return;
	if ((int64_t)n->inflight + delta < 0)
		n->inflight = 0;
	else
		n->inflight = (uint32_t)((int64_t)n->inflight + delta);
}

/* The map key of a request: owner, then the id bytes. */
static size_t
req_key(char *buf, uint32_t owner, const char *id, size_t idlen)
{
	memcpy(buf, &owner, sizeof(owner));
	memcpy(buf + sizeof(owner), id, idlen);
	return sizeof(owner) + idlen;
}

int
rt_view_inflight_add(struct rt_view *v, uint32_t owner, const char *request_id,
    uint32_t replica, uint64_t now)
{
	char key[REQ_KEY_MAX];
	struct rt_replica *r;
	struct rt_request *q;
	size_t idlen = strlen(request_id), klen;
	uint32_t slot;

	if ((r = rt_view_replica(v, replica)) == NULL || idlen >= RT_ID_MAX) {
		errno = EINVAL;
		return -1;
	}
	klen = req_key(key, owner, request_id, idlen);
	if (rt_map_get(&v->request_ids, key, klen) != RT_NONE) {
		errno = EEXIST;
		return -1;
	}
	if ((slot = rt_table_alloc(&v->requests, sizeof(*q))) == RT_NONE) {
		errno = ENOMEM;
		return -1;
	}
	if (rt_map_put(&v->request_ids, key, klen, slot) == -1) {
		rt_table_release(&v->requests, slot);
		errno = ENOMEM;
		return -1;
	}
	q = REQ(v, slot);
	q->used = 1;
	q->owner = owner;
	q->replica = replica;
	q->gen = r->gen;
	q->started = now;
	memcpy(q->id, request_id, idlen + 1);
	rt_view_inflight_adjust(v, r, 1, 0);
	r->last_used = now;
	v->own_dirty = 1;
	return 0;
}

/* End request `slot`; returns its replica slot or RT_NONE if gone. */
static uint32_t
request_end(struct rt_view *v, uint32_t slot, uint64_t now)
{
	char key[REQ_KEY_MAX];
	struct rt_request *q = REQ(v, slot);
	struct rt_replica *r;
	uint32_t replica = RT_NONE;
	size_t klen;

	klen = req_key(key, q->owner, q->id, strlen(q->id));
	rt_map_del(&v->request_ids, key, klen);
	r = rt_view_replica(v, q->replica);
	if (r != NULL && r->gen == q->gen) {
		rt_view_inflight_adjust(v, r, -1, 0);
		if (now > r->last_used)
			r->last_used = now;
		replica = q->replica;
	}
	q->used = 0;
	rt_table_release(&v->requests, slot);
	v->own_dirty = 1;
	return replica;
}

int
rt_view_inflight_done(struct rt_view *v, uint32_t owner, const char *request_id,
    uint64_t now, uint32_t *replica)
{
	char key[REQ_KEY_MAX];
	size_t idlen = strlen(request_id), klen;
	uint32_t slot, r;

	if (idlen >= RT_ID_MAX) {
		errno = ENOENT;
		return -1;
	}
	klen = req_key(key, owner, request_id, idlen);
	if ((slot = rt_map_get(&v->request_ids, key, klen)) == RT_NONE) {
		errno = ENOENT;
		return -1;
	}
	r = request_end(v, slot, now);
	if (replica != NULL)
		*replica = r;
	return 0;
}

uint32_t
rt_view_inflight_release_owner(struct rt_view *v, uint32_t owner, uint64_t now)
{
	uint32_t i, n = 0;

	for (i = 0; i < v->requests.n; i++)
		if (REQ(v, i)->used && REQ(v, i)->owner == owner) {
			request_end(v, i, now);
			n++;
		}
	return n;
}

uint32_t
rt_view_inflight_count(const struct rt_view *v)
{
	return v->requests.count;
}

/* ---- other frontends' snapshots --------------------------------------- */

/* Add (sign 1) or remove (sign -1) a stored snapshot from the counts. */
static void
snapshot_count(struct rt_view *v, const struct rt_frontend *f, int sign)
{
	struct rt_replica *r;
	uint32_t i;

	for (i = 0; i < f->n; i++) {
		r = rt_view_replica(v, f->e[i].replica);
		if (r == NULL || r->gen != f->e[i].gen)
			continue; /* removed since: its counts went with it */
		rt_view_inflight_adjust(
		    v, r, 0, sign * (int64_t)f->e[i].inflight);
	}
}

static void
next_expiry_update(struct rt_view *v)
{
	uint32_t i;

	v->next_expiry = UINT64_MAX;
	for (i = 0; i < v->frontends.n; i++)
		if (FRONT(v, i)->used && FRONT(v, i)->expires < v->next_expiry)
			v->next_expiry = FRONT(v, i)->expires;
}

static void
frontend_remove(struct rt_view *v, uint32_t slot)
{
	struct rt_frontend *f = FRONT(v, slot);

	snapshot_count(v, f, -1);
	rt_map_dels(&v->frontend_ids, f->id);
	free(f->e);
	memset(f, 0, sizeof(*f));
	rt_table_release(&v->frontends, slot);
}

/* The record of frontend `id`, created if new; NULL on error. */
static struct rt_frontend *
frontend_get(struct rt_view *v, const char *id)
{
	struct rt_frontend *f;
	uint32_t slot;

	if (strlen(id) >= RT_ID_MAX)
		return NULL;
	if ((slot = rt_map_gets(&v->frontend_ids, id)) != RT_NONE)
		return FRONT(v, slot);
	if ((slot = rt_table_alloc(&v->frontends, sizeof(*f))) == RT_NONE)
		return NULL;
	if (rt_map_puts(&v->frontend_ids, id, slot) == -1) {
		rt_table_release(&v->frontends, slot);
		return NULL;
	}
	f = FRONT(v, slot);
	f->used = 1;
	memcpy(f->id, id, strlen(id) + 1);
	return f;
}

int
rt_view_snapshot_apply(struct rt_view *v, const char *frontend,
    const struct rt_snap_entry *e, uint32_t n, uint64_t expires)
{
	struct rt_frontend *f;
	struct rt_snap_stored *ne;
	struct rt_replica *r;
	uint32_t i;

	if ((f = frontend_get(v, frontend)) == NULL)
		return -1;
	if (n > f->cap) {
		if ((ne = reallocarray(f->e, n, sizeof(*ne))) == NULL)
			return -1; /* the previous snapshot keeps counting */
		f->e = ne;
		f->cap = n;
	}
	snapshot_count(v, f, -1);
	f->n = 0;
	for (i = 0; i < n; i++) {
		if ((r = rt_view_replica(v, e[i].replica)) == NULL ||
		    e[i].inflight == 0)
			continue;
		f->e[f->n].replica = e[i].replica;
		f->e[f->n].gen = r->gen;
		f->e[f->n].inflight = e[i].inflight;
		f->n++;
	}
	snapshot_count(v, f, 1);
	f->expires = expires;
	next_expiry_update(v);
	return 0;
}

void
rt_view_snapshot_drop(struct rt_view *v, const char *frontend)
{
	uint32_t slot;

	if ((slot = rt_map_gets(&v->frontend_ids, frontend)) == RT_NONE)
		return;
	frontend_remove(v, slot);
	next_expiry_update(v);
}

void
rt_view_snapshot_expire(struct rt_view *v, uint64_t now)
{
	uint32_t i;

	if (now < v->next_expiry)
		return;
	for (i = 0; i < v->frontends.n; i++)
		if (FRONT(v, i)->used && FRONT(v, i)->expires <= now)
			frontend_remove(v, i);
	next_expiry_update(v);
}

uint32_t
rt_view_own_snapshot(struct rt_view *v, struct rt_snap_entry *out, uint32_t max)
{
	const struct rt_replica *r;
	uint32_t i, n = 0;

	for (i = 0; i < v->replicas.n; i++) {
		r = rt_view_replica(v, i);
		if (r == NULL || r->own == 0)
			continue;
		if (n < max) {
			out[n].replica = i;
			out[n].inflight = r->own;
		}
		n++;
	}
	if (n <= max)
		v->own_dirty = 0;
	return n;
}

int
rt_view_own_dirty(const struct rt_view *v)
{
	return v->own_dirty;
}
