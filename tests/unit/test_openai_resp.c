/*
 * Unit tests for the response side of the OpenAI layer (api/openai.c,
 * api/oa_response.c): every body and SSE event is parsed back with jansson
 * and checked field by field against the OpenAI API reference shapes;
 * escaping of control characters and invalid UTF-8 is checked byte for
 * byte; a multi-byte character split across backend tokens comes out
 * whole at every split point.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/openai.h"

static json_t *
parse(const struct openai_buf *b)
{
	json_error_t je;
	json_t *v;

	assert_false(b->failed);
	v = json_loadb(b->data, b->len, 0, &je);
	if (v == NULL)
		fail_msg("not JSON (%s): %.*s", je.text, (int)b->len, b->data);
	return v;
}

/* The object has exactly these keys (NULL-terminated). */
static void
assert_keys(json_t *obj, ...)
{
	va_list ap;
	const char *k;
	size_t n = 0;

	assert_true(json_is_object(obj));
	va_start(ap, obj);
	while ((k = va_arg(ap, const char *)) != NULL) {
		if (json_object_get(obj, k) == NULL)
			fail_msg("missing key %s", k);
		n++;
	}
	va_end(ap);
	assert_int_equal(json_object_size(obj), n);
}

static const char *
str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	return json_string_value(v);
}

