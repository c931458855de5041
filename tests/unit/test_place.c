/*
 * Unit tests for router/place.c: warm placement (idle-first relative to
 * the cap, ties to the most recently used, revision, selector, node
 * health, other frontends' load), cold placement (files cached, memory
 * fit in VRAM or RAM, idle, no models, least loaded, backends,
 * reservations under concurrent cold loads, eviction, wait/none), and
 * the same rules at 10,000 nodes.
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

#include "router/place.h"

#define GiB (1024ULL * 1024 * 1024)
#define T0 1000 /* last heartbeat of every node */
#define NOW 2500 /* decisions are taken at this time */
#define REV 7

static uint32_t
node_full(struct rt_view *v, const char *id, int gpu, uint64_t ram,
    uint64_t vram, uint32_t cap)
{
	const char *be[] = {"llama"};
	uint32_t s;

	s = rt_view_node_add(v, id, id, 1, 1000, T0);
	assert_int_not_equal(s, RT_NONE);
	rt_view_node_set_capacity(v, s, gpu, ram, vram, cap);
	rt_view_node_heartbeat(v, s, ram, vram, T0);
	assert_int_equal(rt_view_node_set_backends(v, s, be, 1), 0);
	return s;
}

/* A CPU node with `ram` free and concurrency 4. */
static uint32_t
node(struct rt_view *v, const char *id, uint64_t ram)
{
	return node_full(v, id, 0, ram, 0, 4);
}

static uint32_t
model_full(struct rt_view *v, const char *name, uint64_t ram, uint64_t vram,
    uint32_t cap, uint32_t min, uint32_t max)
{
	struct conf_model c;
	uint32_t s;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.backend, sizeof(c.backend), "llama");
	snprintf(c.model, sizeof(c.model), "%s.gguf", name);
	c.ram = ram;
	c.vram = vram;
	c.max_concurrency = cap;
	c.replicas_min = min;
	c.replicas_max = max;
	c.revision = REV;
	s = rt_view_model_set(v, &c);
	assert_int_not_equal(s, RT_NONE);
	return s;
}

static uint32_t
model(struct rt_view *v, const char *name, uint64_t ram)
{
	return model_full(v, name, ram, 0, 0, 0, 4);
}

static uint32_t
ready(struct rt_view *v, uint32_t m, uint32_t n, uint64_t last_used)
{
	uint32_t r;

	r = rt_view_replica_add(v, m, n, RT_REPLICA_READY, REV, "h:1", 0);
	assert_int_not_equal(r, RT_NONE);
	rt_view_replica(v, r)->last_used = last_used;
	return r;
}

/* Put k requests of our own on replica r. */
static void
load(struct rt_view *v, uint32_t r, int k)
{
	static unsigned seq;
	char id[32];
	uint64_t lu = rt_view_replica(v, r)->last_used;

	while (k-- > 0) {
		snprintf(id, sizeof(id), "q%u", seq++);
		assert_int_equal(rt_view_inflight_add(v, 1, id, r, 1), 0);
	}
	rt_view_replica(v, r)->last_used = lu; /* keep the test's order */
}

static void
label(struct rt_view *v, uint32_t n, const char *key, const char *value)
{
	struct conf_label l;

	snprintf(l.key, sizeof(l.key), "%s", key);
	snprintf(l.value, sizeof(l.value), "%s", value);
	assert_int_equal(rt_view_node_set_labels(v, n, &l, 1), 0);
}

static void
selector(struct rt_view *v, const char *name, uint64_t ram, const char *key,
    const char *value)
{
	struct conf_model c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.backend, sizeof(c.backend), "llama");
	c.ram = ram;
	c.replicas_max = 4;
	c.revision = REV;
	c.n_selector = 1;
	snprintf(c.selector[0].key, sizeof(c.selector[0].key), "%s", key);
	snprintf(c.selector[0].value, sizeof(c.selector[0].value), "%s", value);
	assert_int_not_equal(rt_view_model_set(v, &c), RT_NONE);
}

/* ---- warm ------------------------------------------------------------- */

static void
test_warm_idle_first(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), r1, r2, r3;
	struct rt_warm w;

	r1 = ready(v, m, node(v, "n1", 8 * GiB), 300);
	r2 = ready(v, m, node(v, "n2", 8 * GiB), 100);
	r3 = ready(v, m, node(v, "n3", 8 * GiB), 200);
	load(v, r1, 2);
	load(v, r3, 1);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_int_equal(w.replica, r2);
	assert_int_equal(w.ready, 3);
	assert_int_equal(w.capacity, 12);
	assert_false(w.cold);
	/* Placed requests count at once: the next goes elsewhere. */
	load(v, r2, 2);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_int_equal(w.replica, r3);
	rt_view_free(v);
}

static void
test_warm_relative_to_cap(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), a, b;
	struct rt_warm w;

	/* a: 1 of 4 (0.25) beats b: 1 of 2 (0.5), though b is newer. */
	a = ready(v, m, node_full(v, "n1", 0, 8 * GiB, 0, 4), 100);
	b = ready(v, m, node_full(v, "n2", 0, 8 * GiB, 0, 2), 200);
	load(v, a, 1);
	load(v, b, 1);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, a);
	/* a: 2 of 4 (0.5) loses to an idle b. */
	rt_view_inflight_release_owner(v, 1, 1);
	load(v, a, 2);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, b);
	rt_view_free(v);
}

