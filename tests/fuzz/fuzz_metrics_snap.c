/*
 * libFuzzer target for metrics snapshots received over IPC
 * (proto/metrics.c): metrics_snap_valid() must refuse whatever is unsafe
 * to merge, and whatever it accepts must merge and render without a
 * sanitizer report.  The input is laid over a valid snapshot, so that
 * mutations explore near-valid payloads, not only bad magic numbers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct metrics_snap base;
static int have_base;

/* A valid snapshot with every kind of metric in it. */
static void
make_base(void)
{
	struct metrics *m = metrics_new();

	metrics_inc(m, MET_REQUESTS_TOTAL, METRICS_L("m", "chat", "200"));
	metrics_observe(m, MET_REQUEST_DURATION, METRICS_L("m"), 0.5);
	metrics_set(m, MET_REQUESTS_IN_FLIGHT, METRICS_L("m"), 2);
	metrics_inc(m, MET_FAILOVERS, NULL);
	metrics_snapshot(m, &base);
	metrics_free(m);
	have_base = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_snap *s;
	struct metrics *m;
	char *text;
	size_t len;

	if (!have_base)
		make_base();
	if ((s = malloc(sizeof(*s))) == NULL)
		return 0;
	memcpy(s, &base, sizeof(*s));
	memcpy(s, data, size < sizeof(*s) ? size : sizeof(*s));
	if (metrics_snap_valid(s)) {
		m = metrics_new();
		if (m != NULL && metrics_merge(m, s, 0) == 0 &&
		    (text = metrics_render(m, &len)) != NULL)
			free(text);
		metrics_free(m);
	}
	free(s);
	return 0;
}
