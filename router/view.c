/*
 * The router's in-memory cluster view: tables, indexes, reservations.
 * In-flight accounting lives in inflight.c; decisions in place.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/view.h"

#define TAG_LABEL 'l'
#define TAG_BACKEND 'b'
#define TAG_FILE 'f'
#define TAG_KEY_MAX (2 + 2 * CONF_NAME_MAX + 256)

/* Copy a string, truncating; dst is always terminated. */
static void
copy_str(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- slot arrays ------------------------------------------------------ */

int
rt_slots_push(struct rt_slots *s, uint32_t x)
{
	uint32_t *nv, ncap;

	if (s->n == s->cap) {
		ncap = s->cap == 0 ? 4 : s->cap * 2;
		if ((nv = reallocarray(s->v, ncap, sizeof(*nv))) == NULL)
			return -1;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = x;
	return 0;
}

/* Remove one occurrence of x, order not kept.  Returns 0, or -1. */
static int
slots_remove(struct rt_slots *s, uint32_t x)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == x) {
			s->v[i] = s->v[--s->n];
			return 0;
		}
	return -1;
}

static void
slots_free(struct rt_slots *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Membership in a sorted array: binary search. */
int
rt_slots_has(const struct rt_slots *s, uint32_t x)
{
	uint32_t lo = 0, hi = s->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->v[mid] == x)
			return 1;
		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort and drop duplicates. */
static void
slots_normalise(struct rt_slots *s)
{
	uint32_t i, j;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	for (i = 1, j = 1; i < s->n; i++)
		if (s->v[i] != s->v[j - 1])
			s->v[j++] = s->v[i];
	s->n = j;
}

/* ---- tables ----------------------------------------------------------- */

/* A zeroed slot in t (elements of `size` bytes), or RT_NONE. */
uint32_t
rt_table_alloc(struct rt_table *t, size_t size)
{
	uint32_t slot, ncap;
	void *nv;

	if (t->freel.n > 0) {
		slot = t->freel.v[--t->freel.n];
	} else {
		if (t->n == t->cap) {
			ncap = t->cap == 0 ? 16 : t->cap * 2;
			if ((nv = reallocarray(t->v, ncap, size)) == NULL)
				return RT_NONE;
			t->v = nv;
			t->cap = ncap;
		}
		slot = t->n++;
	}
	memset((char *)t->v + (size_t)slot * size, 0, size);
	t->count++;
	return slot;
}

/* Return a slot to the free list; the caller has cleared `used`. */
void
rt_table_release(struct rt_table *t, uint32_t slot)
{
	/*
	 * Should the free list fail to grow, the slot is leaked: never
	 * handed out twice, which is what matters.
	 */
	(void)rt_slots_push(&t->freel, slot);
	t->count--;
}

static void
table_free(struct rt_table *t)
{
	free(t->v);
	slots_free(&t->freel);
	memset(t, 0, sizeof(*t));
}

#define NODE(v, s) (&((struct rt_node *)(v)->nodes.v)[s])
#define MODEL(v, s) (&((struct rt_model *)(v)->models.v)[s])
#define REPLICA(v, s) (&((struct rt_replica *)(v)->replicas.v)[s])
#define RESV(v, s) (&((struct rt_reservation *)(v)->reservations.v)[s])

/* ---- tags ------------------------------------------------------------- */

/* The id of tag "<kind>:<name>", created on first use; RT_NONE on ENOMEM. */
static uint32_t
tag_intern(struct rt_view *v, char kind, const char *name)
{
	char key[TAG_KEY_MAX];
	struct rt_tag *nt;
	uint32_t id, ncap;
	int len;

	len = snprintf(key, sizeof(key), "%c:%s", kind, name);
	if (len < 0 || (size_t)len >= sizeof(key))
		return RT_NONE;
	if ((id = rt_map_gets(&v->tag_names, key)) != RT_NONE)
		return id;
	if (v->n_tags == v->cap_tags) {
		ncap = v->cap_tags == 0 ? 64 : v->cap_tags * 2;
		if ((nt = reallocarray(v->tags, ncap, sizeof(*nt))) == NULL)
			return RT_NONE;
		v->tags = nt;
		v->cap_tags = ncap;
	}
	id = v->n_tags;
	if (rt_map_puts(&v->tag_names, key, id) == -1)
		return RT_NONE;
	memset(&v->tags[id], 0, sizeof(v->tags[id]));
	v->n_tags++;
	return id;
}

/*
 * Replace a node's tag set (cur) with `next` (sorted, unique), keeping
 * the per-tag node lists in step.  Only the difference is applied, so a
 * heartbeat repeating the same labels costs nothing.
 */
static int
tags_replace(struct rt_view *v, uint32_t node, struct rt_slots *cur,
    struct rt_slots *next)
{
	uint32_t i;

	for (i = 0; i < next->n; i++)
		if (!rt_slots_has(cur, next->v[i]) &&
		    rt_slots_push(&v->tags[next->v[i]].nodes, node) == -1)
			goto fail;
	for (i = 0; i < cur->n; i++)
		if (!rt_slots_has(next, cur->v[i]))
			slots_remove(&v->tags[cur->v[i]].nodes, node);
	slots_free(cur);
	*cur = *next;
	return 0;
fail:
	/* Undo the additions made so far. */
	while (i-- > 0)
		if (!rt_slots_has(cur, next->v[i]))
			slots_remove(&v->tags[next->v[i]].nodes, node);
	slots_free(next);
	return -1;
}

/* ---- lifecycle -------------------------------------------------------- */

struct rt_view *
rt_view_new(void)
{
	struct rt_view *v;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return NULL;
	rt_health_conf_default(&v->health);
	v->default_cap = 1;
	v->failed_backoff_ms = 30000;
	v->settle_beats = 2;
	v->next_expiry = UINT64_MAX;
	return v;
}

void
rt_view_free(struct rt_view *v)
{
	uint32_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->nodes.n; i++) {
		struct rt_node *n = NODE(v, i);

		slots_free(&n->replicas);
		slots_free(&n->labels);
		slots_free(&n->backends);
		slots_free(&n->files);
	}
	for (i = 0; i < v->models.n; i++)
		slots_free(&MODEL(v, i)->replicas);
	for (i = 0; i < v->frontends.n; i++)
		free(((struct rt_frontend *)v->frontends.v)[i].e);
	for (i = 0; i < v->n_tags; i++)
		slots_free(&v->tags[i].nodes);
	free(v->tags);
	table_free(&v->nodes);
	table_free(&v->models);
	table_free(&v->replicas);
	table_free(&v->reservations);
	table_free(&v->requests);
	table_free(&v->frontends);
	rt_map_free(&v->node_ids);
	rt_map_free(&v->node_names);
	rt_map_free(&v->model_names);
	rt_map_free(&v->replica_ids);
	rt_map_free(&v->tag_names);
	rt_map_free(&v->request_ids);
	rt_map_free(&v->frontend_ids);
	free(v);
}

