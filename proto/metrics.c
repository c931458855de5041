/*
 * Prometheus metrics registry, exposition-format rendering and IPC
 * snapshots; see metrics.h.  No I/O.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_CATALOG_TABLE
#include "proto/metrics.h"
#include "proto/utf8.h"

_Static_assert(sizeof(struct metrics_snap_series) == 16,
    "snapshot series must stay 16 bytes");
_Static_assert(sizeof(struct metrics_snap) <= 16 * 1024,
    "a snapshot must fit one IPC payload");

/* One label combination of one metric. */
struct metrics_series {
	uint16_t metric;
	uint64_t hash;
	char label[METRICS_MAX_LABELS][METRICS_LABEL_MAX];
	double value; /* histograms: sum */
	uint64_t *buckets; /* histograms: nbounds + 1 counts */
};

/*
 * Series live in a growing array; an open-addressing table of indexes
 * (index + 1, 0 empty) finds them by (metric, labels).
 */
struct metrics {
	struct metrics_series *series;
	uint32_t n, cap;
	uint32_t *tab;
	uint32_t tabsize; /* a power of two, or 0 */
	uint32_t count[METRIC_COUNT];
};

/* The normalised labels of one update. */
struct metrics_key {
	char label[METRICS_MAX_LABELS][METRICS_LABEL_MAX];
	uint64_t hash;
};

const struct metric_def *
metrics_def(enum metric_id id)
{
	if ((unsigned)id >= METRIC_COUNT)
		return NULL;
	return &metric_defs[id];
}

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_reset(struct metrics *m)
{
	uint32_t i;

	for (i = 0; i < m->n; i++)
		free(m->series[i].buckets);
	m->n = 0;
	memset(m->count, 0, sizeof(m->count));
	if (m->tab != NULL)
		memset(m->tab, 0, m->tabsize * sizeof(m->tab[0]));
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_reset(m);
	free(m->series);
	free(m->tab);
	free(m);
}

/*
 * Copy a label value: at most METRICS_LABEL_MAX - 1 bytes, cut at a
 * character boundary, every byte that is not valid UTF-8 replaced by '?'.
 */
static void
metrics_label_copy(char *dst, const char *src)
{
	const unsigned char *p = (const unsigned char *)(src ? src : "");
	size_t n = strlen((const char *)p), o = 0, l;

	while (n > 0) {
		l = utf8_len(p, n);
		if (o + (l ? l : 1) > METRICS_LABEL_MAX - 1)
			break;
		if (l == 0) {
			dst[o++] = '?';
			p++, n--;
			continue;
		}
		memcpy(dst + o, p, l);
		o += l, p += l, n -= l;
	}
	dst[o] = '\0';
}

