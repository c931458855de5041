/*
 * Request bodies of the OpenAI endpoints we serve, parsed into the structs
 * of openai.h.  Each parser validates every field it knows and ignores the
 * rest, as OpenAI does; a null value counts as absent.  What we refuse that
 * OpenAI accepts is listed in docs/openai.md (n > 1, non-text content
 * parts, token-array prompts and inputs, echo, suffix, best_of > 1, speech
 * formats other than wav).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/oa_internal.h"

#define INVALID "invalid_request_error"

/* The body → object step with the caller's limits resolved. */
static json_t *
parse_body(const char *body, size_t len, const struct openai_limits *limits,
    struct openai_limits *l, struct openai_error *err)
{
	oa_limits_resolve(l, limits);
	return oa_parse_object(body, len, l, err);
}

/* Take the contents of a buffer as a C string ("" when empty). */
static char *
buf_take(struct openai_buf *b)
{
	char *s;

	if (b->failed)
		return NULL;
	if (b->data == NULL)
		return strdup("");
	s = b->data;
	openai_buf_init(b);
	return s;
}

/* ---- chat --------------------------------------------------------------- */

static int
parse_role(json_t *msg, const char *prefix, enum openai_role *role,
    struct openai_error *err)
{
	static const char *const names[] = {
	    "system",
	    "developer",
	    "user",
	    "assistant",
	    "tool",
	};
	static const enum openai_role roles[] = {
	    OPENAI_ROLE_SYSTEM,
	    OPENAI_ROLE_DEVELOPER,
	    OPENAI_ROLE_USER,
	    OPENAI_ROLE_ASSISTANT,
	    OPENAI_ROLE_TOOL,
	};
	json_t *v = json_object_get(msg, "role");
	char param[64];
	size_t i;

	snprintf(param, sizeof(param), "%s.role", prefix);
	if (v == NULL || json_is_null(v)) {
		oa_err_missing(err, param);
		return -1;
	}
	if (!json_is_string(v)) {
		oa_err_type(err, param, "a string", v);
		return -1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*role = roles[i];
			return 0;
		}
	oa_err_value(err, param,
	    "Invalid value: '%.64s'. Supported values "
	    "are: 'system', 'developer', 'user', 'assistant' and 'tool'.",
	    json_string_value(v));
	return -1;
}

/* One content part: only {"type":"text","text":"…"} is accepted. */
static int
content_part(json_t *part, const char *param, struct openai_buf *b,
    struct openai_error *err)
{
	json_t *type, *text;
	char p[112];

	if (!json_is_object(part)) {
		oa_err_type(err, param, "an object", part);
		return -1;
	}
	snprintf(p, sizeof(p), "%s.type", param);
	type = json_object_get(part, "type");
	if (type == NULL || json_is_null(type)) {
		oa_err_missing(err, p);
		return -1;
	}
	if (!json_is_string(type)) {
		oa_err_type(err, p, "a string", type);
		return -1;
	}
	if (strcmp(json_string_value(type), "text") != 0) {
		oa_err_value(err, p,
		    "Invalid value: '%.64s'. Only 'text' "
		    "content parts are supported.",
		    json_string_value(type));
		return -1;
	}
	snprintf(p, sizeof(p), "%s.text", param);
	text = json_object_get(part, "text");
	if (text == NULL || json_is_null(text)) {
		oa_err_missing(err, p);
		return -1;
	}
	if (!json_is_string(text)) {
		oa_err_type(err, p, "a string", text);
		return -1;
	}
	openai_buf_append(b, json_string_value(text), json_string_length(text));
	return 0;
}

/* content: a string, or an array of text parts joined with "\n". */
static int
parse_content(json_t *msg, const char *prefix, const struct openai_limits *l,
    struct openai_message *m, struct openai_error *err)
{
	struct openai_buf b;
	json_t *v = json_object_get(msg, "content"), *part;
	char param[64], pp[96];
	size_t i;

