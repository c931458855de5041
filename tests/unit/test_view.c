/*
 * Unit tests for the router's cluster view (router/view.c, inflight.c,
 * map.c): exact in-flight accounting, other frontends' snapshots and
 * their expiry, reservations and their retirement by heartbeats, replica
 * states and their effect on memory, tag indexes, and the hash map.
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

#include "router/view.h"

#define GiB (1024ULL * 1024 * 1024)

static uint32_t
add_node(struct rt_view *v, const char *id, uint64_t free_ram)
{
	char name[64];
	uint32_t s;

	snprintf(name, sizeof(name), "host-%s", id);
	s = rt_view_node_add(v, id, name, 1, 1000, 0);
	assert_int_not_equal(s, RT_NONE);
	rt_view_node_set_capacity(v, s, 0, free_ram, 0, 4);
	rt_view_node_heartbeat(v, s, free_ram, 0, 0);
	return s;
}

static uint32_t
add_model(struct rt_view *v, const char *name, uint64_t ram)
{
	struct conf_model c;
	uint32_t s;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.backend, sizeof(c.backend), "llama");
	snprintf(c.model, sizeof(c.model), "%s.gguf", name);
	c.ram = ram;
	c.replicas_max = 1;
	c.revision = 7;
	s = rt_view_model_set(v, &c);
	assert_int_not_equal(s, RT_NONE);
	return s;
}

static void
test_map(void **state)
{
	struct rt_map m;
	char key[32];
	int i;

	rt_map_init(&m);
	assert_int_equal(rt_map_gets(&m, "x"), RT_NONE);
	assert_int_equal(rt_map_dels(&m, "x"), -1);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(rt_map_puts(&m, key, (uint32_t)i), 0);
	}
	/* Delete every third key; the rest must still be found. */
	for (i = 0; i < 5000; i += 3) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(rt_map_dels(&m, key), 0);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(
		    rt_map_gets(&m, key), i % 3 == 0 ? RT_NONE : (uint32_t)i);
	}
	assert_int_equal(m.count, 5000 - 1667);
	assert_int_equal(rt_map_puts(&m, "k1", 99), 0);
	assert_int_equal(rt_map_gets(&m, "k1"), 99);
	assert_int_equal(m.count, 5000 - 1667);
	rt_map_free(&m);
}

static void
test_node_ids_unique(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t a;

	a = rt_view_node_add(v, "n1", "alpha", 0, 0, 0);
	assert_int_not_equal(a, RT_NONE);
	errno = 0;
	assert_int_equal(rt_view_node_add(v, "n1", "beta", 0, 0, 0), RT_NONE);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(rt_view_node_add(v, "n2", "alpha", 0, 0, 0), RT_NONE);
	assert_int_equal(rt_view_node_find(v, "n1"), a);
	assert_int_equal(rt_view_node_find_name(v, "alpha"), a);
	rt_view_node_remove(v, a);
	assert_int_equal(rt_view_node_find(v, "n1"), RT_NONE);
	assert_null(rt_view_node(v, a));
	/* The slot is reused for the next node. */
	assert_int_equal(rt_view_node_add(v, "n3", "alpha", 0, 0, 0), a);
	rt_view_free(v);
}

