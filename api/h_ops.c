/*
 * Operations in the api process: the Nodes page (files embedded in the
 * binary, api/ui) and this process's metrics.
 *
 * Metrics: one registry per api process, updated by the request threads
 * (under a mutex: they are many) and sent to the router as a fixed-size
 * MSG_METRICS_SNAP once a second by a small thread; the router sums every
 * api process into the frontend's /metrics (router/rmetrics.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "api/ui/ui.h"
#include "proto/log.h"
#include "proto/metrics.h"

static struct metrics *ops_metrics;
static pthread_mutex_t ops_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t ops_thread;
static int ops_running;
static int ops_stop;
static pthread_cond_t ops_cv = PTHREAD_COND_INITIALIZER;

/* GET /app, /app/nodes, /app/static/…: the embedded Nodes page. */
void
api_h_ui(struct api_req *r)
{
	const char *inm = api_header(r, "If-None-Match");
	const struct ui_file *f;
	char path[1024];

	snprintf(path, sizeof(path), "%.*s", (int)strcspn(r->uri, "?"), r->uri);
	f = ui_file_find(path);
	if (f == NULL) {
		api_error(r, 404, "invalid_request_error", "not_found", NULL,
		    "no such page");
		return;
	}
	if (inm != NULL && strcmp(inm, f->etag) == 0) {
		api_reply_data(r, 304, f->content_type, "", 0);
		r->reply.etag = f->etag;
		return;
	}
	api_reply_data(r, 200, f->content_type, f->bytes, f->len);
	r->reply.etag = f->etag;
}

/*
 * The model label of a request: its name when the model is configured,
 * else METRICS_MODEL_UNKNOWN.  Clients choose the name they send, and one
 * series per made-up name would fill the registry (and the fixed-size
 * snapshot to the router, crowding out the real models' series).
 */
static const char *
ops_model_label(const struct api_req *r)
{
	if (r->model[0] == '\0')
		return "";
	if (r->cfg != NULL && api_cfg_model(r->cfg, r->model) != NULL)
		return r->model;
	return METRICS_MODEL_UNKNOWN;
}

/* A request ended (any /v1 route): requests and their duration. */
void
api_metrics_request(const struct api_req *r, uint64_t us)
{
	const char *model;
	char code[8];

	if (ops_metrics == NULL || r->route == NULL ||
	    strncmp(r->route->path, "/v1/", 4) != 0)
		return;
	model = ops_model_label(r);
	snprintf(code, sizeof(code), "%d", r->reply.status);
	pthread_mutex_lock(&ops_mu);
	(void)metrics_inc(ops_metrics, MET_REQUESTS_TOTAL,
	    METRICS_L(model, r->route->path, code));
	(void)metrics_observe(
	    ops_metrics, MET_REQUEST_DURATION, METRICS_L(model), us / 1e6);
	pthread_mutex_unlock(&ops_mu);
}

/* A placement was granted (+1) or its DONE sent (-1). */
void
api_metrics_in_flight(const char *model, int delta)
{
	if (ops_metrics == NULL)
		return;
	pthread_mutex_lock(&ops_mu);
	(void)metrics_add(
	    ops_metrics, MET_REQUESTS_IN_FLIGHT, METRICS_L(model), delta);
	pthread_mutex_unlock(&ops_mu);
}

/* One attempt on a replica ended. */
void
api_metrics_attempt(const char *model, const struct msg_done *d)
{
	if (ops_metrics == NULL)
		return;
	pthread_mutex_lock(&ops_mu);
	if (d->completion_tokens > 0)
		(void)metrics_add(ops_metrics, MET_TOKENS_GENERATED,
		    METRICS_L(model), d->completion_tokens);
	if (d->ttft_us > 0)
		(void)metrics_observe(ops_metrics, MET_TIME_TO_FIRST_TOKEN,
		    METRICS_L(model), d->ttft_us / 1e6);
	(void)metrics_add(
	    ops_metrics, MET_REQUESTS_IN_FLIGHT, METRICS_L(model), -1);
	pthread_mutex_unlock(&ops_mu);
}

/* The request goes to another replica: before its first token (retry),
 * or continuing a stream that broke (failover). */
void
api_metrics_retry(const char *reason, int failover)
{
	if (ops_metrics == NULL)
		return;
	pthread_mutex_lock(&ops_mu);
	(void)metrics_inc(ops_metrics, MET_RETRIES, METRICS_L(reason));
	if (failover)
		(void)metrics_inc(ops_metrics, MET_FAILOVERS, NULL);
	pthread_mutex_unlock(&ops_mu);
}

static void *
ops_main(void *arg)
{
	static struct metrics_snap snap;
	struct timespec ts;

	pthread_mutex_lock(&ops_mu);
	while (!ops_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&ops_cv, &ops_mu, &ts);
		if (ops_stop)
			break;
		(void)metrics_snapshot(ops_metrics, &snap);
		pthread_mutex_unlock(&ops_mu);
		api_rlink_send(MSG_METRICS_SNAP, &snap, sizeof(snap));
		pthread_mutex_lock(&ops_mu);
	}
	pthread_mutex_unlock(&ops_mu);
	return NULL;
}

int
api_ops_start(void)
{
	/* build_info comes from the router alone: snapshots are summed. */
	if ((ops_metrics = metrics_new()) == NULL)
		return -1;
	if (pthread_create(&ops_thread, NULL, ops_main, NULL) != 0)
		return -1;
	ops_running = 1;
	return 0;
}

void
api_ops_stop(void)
{
	if (!ops_running)
		return;
	pthread_mutex_lock(&ops_mu);
	ops_stop = 1;
	pthread_cond_signal(&ops_cv);
	pthread_mutex_unlock(&ops_mu);
	pthread_join(ops_thread, NULL);
	ops_running = 0;
}
