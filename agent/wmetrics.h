/*
 * The worker's Prometheus metrics (GET /metrics on its HTTP address), by
 * the shared catalogue (proto/metrics_catalog.h): counters and histograms
 * kept as events happen, gauges (per-replica in-flight, replicas by state)
 * taken from the replica table at scrape time.  Any thread may call these.
 *
 * Lock order: wk_lock before the metrics lock; the update functions may
 * be called with wk_lock held, never the other way round.
 */
#ifndef LOCALAI_WMETRICS_H
#define LOCALAI_WMETRICS_H

#include <stddef.h>
#include <stdint.h>

int wk_metrics_init(void);
void wk_metrics_free(void);
/* A backend process of (model, backend) was restarted n more times. */
void wk_metrics_restarts(const char *model, const char *backend, uint32_t n);
/* A backend was declared failed for crashing in a loop. */
void wk_metrics_crash_loop(const char *model, const char *backend);
/* A backend.install brought a new replica up in `seconds`. */
void wk_metrics_install(double seconds);
/* bytes of a model file arrived from the frontend. */
void wk_metrics_fetched(const char *model, uint64_t bytes);
/* The exposition text (malloc'd, *len set) or NULL; takes wk_lock. */
char *wk_metrics_render(size_t *len);

#endif
