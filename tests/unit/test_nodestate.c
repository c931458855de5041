/*
 * Unit tests for router/nodestate.c: approval, suspect on connection
 * failure and on missed heartbeats, offline after offline_after, return
 * on heartbeat or re-registration, draining, the pending-bypass that must
 * not exist, and the replica state machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "router/nodestate.h"

static struct rt_health_conf conf;

static int
setup(void **state)
{
	rt_health_conf_default(&conf);
	return 0;
}

/* A healthy node that last heard from us at t=1000, interval 1 s. */
static void
healthy(struct rt_nodestate *s)
{
	rt_nodestate_init(s, &conf, 1, 1000, 1000);
}

static void
test_defaults(void **state)
{
	assert_int_equal(conf.offline_after_ms, 5000);
	assert_int_equal(conf.suspect_missed, 2);
	assert_int_equal(conf.clear_beats, 2);
}

static void
test_new_node_pending_until_approved(void **state)
{
	struct rt_nodestate s;

	rt_nodestate_init(&s, &conf, 0, 1000, 1000);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_false(rt_nodestate_routable(&s, &conf, 1000));
	rt_nodestate_heartbeat(&s, &conf, 1500);
	assert_false(rt_nodestate_routable(&s, &conf, 1500));
	assert_int_equal(rt_nodestate_approve(&s), 1);
	assert_int_equal(rt_nodestate_approve(&s), 0);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_true(rt_nodestate_routable(&s, &conf, 1500));
}

static void
test_auto_approve(void **state)
{
	struct rt_nodestate s;

	rt_nodestate_init(&s, &conf, 1, 0, 5);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_int_equal(s.interval_ms, 1000); /* the default */
	assert_true(rt_nodestate_routable(&s, &conf, 5));
}

static void
test_conn_failure_suspect_until_two_beats(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	assert_int_equal(
	    rt_nodestate_conn_failure(&s, &conf, 1100), RT_HEALTH_SUSPECT);
	assert_false(rt_nodestate_routable(&s, &conf, 1100));
	/* A second failure is not news. */
	assert_int_equal(
	    rt_nodestate_conn_failure(&s, &conf, 1150), RT_HEALTH_SAME);
	/* One heartbeat may have been in flight at failure time. */
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 1200), RT_HEALTH_SAME);
	assert_false(rt_nodestate_routable(&s, &conf, 1200));
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 2200), RT_HEALTH_CLEARED);
	assert_true(rt_nodestate_routable(&s, &conf, 2200));
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
}

static void
test_new_failure_restarts_count(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	rt_nodestate_conn_failure(&s, &conf, 1100);
	rt_nodestate_heartbeat(&s, &conf, 1200);
	rt_nodestate_conn_failure(&s, &conf, 1300);
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 1400), RT_HEALTH_SAME);
	assert_true(rt_nodestate_suspect(&s, &conf, 1400));
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 2400), RT_HEALTH_CLEARED);
}

static void
test_missed_heartbeats_suspect(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	/* Exactly two intervals: not yet. */
	assert_int_equal(rt_nodestate_check(&s, &conf, 3000), RT_HEALTH_SAME);
	assert_true(rt_nodestate_routable(&s, &conf, 3000));
	/* Past two intervals: suspect, reported once. */
	assert_false(rt_nodestate_routable(&s, &conf, 3001));
	assert_int_equal(
	    rt_nodestate_check(&s, &conf, 3001), RT_HEALTH_SUSPECT);
	assert_int_equal(rt_nodestate_check(&s, &conf, 3500), RT_HEALTH_SAME);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	/* Heartbeats resume: routable at once. */
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 3600), RT_HEALTH_CLEARED);
	assert_true(rt_nodestate_routable(&s, &conf, 3600));
}

static void
test_interval_scales_suspect(void **state)
{
	struct rt_nodestate s;

	rt_nodestate_init(&s, &conf, 1, 250, 1000);
	assert_true(rt_nodestate_routable(&s, &conf, 1500));
	assert_false(rt_nodestate_routable(&s, &conf, 1501));
}

