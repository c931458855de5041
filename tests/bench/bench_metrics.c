/*
 * Metrics costs (proto/metrics.c), in the shapes the frontend has:
 *	- one counter update and one histogram observation on an existing
 *	  series (the per-request cost in an api process);
 *	- an api process's snapshot (20 models: 122 series) and its merge;
 *	- a scrape: reset a registry, merge 8 api snapshots, set the
 *	  cluster gauges of 200 nodes and 20 models, render the text.
 * Prints the best of 5 rounds (the machine is shared).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/metrics.h"

static uint64_t
nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
fill_api(struct metrics *m)
{
	char name[32];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "model-%d", i);
		metrics_add(m, MET_REQUESTS_TOTAL,
		    METRICS_L(name, METRICS_ENDPOINT_CHAT, "200"), 100);
		metrics_add(m, MET_REQUESTS_TOTAL,
		    METRICS_L(name, METRICS_ENDPOINT_CHAT, "503"), 1);
		metrics_observe(m, MET_REQUEST_DURATION, METRICS_L(name), 0.4);
		metrics_observe(
		    m, MET_TIME_TO_FIRST_TOKEN, METRICS_L(name), 0.05);
		metrics_add(m, MET_TOKENS_GENERATED, METRICS_L(name), 1000);
		metrics_set(m, MET_REQUESTS_IN_FLIGHT, METRICS_L(name), 1);
	}
	metrics_inc(m, MET_FAILOVERS, NULL);
	metrics_inc(m, MET_RETRIES, METRICS_L(METRICS_RETRY_CONNECT));
}

static void
cluster_gauges(struct metrics *m)
{
	static const char *kinds[] = {METRICS_MEM_RAM, METRICS_MEM_VRAM};
	static const char *states[] = {
	    METRICS_MEM_USED, METRICS_MEM_RESERVED, METRICS_MEM_FREE};
	char node[32], model[32];
	int i, k, s;

	for (i = 0; i < 200; i++) {
		snprintf(node, sizeof(node), "node-%03d", i);
		metrics_set(m, MET_NODE_IN_FLIGHT, METRICS_L(node), i % 7);
		metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L(node), 0.5);
		for (k = 0; k < 2; k++)
			for (s = 0; s < 3; s++)
				metrics_set(m, MET_NODE_MEMORY,
				    METRICS_L(node, kinds[k], states[s]), 1e9);
	}
	for (i = 0; i < 20; i++) {
		snprintf(model, sizeof(model), "model-%d", i);
		metrics_set(m, MET_REPLICAS,
		    METRICS_L(model, METRICS_REPLICA_READY), 3);
		metrics_set(m, MET_QUEUE_LENGTH, METRICS_L(model), 0);
	}
	metrics_set(m, MET_NODES, METRICS_L(METRICS_NODE_HEALTHY), 200);
}

static unsigned
series_total(const struct metrics *m)
{
	unsigned n = 0;
	int id;

	for (id = 0; id < METRIC_COUNT; id++)
		n += metrics_series_count(m, id);
	return n;
}

int
main(void)
{
	struct metrics *api = metrics_new(), *scrape = metrics_new();
	struct metrics_snap *snap = malloc(sizeof(*snap));
	uint64_t t0, best[5] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
	                 UINT64_MAX};
	size_t len = 0;
	char *text;
	int r, i, n = 1000000;

	if (api == NULL || scrape == NULL || snap == NULL)
		return 1;
	fill_api(api);
	for (r = 0; r < 5; r++) {
		t0 = nsec();
		for (i = 0; i < n; i++)
			metrics_inc(api, MET_REQUESTS_TOTAL,
			    METRICS_L("model-7", METRICS_ENDPOINT_CHAT, "200"));
		if (nsec() - t0 < best[0])
			best[0] = nsec() - t0;
		t0 = nsec();
		for (i = 0; i < n; i++)
			metrics_observe(api, MET_REQUEST_DURATION,
			    METRICS_L("model-7"), 0.3);
		if (nsec() - t0 < best[1])
			best[1] = nsec() - t0;
		t0 = nsec();
		for (i = 0; i < 1000; i++)
			metrics_snapshot(api, snap);
		if (nsec() - t0 < best[2])
			best[2] = nsec() - t0;
		t0 = nsec();
		metrics_reset(scrape);
		for (i = 0; i < 8; i++)
			metrics_merge(scrape, snap, 0);
		cluster_gauges(scrape);
		text = metrics_render(scrape, &len);
		free(text);
		if (nsec() - t0 < best[3])
			best[3] = nsec() - t0;
	}
	printf("counter update (existing series)   %6.0f ns\n",
	    (double)best[0] / n);
	printf("histogram observation              %6.0f ns\n",
	    (double)best[1] / n);
	printf("api snapshot (%u series, %zu B)  %6.1f us\n", snap->nseries,
	    sizeof(*snap), (double)best[2] / 1000 / 1000);
	printf("scrape: 8 snapshots + 200 nodes, render (%u series, %zu B "
	       "of text)  %.2f ms\n",
	    series_total(scrape), len, (double)best[3] / 1e6);
	metrics_free(api);
	metrics_free(scrape);
	free(snap);
	return 0;
}
