/*
 * Prometheus metrics: counters, gauges and histograms with bounded label
 * sets (proto/metrics_catalog.h), rendered in the text exposition format
 * 0.0.4, and fixed-size snapshots that carry one process's metrics to
 * another over IPC so they can be summed.  Pure: no I/O, no clock, no
 * locking (each process updates its own registry from its own loop).
 *
 * How a frontend shows every api process in one scrape:
 *	api	 metrics_snapshot() into a struct metrics_snap and send it to
 *		 the router (one fixed-size IPC payload, <= 16 KiB) every
 *		 second and when the router asks;
 *	router	 keeps the latest snapshot of each api process; on a scrape,
 *		 metrics_reset() a scratch registry, metrics_merge_registry()
 *		 its own, metrics_merge() every api snapshot, sets the cluster
 *		 gauges from its view, metrics_render() and answers.
 * Merging sums: counters, histograms and gauges alike (in-flight per model
 * is the sum over api processes).  When an api process dies, the router
 * merges its last snapshot into a "retired" registry with
 * METRICS_MERGE_NO_GAUGES, so counters stay monotonic across restarts.
 */
#ifndef LOCALAI_METRICS_H
#define LOCALAI_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/metrics_catalog.h"

/* Label values are cut to this many bytes (at a UTF-8 boundary). */
#define METRICS_LABEL_MAX 64

/* Label values in catalogue order: METRICS_L(model, "chat", "200"). */
#define METRICS_L(...) ((const char *const[]){__VA_ARGS__})

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* Forget every series (the registry keeps its memory). */
void metrics_reset(struct metrics *m);
const struct metric_def *metrics_def(enum metric_id id);

/*
 * Updates.  labels holds the metric's nlabels values (NULL when it has
 * none); a NULL value is "".  Each returns 0, or -1 when the call does
 * not fit the metric (wrong type, counter decreasing, NaN, bad id) or
 * memory ran out; a new combination beyond max_series lands in the
 * overflow series and is not an error.
 *	metrics_add	counter: += v (v >= 0); gauge: += v
 *	metrics_set	gauge: = v
 *	metrics_observe	histogram: one observation of v
 */
int metrics_add(
    struct metrics *m, enum metric_id id, const char *const *labels, double v);
int metrics_set(
    struct metrics *m, enum metric_id id, const char *const *labels, double v);
int metrics_observe(
    struct metrics *m, enum metric_id id, const char *const *labels, double v);
#define metrics_inc(m, id, labels) metrics_add((m), (id), (labels), 1)

/*
 * Read one series: *value is the counter or gauge value (for histograms
 * the sum of observations) and *count, when not NULL, the number of
 * observations (histograms) or 0.  Returns 0, or -1 when absent.
 */
int metrics_get(const struct metrics *m, enum metric_id id,
    const char *const *labels, double *value, uint64_t *count);
/* Number of series stored for id (the overflow series included). */
uint32_t metrics_series_count(const struct metrics *m, enum metric_id id);

/*
 * The exposition text (format 0.0.4): every catalogue metric in catalogue
 * order with its # HELP and # TYPE lines, series sorted by label values.
 * Metrics without labels always show (0 until updated); labelled ones
 * show their series.  Returns a malloc'd NUL-terminated string and its
 * length in *len, or NULL when memory ran out.
 */
char *metrics_render(const struct metrics *m, size_t *len);
/* Mime type to send with it. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Snapshot: a fixed-size struct, sent as is (the receiver checks the
 * exact size, then metrics_snap_valid()).  Series are 16 bytes; label
 * values are stored once each in strings[] (offsets, METRICS_SNAP_NONE
 * for none); histograms take their nbounds + 1 bucket counts, in series
 * order, from buckets[] (non-cumulative; the last is +Inf).
 */
#define METRICS_SNAP_MAGIC 0x314d4c4cu /* "LLM1" little-endian */
#define METRICS_SNAP_SERIES 400
#define METRICS_SNAP_BUCKETS 800
#define METRICS_SNAP_STRINGS 3568
#define METRICS_SNAP_NONE 0xffffu
#define METRICS_SNAP_TRUNCATED 0x1u /* some series did not fit */

struct metrics_snap_series {
	uint16_t metric; /* enum metric_id */
	uint16_t label[METRICS_MAX_LABELS]; /* offsets in strings */
	double value; /* histograms: the sum */
};

struct metrics_snap {
	uint32_t magic;
	uint16_t nseries;
	uint16_t nbuckets;
	uint16_t nstrings; /* bytes used in strings */
	uint16_t flags;
	uint32_t catalog; /* METRIC_COUNT, a version check */
	struct metrics_snap_series series[METRICS_SNAP_SERIES];
	uint64_t buckets[METRICS_SNAP_BUCKETS];
	char strings[METRICS_SNAP_STRINGS];
};

/*
 * Fill *s with every series of m.  Returns 0, or 1 when some series did
 * not fit (they are left out, METRICS_SNAP_TRUNCATED is set).
 */
int metrics_snapshot(const struct metrics *m, struct metrics_snap *s);
/* 1 when a received snapshot is well-formed and safe to merge, else 0. */
int metrics_snap_valid(const struct metrics_snap *s);

#define METRICS_MERGE_NO_GAUGES 0x1u /* counters and histograms only */
/* Add a (valid) snapshot into dst.  0, or -1 when memory ran out. */
int metrics_merge(
    struct metrics *dst, const struct metrics_snap *s, unsigned flags);
/* Add every series of src into dst.  0, or -1 when memory ran out. */
int metrics_merge_registry(
    struct metrics *dst, const struct metrics *src, unsigned flags);

#endif
