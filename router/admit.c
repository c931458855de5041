/*
 * Per-model bounded FIFO wait queues with deadlines; see admit.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "router/admit.h"

#define KEY_MAX (sizeof(uint32_t) + RT_ADMIT_ID_MAX)

struct rt_admit *
rt_admit_new(uint32_t queue_max)
{
	struct rt_admit *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->queue_max = queue_max;
	rt_map_init(&a->ids);
	return a;
}

void
rt_admit_free(struct rt_admit *a)
{
	if (a == NULL)
		return;
	free(a->w);
	free(a->freel);
	free(a->q);
	free(a->heap);
	rt_map_free(&a->ids);
	free(a);
}

void
rt_admit_set_max(struct rt_admit *a, uint32_t queue_max)
{
	a->queue_max = queue_max;
}

static size_t
waiter_key(char *buf, uint32_t owner, const char *id, size_t idlen)
{
	memcpy(buf, &owner, sizeof(owner));
	memcpy(buf + sizeof(owner), id, idlen);
	return sizeof(owner) + idlen;
}

/* The queue of model, grown on demand; NULL when out of memory. */
static struct rt_queue *
queue_get(struct rt_admit *a, uint32_t model)
{
	struct rt_queue *nq;
	uint32_t n, i;

	if (model < a->nq)
		return &a->q[model];
	if (model == UINT32_MAX)
		return NULL;
	n = a->nq == 0 ? 16 : a->nq;
	while (n <= model)
		n = n > UINT32_MAX / 2 ? model + 1 : n * 2;
	if ((nq = reallocarray(a->q, n, sizeof(*nq))) == NULL)
		return NULL;
	for (i = a->nq; i < n; i++) {
		memset(&nq[i], 0, sizeof(nq[i]));
		nq[i].head = nq[i].tail = UINT32_MAX;
	}
	a->q = nq;
	a->nq = n;
	return &a->q[model];
}

/* ---- the deadline heap ------------------------------------------------ */

static int
heap_less(const struct rt_admit *a, uint32_t x, uint32_t y)
{
	const struct rt_waiter *wx = &a->w[x], *wy = &a->w[y];

	if (wx->info.deadline != wy->info.deadline)
		return wx->info.deadline < wy->info.deadline;
	return wx->seq < wy->seq;
}

static void
heap_set(struct rt_admit *a, uint32_t pos, uint32_t slot)
{
	a->heap[pos] = slot;
	a->w[slot].heap_pos = pos;
}

static void
heap_up(struct rt_admit *a, uint32_t pos)
{
	uint32_t slot = a->heap[pos], parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (!heap_less(a, slot, a->heap[parent]))
			break;
		heap_set(a, pos, a->heap[parent]);
		pos = parent;
	}
	heap_set(a, pos, slot);
}

static void
heap_down(struct rt_admit *a, uint32_t pos)
{
	uint32_t slot = a->heap[pos], child;

	for (;;) {
		child = 2 * pos + 1;
		if (child >= a->nheap)
			break;
		if (child + 1 < a->nheap &&
		    heap_less(a, a->heap[child + 1], a->heap[child]))
			child++;
		if (!heap_less(a, a->heap[child], slot))
			break;
		heap_set(a, pos, a->heap[child]);
		pos = child;
	}
	heap_set(a, pos, slot);
}

static void
heap_remove(struct rt_admit *a, uint32_t slot)
{
	uint32_t pos = a->w[slot].heap_pos, last;

	last = a->heap[--a->nheap];
	if (pos == a->nheap)
		return;
	heap_set(a, pos, last);
	heap_up(a, pos);
	heap_down(a, a->w[last].heap_pos);
}

/* ---- waiters ---------------------------------------------------------- */

/* A free waiter slot with room for it in the heap; RT_NONE on ENOMEM. */
static uint32_t
waiter_alloc(struct rt_admit *a)
{
	struct rt_waiter *nw;
	uint32_t *nh, *nf, ncap;

	if (a->nfree > 0)
		return a->freel[--a->nfree];
	if (a->nw == a->capw) {
		ncap = a->capw == 0 ? 64 : a->capw * 2;
		if ((nw = reallocarray(a->w, ncap, sizeof(*nw))) == NULL)
			return RT_NONE;
		a->w = nw;
		if ((nh = reallocarray(a->heap, ncap, sizeof(*nh))) == NULL)
			return RT_NONE;
		a->heap = nh;
		/* Sized with the pool so that freeing never allocates. */
		if ((nf = reallocarray(a->freel, ncap, sizeof(*nf))) == NULL)
			return RT_NONE;
		a->freel = nf;
		a->capw = ncap;
	}
	return a->nw++;
}

/* Unlink a waiter from everything and free its slot. */
static void
waiter_remove(struct rt_admit *a, uint32_t slot, struct rt_waiter_info *out)
{
	struct rt_waiter *w = &a->w[slot];
	struct rt_queue *q = &a->q[w->info.model];
	char key[KEY_MAX];
	size_t klen;

	if (w->prev != RT_NONE)
		a->w[w->prev].next = w->next;
	else
		q->head = w->next;
	if (w->next != RT_NONE)
		a->w[w->next].prev = w->prev;
	else
		q->tail = w->prev;
	q->n--;
	heap_remove(a, slot);
	klen = waiter_key(key, w->info.owner, w->info.id, strlen(w->info.id));
	rt_map_del(&a->ids, key, klen);
	if (out != NULL)
		*out = w->info;
	w->used = 0;
	a->freel[a->nfree++] = slot;
}