/* FNV-1a over the metric id and its label values, never 0. */
static uint64_t
metrics_hash(enum metric_id id, const struct metrics_key *k, uint32_t nl)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;
	uint32_t i;

	h = (h ^ (uint64_t)id) * 0x100000001b3ULL;
	for (i = 0; i < nl; i++) {
		for (p = (const unsigned char *)k->label[i]; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		h = (h ^ 0xff) * 0x100000001b3ULL; /* separator */
	}
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

static void
metrics_key_make(
    struct metrics_key *k, enum metric_id id, const char *const *labels)
{
	const struct metric_def *d = &metric_defs[id];
	uint32_t i;

	memset(k->label, 0, sizeof(k->label));
	for (i = 0; i < d->nlabels; i++)
		metrics_label_copy(k->label[i], labels ? labels[i] : NULL);
	k->hash = metrics_hash(id, k, d->nlabels);
}

static void
metrics_key_overflow(struct metrics_key *k, enum metric_id id)
{
	const char *o[METRICS_MAX_LABELS] = {
	    METRICS_OVERFLOW, METRICS_OVERFLOW, METRICS_OVERFLOW};

	metrics_key_make(k, id, o);
}

/* The table slot holding (id, k), or the empty slot where it would go. */
static uint32_t
metrics_slot(
    const struct metrics *m, enum metric_id id, const struct metrics_key *k)
{
	uint32_t mask = m->tabsize - 1, i;
	const struct metrics_series *s;

	for (i = (uint32_t)k->hash & mask;; i = (i + 1) & mask) {
		if (m->tab[i] == 0)
			return i;
		s = &m->series[m->tab[i] - 1];
		if (s->hash == k->hash && s->metric == id &&
		    memcmp(s->label, k->label, sizeof(s->label)) == 0)
			return i;
	}
}

static struct metrics_series *
metrics_lookup(
    const struct metrics *m, enum metric_id id, const struct metrics_key *k)
{
	uint32_t i;

	if (m->tabsize == 0)
		return NULL;
	i = metrics_slot(m, id, k);
	return m->tab[i] == 0 ? NULL : &m->series[m->tab[i] - 1];
}

/* Room for one more series: the array and a table at most half full. */
static int
metrics_grow(struct metrics *m)
{
	struct metrics_series *ns;
	uint32_t *nt, size, i, j;

	if (m->n == m->cap) {
		size = m->cap ? m->cap * 2 : 64;
		ns = reallocarray(m->series, size, sizeof(*ns));
		if (ns == NULL)
			return -1;
		m->series = ns;
		m->cap = size;
	}
	if ((m->n + 1) * 2 <= m->tabsize)
		return 0;
	size = m->tabsize ? m->tabsize * 2 : 128;
	if ((nt = calloc(size, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < m->n; i++) {
		for (j = (uint32_t)m->series[i].hash & (size - 1); nt[j];
		     j = (j + 1) & (size - 1))
			;
		nt[j] = i + 1;
	}
	free(m->tab);
	m->tab = nt;
	m->tabsize = size;
	return 0;
}

static struct metrics_series *
metrics_insert(
    struct metrics *m, enum metric_id id, const struct metrics_key *k)
{
	const struct metric_def *d = &metric_defs[id];
	struct metrics_series *s;

	if (metrics_grow(m) == -1)
		return NULL;
	s = &m->series[m->n];
	memset(s, 0, sizeof(*s));
	if (d->type == METRIC_HISTOGRAM &&
	    (s->buckets = calloc(d->nbounds + 1, sizeof(uint64_t))) == NULL)
		return NULL;
	s->metric = (uint16_t)id;
	s->hash = k->hash;
	memcpy(s->label, k->label, sizeof(s->label));
	m->tab[metrics_slot(m, id, k)] = ++m->n;
	m->count[id]++;
	return s;
}

/*
 * The series for (id, k), created when new; past the metric's max_series
 * a new combination gets the overflow series instead.
 */
static struct metrics_series *
metrics_series_get(
    struct metrics *m, enum metric_id id, const struct metrics_key *k)
{
	struct metrics_key o;
	struct metrics_series *s;

	if ((s = metrics_lookup(m, id, k)) != NULL)
		return s;
	if (m->count[id] < metric_defs[id].max_series)
		return metrics_insert(m, id, k);
	metrics_key_overflow(&o, id);
	if ((s = metrics_lookup(m, id, &o)) != NULL)
		return s;
	return metrics_insert(m, id, &o);
}

/* The series an update of id must touch, or NULL (bad type, no memory). */
static struct metrics_series *
metrics_update_target(struct metrics *m, enum metric_id id,
    const char *const *labels, enum metric_type want, enum metric_type alt)
{
	struct metrics_key k;
	enum metric_type t;

	if ((unsigned)id >= METRIC_COUNT)
		return NULL;
	t = metric_defs[id].type;
	if (t != want && t != alt)
		return NULL;
	metrics_key_make(&k, id, labels);
	return metrics_series_get(m, id, &k);
}

int
metrics_add(
    struct metrics *m, enum metric_id id, const char *const *labels, double v)
{
	struct metrics_series *s;

	if (isnan(v))
		return -1;
	if ((unsigned)id < METRIC_COUNT &&
	    metric_defs[id].type == METRIC_COUNTER && !(v >= 0 && isfinite(v)))
		return -1;
	s = metrics_update_target(m, id, labels, METRIC_COUNTER, METRIC_GAUGE);
	if (s == NULL)
		return -1;
	s->value += v;
	return 0;
}

int
metrics_set(
    struct metrics *m, enum metric_id id, const char *const *labels, double v)
{
	struct metrics_series *s;

	s = metrics_update_target(m, id, labels, METRIC_GAUGE, METRIC_GAUGE);
	if (s == NULL)
		return -1;
	s->value = v;
	return 0;
}

int
metrics_observe(
    struct metrics *m, enum metric_id id, const char *const *labels, double v)
{
	struct metrics_series *s;
	const struct metric_def *d;
	uint32_t b;

	if (isnan(v))
		return -1;
	s = metrics_update_target(
	    m, id, labels, METRIC_HISTOGRAM, METRIC_HISTOGRAM);
	if (s == NULL)
		return -1;
	d = &metric_defs[id];
	for (b = 0; b < d->nbounds && v > d->bounds[b]; b++)
		;
	s->buckets[b]++;
	s->value += v;
	return 0;
}

int
metrics_get(const struct metrics *m, enum metric_id id,
    const char *const *labels, double *value, uint64_t *count)
{
	const struct metrics_series *s;
	struct metrics_key k;
	uint32_t b;

	if ((unsigned)id >= METRIC_COUNT)
		return -1;
	metrics_key_make(&k, id, labels);
	if ((s = metrics_lookup(m, id, &k)) == NULL)
		return -1;
	*value = s->value;
	if (count != NULL) {
		*count = 0;
		if (s->buckets != NULL)
			for (b = 0; b <= metric_defs[id].nbounds; b++)
				*count += s->buckets[b];
	}
	return 0;
}

uint32_t
metrics_series_count(const struct metrics *m, enum metric_id id)
{
	return (unsigned)id < METRIC_COUNT ? m->count[id] : 0;
}

/* ---- merging ------------------------------------------------------------ */

/* Add one series' value (and buckets) into dst. */
static int
metrics_merge_one(struct metrics *dst, enum metric_id id,
    const char *const *labels, double value, const uint64_t *buckets,
    unsigned flags)
{
	const struct metric_def *d = &metric_defs[id];
	struct metrics_series *s;
	struct metrics_key k;
	uint32_t b;

	if (d->type == METRIC_GAUGE && (flags & METRICS_MERGE_NO_GAUGES))
		return 0;
	metrics_key_make(&k, id, labels);
	if ((s = metrics_series_get(dst, id, &k)) == NULL)
		return -1;
	s->value += value;
	if (d->type == METRIC_HISTOGRAM)
		for (b = 0; b <= d->nbounds; b++)
			s->buckets[b] += buckets[b];
	return 0;
}

int
metrics_merge_registry(
    struct metrics *dst, const struct metrics *src, unsigned flags)
{
	const struct metrics_series *s;
	const char *labels[METRICS_MAX_LABELS];
	uint32_t i, l;

	for (i = 0; i < src->n; i++) {
		s = &src->series[i];
		for (l = 0; l < METRICS_MAX_LABELS; l++)
			labels[l] = s->label[l];
		if (metrics_merge_one(dst, s->metric, labels, s->value,
		        s->buckets, flags) == -1)
			return -1;
	}
	return 0;
}

int
metrics_merge(
    struct metrics *dst, const struct metrics_snap *snap, unsigned flags)
{
	const struct metrics_snap_series *ss;
	const char *labels[METRICS_MAX_LABELS];
	uint32_t i, l, off = 0;

	for (i = 0; i < snap->nseries; i++) {
		ss = &snap->series[i];
		for (l = 0; l < METRICS_MAX_LABELS; l++)
			labels[l] = ss->label[l] == METRICS_SNAP_NONE
			                ? ""
			                : snap->strings + ss->label[l];
		if (metrics_merge_one(dst, ss->metric, labels, ss->value,
		        snap->buckets + off, flags) == -1)
			return -1;
		if (metric_defs[ss->metric].type == METRIC_HISTOGRAM)
			off += metric_defs[ss->metric].nbounds + 1;
	}
	return 0;
}

/* ---- snapshots ---------------------------------------------------------- */

/* Label strings of one snapshot, each stored once. */
struct metrics_strtab {
	uint16_t slot[1024]; /* offset + 1, 0 empty */
};

/* The offset of str in s->strings, added when new; -1 when full. */
static int
metrics_snap_string(
    struct metrics_snap *s, struct metrics_strtab *t, const char *str)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t len = strlen(str), i;
	uint32_t j, off;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)str[i]) * 0x100000001b3ULL;
	for (j = (uint32_t)h & 1023; t->slot[j] != 0; j = (j + 1) & 1023)
		if (strcmp(s->strings + t->slot[j] - 1, str) == 0)
			return t->slot[j] - 1;
	if (s->nstrings + len + 1 > METRICS_SNAP_STRINGS)
		return -1;
	off = s->nstrings;
	memcpy(s->strings + off, str, len + 1);
	s->nstrings = (uint16_t)(off + len + 1);
	t->slot[j] = (uint16_t)(off + 1);
	return (int)off;
}