static void
test_inflight_exactly_once(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), m = add_model(v, "a", GiB);
	uint32_t r, got;

	r = rt_view_replica_add(v, m, n, RT_REPLICA_READY, 7, "h:1", 0);
	assert_int_equal(rt_view_inflight_add(v, 1, "req-1", r, 10), 0);
	assert_int_equal(rt_view_inflight_add(v, 1, "req-2", r, 11), 0);
	/* Same id from another api process is another request. */
	assert_int_equal(rt_view_inflight_add(v, 2, "req-1", r, 12), 0);
	errno = 0;
	assert_int_equal(rt_view_inflight_add(v, 1, "req-1", r, 13), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(rt_view_replica(v, r)->own, 3);
	assert_int_equal(rt_view_node(v, n)->inflight, 3);
	assert_int_equal(rt_view_replica(v, r)->last_used, 12);

	assert_int_equal(rt_view_inflight_done(v, 1, "req-1", 20, &got), 0);
	assert_int_equal(got, r);
	errno = 0;
	assert_int_equal(rt_view_inflight_done(v, 1, "req-1", 21, &got), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rt_view_replica(v, r)->own, 2);
	assert_int_equal(rt_view_node(v, n)->inflight, 2);
	assert_int_equal(rt_view_inflight_count(v), 2);

	/* The api process 1 dies: its requests end, api 2's do not. */
	assert_int_equal(rt_view_inflight_release_owner(v, 1, 30), 1);
	assert_int_equal(rt_view_replica(v, r)->own, 1);
	assert_int_equal(rt_view_inflight_done(v, 2, "req-1", 31, NULL), 0);
	assert_int_equal(rt_view_replica(v, r)->own, 0);
	assert_int_equal(rt_view_node(v, n)->inflight, 0);
	assert_int_equal(rt_view_inflight_count(v), 0);
	errno = 0;
	assert_int_equal(rt_view_inflight_add(v, 1, "x", 999, 0), -1);
	assert_int_equal(errno, EINVAL);
	rt_view_free(v);
}

static void
test_inflight_replica_removed(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), a = add_model(v, "a", GiB);
	uint32_t b = add_model(v, "b", GiB), r, r2, got;

	r = rt_view_replica_add(v, a, n, RT_REPLICA_READY, 7, "h:1", 0);
	assert_int_equal(rt_view_inflight_add(v, 1, "q", r, 1), 0);
	rt_view_replica_remove(v, r);
	assert_int_equal(rt_view_node(v, n)->inflight, 0);
	/* The slot is reused by another replica before the DONE arrives. */
	r2 = rt_view_replica_add(v, b, n, RT_REPLICA_READY, 7, "h:2", 2);
	assert_int_equal(r2, r);
	assert_int_equal(rt_view_inflight_add(v, 1, "q2", r2, 3), 0);
	assert_int_equal(rt_view_inflight_done(v, 1, "q", 4, &got), 0);
	assert_int_equal(got, RT_NONE);
	assert_int_equal(rt_view_replica(v, r2)->own, 1);
	assert_int_equal(rt_view_node(v, n)->inflight, 1);
	rt_view_free(v);
}

static void
test_snapshots_and_expiry(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), m = add_model(v, "a", GiB);
	uint32_t m2 = add_model(v, "b", GiB), r, r2;
	struct rt_snap_entry e[2];

	r = rt_view_replica_add(v, m, n, RT_REPLICA_READY, 7, "h:1", 0);
	r2 = rt_view_replica_add(v, m2, n, RT_REPLICA_READY, 7, "h:2", 0);
	e[0].replica = r;
	e[0].inflight = 3;
	e[1].replica = r2;
	e[1].inflight = 1;
	assert_int_equal(rt_view_snapshot_apply(v, "fe-b", e, 2, 1000), 0);
	assert_int_equal(rt_view_replica_inflight(v, r), 3);
	assert_int_equal(rt_view_node(v, n)->inflight, 4);
	/* A second frontend adds up; a new snapshot replaces the old. */
	e[0].inflight = 2;
	assert_int_equal(rt_view_snapshot_apply(v, "fe-c", e, 1, 1500), 0);
	assert_int_equal(rt_view_replica_inflight(v, r), 5);
	e[0].inflight = 1;
	assert_int_equal(rt_view_snapshot_apply(v, "fe-b", e, 1, 1200), 0);
	assert_int_equal(rt_view_replica_inflight(v, r), 3);
	assert_int_equal(rt_view_replica_inflight(v, r2), 0);
	assert_int_equal(rt_view_node(v, n)->inflight, 3);
	/* fe-b stops publishing: its count goes at its expiry, not before. */
	rt_view_snapshot_expire(v, 1199);
	assert_int_equal(rt_view_replica_inflight(v, r), 3);
	rt_view_snapshot_expire(v, 1200);
	assert_int_equal(rt_view_replica_inflight(v, r), 2);
	rt_view_snapshot_drop(v, "fe-c");
	assert_int_equal(rt_view_replica_inflight(v, r), 0);
	assert_int_equal(rt_view_node(v, n)->inflight, 0);
	assert_int_equal(v->next_expiry, UINT64_MAX);
	rt_view_free(v);
}

