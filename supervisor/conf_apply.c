/*
 * The key-table machinery of the configuration loader: apply a libconfig
 * tree or a string (environment, flag) to the struct a table describes,
 * with type and range checks and errors that name the setting and where
 * it came from; print a table back in libconfig syntax.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/conf_impl.h"

#define CONF_FILE_MAX (16 * 1024 * 1024) /* larger is not a config */

void
conf_ctx_init(struct conf_ctx *x, const struct conf_key *keys, size_t nkeys,
    void *base, conf_report_fn *report, void *arg)
{
	memset(x, 0, sizeof(*x));
	x->keys = keys;
	x->nkeys = nkeys;
	x->base = base;
	x->report = report;
	x->arg = arg;
}

/* Record an error "WHERE: reason"; the first one is kept in x->first. */
void
conf_ctx_error(struct conf_ctx *x, const char *where, const char *fmt, ...)
{
	char msg[400], line[sizeof(x->first)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (where != NULL && *where != '\0')
		snprintf(line, sizeof(line), "%s: %s", where, msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	if (x->nerr++ == 0)
		memcpy(x->first, line, sizeof(line));
	if (x->report != NULL)
		x->report(line, x->arg);
}

int
conf_key_index(const struct conf_ctx *x, const char *path)
{
	size_t i;

	for (i = 0; i < x->nkeys; i++) {
		if (strcmp(x->keys[i].path, path) == 0)
			return (int)i;
	}
	return -1;
}

int
conf_is_set(const struct conf_ctx *x, const char *path)
{
	int i = conf_key_index(x, path);

	return i >= 0 && x->set[i];
}

/* Where a key's value came from, for errors found after loading. */
const char *
conf_where(const struct conf_ctx *x, const char *path)
{
	int i = conf_key_index(x, path);

	return i >= 0 && x->set[i] ? x->where[i] : "";
}

/*
 * libconfig 1.5 opens an @include as include_dir + "/" + path but records
 * the path as written; give it back as the name a user can open.
 */
static void
source_name(const config_t *cfg, const char *file, char *buf, size_t len)
{
	if (file == NULL)
		file = "(string)";
	if (cfg->include_dir != NULL && strcmp(cfg->include_dir, ".") != 0 &&
	    cfg->num_filenames > 0 && strcmp(file, cfg->filenames[0]) != 0)
		snprintf(buf, len, "%s/%s", cfg->include_dir, file);
	else
		snprintf(buf, len, "%s", file);
}

void
conf_setting_where(const config_setting_t *s, char *buf, size_t len)
{
	char name[CONF_WHERE_MAX - 16];

	source_name(
	    s->config, config_setting_source_file(s), name, sizeof(name));
	snprintf(buf, len, "%s:%u", name, config_setting_source_line(s));
}

static void *
field(const struct conf_ctx *x, size_t off)
{
	return (char *)x->base + off;
}

static void
mark(struct conf_ctx *x, size_t idx, const char *where)
{
	x->set[idx] = 1;
	snprintf(x->where[idx], sizeof(x->where[idx]), "%s", where);
}

static void
set_aux(struct conf_ctx *x, const struct conf_key *k, uint32_t v)
{
	if (k->aux == CONF_NOAUX)
		return;
	if (k->kind == CK_KEYS || k->kind == CK_LABELS || k->kind == CK_STRLIST)
		*(uint32_t *)field(x, k->aux) = v;
	else
		*(int *)field(x, k->aux) = (int)v;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
store_sha256(struct conf_ctx *x, const struct conf_key *k, const char *v,
    const char *where)
{
	uint8_t *out = field(x, k->off);
	size_t i;

	if (strlen(v) != 2 * CONF_SHA256_LEN)
		goto bad;
	for (i = 0; i < CONF_SHA256_LEN; i++) {
		int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto bad;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	set_aux(x, k, 1);
	return 0;
bad:
	conf_ctx_error(
	    x, where, "setting \"%s\" must be 64 hexadecimal digits", k->path);
	return -1;
}

static int
store_loglevel(struct conf_ctx *x, const struct conf_key *k, const char *v,
    const char *where)
{
	static const char *levels[] = {"info", "verbose", "debug"};
	int i;

	for (i = 0; i < 3; i++) {
		if (strcmp(v, levels[i]) == 0) {
			*(int *)field(x, k->off) = i;
			return 0;
		}
	}
	conf_ctx_error(x, where,
	    "setting \"%s\" must be \"info\", \"verbose\" or \"debug\"",
	    k->path);
	return -1;
}

/* Every string-valued kind: length, validation, then its own storage. */
static int
store_string(struct conf_ctx *x, size_t idx, const char *v, const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	const char *why;

	switch (k->kind) {
	case CK_LOGLEVEL:
		return store_loglevel(x, k, v, where);
	case CK_SHA256:
		return store_sha256(x, k, v, where);
	case CK_HASHED:
		if ((why = conf_check_token(v)) != NULL)
			goto bad;
		set_aux(x, k, *v != '\0');
		if (*v != '\0')
			conf_hash_key(v, strlen(v), field(x, k->off));
		return 0;
	default:
		break;
	}
	if (strlen(v) >= k->size) {
		conf_ctx_error(x, where,
		    "setting \"%s\" is too long (at most %zu bytes)", k->path,
		    k->size - 1);
		return -1;
	}
	if (k->check != NULL && (why = k->check(v)) != NULL)
		goto bad;
	memset(field(x, k->off), 0, k->size);
	memcpy(field(x, k->off), v, strlen(v));
	return 0;
bad:
	conf_ctx_error(x, where, "setting \"%s\" %s", k->path, why);
	return -1;
}

static void
format_value(const struct conf_key *k, uint64_t v, char *buf, size_t len)
{
	if (k->kind == CK_SIZE)
		conf_format_size(v, buf, len);
	else if (k->kind == CK_DURATION)
		conf_format_duration(v, buf, len);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

static int
range_error(struct conf_ctx *x, const struct conf_key *k, const char *where)
{
	char lo[32], hi[32];

	format_value(k, (uint64_t)k->min, lo, sizeof(lo));
	format_value(k, (uint64_t)k->max, hi, sizeof(hi));
	if (k->kind == CK_INT && k->min < 0)
		snprintf(lo, sizeof(lo), "%" PRId64, k->min);
	conf_ctx_error(x, where, "setting \"%s\" must be between %s and %s",
	    k->path, lo, hi);
	return -1;
}

/* Sizes, durations and integers after parsing. */
static int
store_number(struct conf_ctx *x, size_t idx, int64_t v, const char *where)
{
	const struct conf_key *k = &x->keys[idx];

	if (v < k->min || v > k->max)
		return range_error(x, k, where);
	if (k->kind == CK_INT)
		*(int32_t *)field(x, k->off) = (int32_t)v;
	else if (k->size == sizeof(uint64_t))
		*(uint64_t *)field(x, k->off) = (uint64_t)v;
	else
		*(uint32_t *)field(x, k->off) = (uint32_t)v;
	set_aux(x, k, 1);
	return 0;
}

static int
store_unsigned(struct conf_ctx *x, size_t idx, uint64_t v, const char *where)
{
	if (v > INT64_MAX)
		return range_error(x, &x->keys[idx], where);
	return store_number(x, idx, (int64_t)v, where);
}

static int
store_float(struct conf_ctx *x, size_t idx, double v, const char *where)
{
	const struct conf_key *k = &x->keys[idx];

	if (!isfinite(v) || v < k->fmin || v > k->fmax) {
		conf_ctx_error(x, where,
		    "setting \"%s\" must be between %g and %g", k->path,
		    k->fmin, k->fmax);
		return -1;
	}
	*(float *)field(x, k->off) = (float)v;
	set_aux(x, k, 1);
	return 0;
}

/* API keys (hashed) and stop strings: a whole list replaces the old one. */
static int
store_list(struct conf_ctx *x, size_t idx, const char *const *v, size_t n,
    const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	const char *why;
	size_t i;

	if (n > (size_t)k->max) {
		conf_ctx_error(x, where,
		    "setting \"%s\" has %zu entries "
		    "(at most %" PRId64 ")",
		    k->path, n, k->max);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (*v[i] == '\0') {
			conf_ctx_error(x, where,
			    "setting \"%s\" must not "
			    "contain empty strings",
			    k->path);
			return -1;
		}
		if (k->kind == CK_KEYS && (why = conf_check_token(v[i]))) {
			conf_ctx_error(
			    x, where, "setting \"%s\" %s", k->path, why);
			return -1;
		}
		if (k->kind == CK_STRLIST && strlen(v[i]) >= k->size) {
			conf_ctx_error(x, where,
			    "setting \"%s\": entry %zu is "
			    "too long (at most %zu bytes)",
			    k->path, i + 1, k->size - 1);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		char *dst = (char *)field(x, k->off) + i * k->size;

		if (k->kind == CK_KEYS)
			conf_hash_key(v[i], strlen(v[i]), (uint8_t *)dst);
		else
			snprintf(dst, k->size, "%s", v[i]);
	}
	set_aux(x, k, (uint32_t)n);
	return 0;
}

static int
store_labels(struct conf_ctx *x, size_t idx, const char *const *names,
    const char *const *values, size_t n, const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	struct conf_label *l = field(x, k->off);
	size_t i, j;

	if (n > (size_t)k->max) {
		conf_ctx_error(x, where,
		    "setting \"%s\" has %zu labels "
		    "(at most %" PRId64 ")",
		    k->path, n, k->max);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!conf_valid_name(names[i])) {
			conf_ctx_error(x, where,
			    "setting \"%s\": label name "
			    "\"%s\" must be 1 to 63 characters of A-Z a-z 0-9 "
			    ". _ -",
			    k->path, names[i]);
			return -1;
		}
		if (!conf_valid_label_value(values[i])) {
			conf_ctx_error(x, where,
			    "setting \"%s\": the value of "
			    "label \"%s\" must be at most 63 printable "
			    "characters without ',' or '='",
			    k->path, names[i]);
			return -1;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(names[i], names[j]) == 0) {
				conf_ctx_error(x, where,
				    "setting \"%s\": "
				    "label \"%s\" given twice",
				    k->path, names[i]);
				return -1;
			}
		}
	}
	memset(l, 0, (size_t)k->max * sizeof(*l));
	for (i = 0; i < n; i++) {
		snprintf(l[i].key, sizeof(l[i].key), "%s", names[i]);
		snprintf(l[i].value, sizeof(l[i].value), "%s", values[i]);
	}
	set_aux(x, k, (uint32_t)n);
	return 0;
}

static const char *
type_name(enum conf_kind kind)
{
	switch (kind) {
	case CK_BOOL:
		return "a boolean (true or false)";
	case CK_UINT:
	case CK_INT:
		return "an integer";
	case CK_FLOAT:
		return "a number";
	case CK_SIZE:
		return "a size: bytes or a string such as \"8MiB\"";
	case CK_DURATION:
		return "a duration: milliseconds or a string such as \"30s\"";
	case CK_KEYS:
	case CK_STRLIST:
		return "a list of strings";
	case CK_LABELS:
		return "a group of name = \"value\" settings";
	default:
		return "a string";
	}
}

static int
type_error(struct conf_ctx *x, const struct conf_key *k, const char *where)
{
	conf_ctx_error(
	    x, where, "setting \"%s\" must be %s", k->path, type_name(k->kind));
	return -1;
}

static int
is_int(int type)
{
	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
}

/* A size or a duration given as a string, from any source. */
static int
apply_measure_string(
    struct conf_ctx *x, size_t idx, const char *str, const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	uint64_t v;
	int rc;

	rc = k->kind == CK_SIZE ? conf_parse_size(str, &v)
	                        : conf_parse_duration(str, &v);
	if (rc == -1) {
		conf_ctx_error(x, where,
		    "setting \"%s\": invalid %s \"%s\" "
		    "(%s)",
		    k->path, k->kind == CK_SIZE ? "size" : "duration", str,
		    k->kind == CK_SIZE
		        ? "bytes, or units B, KiB, MiB, "
		          "GiB, TiB"
		        : "milliseconds, or units ms, s, m, h as in "
		          "\"1m30s\"");
		return -1;
	}
	return store_unsigned(x, idx, v, where);
}

/* A size or a duration from the file: a number, or a string with units. */
static int
apply_measure(struct conf_ctx *x, size_t idx, const config_setting_t *s,
    const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	const char *str;

	if (is_int(config_setting_type(s))) {
		long long n = config_setting_get_int64(s);

		if (n < 0)
			return range_error(x, k, where);
		return store_unsigned(x, idx, (uint64_t)n, where);
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return type_error(x, k, where);
	str = config_setting_get_string(s);
	return apply_measure_string(x, idx, str, where);
}

/* A list of strings from the file: one string, an array or a list. */
static int
apply_strlist(struct conf_ctx *x, size_t idx, const config_setting_t *s,
    const char *where)
{
	const char *v[CONF_MAX_API_KEYS + 1];
	int type = config_setting_type(s), n, i;

	if (type == CONFIG_TYPE_STRING) {
		v[0] = config_setting_get_string(s);
		return store_list(x, idx, v, 1, where);
	}
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return type_error(x, &x->keys[idx], where);
	n = config_setting_length(s);
	for (i = 0; i < n && i <= CONF_MAX_API_KEYS; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return type_error(x, &x->keys[idx], where);
		v[i] = config_setting_get_string(e);
	}
	return store_list(
	    x, idx, v, (size_t)i < (size_t)n ? (size_t)n : (size_t)i, where);
}

static int
apply_labels(struct conf_ctx *x, size_t idx, const config_setting_t *s,
    const char *where)
{
	const char *names[CONF_MAX_LABELS + 1], *values[CONF_MAX_LABELS + 1];
	int n, i;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return type_error(x, &x->keys[idx], where);
	n = config_setting_length(s);
	for (i = 0; i < n && i <= CONF_MAX_LABELS; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		char ew[CONF_WHERE_MAX];

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_setting_where(e, ew, sizeof(ew));
			conf_ctx_error(x, ew,
			    "label \"%s.%s\" must be a string",
			    x->keys[idx].path, config_setting_name(e));
			return -1;
		}
		names[i] = config_setting_name(e);
		values[i] = config_setting_get_string(e);
	}
	if (n > i)
		i = n; /* store_labels reports the count */
	return store_labels(x, idx, names, values, (size_t)i, where);
}

/* One setting of the file onto key idx. */
static int
apply_setting(struct conf_ctx *x, size_t idx, const config_setting_t *s,
    const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	int type = config_setting_type(s);

	switch (k->kind) {
	case CK_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			return type_error(x, k, where);
		*(int *)field(x, k->off) = config_setting_get_bool(s);
		return 0;
	case CK_UINT:
	case CK_INT:
		if (!is_int(type))
			return type_error(x, k, where);
		return store_number(x, idx, config_setting_get_int64(s), where);
	case CK_FLOAT:
		if (is_int(type))
			return store_float(
			    x, idx, (double)config_setting_get_int64(s), where);
		if (type != CONFIG_TYPE_FLOAT)
			return type_error(x, k, where);
		return store_float(x, idx, config_setting_get_float(s), where);
	case CK_SIZE:
	case CK_DURATION:
		return apply_measure(x, idx, s, where);
	case CK_KEYS:
	case CK_STRLIST:
		return apply_strlist(x, idx, s, where);
	case CK_LABELS:
		return apply_labels(x, idx, s, where);
	default:
		if (type != CONFIG_TYPE_STRING)
			return type_error(x, k, where);
		return store_string(
		    x, idx, config_setting_get_string(s), where);
	}
}

/* Split "a, b,c" in place on commas, trimming blanks; empties dropped. */
static size_t
split_commas(char *buf, const char **out, size_t max)
{
	char *p = buf, *tok, *save = NULL, *end;
	size_t n = 0;

	while ((tok = strtok_r(p, ",", &save)) != NULL) {
		p = NULL;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok == '\0')
			continue;
		if (n < max)
			out[n] = tok;
		n++;
	}
	return n;
}

static int
apply_string_labels(
    struct conf_ctx *x, size_t idx, char *buf, const char *where)
{
	const char *items[CONF_MAX_LABELS + 1];
	const char *values[CONF_MAX_LABELS + 1];
	size_t n = split_commas(buf, items, CONF_MAX_LABELS + 1), i;

	for (i = 0; i < n && i <= CONF_MAX_LABELS; i++) {
		char *eq = strchr(items[i], '=');

		if (eq == NULL) {
			conf_ctx_error(x, where,
			    "setting \"%s\" must be "
			    "name=value pairs separated by commas",
			    x->keys[idx].path);
			return -1;
		}
		*eq = '\0';
		values[i] = eq + 1;
	}
	return store_labels(x, idx, items, values, n, where);
}

/*
 * A value given as a string (environment or flag) onto key idx; every
 * kind parses its string form, lists split on commas.
 */
int
conf_apply_string(
    struct conf_ctx *x, size_t idx, const char *value, const char *where)
{
	const struct conf_key *k = &x->keys[idx];
	char buf[4096];
	const char *items[CONF_MAX_API_KEYS + 1];
	int64_t i64;
	int b, rc;

	switch (k->kind) {
	case CK_BOOL:
		if (conf_parse_bool(value, &b) == -1) {
			conf_ctx_error(x, where,
			    "setting \"%s\" must be a "
			    "boolean (true/false, yes/no, on/off, 1/0)",
			    k->path);
			return -1;
		}
		*(int *)field(x, k->off) = b;
		rc = 0;
		break;
	case CK_UINT:
	case CK_INT:
		if (conf_parse_int64(value, &i64) == -1)
			return type_error(x, k, where);
		rc = store_number(x, idx, i64, where);
		break;
	case CK_FLOAT: {
		char *end;
		double d;

		errno = 0;
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || errno != 0)
			return type_error(x, k, where);
		rc = store_float(x, idx, d, where);
		break;
	}
	case CK_SIZE:
	case CK_DURATION:
		rc = apply_measure_string(x, idx, value, where);
		break;
	case CK_KEYS:
	case CK_STRLIST:
	case CK_LABELS:
		if (strlen(value) >= sizeof(buf)) {
			conf_ctx_error(
			    x, where, "setting \"%s\" is too long", k->path);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", value);
		if (k->kind == CK_LABELS)
			rc = apply_string_labels(x, idx, buf, where);
		else
			rc = store_list(x, idx, items,
			    split_commas(buf, items, CONF_MAX_API_KEYS + 1),
			    where);
		break;
	default:
		rc = store_string(x, idx, value, where);
		break;
	}
	if (rc == 0)
		mark(x, idx, where);
	return rc;
}

/* Edit distance of two short names, for "did you mean" hints. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[CONF_NAME_MAX + 1];

	if (la > CONF_NAME_MAX || lb > CONF_NAME_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++) {
		size_t prev = d[0], tmp;

		d[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = d[j];
			d[j] = prev + (a[i - 1] != b[j - 1]);
			if (d[j - 1] + 1 < d[j])
				d[j] = d[j - 1] + 1;
			if (tmp + 1 < d[j])
				d[j] = tmp + 1;
			prev = tmp;
		}
	}
	return d[lb];
}

static const char *
last_component(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL ? dot + 1 : path;
}

/*
 * The known key or group closest to an unknown name, into out: 1 when
 * one is close enough to be a likely typo, else 0.
 */
static int
suggest(const struct conf_ctx *x, const char *path, char *out, size_t len)
{
	const char *name = last_component(path);
	size_t bestd = 3, d, i, glen;

	for (i = 0; i < x->nkeys; i++) {
		const char *p = x->keys[i].path, *dot = strchr(p, '.');

		if ((d = distance(name, last_component(p))) < bestd) {
			bestd = d;
			snprintf(out, len, "%s", p);
		}
		/* A misspelled group: "parameter = { ... }". */
		glen = dot != NULL ? (size_t)(dot - p) : 0;
		if (glen > 0 && glen < CONF_NAME_MAX) {
			char group[CONF_NAME_MAX];

			snprintf(group, sizeof(group), "%.*s", (int)glen, p);
			if ((d = distance(name, group)) < bestd) {
				bestd = d;
				snprintf(out, len, "%s", group);
			}
		}
	}
	return bestd < 3 && bestd * 3 <= strlen(name) + 2;
}

static int
is_group(const struct conf_ctx *x, const char *path)
{
	size_t n = strlen(path), i;

	for (i = 0; i < x->nkeys; i++) {
		if (strncmp(x->keys[i].path, path, n) == 0 &&
		    x->keys[i].path[n] == '.')
			return 1;
	}
	return 0;
}

static int
was_wrapped(const struct conf_ctx *x, const char *where)
{
	unsigned i;

	for (i = 0; i < x->nwrapped; i++) {
		if (strcmp(x->wrapped[i], where) == 0)
			return 1;
	}
	return 0;
}

/*
 * Apply every member of a group of the file: known keys are applied,
 * known groups are walked, anything else is an unknown setting.
 */
void
conf_walk(struct conf_ctx *x, const config_setting_t *group, const char *prefix)
{
	char path[256], where[CONF_WHERE_MAX], hint[256];
	int n = config_setting_length(group), i, idx;

	for (i = 0; i < n; i++) {
		const config_setting_t *s =
		    config_setting_get_elem(group, (unsigned)i);

		snprintf(
		    path, sizeof(path), "%s%s", prefix, config_setting_name(s));
		conf_setting_where(s, where, sizeof(where));
		if ((idx = conf_key_index(x, path)) >= 0) {
			x->seen[idx] = 1;
			/* A wrapped int was reported by conf_scan_sources(). */
			if (is_int(config_setting_type(s)) &&
			    was_wrapped(x, where))
				continue;
			if (apply_setting(x, (size_t)idx, s, where) == 0)
				mark(x, (size_t)idx, where);
		} else if (is_group(x, path)) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				conf_ctx_error(x, where,
				    "setting \"%s\" must "
				    "be a group: %s = { ... };",
				    path, path);
				continue;
			}
			strncat(path, ".", sizeof(path) - strlen(path) - 1);
			conf_walk(x, s, path);
		} else if (suggest(x, path, hint, sizeof(hint)))
			conf_ctx_error(x, where,
			    "unknown setting \"%s\" "
			    "(did you mean \"%s\"?)",
			    path, hint);
		else
			conf_ctx_error(
			    x, where, "unknown setting \"%s\"", path);
	}
}

/* Read a whole (small) file; NULL with errno set on failure. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &st) == -1) {
		fclose(fp);
		return NULL;
	}
	if (S_ISDIR(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		fclose(fp);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		free(buf);
		fclose(fp);
		errno = EIO;
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* The distinct files (main and included) the settings came from. */
static void
collect_files(const config_setting_t *s, char (*files)[CONF_WHERE_MAX],
    size_t *n, size_t max)
{
	const char *f = config_setting_source_file(s);
	char name[CONF_WHERE_MAX];
	int i, len;

	if (f != NULL) {
		source_name(s->config, f, name, sizeof(name));
		for (i = 0; i < (int)*n && strcmp(files[i], name) != 0; i++)
			;
		if (i == (int)*n && *n < max)
			memcpy(files[(*n)++], name, sizeof(name));
	}
	if (config_setting_is_aggregate(s)) {
		len = config_setting_length(s);
		for (i = 0; i < len; i++)
			collect_files(config_setting_get_elem(s, (unsigned)i),
			    files, n, max);
	}
}

/*
 * libconfig 1.5 wraps integer literals beyond 32 bits without an error;
 * scan every file the tree came from (includes too) and report them.
 */
int
conf_scan_sources(struct conf_ctx *x, const config_t *cfg)
{
	char files[32][CONF_WHERE_MAX];
	char lit[48], where[CONF_WHERE_MAX], *text;
	size_t n = 0, i, len, off;
	unsigned line, base;
	int rc = 0;

	collect_files(config_root_setting(cfg), files, &n, 32);
	for (i = 0; i < n; i++) {
		if ((text = slurp(files[i], &len)) == NULL)
			continue; /* libconfig read it; nothing to add */
		base = 0;
		for (off = 0; off < len;) {
			size_t used = conf_scan_ints(
			    text + off, len - off, &line, lit, sizeof(lit));

			if (used == 0)
				break;
			snprintf(where, sizeof(where), "%.280s:%u", files[i],
			    base + line);
			conf_ctx_error(x, where,
			    "integer %s does not fit in 32 "
			    "bits: write %sL, or a size or duration string",
			    lit, lit);
			if (x->nwrapped < 8)
				snprintf(x->wrapped[x->nwrapped++],
				    CONF_WHERE_MAX, "%s", where);
			base += line - 1;
			off += used;
			rc = -1;
		}
		free(text);
	}
	return rc;
}

/*
 * Parse one file.  libconfig's own message for a missing file names no
 * file, so the file is opened here first and errno reported; includes
 * resolve against the file's own directory.
 */
int
conf_read_file(struct conf_ctx *x, config_t *cfg, const char *path)
{
	char buf[PATH_MAX], *dir;
	size_t len;
	char *text;

	if ((text = slurp(path, &len)) == NULL) {
		conf_ctx_error(x, path, "%s", strerror(errno));
		return -1;
	}
	free(text);
	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	config_set_include_dir(cfg, dir);
	if (config_read_file(cfg, path) == CONFIG_TRUE) {
		/* Overflows are reported; the walk still finds the rest. */
		conf_scan_sources(x, cfg);
		return 0;
	}
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		conf_ctx_error(x, path, "cannot read the file");
	else {
		char where[CONF_WHERE_MAX], name[CONF_WHERE_MAX - 16];
		const char *msg = config_error_text(cfg);

		source_name(cfg,
		    config_error_file(cfg) != NULL ? config_error_file(cfg)
		                                   : path,
		    name, sizeof(name));
		snprintf(where, sizeof(where), "%s:%d", name,
		    config_error_line(cfg));
		if (strcmp(msg, "cannot open include file") == 0)
			conf_ctx_error(x, where,
			    "%s (include paths are "
			    "relative to %s)",
			    msg, dir);
		else
			conf_ctx_error(x, where, "%s", msg);
	}
	return -1;
}