/* Append one series to s; -1 (s unchanged) when it does not fit. */
static int
metrics_snap_add(struct metrics_snap *s, struct metrics_strtab *t,
    const struct metrics_series *src)
{
	const struct metric_def *d = &metric_defs[src->metric];
	struct metrics_snap_series *ss;
	uint32_t nb = d->type == METRIC_HISTOGRAM ? d->nbounds + 1 : 0, l;
	uint16_t saved = s->nstrings;
	int off;

	if (s->nseries == METRICS_SNAP_SERIES ||
	    s->nbuckets + nb > METRICS_SNAP_BUCKETS)
		return -1;
	ss = &s->series[s->nseries];
	ss->metric = src->metric;
	for (l = 0; l < METRICS_MAX_LABELS; l++) {
		ss->label[l] = METRICS_SNAP_NONE;
		if (l >= d->nlabels)
			continue;
		if ((off = metrics_snap_string(s, t, src->label[l])) == -1) {
			s->nstrings = saved; /* strings after it unused */
			return -1;
		}
		ss->label[l] = (uint16_t)off;
	}
	ss->value = src->value;
	if (nb > 0)
		memcpy(s->buckets + s->nbuckets, src->buckets,
		    nb * sizeof(uint64_t));
	s->nbuckets += nb;
	s->nseries++;
	return 0;
}