static void
test_snapshot_of_removed_replica(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), a = add_model(v, "a", GiB);
	uint32_t b = add_model(v, "b", GiB), r, r2;
	struct rt_snap_entry e = {0, 4};

	r = rt_view_replica_add(v, a, n, RT_REPLICA_READY, 7, "h:1", 0);
	e.replica = r;
	rt_view_snapshot_apply(v, "fe-b", &e, 1, 1000);
	rt_view_replica_remove(v, r);
	r2 = rt_view_replica_add(v, b, n, RT_REPLICA_READY, 7, "h:2", 0);
	assert_int_equal(r2, r);
	assert_int_equal(rt_view_replica_inflight(v, r2), 0);
	/* Expiry of the old entry must not touch the new replica. */
	rt_view_inflight_add(v, 1, "q", r2, 5);
	e.inflight = 4;
	rt_view_snapshot_apply(v, "fe-c", &e, 1, 5000);
	assert_int_equal(rt_view_replica_inflight(v, r2), 5);
	rt_view_snapshot_expire(v, 1000);
	assert_int_equal(rt_view_replica_inflight(v, r2), 5);
	assert_int_equal(rt_view_node(v, n)->inflight, 5);
	rt_view_snapshot_drop(v, "fe-c");
	assert_int_equal(rt_view_node(v, n)->inflight, 1);
	/* Entries naming no replica are ignored. */
	e.replica = 12345;
	assert_int_equal(rt_view_snapshot_apply(v, "fe-b", &e, 1, 2000), 0);
	assert_int_equal(rt_view_node(v, n)->inflight, 1);
	rt_view_free(v);
}

static void
test_own_snapshot(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), a = add_model(v, "a", GiB);
	uint32_t b = add_model(v, "b", GiB), ra, rb;
	struct rt_snap_entry out[4];

	ra = rt_view_replica_add(v, a, n, RT_REPLICA_READY, 7, "h:1", 0);
	rb = rt_view_replica_add(v, b, n, RT_REPLICA_READY, 7, "h:2", 0);
	assert_false(rt_view_own_dirty(v));
	rt_view_inflight_add(v, 1, "q1", ra, 1);
	rt_view_inflight_add(v, 1, "q2", ra, 1);
	rt_view_inflight_add(v, 1, "q3", rb, 1);
	assert_true(rt_view_own_dirty(v));
	/* Too small an array: the count, and still dirty. */
	assert_int_equal(rt_view_own_snapshot(v, out, 1), 2);
	assert_true(rt_view_own_dirty(v));
	assert_int_equal(rt_view_own_snapshot(v, out, 4), 2);
	assert_false(rt_view_own_dirty(v));
	assert_int_equal(out[0].replica, ra);
	assert_int_equal(out[0].inflight, 2);
	assert_int_equal(out[1].replica, rb);
	assert_int_equal(out[1].inflight, 1);
	/* Other frontends' counts are not ours to publish. */
	out[0].inflight = 9;
	rt_view_snapshot_apply(v, "fe-b", out, 1, 100);
	rt_view_inflight_done(v, 1, "q3", 2, NULL);
	assert_true(rt_view_own_dirty(v));
	assert_int_equal(rt_view_own_snapshot(v, out, 4), 1);
	assert_int_equal(out[0].inflight, 2);
	/* A replica with our requests on it goes: publish its absence. */
	assert_false(rt_view_own_dirty(v));
	rt_view_replica_remove(v, ra);
	assert_true(rt_view_own_dirty(v));
	assert_int_equal(rt_view_own_snapshot(v, out, 4), 0);
	rt_view_free(v);
}

