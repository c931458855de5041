/*
 * Unit tests for proto/metrics.c: the catalogue, updates and their type
 * checks, rendering checked by the strict exposition-format parser of
 * tests/tools/promparse.c (which is itself tested on malformed input),
 * label escaping and cleaning, cardinality bounds, and snapshots (round
 * trip, truncation, validation of hostile payloads, merging).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EVENT_CATALOG_TABLE
#include "proto/event_catalog.h"
#include "proto/metrics.h"
#include "tests/tools/promparse.h"

/* Render m and parse it; the parse must succeed. */
static void
render_parse(const struct metrics *m, struct prom_doc *doc)
{
	size_t len;
	char *text;
	int rc;

	text = metrics_render(m, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	rc = prom_parse(text, len, doc);
	if (rc != 0)
		fprintf(stderr, "%s\n---\n%s", doc->error, text);
	assert_int_equal(rc, 0);
	free(text);
}

static void
test_catalog(void **state)
{
	const struct metric_def *d, *e;
	uint32_t i, j, l;
	size_t n;

	(void)state;
	for (i = 0; i < METRIC_COUNT; i++) {
		d = metrics_def(i);
		assert_non_null(d->name);
		assert_int_equal(strncmp(d->name, "localai_", 8), 0);
		assert_int_equal(strspn(d->name, "abcdefghijklmnopqrstuvwxyz_"),
		    strlen(d->name));
		assert_true(d->help != NULL && strlen(d->help) > 10);
		assert_true(d->nlabels <= METRICS_MAX_LABELS);
		assert_true(d->max_series >= 1);
		for (l = 0; l < d->nlabels; l++)
			assert_non_null(d->labels[l]);
		n = strlen(d->name);
		if (d->type == METRIC_COUNTER)
			assert_string_equal(d->name + n - 6, "_total");
		else
			assert_string_not_equal(d->name + n - 6, "_total");
		if (d->type == METRIC_HISTOGRAM) {
			assert_true(d->nbounds >= 1);
			assert_true(d->nbounds <= METRICS_MAX_BOUNDS);
			for (l = 1; l < d->nbounds; l++)
				assert_true(d->bounds[l] > d->bounds[l - 1]);
			assert_string_equal(d->name + n - 8, "_seconds");
		}
		for (j = 0; j < i; j++) {
			e = metrics_def(j);
			assert_string_not_equal(d->name, e->name);
		}
	}
	assert_null(metrics_def(METRIC_COUNT));
}

static void
test_empty_render(void **state)
{
	struct metrics *m = metrics_new();
	struct prom_doc doc;
	const struct prom_family *f;
	uint32_t i;

	(void)state;
	render_parse(m, &doc);
	assert_int_equal(doc.nfamilies, METRIC_COUNT);
	for (i = 0; i < METRIC_COUNT; i++) {
		f = prom_family(&doc, metrics_def(i)->name);
		assert_non_null(f);
		assert_string_equal(f->help, metrics_def(i)->help);
	}
	f = prom_family(&doc, "localai_requests_total");
	assert_string_equal(f->type, "counter");
	assert_string_equal(
	    prom_family(&doc, "localai_placement_duration_seconds")->type,
	    "histogram");
	/* Unlabelled metrics show zero; labelled ones have no sample. */
	assert_non_null(prom_find(&doc, "localai_failovers_total", NULL));
	assert_non_null(
	    prom_find(&doc, "localai_placement_duration_seconds_count", NULL));
	assert_non_null(prom_find(&doc,
	    "localai_placement_duration_seconds_bucket", "le", "+Inf", NULL));
	assert_int_equal(prom_sum(&doc, "localai_requests_total"), 0);
	assert_null(prom_find(&doc, "localai_requests_total", NULL));
	prom_free(&doc);
	metrics_free(m);
}

static void
test_counter_gauge(void **state)
{
	struct metrics *m = metrics_new();
	struct prom_doc doc;
	const struct prom_sample *s;
	double v;
	uint64_t c;

	(void)state;
	assert_int_equal(metrics_inc(m, MET_REQUESTS_TOTAL,
	                     METRICS_L("llama", METRICS_ENDPOINT_CHAT, "200")),
	    0);
	assert_int_equal(
	    metrics_add(m, MET_REQUESTS_TOTAL,
	        METRICS_L("llama", METRICS_ENDPOINT_CHAT, "200"), 2),
	    0);
	assert_int_equal(metrics_inc(m, MET_REQUESTS_TOTAL,
	                     METRICS_L("llama", METRICS_ENDPOINT_CHAT, "503")),
	    0);
	assert_int_equal(
	    metrics_add(m, MET_TOKENS_GENERATED, METRICS_L("llama"), 0.5), 0);
	assert_int_equal(metrics_inc(m, MET_FAILOVERS, NULL), 0);
	/* Wrong use: negative counter, NaN, set/observe on a counter. */
	assert_int_equal(metrics_add(m, MET_FAILOVERS, NULL, -1), -1);
	assert_int_equal(metrics_add(m, MET_FAILOVERS, NULL, NAN), -1);
	assert_int_equal(metrics_add(m, MET_FAILOVERS, NULL, INFINITY), -1);
	assert_int_equal(metrics_set(m, MET_FAILOVERS, NULL, 3), -1);
	assert_int_equal(metrics_observe(m, MET_FAILOVERS, NULL, 3), -1);
	assert_int_equal(metrics_add(m, METRIC_COUNT, NULL, 1), -1);
	/* Gauges go both ways. */
	assert_int_equal(
	    metrics_add(m, MET_REQUESTS_IN_FLIGHT, METRICS_L("llama"), 3), 0);
	assert_int_equal(
	    metrics_add(m, MET_REQUESTS_IN_FLIGHT, METRICS_L("llama"), -1), 0);
	assert_int_equal(
	    metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L("n1"), 1.25), 0);
	assert_int_equal(metrics_get(m, MET_REQUESTS_TOTAL,
	                     METRICS_L("llama", "chat", "200"), &v, &c),
	    0);
	assert_true(v == 3 && c == 0);
	assert_int_equal(metrics_get(m, MET_REQUESTS_TOTAL,
	                     METRICS_L("llama", "chat", "404"), &v, NULL),
	    -1);
	render_parse(m, &doc);
	s = prom_find(&doc, "localai_requests_total", "model", "llama",
	    "endpoint", "chat", "code", "200", NULL);
	assert_non_null(s);
	assert_true(s->value == 3);
	assert_true(prom_sum(&doc, "localai_requests_total") == 4);
	assert_true(prom_find(&doc, "localai_tokens_generated_total", "model",
	                "llama", NULL)
	                ->value == 0.5);
	assert_true(
	    prom_find(&doc, "localai_failovers_total", NULL)->value == 1);
	assert_true(prom_find(&doc, "localai_requests_in_flight", "model",
	                "llama", NULL)
	                ->value == 2);
	assert_true(
	    prom_find(&doc, "localai_heartbeat_age_seconds", "node", "n1", NULL)
	        ->value == 1.25);
	prom_free(&doc);
	metrics_free(m);
}