static void
test_offline_and_back(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	assert_int_equal(
	    rt_nodestate_check(&s, &conf, 6000), RT_HEALTH_SUSPECT);
	assert_int_equal(
	    rt_nodestate_check(&s, &conf, 6001), RT_HEALTH_OFFLINE);
	/* Until the leader's word is applied, the check keeps saying so. */
	assert_int_equal(
	    rt_nodestate_check(&s, &conf, 6100), RT_HEALTH_OFFLINE);
	rt_nodestate_set_offline(&s);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_OFFLINE);
	assert_int_equal(rt_nodestate_check(&s, &conf, 9000), RT_HEALTH_SAME);
	assert_false(rt_nodestate_routable(&s, &conf, 9000));
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 9100), RT_HEALTH_ONLINE);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_true(rt_nodestate_routable(&s, &conf, 9100));
}

static void
test_reregister_brings_back(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	rt_nodestate_conn_failure(&s, &conf, 1100);
	rt_nodestate_set_offline(&s);
	assert_int_equal(
	    rt_nodestate_register(&s, &conf, 500, 20000), RT_HEALTH_ONLINE);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_int_equal(s.interval_ms, 500);
	assert_true(rt_nodestate_routable(&s, &conf, 20000));
	assert_int_equal(
	    rt_nodestate_register(&s, &conf, 500, 20100), RT_HEALTH_SAME);
}

/*
 * LocalAI's bypass: a pending node goes stale, is marked offline, then
 * re-registers and comes back healthy without approval.  Here every path
 * leaves it pending and unroutable.
 */
static void
test_pending_stays_pending(void **state)
{
	struct rt_nodestate s;

	rt_nodestate_init(&s, &conf, 0, 1000, 1000);
	assert_int_equal(rt_nodestate_check(&s, &conf, 100000), RT_HEALTH_SAME);
	rt_nodestate_set_offline(&s);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_int_equal(
	    rt_nodestate_register(&s, &conf, 1000, 100001), RT_HEALTH_SAME);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 100002), RT_HEALTH_SAME);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_false(rt_nodestate_routable(&s, &conf, 100002));
	/* Resuming or draining is no approval either. */
	rt_nodestate_drain(&s);
	rt_nodestate_resume(&s);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_false(rt_nodestate_routable(&s, &conf, 100002));
	/* Offline was never recorded for it: approval makes it healthy. */
	rt_nodestate_set_offline(&s);
	rt_nodestate_approve(&s);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_true(rt_nodestate_routable(&s, &conf, 100002));
}

static void
test_restore_from_database(void **state)
{
	struct rt_nodestate s;

	/* A row claiming offline but never approved is pending. */
	rt_nodestate_restore(&s, &conf, 0, 0, 1, 1000, 50);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);
	assert_int_equal(rt_nodestate_heartbeat(&s, &conf, 60), RT_HEALTH_SAME);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_PENDING);

	rt_nodestate_restore(&s, &conf, 1, 1, 0, 1000, 50);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_DRAINING);

	rt_nodestate_restore(&s, &conf, 1, 0, 1, 1000, 50);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_OFFLINE);
	assert_int_equal(
	    rt_nodestate_heartbeat(&s, &conf, 60), RT_HEALTH_ONLINE);

	/* Restored nodes get a grace period: not suspect at once. */
	rt_nodestate_restore(&s, &conf, 1, 0, 0, 1000, 50);
	assert_true(rt_nodestate_routable(&s, &conf, 2050));
}