static json_int_t
num(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static void
check_usage(json_t *u, int p, int c)
{
	assert_keys(
	    u, "prompt_tokens", "completion_tokens", "total_tokens", NULL);
	assert_int_equal(num(u, "prompt_tokens"), p);
	assert_int_equal(num(u, "completion_tokens"), c);
	assert_int_equal(num(u, "total_tokens"), p + c);
}

static void
test_chat_response(void **state)
{
	struct openai_buf b;
	struct openai_usage u = {12, 5};
	json_t *v, *c, *m;

	openai_buf_init(&b);
	assert_int_equal(
	    openai_chat_response(&b, "chatcmpl-abc", "llama", 1700000000,
	        "Hello \"you\"\n", 12, OPENAI_FINISH_STOP, &u),
	    0);
	v = parse(&b);
	assert_keys(
	    v, "id", "object", "created", "model", "choices", "usage", NULL);
	assert_string_equal(str(v, "id"), "chatcmpl-abc");
	assert_string_equal(str(v, "object"), "chat.completion");
	assert_int_equal(num(v, "created"), 1700000000);
	assert_string_equal(str(v, "model"), "llama");
	assert_int_equal(json_array_size(json_object_get(v, "choices")), 1);
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_keys(c, "index", "message", "logprobs", "finish_reason", NULL);
	assert_int_equal(num(c, "index"), 0);
	assert_true(json_is_null(json_object_get(c, "logprobs")));
	assert_string_equal(str(c, "finish_reason"), "stop");
	m = json_object_get(c, "message");
	assert_keys(m, "role", "content", "refusal", NULL);
	assert_string_equal(str(m, "role"), "assistant");
	assert_string_equal(str(m, "content"), "Hello \"you\"\n");
	assert_true(json_is_null(json_object_get(m, "refusal")));
	check_usage(json_object_get(v, "usage"), 12, 5);
	json_decref(v);

	openai_buf_reset(&b);
	assert_int_equal(openai_chat_response(&b, "x", "m", 1, NULL, 0,
	                     OPENAI_FINISH_LENGTH, NULL),
	    0);
	v = parse(&b);
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_string_equal(str(c, "finish_reason"), "length");
	check_usage(json_object_get(v, "usage"), 0, 0);
	json_decref(v);
	openai_buf_free(&b);
}

static void
test_completion_response(void **state)
{
	struct openai_buf b;
	struct openai_usage u = {3, 4};
	json_t *v, *c;

	openai_buf_init(&b);
	assert_int_equal(openai_completion_response(&b, "cmpl-1", "m", 42,
	                     "text", 4, OPENAI_FINISH_LENGTH, &u),
	    0);
	v = parse(&b);
	assert_keys(
	    v, "id", "object", "created", "model", "choices", "usage", NULL);
	assert_string_equal(str(v, "object"), "text_completion");
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_keys(c, "text", "index", "logprobs", "finish_reason", NULL);
	assert_string_equal(str(c, "text"), "text");
	assert_string_equal(str(c, "finish_reason"), "length");
	check_usage(json_object_get(v, "usage"), 3, 4);
	json_decref(v);
	openai_buf_free(&b);
}

/* Exact escaping: control chars, quotes, valid and invalid UTF-8. */
static void
test_escaping(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {"a\"b\\c/", 6, "\"a\\\"b\\\\c/\""},
	    {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
	    {"\0\x01\x1f\x7f", 4, "\"\\u0000\\u0001\\u001f\x7f\""},
	    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
	    /* lone continuation byte */
	    {"a\x80z", 3, "\"a\xef\xbf\xbdz\""},
	    /* overlong '/' (C0 AF): two invalid bytes, two U+FFFD */
	    {"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
	    /* surrogate D800 (ED A0 80): ED alone, then A0 and 80 */
	    {"\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
	    /* above U+10FFFF */
	    {"\xf4\x90\x80\x80", 4,
	        "\"\xef\xbf\xbd\xef\xbf\xbd"
	        "\xef\xbf\xbd\xef\xbf\xbd\""},
	    /* truncated 3-byte sequence: one U+FFFD for the valid prefix */
	    {"x\xe2\x82", 3, "\"x\xef\xbf\xbd\""},
	    {"\xe2\x82x", 3, "\"\xef\xbf\xbdx\""},
	    {"\xff\xfe", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
	    {"", 0, "\"\""},
	};
	struct openai_buf b;
	json_error_t je;
	json_t *v;
	size_t i;

	openai_buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		openai_buf_reset(&b);
		openai_json_string(&b, cases[i].in, cases[i].len);
		if (b.len != strlen(cases[i].out) ||
		    memcmp(b.data, cases[i].out, b.len) != 0)
			fail_msg("case %zu: got %s", i, b.data);
		/* jansson (which validates UTF-8) accepts every output. */
		v = json_loadb(
		    b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		assert_non_null(v);
		json_decref(v);
	}
	openai_buf_free(&b);
}

/* Split an SSE body into its events' data (NULL-terminated array). */
static char **
sse_events(const struct openai_buf *b, size_t *n)
{
	char **ev = calloc(64, sizeof(*ev)), *copy, *p, *end;

	*n = 0;
	copy = strndup(b->data, b->len);
	for (p = copy; *p != '\0'; p = end + 2) {
		end = strstr(p, "\n\n");
		assert_non_null(end);
		*end = '\0';
		assert_int_equal(strncmp(p, "data: ", 6), 0);
		assert_null(strchr(p, '\n'));
		ev[(*n)++] = strdup(p + 6);
	}
	free(copy);
	return ev;
}

static void
free_events(char **ev, size_t n)
{
	while (n > 0)
		free(ev[--n]);
	free(ev);
}

static json_t *
chunk(const char *data, const char *object, int include_usage)
{
	json_t *v = json_loads(data, 0, NULL);

	assert_non_null(v);
	if (include_usage)
		assert_keys(v, "id", "object", "created", "model", "choices",
		    "usage", NULL);
	else
		assert_keys(
		    v, "id", "object", "created", "model", "choices", NULL);
	assert_string_equal(str(v, "id"), "chatcmpl-1");
	assert_string_equal(str(v, "object"), object);
	assert_int_equal(num(v, "created"), 99);
	assert_string_equal(str(v, "model"), "m\"1");
	return v;
}

/* The choice of a chat chunk: its delta, with finish_reason checked. */
static json_t *
choice_delta(json_t *v, const char *finish)
{
	json_t *c = json_array_get(json_object_get(v, "choices"), 0);

	assert_int_equal(json_array_size(json_object_get(v, "choices")), 1);
	assert_keys(c, "index", "delta", "logprobs", "finish_reason", NULL);
	assert_int_equal(num(c, "index"), 0);
	if (finish == NULL)
		assert_true(json_is_null(json_object_get(c, "finish_reason")));
	else
		assert_string_equal(str(c, "finish_reason"), finish);
	return json_object_get(c, "delta");
}

static void
run_chat_stream(int include_usage)
{
	struct openai_stream st;
	struct openai_buf b;
	struct openai_usage u = {7, 2};
	char **ev;
	size_t n;
	json_t *v, *d;

	openai_buf_init(&b);
	assert_int_equal(openai_stream_init(&st, OPENAI_STREAM_CHAT,
	                     "chatcmpl-1", "m\"1", 99, include_usage),
	    0);
	assert_int_equal(openai_stream_delta(&st, &b, "Hel", 3), 0);
	/* An empty token sends nothing. */
	assert_int_equal(openai_stream_delta(&st, &b, NULL, 0), 0);
	assert_int_equal(openai_stream_delta(&st, &b, "lo\n", 3), 0);
	assert_int_equal(
	    openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, &u), 0);
	ev = sse_events(&b, &n);
	assert_int_equal(n, include_usage ? 6 : 5);
	/* 1: the role, with empty content. */
	v = chunk(ev[0], "chat.completion.chunk", include_usage);
	d = choice_delta(v, NULL);
	assert_keys(d, "role", "content", NULL);
	assert_string_equal(str(d, "role"), "assistant");
	assert_string_equal(str(d, "content"), "");
	if (include_usage)
		assert_true(json_is_null(json_object_get(v, "usage")));
	json_decref(v);
	/* 2, 3: content only. */
	v = chunk(ev[1], "chat.completion.chunk", include_usage);
	d = choice_delta(v, NULL);
	assert_keys(d, "content", NULL);
	assert_string_equal(str(d, "content"), "Hel");
	json_decref(v);
	v = chunk(ev[2], "chat.completion.chunk", include_usage);
	assert_string_equal(str(choice_delta(v, NULL), "content"), "lo\n");
	json_decref(v);
	/* 4: empty delta with the finish reason. */
	v = chunk(ev[3], "chat.completion.chunk", include_usage);
	assert_keys(choice_delta(v, "stop"), NULL);
	json_decref(v);
	/* 5: usage with no choices; then [DONE]. */
	if (include_usage) {
		v = chunk(ev[4], "chat.completion.chunk", 1);
		assert_int_equal(
		    json_array_size(json_object_get(v, "choices")), 0);
		check_usage(json_object_get(v, "usage"), 7, 2);
		json_decref(v);
	}
	assert_string_equal(ev[n - 1], "[DONE]");
	free_events(ev, n);
	/* Nothing after the end. */
	assert_int_equal(openai_stream_delta(&st, &b, "x", 1), -1);
	assert_int_equal(
	    openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, NULL), -1);
	openai_buf_free(&b);
}

static void
test_chat_stream(void **state)
{
	run_chat_stream(0);
	run_chat_stream(1);
}

static void
test_completion_stream(void **state)
{
	struct openai_stream st;
	struct openai_buf b;
	char **ev;
	size_t n;
	json_t *v, *c;

	openai_buf_init(&b);
	assert_int_equal(openai_stream_init(&st, OPENAI_STREAM_COMPLETION,
	                     "chatcmpl-1", "m\"1", 99, 0),
	    0);
	assert_int_equal(openai_stream_begin(&st, &b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(openai_stream_delta(&st, &b, "abc", 3), 0);
	assert_int_equal(
	    openai_stream_finish(&st, &b, OPENAI_FINISH_LENGTH, NULL), 0);
	ev = sse_events(&b, &n);
	assert_int_equal(n, 3);
	v = chunk(ev[0], "text_completion", 0);
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_keys(c, "text", "index", "logprobs", "finish_reason", NULL);
	assert_string_equal(str(c, "text"), "abc");
	assert_true(json_is_null(json_object_get(c, "finish_reason")));
	json_decref(v);
	v = chunk(ev[1], "text_completion", 0);
	c = json_array_get(json_object_get(v, "choices"), 0);
	assert_string_equal(str(c, "text"), "");
	assert_string_equal(str(c, "finish_reason"), "length");
	json_decref(v);
	assert_string_equal(ev[2], "[DONE]");
	free_events(ev, n);
	openai_buf_free(&b);
}

/* Concatenated delta contents of a chat stream's events. */
static void
stream_text(const struct openai_buf *b, struct openai_buf *text, size_t *events)
{
	char **ev;
	size_t n, i;
	json_t *v, *d;

	ev = sse_events(b, &n);
	*events = n;
	for (i = 0; i < n; i++) {
		if (strcmp(ev[i], "[DONE]") == 0)
			continue;
		v = json_loads(ev[i], 0, NULL);
		assert_non_null(v);
		d = json_object_get(
		    json_array_get(json_object_get(v, "choices"), 0), "delta");
		if (json_object_get(d, "content") != NULL) {
			assert_true(
			    i == 0 ||
			    json_string_length(json_object_get(d, "content")));
			openai_buf_append(text, str(d, "content"),
			    json_string_length(json_object_get(d, "content")));
		}
		json_decref(v);
	}
	free_events(ev, n);
}

/*
 * Multi-byte characters split across deltas at every point (two deltas),
 * and one byte per delta: the text arrives whole and no event is empty.
 */
static void
test_stream_utf8_splits(void **state)
{
	static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
	struct openai_stream st;
	struct openai_buf b, text;
	size_t i, len = sizeof(s) - 1, events;

	openai_buf_init(&b);
	openai_buf_init(&text);
	for (i = 0; i <= len; i++) {
		openai_buf_reset(&b);
		openai_buf_reset(&text);
		openai_stream_init(&st, OPENAI_STREAM_CHAT, "i", "m", 1, 0);
		assert_int_equal(openai_stream_delta(&st, &b, s, i), 0);
		assert_int_equal(
		    openai_stream_delta(&st, &b, s + i, len - i), 0);
		assert_int_equal(
		    openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, NULL), 0);
		stream_text(&b, &text, &events);
		assert_int_equal(text.len, len);
		assert_memory_equal(text.data, s, len);
	}
	/* One byte at a time: one event per character. */
	openai_buf_reset(&b);
	openai_buf_reset(&text);
	openai_stream_init(&st, OPENAI_STREAM_CHAT, "i", "m", 1, 0);
	for (i = 0; i < len; i++)
		assert_int_equal(openai_stream_delta(&st, &b, s + i, 1), 0);
	openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, NULL);
	stream_text(&b, &text, &events);
	assert_memory_equal(text.data, s, len);
	assert_int_equal(events, 1 + 5 + 2);
	openai_buf_free(&b);
	openai_buf_free(&text);
}

static void
test_stream_utf8_invalid(void **state)
{
	struct openai_stream st;
	struct openai_buf b, text;
	size_t events;

	openai_buf_init(&b);
	openai_buf_init(&text);
	/* A held byte that turns out invalid becomes U+FFFD. */
	openai_stream_init(&st, OPENAI_STREAM_CHAT, "i", "m", 1, 0);
	openai_stream_delta(&st, &b, "\xe2", 1);
	openai_stream_delta(&st, &b, "x\xf0\x9f", 3);
	/* …and one still held at the end too. */
	openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, NULL);
	stream_text(&b, &text, &events);
	assert_string_equal(text.data, "\xef\xbf\xbdx\xef\xbf\xbd");
	assert_int_equal(events, 1 + 2 + 2);
	/* An invalid continuation after a held prefix. */
	openai_buf_reset(&b);
	openai_buf_reset(&text);
	openai_stream_init(&st, OPENAI_STREAM_CHAT, "i", "m", 1, 0);
	openai_stream_delta(&st, &b, "\xe0", 1);
	openai_stream_delta(&st, &b, "\x80\x80", 2);
	openai_stream_finish(&st, &b, OPENAI_FINISH_STOP, NULL);
	stream_text(&b, &text, &events);
	/* The same as escaping E0 80 80 in one go: three replacements. */
	assert_string_equal(text.data, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	openai_buf_free(&b);
	openai_buf_free(&text);
}

static void
test_stream_error(void **state)
{
	struct openai_stream st;
	struct openai_buf b;
	struct openai_error err;
	char **ev;
	size_t n;
	json_t *v, *e;

	openai_buf_init(&b);
	openai_stream_init(
	    &st, OPENAI_STREAM_CHAT, "chatcmpl-1", "m\"1", 99, 1);
	openai_stream_delta(&st, &b, "partial", 7);
	openai_error_set(&err, 502, "server_error", "backend_failed", NULL,
	    "The model stopped: %s.", "replica lost");
	assert_int_equal(openai_stream_error(&st, &b, &err), 0);
	ev = sse_events(&b, &n);
	assert_int_equal(n, 3);
	v = json_loads(ev[2], 0, NULL);
	assert_keys(v, "error", NULL);
	e = json_object_get(v, "error");
	assert_keys(e, "message", "type", "param", "code", NULL);
	assert_string_equal(str(e, "message"), "The model stopped: replica "
	                                       "lost.");
	assert_string_equal(str(e, "type"), "server_error");
	assert_true(json_is_null(json_object_get(e, "param")));
	assert_string_equal(str(e, "code"), "backend_failed");
	json_decref(v);
	/* No [DONE]: the stream did not complete. */
	assert_null(strstr(b.data, "[DONE]"));
	free_events(ev, n);
	assert_int_equal(openai_stream_delta(&st, &b, "x", 1), -1);
	openai_buf_reset(&b);
	assert_int_equal(openai_sse_keepalive(&b), 0);
	assert_string_equal(b.data, ": keep-alive\n\n");
	openai_buf_free(&b);
}

static void
test_stream_init_limits(void **state)
{
	struct openai_stream st;
	char model[300];

	memset(model, '"', sizeof(model) - 1);
	model[sizeof(model) - 1] = '\0';
	/* 299 quotes escape to 598 bytes: still fits; control chars do not. */
	assert_int_equal(
	    openai_stream_init(&st, OPENAI_STREAM_CHAT, "id", model, 1, 0), 0);
	memset(model, '\x01', sizeof(model) - 1);
	assert_int_equal(
	    openai_stream_init(&st, OPENAI_STREAM_CHAT, "id", model, 1, 0), -1);
}

static void
test_error_json(void **state)
{
	struct openai_buf b;
	struct openai_error err;

	openai_buf_init(&b);
	openai_error_model_not_found(&err, "x\"y");
	assert_int_equal(openai_error_json(&err, &b), 0);
	assert_string_equal(b.data,
	    "{\"error\":{\"message\":\"The model "
	    "`x\\\"y` does not exist or you do not have access to it.\","
	    "\"type\":\"invalid_request_error\",\"param\":null,"
	    "\"code\":\"model_not_found\"}}");
	openai_buf_reset(&b);
	openai_error_set(
	    &err, 400, "invalid_request_error", NULL, "messages", "bad");
	openai_error_json(&err, &b);
	assert_string_equal(b.data,
	    "{\"error\":{\"message\":\"bad\",\"type\":"
	    "\"invalid_request_error\",\"param\":\"messages\",\"code\":null}}");
	openai_buf_free(&b);
}

static void
test_embeddings(void **state)
{
	static const float v0[] = {0.1f, -2.5f, 1e-7f, 3.4028235e38f};
	float v1[] = {1.0f, 0};
	struct openai_buf b;
	json_t *v, *d, *e;
	size_t i;

	v1[1] = NAN;
	openai_buf_init(&b);
	openai_embeddings_begin(&b);
	openai_embeddings_add(&b, 0, v0, 4, OPENAI_ENCODING_FLOAT);
	openai_embeddings_add(&b, 1, v1, 2, OPENAI_ENCODING_FLOAT);
	assert_int_equal(openai_embeddings_end(&b, "emb", 9), 0);
	v = parse(&b);
	assert_keys(v, "object", "data", "model", "usage", NULL);
	assert_string_equal(str(v, "object"), "list");
	assert_string_equal(str(v, "model"), "emb");
	assert_keys(
	    json_object_get(v, "usage"), "prompt_tokens", "total_tokens", NULL);
	assert_int_equal(num(json_object_get(v, "usage"), "prompt_tokens"), 9);
	assert_int_equal(num(json_object_get(v, "usage"), "total_tokens"), 9);
	d = json_object_get(v, "data");
	assert_int_equal(json_array_size(d), 2);
	assert_keys(json_array_get(d, 0), "object", "index", "embedding", NULL);
	assert_string_equal(str(json_array_get(d, 0), "object"), "embedding");
	assert_int_equal(num(json_array_get(d, 1), "index"), 1);
	e = json_object_get(json_array_get(d, 0), "embedding");
	/* Every float32 survives the round trip exactly. */
	for (i = 0; i < 4; i++)
		assert_true(
		    (float)json_number_value(json_array_get(e, i)) == v0[i]);
	e = json_object_get(json_array_get(d, 1), "embedding");
	assert_true(json_number_value(json_array_get(e, 1)) == 0);
	json_decref(v);

	openai_buf_reset(&b);
	openai_embeddings_begin(&b);
	v1[1] = 2.0f;
	openai_embeddings_add(&b, 0, v1, 1, OPENAI_ENCODING_BASE64);
	openai_embeddings_add(&b, 1, v1, 2, OPENAI_ENCODING_BASE64);
	openai_embeddings_add(&b, 2, v1, 0, OPENAI_ENCODING_BASE64);
	openai_embeddings_end(&b, "emb", 1);
	v = parse(&b);
	d = json_object_get(v, "data");
	/* 1.0f = 00 00 80 3f, 2.0f = 00 00 00 40, little-endian. */
	assert_string_equal(str(json_array_get(d, 0), "embedding"), "AACAPw==");
	assert_string_equal(
	    str(json_array_get(d, 1), "embedding"), "AACAPwAAAEA=");
	assert_string_equal(str(json_array_get(d, 2), "embedding"), "");
	json_decref(v);
	openai_buf_free(&b);
}

static void
test_models(void **state)
{
	struct conf_model m[2];
	struct openai_buf b;
	json_t *v, *d;

	memset(m, 0, sizeof(m));
	strcpy(m[0].name, "llama");
	strcpy(m[1].name, "voice");
	openai_buf_init(&b);
	assert_int_equal(openai_models_list(&b, m, 2, 1234), 0);
	v = parse(&b);
	assert_keys(v, "object", "data", NULL);
	assert_string_equal(str(v, "object"), "list");
	d = json_object_get(v, "data");
	assert_int_equal(json_array_size(d), 2);
	assert_keys(
	    json_array_get(d, 1), "id", "object", "created", "owned_by", NULL);
	assert_string_equal(str(json_array_get(d, 1), "id"), "voice");
	assert_string_equal(str(json_array_get(d, 1), "object"), "model");
	assert_int_equal(num(json_array_get(d, 1), "created"), 1234);
	assert_string_equal(str(json_array_get(d, 1), "owned_by"), "localai");
	json_decref(v);
	openai_buf_reset(&b);
	openai_models_list(&b, m, 0, 1);
	assert_string_equal(b.data, "{\"object\":\"list\",\"data\":[]}");
	openai_buf_reset(&b);
	openai_model_object(&b, "llama", 5);
	assert_string_equal(b.data, "{\"id\":\"llama\",\"object\":\"model\","
	                            "\"created\":5,\"owned_by\":\"localai\"}");
	openai_buf_free(&b);
}

static const struct openai_segment segs[] = {
    {0, 0.0, 2.5, " Hello there."},
    {1, 2.5, 3661.002, " Line one\nline two --> three "},
    {2, 3661.5, 3662, "   "},
    {3, 3662, 3663.25, "\xff end"},
};
static const struct openai_transcript tr = {
    "Hello there. Line one",
    "en",
    3663.25,
    segs,
    4,
};

static void
test_transcripts(void **state)
{
	struct openai_buf b;
	json_t *v, *s;

	openai_buf_init(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_JSON, &tr);
	assert_string_equal(b.data, "{\"text\":\"Hello there. Line one\"}");
	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_TEXT, &tr);
	assert_string_equal(b.data, "Hello there. Line one\n");
	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_VERBOSE_JSON, &tr);
	v = parse(&b);
	assert_keys(
	    v, "task", "language", "duration", "text", "segments", NULL);
	assert_string_equal(str(v, "task"), "transcribe");
	assert_string_equal(str(v, "language"), "en");
	assert_true(
	    json_number_value(json_object_get(v, "duration")) == 3663.25);
	assert_int_equal(json_array_size(json_object_get(v, "segments")), 4);
	s = json_array_get(json_object_get(v, "segments"), 1);
	assert_keys(s, "id", "seek", "start", "end", "text", "tokens",
	    "temperature", "avg_logprob", "compression_ratio", "no_speech_prob",
	    NULL);
	assert_int_equal(num(s, "id"), 1);
	assert_true(json_number_value(json_object_get(s, "start")) == 2.5);
	assert_true(json_number_value(json_object_get(s, "end")) == 3661.002);
	assert_string_equal(str(s, "text"), " Line one\nline two --> three ");
	json_decref(v);

	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_SRT, &tr);
	assert_string_equal(b.data,
	    "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
	    "2\n00:00:02,500 --> 01:01:01,002\n"
	    "Line one line two --> three\n\n"
	    "3\n01:01:02,000 --> 01:01:03,250\n\xef\xbf\xbd end\n\n");
	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_VTT, &tr);
	assert_string_equal(b.data,
	    "WEBVTT\n\n"
	    "00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
	    "00:00:02.500 --> 01:01:01.002\nLine one line two -> three\n\n"
	    "01:01:02.000 --> 01:01:03.250\n\xef\xbf\xbd end\n\n");
	openai_buf_free(&b);
}