static void
test_warm_node_limit(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t a = model_full(v, "a", GiB, 0, 4, 0, 1);
	uint32_t b = model_full(v, "b", GiB, 0, 4, 0, 1), n, ra;
	struct rt_warm w;

	/* The node takes 3 requests in all, whatever each replica's cap. */
	n = node_full(v, "n1", 0, 8 * GiB, 0, 3);
	ra = ready(v, a, n, 1);
	load(v, ready(v, b, n, 1), 2);
	assert_int_equal(rt_place_warm(v, a, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_int_equal(w.replica, ra);
	load(v, ra, 1);
	assert_int_equal(rt_place_warm(v, a, RT_NONE, NOW, &w), RT_WARM_BUSY);
	assert_int_equal(w.at_cap, 1);
	rt_view_free(v);
}

static void
test_warm_ties_most_recent(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), r2;
	struct rt_warm w;

	ready(v, m, node(v, "n1", 8 * GiB), 100);
	r2 = ready(v, m, node(v, "n2", 8 * GiB), 200);
	ready(v, m, node(v, "n3", 8 * GiB), 150);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, r2);
	rt_view_free(v);
}

static void
test_warm_busy_and_scale_out(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model_full(v, "a", GiB, 0, 1, 0, 3), r1, r2, n3;
	struct rt_warm w;

	r1 = ready(v, m, node(v, "n1", 8 * GiB), 100);
	r2 = ready(v, m, node(v, "n2", 8 * GiB), 100);
	n3 = node(v, "n3", 8 * GiB);
	load(v, r1, 1);
	load(v, r2, 1);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_BUSY);
	assert_int_equal(w.replica, RT_NONE);
	assert_int_equal(w.at_cap, 2);
	assert_true(w.cold); /* 2 live < max 3 */
	/* A third replica loading: wait for it, no second cold load. */
	rt_view_replica_add(v, m, n3, RT_REPLICA_LOADING, REV, NULL, 0);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.loading, 1);
	assert_false(w.cold);
	/* Loaded and busy too: at max, queue. */
	rt_view_replica_event(
	    v, rt_view_replica_find(v, m, n3), RT_REPLICA_EV_READY, 2);
	load(v, rt_view_replica_find(v, m, n3), 1);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_BUSY);
	assert_int_equal(w.live, 3);
	assert_false(w.cold);
	rt_view_free(v);
}

static void
test_warm_none(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model_full(v, "a", GiB, 0, 0, 2, 4), n1;
	struct rt_warm w;

	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_NONE);
	assert_true(w.cold);
	n1 = node(v, "n1", 8 * GiB);
	rt_view_replica_add(v, m, n1, RT_REPLICA_LOADING, REV, NULL, 0);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_NONE);
	assert_false(w.cold);
	/* Ready but below replicas_min: served, and another is wanted. */
	rt_view_replica_event(
	    v, rt_view_replica_find(v, m, n1), RT_REPLICA_EV_READY, 1);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_true(w.cold);
	assert_int_equal(rt_place_warm(v, 999, RT_NONE, NOW, &w), RT_WARM_NONE);
	rt_view_free(v);
}

static void
test_warm_skips_unroutable(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), good, n[5], i;
	struct rt_warm w;

	n[0] = rt_view_node_add(v, "pending", "pending", 0, 1000, T0);
	n[1] = node(v, "draining", 8 * GiB);
	rt_nodestate_drain(&rt_view_node(v, n[1])->state);
	n[2] = node(v, "suspect", 8 * GiB);
	rt_nodestate_conn_failure(
	    &rt_view_node(v, n[2])->state, &v->health, NOW - 1);
	n[3] = node(v, "offline", 8 * GiB);
	rt_nodestate_set_offline(&rt_view_node(v, n[3])->state);
	n[4] = rt_view_node_add(v, "silent", "silent", 1, 1000, 0);
	/* The unroutable ones are newer and idle: they would win. */
	for (i = 0; i < 5; i++)
		ready(v, m, n[i], 1000 + i);
	good = ready(v, m, node(v, "good", 8 * GiB), 1);
	load(v, good, 3);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_int_equal(w.replica, good);
	assert_int_equal(w.ready, 1);
	/* Only unroutable replicas left: none usable, load another. */
	rt_view_node_remove(v, rt_view_node_find(v, "good"));
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_NONE);
	assert_true(w.cold);
	rt_view_free(v);
}

static void
test_warm_revision_selector_exclude(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m, n1, n2, n3, r1, r2, r3;
	struct rt_warm w;

	selector(v, "a", GiB, "zone", "x");
	m = rt_view_model_find(v, "a");
	n1 = node(v, "n1", 8 * GiB);
	n2 = node(v, "n2", 8 * GiB);
	n3 = node(v, "n3", 8 * GiB);
	label(v, n1, "zone", "x");
	label(v, n2, "zone", "x");
	label(v, n3, "zone", "x");
	r1 = ready(v, m, n1, 300);
	r2 = ready(v, m, n2, 200);
	r3 = ready(v, m, n3, 100);
	/* r1: an old config revision.  n2: relabelled out of the zone. */
	rt_view_replica(v, r1)->revision = REV - 1;
	label(v, n2, "zone", "y");
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, r3);
	assert_int_equal(w.ready, 1);
	label(v, n2, "zone", "x");
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, r2);
	/* A retry excludes the node that just failed. */
	rt_place_warm(v, m, n2, NOW, &w);
	assert_int_equal(w.replica, r3);
	rt_view_free(v);
}

