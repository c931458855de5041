/*
 * Figures for the OpenAI layer's hot paths, printed, not asserted:
 * building one SSE chunk (hand-written writer vs jansson for comparison),
 * JSON escaping, the pre-scan, parsing a chat request, rendering a
 * template, an embeddings body, and multipart parsing of a large upload.
 * Usage: bench_openai [scale]  (scale multiplies iteration counts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/multipart.h"
#include "api/openai.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *tokens[] = {
    "Hello",
    ",",
    " world",
    "!",
    " The",
    " quick",
    " brown",
    " fox",
    " \"jumps\"",
    "\n",
    " caf\xc3\xa9",
    " \xe2\x82\xac"
    "5",
};
#define NTOKENS (sizeof(tokens) / sizeof(tokens[0]))

static void
bench_chunks(long n)
{
	struct openai_stream st;
	struct openai_buf b;
	double t0, t;
	size_t bytes = 0;
	long i;

	openai_buf_init(&b);
	openai_stream_init(&st, OPENAI_STREAM_CHAT,
	    "chatcmpl-0123456789abcdefghijklmn", "llama-3.2-1b-instruct",
	    1700000000, 0);
	openai_stream_begin(&st, &b);
	t0 = now();
	for (i = 0; i < n; i++) {
		/* The glue hands each event to the socket, then resets. */
		openai_buf_reset(&b);
		openai_stream_delta(
		    &st, &b, tokens[i % NTOKENS], strlen(tokens[i % NTOKENS]));
		bytes += b.len;
	}
	t = now() - t0;
	printf("sse chunk (hand-written):   %8.1f ns/chunk  %6.2f M "
	       "chunks/s  (%zu bytes avg)\n",
	    t / n * 1e9, n / t / 1e6, bytes / (size_t)n);
	openai_buf_free(&b);
}

static void
bench_chunks_jansson(long n)
{
	json_t *v;
	char buf[1024];
	double t0, t;
	long i;
	size_t len;

	t0 = now();
	for (i = 0; i < n; i++) {
		v = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s},s:n,s:n}]}",
		    "id", "chatcmpl-0123456789abcdefghijklmn", "object",
		    "chat.completion.chunk", "created", (json_int_t)1700000000,
		    "model", "llama-3.2-1b-instruct", "choices", "index", 0,
		    "delta", "content", tokens[i % NTOKENS], "logprobs",
		    "finish_reason");
		len = json_dumpb(v, buf, sizeof(buf), JSON_COMPACT);
		json_decref(v);
		if (len == 0)
			abort();
	}
	t = now() - t0;
	printf("sse chunk (jansson pack+dump): %5.1f ns/chunk  %6.2f M "
	       "chunks/s\n",
	    t / n * 1e9, n / t / 1e6);
}

static void
bench_escape(int rounds)
{
	struct openai_buf b;
	size_t len = 1 << 20, i;
	char *text = malloc(len);
	double t0, t;
	int r;

	for (i = 0; i < len; i++)
		text[i] = i % 61 == 0   ? '\n'
		          : i % 97 == 0 ? '"'
		                        : (char)('a' + i % 26);
	openai_buf_init(&b);
	t0 = now();
	for (r = 0; r < rounds; r++) {
		openai_buf_reset(&b);
		openai_json_string(&b, text, len);
	}
	t = now() - t0;
	printf("json escape (ASCII text):   %8.0f MB/s\n",
	    (double)len * rounds / t / 1e6);
	for (i = 0; i + 2 < len; i += 3)
		memcpy(text + i, "\xe2\x82\xac", 3);
	t0 = now();
	for (r = 0; r < rounds; r++) {
		openai_buf_reset(&b);
		openai_json_string(&b, text, len);
	}
	t = now() - t0;
	printf("json escape (3-byte UTF-8): %8.0f MB/s\n",
	    (double)len * rounds / t / 1e6);
	openai_buf_free(&b);
	free(text);
}

static void
put(struct openai_buf *b, const char *s)
{
	openai_buf_append(b, s, strlen(s));
}