int
metrics_snapshot(const struct metrics *m, struct metrics_snap *s)
{
	struct metrics_strtab *t;
	uint32_t i;
	int truncated = 0;

	memset(s, 0, sizeof(*s));
	s->magic = METRICS_SNAP_MAGIC;
	s->catalog = METRIC_COUNT;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		s->flags = METRICS_SNAP_TRUNCATED;
		return 1;
	}
	for (i = 0; i < m->n; i++) {
		if (metrics_snap_add(s, t, &m->series[i]) == -1) {
			/*
			 * A string added for a series that then did not fit
			 * was rolled back, so drop it from the table too.
			 */
			memset(t, 0, sizeof(*t));
			truncated = 1;
		}
	}
	free(t);
	if (truncated)
		s->flags |= METRICS_SNAP_TRUNCATED;
	return truncated;
}

/* 1 when off starts a NUL-terminated string of s shorter than the cap. */
static int
metrics_snap_str_ok(const struct metrics_snap *s, uint16_t off)
{
	const char *end;

	if (off >= s->nstrings)
		return 0;
	if (off > 0 && s->strings[off - 1] != '\0')
		return 0;
	end = memchr(s->strings + off, '\0', s->nstrings - off);
	return end != NULL && end - (s->strings + off) < METRICS_LABEL_MAX;
}

