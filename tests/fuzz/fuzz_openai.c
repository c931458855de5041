/*
 * libFuzzer target for the request parsers and writers of the OpenAI layer.
 * The first byte picks what the rest feeds:
 *   0 chat (then every template, model defaults, a response body),
 *   1 completions, 2 embeddings, 3 speech,
 *   4 a transcription upload (multipart + form fields, chunked),
 *   5 the writers: one-shot escaping vs a stream split into deltas (the
 *     decoded texts must be equal) and the transcript formats,
 *   6 the JSON pre-scan fed whole vs in pieces (same verdict).
 * Every JSON we write must parse back with jansson; anything else aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/openai.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Our output must always be valid JSON (jansson validates UTF-8 too). */
static json_t *
must_parse(const char *s, size_t len)
{
	json_error_t je;
	json_t *v;

	v = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (v == NULL) {
		fprintf(stderr, "invalid JSON written (%s): %.*s\n", je.text,
		    (int)len, s);
		abort();
	}
	return v;
}

static void
check_error(const struct openai_error *err)
{
	struct openai_buf b;

	if (err->status < 400 || err->status > 599 || err->type[0] == '\0')
		abort();
	openai_buf_init(&b);
	openai_error_json(err, &b);
	json_decref(must_parse(b.data, b.len));
	openai_buf_free(&b);
}

static void
fuzz_chat(const char *s, size_t n)
{
	struct openai_chat r;
	struct openai_error err;
	struct openai_buf b;
	struct conf_model m;
	int t;

	if (openai_chat_parse(s, n, NULL, &r, &err) == -1) {
		check_error(&err);
		return;
	}
	openai_buf_init(&b);
	for (t = OPENAI_TEMPLATE_PLAIN; t <= OPENAI_TEMPLATE_PHI3; t++) {
		openai_buf_reset(&b);
		if (openai_template_render(t, r.messages, r.n_messages, &b))
			abort();
	}
	memset(&m, 0, sizeof(m));
	m.n_stop = 1;
	strcpy(m.stop[0], "</s>");
	m.have_temperature = 1;
	openai_sampling_apply_model(&r.sampling, &m, OPENAI_TEMPLATE_CHATML);
	if (r.sampling.n_stop > OPENAI_STOPS_TOTAL)
		abort();
	openai_buf_reset(&b);
	openai_chat_response(&b, "chatcmpl-x", r.model, 1,
	    r.messages[0].content, r.messages[0].content_len,
	    OPENAI_FINISH_STOP, NULL);
	json_decref(must_parse(b.data, b.len));
	openai_buf_free(&b);
	openai_chat_free(&r);
}

static void
fuzz_simple(int which, const char *s, size_t n)
{
	struct openai_completion c;
	struct openai_embeddings e;
	struct openai_speech sp;
	struct openai_error err;
	int rc;

	switch (which) {
	case 1:
		if ((rc = openai_completion_parse(s, n, NULL, &c, &err)) == 0 &&
		    c.prompt == NULL)
			abort();
		openai_completion_free(&c);
		break;
	case 2:
		if ((rc = openai_embeddings_parse(s, n, NULL, &e, &err)) == 0 &&
		    e.n_inputs == 0)
			abort();
		openai_embeddings_free(&e);
		break;
	default:
		rc = openai_speech_parse(s, n, NULL, &sp, &err);
		openai_speech_free(&sp);
		break;
	}
	if (rc == -1)
		check_error(&err);
}

static int
sink_data(void *arg, const void *d, size_t n)
{
	*(size_t *)arg += n;
	(void)d;
	return 0;
}

static void
fuzz_form(const char *s, size_t n)
{
	static const struct openai_file_sink sink = {NULL, sink_data, NULL};
	struct openai_transcription r;
	struct openai_limits l;
	struct openai_error err;
	struct openai_form *f;
	size_t got = 0, off, step;

	memset(&l, 0, sizeof(l));
	l.form_parts_max = 8;
	l.form_header_max = 512;
	l.string_max = 256;
	f = openai_form_new(
	    "multipart/form-data; boundary=AaB03x", &l, &sink, &got, &err);
	if (f == NULL)
		abort();
	step = n > 0 ? (unsigned char)s[0] % 17 + 1 : 1;
	for (off = 0; off < n; off += step)
		if (openai_form_feed(f, s + off,
		        n - off < step ? n - off : step, &err) == -1)
			break;
	if (openai_form_finish(f, &r, &err) == 0) {
		if (r.model == NULL || !r.have_file || r.file_size != got)
			abort();
		openai_transcription_free(&r);
	} else
		check_error(&err);
	openai_form_free(f);
}

