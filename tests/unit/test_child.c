/*
 * Unit tests for supervisor/child.c: restart delays, jitter bounds, the
 * reset after a healthy run, crash-loop detection, exit classification.
 */
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "supervisor/child.h"

#define RND_MID 0x80000000u /* jitter factor exactly 1.0 */
#define CRASH (SIGSEGV) /* wait status: killed by SIGSEGV */
#define EXITED(code) ((code) << 8) /* wait status: exit(code) */

/* Spawn, become ready at once, crash `ran` ms later. */
static struct child_verdict
run_and_crash(
    struct child_sm *sm, int64_t *now, int64_t ran, int status, uint32_t rnd)
{
	child_sm_spawned(sm, *now);
	child_sm_ready(sm, *now);
	*now += ran;
	return child_sm_exited(sm, *now, status, rnd, 0);
}

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(child_classify(CRASH), CHILD_EXIT_CRASH);
	assert_int_equal(child_classify(SIGKILL), CHILD_EXIT_CRASH);
	assert_int_equal(child_classify(EXITED(1)), CHILD_EXIT_CRASH);
	assert_int_equal(child_classify(EXITED(0)), CHILD_EXIT_CRASH);
	assert_int_equal(child_classify(EXITED(75)), CHILD_EXIT_TEMP);
	assert_int_equal(child_classify(EXITED(78)), CHILD_EXIT_CONF);
}

static void
test_jitter_bounds(void **state)
{
	uint32_t base, v, lo = UINT32_MAX, hi = 0;
	uint64_t r;

	(void)state;
	assert_int_equal(child_jitter(1000, RND_MID), 1000);
	assert_int_equal(child_jitter(1000, 0), 800);
	assert_true(child_jitter(1000, UINT32_MAX) <= 1200);
	assert_true(child_jitter(1000, UINT32_MAX) >= 1199);
	for (base = 1000; base <= 60000; base *= 2) {
		for (r = 0; r <= UINT32_MAX; r += 0x01000193u) {
			v = child_jitter(base, (uint32_t)r);
			assert_true(v >= base - base / 5);
			assert_true(v <= base + base / 5);
			if (base == 1000) {
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
		}
	}
	/* The whole range is used, not a corner of it. */
	assert_true(lo < 810);
	assert_true(hi > 1190);
}

/* 1, 2, 4, ... 60 s, measured from the exit; capped at 60 s. */
static void
test_delays_double(void **state)
{
	static const int64_t want[] = {
	    1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 5000;
	size_t i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		/* 75 so that the loop detector stays out of the way. */
		v = run_and_crash(&sm, &now, 30000, EXITED(75), RND_MID);
		assert_int_equal(v.kind, CHILD_EXIT_TEMP);
		assert_int_equal(sm.state, CHILD_BACKOFF);
		assert_int_equal(v.wait_ms, want[i]);
		assert_int_equal(sm.next_at, now + want[i]);
		assert_false(child_sm_due(&sm, now + want[i] - 1));
		assert_true(child_sm_due(&sm, now + want[i]));
		now = sm.next_at;
	}
	assert_int_equal(sm.restarts, i - 1);
}

/* Whatever the jitter, two spawns are never closer than 1 s. */
static void
test_spawn_gap_floor(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0, spawned;

	(void)state;
	child_sm_init(&sm);
	spawned = now;
	v = run_and_crash(&sm, &now, 10, EXITED(75), 0); /* 800 ms */
	assert_int_equal(v.wait_ms, 990);
	assert_int_equal(sm.next_at - spawned, CHILD_SPAWN_GAP_MS);
	/* A long run: the jittered delay counts from the exit. */
	now = sm.next_at;
	child_sm_init(&sm);
	v = run_and_crash(&sm, &now, 5000, CRASH, 0);
	assert_int_equal(v.wait_ms, 800);
}

/* 60 s READY resets the delay to 1 s; 59 s does not. */
static void
test_reset_after_healthy_run(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;
	int i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < 4; i++) {
		v = run_and_crash(&sm, &now, 100, EXITED(75), RND_MID);
		now = sm.next_at;
	}
	assert_int_equal(v.wait_ms, 8000);
	v = run_and_crash(&sm, &now, 59000, EXITED(75), RND_MID);
	assert_int_equal(v.wait_ms, 16000);
	now = sm.next_at;
	v = run_and_crash(&sm, &now, 60000, EXITED(75), RND_MID);
	assert_int_equal(v.wait_ms, 1000);
	/* Time spent STARTING does not count as healthy. */
	now = sm.next_at;
	child_sm_spawned(&sm, now);
	now += 70000;
	child_sm_ready(&sm, now);
	now += 1000;
	v = child_sm_exited(&sm, now, EXITED(75), RND_MID, 0);
	assert_int_equal(v.wait_ms, 2000);
}

/* Five crashes within 120 s: FAILED, for good (core) or retried. */
static void
test_crash_loop(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;
	int i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < 4; i++) {
		v = run_and_crash(&sm, &now, 200, CRASH, RND_MID);
		assert_int_equal(v.kind, CHILD_EXIT_CRASH);
		assert_false(v.loop);
		assert_int_equal(sm.state, CHILD_BACKOFF);
		now = sm.next_at;
	}
	v = run_and_crash(&sm, &now, 200, CRASH, RND_MID);
	assert_true(v.loop);
	assert_false(v.early);
	assert_int_equal(sm.state, CHILD_FAILED);
	assert_int_equal(v.wait_ms, -1);
	assert_false(child_sm_due(&sm, now + 1000000));
}