static int
metrics_snap_series_ok(
    const struct metrics_snap *s, const struct metrics_snap_series *ss)
{
	const struct metric_def *d;
	uint32_t l;

	if (ss->metric >= METRIC_COUNT)
		return 0;
	d = &metric_defs[ss->metric];
	for (l = 0; l < METRICS_MAX_LABELS; l++) {
		if (l >= d->nlabels && ss->label[l] != METRICS_SNAP_NONE)
			return 0;
		if (l < d->nlabels && !metrics_snap_str_ok(s, ss->label[l]))
			return 0;
	}
	if (d->type == METRIC_COUNTER &&
	    !(ss->value >= 0 && isfinite(ss->value)))
		return 0;
	if (d->type == METRIC_HISTOGRAM && !isfinite(ss->value))
		return 0;
	return 1;
}

int
metrics_snap_valid(const struct metrics_snap *s)
{
	uint32_t i, nb = 0;

	if (s->magic != METRICS_SNAP_MAGIC || s->catalog != METRIC_COUNT ||
	    s->nseries > METRICS_SNAP_SERIES ||
	    s->nbuckets > METRICS_SNAP_BUCKETS ||
	    s->nstrings > METRICS_SNAP_STRINGS ||
	    (s->flags & ~METRICS_SNAP_TRUNCATED) != 0)
		return 0;
	if (s->nstrings > 0 && s->strings[s->nstrings - 1] != '\0')
		return 0;
	for (i = 0; i < s->nseries; i++) {
		if (!metrics_snap_series_ok(s, &s->series[i]))
			return 0;
		if (metric_defs[s->series[i].metric].type == METRIC_HISTOGRAM)
			nb += metric_defs[s->series[i].metric].nbounds + 1;
		if (nb > s->nbuckets)
			return 0;
	}
	return nb == s->nbuckets;
}

/* ---- rendering ---------------------------------------------------------- */

/* A growing output buffer; err is set once an allocation failed. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	int err;
};

static void
metrics_buf_put(struct metrics_buf *b, const char *s, size_t n)
{
	char *np;
	size_t cap;

	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
metrics_buf_str(struct metrics_buf *b, const char *s)
{
	metrics_buf_put(b, s, strlen(s));
}

/*
 * s with backslash and newline escaped, and the double quote too when
 * quote is set (label values; HELP text leaves quotes alone).
 */
static void
metrics_buf_escaped(struct metrics_buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			metrics_buf_put(b, "\\\\", 2);
		else if (*s == '\n')
			metrics_buf_put(b, "\\n", 2);
		else if (*s == '"' && quote)
			metrics_buf_put(b, "\\\"", 2);
		else
			metrics_buf_put(b, s, 1);
	}
}

/*
 * A sample value as Prometheus reads it: NaN, +Inf, -Inf, integers
 * without exponent, others in the fewest digits that read back exactly.
 */