static void
test_histogram(void **state)
{
	struct metrics *m = metrics_new();
	const struct metric_def *d = metrics_def(MET_REQUEST_DURATION);
	struct prom_doc doc;
	const struct prom_sample *s;
	double v;
	uint64_t c;

	(void)state;
	assert_int_equal(
	    metrics_observe(m, MET_REQUEST_DURATION, METRICS_L("m"), 0.01),
	    0); /* on a bound: le="0.01" */
	assert_int_equal(
	    metrics_observe(m, MET_REQUEST_DURATION, METRICS_L("m"), 0.3), 0);
	assert_int_equal(
	    metrics_observe(m, MET_REQUEST_DURATION, METRICS_L("m"), 1e6),
	    0); /* beyond the last bound */
	assert_int_equal(
	    metrics_observe(m, MET_REQUEST_DURATION, METRICS_L("m"), NAN), -1);
	assert_int_equal(
	    metrics_add(m, MET_REQUEST_DURATION, METRICS_L("m"), 1), -1);
	assert_int_equal(
	    metrics_get(m, MET_REQUEST_DURATION, METRICS_L("m"), &v, &c), 0);
	assert_true(c == 3 && v == 0.01 + 0.3 + 1e6);
	render_parse(m, &doc);
	s = prom_find(&doc, "localai_request_duration_seconds_bucket", "model",
	    "m", "le", "0.01", NULL);
	assert_non_null(s);
	assert_true(s->value == 1);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_bucket",
	                "model", "m", "le", "0.25", NULL)
	                ->value == 1);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_bucket",
	                "model", "m", "le", "0.5", NULL)
	                ->value == 2);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_bucket",
	                "model", "m", "le", "300", NULL)
	                ->value == 2);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_bucket",
	                "model", "m", "le", "+Inf", NULL)
	                ->value == 3);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_count",
	                "model", "m", NULL)
	                ->value == 3);
	assert_true(prom_find(&doc, "localai_request_duration_seconds_sum",
	                "model", "m", NULL)
	                ->value == 0.01 + 0.3 + 1e6);
	assert_int_equal(d->nbounds, 14);
	prom_free(&doc);
	/* Tiny bounds print so that they read back exactly. */
	render_parse(m, &doc);
	assert_non_null(prom_find(&doc,
	    "localai_placement_duration_seconds_bucket", "le", "1e-05", NULL));
	prom_free(&doc);
	metrics_free(m);
}