/* Crashes spread wider than the window never fail the child. */
static void
test_slow_crashes_no_loop(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;
	int i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < 20; i++) {
		v = run_and_crash(&sm, &now, 31000, CRASH, RND_MID);
		assert_false(v.loop);
		now = sm.next_at;
	}
	assert_int_equal(sm.state, CHILD_BACKOFF);
}

/*
 * Exit 75 backs off but is not a crash: four crashes and a 75 within the
 * window leave the child backing off; the fifth real crash fails it.
 */
static void
test_tempfail_not_counted(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;
	int i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < 4; i++) {
		v = run_and_crash(&sm, &now, 10, CRASH, RND_MID);
		assert_false(v.loop);
		now = sm.next_at;
	}
	for (i = 0; i < 2; i++) {
		v = run_and_crash(&sm, &now, 10, EXITED(75), RND_MID);
		assert_false(v.loop);
		assert_int_equal(v.kind, CHILD_EXIT_TEMP);
		assert_int_equal(sm.state, CHILD_BACKOFF);
		now = sm.next_at;
	}
	assert_true(now < CHILD_LOOP_WINDOW_MS);
	v = run_and_crash(&sm, &now, 10, CRASH, RND_MID);
	assert_true(v.loop);
	assert_int_equal(sm.state, CHILD_FAILED);
}

/* Exit 78: FAILED at once and never due, even for backends. */
static void
test_config_exit(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;

	(void)state;
	child_sm_init(&sm);
	child_sm_spawned(&sm, now);
	v = child_sm_exited(
	    &sm, now + 10, EXITED(78), RND_MID, CHILD_RETRY_FAILED_MS);
	assert_int_equal(v.kind, CHILD_EXIT_CONF);
	assert_true(v.early);
	assert_false(v.loop);
	assert_int_equal(sm.state, CHILD_FAILED);
	assert_int_equal(v.wait_ms, -1);
	assert_false(child_sm_due(&sm, now + 10 * CHILD_RETRY_FAILED_MS));
}

static void
test_early_death(void **state)
{
	struct child_sm sm;
	struct child_verdict v;

	(void)state;
	child_sm_init(&sm);
	child_sm_spawned(&sm, 0);
	v = child_sm_exited(&sm, 50, EXITED(1), RND_MID, 0);
	assert_true(v.early);
	child_sm_spawned(&sm, sm.next_at);
	child_sm_ready(&sm, sm.next_at + 1);
	v = child_sm_exited(&sm, sm.next_at + 2, EXITED(1), RND_MID, 0);
	assert_false(v.early);
}

/*
 * A crash-looping backend is retried every 300 s; one crash after the
 * retry fails it again at once, a healthy minute clears that.
 */
static void
test_failed_retry(void **state)
{
	struct child_sm sm;
	struct child_verdict v;
	int64_t now = 0;
	int i;

	(void)state;
	child_sm_init(&sm);
	for (i = 0; i < 5; i++) {
		child_sm_spawned(&sm, now);
		child_sm_ready(&sm, now);
		now += 100;
		v = child_sm_exited(
		    &sm, now, CRASH, RND_MID, CHILD_RETRY_FAILED_MS);
		if (i < 4)
			now = sm.next_at;
	}
	assert_true(v.loop);
	assert_int_equal(v.wait_ms, CHILD_RETRY_FAILED_MS);
	assert_false(child_sm_due(&sm, now + CHILD_RETRY_FAILED_MS - 1));
	assert_true(child_sm_due(&sm, now + CHILD_RETRY_FAILED_MS));
	now += CHILD_RETRY_FAILED_MS;
	child_sm_spawned(&sm, now);
	assert_int_equal(sm.state, CHILD_STARTING);
	child_sm_ready(&sm, now);
	v = child_sm_exited(
	    &sm, now + 5000, CRASH, RND_MID, CHILD_RETRY_FAILED_MS);
	assert_true(v.loop);
	assert_int_equal(sm.state, CHILD_FAILED);
	now = sm.next_at;
	child_sm_spawned(&sm, now);
	child_sm_ready(&sm, now);
	v = child_sm_exited(
	    &sm, now + CHILD_RESET_MS, CRASH, RND_MID, CHILD_RETRY_FAILED_MS);
	assert_false(v.loop);
	assert_int_equal(sm.state, CHILD_BACKOFF);
	assert_int_equal(v.wait_ms, CHILD_DELAY_MIN_MS);
}

static void
test_stopped(void **state)
{
	struct child_sm sm;

	(void)state;
	child_sm_init(&sm);
	assert_false(child_sm_due(&sm, 1000000));
	child_sm_spawned(&sm, 0);
	(void)child_sm_exited(&sm, 10, CRASH, RND_MID, 0);
	assert_int_equal(sm.state, CHILD_BACKOFF);
	child_sm_stopped(&sm);
	assert_int_equal(sm.state, CHILD_IDLE);
	assert_false(child_sm_due(&sm, 1000000));
	assert_string_equal(child_state_name(CHILD_BACKOFF), "BACKOFF");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_jitter_bounds),
	    cmocka_unit_test(test_delays_double),
	    cmocka_unit_test(test_spawn_gap_floor),
	    cmocka_unit_test(test_reset_after_healthy_run),
	    cmocka_unit_test(test_crash_loop),
	    cmocka_unit_test(test_slow_crashes_no_loop),
	    cmocka_unit_test(test_tempfail_not_counted),
	    cmocka_unit_test(test_config_exit),
	    cmocka_unit_test(test_early_death),
	    cmocka_unit_test(test_failed_retry),
	    cmocka_unit_test(test_stopped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
