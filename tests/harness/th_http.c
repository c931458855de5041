/*
 * HTTP for tests, with libcurl's easy interface: one request, the whole
 * answer (status, headers, body), or the body chunk by chunk for SSE.
 * Proxies are never used (CI machines often set http_proxy, and every
 * server a test talks to is local).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "tests/harness/th_internal.h"

struct th_buf {
	char *data;
	size_t len;
	size_t cap;
};

struct th_http_ctx {
	struct th_buf body;
	struct th_buf headers;
	int (*on_data)(const char *, size_t, void *);
	void *arg;
};

static int
th_buf_add(struct th_buf *b, const char *data, size_t len)
{
	size_t cap;
	char *p;

	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static size_t
th_http_body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct th_http_ctx *ctx = arg;

	if (ctx->on_data != NULL)
		return ctx->on_data(data, size * n, ctx->arg) == 0 ? size * n
		                                                   : 0;
	return th_buf_add(&ctx->body, data, size * n) == 0 ? size * n : 0;
}

static size_t
th_http_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct th_http_ctx *ctx = arg;

	return th_buf_add(&ctx->headers, data, size * n) == 0 ? size * n : 0;
}

static struct curl_slist *
th_http_headers(const char *const headers[])
{
	struct curl_slist *list = NULL, *tmp;
	size_t i;

	/* No "Expect: 100-continue" round trip on larger bodies. */
	if ((list = curl_slist_append(list, "Expect:")) == NULL)
		return NULL;
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if ((tmp = curl_slist_append(list, headers[i])) == NULL) {
			curl_slist_free_all(list);
			return NULL;
		}
		list = tmp;
	}
	return list;
}

static void
th_http_setup(CURL *c, const char *method, const char *url,
    struct curl_slist *hdrs, const char *body, size_t body_len, int timeout_ms,
    struct th_http_ctx *ctx)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, th_http_body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, ctx);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, th_http_header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, ctx);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
}

static int
th_http_do(const char *method, const char *url, const char *const headers[],
    const char *body, size_t body_len, int timeout_ms, struct th_http_ctx *ctx,
    struct th_http_response *resp)
{
	struct curl_slist *hdrs;
	double t0 = th_now_ms();
	CURLcode rc;
	CURL *c;

	memset(resp, 0, sizeof(*resp));
	if ((c = curl_easy_init()) == NULL)
		return -1;
	if ((hdrs = th_http_headers(headers)) == NULL) {
		curl_easy_cleanup(c);
		return -1;
	}
	th_http_setup(c, method, url, hdrs, body, body_len, timeout_ms, ctx);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	resp->total_ms = th_now_ms() - t0;
	/* Both buffers always exist, so callers can strstr() them. */
	if (th_buf_add(&ctx->body, "", 0) == -1 ||
	    th_buf_add(&ctx->headers, "", 0) == -1)
		rc = CURLE_OUT_OF_MEMORY;
	resp->body = ctx->body.data;
	resp->body_len = ctx->body.len;
	resp->headers = ctx->headers.data;
	resp->headers_len = ctx->headers.len;
	/* A hang-up asked for by on_data is the caller's choice, not a fault. */
	if (rc == CURLE_WRITE_ERROR && ctx->on_data != NULL)
		return 0;
	return rc == CURLE_OK ? 0 : -1;
}

int
th_http_request(const char *method, const char *url,
    const char *const headers[], const char *body, size_t body_len,
    int timeout_ms, struct th_http_response *resp)
{
	struct th_http_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	return th_http_do(
	    method, url, headers, body, body_len, timeout_ms, &ctx, resp);
}

int
th_http_stream(const char *method, const char *url, const char *const headers[],
    const char *body, size_t body_len, int timeout_ms,
    int (*on_data)(const char *, size_t, void *), void *arg,
    struct th_http_response *resp)
{
	struct th_http_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.on_data = on_data;
	ctx.arg = arg;
	return th_http_do(
	    method, url, headers, body, body_len, timeout_ms, &ctx, resp);
}

int
th_http_header(const struct th_http_response *resp, const char *name, char *buf,
    size_t len)
{
	const char *line, *end, *v;
	size_t nlen = strlen(name), vlen;
	int found = -1;

	if (resp->headers == NULL || len == 0)
		return -1;
	for (line = resp->headers; *line != '\0'; line = end) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		else
			end++;
		if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
			continue;
		for (v = line + nlen + 1; *v == ' ' || *v == '\t'; v++)
			;
		vlen = (size_t)(end - v);
		while (vlen > 0 && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r'))
			vlen--;
		if (vlen >= len)
			vlen = len - 1;
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		found = 0;
	}
	return found;
}

void
th_http_response_free(struct th_http_response *resp)
{
	free(resp->body);
	free(resp->headers);
	memset(resp, 0, sizeof(*resp));
}

struct th_http_wait {
	const char *url;
	long status;
	long last;
};

static int
th_http_status_is(void *arg)
{
	struct th_http_wait *w = arg;
	struct th_http_response r;

	if (th_http_request("GET", w->url, NULL, NULL, 0, 2000, &r) == 0)
		w->last = r.status;
	th_http_response_free(&r);
	return w->last == w->status;
}

int
th_wait_http(const char *url, long status, int timeout_ms)
{
	struct th_http_wait w = {url, status, 0};

	if (th_wait_for(th_http_status_is, &w, timeout_ms) == 0)
		return 0;
	th__log("%s: no %ld after %d ms (last status %ld)", url, status,
	    timeout_ms, w.last);
	return -1;
}