static void
test_escaping(void **state)
{
	static const char *nasty = "a\\b\"c\nd{e}=,f";
	struct metrics *m = metrics_new();
	struct prom_doc doc;
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(
	    metrics_set(m, MET_NODE_IN_FLIGHT, METRICS_L(nasty), 7), 0);
	text = metrics_render(m, &len);
	assert_non_null(strstr(text,
	    "localai_node_in_flight{node=\"a\\\\b\\\"c\\nd{e}=,f\"} 7\n"));
	free(text);
	render_parse(m, &doc);
	assert_true(
	    prom_find(&doc, "localai_node_in_flight", "node", nasty, NULL)
	        ->value == 7);
	prom_free(&doc);
	metrics_free(m);
}

static void
test_label_cleaning(void **state)
{
	struct metrics *m = metrics_new();
	char longv[200], want[METRICS_LABEL_MAX];
	struct prom_doc doc;
	double v;
	size_t i;

	(void)state;
	/* Invalid UTF-8 (a lone continuation byte, an overlong '/'). */
	assert_int_equal(
	    metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L("x\x80y\xc0\xafz"), 1),
	    0);
	assert_int_equal(
	    metrics_get(m, MET_HEARTBEAT_AGE, METRICS_L("x?y??z"), &v, NULL),
	    0);
	/* Valid multi-byte text is kept; a cut never splits a character. */
	assert_int_equal(
	    metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L("nœud-é"), 2), 0);
	for (i = 0; i + 2 < sizeof(longv); i += 2)
		memcpy(longv + i, "\xc3\xa9", 2); /* é */
	longv[i] = '\0';
	assert_int_equal(
	    metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L(longv), 3), 0);
	memcpy(want, longv, 62); /* 31 characters: 62 bytes < 64 */
	want[62] = '\0';
	assert_int_equal(
	    metrics_get(m, MET_HEARTBEAT_AGE, METRICS_L(want), &v, NULL), 0);
	assert_true(v == 3);
	/* A NULL value is the empty string. */
	assert_int_equal(
	    metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L(NULL), 4), 0);
	assert_int_equal(
	    metrics_get(m, MET_HEARTBEAT_AGE, METRICS_L(""), &v, NULL), 0);
	render_parse(m, &doc);
	assert_non_null(prom_find(
	    &doc, "localai_heartbeat_age_seconds", "node", "nœud-é", NULL));
	prom_free(&doc);
	metrics_free(m);
}