static void
bench_requests(long n)
{
	struct openai_chat r;
	struct openai_error err;
	struct openai_buf b, body;
	struct openai_prescan ps;
	double t0, t;
	long i;
	int k;

	openai_buf_init(&body);
	openai_buf_init(&b);
	put(&body, "{\"model\":\"llama\",\"temperature\":0.7,"
	           "\"max_tokens\":256,\"stream\":true,\"messages\":[");
	for (k = 0; k < 8; k++) {
		if (k > 0)
			put(&body, ",");
		put(&body, k % 2 ? "{\"role\":\"assistant\",\"content\":\""
		                 : "{\"role\":\"user\",\"content\":\"");
		put(&body, "Tell me about the weather in Paris today, and "
		           "\\\"quote\\\" it.\"}");
	}
	put(&body, "]}");
	t0 = now();
	for (i = 0; i < n; i++) {
		if (openai_chat_parse(body.data, body.len, NULL, &r, &err))
			abort();
		openai_chat_free(&r);
	}
	t = now() - t0;
	printf("chat request parse (%zu B):  %7.2f us/request\n", body.len,
	    t / n * 1e6);
	if (openai_chat_parse(body.data, body.len, NULL, &r, &err))
		abort();
	t0 = now();
	for (i = 0; i < n; i++) {
		openai_buf_reset(&b);
		openai_template_render(
		    OPENAI_TEMPLATE_CHATML, r.messages, r.n_messages, &b);
	}
	t = now() - t0;
	printf("chatml render (8 messages): %8.2f us/prompt\n", t / n * 1e6);
	openai_chat_free(&r);
	t0 = now();
	for (i = 0; i < n * 10; i++) {
		openai_prescan_init(&ps, NULL);
		openai_prescan_feed(&ps, body.data, body.len, &err);
	}
	t = now() - t0;
	printf("json pre-scan:              %8.0f MB/s\n",
	    (double)body.len * n * 10 / t / 1e6);
	openai_buf_free(&b);
	openai_buf_free(&body);
}

static void
bench_embeddings(long n)
{
	struct openai_buf b;
	float v[1024];
	double t0, t;
	long i;
	int k;

	for (k = 0; k < 1024; k++)
		v[k] = (float)k / 3000.0f - 0.17f;
	openai_buf_init(&b);
	t0 = now();
	for (i = 0; i < n; i++) {
		openai_buf_reset(&b);
		openai_embeddings_begin(&b);
		openai_embeddings_add(&b, 0, v, 1024, OPENAI_ENCODING_FLOAT);
		openai_embeddings_end(&b, "emb", 8);
	}
	t = now() - t0;
	printf("embedding body (1024 floats): %6.1f us  (%zu bytes)\n",
	    t / n * 1e6, b.len);
	t0 = now();
	for (i = 0; i < n; i++) {
		openai_buf_reset(&b);
		openai_embeddings_begin(&b);
		openai_embeddings_add(&b, 0, v, 1024, OPENAI_ENCODING_BASE64);
		openai_embeddings_end(&b, "emb", 8);
	}
	t = now() - t0;
	printf("embedding body (base64):    %8.1f us  (%zu bytes)\n",
	    t / n * 1e6, b.len);
	openai_buf_free(&b);
}

static int
count_data(void *arg, const char *d, size_t n)
{
	*(size_t *)arg += n;
	(void)d;
	return 0;
}

static void
bench_multipart(int rounds)
{
	static const char head[] =
	    "--b0undary\r\nContent-Disposition: "
	    "form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n";
	struct multipart_callbacks cb = {NULL, count_data, NULL};
	struct multipart *mp;
	enum multipart_errcode code;
	size_t len = 16 << 20, i, got = 0, off;
	char *body = malloc(len + 256);
	double t0, t;
	int r;

	memcpy(body, head, sizeof(head) - 1);
	for (i = sizeof(head) - 1; i < len; i++)
		body[i] = (char)((i * 2654435761u) >> 13);
	memcpy(body + len, "\r\n--b0undary--", 14);
	t0 = now();
	for (r = 0; r < rounds; r++) {
		mp = multipart_new("multipart/form-data; boundary=b0undary",
		    NULL, &cb, &got, &code);
		for (off = 0; off < len + 14; off += 65536)
			multipart_feed(mp, body + off,
			    len + 14 - off < 65536 ? len + 14 - off : 65536);
		if (multipart_finish(mp) != 0)
			abort();
		multipart_free(mp);
	}
	t = now() - t0;
	printf("multipart upload (16 MiB, 64 KiB feeds): %6.0f MB/s "
	       "(%zu bytes of file data seen)\n",
	    (double)len * rounds / t / 1e6, got);
	free(body);
}

int
main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;

	if (scale < 1)
		scale = 1;
	bench_chunks(2000000 * scale);
	bench_chunks_jansson(500000 * scale);
	bench_escape(50 * (int)scale);
	bench_requests(20000 * scale);
	bench_embeddings(2000 * scale);
	bench_multipart(5 * (int)scale);
	return 0;
}
