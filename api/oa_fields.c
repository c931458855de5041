/*
 * Request field validation shared by every endpoint: the body → JSON
 * object step, typed getters whose errors name the field the way OpenAI
 * does ("Invalid type for 'temperature': expected a number, but got a
 * string instead."), the sampling fields of chat and text completions, and
 * the merge of model-config defaults into them.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/oa_internal.h"

#define INVALID "invalid_request_error"

json_t *
oa_parse_object(const char *body, size_t len, const struct openai_limits *l,
    struct openai_error *err)
{
	struct openai_prescan ps;
	json_error_t je;
	json_t *root;

	openai_prescan_init(&ps, l);
	if (openai_prescan_feed(&ps, body, len, err) == -1)
		return NULL;
	if ((root = json_loadb(body, len, JSON_DECODE_ANY, &je)) == NULL) {
		openai_error_set(err, 400, INVALID, NULL, NULL,
		    "We could not parse the JSON body of your request: %s "
		    "(line %d, column %d, position %d).",
		    je.text, je.line, je.column, je.position);
		return NULL;
	}
	if (!json_is_object(root)) {
		openai_error_set(err, 400, INVALID, "invalid_type", NULL,
		    "The request body must be a JSON object, but got %s "
		    "instead.",
		    oa_json_kind(root));
		json_decref(root);
		return NULL;
	}
	return root;
}

const char *
oa_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

void
oa_err_type(struct openai_error *err, const char *param, const char *expected,
    const json_t *got)
{
	openai_error_set(err, 400, INVALID, "invalid_type", param,
	    "Invalid type for '%s': expected %s, but got %s instead.", param,
	    expected, oa_json_kind(got));
}

void
oa_err_missing(struct openai_error *err, const char *param)
{
	openai_error_set(err, 400, INVALID, "missing_required_parameter", param,
	    "Missing required parameter: '%s'.", param);
}

void
oa_err_value(struct openai_error *err, const char *param, const char *fmt, ...)
{
	va_list ap;

	openai_error_set(err, 400, INVALID, "invalid_value", param, "%s", "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void
oa_err_nomem(struct openai_error *err)
{
	openai_error_internal(err, "Out of memory.");
}

/* A member that is present and not null, else NULL. */
static json_t *
member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return v == NULL || json_is_null(v) ? NULL : v;
}

int
oa_get_string(json_t *obj, const char *key, int required, char **out,
    size_t *lenp, struct openai_error *err)
{
	return oa_get_string_at(obj, key, key, required, out, lenp, err);
}