/* ---- nodes ------------------------------------------------------------ */

struct rt_node *
rt_view_node(const struct rt_view *v, uint32_t slot)
{
	if (slot >= v->nodes.n || !NODE(v, slot)->used)
		return NULL;
	return NODE(v, slot);
}

uint32_t
rt_view_node_find(const struct rt_view *v, const char *id)
{
	return rt_map_gets(&v->node_ids, id);
}

uint32_t
rt_view_node_find_name(const struct rt_view *v, const char *name)
{
	return rt_map_gets(&v->node_names, name);
}

uint32_t
rt_view_node_add(struct rt_view *v, const char *id, const char *name,
    int auto_approve, uint32_t heartbeat_ms, uint64_t now)
{
	struct rt_node *n;
	uint32_t slot;

	if (strlen(id) >= RT_ID_MAX || strlen(name) >= RT_NAME_MAX) {
		errno = EINVAL;
		return RT_NONE;
	}
	if (rt_map_gets(&v->node_ids, id) != RT_NONE ||
	    rt_map_gets(&v->node_names, name) != RT_NONE) {
		errno = EEXIST;
		return RT_NONE;
	}
	if ((slot = rt_table_alloc(&v->nodes, sizeof(*n))) == RT_NONE)
		return RT_NONE;
	if (rt_map_puts(&v->node_ids, id, slot) == -1)
		goto fail;
	if (rt_map_puts(&v->node_names, name, slot) == -1) {
		rt_map_dels(&v->node_ids, id);
		goto fail;
	}
	n = NODE(v, slot);
	n->used = 1;
	n->can_install = 1;
	copy_str(n->id, id, sizeof(n->id));
	copy_str(n->name, name, sizeof(n->name));
	rt_nodestate_init(
	    &n->state, &v->health, auto_approve, heartbeat_ms, now);
	return slot;
fail:
	rt_table_release(&v->nodes, slot);
	return RT_NONE;
}

