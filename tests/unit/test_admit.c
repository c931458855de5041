/*
 * Unit tests for router/admit.c: per-model bounded FIFO queues, 429 with
 * Retry-After when full, strict arrival order, timeouts and cancellation
 * leaving the queue cleanly, api process death, and a randomised run
 * against a simple reference model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/admit.h"

static void
push_ok(struct rt_admit *a, uint32_t model, const char *id, uint64_t now,
    uint64_t deadline, uint32_t want_pos)
{
	uint32_t pos = 0;

	assert_int_equal(
	    rt_admit_push(a, model, 1, id, 0, now, deadline, 1, &pos, NULL), 0);
	assert_int_equal(pos, want_pos);
}

static void
test_fifo_per_model(void **state)
{
	struct rt_admit *a = rt_admit_new(8);
	struct rt_waiter_info w;

	push_ok(a, 0, "a1", 1, 100, 1);
	push_ok(a, 1, "b1", 2, 100, 1);
	push_ok(a, 0, "a2", 3, 100, 2);
	push_ok(a, 0, "a3", 4, 100, 3);
	assert_int_equal(rt_admit_length(a, 0), 3);
	assert_int_equal(rt_admit_length(a, 1), 1);
	assert_int_equal(rt_admit_length(a, 77), 0);
	assert_int_equal(rt_admit_total(a), 4);
	assert_int_equal(rt_admit_peek(a, 0, &w), 1);
	assert_string_equal(w.id, "a1");
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "a1");
	assert_int_equal(w.enqueued, 1);
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "a2");
	/* Newcomers join at the tail behind those still waiting. */
	push_ok(a, 0, "a4", 5, 100, 2);
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "a3");
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "a4");
	assert_int_equal(rt_admit_pop(a, 0, &w), 0);
	assert_int_equal(rt_admit_pop(a, 1, &w), 1);
	assert_string_equal(w.id, "b1");
	assert_int_equal(rt_admit_pop(a, 99, &w), 0);
	assert_int_equal(rt_admit_total(a), 0);
	rt_admit_free(a);
}

static void
test_full_queue_rejects(void **state)
{
	struct rt_admit *a = rt_admit_new(2);
	uint32_t retry = 0;

	push_ok(a, 0, "r1", 0, 100, 1);
	push_ok(a, 0, "r2", 0, 100, 2);
	errno = 0;
	assert_int_equal(
	    rt_admit_push(a, 0, 1, "r3", 0, 0, 100, 1, NULL, &retry), -1);
	assert_int_equal(errno, EBUSY);
	/* Two ahead plus itself at the default 2 s, one slot: 6 s. */
	assert_int_equal(retry, 6);
	/* Another model has its own bound. */
	push_ok(a, 1, "r3", 0, 100, 1);
	/* A duplicate is refused as such. */
	errno = 0;
	assert_int_equal(
	    rt_admit_push(a, 1, 1, "r3", 0, 0, 100, 1, NULL, NULL), -1);
	assert_int_equal(errno, EEXIST);
	/* No waiting at all when queue_max is 0. */
	rt_admit_set_max(a, 0);
	errno = 0;
	assert_int_equal(
	    rt_admit_push(a, 2, 1, "r4", 0, 0, 100, 1, NULL, &retry), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(retry, 2);
	rt_admit_free(a);
}

static void
test_retry_after_estimate(void **state)
{
	struct rt_admit *a = rt_admit_new(100);
	char id[16];
	int i;

	/* No samples: 2 s per request. */
	assert_int_equal(rt_admit_retry_after(a, 0, 1), 2);
	rt_admit_observe(a, 0, 10000);
	assert_int_equal(rt_admit_retry_after(a, 0, 1), 10);
	/* The average moves by 1/8 towards new samples. */
	rt_admit_observe(a, 0, 2000);
	assert_int_equal(a->q[0].service_ms, 9000);
	for (i = 0; i < 9; i++) {
		snprintf(id, sizeof(id), "q%d", i);
		push_ok(a, 0, id, 0, 100, (uint32_t)i + 1);
	}
	/* 10 requests x 9 s over 4 slots = 22.5 s -> 23. */
	assert_int_equal(rt_admit_retry_after(a, 0, 4), 23);
	/* Capacity 0 counts as 1; the ceiling holds. */
	assert_int_equal(rt_admit_retry_after(a, 0, 0), 90);
	rt_admit_observe(a, 0, 4000000);
	for (i = 0; i < 100; i++)
		rt_admit_observe(a, 0, 4000000);
	assert_int_equal(rt_admit_retry_after(a, 0, 1), RT_ADMIT_RETRY_MAX);
	/* Fast models never get less than 1 s. */
	rt_admit_observe(a, 5, 1);
	assert_int_equal(rt_admit_retry_after(a, 5, 64), 1);
	rt_admit_free(a);
}

static void
test_timeouts_leave_cleanly(void **state)
{
	struct rt_admit *a = rt_admit_new(8);
	struct rt_waiter_info w;

	push_ok(a, 0, "late", 0, 300, 1);
	push_ok(a, 0, "soon", 1, 100, 2);
	push_ok(a, 0, "mid", 2, 200, 3);
	push_ok(a, 1, "other", 3, 100, 1);
	assert_int_equal(rt_admit_next_deadline(a), 100);
	assert_int_equal(rt_admit_expire(a, 99, &w), 0);
	/* Equal deadlines expire in arrival order. */
	assert_int_equal(rt_admit_expire(a, 100, &w), 1);
	assert_string_equal(w.id, "soon");
	assert_int_equal(rt_admit_expire(a, 100, &w), 1);
	assert_string_equal(w.id, "other");
	assert_int_equal(rt_admit_expire(a, 100, &w), 0);
	assert_int_equal(rt_admit_next_deadline(a), 200);
	/* The queue closed over the hole: late, then mid. */
	assert_int_equal(rt_admit_length(a, 0), 2);
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "late");
	assert_int_equal(rt_admit_length(a, 1), 0);
	/* The popped waiter's deadline left the heap with it. */
	assert_int_equal(rt_admit_next_deadline(a), 200);
	assert_int_equal(rt_admit_expire(a, 1000, &w), 1);
	assert_string_equal(w.id, "mid");
	assert_int_equal(rt_admit_next_deadline(a), UINT64_MAX);
	/* An expired id may queue again. */
	push_ok(a, 0, "soon", 5, 500, 1);
	rt_admit_free(a);
}