int
oa_get_string_at(json_t *obj, const char *key, const char *param, int required,
    char **out, size_t *lenp, struct openai_error *err)
{
	json_t *v = member(obj, key);
	size_t len;

	if (v == NULL) {
		if (!required)
			return 0;
		oa_err_missing(err, param);
		return -1;
	}
	if (!json_is_string(v)) {
		oa_err_type(err, param, "a string", v);
		return -1;
	}
	len = json_string_length(v);
	free(*out);
	if ((*out = malloc(len + 1)) == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	memcpy(*out, json_string_value(v), len + 1);
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

int
oa_get_model(json_t *obj, char **out, struct openai_error *err)
{
	if (oa_get_string(obj, "model", 1, out, NULL, err) == -1)
		return -1;
	if ((*out)[0] == '\0') {
		oa_err_missing(err, "model");
		return -1;
	}
	return 0;
}

/* A number out of its documented range, with OpenAI's error codes. */
static void
range_error(struct openai_error *err, const char *key, double v, double lim,
    int above, int integer)
{
	openai_error_set(err, 400, INVALID,
	    integer ? (above ? "integer_above_max_value"
	                     : "integer_below_min_value")
	            : (above ? "decimal_above_max_value"
	                     : "decimal_below_min_value"),
	    key, "Invalid '%s': %.15g is %s the %s of %.15g.", key, v,
	    above ? "greater than" : "less than", above ? "maximum" : "minimum",
	    lim);
}

int
oa_get_number(json_t *obj, const char *key, double min, double max, int *have,
    double *out, struct openai_error *err)
{
	json_t *v = member(obj, key);
	double d;

	if (v == NULL)
		return 0;
	if (!json_is_number(v)) {
		oa_err_type(err, key, "a number", v);
		return -1;
	}
	d = json_number_value(v);
	if (d < min || d > max) {
		range_error(err, key, d, d < min ? min : max, d > max, 0);
		return -1;
	}
	*out = d;
	*have = 1;
	return 0;
}

/* Integers may also be written as reals with no fraction (100.0). */
int
oa_get_int(json_t *obj, const char *key, int64_t min, int64_t max, int *have,
    int64_t *out, struct openai_error *err)
{
	json_t *v = member(obj, key);
	int64_t i;
	double d;

	if (v == NULL)
		return 0;
	d = json_is_real(v) ? json_real_value(v) : 0.5;
	if (json_is_integer(v))
		i = json_integer_value(v);
	else if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
		i = (int64_t)d;
	else {
		oa_err_type(err, key, "an integer", v);
		return -1;
	}
	if (i < min || i > max) {
		range_error(err, key, (double)i, (double)(i < min ? min : max),
		    i > max, 1);
		return -1;
	}
	*out = i;
	*have = 1;
	return 0;
}

int
oa_get_bool(
    json_t *obj, const char *key, int *have, int *out, struct openai_error *err)
{
	json_t *v = member(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		oa_err_type(err, key, "a boolean", v);
		return -1;
	}
	*out = json_is_true(v);
	if (have != NULL)
		*have = 1;
	return 0;
}

int
oa_check_n(json_t *obj, struct openai_error *err)
{
	int64_t n = 1;
	int have = 0;

	if (oa_get_int(obj, "n", INT64_MIN, INT64_MAX, &have, &n, err) == -1)
		return -1;
	if (n != 1) {
		oa_err_value(err, "n",
		    "Invalid 'n': only n=1 is supported, "
		    "got %lld.",
		    (long long)n);
		return -1;
	}
	return 0;
}

int
oa_get_stream(
    json_t *obj, int *stream, int *include_usage, struct openai_error *err)
{
	json_t *opts;
	int usage = 0;

	*stream = 0;
	*include_usage = 0;
	if (oa_get_bool(obj, "stream", NULL, stream, err) == -1)
		return -1;
	if ((opts = member(obj, "stream_options")) == NULL)
		return 0;
	if (!json_is_object(opts)) {
		oa_err_type(err, "stream_options", "an object", opts);
		return -1;
	}
	if (member(opts, "include_usage") != NULL &&
	    !json_is_boolean(member(opts, "include_usage"))) {
		oa_err_type(err, "stream_options.include_usage", "a boolean",
		    member(opts, "include_usage"));
		return -1;
	}
	usage = json_is_true(member(opts, "include_usage"));
	*include_usage = *stream && usage;
	return 0;
}

/* Add a stop string unless it is empty, known already, or there is no room. */
static int
stop_add(struct openai_sampling *s, const char *text, size_t len)
{
	size_t i;

	if (len == 0 || s->n_stop == OPENAI_STOPS_TOTAL)
		return 0;
	for (i = 0; i < s->n_stop; i++)
		if (strlen(s->stop[i]) == len &&
		    memcmp(s->stop[i], text, len) == 0)
			return 0;
	if ((s->stop[s->n_stop] = strndup(text, len)) == NULL)
		return -1;
	s->n_stop++;
	return 0;
}

/* stop: a string, or an array of at most OPENAI_STOP_MAX strings. */
static int
get_stop(json_t *obj, struct openai_sampling *s, struct openai_error *err)
{
	json_t *v = member(obj, "stop"), *e;
	size_t i;
	char param[32];

	if (v == NULL)
		return 0;
	if (json_is_string(v)) {
		if (stop_add(s, json_string_value(v), json_string_length(v)))
			goto nomem;
		return 0;
	}
	if (!json_is_array(v)) {
		oa_err_type(err, "stop", "a string or an array of strings", v);
		return -1;
	}
	if (json_array_size(v) > OPENAI_STOP_MAX) {
		openai_error_set(err, 400, INVALID, "array_above_max_length",
		    "stop",
		    "Invalid 'stop': expected an array with maximum "
		    "length %d, but got an array with length %zu instead.",
		    OPENAI_STOP_MAX, json_array_size(v));
		return -1;
	}
	json_array_foreach(v, i, e)
	{
		snprintf(param, sizeof(param), "stop[%zu]", i);
		if (!json_is_string(e)) {
			oa_err_type(err, param, "a string", e);
			return -1;
		}
		if (stop_add(s, json_string_value(e), json_string_length(e)))
			goto nomem;
	}
	return 0;
nomem:
	oa_err_nomem(err);
	return -1;
}

int
oa_get_sampling(
    json_t *obj, struct openai_sampling *s, struct openai_error *err)
{
	int64_t i = 0;
	int have = 0;

	if (oa_get_number(obj, "temperature", 0, 2, &s->have_temperature,
	        &s->temperature, err) == -1 ||
	    oa_get_number(obj, "top_p", 0, 1, &s->have_top_p, &s->top_p, err) ==
	        -1 ||
	    oa_get_number(obj, "presence_penalty", -2, 2,
	        &s->have_presence_penalty, &s->presence_penalty, err) == -1 ||
	    oa_get_number(obj, "frequency_penalty", -2, 2,
	        &s->have_frequency_penalty, &s->frequency_penalty, err) == -1 ||
	    oa_get_int(obj, "seed", INT64_MIN, INT64_MAX, &s->have_seed,
	        &s->seed, err) == -1)
		return -1;
	if (oa_get_int(obj, "top_k", 0, INT32_MAX, &s->have_top_k, &i, err) ==
	    -1)
		return -1;
	s->top_k = (int32_t)i;
	i = 0;
	/* max_completion_tokens supersedes the deprecated max_tokens. */
	if (oa_get_int(obj, "max_tokens", 1, INT32_MAX, &have, &i, err) == -1)
		return -1;
	if (oa_get_int(obj, "max_completion_tokens", 1, INT32_MAX, &have, &i,
	        err) == -1)
		return -1;
	s->have_max_tokens = have;
	s->max_tokens = (int32_t)i;
	return get_stop(obj, s, err);
}

void
oa_sampling_free(struct openai_sampling *s)
{
	size_t i;

	for (i = 0; i < s->n_stop; i++)
		free(s->stop[i]);
	memset(s, 0, sizeof(*s));
}

/* The model's parameters = { … } where the request left a value unset. */
static void
model_parameters(struct openai_sampling *s, const struct conf_model *m)
{
	if (!s->have_temperature && m->have_temperature) {
		s->temperature = m->temperature;
		s->have_temperature = 1;
	}
	if (!s->have_top_p && m->have_top_p) {
		s->top_p = m->top_p;
		s->have_top_p = 1;
	}
	if (!s->have_top_k && m->have_top_k) {
		s->top_k = m->top_k;
		s->have_top_k = 1;
	}
	if (!s->have_max_tokens && m->have_max_tokens && m->max_tokens > 0) {
		s->max_tokens = m->max_tokens;
		s->have_max_tokens = 1;
	}
	if (!s->have_seed && m->have_seed) {
		s->seed = m->seed;
		s->have_seed = 1;
	}
}

int
openai_sampling_apply_model(struct openai_sampling *s,
    const struct conf_model *m, enum openai_template t)
{
	const char *const *ts;
	uint32_t i;

	if (m != NULL) {
		model_parameters(s, m);
		for (i = 0; i < m->n_stop && i < CONF_MAX_STOP; i++)
			if (stop_add(s, m->stop[i],
			        strnlen(m->stop[i], sizeof(m->stop[i]))) == -1)
				return -1;
	}
	if (t != OPENAI_TEMPLATE_UNKNOWN)
		for (ts = openai_template_stops(t); *ts != NULL; ts++)
			if (stop_add(s, *ts, strlen(*ts)) == -1)
				return -1;
	/* OpenAI's documented defaults for what nobody set. */
	if (!s->have_temperature)
		s->temperature = 1;
	if (!s->have_top_p)
		s->top_p = 1;
	s->have_temperature = s->have_top_p = 1;
	s->have_presence_penalty = s->have_frequency_penalty = 1;
	return 0;
}