uint32_t
rt_admit_retry_after(
    const struct rt_admit *a, uint32_t model, uint32_t capacity)
{
	uint64_t service = RT_ADMIT_SERVICE_MS, ahead = 1, ms;

	if (model < a->nq) {
		ahead += a->q[model].n;
		if (a->q[model].service_ms != 0)
			service = a->q[model].service_ms;
	}
	ms = ahead * service / (capacity != 0 ? capacity : 1);
	ms = (ms + 999) / 1000;
	if (ms < 1)
		return 1;
	return ms > RT_ADMIT_RETRY_MAX ? RT_ADMIT_RETRY_MAX : (uint32_t)ms;
}

int
rt_admit_push(struct rt_admit *a, uint32_t model, uint32_t owner,
    const char *id, uint64_t cookie, uint64_t now, uint64_t deadline,
    uint32_t capacity, uint32_t *position, uint32_t *retry_after_s)
{
	size_t idlen = strlen(id), klen;
	char key[KEY_MAX];
	struct rt_queue *q;
	struct rt_waiter *w;
	uint32_t slot;

	if (idlen >= RT_ADMIT_ID_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((q = queue_get(a, model)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	klen = waiter_key(key, owner, id, idlen);
	if (rt_map_get(&a->ids, key, klen) != RT_NONE) {
		errno = EEXIST;
		return -1;
	}
	if (q->n >= a->queue_max) {
		if (retry_after_s != NULL)
			*retry_after_s =
			    rt_admit_retry_after(a, model, capacity);
		errno = EBUSY;
		return -1;
	}
	if ((slot = waiter_alloc(a)) == RT_NONE ||
	    rt_map_put(&a->ids, key, klen, slot) == -1) {
		if (slot != RT_NONE)
			a->freel[a->nfree++] = slot;
		errno = ENOMEM;
		return -1;
	}
	w = &a->w[slot];
	memset(w, 0, sizeof(*w));
	w->used = 1;
	w->seq = a->seq++;
	w->info.model = model;
	w->info.owner = owner;
	w->info.cookie = cookie;
	w->info.enqueued = now;
	w->info.deadline = deadline;
	memcpy(w->info.id, id, idlen + 1);
	w->next = RT_NONE;
	w->prev = q->tail;
	if (q->tail != RT_NONE)
		a->w[q->tail].next = slot;
	else
		q->head = slot;
	q->tail = slot;
	q->n++;
	a->heap[a->nheap] = slot;
	heap_up(a, a->nheap++);
	if (position != NULL)
		*position = q->n;
	return 0;
}

int
rt_admit_peek(
    const struct rt_admit *a, uint32_t model, struct rt_waiter_info *out)
{
	if (model >= a->nq || a->q[model].head == RT_NONE)
		return 0;
	*out = a->w[a->q[model].head].info;
	return 1;
}

int
rt_admit_pop(struct rt_admit *a, uint32_t model, struct rt_waiter_info *out)
{
	if (model >= a->nq || a->q[model].head == RT_NONE)
		return 0;
	waiter_remove(a, a->q[model].head, out);
	return 1;
}

int
rt_admit_cancel(struct rt_admit *a, uint32_t owner, const char *id)
{
	size_t idlen = strlen(id), klen;
	char key[KEY_MAX];
	uint32_t slot;

	if (idlen >= RT_ADMIT_ID_MAX)
		return -1;
	klen = waiter_key(key, owner, id, idlen);
	if ((slot = rt_map_get(&a->ids, key, klen)) == RT_NONE)
		return -1;
	waiter_remove(a, slot, NULL);
	return 0;
}

int
rt_admit_expire(struct rt_admit *a, uint64_t now, struct rt_waiter_info *out)
{
	if (a->nheap == 0 || a->w[a->heap[0]].info.deadline > now)
		return 0;
	waiter_remove(a, a->heap[0], out);
	return 1;
}

uint64_t
rt_admit_next_deadline(const struct rt_admit *a)
{
	return a->nheap == 0 ? UINT64_MAX : a->w[a->heap[0]].info.deadline;
}

uint32_t
rt_admit_release_owner(struct rt_admit *a, uint32_t owner)
{
	uint32_t i, n = 0;

	for (i = 0; i < a->nw; i++)
		if (a->w[i].used && a->w[i].info.owner == owner) {
			waiter_remove(a, i, NULL);
			n++;
		}
	return n;
}

uint32_t
rt_admit_length(const struct rt_admit *a, uint32_t model)
{
	return model < a->nq ? a->q[model].n : 0;
}

uint32_t
rt_admit_total(const struct rt_admit *a)
{
	return a->nheap;
}

void
rt_admit_observe(struct rt_admit *a, uint32_t model, uint32_t service_ms)
{
	struct rt_queue *q;
	int64_t s;

	if ((q = queue_get(a, model)) == NULL)
		return;
	if (q->service_ms == 0) {
		q->service_ms = service_ms != 0 ? service_ms : 1;
		return;
	}
	/* Moving average, weight 1/8 to the new sample. */
	s = (int64_t)q->service_ms +
	    ((int64_t)service_ms - (int64_t)q->service_ms) / 8;
	q->service_ms = s > 0 ? (uint32_t)s : 1;
}
