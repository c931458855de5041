/*
 * http: the libmicrohttpd glue of the api process.
 *
 * MHD runs in event-loop mode (epoll, a small thread pool) on the listening
 * socket every api process shares.  A request goes through:
 *   URI callback	  allocate struct api_req (it sees the raw URI, query
 *			  included, which the relay needs);
 *   first call		  route, request id, header size, API key,
 *			  concurrency and Content-Length checks; an error
 *			  decided here is queued at once (the body is never
 *			  read, and MHD closes the connection after it);
 *   body calls		  the body is pre-scanned (JSON), accumulated, or
 *			  streamed to disk (multipart); an error decided
 *			  here drops the rest and is sent at the end;
 *   last call		  the route's start(): a reply at once (this is the
 *			  second call or later, so keep-alive is kept: see
 *			  toolchain.md §5), or api_async();
 *   after resume	  the worker's reply or stream is queued;
 *   completed		  the client went away early: abort the work.
 * MHD 0.9.75 cannot queue a response while a body is still arriving, so a
 * body that overstays frontend.body_timeout gets a minimal 408 written
 * straight to the socket before the connection is closed.
 *
 * Streams: the worker appends events to r->reply.body under r->mu; MHD's
 * content reader drains it and, when it is empty, suspends the connection
 * (never blocking an event-loop thread); the next write resumes it.
 * Suspended connections are counted: the daemon is stopped only once none
 * is left (MHD aborts the process otherwise).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "api/api.h"
#include "proto/log.h"

#define HTTP_POOL_THREADS 2
#define HTTP_STREAM_BLOCK (16 * 1024)

static struct MHD_Daemon *http_daemon;
static int http_nsuspended; /* atomic */
static int http_nlimited; /* atomic */

static const struct api_route http_routes[] = {
    {"/v1/chat/completions", 0, "POST", API_BODY_JSON,
        API_R_KEY | API_R_LIMITED, api_h_chat},
    {"/v1/completions", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_completions},
    {"/v1/embeddings", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_embeddings},
    {"/v1/audio/speech", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_speech},
    {"/v1/audio/transcriptions", 0, "POST", API_BODY_FORM,
        API_R_KEY | API_R_LIMITED, api_h_transcriptions},
    {"/v1/models", 0, "GET", API_BODY_NONE, API_R_KEY, api_h_models},
    {"/v1/models/", 1, "GET", API_BODY_NONE, API_R_KEY, api_h_model},
    /* LocalAI serves these without the /v1 prefix as well. */
    {"/chat/completions", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_chat},
    {"/completions", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_completions},
    {"/embeddings", 0, "POST", API_BODY_JSON, API_R_KEY | API_R_LIMITED,
        api_h_embeddings},
    {"/models", 0, "GET", API_BODY_NONE, API_R_KEY, api_h_models},
    {"/healthz", 0, "GET", API_BODY_NONE, 0, api_h_healthz},
    {"/readyz", 0, "GET", API_BODY_NONE, 0, api_h_readyz},
    /*
	 * The node and admin API: the router decides (and checks keys).  Not
	 * limited by max_concurrent: heartbeats must get through while the
	 * inference API is saturated.
	 */
    {"/api/", 1, NULL, API_BODY_RAW, 0, api_h_relay},
    /* Prometheus: the router renders the frontend's metrics. */
    {"/metrics", 0, "GET", API_BODY_NONE, 0, api_h_relay},
    /* The Nodes page (it asks for the admin key itself). */
    {"/app", 1, "GET", API_BODY_NONE, 0, api_h_ui},
};

/* ---- requests -------------------------------------------------------------- */