	snprintf(param, sizeof(param), "%s.content", prefix);
	openai_buf_init(&b);
	if (v == NULL || json_is_null(v)) {
		/* Assistant turns may carry only tool_calls. */
		if (m->role != OPENAI_ROLE_ASSISTANT) {
			oa_err_missing(err, param);
			return -1;
		}
	} else if (json_is_string(v))
		openai_buf_append(
		    &b, json_string_value(v), json_string_length(v));
	else if (json_is_array(v)) {
		if (json_array_size(v) > l->parts_max) {
			openai_error_set(err, 400, INVALID,
			    "array_above_max_length", param,
			    "Invalid '%s': "
			    "more than %u content parts.",
			    param, l->parts_max);
			return -1;
		}
		json_array_foreach(v, i, part)
		{
			snprintf(pp, sizeof(pp), "%s[%zu]", param, i);
			if (i > 0)
				OA_PUTS(&b, "\n");
			if (content_part(part, pp, &b, err) == -1) {
				openai_buf_free(&b);
				return -1;
			}
		}
	} else {
		oa_err_type(
		    err, param, "a string or an array of content parts", v);
		return -1;
	}
	m->content_len = b.len;
	if ((m->content = buf_take(&b)) == NULL) {
		openai_buf_free(&b);
		oa_err_nomem(err);
		return -1;
	}
	return 0;
}

/* name, tool_call_id (required for tool messages) and tool_calls. */
static int
parse_message_extras(json_t *msg, const char *prefix, struct openai_message *m,
    struct openai_error *err)
{
	json_t *calls;
	char param[64];

	snprintf(param, sizeof(param), "%s.name", prefix);
	if (oa_get_string_at(msg, "name", param, 0, &m->name, NULL, err) == -1)
		return -1;
	snprintf(param, sizeof(param), "%s.tool_call_id", prefix);
	if (oa_get_string_at(msg, "tool_call_id", param,
	        m->role == OPENAI_ROLE_TOOL, &m->tool_call_id, NULL, err) == -1)
		return -1;
	calls = json_object_get(msg, "tool_calls");
	if (m->role != OPENAI_ROLE_ASSISTANT || calls == NULL ||
	    json_is_null(calls))
		return 0;
	if (!json_is_array(calls)) {
		snprintf(param, sizeof(param), "%s.tool_calls", prefix);
		oa_err_type(err, param, "an array", calls);
		return -1;
	}
	if ((m->tool_calls = json_dumps(calls, JSON_COMPACT)) == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	return 0;
}

static int
parse_message(json_t *msg, size_t index, const struct openai_limits *l,
    struct openai_message *m, struct openai_error *err)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "messages[%zu]", index);
	if (!json_is_object(msg)) {
		oa_err_type(err, prefix, "an object", msg);
		return -1;
	}
	if (parse_role(msg, prefix, &m->role, err) == -1 ||
	    parse_content(msg, prefix, l, m, err) == -1)
		return -1;
	return parse_message_extras(msg, prefix, m, err);
}

static int
parse_messages(json_t *root, const struct openai_limits *l,
    struct openai_chat *out, struct openai_error *err)
{
	json_t *arr = json_object_get(root, "messages"), *msg;
	size_t n, i;

	if (arr == NULL || json_is_null(arr)) {
		oa_err_missing(err, "messages");
		return -1;
	}
	if (!json_is_array(arr)) {
		oa_err_type(err, "messages", "an array", arr);
		return -1;
	}
	if ((n = json_array_size(arr)) == 0) {
		openai_error_set(err, 400, INVALID, "empty_array", "messages",
		    "Invalid 'messages': empty array. Expected an array with "
		    "minimum length 1, but got an empty array instead.");
		return -1;
	}
	if (n > l->messages_max) {
		openai_error_set(err, 400, INVALID, "array_above_max_length",
		    "messages",
		    "Invalid 'messages': expected an array with "
		    "maximum length %u, but got an array with length %zu "
		    "instead.",
		    l->messages_max, n);
		return -1;
	}
	if ((out->messages = calloc(n, sizeof(*out->messages))) == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	json_array_foreach(arr, i, msg)
	{
		out->n_messages = i + 1;
		if (parse_message(msg, i, l, &out->messages[i], err) == -1)
			return -1;
	}
	return 0;
}

int
openai_chat_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_chat *out,
    struct openai_error *err)
{
	struct openai_limits l;
	json_t *root;

