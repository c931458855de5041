/*
 * Admission: a bounded FIFO wait queue per model, for requests that find
 * every replica at its cap (or a cold load under way).  Pure data
 * structure, no I/O, no clock.
 *
 *	push     O(1) amortised + O(log n): join the model's queue, or be
 *	         refused (EBUSY) when it holds queue_max waiters, with a
 *	         Retry-After estimate for the 429.
 *	pop      O(log n): the oldest waiter of a model.
 *	cancel   O(log n): a waiter leaves (client gone), by request id.
 *	expire   O(log n) each: waiters past their deadline, earliest first.
 *
 * A min-heap on (deadline, arrival) across all models serves timeouts; a
 * doubly-linked list per model keeps arrival order; a hash map finds a
 * waiter by (owner, request id).
 *
 * Fairness rule the router must keep: a request for a model whose queue
 * is not empty joins the queue even if a slot happens to be free, and
 * whenever capacity frees (DONE, a replica turning READY) the router pops
 * and places waiters while placement succeeds.  Then requests are served
 * strictly in arrival order.
 */
#ifndef LOCALAI_ROUTER_ADMIT_H
#define LOCALAI_ROUTER_ADMIT_H

#include <stdint.h>

#include "router/map.h"

#define RT_ADMIT_ID_MAX 64 /* request ids, with the NUL */
#define RT_ADMIT_SERVICE_MS 2000 /* assumed service time, no samples */
#define RT_ADMIT_RETRY_MAX 300 /* Retry-After ceiling, seconds */

/* A waiter as handed back to the caller. */
struct rt_waiter_info {
	uint32_t model;
	uint32_t owner;
	uint64_t cookie; /* the caller's: e.g. its pending-request slot */
	uint64_t enqueued;
	uint64_t deadline;
	char id[RT_ADMIT_ID_MAX];
};

struct rt_waiter {
	uint8_t used;
	uint32_t prev, next; /* the model's FIFO, RT_NONE-terminated */
	uint32_t heap_pos;
	uint64_t seq; /* arrival order, breaks deadline ties */
	struct rt_waiter_info info;
};

struct rt_queue {
	uint32_t head, tail, n;
	uint32_t service_ms; /* moving average of request durations */
};

struct rt_admit {
	uint32_t queue_max;
	struct rt_waiter *w;
	uint32_t nw, capw;
	uint32_t *freel;
	uint32_t nfree;
	struct rt_queue *q; /* indexed by model */
	uint32_t nq;
	uint32_t *heap; /* waiter slots, min-heap by (deadline, seq) */
	uint32_t nheap;
	uint64_t seq;
	struct rt_map ids;
};

/* queue_max 0 means "no waiting": every push is refused. */
struct rt_admit *rt_admit_new(uint32_t queue_max);
void rt_admit_free(struct rt_admit *a);
void rt_admit_set_max(struct rt_admit *a, uint32_t queue_max);

/*
 * Queue request (owner, id) for model until deadline.  Returns 0 with
 * *position (1 = next served), or -1 with errno:
 *	EBUSY	the queue is full: answer 429 with *retry_after_s seconds
 *	EEXIST	this request is queued already
 *	EINVAL	id too long; ENOMEM
 * capacity is the sum of the caps of the model's usable replicas
 * (rt_warm.capacity), for the Retry-After estimate.
 */
int rt_admit_push(struct rt_admit *a, uint32_t model, uint32_t owner,
    const char *id, uint64_t cookie, uint64_t now, uint64_t deadline,
    uint32_t capacity, uint32_t *position, uint32_t *retry_after_s);
/* The oldest waiter of model: 1 with *out filled (removed by pop), or 0. */
int rt_admit_peek(
    const struct rt_admit *a, uint32_t model, struct rt_waiter_info *out);
int rt_admit_pop(
    struct rt_admit *a, uint32_t model, struct rt_waiter_info *out);
/* Remove a waiter.  Returns 0, or -1 when it is not queued. */
int rt_admit_cancel(struct rt_admit *a, uint32_t owner, const char *id);
/*
 * Remove and return one waiter whose deadline is <= now (earliest
 * first): 1 with *out filled, or 0 when none is due.  Call in a loop.
 */
int rt_admit_expire(
    struct rt_admit *a, uint64_t now, struct rt_waiter_info *out);
/* The earliest deadline, for the router's timer; UINT64_MAX if none. */
uint64_t rt_admit_next_deadline(const struct rt_admit *a);
/* Drop every waiter of an api process whose socket closed. */
uint32_t rt_admit_release_owner(struct rt_admit *a, uint32_t owner);
uint32_t rt_admit_length(const struct rt_admit *a, uint32_t model);
uint32_t rt_admit_total(const struct rt_admit *a);
/* Feed a finished request's duration into the model's average. */
void rt_admit_observe(struct rt_admit *a, uint32_t model, uint32_t service_ms);
/*
 * Seconds until a new request would likely be served: everyone queued
 * plus itself, at the average service time, over `capacity` slots;
 * between 1 and RT_ADMIT_RETRY_MAX.
 */
uint32_t rt_admit_retry_after(
    const struct rt_admit *a, uint32_t model, uint32_t capacity);

#endif