static void
http_remote(struct api_req *r)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	ci = MHD_get_connection_info(
	    r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    r->remote, sizeof(r->remote));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    r->remote, sizeof(r->remote));
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request's state, with its raw URI. */
static void *
http_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct api_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	pthread_mutex_init(&r->mu, NULL);
	r->refs = 1;
	r->conn = c;
	r->sock = -1;
	r->reply.fd = -1;
	r->t_start = api_now_us();
	openai_buf_init(&r->body);
	openai_buf_init(&r->reply.body);
	if (strlen(uri) >= sizeof(r->uri))
		r->uri_truncated = 1;
	snprintf(r->uri, sizeof(r->uri), "%s", uri);
	if ((ci = MHD_get_connection_info(
	         c, MHD_CONNECTION_INFO_CONNECTION_FD)) != NULL)
		r->sock = ci->connect_fd;
	http_remote(r);
	return r;
}

void
api_req_ref(struct api_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->refs++;
	pthread_mutex_unlock(&r->mu);
}

static void
http_req_free(struct api_req *r)
{
	if (r->limited)
		__atomic_sub_fetch(&http_nlimited, 1, __ATOMIC_RELAXED);
	if (r->state != NULL && r->state_free != NULL)
		r->state_free(r->state);
	if (r->reply.fd != -1)
		close(r->reply.fd);
	openai_buf_free(&r->body);
	openai_buf_free(&r->reply.body);
	bc_cancel_free(r->cancel);
	if (r->cfg != NULL)
		api_cfg_put(r->cfg);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void
api_req_unref(struct api_req *r)
{
	int refs;

	pthread_mutex_lock(&r->mu);
	refs = --r->refs;
	pthread_mutex_unlock(&r->mu);
	if (refs == 0)
		http_req_free(r);
}

const char *
api_header(struct api_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int
api_req_stopped(const struct api_req *r)
{
	return __atomic_load_n(&r->abort, __ATOMIC_ACQUIRE);
}

void
api_req_stop(struct api_req *r, enum api_stop why)
{
	int none = API_STOP_NONE;

	(void)__atomic_compare_exchange_n(
	    &r->abort, &none, (int)why, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	if (r->cancel != NULL)
		bc_cancel_fire(r->cancel);
}

/* ---- replies ------------------------------------------------------------- */

static void
http_reply_reset(struct api_req *r, int status, const char *ctype)
{
	openai_buf_reset(&r->reply.body);
	r->reply.status = status;
	snprintf(
	    r->reply.content_type, sizeof(r->reply.content_type), "%s", ctype);
}

void
api_reply_error(struct api_req *r, const struct openai_error *e)
{
	http_reply_reset(r, e->status, "application/json");
	if (openai_error_json(e, &r->reply.body) == -1)
		r->reply.status = 500;
}

/*
 * The configured model a request names, recorded as the request's model (for
 * logs and metrics) whether or not it exists; NULL after a 404 reply.
 */
const struct conf_model *
api_req_model(struct api_req *r, const char *model)
{
	const struct conf_model *cm;
	struct openai_error e;

	snprintf(r->model, sizeof(r->model), "%s", model);
	if ((cm = api_cfg_model(r->cfg, model)) == NULL) {
		openai_error_model_not_found(&e, model);
		api_reply_error(r, &e);
	}
	return cm;
}

void
api_error(struct api_req *r, int status, const char *type, const char *code,
    const char *param, const char *fmt, ...)
{
	struct openai_error e;
	char msg[sizeof(e.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	openai_error_set(&e, status, type, code, param, "%s", msg);
	api_reply_error(r, &e);
}

void
api_reply_buf(
    struct api_req *r, int status, const char *ctype, struct openai_buf *body)
{
	openai_buf_free(&r->reply.body);
	r->reply.body = *body;
	openai_buf_init(body);
	r->reply.status = status;
	snprintf(
	    r->reply.content_type, sizeof(r->reply.content_type), "%s", ctype);
	if (r->reply.body.failed)
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
}

void
api_reply_data(struct api_req *r, int status, const char *ctype,
    const void *data, size_t len)
{
	http_reply_reset(r, status, ctype);
	if (openai_buf_append(&r->reply.body, data, len) == -1)
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
}

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max);

/* Build the MHD response of r->reply; NULL when out of memory. */
static struct MHD_Response *
http_response(struct api_req *r)
{
	struct api_reply *y = &r->reply;
	struct MHD_Response *resp;

	if (y->stream) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
		    HTTP_STREAM_BLOCK, http_stream_read, r, NULL);
	} else if (y->fd != -1) {
		resp = MHD_create_response_from_fd_at_offset64(
		    y->length, y->fd, y->offset);
		if (resp != NULL)
			y->fd = -1; /* MHD closes it */
	} else if (y->body.len == 0) {
		resp = MHD_create_response_from_buffer(
		    0, NULL, MHD_RESPMEM_PERSISTENT);
	} else {
		resp = MHD_create_response_from_buffer(
		    y->body.len, y->body.data, MHD_RESPMEM_MUST_FREE);
		if (resp != NULL)
			openai_buf_init(&y->body);
	}
	return resp;
}

static void
http_headers(struct api_req *r, struct MHD_Response *resp)
{
	struct api_reply *y = &r->reply;
	char num[24];

	if (y->content_type[0] != '\0')
		MHD_add_response_header(resp, "Content-Type", y->content_type);
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	if (y->retry_after > 0) {
		snprintf(num, sizeof(num), "%u", y->retry_after);
		MHD_add_response_header(resp, "Retry-After", num);
	}
	if (y->allow != NULL)
		MHD_add_response_header(resp, "Allow", y->allow);
	if (y->content_range[0] != '\0')
		MHD_add_response_header(
		    resp, "Content-Range", y->content_range);
	if (y->accept_ranges)
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (y->etag != NULL) {
		MHD_add_response_header(resp, "ETag", y->etag);
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
		MHD_add_response_header(
		    resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "Content-Security-Policy",
		    "default-src 'self'; img-src 'self' data:; "
		    "frame-ancestors 'none'");
	}
	if (y->stream) {
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	}
}

/* Queue r->reply on its connection (an MHD thread, in the handler). */
static enum MHD_Result
http_queue(struct api_req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->reply.status == 0)
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "the request produced no answer");
	pthread_mutex_lock(&r->mu);
	resp = http_response(r);
	pthread_mutex_unlock(&r->mu);
	if (resp == NULL) {
		log_fields(LOG_WARNING,
		    &(struct log_fields){
		        .request_id = r->request_id, .model = r->model},
		    "cannot create a response");
		return MHD_NO;
	}
	http_headers(r, resp);
	r->phase = API_PH_REPLY;
	ret = MHD_queue_response(r->conn, (unsigned)r->reply.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * An error while the body still arrives (MHD cannot queue a response then):
 * write a minimal response on the socket ourselves; the caller closes.
 */
static enum MHD_Result
http_raw_error(
    struct api_req *r, const struct openai_error *e, const char *reason)
{
	struct openai_buf b;
	char head[512];
	int n;

	openai_buf_init(&b);
	if (r->sock != -1 && openai_error_json(e, &b) == 0) {
		n = snprintf(head, sizeof(head),
		    "HTTP/1.1 %d %s\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "X-Request-Id: %s\r\nConnection: close\r\n\r\n",
		    e->status, reason, b.len, r->request_id);
		if (send(r->sock, head, (size_t)n,
		        MSG_DONTWAIT | MSG_NOSIGNAL) == n)
			(void)send(r->sock, b.data, b.len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	openai_buf_free(&b);
	r->reply.status = e->status;
	return MHD_NO;
}

/* ---- suspension and streams ------------------------------------------------ */

/* Suspend the connection (r->mu held). */
static void
http_suspend(struct api_req *r)
{
	r->suspended = 1;
	__atomic_add_fetch(&http_nsuspended, 1, __ATOMIC_RELAXED);
	MHD_suspend_connection(r->conn);
}

/* Resume it if it is suspended (r->mu held). */
static void
http_resume(struct api_req *r)
{
	if (!r->suspended)
		return;
	r->suspended = 0;
	MHD_resume_connection(r->conn);
	__atomic_sub_fetch(&http_nsuspended, 1, __ATOMIC_RELAXED);
}

static ssize_t
http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_req *r = cls;
	struct openai_buf *b = &r->reply.body;
	size_t n;

	pthread_mutex_lock(&r->mu);
	if (r->out_off < b->len) {
		n = b->len - r->out_off;
		if (n > max)
			n = max;
		memcpy(buf, b->data + r->out_off, n);
		r->out_off += n;
		if (r->out_off == b->len) {
			openai_buf_reset(b);
			r->out_off = 0;
		}
		pthread_mutex_unlock(&r->mu);
		return (ssize_t)n;
	}
	if (r->stream_end) {
		pthread_mutex_unlock(&r->mu);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	http_suspend(r);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void
api_stream_begin(struct api_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->reply.stream = 1;
	r->reply.status = 200;
	snprintf(r->reply.content_type, sizeof(r->reply.content_type),
	    "text/event-stream");
	http_resume(r);
	pthread_mutex_unlock(&r->mu);
}

int
api_stream_write(struct api_req *r, const void *data, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (r->closed || r->reply.body.failed)
		rc = -1;
	else if (openai_buf_append(&r->reply.body, data, len) == -1)
		rc = -1;
	else if (r->reply.stream)
		http_resume(r);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void
api_stream_end(struct api_req *r)
{
	pthread_mutex_lock(&r->mu);
	r->stream_end = 1;
	if (r->reply.stream)
		http_resume(r);
	pthread_mutex_unlock(&r->mu);
}

/* The worker is done: its reply (or its stream) may go. */
static void
http_work_done(struct api_req *r)
{
	pthread_mutex_lock(&r->mu);
	if (r->reply.stream)
		r->stream_end = 1;
	http_resume(r);
	pthread_mutex_unlock(&r->mu);
}

static void *
http_worker(void *arg)
{
	struct api_req *r = arg;

	r->work(r);
	api_dp_unwatch(r);
	http_work_done(r);
	api_req_unref(r);
	return NULL;
}

int
api_async(struct api_req *r, void (*fn)(struct api_req *))
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	r->work = fn;
	r->phase = API_PH_ASYNC;
	api_req_ref(r);
	pthread_mutex_lock(&r->mu);
	http_suspend(r);
	pthread_mutex_unlock(&r->mu);
	api_dp_watch(r);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 1024 * 1024);
	rc = pthread_create(&t, &a, http_worker, r);
	pthread_attr_destroy(&a);
	if (rc == 0)
		return 0;
	log_fields(LOG_WARNING,
	    &(struct log_fields){
	        .request_id = r->request_id, .model = r->model},
	    "cannot start a request thread: %s", strerror(rc));
	api_dp_unwatch(r);
	api_error(r, 503, "server_error", "overloaded", NULL,
	    "the server cannot take more requests now");
	r->reply.retry_after = 1;
	http_work_done(r);
	api_req_unref(r);
	return -1;
}

/* ---- the first call: route and checks ----------------------------------- */

static void
http_request_id(struct api_req *r)
{
	const char *h = api_header(r, "X-Request-Id");
	uint8_t rnd[16];
	char suffix[12];

	if (h != NULL && api_rid_valid(h) && strlen(h) <= 48) {
		snprintf(r->request_id, sizeof(r->request_id), "%s", h);
		/* A client may reuse its ids; the router's must be unique.
		 * The router strips this ".<8 hex>" again for its events
		 * (client_rid in router/rplace.c): keep the two in step. */
		api_random(rnd, 4);
		snprintf(suffix, sizeof(suffix), "%02x%02x%02x%02x", rnd[0],
		    rnd[1], rnd[2], rnd[3]);
		snprintf(r->place_id, sizeof(r->place_id), "%s.%s", h, suffix);
		return;
	}
	api_random(rnd, sizeof(rnd));
	api_rid_format(r->request_id, rnd);
	snprintf(r->place_id, sizeof(r->place_id), "%s", r->request_id);
}

static int
http_method_ok(const char *methods, const char *method)
{
	size_t n = strlen(method);
	const char *p = methods;

	if (methods == NULL)
		return 1;
	while ((p = strstr(p, method)) != NULL) {
		if ((p == methods || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

/* The route of path/method; NULL with a 404/405 reply set. */
static const struct api_route *
http_route(struct api_req *r, const char *path, const char *method)
{
	const struct api_route *rt, *path_match = NULL;
	struct openai_error e;
	size_t i, n;

	for (i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++) {
		rt = &http_routes[i];
		n = strlen(rt->path);
		if (rt->prefix
		        ? strncmp(path, rt->path, n) != 0 || path[n] == '\0'
		        : strcmp(path, rt->path) != 0)
			continue;
		if (http_method_ok(rt->methods, method))
			return rt;
		if (path_match == NULL)
			path_match = rt;
	}
	if (path_match == NULL) {
		openai_error_not_found(&e, method, path);
	} else {
		openai_error_method_not_allowed(&e, method, path);
		r->reply.allow = path_match->methods;
	}
	api_reply_error(r, &e);
	return NULL;
}

struct http_hsize {
	size_t total;
};

static enum MHD_Result
http_count_header(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct http_hsize *h = cls;

	h->total += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* 0, or -1 with the error reply set. */
static int
http_check_headers(struct api_req *r)
{
	const struct conf_frontend *f = &r->cfg->conf.frontend;
	struct http_hsize h = {strlen(r->uri) + strlen(r->method) + 12};

	(void)MHD_get_connection_values(
	    r->conn, MHD_HEADER_KIND, http_count_header, &h);
	if (h.total > f->header_max || r->uri_truncated) {
		api_error(r, 431, "invalid_request_error", "headers_too_large",
		    NULL,
		    "request headers of %zu bytes exceed the limit of "
		    "%" PRIu32 " bytes",
		    h.total, f->header_max);
		return -1;
	}
	return 0;
}

/* The API key of /v1 routes; 0, or -1 with the 401 set. */
static int
http_check_key(struct api_req *r)
{
	const struct conf_frontend *f = &r->cfg->conf.frontend;
	const char *h = api_header(r, "Authorization");
	struct openai_error e;

	if (f->n_api_keys == 0)
		return 0;
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    conf_api_key_ok(f, h + 7, strlen(h + 7)))
		return 0;
	openai_error_invalid_api_key(&e, h != NULL);
	api_reply_error(r, &e);
	return -1;
}

/* max_concurrent: 0, or -1 with the 503 set. */
static int
http_check_concurrency(struct api_req *r)
{
	uint32_t max = r->cfg->conf.frontend.max_concurrent;
	struct openai_error e;

	if (api_shutting_down()) {
		openai_error_overloaded(&e, "the server is shutting down");
		api_reply_error(r, &e);
		r->reply.retry_after = 1;
		return -1;
	}
	r->limited = 1;
	if ((uint32_t)__atomic_add_fetch(&http_nlimited, 1, __ATOMIC_RELAXED) <=
	    max)
		return 0;
	openai_error_overloaded(&e, "too many requests in progress");
	api_reply_error(r, &e);
	r->reply.retry_after = 1;
	return -1;
}

static uint64_t
http_body_max(const struct api_req *r)
{
	const struct conf_frontend *f = &r->cfg->conf.frontend;

	switch (r->route->body) {
	case API_BODY_FORM:
		/* The file plus room for the other fields. */
		return f->upload_max + 64 * 1024;
	case API_BODY_RAW:
		return MSG_MAX_LARGE - sizeof(struct msg_http_req);
	default:
		return f->body_max;
	}
}

/* Content-Length beyond the limit: refuse before reading the body. */
static int
http_check_length(struct api_req *r)
{
	const char *h = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct openai_error e;
	uint64_t max = http_body_max(r);
	char *end;
	unsigned long long n;

	if (h == NULL)
		return 0;
	errno = 0;
	n = strtoull(h, &end, 10);
	if (errno != 0 || *end != '\0' || n > max) {
		openai_error_too_large(&e, max);
		api_reply_error(r, &e);
		return -1;
	}
	return 0;
}

/* Everything decided before the body; 0, or -1 with the reply set. */
static int
http_begin(struct api_req *r, const char *method, const char *url)
{
	snprintf(r->method, sizeof(r->method), "%s", method);
	http_request_id(r);
	r->cfg = api_cfg_get();
	r->deadline = r->t_start +
	              (uint64_t)r->cfg->conf.frontend.request_timeout_ms * 1000;
	if (http_check_headers(r) == -1)
		return -1;
	if ((r->route = http_route(r, url, method)) == NULL)
		return -1;
	if ((r->route->flags & API_R_KEY) && http_check_key(r) == -1)
		return -1;
	if ((r->route->flags & API_R_LIMITED) &&
	    http_check_concurrency(r) == -1)
		return -1;
	if (http_check_length(r) == -1)
		return -1;
	if ((r->cancel = bc_cancel_new()) == NULL) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return -1;
	}
	if (r->route->body == API_BODY_JSON)
		openai_prescan_init(&r->prescan, &r->cfg->limits);
	if (r->route->body == API_BODY_FORM && api_h_form_begin(r) == -1)
		return -1;
	r->phase = API_PH_BODY;
	return 0;
}

/* ---- the body ------------------------------------------------------------ */

static void
http_body_error(struct api_req *r, const struct openai_error *e)
{
	if (!r->have_err) {
		r->err = *e;
		r->have_err = 1;
	}
	r->discard = 1;
	openai_buf_free(&r->body);
}

static enum MHD_Result
http_body(struct api_req *r, const char *data, size_t len)
{
	const struct conf_frontend *f = &r->cfg->conf.frontend;
	struct openai_error e;

	r->body_len += len;
	if (api_now_us() - r->t_start > (uint64_t)f->body_timeout_ms * 1000) {
		openai_error_set(&e, 408, "invalid_request_error",
		    "request_timeout", NULL,
		    "the request body did not arrive "
		    "within %" PRIu32 " ms",
		    f->body_timeout_ms);
		log_fields(LOG_INFO,
		    &(struct log_fields){.request_id = r->request_id},
		    "slow request body from %s: closed", r->remote);
		return http_raw_error(r, &e, "Request Timeout");
	}
	if (r->discard)
		return MHD_YES;
	if (r->body_len > http_body_max(r)) {
		openai_error_too_large(&e, http_body_max(r));
		http_body_error(r, &e);
		return MHD_YES;
	}
	switch (r->route->body) {
	case API_BODY_JSON:
		if (openai_prescan_feed(&r->prescan, data, len, &e) == -1) {
			http_body_error(r, &e);
			return MHD_YES;
		}
		/* FALLTHROUGH */
	case API_BODY_RAW:
		if (openai_buf_append(&r->body, data, len) == -1) {
			openai_error_internal(&e, "out of memory");
			http_body_error(r, &e);
		}
		return MHD_YES;
	case API_BODY_FORM:
		if (api_h_form_feed(r, data, len) == -1)
			http_body_error(r, &r->err);
		return MHD_YES;
	default:
		return MHD_YES; /* an unexpected body is ignored */
	}
}

/* ---- the handler ------------------------------------------------------- */

/* Does a body follow the headers? */
static int
http_has_body(struct api_req *r)
{
	const char *cl = api_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (api_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return 1;
	return cl != NULL && strcmp(cl, "0") != 0;
}

/* The body is complete: start the work. */
static enum MHD_Result
http_dispatch(struct api_req *r)
{
	if (r->have_err)
		api_reply_error(r, &r->err);
	if (r->reply.status != 0) /* decided before or during the body */
		return http_queue(r);
	r->route->start(r);
	if (r->phase == API_PH_ASYNC)
		return MHD_YES;
	return http_queue(r);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **cc)
{
	struct api_req *r = *cc;
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO; /* out of memory in http_uri */
	switch (r->phase) {
	case API_PH_NEW:
		if (http_begin(r, method, url) == 0)
			return MHD_YES;
		if (http_has_body(r))
			return http_queue(r); /* unread body: MHD closes */
		r->phase = API_PH_BODY; /* answer on the next call */
		r->discard = 1;
		return MHD_YES;
	case API_PH_BODY:
		if (*size != 0) {
			ret = http_body(r, data, *size);
			*size = 0;
			return ret;
		}
		return http_dispatch(r);
	case API_PH_ASYNC:
		return http_queue(r); /* resumed: the reply is ready */
	default:
		*size = 0;
		return MHD_YES;
	}
}

static void
http_access_log(struct api_req *r, enum MHD_RequestTerminationCode toe)
{
	uint64_t ms = (api_now_us() - r->t_start) / 1000;
	int prio =
	    r->reply.status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK
	        ? LOG_INFO
	        : LOG_DEBUG;

	if (r->cfg == NULL)
		return; /* never got past the request line */
	api_metrics_request(r, api_now_us() - r->t_start);
	log_fields(prio,
	    &(struct log_fields){
	        .request_id = r->request_id, .model = r->model},
	    "%s %s %d %" PRIu64 " ms%s from %s", r->method, r->uri,
	    r->reply.status, ms,
	    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK   ? ""
	    : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? " (client went away)"
	    : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
	        ? " (timed out)"
	        : " (ended with an error)",
	    r->remote);
}

/* MHD is done with the request, normally or not. */
static void
http_completed(void *cls, struct MHD_Connection *c, void **cc,
    enum MHD_RequestTerminationCode toe)
{
	struct api_req *r = *cc;
	int unfinished;

	if (r == NULL)
		return;
	*cc = NULL;
	pthread_mutex_lock(&r->mu);
	r->closed = 1;
	unfinished =
	    r->phase == API_PH_ASYNC || (r->reply.stream && !r->stream_end);
	pthread_mutex_unlock(&r->mu);
	if (unfinished || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		api_req_stop(r, API_STOP_GONE);
	http_access_log(r, toe);
	api_req_unref(r);
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("microhttpd: %s", buf);
}

int
api_http_start(int listen_fd, const struct api_cfg *cfg)
{
	const struct conf_frontend *f = &cfg->conf.frontend;
	/* Idle connections: body_timeout, in whole seconds, rounded up. */
	unsigned timeout = (f->body_timeout_ms + 999) / 1000;

	http_daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	        MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, http_access, NULL, MHD_OPTION_EXTERNAL_LOGGER,
	    http_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_POOL_THREADS,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)f->header_max + 32 * 1024, MHD_OPTION_CONNECTION_TIMEOUT,
	    timeout, MHD_OPTION_URI_LOG_CALLBACK, http_uri, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL, MHD_OPTION_END);
	if (http_daemon == NULL) {
		log_warnx("cannot start the HTTP server on fd %d", listen_fd);
		return -1;
	}
	return 0;
}

void
api_http_quiesce(void)
{
	MHD_socket fd;

	if (http_daemon == NULL)
		return;
	fd = MHD_quiesce_daemon(http_daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void
api_http_stop(void)
{
	int i;

	if (http_daemon == NULL)
		return;
	for (i = 0;
	     i < 200 && __atomic_load_n(&http_nsuspended, __ATOMIC_RELAXED) > 0;
	     i++)
		usleep(10000);
	if (__atomic_load_n(&http_nsuspended, __ATOMIC_RELAXED) > 0) {
		/* MHD_stop_daemon() would abort; exit() closes them. */
		log_warnx("%d connection(s) still suspended; not stopping the "
		          "HTTP server cleanly",
		    http_nsuspended);
		return;
	}
	MHD_stop_daemon(http_daemon);
	http_daemon = NULL;
}
