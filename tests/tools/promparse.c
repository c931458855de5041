/*
 * Strict Prometheus text format 0.0.4 parser for tests; see promparse.h.
 */
#include <sys/types.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/promparse.h"

/* Parser state: the input, the current line, the family being read. */
struct prom_parser {
	struct prom_doc *doc;
	const char *p, *end; /* rest of the current line */
	int line;
	size_t current; /* family index of the last line */
	int have_current;
	char *seen_samples; /* per family: a sample was read */
	size_t nseen;
};

static int
prom_fail(struct prom_parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(
	    ps->doc->error, sizeof(ps->doc->error), "line %d: ", ps->line);
	va_start(ap, fmt);
	vsnprintf(ps->doc->error + n, sizeof(ps->doc->error) - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
prom_utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	unsigned c;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2, c = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			len = 3, c = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			len = 4, c = s[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			return 0;
		i += len;
	}
	return 1;
}

/* Length of the metric name (colon allowed) or label name at p. */
static size_t
prom_name_len(const char *p, const char *end, int metric)
{
	size_t n = 0;

	while (p + n < end) {
		char c = p[n];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (metric && c == ':') ||
		    (n > 0 && c >= '0' && c <= '9'))
			n++;
		else
			break;
	}
	return n;
}

/*
 * A float as Go's ParseFloat reads it in decimal, or NaN, +Inf, -Inf.
 * Hex floats, "inf", "nan" and the like are refused.
 */