static void
test_transcripts_no_segments(void **state)
{
	struct openai_transcript t = {"hi", NULL, 1.2, NULL, 0};
	struct openai_buf b;
	json_t *v;

	openai_buf_init(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_SRT, &t);
	assert_string_equal(b.data, "1\n00:00:00,000 --> 00:00:01,200\nhi\n\n");
	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_VERBOSE_JSON, &t);
	v = parse(&b);
	assert_string_equal(str(v, "language"), "");
	assert_int_equal(json_array_size(json_object_get(v, "segments")), 0);
	json_decref(v);
	t.text = "";
	openai_buf_reset(&b);
	openai_transcript_response(&b, OPENAI_TRANSCRIPT_VTT, &t);
	assert_string_equal(b.data, "WEBVTT\n\n");
	openai_buf_free(&b);

	assert_string_equal(
	    openai_transcript_content_type(OPENAI_TRANSCRIPT_JSON),
	    "application/json");
	assert_string_equal(
	    openai_transcript_content_type(OPENAI_TRANSCRIPT_VERBOSE_JSON),
	    "application/json");
	assert_string_equal(
	    openai_transcript_content_type(OPENAI_TRANSCRIPT_TEXT),
	    "text/plain; charset=utf-8");
	assert_string_equal(
	    openai_transcript_content_type(OPENAI_TRANSCRIPT_SRT),
	    "text/plain; charset=utf-8");
	assert_string_equal(
	    openai_transcript_content_type(OPENAI_TRANSCRIPT_VTT),
	    "text/vtt; charset=utf-8");
	assert_string_equal(openai_speech_content_type(), "audio/wav");
}