static void
test_reservations(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 16 * GiB);
	uint64_t h1, h2;

	h1 = rt_view_reserve(v, n, RT_MEM_RAM, 6 * GiB);
	h2 = rt_view_reserve(v, n, RT_MEM_RAM, 4 * GiB);
	assert_true(h1 != 0 && h2 != 0 && h1 != h2);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(6 * GiB));
	assert_int_equal(rt_view_release(v, h1), 0);
	assert_int_equal(rt_view_release(v, h1), -1); /* double release */
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(12 * GiB));
	/* Settled: still counted until two heartbeats have passed. */
	assert_int_equal(rt_view_settle(v, h2), 0);
	rt_view_node_heartbeat(v, n, 12 * GiB, 0, 100);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(8 * GiB));
	rt_view_node_heartbeat(v, n, 12 * GiB, 0, 1100);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(12 * GiB));
	assert_int_equal(rt_view_release(v, h2), -1);
	assert_int_equal(rt_view_node(v, n)->n_settled, 0);
	assert_int_equal(rt_view_reserve(v, 999, RT_MEM_RAM, 1), 0);
	rt_view_free(v);
}

static void
test_replica_states_and_memory(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 16 * GiB),
	         m = add_model(v, "a", 5 * GiB);
	uint32_t r;

	r = rt_view_replica_add(v, m, n, RT_REPLICA_LOADING, 7, NULL, 0);
	assert_int_equal(rt_view_node(v, n)->n_loaded, 1);
	assert_int_equal(rt_view_replica_reserve(v, r, 5 * GiB), 0);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(11 * GiB));
	/* Failed load: reservation released, node counts no model. */
	assert_int_equal(
	    rt_view_replica_event(v, r, RT_REPLICA_EV_FAILED, 5), 1);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(16 * GiB));
	assert_int_equal(rt_view_node(v, n)->n_loaded, 0);
	/* Retry: reserved again while loading. */
	rt_view_replica_event(v, r, RT_REPLICA_EV_LOADING, 6);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(11 * GiB));
	/* Ready: settled, retired once heartbeats show the memory used. */
	rt_view_replica_event(v, r, RT_REPLICA_EV_READY, 7);
	assert_int_equal(rt_view_replica(v, r)->reservation, 0);
	rt_view_node_heartbeat(v, n, 11 * GiB, 0, 8);
	rt_view_node_heartbeat(v, n, 11 * GiB, 0, 9);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(11 * GiB));
	/* Backend crash and restart: its memory is held meanwhile. */
	rt_view_replica_event(v, r, RT_REPLICA_EV_LOADING, 10);
	rt_view_node_heartbeat(v, n, 16 * GiB, 0, 11);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(11 * GiB));
	/* Stop: terminal, a late ready does not bring it back. */
	rt_view_replica_event(v, r, RT_REPLICA_EV_STOP, 12);
	assert_int_equal(
	    rt_view_replica_event(v, r, RT_REPLICA_EV_READY, 13), 0);
	assert_int_equal(rt_view_replica(v, r)->state, RT_REPLICA_STOPPING);
	assert_int_equal(rt_view_node(v, n)->n_loaded, 0);
	rt_view_replica_remove(v, r);
	assert_int_equal(
	    rt_view_node_available(v, n, RT_MEM_RAM), (int64_t)(16 * GiB));
	assert_int_equal(rt_view_node(v, n)->replicas.n, 0);
	assert_int_equal(rt_view_model(v, m)->replicas.n, 0);
	rt_view_free(v);
}