static void
test_warm_other_frontends(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), a, b;
	struct rt_snap_entry e;
	struct rt_warm w;

	a = ready(v, m, node(v, "n1", 8 * GiB), 200);
	b = ready(v, m, node(v, "n2", 8 * GiB), 100);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, a);
	/* Frontend B has 2 requests on a: we now prefer b. */
	e.replica = a;
	e.inflight = 2;
	rt_view_snapshot_apply(v, "fe-b", &e, 1, NOW + 200);
	rt_place_warm(v, m, RT_NONE, NOW, &w);
	assert_int_equal(w.replica, b);
	/* At cap with their load alone. */
	e.inflight = 4;
	rt_view_snapshot_apply(v, "fe-b", &e, 1, NOW + 200);
	load(v, b, 4);
	assert_int_equal(rt_place_warm(v, m, RT_NONE, NOW, &w), RT_WARM_BUSY);
	/* Frontend B went silent: its snapshot expires. */
	assert_int_equal(
	    rt_place_warm(v, m, RT_NONE, NOW + 200, &w), RT_WARM_OK);
	assert_int_equal(w.replica, a);
	rt_view_free(v);
}

/* ---- cold ------------------------------------------------------------- */

static void
test_cold_cached_first(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", 4 * GiB), other = model(v, "o", GiB);
	uint32_t a, b;
	const char *files[] = {"a.gguf"};
	struct rt_cold c;

	a = node(v, "cached", 16 * GiB);
	b = node(v, "idle", 16 * GiB);
	load(v, ready(v, other, a, 1), 3); /* busy, has a model */
	rt_view_node_set_files(v, a, files, 1);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, a);
	assert_true(c.cached);
	assert_false(c.install);
	assert_int_equal(c.mem, RT_MEM_RAM);
	assert_int_equal(c.bytes, 4 * GiB);
	/* Cached but full: never overcommit, take the idle node. */
	rt_view_node_heartbeat(v, a, 3 * GiB, 0, T0);
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, b);
	assert_false(c.cached);
	rt_view_free(v);
}

static void
test_cold_gpu_vs_ram(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model_full(v, "a", 8 * GiB, 6 * GiB, 0, 0, 4);
	uint32_t cpu_only = model_full(v, "c", 2 * GiB, 0, 0, 0, 4);
	uint32_t g, cpu, g2;
	struct rt_cold c;

	/* Lots of RAM, too little VRAM: a GPU node counts VRAM. */
	g = node_full(v, "gpu-small", 1, 64 * GiB, 4 * GiB, 4);
	cpu = node_full(v, "cpu", 0, 10 * GiB, 0, 4);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, cpu);
	assert_int_equal(c.mem, RT_MEM_RAM);
	assert_int_equal(c.bytes, 8 * GiB);
	/* Too little RAM on the CPU node: the big GPU node, in VRAM. */
	rt_view_node_heartbeat(v, cpu, 7 * GiB, 0, T0);
	g2 = node_full(v, "gpu-big", 1, 2 * GiB, 24 * GiB, 4);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, g2);
	assert_int_equal(c.mem, RT_MEM_VRAM);
	assert_int_equal(c.bytes, 6 * GiB);
	/* A model without a VRAM estimate counts RAM even on GPU nodes. */
	rt_view_node_heartbeat(v, cpu, 1 * GiB, 0, T0);
	rt_view_node_heartbeat(v, g2, 1 * GiB, 24 * GiB, T0);
	assert_int_equal(
	    rt_place_cold(v, cpu_only, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, g);
	assert_int_equal(c.mem, RT_MEM_RAM);
	rt_view_free(v);
}

static void
test_cold_order(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), o = model(v, "o", GiB);
	uint32_t busy, idle_loaded, empty, busy2;
	struct rt_cold c;

	/*
	 * Idle comes before "no models": a node whose only replica is
	 * stopping while it finishes a request has no model loaded, yet is
	 * busy.  It sits at the lowest slot so that it is scanned first.
	 */
	{
		uint32_t stopping = node(v, "stopping", 8 * GiB), loaded;
		uint32_t r = ready(v, o, stopping, 1);

		load(v, r, 1);
		rt_view_replica_event(v, r, RT_REPLICA_EV_STOP, 1);
		loaded = node(v, "loaded", 8 * GiB);
		ready(v, o, loaded, 1);
		rt_place_cold(v, m, RT_NONE, NOW, &c);
		assert_int_equal(c.node, loaded);
		rt_view_node_remove(v, stopping);
		rt_view_node_remove(v, loaded);
	}
	busy = node_full(v, "busy", 0, 8 * GiB, 0, 8);
	idle_loaded = node(v, "idle-loaded", 8 * GiB);
	empty = node(v, "empty", 4 * GiB); /* less free memory, still first */
	load(v, ready(v, o, busy, 1), 2);
	ready(v, o, idle_loaded, 1);
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, empty);
	/* Without an empty node: idle beats busy. */
	rt_view_node(v, empty)->state.draining = 1;
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, idle_loaded);
	/* All busy: least loaded relative to the node's concurrency. */
	load(v, rt_view_replica_find(v, o, idle_loaded), 2); /* 2/4 = .5 */
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, busy); /* 2/8 = .25 */
	busy2 = node_full(v, "busy2", 0, 8 * GiB, 0, 16);
	load(v, ready(v, o, busy2, 1), 3); /* 3/16 < .25 */
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, busy2);
	/* Ties beyond that: more memory left. */
	rt_view_node_set_capacity(v, busy2, 0, 8 * GiB, 0, 8);
	rt_view_inflight_release_owner(v, 1, 1);
	rt_view_node_heartbeat(v, busy, 6 * GiB, 0, T0);
	rt_place_cold(v, m, RT_NONE, NOW, &c); /* three idle loaded nodes */
	assert_int_equal(c.node, idle_loaded);
	rt_view_free(v);
}

