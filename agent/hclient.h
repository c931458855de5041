/*
 * hclient: the worker agent's HTTP client (libcurl), for the frontend's
 * node API, model file downloads and backend packages.  Blocking calls,
 * safe from several threads at once (one easy handle per call).
 */
#ifndef LOCALAI_HCLIENT_H
#define LOCALAI_HCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct hresp {
	long status; /* HTTP status, 0 when no answer */
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
	char error[256]; /* transport error text when status == 0 */
};

int hclient_init(void);
/* A JSON request: method, url, Bearer token (NULL for none), body (NULL). */
int hclient_json(const char *method, const char *url, const char *bearer,
    const char *body, long timeout_ms, struct hresp *r);
void hresp_free(struct hresp *r);

/*
 * Download url into fp starting at byte `offset` (Range), feeding every
 * byte to the progress callback.  Returns the HTTP status (200/206), or
 * -1 with r->error set.  `max` bounds the bytes written (0 = no bound).
 */
typedef int (*hclient_progress_fn)(void *arg, const void *data, size_t len);
long hclient_download(const char *url, const char *bearer, FILE *fp,
    uint64_t offset, uint64_t max, hclient_progress_fn fn, void *arg,
    char *error, size_t errlen);

#endif