static void
test_replica_lookup(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n1 = add_node(v, "n1", 8 * GiB), n2 = add_node(v, "n2", GiB);
	uint32_t m = add_model(v, "a", GiB), r1, r2;

	r1 = rt_view_replica_add(v, m, n1, RT_REPLICA_READY, 7, "h:1", 0);
	r2 = rt_view_replica_add(v, m, n2, RT_REPLICA_READY, 7, "h:2", 0);
	errno = 0;
	assert_int_equal(
	    rt_view_replica_add(v, m, n1, RT_REPLICA_READY, 7, "h:3", 0),
	    RT_NONE);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(rt_view_replica_find(v, m, n2), r2);
	assert_int_equal(rt_view_replica_set_id(v, r1, 42), 0);
	assert_int_equal(rt_view_replica_find_id(v, 42), r1);
	assert_string_equal(rt_view_replica(v, r1)->address, "h:1");
	rt_view_replica_set_address(v, r1, "h:9", 8);
	assert_string_equal(rt_view_replica(v, r1)->address, "h:9");
	assert_int_equal(rt_view_replica(v, r1)->revision, 8);
	/* Removing a node takes its replicas along, and their ids. */
	rt_view_node_remove(v, n1);
	assert_int_equal(rt_view_replica_find_id(v, 42), RT_NONE);
	assert_null(rt_view_replica(v, r1));
	assert_int_equal(rt_view_model(v, m)->replicas.n, 1);
	assert_int_equal(rt_view_model(v, m)->replicas.v[0], r2);
	assert_int_equal(rt_view_replica(v, r2)->model_pos, 0);
	rt_view_model_remove(v, m);
	assert_null(rt_view_replica(v, r2));
	assert_int_equal(rt_view_model_find(v, "a"), RT_NONE);
	rt_view_free(v);
}

static void
test_cap(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t n = add_node(v, "n1", 8 * GiB), m = add_model(v, "a", GiB);
	struct conf_model c;
	uint32_t r;

	r = rt_view_replica_add(v, m, n, RT_REPLICA_READY, 7, "h:1", 0);
	assert_int_equal(rt_view_replica_cap(v, r), 4); /* the node's */
	rt_view_node(v, n)->max_concurrency = 0;
	assert_int_equal(rt_view_replica_cap(v, r), 1); /* default */
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "a");
	snprintf(c.backend, sizeof(c.backend), "llama");
	c.max_concurrency = 3;
	assert_int_equal(rt_view_model_set(v, &c), m);
	assert_int_equal(rt_view_replica_cap(v, r), 3); /* the model's */
	rt_view_free(v);
}

/* Each tag's node list holds exactly the nodes that carry the tag. */
static void
test_tag_index(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t a = add_node(v, "a", GiB), b = add_node(v, "b", GiB);
	struct conf_label l[2] = {{"zone", "x"}, {"gpu", "nvidia"}};
	const char *be[] = {"llama", "whisper", "llama"};
	uint32_t zx, gpu, llama;

	assert_int_equal(rt_view_node_set_labels(v, a, l, 2), 0);
	assert_int_equal(rt_view_node_set_labels(v, b, l, 1), 0);
	zx = rt_map_gets(&v->tag_names, "l:zone=x");
	gpu = rt_map_gets(&v->tag_names, "l:gpu=nvidia");
	assert_int_equal(v->tags[zx].nodes.n, 2);
	assert_int_equal(v->tags[gpu].nodes.n, 1);
	assert_int_equal(rt_view_node(v, a)->labels.n, 2);
	/* Same labels again: nothing moves. */
	assert_int_equal(rt_view_node_set_labels(v, a, l, 2), 0);
	assert_int_equal(v->tags[zx].nodes.n, 2);
	/* Replace: a loses zone=x. */
	assert_int_equal(rt_view_node_set_labels(v, a, &l[1], 1), 0);
	assert_int_equal(v->tags[zx].nodes.n, 1);
	assert_int_equal(v->tags[zx].nodes.v[0], b);
	/* Duplicates collapse. */
	assert_int_equal(rt_view_node_set_backends(v, a, be, 3), 0);
	llama = rt_map_gets(&v->tag_names, "b:llama");
	assert_int_equal(rt_view_node(v, a)->backends.n, 2);
	assert_int_equal(v->tags[llama].nodes.n, 1);
	rt_view_node_remove(v, a);
	assert_int_equal(v->tags[llama].nodes.n, 0);
	assert_int_equal(v->tags[gpu].nodes.n, 0);
	rt_view_free(v);
}