	memset(out, 0, sizeof(*out));
	if ((root = parse_body(body, len, limits, &l, err)) == NULL)
		return -1;
	if (oa_get_model(root, &out->model, err) == -1 ||
	    parse_messages(root, &l, out, err) == -1 ||
	    oa_get_sampling(root, &out->sampling, err) == -1 ||
	    oa_check_n(root, err) == -1 ||
	    oa_get_stream(root, &out->stream, &out->include_usage, err) == -1 ||
	    oa_get_string(root, "user", 0, &out->user, NULL, err) == -1) {
		json_decref(root);
		openai_chat_free(out);
		return -1;
	}
	json_decref(root);
	return 0;
}

void
openai_chat_free(struct openai_chat *r)
{
	size_t i;

	for (i = 0; i < r->n_messages; i++) {
		free(r->messages[i].content);
		free(r->messages[i].name);
		free(r->messages[i].tool_call_id);
		free(r->messages[i].tool_calls);
	}
	free(r->messages);
	free(r->model);
	free(r->user);
	oa_sampling_free(&r->sampling);
	memset(r, 0, sizeof(*r));
}

/* ---- completions -------------------------------------------------------- */

/* prompt: a string, or an array holding exactly one string. */
static int
parse_prompt(
    json_t *root, struct openai_completion *out, struct openai_error *err)
{
	json_t *v = json_object_get(root, "prompt"), *e;

	if (v == NULL || json_is_null(v)) {
		oa_err_missing(err, "prompt");
		return -1;
	}
	if (json_is_array(v)) {
		if (json_array_size(v) == 0) {
			oa_err_value(err, "prompt",
			    "Invalid 'prompt': empty "
			    "array.");
			return -1;
		}
		e = json_array_get(v, 0);
		if (json_is_integer(e) || json_is_array(e)) {
			oa_err_value(err, "prompt",
			    "Invalid 'prompt': token "
			    "arrays are not supported; send the prompt as "
			    "text.");
			return -1;
		}
		if (!json_is_string(e)) {
			oa_err_type(err, "prompt[0]", "a string", e);
			return -1;
		}
		if (json_array_size(v) > 1) {
			oa_err_value(err, "prompt",
			    "Invalid 'prompt': only "
			    "one prompt per request is supported.");
			return -1;
		}
		v = e;
	} else if (!json_is_string(v)) {
		oa_err_type(
		    err, "prompt", "a string or an array of strings", v);
		return -1;
	}
	out->prompt_len = json_string_length(v);
	if ((out->prompt = strdup(json_string_value(v))) == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	return 0;
}

/* echo, suffix and best_of change the output in ways we do not offer. */
static int
check_unsupported(json_t *root, struct openai_error *err)
{
	char *suffix = NULL;
	int64_t best_of = 1;
	int echo = 0, have = 0;

	if (oa_get_bool(root, "echo", NULL, &echo, err) == -1 ||
	    oa_get_int(root, "best_of", INT64_MIN, INT64_MAX, &have, &best_of,
	        err) == -1 ||
	    oa_get_string(root, "suffix", 0, &suffix, NULL, err) == -1)
		return -1;
	if (echo) {
		oa_err_value(err, "echo",
		    "Invalid 'echo': echo is not "
		    "supported by this server.");
		return -1;
	}
	if (best_of != 1) {
		oa_err_value(err, "best_of",
		    "Invalid 'best_of': only "
		    "best_of=1 is supported.");
		return -1;
	}
	if (suffix != NULL && suffix[0] != '\0') {
		free(suffix);
		oa_err_value(err, "suffix",
		    "Invalid 'suffix': insertion is "
		    "not supported by this server.");
		return -1;
	}
	free(suffix);
	return 0;
}

int
openai_completion_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_completion *out,
    struct openai_error *err)
{
	struct openai_limits l;
	json_t *root;