void
rt_view_node_remove(struct rt_view *v, uint32_t slot)
{
	struct rt_node *n;
	struct rt_slots empty = {0};
	uint32_t i;

	if ((n = rt_view_node(v, slot)) == NULL)
		return;
	rt_view_node_clear_replicas(v, slot);
	for (i = 0; i < v->reservations.n; i++)
		if (RESV(v, i)->used && RESV(v, i)->node == slot) {
			RESV(v, i)->used = 0;
			rt_table_release(&v->reservations, i);
		}
	tags_replace(v, slot, &n->labels, &empty);
	tags_replace(v, slot, &n->backends, &empty);
	tags_replace(v, slot, &n->files, &empty);
	slots_free(&n->replicas);
	rt_map_dels(&v->node_ids, n->id);
	rt_map_dels(&v->node_names, n->name);
	memset(n, 0, sizeof(*n));
	rt_table_release(&v->nodes, slot);
}

void
rt_view_node_set_capacity(struct rt_view *v, uint32_t slot, int has_gpu,
    uint64_t ram, uint64_t vram, uint32_t max_concurrency)
{
	struct rt_node *n;

	if ((n = rt_view_node(v, slot)) == NULL)
		return;
	n->has_gpu = has_gpu != 0;
	n->total[RT_MEM_RAM] = ram;
	n->total[RT_MEM_VRAM] = vram;
	n->max_concurrency = max_concurrency;
}