static void
test_cold_backends(void **state)
{
	struct rt_view *v = rt_view_new();
	struct conf_model cm;
	uint32_t m, a, b;
	struct rt_cold c;

	memset(&cm, 0, sizeof(cm));
	snprintf(cm.name, sizeof(cm.name), "w");
	snprintf(cm.backend, sizeof(cm.backend), "whisper");
	cm.ram = GiB;
	cm.replicas_max = 1;
	m = rt_view_model_set(v, &cm);
	a = node(v, "a", 8 * GiB); /* llama only */
	b = node(v, "b", 4 * GiB);
	/* Not installed anywhere, not in the gallery: no node. */
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_NONE);
	/* Installable: any node, install flagged. */
	rt_view_backend_set(v, "whisper", 1, 0);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, a);
	assert_true(c.install);
	/* Installed on b: preferred over installing, other things equal. */
	{
		const char *be[] = {"whisper"};

		rt_view_node_set_backends(v, b, be, 1);
	}
	rt_view_node_heartbeat(v, b, 8 * GiB, 0, T0);
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, b);
	assert_false(c.install);
	/* A GPU-only backend never lands on a CPU node. */
	rt_view_backend_set(v, "whisper", 1, 1);
	rt_view_node_set_backends(v, b, NULL, 0);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_NONE);
	/* A node that does not install on request is out too. */
	rt_view_backend_set(v, "whisper", 1, 0);
	rt_view_node(v, a)->can_install = 0;
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, b);
	rt_view_free(v);
}

static void
test_cold_selector(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m, n[4], i;
	struct rt_cold c;
	char id[8];

	selector(v, "a", GiB, "gpu", "nvidia");
	m = rt_view_model_find(v, "a");
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "n%u", i);
		n[i] = node(v, id, (16 - i) * GiB);
		label(v, n[i], "gpu", i == 2 ? "nvidia" : "amd");
	}
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, n[2]);
	assert_int_equal(c.scanned, 1);
	/* Two labels: both must match. */
	{
		struct conf_label l[2] = {{"gpu", "nvidia"}, {"zone", "b"}};
		struct conf_model cm;

		memset(&cm, 0, sizeof(cm));
		snprintf(cm.name, sizeof(cm.name), "two");
		snprintf(cm.backend, sizeof(cm.backend), "llama");
		cm.n_selector = 2;
		memcpy(cm.selector, l, sizeof(l));
		m = rt_view_model_set(v, &cm);
		assert_int_equal(
		    rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_NONE);
		rt_view_node_set_labels(v, n[1], l, 2);
		assert_int_equal(
		    rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
		assert_int_equal(c.node, n[1]);
	}
	rt_view_free(v);
}

static void
test_cold_skips_unroutable(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), p, d, o, s;
	struct rt_cold c;

	p = rt_view_node_add(v, "pending", "pending", 0, 1000, T0);
	rt_view_node_heartbeat(v, p, 8 * GiB, 0, T0);
	d = node(v, "draining", 8 * GiB);
	rt_nodestate_drain(&rt_view_node(v, d)->state);
	o = node(v, "offline", 8 * GiB);
	rt_nodestate_set_offline(&rt_view_node(v, o)->state);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_NONE);
	/* A suspect node may recover: wait rather than fail. */
	s = node(v, "suspect", 8 * GiB);
	rt_nodestate_conn_failure(&rt_view_node(v, s)->state, &v->health, NOW);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_WAIT);
	/* Excluded (retry) is like absent. */
	rt_view_node_heartbeat(v, s, 8 * GiB, 0, NOW);
	rt_view_node_heartbeat(v, s, 8 * GiB, 0, NOW);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, s);
	assert_int_equal(rt_place_cold(v, m, s, NOW, &c), RT_COLD_NONE);
	rt_view_free(v);
}

/*
 * Two cold loads decided back to back, each reserving at decision time:
 * the second must not land on memory the first has taken, and a third
 * that fits nowhere waits instead of overcommitting.
 */