	memset(out, 0, sizeof(*out));
	if ((root = parse_body(body, len, limits, &l, err)) == NULL)
		return -1;
	if (oa_get_model(root, &out->model, err) == -1 ||
	    parse_prompt(root, out, err) == -1 ||
	    oa_get_sampling(root, &out->sampling, err) == -1 ||
	    oa_check_n(root, err) == -1 || check_unsupported(root, err) == -1 ||
	    oa_get_stream(root, &out->stream, &out->include_usage, err) == -1 ||
	    oa_get_string(root, "user", 0, &out->user, NULL, err) == -1) {
		json_decref(root);
		openai_completion_free(out);
		return -1;
	}
	json_decref(root);
	return 0;
}

void
openai_completion_free(struct openai_completion *r)
{
	free(r->model);
	free(r->prompt);
	free(r->user);
	oa_sampling_free(&r->sampling);
	memset(r, 0, sizeof(*r));
}

/* ---- embeddings --------------------------------------------------------- */

static int
input_add(struct openai_embeddings *out, json_t *e, const char *param,
    struct openai_error *err)
{
	if (json_is_integer(e) || json_is_array(e)) {
		oa_err_value(err, param,
		    "Invalid '%s': token arrays are not "
		    "supported; send the input as text.",
		    param);
		return -1;
	}
	if (!json_is_string(e)) {
		oa_err_type(err, param, "a string", e);
		return -1;
	}
	if (json_string_length(e) == 0) {
		oa_err_value(err, param,
		    "Invalid '%s': the input cannot be "
		    "an empty string.",
		    param);
		return -1;
	}
	out->input_lens[out->n_inputs] = json_string_length(e);
	if ((out->inputs[out->n_inputs] = strdup(json_string_value(e))) ==
	    NULL) {
		oa_err_nomem(err);
		return -1;
	}
	out->n_inputs++;
	return 0;
}

static int
parse_inputs(json_t *root, const struct openai_limits *l,
    struct openai_embeddings *out, struct openai_error *err)
{
	json_t *v = json_object_get(root, "input"), *e;
	size_t n, i;
	char param[32];

	if (v == NULL || json_is_null(v)) {
		oa_err_missing(err, "input");
		return -1;
	}
	if (!json_is_array(v) && !json_is_string(v)) {
		oa_err_type(err, "input", "a string or an array of strings", v);
		return -1;
	}
	n = json_is_array(v) ? json_array_size(v) : 1;
	if (n == 0) {
		openai_error_set(err, 400, INVALID, "empty_array", "input",
		    "Invalid 'input': empty array. Expected an array with "
		    "minimum length 1, but got an empty array instead.");
		return -1;
	}
	if (n > l->inputs_max) {
		openai_error_set(err, 400, INVALID, "array_above_max_length",
		    "input",
		    "Invalid 'input': expected an array with maximum "
		    "length %u, but got an array with length %zu instead.",
		    l->inputs_max, n);
		return -1;
	}
	out->inputs = calloc(n, sizeof(*out->inputs));
	out->input_lens = calloc(n, sizeof(*out->input_lens));
	if (out->inputs == NULL || out->input_lens == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	if (json_is_string(v))
		return input_add(out, v, "input", err);
	json_array_foreach(v, i, e)
	{
		snprintf(param, sizeof(param), "input[%zu]", i);
		if (input_add(out, e, param, err) == -1)
			return -1;
	}
	return 0;
}

static int
parse_encoding(
    json_t *root, struct openai_embeddings *out, struct openai_error *err)
{
	char *enc = NULL;

	out->encoding = OPENAI_ENCODING_FLOAT;
	if (oa_get_string(root, "encoding_format", 0, &enc, NULL, err) == -1)
		return -1;
	if (enc == NULL || strcmp(enc, "float") == 0) {
		free(enc);
		return 0;
	}
	if (strcmp(enc, "base64") == 0) {
		out->encoding = OPENAI_ENCODING_BASE64;
		free(enc);
		return 0;
	}
	oa_err_value(err, "encoding_format",
	    "Invalid value: '%.64s'. "
	    "Supported values are: 'float' and 'base64'.",
	    enc);
	free(enc);
	return -1;
}

int
openai_embeddings_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_embeddings *out,
    struct openai_error *err)
{
	struct openai_limits l;
	json_t *root;

