/*
 * Unit tests for backends/common/gate.c: at most `parallel` shared entries
 * at once, exclusive entries alone, strict arrival order (an exclusive
 * waiter is not overtaken), cancellation while queued, and raising the
 * parallelism at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <time.h>

#include "backends/common/gate.h"

struct entrant {
	struct gate *g;
	int exclusive;
	atomic_int cancelled;
	int rc;
	atomic_int inside;	/* 1 once admitted */
	atomic_int release;	/* set by the test to make it leave */
	int order;		/* admission rank */
};

static atomic_int rank;

static void
sleep_ms(int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

static void *
entrant_run(void *arg)
{
	struct entrant *e = arg;

	e->rc = gate_enter(e->g, e->exclusive, &e->cancelled);
	if (e->rc == -1)
		return NULL;
	e->order = atomic_fetch_add(&rank, 1);
	atomic_store(&e->inside, 1);
	while (!atomic_load(&e->release))
		sleep_ms(1);
	atomic_store(&e->inside, 0);
	gate_leave(e->g, e->exclusive);
	return NULL;
}

/* Start an entrant and wait until it is inside or queued. */
static void
start(struct entrant *e, struct gate *g, int exclusive, pthread_t *t)
{
	int waiting = gate_waiting(g), i;

	*e = (struct entrant){ .g = g, .exclusive = exclusive };
	assert_int_equal(pthread_create(t, NULL, entrant_run, e), 0);
	for (i = 0; i < 2000; i++) {
		if (atomic_load(&e->inside) || gate_waiting(g) > waiting)
			return;
		sleep_ms(1);
	}
	fail_msg("entrant neither inside nor queued");
}

static void
finish(struct entrant *e, pthread_t t)
{
	atomic_store(&e->release, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void
test_parallel_limit(void **state)
{
	struct entrant e[3];
	pthread_t t[3];
	struct gate g;

	gate_init(&g, 2);
	start(&e[0], &g, 0, &t[0]);
	start(&e[1], &g, 0, &t[1]);
	start(&e[2], &g, 0, &t[2]);
	sleep_ms(50);
	assert_int_equal(gate_running(&g), 2);
	assert_int_equal(gate_waiting(&g), 1);
	assert_false(atomic_load(&e[2].inside));
	finish(&e[0], t[0]);
	while (!atomic_load(&e[2].inside))
		sleep_ms(1);
	assert_int_equal(gate_running(&g), 2);
	finish(&e[1], t[1]);
	finish(&e[2], t[2]);
	assert_int_equal(gate_running(&g), 0);
	gate_destroy(&g);
}

static void
test_exclusive_order(void **state)
{
	struct entrant a, x, b;
	pthread_t ta, tx, tb;
	struct gate g;

	atomic_store(&rank, 0);
	gate_init(&g, 4);
	start(&a, &g, 0, &ta);		/* inside */
	start(&x, &g, 1, &tx);		/* waits for a to leave */
	start(&b, &g, 0, &tb);		/* must wait behind x */
	sleep_ms(50);
	assert_true(atomic_load(&a.inside));
	assert_false(atomic_load(&x.inside));
	assert_false(atomic_load(&b.inside));
	finish(&a, ta);
	while (!atomic_load(&x.inside))
		sleep_ms(1);
	sleep_ms(50);
	assert_false(atomic_load(&b.inside));	/* x runs alone */
	finish(&x, tx);
	finish(&b, tb);
	assert_true(a.order < x.order && x.order < b.order);
	gate_destroy(&g);
}

static void
test_fifo(void **state)
{
	struct entrant e[5];
	pthread_t t[5];
	struct gate g;
	int i;

	atomic_store(&rank, 0);
	gate_init(&g, 1);
	for (i = 0; i < 5; i++)
		start(&e[i], &g, 0, &t[i]);
	for (i = 0; i < 5; i++) {
		while (!atomic_load(&e[i].inside))
			sleep_ms(1);
		finish(&e[i], t[i]);
		assert_int_equal(e[i].order, i);
	}
	gate_destroy(&g);
}

static void
test_cancel_queued(void **state)
{
	struct entrant a, b, c;
	pthread_t ta, tb, tc;
	struct gate g;

	gate_init(&g, 1);
	start(&a, &g, 0, &ta);
	start(&b, &g, 0, &tb);
	start(&c, &g, 0, &tc);
	atomic_store(&b.cancelled, 1);
	gate_kick(&g);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(b.rc, -1);
	assert_int_equal(gate_waiting(&g), 1);
	finish(&a, ta);
	while (!atomic_load(&c.inside))
		sleep_ms(1);
	finish(&c, tc);
	assert_int_equal(gate_waiting(&g), 0);
	gate_destroy(&g);
}

static void
test_set_parallel(void **state)
{
	struct entrant a, b;
	pthread_t ta, tb;
	struct gate g;

	gate_init(&g, 0);	/* 0 means 1 */
	start(&a, &g, 0, &ta);
	start(&b, &g, 0, &tb);
	sleep_ms(30);
	assert_false(atomic_load(&b.inside));
	gate_set_parallel(&g, 2);
	while (!atomic_load(&b.inside))
		sleep_ms(1);
	finish(&a, ta);
	finish(&b, tb);
	gate_destroy(&g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parallel_limit),
		cmocka_unit_test(test_exclusive_order),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_cancel_queued),
		cmocka_unit_test(test_set_parallel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