static void
test_cold_reservations(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t x = model(v, "x", 10 * GiB), y = model(v, "y", 10 * GiB);
	uint32_t z = model(v, "z", 10 * GiB), a, b, rx, ry, rz;
	struct rt_cold c;
	struct rt_warm w;

	a = node(v, "a", 16 * GiB);
	b = node(v, "b", 12 * GiB);
	rt_place_cold(v, x, RT_NONE, NOW, &c);
	assert_int_equal(c.node, a); /* more memory left */
	rx = rt_place_cold_commit(v, x, &c, NOW);
	assert_int_not_equal(rx, RT_NONE);
	assert_int_equal(rt_view_replica(v, rx)->state, RT_REPLICA_LOADING);
	assert_int_equal(
	    rt_view_node_available(v, a, RT_MEM_RAM), (int64_t)(6 * GiB));
	/* The same model again is loading: wait for it. */
	rt_place_warm(v, x, RT_NONE, NOW, &w);
	assert_int_equal(w.loading, 1);
	assert_false(w.cold);
	/* y: a has 6 GiB left once reserved, so b. */
	assert_int_equal(rt_place_cold(v, y, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, b);
	ry = rt_place_cold_commit(v, y, &c, NOW);
	assert_int_not_equal(ry, RT_NONE);
	/* z: nothing fits, the loading replicas cannot be evicted. */
	assert_int_equal(rt_place_cold(v, z, RT_NONE, NOW, &c), RT_COLD_WAIT);
	/* A failed load gives its memory back at once. */
	rt_view_replica_event(v, ry, RT_REPLICA_EV_FAILED, NOW);
	assert_int_equal(rt_place_cold(v, z, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, b);
	rz = rt_place_cold_commit(v, z, &c, NOW);
	assert_int_not_equal(rz, RT_NONE);
	/* x loads; the node reports the memory; the reservation retires. */
	rt_view_replica_event(v, rx, RT_REPLICA_EV_READY, NOW);
	rt_view_node_heartbeat(v, a, 6 * GiB, 0, NOW + 1);
	rt_view_node_heartbeat(v, a, 6 * GiB, 0, NOW + 2);
	assert_int_equal(
	    rt_view_node_available(v, a, RT_MEM_RAM), (int64_t)(6 * GiB));
	assert_int_equal(rt_view_node(v, a)->reserved[RT_MEM_RAM], 0);
	rt_view_free(v);
}

/*
 * A node whose report does not show its models (MemAvailable counts the
 * page cache a mmap()ed model lives in): once the reservation retires,
 * capacity minus the estimates of what it holds still bounds it.
 */
static void
test_cold_capacity_bound(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t x = model(v, "x", 10 * GiB), y = model(v, "y", 10 * GiB);
	uint32_t z = model(v, "z", 10 * GiB), a, b, rx, ry;
	struct rt_cold c;

	a = node(v, "a", 16 * GiB);
	b = node(v, "b", 16 * GiB);
	rt_place_cold(v, x, RT_NONE, NOW, &c);
	rx = rt_place_cold_commit(v, x, &c, NOW);
	assert_int_equal(c.node, a);
	rt_view_replica_event(v, rx, RT_REPLICA_EV_READY, NOW);
	/* The node still reports 16 GiB free: the reservation retires. */
	rt_view_node_heartbeat(v, a, 16 * GiB, 0, NOW + 1);
	rt_view_node_heartbeat(v, a, 16 * GiB, 0, NOW + 2);
	assert_int_equal(rt_view_node(v, a)->reserved[RT_MEM_RAM], 0);
	assert_int_equal(
	    rt_view_node_available(v, a, RT_MEM_RAM), (int64_t)(6 * GiB));
	/* y cannot join x on a. */
	assert_int_equal(rt_place_cold(v, y, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, b);
	ry = rt_place_cold_commit(v, y, &c, NOW);
	rt_view_replica_event(v, ry, RT_REPLICA_EV_READY, NOW);
	rt_view_replica(v, rx)->last_used = NOW - 100;
	rt_view_replica(v, ry)->last_used = NOW - 50;
	/* z: both full; evict the least recently used, x on a. */
	assert_int_equal(rt_place_cold(v, z, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.node, a);
	assert_int_equal(c.n_victims, 1);
	assert_int_equal(c.victims[0], rx);
	/* A failed replica holds nothing; removing one gives it back. */
	rt_view_node_heartbeat(v, b, 16 * GiB, 0, NOW + 1);
	rt_view_node_heartbeat(v, b, 16 * GiB, 0, NOW + 2);
	assert_int_equal(
	    rt_view_node_available(v, b, RT_MEM_RAM), (int64_t)(6 * GiB));
	rt_view_replica_event(v, ry, RT_REPLICA_EV_FAILED, NOW);
	assert_int_equal(
	    rt_view_node_available(v, b, RT_MEM_RAM), (int64_t)(16 * GiB));
	rt_view_replica_remove(v, rx);
	assert_int_equal(rt_view_node(v, a)->committed[RT_MEM_RAM], 0);
	rt_view_free(v);
}

static void
test_cold_evict_lru(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t big = model(v, "big", 6 * GiB), n, busy_node, r[4], i;
	uint32_t small[4];
	char name[8];
	struct rt_cold c;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		small[i] = model(v, name, 4 * GiB);
	}
	n = node(v, "n", 17 * GiB);
	busy_node = node(v, "busy", 8 * GiB);
	r[0] = ready(v, small[0], n, 300);
	r[1] = ready(v, small[1], n, 100);
	r[2] = ready(v, small[2], n, 200);
	r[3] = ready(v, small[3], n, 50);
	load(v, r[3], 1); /* oldest, but busy */
	load(v, ready(v, small[0], busy_node, 1), 1);
	rt_view_node_heartbeat(v, n, 1 * GiB, 0, T0);
	rt_view_node_heartbeat(v, busy_node, 1 * GiB, 0, T0);
	assert_int_equal(
	    rt_place_cold(v, big, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.node, n);
	assert_int_equal(c.n_victims, 2);
	assert_int_equal(c.victims[0], r[1]);
	assert_int_equal(c.victims[1], r[2]);
	/* Commit: victims leave routing, the new replica holds 6 GiB. */
	assert_int_not_equal(rt_place_cold_commit(v, big, &c, NOW), RT_NONE);
	assert_int_equal(rt_view_replica(v, r[1])->state, RT_REPLICA_STOPPING);
	assert_int_equal(rt_view_replica(v, r[2])->state, RT_REPLICA_STOPPING);
	assert_int_equal(rt_view_replica(v, r[0])->state, RT_REPLICA_READY);
	assert_int_equal(rt_view_node(v, n)->reserved[RT_MEM_RAM], 6 * GiB);
	/* Another big model: only r[0] is left (4 GiB): not enough. */
	{
		uint32_t big2 = model(v, "big2", 6 * GiB);

		assert_int_equal(
		    rt_place_cold(v, big2, RT_NONE, NOW, &c), RT_COLD_WAIT);
	}
	rt_view_free(v);
}

/* An eviction names only the victims it needs, never a 0-byte one. */
static void
test_cold_evict_minimal(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t want = model(v, "want", 6 * GiB), zero = model(v, "zero", 0);
	uint32_t tiny = model(v, "tiny", GiB), huge = model(v, "huge", 8 * GiB);
	uint32_t n, rz, rt, rh;
	struct rt_cold c;

	n = node(v, "n", 10 * GiB);
	rz = ready(v, zero, n, 10); /* oldest: frees nothing */
	rt = ready(v, tiny, n, 20); /* next: not needed once huge goes */
	rh = ready(v, huge, n, 30);
	rt_view_node_heartbeat(v, n, 1 * GiB, 0, T0);
	assert_int_equal(
	    rt_place_cold(v, want, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.n_victims, 1);
	assert_int_equal(c.victims[0], rh);
	rt_view_replica(v, rt)->last_used = 40; /* tiny first, then huge */
	rt_view_replica(v, rh)->last_used = 50;
	assert_int_equal(
	    rt_place_cold(v, want, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.n_victims, 1);
	assert_int_equal(c.victims[0], rh);
	assert_int_equal(rt_view_replica(v, rz)->state, RT_REPLICA_READY);
	rt_view_free(v);
}

static void
test_cold_evict_rules(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t big = model(v, "big", 6 * GiB), a, b, ra, rb, pinned;
	struct rt_cold c;

	pinned = model_full(v, "pinned", 8 * GiB, 0, 0, 1, 1);
	a = node(v, "a", 16 * GiB);
	b = node(v, "b", 16 * GiB);
	ra = ready(v, model(v, "ma", 8 * GiB), a, 500);
	rb = ready(v, model(v, "mb", 8 * GiB), b, 100);
	rt_view_node_heartbeat(v, a, 1 * GiB, 0, T0);
	rt_view_node_heartbeat(v, b, 1 * GiB, 0, T0);
	/* The least recently used victim wins, whatever the node. */
	assert_int_equal(
	    rt_place_cold(v, big, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.node, b);
	assert_int_equal(c.victims[0], rb);
	/* Busy replicas are never evicted. */
	load(v, rb, 1);
	rt_place_cold(v, big, RT_NONE, NOW, &c);
	assert_int_equal(c.node, a);
	assert_int_equal(c.victims[0], ra);
	/* Nor the last replicas a model must keep (replicas_min). */
	rt_view_replica_remove(v, ra);
	ready(v, pinned, a, 1);
	assert_int_equal(rt_place_cold(v, big, RT_NONE, NOW, &c), RT_COLD_WAIT);
	/* A model too big for any node is a plain no. */
	assert_int_equal(
	    rt_place_cold(v, model(v, "huge", 64 * GiB), RT_NONE, NOW, &c),
	    RT_COLD_NONE);
	rt_view_free(v);
}

static void
test_cold_evict_kind_and_health(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t gpu_model = model_full(v, "g", 2 * GiB, 8 * GiB, 0, 0, 1);
	uint32_t cpu_model = model_full(v, "c", 16 * GiB, 0, 0, 0, 1);
	uint32_t vram_user = model_full(v, "v", 2 * GiB, 6 * GiB, 0, 0, 1);
	uint32_t g, s, rv;
	struct rt_cold c;

	/* A GPU node whose VRAM is taken; its idle CPU model frees none. */
	g = node_full(v, "gpu", 1, 64 * GiB, 10 * GiB, 4);
	ready(v, cpu_model, g, 1);
	rt_view_node_heartbeat(v, g, 40 * GiB, 3 * GiB, T0);
	assert_int_equal(
	    rt_place_cold(v, gpu_model, RT_NONE, NOW, &c), RT_COLD_WAIT);
	/* An idle VRAM model does. */
	rv = ready(v, vram_user, g, 2);
	assert_int_equal(
	    rt_place_cold(v, gpu_model, RT_NONE, NOW, &c), RT_COLD_EVICT);
	assert_int_equal(c.n_victims, 1);
	assert_int_equal(c.victims[0], rv);
	assert_int_equal(c.mem, RT_MEM_VRAM);
	/* Never evict on a suspect node: it may be dead; wait instead. */
	s = g;
	rt_nodestate_conn_failure(&rt_view_node(v, s)->state, &v->health, NOW);
	assert_int_equal(
	    rt_place_cold(v, gpu_model, RT_NONE, NOW, &c), RT_COLD_WAIT);
	rt_view_free(v);
}

static void
test_cold_failed_backoff(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", GiB), a, b, r, r2;
	struct rt_cold c;

	a = node(v, "a", 16 * GiB);
	b = node(v, "b", 8 * GiB);
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, a);
	r = rt_place_cold_commit(v, m, &c, NOW);
	rt_view_replica_event(v, r, RT_REPLICA_EV_FAILED, NOW);
	/* The next request tries another node. */
	rt_place_cold(v, m, RT_NONE, NOW + 1, &c);
	assert_int_equal(c.node, b);
	/* After the backoff, a is a candidate again; the record is reused. */
	rt_view_node_heartbeat(v, a, 16 * GiB, 0, NOW + 30000);
	rt_view_node_heartbeat(v, b, 8 * GiB, 0, NOW + 30000);
	rt_place_cold(v, m, RT_NONE, NOW + 30000, &c);
	assert_int_equal(c.node, a);
	r2 = rt_place_cold_commit(v, m, &c, NOW + 30000);
	assert_int_equal(r2, r);
	assert_int_equal(rt_view_replica(v, r)->state, RT_REPLICA_LOADING);
	assert_int_equal(rt_view_node(v, a)->reserved[RT_MEM_RAM], GiB);
	assert_int_equal(rt_view_model(v, m)->replicas.n, 1);
	/* Nodes holding the model are not picked for another replica. */
	rt_view_replica_event(v, r, RT_REPLICA_EV_READY, NOW + 30001);
	rt_place_cold(v, m, RT_NONE, NOW + 30001, &c);
	assert_int_equal(c.node, b);
	c.status = RT_COLD_WAIT;
	errno = 0;
	assert_int_equal(rt_place_cold_commit(v, m, &c, NOW), RT_NONE);
	assert_int_equal(errno, EINVAL);
	rt_view_free(v);
}

/* ---- against a plain reference ---------------------------------------- */

/* place.h's cold rules written the obvious way: filter, then rank. */
/* Free minus reserved, bounded by capacity minus what replicas hold. */
static int64_t
ref_available(struct rt_view *v, uint32_t slot, enum rt_mem mem)
{
	const struct rt_node *n = rt_view_node(v, slot);
	const struct rt_replica *r;
	int64_t a, held = 0;
	uint32_t i;

	a = (int64_t)n->free[mem] - (int64_t)n->reserved[mem];
	for (i = 0; i < n->replicas.n; i++) {
		r = rt_view_replica(v, n->replicas.v[i]);
		if (r->state != RT_REPLICA_FAILED && r->mem == mem)
			held += (int64_t)r->mem_bytes;
	}
	if (n->total[mem] > 0 && (int64_t)n->total[mem] - held < a)
		a = (int64_t)n->total[mem] - held;
	return a;
}

static int
ref_candidate(struct rt_view *v, uint32_t model, uint32_t slot)
{
	const struct rt_model *m = rt_view_model(v, model);
	const struct rt_node *n = rt_view_node(v, slot);
	const struct rt_tag *t = &v->tags[m->backend_tag];
	uint32_t i, r;
	enum rt_mem mem;

	if (n == NULL || !rt_nodestate_routable(&n->state, &v->health, NOW))
		return 0;
	for (i = 0; i < m->n_selector; i++)
		if (!rt_slots_has(&n->labels, m->selector[i]))
			return 0;
	if (!rt_slots_has(&n->backends, m->backend_tag) &&
	    !(n->can_install && t->installable && (!t->gpu_only || n->has_gpu)))
		return 0;
	if ((r = rt_view_replica_find(v, model, slot)) != RT_NONE)
		return 0;
	mem = rt_view_model_mem(n, m);
	return ref_available(v, slot, mem) >= (int64_t)m->estimate[mem];
}

static int
ref_better(struct rt_view *v, uint32_t model, uint32_t a, uint32_t b)
{
	const struct rt_model *m = rt_view_model(v, model);
	const struct rt_node *x = rt_view_node(v, a), *y = rt_view_node(v, b);
	int cx = rt_slots_has(&x->files, m->file_tag);
	int cy = rt_slots_has(&y->files, m->file_tag);
	int ix = rt_slots_has(&x->backends, m->backend_tag);
	int iy = rt_slots_has(&y->backends, m->backend_tag);
	double lx = (double)x->inflight /
	            (x->max_concurrency ? x->max_concurrency : v->default_cap);
	double ly = (double)y->inflight /
	            (y->max_concurrency ? y->max_concurrency : v->default_cap);
	enum rt_mem mx = rt_view_model_mem(x, m), my = rt_view_model_mem(y, m);
	int64_t hx = (int64_t)x->free[mx] - (int64_t)x->reserved[mx] -
	             (int64_t)m->estimate[mx];
	int64_t hy = (int64_t)y->free[my] - (int64_t)y->reserved[my] -
	             (int64_t)m->estimate[my];

	if (cx != cy)
		return cx;
	if ((x->inflight == 0) != (y->inflight == 0))
		return x->inflight == 0;
	if ((x->n_loaded == 0) != (y->n_loaded == 0))
		return x->n_loaded == 0;
	if (lx != ly)
		return lx < ly;
	if (ix != iy)
		return ix;
	if (hx != hy)
		return hx > hy;
	return a < b;
}

/*
 * Random clusters (health, labels, backends, files, memory, load,
 * reservations, replicas): rt_place_cold() must pick exactly the node
 * the reference picks, whatever shortcuts (indexes, pruning) it takes.
 */
static void
test_cold_matches_reference(void **state)
{
	const char *zones[] = {"a", "b", "c"}, *be[] = {"llama", "whisper"};
	const char *files[] = {"m0.gguf", "m1.gguf", "m2.gguf"};
	uint32_t i, j, k, n, models[6], best, agreed = 0;
	struct rt_view *v;
	struct rt_cold c;
	char id[16];

	srand(7);
	for (k = 0; k < 40; k++) {
		v = rt_view_new();
		rt_view_backend_set(v, "whisper", 1, k % 2);
		for (j = 0; j < 6; j++) {
			snprintf(id, sizeof(id), "m%u", j);
			if (j >= 4)
				selector(v, id, (uint64_t)(rand() % 8) * GiB,
				    "zone", zones[j % 3]);
			else
				model_full(v, id, (uint64_t)(rand() % 8) * GiB,
				    (uint64_t)(rand() % 8) * GiB, 0, 0, 4);
			models[j] = rt_view_model_find(v, id);
		}
		for (i = 0; i < 200; i++) {
			snprintf(id, sizeof(id), "n%u", i);
			n = node_full(v, id, rand() % 2, 16 * GiB, 16 * GiB,
			    (uint32_t)(rand() % 8));
			rt_view_node_heartbeat(v, n,
			    (uint64_t)(rand() % 16) * GiB,
			    (uint64_t)(rand() % 16) * GiB, T0);
			label(v, n, "zone", zones[rand() % 3]);
			rt_view_node_set_backends(
			    v, n, be, (uint32_t)(rand() % 3));
			if (rand() % 4 == 0)
				rt_view_node_set_files(
				    v, n, &files[rand() % 3], 1);
			if (rand() % 10 == 0)
				rt_nodestate_drain(&rt_view_node(v, n)->state);
			if (rand() % 10 == 0)
				rt_nodestate_conn_failure(
				    &rt_view_node(v, n)->state, &v->health, T0);
			if (rand() % 5 == 0)
				rt_view_reserve(v, n, RT_MEM_RAM,
				    (uint64_t)(rand() % 4) * GiB);
			if (rand() % 3 == 0)
				load(v, ready(v, models[rand() % 6], n, 1),
				    rand() % 4);
		}
		for (j = 0; j < 6; j++) {
			best = RT_NONE;
			for (i = 0; i < 200; i++)
				if (ref_candidate(v, models[j], i) &&
				    (best == RT_NONE ||
				        ref_better(v, models[j], i, best)))
					best = i;
			rt_place_cold(v, models[j], RT_NONE, NOW, &c);
			if (best == RT_NONE) {
				assert_int_not_equal(c.status, RT_COLD_PLACE);
				continue;
			}
			assert_int_equal(c.status, RT_COLD_PLACE);
			assert_int_equal(c.node, best);
			agreed++;
		}
		rt_view_free(v);
	}
	/* The random clusters did exercise placements. */
	assert_true(agreed > 100);
}

/* ---- 10,000 nodes ----------------------------------------------------- */

static void
test_ten_thousand_nodes(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t m = model(v, "a", 12 * GiB), other = model(v, "o", GiB);
	uint32_t i, n, only = RT_NONE, rep = RT_NONE, sel;
	const char *files[] = {"a.gguf"};
	struct rt_cold c;
	struct rt_warm w;
	char id[16];

	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "n%05u", i);
		/* Only n09876 has room for 12 GiB. */
		n = node(v, id, i == 9876 ? 16 * GiB : 8 * GiB);
		label(v, n, "zone", i == 4242 ? "rare" : "common");
		if (i == 9876)
			only = n;
	}
	assert_int_equal(v->nodes.count, 10000);
	assert_int_equal(rt_place_cold(v, m, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, only);
	assert_int_equal(c.scanned, 10000);
	/* Selector: the one node in zone "rare". */
	selector(v, "sel", GiB, "zone", "rare");
	sel = rt_view_model_find(v, "sel");
	assert_int_equal(
	    rt_place_cold(v, sel, RT_NONE, NOW, &c), RT_COLD_PLACE);
	assert_int_equal(c.node, rt_view_node_find(v, "n04242"));
	assert_int_equal(c.scanned, 1);
	/* Files cached on one node: found through the index. */
	rt_view_node_set_files(v, rt_view_node_find(v, "n00007"), files, 1);
	rt_view_node_set_capacity(
	    v, rt_view_node_find(v, "n00007"), 0, 16 * GiB, 0, 4);
	rt_view_node_heartbeat(
	    v, rt_view_node_find(v, "n00007"), 16 * GiB, 0, T0);
	rt_place_cold(v, m, RT_NONE, NOW, &c);
	assert_int_equal(c.node, rt_view_node_find(v, "n00007"));
	assert_true(c.cached);
	/* Warm: a replica on every node, all busy but one. */
	for (i = 0; i < 10000; i++) {
		uint32_t r = ready(v, other, i, 1);

		if (i == 5555)
			rep = r;
		else
			load(v, r, 1);
	}
	assert_int_equal(rt_place_warm(v, other, RT_NONE, NOW, &w), RT_WARM_OK);
	assert_int_equal(w.replica, rep);
	assert_int_equal(w.ready, 10000);
	rt_view_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_warm_idle_first),
	    cmocka_unit_test(test_warm_relative_to_cap),
	    cmocka_unit_test(test_warm_node_limit),
	    cmocka_unit_test(test_warm_ties_most_recent),
	    cmocka_unit_test(test_warm_busy_and_scale_out),
	    cmocka_unit_test(test_warm_none),
	    cmocka_unit_test(test_warm_skips_unroutable),
	    cmocka_unit_test(test_warm_revision_selector_exclude),
	    cmocka_unit_test(test_warm_other_frontends),
	    cmocka_unit_test(test_cold_cached_first),
	    cmocka_unit_test(test_cold_gpu_vs_ram),
	    cmocka_unit_test(test_cold_order),
	    cmocka_unit_test(test_cold_backends),
	    cmocka_unit_test(test_cold_selector),
	    cmocka_unit_test(test_cold_skips_unroutable),
	    cmocka_unit_test(test_cold_reservations),
	    cmocka_unit_test(test_cold_capacity_bound),
	    cmocka_unit_test(test_cold_evict_lru),
	    cmocka_unit_test(test_cold_evict_minimal),
	    cmocka_unit_test(test_cold_evict_rules),
	    cmocka_unit_test(test_cold_evict_kind_and_health),
	    cmocka_unit_test(test_cold_failed_backoff),
	    cmocka_unit_test(test_cold_matches_reference),
	    cmocka_unit_test(test_ten_thousand_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