	memset(out, 0, sizeof(*out));
	if ((root = parse_body(body, len, limits, &l, err)) == NULL)
		return -1;
	if (oa_get_model(root, &out->model, err) == -1 ||
	    parse_inputs(root, &l, out, err) == -1 ||
	    parse_encoding(root, out, err) == -1 ||
	    oa_get_string(root, "user", 0, &out->user, NULL, err) == -1) {
		json_decref(root);
		openai_embeddings_free(out);
		return -1;
	}
	json_decref(root);
	return 0;
}

void
openai_embeddings_free(struct openai_embeddings *r)
{
	size_t i;

	for (i = 0; i < r->n_inputs; i++)
		free(r->inputs[i]);
	free(r->inputs);
	free(r->input_lens);
	free(r->model);
	free(r->user);
	memset(r, 0, sizeof(*r));
}

/* ---- speech ------------------------------------------------------------- */

static int
speech_format(json_t *root, struct openai_error *err)
{
	char *fmt = NULL;

	if (oa_get_string(root, "response_format", 0, &fmt, NULL, err) == -1)
		return -1;
	if (fmt == NULL || strcmp(fmt, "wav") == 0) {
		free(fmt);
		return 0;
	}
	oa_err_value(err, "response_format",
	    "Invalid value: '%.64s'. "
	    "Supported values are: 'wav'.",
	    fmt);
	free(fmt);
	return -1;
}

int
openai_speech_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_speech *out,
    struct openai_error *err)
{
	struct openai_limits l;
	json_t *root;
	size_t ilen = 0;
	int have = 0;

	memset(out, 0, sizeof(*out));
	out->speed = 1;
	if ((root = parse_body(body, len, limits, &l, err)) == NULL)
		return -1;
	if (oa_get_model(root, &out->model, err) == -1 ||
	    oa_get_string(root, "input", 1, &out->input, &ilen, err) == -1 ||
	    oa_get_string(root, "voice", 0, &out->voice, NULL, err) == -1 ||
	    speech_format(root, err) == -1 ||
	    oa_get_number(root, "speed", 0.25, 4, &have, &out->speed, err) ==
	        -1)
		goto fail;
	if (ilen == 0) {
		oa_err_value(err, "input",
		    "Invalid 'input': the input cannot "
		    "be an empty string.");
		goto fail;
	}
	if (oa_utf8_count(out->input, ilen) > OPENAI_SPEECH_INPUT_MAX) {
		openai_error_set(err, 400, INVALID, "string_above_max_length",
		    "input",
		    "Invalid 'input': string too long. Expected a "
		    "string with maximum length %d characters.",
		    OPENAI_SPEECH_INPUT_MAX);
		goto fail;
	}
	if (out->voice == NULL && (out->voice = strdup("")) == NULL) {
		oa_err_nomem(err);
		goto fail;
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	openai_speech_free(out);
	return -1;
}

void
openai_speech_free(struct openai_speech *r)
{
	free(r->model);
	free(r->input);
	free(r->voice);
	memset(r, 0, sizeof(*r));
}

/* ---- transcription form fields ------------------------------------------ */

/* A field value as a C string: no NUL bytes, at most string_max bytes. */
static int
field_string(const char *name, const char *value, size_t len,
    const struct openai_limits *l, char **out, struct openai_error *err)
{
	if (len > l->string_max) {
		openai_error_set(err, 400, INVALID, "string_above_max_length",
		    name, "Invalid '%s': longer than %llu bytes.", name,
		    (unsigned long long)l->string_max);
		return -1;
	}
	if (memchr(value, '\0', len) != NULL) {
		oa_err_value(
		    err, name, "Invalid '%s': contains a NUL byte.", name);
		return -1;
	}
	free(*out);
	if ((*out = strndup(value, len)) == NULL) {
		oa_err_nomem(err);
		return -1;
	}
	return 0;
}

static int
field_format(
    const char *value, struct openai_transcription *r, struct openai_error *err)
{
	static const char *const names[] = {
	    "json",
	    "text",
	    "verbose_json",
	    "srt",
	    "vtt",
	};
	static const enum openai_transcript_format fmts[] = {
	    OPENAI_TRANSCRIPT_JSON,
	    OPENAI_TRANSCRIPT_TEXT,
	    OPENAI_TRANSCRIPT_VERBOSE_JSON,
	    OPENAI_TRANSCRIPT_SRT,
	    OPENAI_TRANSCRIPT_VTT,
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(value, names[i]) == 0) {
			r->format = fmts[i];
			return 0;
		}
	oa_err_value(err, "response_format",
	    "Invalid value: '%.64s'. "
	    "Supported values are: 'json', 'text', 'verbose_json', 'srt' and "
	    "'vtt'.",
	    value);
	return -1;
}

/* A number written in full ("0.2"), nothing else around it. */
static int
field_temperature(
    const char *value, struct openai_transcription *r, struct openai_error *err)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(value, &end);
	if (value[0] == '\0' || isspace((unsigned char)value[0]) ||
	    *end != '\0' || errno != 0 || !isfinite(d)) {
		openai_error_set(err, 400, INVALID, "invalid_type",
		    "temperature",
		    "Invalid type for 'temperature': expected "
		    "a number, but got '%.32s' instead.",
		    value);
		return -1;
	}
	if (d < 0 || d > 1) {
		openai_error_set(err, 400, INVALID,
		    d < 0 ? "decimal_below_min_value"
		          : "decimal_above_max_value",
		    "temperature", "Invalid 'temperature': %.15g is %s.", d,
		    d < 0 ? "less than the minimum of 0"
		          : "greater than the maximum of 1");
		return -1;
	}
	r->temperature = d;
	r->have_temperature = 1;
	return 0;
}