static void
test_draining(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	assert_int_equal(rt_nodestate_drain(&s), 1);
	assert_int_equal(rt_nodestate_drain(&s), 0);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_DRAINING);
	assert_false(rt_nodestate_routable(&s, &conf, 1000));
	/* A draining node that dies and returns is still draining. */
	assert_int_equal(
	    rt_nodestate_check(&s, &conf, 7000), RT_HEALTH_OFFLINE);
	rt_nodestate_set_offline(&s);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_OFFLINE);
	assert_int_equal(
	    rt_nodestate_register(&s, &conf, 1000, 8000), RT_HEALTH_ONLINE);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_DRAINING);
	assert_false(rt_nodestate_routable(&s, &conf, 8000));
	assert_int_equal(rt_nodestate_resume(&s), 1);
	assert_int_equal(rt_nodestate_resume(&s), 0);
	assert_int_equal(rt_nodestate_status(&s), RT_NODE_HEALTHY);
	assert_true(rt_nodestate_routable(&s, &conf, 8000));
}

/*
 * Heartbeat sequence numbers: duplicates and overtaken beats are ignored;
 * a (re-)registration starts the sequence over, so a worker that restarts
 * and counts from 1 again is heard, however high it had counted before
 * (the router must not rely on workers starting at the wall clock).
 */
static void
test_heartbeat_seq(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	assert_int_equal(s.hb_seq, 0);
	assert_true(rt_nodestate_seq_accept(&s, 1));
	assert_true(rt_nodestate_seq_accept(&s, 2));
	assert_false(rt_nodestate_seq_accept(&s, 2)); /* NATS, then HTTP */
	assert_true(rt_nodestate_seq_accept(&s, 3));
	assert_false(rt_nodestate_seq_accept(&s, 2)); /* overtaken */
	/* A worker that restarted unseen, far behind: counts. */
	assert_true(rt_nodestate_seq_accept(&s, 10));
	assert_true(rt_nodestate_seq_accept(&s, 1));
	assert_true(rt_nodestate_seq_accept(&s, 2));
	assert_false(rt_nodestate_seq_accept(&s, 1));
	/* It registers again before its first beat: the sequence starts
	 * over, so 1 and 2 count although they are not above what we saw. */
	rt_nodestate_register(&s, &conf, 1000, 3000);
	assert_int_equal(s.hb_seq, 0);
	assert_true(rt_nodestate_seq_accept(&s, 1));
	assert_true(rt_nodestate_seq_accept(&s, 2));
	/* From a high (wall clock) number down to 1 on registration. */
	assert_true(rt_nodestate_seq_accept(&s, 1700000000000ull));
	rt_nodestate_register(&s, &conf, 1000, 4000);
	assert_true(rt_nodestate_seq_accept(&s, 1));
	/* Fresh and restored nodes have no sequence yet. */
	rt_nodestate_restore(&s, &conf, 1, 0, 0, 1000, 5000);
	assert_true(rt_nodestate_seq_accept(&s, 1));
	assert_true(rt_nodestate_seq_accept(&s, 0)); /* unnumbered */
}

/*
 * A replica of a suspect node becomes ready again (its backend restarted
 * and reloaded): the reported connection failure is over at once; a
 * silent node stays suspect.
 */
static void
test_replica_ready_clears_failure(void **state)
{
	struct rt_nodestate s;

	healthy(&s);
	rt_nodestate_conn_failure(&s, &conf, 1100);
	assert_false(rt_nodestate_routable(&s, &conf, 1200));
	assert_int_equal(
	    rt_nodestate_replica_ready(&s, &conf, 1200), RT_HEALTH_CLEARED);
	assert_true(rt_nodestate_routable(&s, &conf, 1200));
	assert_int_equal(
	    rt_nodestate_replica_ready(&s, &conf, 1300), RT_HEALTH_SAME);
	/* Silent too long: still suspect (only heartbeats fix that). */
	rt_nodestate_conn_failure(&s, &conf, 3500);
	assert_int_equal(
	    rt_nodestate_replica_ready(&s, &conf, 3600), RT_HEALTH_SAME);
	assert_false(rt_nodestate_routable(&s, &conf, 3600));
}