static void
test_overflow(void **state)
{
	struct metrics *m = metrics_new();
	uint32_t max = metrics_def(MET_RETRIES)->max_series, i;
	struct prom_doc doc;
	char reason[32];
	double v;

	(void)state;
	for (i = 0; i < max + 10; i++) {
		snprintf(reason, sizeof(reason), "r%u", i);
		assert_int_equal(
		    metrics_inc(m, MET_RETRIES, METRICS_L(reason)), 0);
	}
	assert_int_equal(metrics_series_count(m, MET_RETRIES), max + 1);
	assert_int_equal(
	    metrics_get(m, MET_RETRIES, METRICS_L(METRICS_OVERFLOW), &v, NULL),
	    0);
	assert_true(v == 10);
	/* A kept series still counts on its own. */
	assert_int_equal(metrics_inc(m, MET_RETRIES, METRICS_L("r0")), 0);
	assert_int_equal(
	    metrics_get(m, MET_RETRIES, METRICS_L("r0"), &v, NULL), 0);
	assert_true(v == 2);
	render_parse(m, &doc);
	assert_true(prom_sum(&doc, "localai_retries_total") == max + 11);
	prom_free(&doc);
	metrics_reset(m);
	assert_int_equal(metrics_series_count(m, MET_RETRIES), 0);
	assert_int_equal(
	    metrics_get(m, MET_RETRIES, METRICS_L("r0"), &v, NULL), -1);
	metrics_free(m);
}

/* A registry as an api process would have it. */
static void
fill_api(struct metrics *m, int models)
{
	char name[32];
	int i;

	for (i = 0; i < models; i++) {
		snprintf(name, sizeof(name), "model-%d", i);
		metrics_add(m, MET_REQUESTS_TOTAL,
		    METRICS_L(name, "chat", "200"), 10 + i);
		metrics_add(
		    m, MET_REQUESTS_TOTAL, METRICS_L(name, "chat", "503"), 1);
		metrics_observe(m, MET_REQUEST_DURATION, METRICS_L(name), 0.2);
		metrics_observe(
		    m, MET_TIME_TO_FIRST_TOKEN, METRICS_L(name), 0.05);
		metrics_add(m, MET_TOKENS_GENERATED, METRICS_L(name), 100);
		metrics_set(m, MET_REQUESTS_IN_FLIGHT, METRICS_L(name), 2);
	}
	metrics_inc(m, MET_FAILOVERS, NULL);
	metrics_inc(m, MET_RETRIES, METRICS_L(METRICS_RETRY_CONNECT));
}