static int
prom_float(const char *s, size_t n, double *v)
{
	char buf[64];
	size_t i = 0, digits = 0;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strcmp(buf, "NaN") == 0 || strcmp(buf, "+Inf") == 0 ||
	    strcmp(buf, "-Inf") == 0) {
		*v = buf[0] == 'N' ? NAN : buf[0] == '+' ? INFINITY : -INFINITY;
		return 0;
	}
	if (buf[i] == '+' || buf[i] == '-')
		i++;
	for (; buf[i] >= '0' && buf[i] <= '9'; i++)
		digits++;
	if (buf[i] == '.')
		for (i++; buf[i] >= '0' && buf[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return -1;
	if (buf[i] == 'e' || buf[i] == 'E') {
		i++;
		if (buf[i] == '+' || buf[i] == '-')
			i++;
		if (!(buf[i] >= '0' && buf[i] <= '9'))
			return -1;
		while (buf[i] >= '0' && buf[i] <= '9')
			i++;
	}
	if (buf[i] != '\0')
		return -1;
	*v = strtod(buf, NULL);
	return 0;
}

/*
 * Unescape text up to the closing quote (quoted) or the end of the line.
 * Only \\ \n and, in label values, \" are allowed.
 */
static char *
prom_unescape(struct prom_parser *ps, int quoted)
{
	char *out, *o;

	if ((out = o = malloc(ps->end - ps->p + 1)) == NULL)
		return NULL;
	while (ps->p < ps->end && !(quoted && *ps->p == '"')) {
		if (*ps->p != '\\') {
			*o++ = *ps->p++;
			continue;
		}
		if (ps->p + 1 >= ps->end)
			goto bad;
		ps->p++;
		if (*ps->p == '\\')
			*o++ = '\\';
		else if (*ps->p == 'n')
			*o++ = '\n';
		else if (*ps->p == '"' && quoted)
			*o++ = '"';
		else
			goto bad;
		ps->p++;
	}
	if (quoted && ps->p == ps->end)
		goto bad;
	*o = '\0';
	if (!prom_utf8_ok((unsigned char *)out, o - out))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

static ssize_t
prom_family_index(const struct prom_doc *doc, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < doc->nfamilies; i++)
		if (strlen(doc->families[i].name) == n &&
		    strncmp(doc->families[i].name, name, n) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * Make family `name` the current one: a family seen before and left is
 * an error (its lines must be contiguous).  Returns its index or -1.
 */
static ssize_t
prom_enter_family(struct prom_parser *ps, const char *name, size_t n)
{
	struct prom_doc *doc = ps->doc;
	struct prom_family *nf;
	ssize_t i;

	i = prom_family_index(doc, name, n);
	if (i >= 0) {
		if (!ps->have_current || (size_t)i != ps->current)
			return prom_fail(
			    ps, "family %.*s is not contiguous", (int)n, name);
		return i;
	}
	nf = reallocarray(doc->families, doc->nfamilies + 1, sizeof(*nf));
	if (nf == NULL)
		return prom_fail(ps, "out of memory");
	doc->families = nf;
	nf = &doc->families[doc->nfamilies];
	memset(nf, 0, sizeof(*nf));
	if ((nf->name = strndup(name, n)) == NULL ||
	    (nf->type = strdup("untyped")) == NULL)
		return prom_fail(ps, "out of memory");
	if ((ps->seen_samples =
	            realloc(ps->seen_samples, doc->nfamilies + 1)) == NULL)
		return prom_fail(ps, "out of memory");
	ps->seen_samples[doc->nfamilies] = 0;
	ps->current = doc->nfamilies++;
	ps->have_current = 1;
	return (ssize_t)ps->current;
}

/* "# HELP name text" or "# TYPE name type"; other comments pass. */
static int
prom_comment(struct prom_parser *ps)
{
	static const char *types[] = {
	    "counter", "gauge", "histogram", "summary", "untyped", NULL};
	struct prom_family *f;
	const char *name;
	size_t n, i;
	ssize_t fi;
	int help;

	if (ps->end - ps->p < 7 || (strncmp(ps->p, "# HELP ", 7) != 0 &&
	                               strncmp(ps->p, "# TYPE ", 7) != 0))
		return 0;
	help = ps->p[2] == 'H';
	ps->p += 7;
	name = ps->p;
	if ((n = prom_name_len(ps->p, ps->end, 1)) == 0)
		return prom_fail(
		    ps, "bad metric name in %s", help ? "HELP" : "TYPE");
	ps->p += n;
	if (ps->p == ps->end || *ps->p != ' ')
		return prom_fail(ps, "no text after the name");
	ps->p++;
	if ((fi = prom_enter_family(ps, name, n)) < 0)
		return -1;
	f = &ps->doc->families[fi];
	if (ps->seen_samples[fi])
		return prom_fail(ps, "%s after samples of %s",
		    help ? "HELP" : "TYPE", f->name);
	if (help) {
		if (f->help != NULL)
			return prom_fail(ps, "second HELP for %s", f->name);
		if ((f->help = prom_unescape(ps, 0)) == NULL)
			return prom_fail(ps, "bad escape or UTF-8 in HELP");
		return 0;
	}
	for (i = 0; types[i] != NULL; i++)
		if ((size_t)(ps->end - ps->p) == strlen(types[i]) &&
		    strncmp(ps->p, types[i], strlen(types[i])) == 0)
			break;
	if (types[i] == NULL)
		return prom_fail(ps, "unknown type");
	if (f->typed)
		return prom_fail(ps, "second TYPE for %s", f->name);
	f->typed = 1;
	free(f->type);
	if ((f->type = strdup(types[i])) == NULL)
		return prom_fail(ps, "out of memory");
	return 0;
}

/* The family a sample name belongs to (histogram/summary suffixes). */
static size_t
prom_sample_family_len(const struct prom_doc *doc, const char *name, size_t n)
{
	static const char *sfx[] = {"_bucket", "_sum", "_count", NULL};
	const struct prom_family *f;
	size_t i, k, l;

	for (i = 0; i < doc->nfamilies; i++) {
		f = &doc->families[i];
		if (strcmp(f->type, "histogram") != 0 &&
		    strcmp(f->type, "summary") != 0)
			continue;
		l = strlen(f->name);
		for (k = 0; sfx[k] != NULL; k++) {
			if (k == 0 && f->type[0] == 's')
				continue;
			if (n == l + strlen(sfx[k]) &&
			    strncmp(name, f->name, l) == 0 &&
			    strncmp(name + l, sfx[k], n - l) == 0)
				return l;
		}
	}
	return n;
}

static int
prom_labels(struct prom_parser *ps, struct prom_sample *s)
{
	size_t n, i;

	ps->p++; /* '{' */
	while (ps->p < ps->end && *ps->p != '}') {
		if (s->nlabels == PROM_MAX_LABELS)
			return prom_fail(ps, "too many labels");
		if ((n = prom_name_len(ps->p, ps->end, 0)) == 0)
			return prom_fail(ps, "bad label name");
		if (n >= 2 && ps->p[0] == '_' && ps->p[1] == '_')
			return prom_fail(ps, "reserved label name");
		for (i = 0; i < s->nlabels; i++)
			if (strlen(s->labels[i].name) == n &&
			    strncmp(s->labels[i].name, ps->p, n) == 0)
				return prom_fail(ps, "duplicate label");
		/* Counted at once, so that prom_free() frees it on errors. */
		if ((s->labels[s->nlabels++].name = strndup(ps->p, n)) == NULL)
			return prom_fail(ps, "out of memory");
		ps->p += n;
		if (ps->end - ps->p < 2 || ps->p[0] != '=' || ps->p[1] != '"')
			return prom_fail(ps, "expected =\" after label name");
		ps->p += 2;
		if ((s->labels[s->nlabels - 1].value = prom_unescape(ps, 1)) ==
		    NULL)
			return prom_fail(ps, "bad label value");
		ps->p++; /* '"' */
		if (ps->p < ps->end && *ps->p == ',')
			ps->p++;
		else if (ps->p < ps->end && *ps->p != '}')
			return prom_fail(ps, "expected , or } after a label");
	}
	if (ps->p == ps->end)
		return prom_fail(ps, "unterminated label set");
	ps->p++;
	return 0;
}

/* value [timestamp] after the single separating space. */
static int
prom_value(struct prom_parser *ps, struct prom_sample *s)
{
	const char *sp;
	double ts;

	if (ps->p == ps->end || *ps->p != ' ')
		return prom_fail(ps, "expected one space before the value");
	ps->p++;
	sp = memchr(ps->p, ' ', ps->end - ps->p);
	if (prom_float(ps->p, (sp ? sp : ps->end) - ps->p, &s->value) == -1)
		return prom_fail(ps, "bad value");
	if (sp == NULL)
		return 0;
	if (prom_float(sp + 1, ps->end - sp - 1, &ts) == -1 ||
	    ts != trunc(ts) || memchr(sp + 1, '.', ps->end - sp - 1) ||
	    memchr(sp + 1, 'e', ps->end - sp - 1))
		return prom_fail(ps, "bad timestamp");
	return 0;
}

static int
prom_sample(struct prom_parser *ps)
{
	struct prom_doc *doc = ps->doc;
	struct prom_sample *s;
	const struct prom_family *f;
	size_t n, fl;
	ssize_t fi;

	s = reallocarray(doc->samples, doc->nsamples + 1, sizeof(*s));
	if (s == NULL)
		return prom_fail(ps, "out of memory");
	doc->samples = s;
	s = &doc->samples[doc->nsamples++];
	memset(s, 0, sizeof(*s));
	s->line = ps->line;
	if ((n = prom_name_len(ps->p, ps->end, 1)) == 0)
		return prom_fail(ps, "bad metric name");
	if ((s->name = strndup(ps->p, n)) == NULL)
		return prom_fail(ps, "out of memory");
	fl = prom_sample_family_len(doc, ps->p, n);
	if ((fi = prom_enter_family(ps, ps->p, fl)) < 0)
		return -1;
	ps->seen_samples[fi] = 1;
	f = &doc->families[fi];
	if ((s->family = strdup(f->name)) == NULL)
		return prom_fail(ps, "out of memory");
	ps->p += n;
	if (ps->p < ps->end && *ps->p == '{' && prom_labels(ps, s) == -1)
		return -1;
	if (prom_value(ps, s) == -1)
		return -1;
	if (strcmp(f->type, "counter") == 0 && !(s->value >= 0))
		return prom_fail(ps, "counter %s is negative or NaN", s->name);
	return 0;
}

/* Labels of s, sorted, as one string, without `skip` (le). */
static char *
prom_key(const struct prom_sample *s, const char *skip)
{
	size_t i, j, order[PROM_MAX_LABELS], t, len = strlen(s->name) + 2;
	char *k;

	for (i = 0; i < s->nlabels; i++) {
		order[i] = i;
		len +=
		    strlen(s->labels[i].name) + strlen(s->labels[i].value) + 3;
	}
	for (i = 1; i < s->nlabels; i++)
		for (j = i; j > 0 && strcmp(s->labels[order[j]].name,
		                         s->labels[order[j - 1]].name) < 0;
		     j--)
			t = order[j], order[j] = order[j - 1], order[j - 1] = t;
	if ((k = malloc(len)) == NULL)
		return NULL;
	strcpy(k, skip ? "" : s->name);
	strcat(k, "\x01");
	for (i = 0; i < s->nlabels; i++) {
		if (skip && strcmp(s->labels[order[i]].name, skip) == 0)
			continue;
		strcat(k, s->labels[order[i]].name);
		strcat(k, "\x02");
		strcat(k, s->labels[order[i]].value);
		strcat(k, "\x03");
	}
	return k;
}

static int
prom_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
prom_no_duplicates(struct prom_doc *doc)
{
	char **keys;
	size_t i;
	int rc = 0;

	if ((keys = calloc(doc->nsamples + 1, sizeof(*keys))) == NULL)
		return -1;
	for (i = 0; i < doc->nsamples; i++)
		if ((keys[i] = prom_key(&doc->samples[i], NULL)) == NULL)
			rc = -1;
	if (rc == 0) {
		qsort(keys, doc->nsamples, sizeof(*keys), prom_cmpstr);
		for (i = 1; i < doc->nsamples; i++)
			if (strcmp(keys[i], keys[i - 1]) == 0) {
				snprintf(doc->error, sizeof(doc->error),
				    "duplicate sample %.*s",
				    (int)strcspn(keys[i], "\x01"), keys[i]);
				rc = -1;
				break;
			}
	}
	for (i = 0; i < doc->nsamples; i++)
		free(keys[i]);
	free(keys);
	return rc;
}

static const char *
prom_label_value(const struct prom_sample *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

/*
 * One series of histogram family f (label set `key` without le): the
 * buckets in ascending le order, cumulative, ending at +Inf = _count.
 */
static int
prom_histogram_series(
    struct prom_doc *doc, const struct prom_family *f, const char *key)
{
	const struct prom_sample *s, *count = NULL, *sum = NULL;
	double le, prev_le = -INFINITY, prev = 0, inf = NAN;
	size_t i, fl = strlen(f->name);
	char *k;
	const char *lev;
	int nb = 0, match;

	for (i = 0; i < doc->nsamples; i++) {
		s = &doc->samples[i];
		if (strcmp(s->family, f->name) != 0)
			continue;
		if ((k = prom_key(s, "le")) == NULL)
			return -1;
		match = strcmp(k, key) == 0;
		free(k);
		if (!match)
			continue;
		lev = prom_label_value(s, "le");
		if (strcmp(s->name + fl, "_bucket") == 0) {
			if (lev == NULL || prom_float(lev, strlen(lev), &le) ||
			    isnan(le) || le <= prev_le || s->value < prev ||
			    isnan(s->value))
				goto bad;
			prev_le = le, prev = s->value, nb++;
			if (isinf(le))
				inf = s->value;
		} else if (lev != NULL)
			goto bad;
		else if (strcmp(s->name + fl, "_count") == 0)
			count = s;
		else if (strcmp(s->name + fl, "_sum") == 0)
			sum = s;
		else
			goto bad;
	}
	if (nb == 0 || !isinf(prev_le) || count == NULL || sum == NULL ||
	    count->value != inf)
		goto bad;
	return 0;
bad:
	snprintf(doc->error, sizeof(doc->error),
	    "histogram %s: bad buckets, "
	    "_sum or _count",
	    f->name);
	return -1;
}

static int
prom_histograms(struct prom_doc *doc)
{
	const struct prom_family *f;
	const struct prom_sample *s;
	size_t i, j;
	char *key;
	int rc;

	for (i = 0; i < doc->nfamilies; i++) {
		f = &doc->families[i];
		if (strcmp(f->type, "histogram") != 0)
			continue;
		for (j = 0; j < doc->nsamples; j++) {
			s = &doc->samples[j];
			if (strcmp(s->family, f->name) != 0)
				continue;
			if ((key = prom_key(s, "le")) == NULL)
				return -1;
			rc = prom_histogram_series(doc, f, key);
			free(key);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

int
prom_parse(const char *text, size_t len, struct prom_doc *doc)
{
	struct prom_parser ps;
	const char *nl, *end = text + len;
	int rc = 0;

	memset(doc, 0, sizeof(*doc));
	memset(&ps, 0, sizeof(ps));
	ps.doc = doc;
	if (memchr(text, '\0', len) != NULL) {
		snprintf(doc->error, sizeof(doc->error), "NUL byte in text");
		return -1;
	}
	if (len > 0 && text[len - 1] != '\n') {
		snprintf(doc->error, sizeof(doc->error), "no final newline");
		return -1;
	}
	for (; text < end && rc == 0; text = nl + 1) {
		nl = memchr(text, '\n', end - text);
		ps.line++;
		ps.p = text;
		ps.end = nl;
		if (ps.p == ps.end)
			continue;
		rc = *ps.p == '#' ? prom_comment(&ps) : prom_sample(&ps);
	}
	free(ps.seen_samples);
	if (rc == 0)
		rc = prom_no_duplicates(doc);
	if (rc == 0)
		rc = prom_histograms(doc);
	return rc;
}

void
prom_free(struct prom_doc *doc)
{
	size_t i, j;

	for (i = 0; i < doc->nsamples; i++) {
		free(doc->samples[i].name);
		free(doc->samples[i].family);
		for (j = 0; j < doc->samples[i].nlabels; j++) {
			free(doc->samples[i].labels[j].name);
			free(doc->samples[i].labels[j].value);
		}
	}
	for (i = 0; i < doc->nfamilies; i++) {
		free(doc->families[i].name);
		free(doc->families[i].type);
		free(doc->families[i].help);
	}
	free(doc->samples);
	free(doc->families);
	memset(doc, 0, sizeof(*doc));
}

const struct prom_sample *
prom_find(const struct prom_doc *doc, const char *name, ...)
{
	const char *want[2 * PROM_MAX_LABELS], *v;
	const struct prom_sample *s;
	size_t n = 0, i, j;
	va_list ap;

	va_start(ap, name);
	while (n < 2 * PROM_MAX_LABELS &&
	       (want[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	for (i = 0; i < doc->nsamples; i++) {
		s = &doc->samples[i];
		if (strcmp(s->name, name) != 0 || s->nlabels != n / 2)
			continue;
		for (j = 0; j + 1 < n; j += 2)
			if ((v = prom_label_value(s, want[j])) == NULL ||
			    strcmp(v, want[j + 1]) != 0)
				break;
		if (j + 1 >= n)
			return s;
	}
	return NULL;
}

double
prom_sum(const struct prom_doc *doc, const char *name)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < doc->nsamples; i++)
		if (strcmp(doc->samples[i].name, name) == 0)
			sum += doc->samples[i].value;
	return sum;
}

const struct prom_family *
prom_family(const struct prom_doc *doc, const char *name)
{
	ssize_t i = prom_family_index(doc, name, strlen(name));

	return i < 0 ? NULL : &doc->families[i];
}