static void
metrics_fmt_value(char *buf, size_t len, double v)
{
	int prec;

	if (isnan(v))
		snprintf(buf, len, "NaN");
	else if (isinf(v))
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		snprintf(buf, len, "0");
	else if (v == trunc(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else {
		for (prec = 1; prec < 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				return;
		}
		snprintf(buf, len, "%.17g", v);
	}
}

/*
 * name{k="v",…[,le="…"]} value.  extra_key/extra_value add one more label
 * (the histogram's le), suffix is appended to the name (_bucket, _sum).
 */
static void
metrics_buf_sample(struct metrics_buf *b, const struct metric_def *d,
    const struct metrics_series *s, const char *suffix, const char *le,
    double v)
{
	char num[40];
	uint32_t l;
	int any = 0;

	metrics_buf_str(b, d->name);
	metrics_buf_str(b, suffix);
	for (l = 0; s != NULL && l < d->nlabels; l++) {
		metrics_buf_str(b, any++ ? "," : "{");
		metrics_buf_str(b, d->labels[l]);
		metrics_buf_str(b, "=\"");
		metrics_buf_escaped(b, s->label[l], 1);
		metrics_buf_str(b, "\"");
	}
	if (le != NULL) {
		metrics_buf_str(b, any++ ? "," : "{");
		metrics_buf_str(b, "le=\"");
		metrics_buf_str(b, le);
		metrics_buf_str(b, "\"");
	}
	if (any)
		metrics_buf_str(b, "}");
	metrics_fmt_value(num, sizeof(num), v);
	metrics_buf_str(b, " ");
	metrics_buf_str(b, num);
	metrics_buf_str(b, "\n");
}

static void
metrics_buf_histogram(struct metrics_buf *b, const struct metric_def *d,
    const struct metrics_series *s)
{
	static const uint64_t zero[METRICS_MAX_BOUNDS + 1];
	const uint64_t *buckets = s != NULL ? s->buckets : zero;
	uint64_t cum = 0;
	char le[40];
	uint32_t i;

	for (i = 0; i <= d->nbounds; i++) {
		cum += buckets[i];
		if (i < d->nbounds)
			metrics_fmt_value(le, sizeof(le), d->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		metrics_buf_sample(b, d, s, "_bucket", le, (double)cum);
	}
	metrics_buf_sample(b, d, s, "_sum", NULL, s != NULL ? s->value : 0);
	metrics_buf_sample(b, d, s, "_count", NULL, (double)cum);
}

static int
metrics_sort_cmp(const void *a, const void *b)
{
	const struct metrics_series *x =
	    *(const struct metrics_series *const *)a;
	const struct metrics_series *y =
	    *(const struct metrics_series *const *)b;
	uint32_t l;
	int c;

	for (l = 0; l < METRICS_MAX_LABELS; l++)
		if ((c = strcmp(x->label[l], y->label[l])) != 0)
			return c;
	return 0;
}

/* One family: HELP, TYPE, then its series in label order. */
static void
metrics_buf_family(struct metrics_buf *b, const struct metrics *m,
    enum metric_id id, const struct metrics_series **sorted)
{
	const struct metric_def *d = &metric_defs[id];
	static const char *types[] = {"", "counter", "gauge", "histogram"};
	uint32_t i, n = 0;

	metrics_buf_str(b, "# HELP ");
	metrics_buf_str(b, d->name);
	metrics_buf_str(b, " ");
	metrics_buf_escaped(b, d->help, 0);
	metrics_buf_str(b, "\n# TYPE ");
	metrics_buf_str(b, d->name);
	metrics_buf_str(b, " ");
	metrics_buf_str(b, types[d->type]);
	metrics_buf_str(b, "\n");
	for (i = 0; i < m->n; i++)
		if (m->series[i].metric == id)
			sorted[n++] = &m->series[i];
	qsort(sorted, n, sizeof(sorted[0]), metrics_sort_cmp);
	if (n == 0 && d->nlabels == 0) {
		if (d->type == METRIC_HISTOGRAM)
			metrics_buf_histogram(b, d, NULL);
		else
			metrics_buf_sample(b, d, NULL, "", NULL, 0);
	}
	for (i = 0; i < n; i++) {
		if (d->type == METRIC_HISTOGRAM)
			metrics_buf_histogram(b, d, sorted[i]);
		else
			metrics_buf_sample(
			    b, d, sorted[i], "", NULL, sorted[i]->value);
	}
}

char *
metrics_render(const struct metrics *m, size_t *len)
{
	struct metrics_buf b = {NULL, 0, 0, 0};
	const struct metrics_series **sorted;
	int id;

	if ((sorted = calloc(m->n + 1, sizeof(*sorted))) == NULL)
		return NULL;
	for (id = 0; id < METRIC_COUNT; id++)
		metrics_buf_family(&b, m, id, sorted);
	free(sorted);
	if (b.err || b.p == NULL) {
		free(b.p);
		return NULL;
	}
	if (len != NULL)
		*len = b.len;
	return b.p;
}