static void
test_snapshot_merge(void **state)
{
	struct metrics *api = metrics_new(), *sum = metrics_new();
	struct metrics_snap *s = malloc(sizeof(*s));
	struct prom_doc doc;
	double v;
	uint64_t c;

	(void)state;
	assert_true(sizeof(struct metrics_snap) <= 16384);
	fill_api(api, 20);
	assert_int_equal(metrics_snapshot(api, s), 0);
	assert_true(metrics_snap_valid(s));
	assert_int_equal(s->nseries, 20 * 6 + 2);
	/* Two api processes with the same counts, and the router's own. */
	assert_int_equal(metrics_merge(sum, s, 0), 0);
	assert_int_equal(metrics_merge(sum, s, 0), 0);
	metrics_observe(sum, MET_PLACEMENT_DURATION, NULL, 0.0001);
	assert_int_equal(metrics_get(sum, MET_REQUESTS_TOTAL,
	                     METRICS_L("model-3", "chat", "200"), &v, NULL),
	    0);
	assert_true(v == 26);
	assert_int_equal(metrics_get(sum, MET_REQUEST_DURATION,
	                     METRICS_L("model-3"), &v, &c),
	    0);
	assert_true(c == 2 && fabs(v - 0.4) < 1e-12);
	render_parse(sum, &doc);
	assert_true(prom_sum(&doc, "localai_requests_in_flight") == 80);
	assert_true(
	    prom_find(&doc, "localai_failovers_total", NULL)->value == 2);
	assert_true(prom_find(&doc,
	                "localai_time_to_first_token_seconds_"
	                "bucket",
	                "model", "model-19", "le", "0.05", NULL)
	                ->value == 2);
	prom_free(&doc);
	/* Retiring a dead process: its counters stay, its gauges go. */
	metrics_reset(sum);
	assert_int_equal(metrics_merge(sum, s, METRICS_MERGE_NO_GAUGES), 0);
	assert_int_equal(metrics_get(sum, MET_REQUESTS_IN_FLIGHT,
	                     METRICS_L("model-1"), &v, NULL),
	    -1);
	assert_int_equal(metrics_get(sum, MET_TOKENS_GENERATED,
	                     METRICS_L("model-1"), &v, NULL),
	    0);
	assert_true(v == 100);
	/* Registry to registry. */
	assert_int_equal(metrics_merge_registry(sum, api, 0), 0);
	assert_int_equal(metrics_get(sum, MET_TOKENS_GENERATED,
	                     METRICS_L("model-1"), &v, NULL),
	    0);
	assert_true(v == 200);
	free(s);
	metrics_free(api);
	metrics_free(sum);
}

static void
test_snapshot_truncated(void **state)
{
	struct metrics *m = metrics_new(), *back = metrics_new();
	struct metrics_snap *s = malloc(sizeof(*s));
	char name[64];
	int i;

	(void)state;
	/* 500 distinct series of long labels: more than a snapshot holds. */
	for (i = 0; i < 500; i++) {
		snprintf(
		    name, sizeof(name), "node-with-a-rather-long-name-%04d", i);
		metrics_set(m, MET_NODE_IN_FLIGHT, METRICS_L(name), i);
	}
	assert_int_equal(metrics_snapshot(m, s), 1);
	assert_true(s->flags & METRICS_SNAP_TRUNCATED);
	assert_true(metrics_snap_valid(s));
	assert_true(s->nseries > 50 && s->nseries < 500);
	assert_int_equal(metrics_merge(back, s, 0), 0);
	assert_int_equal(
	    metrics_series_count(back, MET_NODE_IN_FLIGHT), s->nseries);
	free(s);
	metrics_free(m);
	metrics_free(back);
}

static void
test_snapshot_hostile(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_snap *good = malloc(sizeof(*good));
	struct metrics_snap *s = malloc(sizeof(*s));
	uint32_t hi = 0;

	(void)state;
	fill_api(m, 2);
	metrics_snapshot(m, good);
	assert_true(metrics_snap_valid(good));
	while (good->series[hi].metric != MET_REQUEST_DURATION)
		hi++;
#define BAD(stmt)                                                              \
	do {                                                                   \
		memcpy(s, good, sizeof(*s));                                   \
		stmt;                                                          \
		assert_false(metrics_snap_valid(s));                           \
	} while (0)
	BAD(s->magic = 0);
	BAD(s->catalog = METRIC_COUNT + 1);
	BAD(s->nseries = METRICS_SNAP_SERIES + 1);
	BAD(s->nbuckets = METRICS_SNAP_BUCKETS + 1);
	BAD(s->nstrings = METRICS_SNAP_STRINGS + 1);
	BAD(s->flags = 0x8);
	BAD(s->series[0].metric = METRIC_COUNT);
	BAD(s->series[0].label[0] = s->nstrings); /* out of range */
	BAD(s->series[0].label[0] = 1); /* mid-string */
	BAD(s->series[0].label[0] = METRICS_SNAP_NONE); /* missing */
	BAD(s->strings[s->nstrings - 1] = 'x'); /* unterminated */
	BAD(s->series[0].value = -1); /* counter < 0 */
	BAD(s->series[0].value = NAN);
	BAD(s->series[hi].value = INFINITY); /* histogram sum */
	BAD(s->nbuckets--); /* bucket count */
	BAD(s->series[hi].metric = MET_REQUESTS_IN_FLIGHT); /* buckets */
	/* A label where the metric has fewer. */
	BAD(s->series[hi].label[1] = s->series[hi].label[0]);
	/* A label value too long for a series. */
	BAD({
		uint16_t o = s->nstrings;
		memset(s->strings + o, 'a', 100);
		s->strings[o + 100] = '\0';
		s->nstrings = o + 101;
		s->series[0].label[0] = o;
	});
#undef BAD
	free(s);
	free(good);
	metrics_free(m);
}