/* The content of every chat chunk of an SSE body, concatenated. */
static void
stream_content(const struct openai_buf *sse, struct openai_buf *text)
{
	const char *p = sse->data, *end;
	json_t *v, *c;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "data: ", 6) != 0 ||
		    (end = strstr(p, "\n\n")) == NULL)
			abort();
		if (strncmp(p + 6, "[DONE]", 6) != 0) {
			v = must_parse(p + 6, (size_t)(end - p - 6));
			c = json_object_get(
			    json_object_get(
			        json_array_get(
			            json_object_get(v, "choices"), 0),
			        "delta"),
			    "content");
			if (c != NULL)
				openai_buf_append(text, json_string_value(c),
				    json_string_length(c));
			json_decref(v);
		}
		p = end + 2;
	}
}

static void
fuzz_writers(const char *s, size_t n)
{
	struct openai_stream st;
	struct openai_buf one, sse, text;
	struct openai_segment seg = {0, 0.5, 1.5, NULL};
	struct openai_transcript t = {NULL, NULL, 2, &seg, 1};
	json_t *v;
	size_t off = 0, step;
	int f;

	openai_buf_init(&one);
	openai_buf_init(&sse);
	openai_buf_init(&text);
	openai_json_string(&one, s, n);
	v = must_parse(one.data, one.len);
	openai_stream_init(&st, OPENAI_STREAM_CHAT, "i", "m", 1, 1);
	while (off < n) {
		step = (unsigned char)s[off] % 5;
		if (step > n - off)
			step = n - off;
		openai_stream_delta(&st, &sse, s + off, step);
		off += step > 0 ? step : 1;
		if (step == 0)
			openai_stream_delta(&st, &sse, s + off - 1, 1);
	}
	openai_stream_finish(&st, &sse, OPENAI_FINISH_LENGTH, NULL);
	stream_content(&sse, &text);
	if (text.len != json_string_length(v) ||
	    (text.len > 0 &&
	        memcmp(text.data, json_string_value(v), text.len) != 0))
		abort();
	json_decref(v);
	/* Transcript bodies: the text as a C string. */
	openai_buf_reset(&text);
	openai_buf_append(&text, s, strnlen(s, n));
	seg.text = t.text = t.language = text.data != NULL ? text.data : "";
	for (f = OPENAI_TRANSCRIPT_JSON; f <= OPENAI_TRANSCRIPT_VTT; f++) {
		openai_buf_reset(&one);
		openai_transcript_response(&one, f, &t);
		if (f == OPENAI_TRANSCRIPT_JSON ||
		    f == OPENAI_TRANSCRIPT_VERBOSE_JSON)
			json_decref(must_parse(one.data, one.len));
	}
	openai_buf_free(&one);
	openai_buf_free(&sse);
	openai_buf_free(&text);
}

static void
fuzz_prescan(const char *s, size_t n)
{
	struct openai_limits l;
	struct openai_prescan whole, parts;
	struct openai_error err;
	size_t off;
	int a, b = 0;

	memset(&l, 0, sizeof(l));
	l.depth_max = 4;
	l.string_max = 8;
	l.body_max = 4096;
	openai_prescan_init(&whole, &l);
	a = openai_prescan_feed(&whole, s, n, &err);
	openai_prescan_init(&parts, &l);
	for (off = 0; off < n && b == 0; off += 3)
		b = openai_prescan_feed(
		    &parts, s + off, n - off < 3 ? n - off : 3, &err);
	if (a != b)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	if (size < 1)
		return 0;
	switch (data[0] % 7) {
	case 0:
		fuzz_chat(s, n);
		break;
	case 1:
	case 2:
	case 3:
		fuzz_simple(data[0] % 7, s, n);
		break;
	case 4:
		fuzz_form(s, n);
		break;
	case 5:
		fuzz_writers(s, n);
		break;
	case 6:
		fuzz_prescan(s, n);
		break;
	}
	return 0;
}
