/*
 * The worker's metrics; see wmetrics.h.  Counters and histograms live in
 * one registry updated as events happen, so they stay monotonic when a
 * replica leaves the table (a model unloaded keeps its restart count).  A
 * scrape copies them into a scratch registry, adds the gauges read from
 * the replica table and renders that, so an unloaded model's gauges go
 * away instead of freezing at their last value.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wmetrics.h"
#include "agent/worker.h"
#include "proto/log.h"
#include "proto/metrics.h"
#include "supervisor/sup.h"

static pthread_mutex_t wm_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics *wm_events; /* counters, histograms */
static struct metrics *wm_scrape; /* scratch, one scrape at a time */

int
wk_metrics_init(void)
{
	if ((wm_events = metrics_new()) == NULL ||
	    (wm_scrape = metrics_new()) == NULL) {
		wk_metrics_free();
		return -1;
	}
	return 0;
}

void
wk_metrics_free(void)
{
	metrics_free(wm_events);
	metrics_free(wm_scrape);
	wm_events = wm_scrape = NULL;
}

static void
wm_add(enum metric_id id, const char *const *labels, double v)
{
	pthread_mutex_lock(&wm_lock);
	if (wm_events != NULL && metrics_add(wm_events, id, labels, v) == -1)
		log_warnx("metrics: cannot count %s", metrics_def(id)->name);
	pthread_mutex_unlock(&wm_lock);
}

void
wk_metrics_restarts(const char *model, const char *backend, uint32_t n)
{
	if (n > 0)
		wm_add(MET_BACKEND_RESTARTS, METRICS_L(model, backend), n);
}

void
wk_metrics_crash_loop(const char *model, const char *backend)
{
	wm_add(MET_BACKEND_CRASH_LOOPS, METRICS_L(model, backend), 1);
}

void
wk_metrics_fetched(const char *model, uint64_t bytes)
{
	wm_add(MET_FILE_FETCH_BYTES, METRICS_L(model), (double)bytes);
}

void
wk_metrics_install(double seconds)
{
	pthread_mutex_lock(&wm_lock);
	if (wm_events != NULL &&
	    metrics_observe(
	        wm_events, MET_BACKEND_INSTALL_DURATION, NULL, seconds) == -1)
		log_warnx("metrics: cannot observe an install duration");
	pthread_mutex_unlock(&wm_lock);
}

/* The gauges from the replica table (wk_lock and wm_lock held). */
static void
wm_gauges(struct metrics *m)
{
	double count[WR_STOPPING + 1] = {0};
	struct wk_replica *r;
	int s;

	for (r = wk_replicas; r != NULL; r = r->next) {
		(void)metrics_set(
		    m, MET_REPLICA_IN_FLIGHT, METRICS_L(r->id), r->in_flight);
		if ((unsigned)r->state <= WR_STOPPING)
			count[r->state]++;
	}
	for (s = 0; s <= WR_STOPPING; s++)
		(void)metrics_set(m, MET_WORKER_REPLICAS,
		    METRICS_L(wk_state_name((enum wk_rstate)s)), count[s]);
	(void)metrics_set(
	    m, MET_BUILD_INFO, METRICS_L(LOCALAI_VERSION, "worker"), 1);
}

/* The families a worker exposes; the catalogue's others are the
 * frontend's and would only show zeros here. */
static const enum metric_id wm_ids[] = {MET_BACKEND_RESTARTS,
    MET_BACKEND_CRASH_LOOPS, MET_BACKEND_INSTALL_DURATION, MET_FILE_FETCH_BYTES,
    MET_REPLICA_IN_FLIGHT, MET_WORKER_REPLICAS, MET_BUILD_INFO};

static int
wm_ours(const char *help_line)
{
	const char *name = help_line + strlen("# HELP ");
	size_t i, n;

	for (i = 0; i < sizeof(wm_ids) / sizeof(wm_ids[0]); i++) {
		n = strlen(metrics_def(wm_ids[i])->name);
		if (strncmp(name, metrics_def(wm_ids[i])->name, n) == 0 &&
		    name[n] == ' ')
			return 1;
	}
	return 0;
}

/*
 * metrics_render() writes every family of the catalogue; keep the
 * worker's.  Each family starts with its "# HELP" line, so whole families
 * are kept or dropped, in place.
 */
static size_t
wm_filter(char *text, size_t len)
{
	char *in = text, *out = text, *end = text + len, *nl;
	int keep = 1;
	size_t n;

	while (in < end) {
		nl = memchr(in, '\n', (size_t)(end - in));
		n = nl != NULL ? (size_t)(nl - in) + 1 : (size_t)(end - in);
		if (strncmp(in, "# HELP ", 7) == 0)
			keep = wm_ours(in);
		if (keep) {
			memmove(out, in, n);
			out += n;
		}
		in += n;
	}
	*out = '\0';
	return (size_t)(out - text);
}

char *
wk_metrics_render(size_t *len)
{
	char *text = NULL;

	pthread_mutex_lock(&wk_lock);
	pthread_mutex_lock(&wm_lock);
	if (wm_scrape != NULL) {
		metrics_reset(wm_scrape);
		if (metrics_merge_registry(wm_scrape, wm_events, 0) == 0) {
			wm_gauges(wm_scrape);
			text = metrics_render(wm_scrape, len);
		}
		if (text != NULL)
			*len = wm_filter(text, *len);
	}
	pthread_mutex_unlock(&wm_lock);
	pthread_mutex_unlock(&wk_lock);
	return text;
}