/* The parser must refuse each of these. */
static void
test_parser_rejects(void **state)
{
	static const char *bad[] = {"x 1", /* no \n */
	    "1x 1\n", /* name */
	    "x-y 1\n", "x  1\n", /* 2 spaces */
	    "x\t1\n", "x 1,0\n", /* value */
	    "x inf\n", "x 0x1p3\n", "x 1e\n", "x .\n",
	    "x 1 1.5\n", /* timestamp */
	    "x{a=\"1\"\n", /* labels */
	    "x{a=1} 1\n", "x{a=\"1\\t\"} 1\n", "x{a=\"1} 1\n",
	    "x{a=\"1\",a=\"2\"} 1\n", "x{__name__=\"1\"} 1\n",
	    "x{1a=\"1\"} 1\n", "x{a=\"\xff\"} 1\n", "x{a=\"1\"b=\"2\"} 1\n",
	    "x 1\nx 2\n", /* duplicate */
	    "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n",
	    "x 1\n# TYPE x gauge\n", /* order */
	    "# TYPE x gauge\n# TYPE x gauge\nx 1\n",
	    "# HELP x a\n# HELP x b\nx 1\n", "# TYPE x gauges\nx 1\n",
	    "# HELP x bad \\t escape\nx 1\n",
	    "x{a=\"1\"} 1\ny 1\nx{a=\"2\"} 1\n", /* contiguous */
	    "# TYPE x counter\nx -1\n", /* counter */
	    "# TYPE x counter\nx NaN\n",
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n" /* no +Inf */
	    "h_sum 1\nh_count 2\n",
	    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n" /* decreasing */
	    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
	    "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n" /* le order */
	    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
	    "h_count 1\n",
	    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n" /* _count */
	    "h_sum 1\nh_count 3\n",
	    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\n" /* no _sum */
	    "h_count 2\n",
	    "# TYPE h histogram\nh_bucket 2\nh_sum 1\nh_count 2\n",
	    "# TYPE h histogram\nh_bucket{le=\"x\"} 2\nh_sum 1\n"
	    "h_count 2\n",
	    NULL};
	struct prom_doc doc;
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		if (prom_parse(bad[i], strlen(bad[i]), &doc) == 0)
			fail_msg("accepted bad input %zu: %s", i, bad[i]);
		assert_true(strlen(doc.error) > 0);
		prom_free(&doc);
	}
	/* An embedded NUL (strlen would stop at it). */
	assert_int_equal(prom_parse("x 1\n\0y 1\n", 9, &doc), -1);
	prom_free(&doc);
}