static void
test_buf(void **state)
{
	struct openai_buf b;
	char big[5000];
	int i;

	openai_buf_init(&b);
	memset(big, 'x', sizeof(big));
	for (i = 0; i < 100; i++)
		assert_int_equal(openai_buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(b.len, 500000);
	assert_int_equal(b.data[b.len], '\0');
	openai_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* A failed buffer refuses more until reset. */
	b.failed = 1;
	assert_int_equal(openai_buf_append(&b, "a", 1), -1);
	assert_int_equal(openai_chat_response(
	                     &b, "i", "m", 1, "", 0, OPENAI_FINISH_STOP, NULL),
	    -1);
	openai_buf_reset(&b);
	assert_int_equal(openai_buf_append(&b, "a", 1), 0);
	openai_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chat_response),
	    cmocka_unit_test(test_completion_response),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_chat_stream),
	    cmocka_unit_test(test_completion_stream),
	    cmocka_unit_test(test_stream_utf8_splits),
	    cmocka_unit_test(test_stream_utf8_invalid),
	    cmocka_unit_test(test_stream_error),
	    cmocka_unit_test(test_stream_init_limits),
	    cmocka_unit_test(test_error_json),
	    cmocka_unit_test(test_embeddings),
	    cmocka_unit_test(test_models),
	    cmocka_unit_test(test_transcripts),
	    cmocka_unit_test(test_transcripts_no_segments),
	    cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
