/*
 * libcurl glue for the worker agent.  See hclient.h.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agent/hclient.h"
#include "proto/log.h"

int
hclient_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		return -1;
	}
	return 0;
}

static size_t
hclient_collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct hresp *r = arg;
	size_t n = size * nmemb;
	char *nb;

	if (r->len + n > 16 * 1024 * 1024) /* no sane reply is bigger */
		return 0;
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return 0;
	memcpy(nb + r->len, ptr, n);
	r->body = nb;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

/* Options shared by every call: no signals (threads), no proxies for our
 * own cluster traffic unless the environment asks, bounded time. */
static struct curl_slist *
hclient_setup(
    CURL *c, const char *url, const char *bearer, long timeout_ms, int json)
{
	struct curl_slist *h = NULL;
	char auth[512];

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "localai-worker");
	if (bearer != NULL && *bearer != '\0') {
		snprintf(
		    auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		h = curl_slist_append(h, auth);
	}
	if (json)
		h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	return h;
}

int
hclient_json(const char *method, const char *url, const char *bearer,
    const char *body, long timeout_ms, struct hresp *r)
{
	struct curl_slist *h;
	CURLcode rc;
	CURL *c;

	memset(r, 0, sizeof(*r));
	if ((c = curl_easy_init()) == NULL) {
		snprintf(r->error, sizeof(r->error), "curl_easy_init failed");
		return -1;
	}
	h = hclient_setup(c, url, bearer, timeout_ms, body != NULL);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, hclient_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		snprintf(
		    r->error, sizeof(r->error), "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (r->body == NULL && (r->body = strdup("")) == NULL)
		return -1;
	return rc == CURLE_OK ? 0 : -1;
}

void
hresp_free(struct hresp *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

struct hdl {
	FILE *fp;
	uint64_t written;
	uint64_t max;
	hclient_progress_fn fn;
	void *arg;
	long status;
	CURL *c;
};

static size_t
hclient_sink(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct hdl *d = arg;
	size_t n = size * nmemb;

	/* Error bodies are not file content: refuse them. */
	if (d->status == 0)
		curl_easy_getinfo(d->c, CURLINFO_RESPONSE_CODE, &d->status);
	if (d->status != 200 && d->status != 206)
		return 0;
	if (d->max != 0 && d->written + n > d->max)
		return 0;
	if (fwrite(ptr, 1, n, d->fp) != n)
		return 0;
	if (d->fn != NULL && d->fn(d->arg, ptr, n) == -1)
		return 0;
	d->written += n;
	return n;
}

long
hclient_download(const char *url, const char *bearer, FILE *fp, uint64_t offset,
    uint64_t max, hclient_progress_fn fn, void *arg, char *error, size_t errlen)
{
	struct hdl d = {fp, 0, max, fn, arg, 0, NULL};
	struct curl_slist *h;
	char range[64];
	CURLcode rc;

	if ((d.c = curl_easy_init()) == NULL) {
		snprintf(error, errlen, "curl_easy_init failed");
		return -1;
	}
	h = hclient_setup(d.c, url, bearer, 0, 0);
	if (offset > 0) {
		snprintf(
		    range, sizeof(range), "%llu-", (unsigned long long)offset);
		curl_easy_setopt(d.c, CURLOPT_RANGE, range);
	}
	/* Stalled transfers: under 1 KiB/s for 60 s is a failure. */
	curl_easy_setopt(d.c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(d.c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(d.c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(d.c, CURLOPT_WRITEFUNCTION, hclient_sink);
	curl_easy_setopt(d.c, CURLOPT_WRITEDATA, &d);
	rc = curl_easy_perform(d.c);
	curl_easy_getinfo(d.c, CURLINFO_RESPONSE_CODE, &d.status);
	curl_slist_free_all(h);
	curl_easy_cleanup(d.c);
	if (rc != CURLE_OK) {
		if (d.status != 0 && d.status != 200 && d.status != 206)
			snprintf(error, errlen, "HTTP %ld", d.status);
		else
			snprintf(error, errlen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	if (d.status != 200 && d.status != 206) {
		snprintf(error, errlen, "HTTP %ld", d.status);
		return -1;
	}
	return d.status;
}