static void
test_parser_accepts(void **state)
{
	static const char *good = "# a comment\n"
	                          "\n"
	                          "# HELP x Some \\\\ text\\n more \"quoted\"\n"
	                          "# TYPE x counter\n"
	                          "x{a=\"q\\\"\\\\\\n\",} 1.5e3 1700000000000\n"
	                          "x{a=\"r\"} +Inf\n"
	                          "g -Inf\n"
	                          "g2 NaN\n"
	                          "# TYPE h histogram\n"
	                          "h_bucket{le=\"0.5\"} 1\n"
	                          "h_bucket{le=\"+Inf\"} 3\n"
	                          "h_sum 7\n"
	                          "h_count 3\n";
	struct prom_doc doc;

	(void)state;
	assert_int_equal(prom_parse(good, strlen(good), &doc), 0);
	assert_string_equal(
	    prom_family(&doc, "x")->help, "Some \\ text\n more \"quoted\"");
	assert_true(prom_find(&doc, "x", "a", "q\"\\\n", NULL)->value == 1500);
	assert_true(isinf(prom_find(&doc, "g", NULL)->value));
	assert_string_equal(prom_find(&doc, "h_count", NULL)->family, "h");
	prom_free(&doc);
	assert_int_equal(prom_parse("", 0, &doc), 0);
	prom_free(&doc);
}

/* Whatever the registry holds, its rendering parses. */
static void
test_render_everything(void **state)
{
	struct metrics *m = metrics_new();
	const struct metric_def *d;
	const char *labels[METRICS_MAX_LABELS] = {"a\"", "b\\", "c\n"};
	struct prom_doc doc;
	uint32_t i;

	(void)state;
	for (i = 0; i < METRIC_COUNT; i++) {
		d = metrics_def(i);
		if (d->type == METRIC_HISTOGRAM)
			assert_int_equal(
			    metrics_observe(m, i, labels, 0.75), 0);
		else
			assert_int_equal(metrics_add(m, i, labels, 1.5), 0);
	}
	assert_int_equal(metrics_set(m, MET_NODES, METRICS_L("x"), -2.5e-7), 0);
	assert_int_equal(metrics_set(m, MET_NODES, METRICS_L("y"), 1e300), 0);
	assert_int_equal(metrics_set(m, MET_NODES, METRICS_L("z"), NAN), 0);
	render_parse(m, &doc);
	assert_true(
	    prom_find(&doc, "localai_nodes", "status", "x", NULL)->value ==
	    -2.5e-7);
	assert_true(
	    prom_find(&doc, "localai_nodes", "status", "y", NULL)->value ==
	    1e300);
	assert_true(isnan(
	    prom_find(&doc, "localai_nodes", "status", "z", NULL)->value));
	prom_free(&doc);
	metrics_free(m);
}

/* docs/operations.md lists every metric and every event (run from the
 * repository root, as tests/run.sh does). */
static void
test_docs(void **state)
{
	char *doc, want[128];
	FILE *fp;
	long n;
	size_t i;

	(void)state;
	fp = fopen("docs/operations.md", "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	doc = calloc(1, n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, n, fp), (size_t)n);
	fclose(fp);
	for (i = 0; i < METRIC_COUNT; i++) {
		snprintf(want, sizeof(want), "| `%s` |", metrics_def(i)->name);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/operations.md: no row for %s",
			    metrics_def(i)->name);
	}
	for (i = 0; event_names[i] != NULL; i++) {
		snprintf(want, sizeof(want), "| `%s` |", event_names[i]);
		if (strstr(doc, want) == NULL)
			fail_msg("docs/operations.md: no row for event %s",
			    event_names[i]);
	}
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_catalog),
	    cmocka_unit_test(test_empty_render),
	    cmocka_unit_test(test_counter_gauge),
	    cmocka_unit_test(test_histogram),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_label_cleaning),
	    cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_snapshot_merge),
	    cmocka_unit_test(test_snapshot_truncated),
	    cmocka_unit_test(test_snapshot_hostile),
	    cmocka_unit_test(test_parser_rejects),
	    cmocka_unit_test(test_parser_accepts),
	    cmocka_unit_test(test_render_everything),
	    cmocka_unit_test(test_docs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