static void
test_cancel_and_owner(void **state)
{
	struct rt_admit *a = rt_admit_new(8);
	struct rt_waiter_info w;
	uint32_t pos;

	push_ok(a, 0, "x", 0, 100, 1);
	assert_int_equal(
	    rt_admit_push(a, 0, 2, "y", 77, 0, 100, 1, &pos, NULL), 0);
	assert_int_equal(rt_admit_push(a, 0, 2, "x", 0, 0, 100, 1, &pos, NULL),
	    0); /* same id, other api process */
	push_ok(a, 0, "z", 0, 100, 4);
	assert_int_equal(rt_admit_cancel(a, 1, "x"), 0);
	assert_int_equal(rt_admit_cancel(a, 1, "x"), -1);
	assert_int_equal(rt_admit_cancel(a, 1, "nope"), -1);
	assert_int_equal(rt_admit_peek(a, 0, &w), 1);
	assert_string_equal(w.id, "y");
	assert_int_equal(w.owner, 2);
	assert_int_equal(w.cookie, 77);
	/* api process 2 died: its two waiters go, z stays. */
	assert_int_equal(rt_admit_release_owner(a, 2), 2);
	assert_int_equal(rt_admit_length(a, 0), 1);
	assert_int_equal(rt_admit_pop(a, 0, &w), 1);
	assert_string_equal(w.id, "z");
	assert_int_equal(rt_admit_total(a), 0);
	rt_admit_free(a);
}

/*
 * Random pushes, pops, cancels and expiries on 3 models, checked against
 * a plain array model of the queues.
 */
struct ref {
	int used;
	uint32_t model;
	uint64_t seq, deadline;
	char id[16];
};

static int
ref_oldest(struct ref *r, int n, uint32_t model)
{
	int i, best = -1;

	for (i = 0; i < n; i++)
		if (r[i].used && r[i].model == model &&
		    (best < 0 || r[i].seq < r[best].seq))
			best = i;
	return best;
}

static int
ref_earliest(struct ref *r, int n)
{
	int i, best = -1;

	for (i = 0; i < n; i++)
		if (r[i].used &&
		    (best < 0 || r[i].deadline < r[best].deadline ||
		        (r[i].deadline == r[best].deadline &&
		            r[i].seq < r[best].seq)))
			best = i;
	return best;
}

static void
test_randomised(void **state)
{
	enum { N = 4000 };
	static struct ref ref[N];
	struct rt_admit *a = rt_admit_new(50);
	struct rt_waiter_info w;
	uint32_t len[3] = {0, 0, 0}, model;
	uint64_t now = 0, seq = 0;
	int i, op, k, n = 0, rc;

	srand(12345);
	for (i = 0; i < 20000; i++) {
		op = rand() % 10;
		model = (uint32_t)(rand() % 3);
		now += (uint64_t)(rand() % 3);
		if (op < 5 && n < N) {
			snprintf(ref[n].id, sizeof(ref[n].id), "r%d", n);
			ref[n].model = model;
			ref[n].seq = seq;
			ref[n].deadline = now + (uint64_t)(rand() % 200);
			rc = rt_admit_push(a, model, 0, ref[n].id, 0, now,
			    ref[n].deadline, 1, NULL, NULL);
			if (len[model] >= 50) {
				assert_int_equal(rc, -1);
				continue;
			}
			assert_int_equal(rc, 0);
			ref[n].used = 1;
			len[model]++;
			seq++;
			n++;
		} else if (op < 7) {
			k = ref_oldest(ref, n, model);
			assert_int_equal(rt_admit_pop(a, model, &w), k >= 0);
			if (k >= 0) {
				assert_string_equal(w.id, ref[k].id);
				ref[k].used = 0;
				len[model]--;
			}
		} else if (op < 8 && n > 0) {
			k = rand() % n;
			assert_int_equal(rt_admit_cancel(a, 0, ref[k].id),
			    ref[k].used ? 0 : -1);
			if (ref[k].used) {
				ref[k].used = 0;
				len[ref[k].model]--;
			}
		} else {
			while ((k = ref_earliest(ref, n)) >= 0 &&
			       ref[k].deadline <= now) {
				assert_int_equal(
				    rt_admit_expire(a, now, &w), 1);
				assert_string_equal(w.id, ref[k].id);
				ref[k].used = 0;
				len[ref[k].model]--;
			}
			assert_int_equal(rt_admit_expire(a, now, &w), 0);
		}
		for (model = 0; model < 3; model++)
			assert_int_equal(rt_admit_length(a, model), len[model]);
	}
	rt_admit_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_per_model),
	    cmocka_unit_test(test_full_queue_rejects),
	    cmocka_unit_test(test_retry_after_estimate),
	    cmocka_unit_test(test_timeouts_leave_cleanly),
	    cmocka_unit_test(test_cancel_and_owner),
	    cmocka_unit_test(test_randomised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
