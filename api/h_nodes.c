/*
 * The node and admin HTTP API (/api/...): relayed to the router process,
 * which holds the registry, the database and the keys, as MSG_HTTP_REQ
 * (method, path with query, Authorization, request id, client address,
 * body) and answered by MSG_HTTP_RESP.  When the router answers with
 * content type application/x-localai-sendfile, its body is the absolute
 * path of a file (a model file for a worker, a gallery package) that we
 * send ourselves, from disk, with Range support (h_files.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "proto/log.h"

#define RELAY_SENDFILE "application/x-localai-sendfile"

static int
relay_request(struct api_req *r, struct msg_http_req *h)
{
	const char *auth = api_header(r, MHD_HTTP_HEADER_AUTHORIZATION);

	memset(h, 0, sizeof(*h));
	if (strlen(r->uri) >= sizeof(h->path) ||
	    (auth != NULL && strlen(auth) >= sizeof(h->authorization))) {
		api_error(r, 414, "invalid_request_error", "uri_too_long", NULL,
		    "the path or the Authorization header is too long");
		return -1;
	}
	snprintf(h->method, sizeof(h->method), "%s", r->method);
	snprintf(h->path, sizeof(h->path), "%s", r->uri);
	snprintf(h->authorization, sizeof(h->authorization), "%s",
	    auth != NULL ? auth : "");
	snprintf(h->request_id, sizeof(h->request_id), "%s", r->request_id);
	snprintf(h->remote, sizeof(h->remote), "%s", r->remote);
	h->body_len = (uint32_t)r->body.len;
	return 0;
}

static void
relay_work(struct api_req *r)
{
	struct msg_http_req h;
	struct msg_http_resp resp;
	enum api_place_rc rc;
	char *body = NULL;
	int slot;

	if (relay_request(r, &h) == -1)
		return;
	if ((slot = api_rlink_slot_new()) == -1) {
		api_error(r, 503, "server_error", "overloaded", NULL,
		    "too many requests in progress");
		r->reply.retry_after = 1;
		return;
	}
	rc = api_rlink_http(
	    slot, &h, r->body.data, r->body.len, r->deadline, &resp, &body);
	api_rlink_slot_free(slot);
	if (rc == API_PLACE_OK &&
	    strcmp(resp.content_type, RELAY_SENDFILE) == 0 &&
	    resp.status == 200)
		api_h_sendfile(r, body);
	else if (rc == API_PLACE_OK)
		api_reply_data(r, (int)resp.status, resp.content_type, body,
		    resp.body_len);
	else if (rc == API_PLACE_TIMEOUT)
		api_error(r, 504, "server_error", "timeout", NULL,
		    "the router did not answer in time");
	else {
		api_error(r, 503, "server_error", "router_unavailable", NULL,
		    "the router is unavailable; retry");
		r->reply.retry_after = 1;
	}
	free(body);
}

void
api_h_relay(struct api_req *r)
{
	(void)api_async(r, relay_work);
}