static void
test_model_config(void **state)
{
	struct rt_view *v = rt_view_new();
	struct conf_model c;
	struct rt_model *m;
	uint32_t s;
	int i;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "qwen");
	snprintf(c.backend, sizeof(c.backend), "llama");
	snprintf(c.model, sizeof(c.model), "qwen.gguf");
	c.have_sha256 = 1;
	for (i = 0; i < CONF_SHA256_LEN; i++)
		c.sha256[i] = (uint8_t)(i * 7);
	c.ram = 3 * GiB;
	c.vram = 2 * GiB;
	c.n_selector = 1;
	snprintf(c.selector[0].key, sizeof(c.selector[0].key), "zone");
	snprintf(c.selector[0].value, sizeof(c.selector[0].value), "x");
	c.revision = 99;
	s = rt_view_model_set(v, &c);
	m = rt_view_model(v, s);
	assert_non_null(m);
	assert_int_equal(m->estimate[RT_MEM_RAM], 3 * GiB);
	assert_int_equal(m->estimate[RT_MEM_VRAM], 2 * GiB);
	assert_int_equal(m->file_tag,
	    rt_map_gets(&v->tag_names, "f:"
	                               "00070e151c232a31383f464d545b626970777e8"
	                               "58c939aa1a8afb6bdc4cbd2d9"));
	assert_int_equal(
	    m->selector[0], rt_map_gets(&v->tag_names, "l:zone=x"));
	assert_int_equal(rt_view_model_find(v, "qwen"), s);
	/* Without a digest, the file name is the key. */
	c.have_sha256 = 0;
	assert_int_equal(rt_view_model_set(v, &c), s);
	assert_int_equal(
	    m->file_tag, rt_map_gets(&v->tag_names, "f:qwen.gguf"));
	c.name[0] = '\0';
	assert_int_equal(rt_view_model_set(v, &c), RT_NONE);
	rt_view_free(v);
}

static void
health_cb(void *arg, uint32_t node, enum rt_health_change ch)
{
	uint32_t *seen = arg;

	if (ch == RT_HEALTH_OFFLINE)
		seen[node]++;
}

static void
test_health_check_scan(void **state)
{
	struct rt_view *v = rt_view_new();
	uint32_t a = add_node(v, "a", GiB), b = add_node(v, "b", GiB);
	uint32_t seen[2] = {0, 0};

	rt_view_node_heartbeat(v, b, GiB, 0, 4000);
	rt_view_health_check(v, 5001, health_cb, seen);
	assert_int_equal(seen[a], 1);
	assert_int_equal(seen[b], 0);
	rt_view_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_map),
	    cmocka_unit_test(test_node_ids_unique),
	    cmocka_unit_test(test_inflight_exactly_once),
	    cmocka_unit_test(test_inflight_replica_removed),
	    cmocka_unit_test(test_snapshots_and_expiry),
	    cmocka_unit_test(test_snapshot_of_removed_replica),
	    cmocka_unit_test(test_own_snapshot),
	    cmocka_unit_test(test_reservations),
	    cmocka_unit_test(test_replica_states_and_memory),
	    cmocka_unit_test(test_replica_lookup),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_tag_index),
	    cmocka_unit_test(test_model_config),
	    cmocka_unit_test(test_health_check_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