/* language: an ISO-639 code ("en", "pt-BR"); letters, '-' and '_'. */
static int
field_language(const char *value, struct openai_error *err)
{
	size_t i, n = strlen(value);

	if (n == 0 || n > 16)
		goto bad;
	for (i = 0; i < n; i++)
		if (!isalpha((unsigned char)value[i]) && value[i] != '-' &&
		    value[i] != '_')
			goto bad;
	return 0;
bad:
	oa_err_value(err, "language",
	    "Invalid 'language': '%.32s' is not a "
	    "language code such as 'en'.",
	    value);
	return -1;
}

int
openai_transcription_field(struct openai_transcription *r, const char *name,
    const char *value, size_t len, const struct openai_limits *limits,
    struct openai_error *err)
{
	struct openai_limits l;
	char *tmp = NULL;
	int rc;

	oa_limits_resolve(&l, limits);
	if (strcmp(name, "model") == 0)
		return field_string(name, value, len, &l, &r->model, err);
	if (strcmp(name, "prompt") == 0)
		return field_string(name, value, len, &l, &r->prompt, err);
	if (strcmp(name, "language") == 0) {
		if (field_string(name, value, len, &l, &r->language, err) == -1)
			return -1;
		return field_language(r->language, err);
	}
	if (strcmp(name, "response_format") != 0 &&
	    strcmp(name, "temperature") != 0)
		return 0;
	if (field_string(name, value, len, &l, &tmp, err) == -1)
		return -1;
	if (strcmp(name, "response_format") == 0)
		rc = field_format(tmp, r, err);
	else
		rc = field_temperature(tmp, r, err);
	free(tmp);
	return rc;
}

int
openai_transcription_check(const struct openai_transcription *r, int need_file,
    struct openai_error *err)
{
	if (r->model == NULL || r->model[0] == '\0') {
		oa_err_missing(err, "model");
		return -1;
	}
	if (need_file && !r->have_file) {
		oa_err_missing(err, "file");
		return -1;
	}
	return 0;
}

void
openai_transcription_free(struct openai_transcription *r)
{
	free(r->model);
	free(r->language);
	free(r->prompt);
	free(r->filename);
	memset(r, 0, sizeof(*r));
}