int
rt_view_node_set_labels(struct rt_view *v, uint32_t slot,
    const struct conf_label *labels, uint32_t n)
{
	struct rt_node *node;
	struct rt_slots next = {0};
	char kv[2 * CONF_NAME_MAX + 2];
	uint32_t i, tag;

	if ((node = rt_view_node(v, slot)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		snprintf(
		    kv, sizeof(kv), "%s=%s", labels[i].key, labels[i].value);
		if ((tag = tag_intern(v, TAG_LABEL, kv)) == RT_NONE ||
		    rt_slots_push(&next, tag) == -1) {
			slots_free(&next);
			return -1;
		}
	}
	slots_normalise(&next);
	return tags_replace(v, slot, &node->labels, &next);
}

/* Shared by backends and files: names -> tags of one kind. */
static int
set_named_tags(struct rt_view *v, uint32_t slot, char kind,
    const char *const *names, uint32_t n, size_t field)
{
	struct rt_node *node;
	struct rt_slots next = {0};
	uint32_t i, tag;

	if ((node = rt_view_node(v, slot)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((tag = tag_intern(v, kind, names[i])) == RT_NONE ||
		    rt_slots_push(&next, tag) == -1) {
			slots_free(&next);
			return -1;
		}
	slots_normalise(&next);
	return tags_replace(
	    v, slot, (struct rt_slots *)((char *)node + field), &next);
}

int
rt_view_node_set_backends(
    struct rt_view *v, uint32_t slot, const char *const *names, uint32_t n)
{
	return set_named_tags(
	    v, slot, TAG_BACKEND, names, n, offsetof(struct rt_node, backends));
}

int
rt_view_node_set_files(
    struct rt_view *v, uint32_t slot, const char *const *keys, uint32_t n)
{
	return set_named_tags(
	    v, slot, TAG_FILE, keys, n, offsetof(struct rt_node, files));
}

/* Count one heartbeat against the node's settled reservations. */
static void
settle_beat(struct rt_view *v, uint32_t slot)
{
	struct rt_reservation *r;
	uint32_t i;

	for (i = 0; i < v->reservations.n && NODE(v, slot)->n_settled > 0;
	     i++) {
		r = RESV(v, i);
		if (!r->used || !r->settled || r->node != slot)
			continue;
		if (r->beats_left > 0)
			r->beats_left--;
		if (r->beats_left == 0)
			rt_view_release(
			    v, ((uint64_t)r->gen << 32) | (uint64_t)i);
	}
}

enum rt_health_change
rt_view_node_heartbeat(struct rt_view *v, uint32_t slot, uint64_t free_ram,
    uint64_t free_vram, uint64_t now)
{
	struct rt_node *n;

	if ((n = rt_view_node(v, slot)) == NULL)
		return RT_HEALTH_SAME;
	n->free[RT_MEM_RAM] = free_ram;
	n->free[RT_MEM_VRAM] = free_vram;
	if (n->n_settled > 0)
		settle_beat(v, slot);
	return rt_nodestate_heartbeat(&n->state, &v->health, now);
}

void
rt_view_node_clear_replicas(struct rt_view *v, uint32_t slot)
{
	struct rt_node *n;

	if ((n = rt_view_node(v, slot)) == NULL)
		return;
	while (n->replicas.n > 0)
		rt_view_replica_remove(v, n->replicas.v[n->replicas.n - 1]);
}

void
rt_view_health_check(struct rt_view *v, uint64_t now,
    void (*cb)(void *arg, uint32_t node, enum rt_health_change ch), void *arg)
{
	enum rt_health_change ch;
	uint32_t i;

	for (i = 0; i < v->nodes.n; i++) {
		if (!NODE(v, i)->used)
			continue;
		ch = rt_nodestate_check(&NODE(v, i)->state, &v->health, now);
		if (ch != RT_HEALTH_SAME && cb != NULL)
			cb(arg, i, ch);
	}
}

int64_t
rt_view_node_available(const struct rt_view *v, uint32_t slot, enum rt_mem mem)
{
	return rt_node_available(NODE(v, slot), mem);
}

/* ---- backends and models ---------------------------------------------- */

int
rt_view_backend_set(
    struct rt_view *v, const char *name, int installable, int gpu_only)
{
	uint32_t tag;

	if ((tag = tag_intern(v, TAG_BACKEND, name)) == RT_NONE)
		return -1;
	v->tags[tag].installable = installable != 0;
	v->tags[tag].gpu_only = gpu_only != 0;
	return 0;
}

struct rt_model *
rt_view_model(const struct rt_view *v, uint32_t slot)
{
	if (slot >= v->models.n || !MODEL(v, slot)->used)
		return NULL;
	return MODEL(v, slot);
}

uint32_t
rt_view_model_find(const struct rt_view *v, const char *name)
{
	return rt_map_gets(&v->model_names, name);
}

/* The key under which nodes report the model's file as cached. */
static uint32_t
model_file_tag(struct rt_view *v, const struct conf_model *c)
{
	char hex[2 * CONF_SHA256_LEN + 1];
	int i;

	if (c->have_sha256) {
		for (i = 0; i < CONF_SHA256_LEN; i++)
			snprintf(hex + 2 * i, 3, "%02x", c->sha256[i]);
		return tag_intern(v, TAG_FILE, hex);
	}
	if (c->model[0] != '\0')
		return tag_intern(v, TAG_FILE, c->model);
	return RT_NONE;
}

/* Fill everything a config decides; returns 0 or -1 (ENOMEM). */
static int
model_apply(struct rt_view *v, struct rt_model *m, const struct conf_model *c)
{
	char kv[2 * CONF_NAME_MAX + 2];
	uint32_t i, n;

	copy_str(m->name, c->name, sizeof(m->name));
	copy_str(m->backend, c->backend, sizeof(m->backend));
	if ((m->backend_tag = tag_intern(v, TAG_BACKEND, c->backend)) ==
	    RT_NONE)
		return -1;
	m->file_tag = model_file_tag(v, c);
	m->estimate[RT_MEM_RAM] = c->ram;
	m->estimate[RT_MEM_VRAM] = c->vram;
	m->replicas_min = c->replicas_min;
	m->replicas_max = c->replicas_max;
	m->max_concurrency = c->max_concurrency;
	m->revision = c->revision;
	n = c->n_selector < CONF_MAX_LABELS ? c->n_selector : CONF_MAX_LABELS;
	for (i = 0; i < n; i++) {
		snprintf(kv, sizeof(kv), "%s=%s", c->selector[i].key,
		    c->selector[i].value);
		if ((m->selector[i] = tag_intern(v, TAG_LABEL, kv)) == RT_NONE)
			return -1;
	}
	m->n_selector = n;
	return 0;
}

uint32_t
rt_view_model_set(struct rt_view *v, const struct conf_model *c)
{
	struct rt_model *m;
	uint32_t slot;

	if (c->name[0] == '\0' || strlen(c->name) >= CONF_NAME_MAX) {
		errno = EINVAL;
		return RT_NONE;
	}
	if ((slot = rt_map_gets(&v->model_names, c->name)) != RT_NONE)
		return model_apply(v, MODEL(v, slot), c) == 0 ? slot : RT_NONE;
	if ((slot = rt_table_alloc(&v->models, sizeof(*m))) == RT_NONE)
		return RT_NONE;
	m = MODEL(v, slot);
	if (model_apply(v, m, c) == -1 ||
	    rt_map_puts(&v->model_names, c->name, slot) == -1) {
		rt_table_release(&v->models, slot);
		return RT_NONE;
	}
	m->used = 1;
	return slot;
}

void
rt_view_model_remove(struct rt_view *v, uint32_t slot)
{
	struct rt_model *m;

	if ((m = rt_view_model(v, slot)) == NULL)
		return;
	while (m->replicas.n > 0)
		rt_view_replica_remove(v, m->replicas.v[m->replicas.n - 1]);
	slots_free(&m->replicas);
	rt_map_dels(&v->model_names, m->name);
	memset(m, 0, sizeof(*m));
	rt_table_release(&v->models, slot);
}

/* ---- replicas --------------------------------------------------------- */

struct rt_replica *
rt_view_replica(const struct rt_view *v, uint32_t slot)
{
	if (slot >= v->replicas.n || !REPLICA(v, slot)->used)
		return NULL;
	return REPLICA(v, slot);
}

uint32_t
rt_view_replica_find(const struct rt_view *v, uint32_t model, uint32_t node)
{
	const struct rt_node *n;
	uint32_t i;

	if ((n = rt_view_node(v, node)) == NULL)
		return RT_NONE;
	for (i = 0; i < n->replicas.n; i++)
		if (REPLICA(v, n->replicas.v[i])->model == model)
			return n->replicas.v[i];
	return RT_NONE;
}

uint32_t
rt_view_replica_find_id(const struct rt_view *v, uint64_t id)
{
	if (id == 0)
		return RT_NONE;
	return rt_map_get(&v->replica_ids, &id, sizeof(id));
}

static int
loaded_state(enum rt_replica_state st)
{
	return st == RT_REPLICA_LOADING || st == RT_REPLICA_READY;
}

/*
 * Count (sign 1) or uncount (-1) a replica's estimate in its node's
 * committed memory.  Every state but FAILED holds memory: LOADING and
 * READY obviously, STOPPING until the worker confirms the unload.
 */
static void
replica_commit(struct rt_view *v, const struct rt_replica *r, int sign)
{
	uint64_t *c = &NODE(v, r->node)->committed[r->mem];

	if (r->state == RT_REPLICA_FAILED)
		return;
	if (sign > 0)
		*c += r->mem_bytes;
	else
		*c -= *c < r->mem_bytes ? *c : r->mem_bytes;
}

/*
 * Change state and keep the node's "models loaded" count and committed
 * memory in step.
 */
static void
replica_set_state(struct rt_view *v, struct rt_replica *r,
    enum rt_replica_state st, uint64_t now)
{
	struct rt_node *n = NODE(v, r->node);

	if (loaded_state(r->state) && !loaded_state(st))
		n->n_loaded--;
	else if (!loaded_state(r->state) && loaded_state(st))
		n->n_loaded++;
	replica_commit(v, r, -1);
	r->state = st;
	r->state_since = now;
	replica_commit(v, r, 1);
}

uint32_t
rt_view_replica_add(struct rt_view *v, uint32_t model, uint32_t node,
    enum rt_replica_state st, uint32_t revision, const char *address,
    uint64_t now)
{
	struct rt_replica *r;
	struct rt_model *m;
	struct rt_node *n;
	uint32_t slot;

	if (rt_view_model(v, model) == NULL || rt_view_node(v, node) == NULL) {
		errno = EINVAL;
		return RT_NONE;
	}
	if (rt_view_replica_find(v, model, node) != RT_NONE) {
		errno = EEXIST;
		return RT_NONE;
	}
	if ((slot = rt_table_alloc(&v->replicas, sizeof(*r))) == RT_NONE)
		return RT_NONE;
	m = MODEL(v, model);
	n = NODE(v, node);
	if (rt_slots_push(&m->replicas, slot) == -1)
		goto fail;
	if (rt_slots_push(&n->replicas, slot) == -1) {
		m->replicas.n--;
		goto fail;
	}
	r = REPLICA(v, slot);
	/* Unique per replica ever added: stale references never match. */
	if (++v->replica_gen == 0)
		v->replica_gen = 1;
	r->gen = v->replica_gen;
	r->used = 1;
	r->model = model;
	r->node = node;
	r->model_pos = m->replicas.n - 1;
	r->node_pos = n->replicas.n - 1;
	r->revision = revision;
	r->mem = rt_view_model_mem(n, m);
	r->mem_bytes = m->estimate[r->mem];
	r->state = RT_REPLICA_FAILED; /* not loaded: set below */
	replica_set_state(v, r, st, now);
	r->last_used = now;
	if (address != NULL)
		copy_str(r->address, address, sizeof(r->address));
	return slot;
fail:
	rt_table_release(&v->replicas, slot);
	return RT_NONE;
}

int
rt_view_replica_set_id(struct rt_view *v, uint32_t slot, uint64_t id)
{
	struct rt_replica *r;

	if ((r = rt_view_replica(v, slot)) == NULL)
		return -1;
	if (r->id != 0)
		rt_map_del(&v->replica_ids, &r->id, sizeof(r->id));
	r->id = id;
	if (id != 0 && rt_map_put(&v->replica_ids, &id, sizeof(id), slot) == -1)
		return -1;
	return 0;
}

void
rt_view_replica_set_address(
    struct rt_view *v, uint32_t slot, const char *address, uint32_t revision)
{
	struct rt_replica *r;

	if ((r = rt_view_replica(v, slot)) == NULL)
		return;
	if (address != NULL)
		copy_str(r->address, address, sizeof(r->address));
	r->revision = revision;
}

int
rt_view_replica_reserve(struct rt_view *v, uint32_t slot, uint64_t bytes)
{
	struct rt_replica *r;
	uint64_t h;

	if ((r = rt_view_replica(v, slot)) == NULL)
		return -1;
	if (r->reservation != 0)
		rt_view_release(v, r->reservation);
	if ((h = rt_view_reserve(v, r->node, r->mem, bytes)) == 0)
		return -1;
	r->reservation = h;
	replica_commit(v, r, -1);
	r->mem_bytes = bytes;
	replica_commit(v, r, 1);
	return 0;
}

int
rt_view_replica_event(
    struct rt_view *v, uint32_t slot, enum rt_replica_event ev, uint64_t now)
{
	struct rt_replica *r;
	enum rt_replica_state next, prev;

	if ((r = rt_view_replica(v, slot)) == NULL)
		return 0;
	prev = r->state;
	if (rt_replica_next(prev, ev, &next) == 0)
		return 0;
	replica_set_state(v, r, next, now);
	if (next == RT_REPLICA_READY && r->reservation != 0) {
		/* Loaded: the reservation retires as heartbeats show it. */
		rt_view_settle(v, r->reservation);
		r->reservation = 0;
	} else if (next == RT_REPLICA_FAILED && r->reservation != 0) {
		rt_view_release(v, r->reservation);
		r->reservation = 0;
	} else if (next == RT_REPLICA_LOADING && prev != RT_REPLICA_LOADING &&
	           r->reservation == 0) {
		/*
		 * A backend restarting after a crash frees its memory for a
		 * moment; hold it so no cold load takes it meanwhile.
		 */
		rt_view_replica_reserve(v, slot, r->mem_bytes);
	}
	return 1;
}

/* Swap-remove slot from a list and fix the moved replica's position. */
static void
replica_unlink(
    struct rt_view *v, struct rt_slots *s, uint32_t pos, int model_list)
{
	struct rt_replica *moved;

	s->v[pos] = s->v[--s->n];
	if (pos == s->n)
		return;
	moved = REPLICA(v, s->v[pos]);
	if (model_list)
		moved->model_pos = pos;
	else
		moved->node_pos = pos;
}

void
rt_view_replica_remove(struct rt_view *v, uint32_t slot)
{
	struct rt_replica *r;

	if ((r = rt_view_replica(v, slot)) == NULL)
		return;
	if (r->own > 0)
		v->own_dirty = 1; /* it leaves our published snapshot */
	rt_view_inflight_adjust(v, r, -(int64_t)r->own, -(int64_t)r->other);
	replica_set_state(v, r, RT_REPLICA_STOPPING, r->state_since);
	if (r->reservation != 0)
		rt_view_release(v, r->reservation);
	replica_commit(v, r, -1);
	if (r->id != 0)
		rt_map_del(&v->replica_ids, &r->id, sizeof(r->id));
	replica_unlink(v, &MODEL(v, r->model)->replicas, r->model_pos, 1);
	replica_unlink(v, &NODE(v, r->node)->replicas, r->node_pos, 0);
	memset(r, 0, sizeof(*r));
	rt_table_release(&v->replicas, slot);
}

uint32_t
rt_view_replica_inflight(const struct rt_view *v, uint32_t slot)
{
	const struct rt_replica *r = REPLICA(v, slot);

	return r->own + r->other;
}

uint32_t
rt_view_replica_cap(const struct rt_view *v, uint32_t slot)
{
	const struct rt_replica *r = REPLICA(v, slot);
	const struct rt_model *m = MODEL(v, r->model);
	const struct rt_node *n = NODE(v, r->node);

	if (m->max_concurrency != 0)
		return m->max_concurrency;
	if (n->max_concurrency != 0)
		return n->max_concurrency;
	return v->default_cap != 0 ? v->default_cap : 1;
}

/* ---- reservations ----------------------------------------------------- */

uint64_t
rt_view_reserve(
    struct rt_view *v, uint32_t node, enum rt_mem mem, uint64_t bytes)
{
	struct rt_reservation *r;
	uint32_t slot;

	if (rt_view_node(v, node) == NULL || (unsigned)mem >= RT_MEM_KINDS)
		return 0;
	if ((slot = rt_table_alloc(&v->reservations, sizeof(*r))) == RT_NONE)
		return 0;
	r = RESV(v, slot);
	r->used = 1;
	r->node = node;
	r->mem = mem;
	r->bytes = bytes;
	if (++v->reservation_gen == 0)
		v->reservation_gen = 1;
	r->gen = v->reservation_gen;
	NODE(v, node)->reserved[mem] += bytes;
	return ((uint64_t)r->gen << 32) | slot;
}

/* The reservation a handle names, or NULL when stale. */
static struct rt_reservation *
resv_get(struct rt_view *v, uint64_t handle)
{
	uint32_t slot = (uint32_t)handle, gen = (uint32_t)(handle >> 32);
	struct rt_reservation *r;

	if (handle == 0 || slot >= v->reservations.n)
		return NULL;
	r = RESV(v, slot);
	return r->used && r->gen == gen ? r : NULL;
}

int
rt_view_release(struct rt_view *v, uint64_t handle)
{
	struct rt_reservation *r;
	struct rt_node *n;

	if ((r = resv_get(v, handle)) == NULL)
		return -1;
	n = NODE(v, r->node);
	n->reserved[r->mem] -= r->bytes;
	if (r->settled)
		n->n_settled--;
	r->used = 0;
	rt_table_release(&v->reservations, (uint32_t)handle);
	return 0;
}

int
rt_view_settle(struct rt_view *v, uint64_t handle)
{
	struct rt_reservation *r;

	if ((r = resv_get(v, handle)) == NULL)
		return -1;
	if (r->settled)
		return 0;
	if (v->settle_beats == 0)
		return rt_view_release(v, handle);
	r->settled = 1;
	r->beats_left = v->settle_beats > 255 ? 255 : (uint8_t)v->settle_beats;
	NODE(v, r->node)->n_settled++;
	return 0;
}