static void
test_status_names(void **state)
{
	enum rt_node_status st;
	int i;

	for (i = RT_NODE_PENDING; i <= RT_NODE_OFFLINE; i++) {
		assert_int_equal(
		    rt_node_status_parse(
		        rt_node_status_name((enum rt_node_status)i), &st),
		    0);
		assert_int_equal(st, i);
	}
	assert_string_equal(rt_node_status_name(RT_NODE_DRAINING), "draining");
	assert_int_equal(rt_node_status_parse("unhealthy", &st), -1);
	assert_string_equal(
	    rt_node_status_name((enum rt_node_status)42), "unknown");
}

static void
test_replica_transitions(void **state)
{
	static const struct {
		enum rt_replica_state from;
		enum rt_replica_event ev;
		enum rt_replica_state to;
		int changed;
	} t[] = {
	    {RT_REPLICA_LOADING, RT_REPLICA_EV_READY, RT_REPLICA_READY, 1},
	    {RT_REPLICA_LOADING, RT_REPLICA_EV_FAILED, RT_REPLICA_FAILED, 1},
	    {RT_REPLICA_LOADING, RT_REPLICA_EV_LOADING, RT_REPLICA_LOADING, 0},
	    {RT_REPLICA_LOADING, RT_REPLICA_EV_STOP, RT_REPLICA_STOPPING, 1},
	    {RT_REPLICA_READY, RT_REPLICA_EV_LOADING, RT_REPLICA_LOADING, 1},
	    {RT_REPLICA_READY, RT_REPLICA_EV_FAILED, RT_REPLICA_FAILED, 1},
	    {RT_REPLICA_READY, RT_REPLICA_EV_READY, RT_REPLICA_READY, 0},
	    {RT_REPLICA_READY, RT_REPLICA_EV_STOP, RT_REPLICA_STOPPING, 1},
	    {RT_REPLICA_FAILED, RT_REPLICA_EV_LOADING, RT_REPLICA_LOADING, 1},
	    {RT_REPLICA_FAILED, RT_REPLICA_EV_READY, RT_REPLICA_READY, 1},
	    {RT_REPLICA_FAILED, RT_REPLICA_EV_STOP, RT_REPLICA_STOPPING, 1},
	    /* Late reports never resurrect a replica being stopped. */
	    {RT_REPLICA_STOPPING, RT_REPLICA_EV_READY, RT_REPLICA_STOPPING, 0},
	    {RT_REPLICA_STOPPING, RT_REPLICA_EV_LOADING, RT_REPLICA_STOPPING,
	        0},
	    {RT_REPLICA_STOPPING, RT_REPLICA_EV_FAILED, RT_REPLICA_STOPPING, 0},
	    {RT_REPLICA_STOPPING, RT_REPLICA_EV_STOP, RT_REPLICA_STOPPING, 0},
	};
	enum rt_replica_state next;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(
		    rt_replica_next(t[i].from, t[i].ev, &next), t[i].changed);
		assert_int_equal(next, t[i].to);
	}
	assert_string_equal(rt_replica_state_name(RT_REPLICA_READY), "ready");
	assert_string_equal(
	    rt_replica_state_name(RT_REPLICA_STOPPING), "stopping");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_new_node_pending_until_approved),
	    cmocka_unit_test(test_auto_approve),
	    cmocka_unit_test(test_conn_failure_suspect_until_two_beats),
	    cmocka_unit_test(test_new_failure_restarts_count),
	    cmocka_unit_test(test_missed_heartbeats_suspect),
	    cmocka_unit_test(test_interval_scales_suspect),
	    cmocka_unit_test(test_offline_and_back),
	    cmocka_unit_test(test_reregister_brings_back),
	    cmocka_unit_test(test_pending_stays_pending),
	    cmocka_unit_test(test_restore_from_database),
	    cmocka_unit_test(test_draining),
	    cmocka_unit_test(test_heartbeat_seq),
	    cmocka_unit_test(test_replica_ready_clears_failure),
	    cmocka_unit_test(test_status_names),
	    cmocka_unit_test(test_replica_transitions),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
