/*
 * The in-flight poller.  Requests go from a frontend straight to a
 * backend's gRPC port, past this agent, so only the backend knows how many
 * it is serving.  Once per heartbeat interval this thread asks every ready
 * replica's backend for Status (the "in_flight" entry of its memory
 * breakdown, see backends/common/server_call.c) and stores the number in
 * the replica table, where the heartbeats and /metrics read it.
 *
 * It runs on its own thread so that a wedged backend delays neither the
 * main loop nor the heartbeats: each call has a short deadline, and a
 * failed poll only keeps the previous value (logged at debug level).  A
 * replica that is not ready counts 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/util.h"
#include "agent/wgrpc.h"
#include "agent/worker.h"
#include "proto/log.h"

struct poll_target {
	char id[128];
	uint32_t gen;
	uint16_t port;
};

static pthread_t poll_thread;
static pthread_mutex_t poll_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t poll_wake = PTHREAD_COND_INITIALIZER;
static int poll_stop, poll_started;

/* The ready replicas to ask (*n of them), malloc'd; others are zeroed. */
static struct poll_target *
poll_targets(size_t *n)
{
	struct poll_target *t;
	struct wk_replica *r;
	size_t cap = 0, i = 0;

	pthread_mutex_lock(&wk_lock);
	for (r = wk_replicas; r != NULL; r = r->next)
		cap++;
	if ((t = calloc(cap + 1, sizeof(*t))) != NULL)
		for (r = wk_replicas; r != NULL; r = r->next) {
			if (r->state != WR_READY) {
				r->in_flight = 0;
				continue;
			}
			snprintf(t[i].id, sizeof(t[i].id), "%s", r->id);
			t[i].gen = r->generation;
			t[i++].port = r->port;
		}
	pthread_mutex_unlock(&wk_lock);
	*n = i;
	return t;
}

/* Ask one backend; store its answer if the replica is still the same. */
static void
poll_one(const struct poll_target *t, int timeout_ms)
{
	char addr[64], err[256];
	struct wk_replica *r;
	uint32_t v;
	int rc;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", t->port);
	rc = wk_grpc_in_flight(
	    addr, wk_node.backend_token, timeout_ms, &v, err, sizeof(err));
	pthread_mutex_lock(&wk_lock);
	r = wk_replica_find(t->id);
	if (r != NULL && r->generation == t->gen && r->state == WR_READY) {
		if (rc == 0)
			r->in_flight = v;
		else
			log_debug("in-flight poll of %s: %s", t->id, err);
	} else if (r == NULL || r->state == WR_STOPPING) {
		/* Stopped meanwhile: our call may have opened a new channel
		 * after the stop closed the old one, and a backend waits
		 * for its clients to hang up before it exits. */
		wk_grpc_forget(addr);
	}
	pthread_mutex_unlock(&wk_lock);
}

/* Sleep ms unless told to stop; 1 when stopping. */
static int
poll_sleep(uint32_t ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&poll_mtx);
	while (!poll_stop &&
	       pthread_cond_timedwait(&poll_wake, &poll_mtx, &ts) != ETIMEDOUT)
		;
	stop = poll_stop;
	pthread_mutex_unlock(&poll_mtx);
	return stop;
}

static void *
poll_main(void *arg)
{
	uint32_t every = wk_conf()->worker.heartbeat_interval_ms;
	/* Half an interval, 100 ms to 500 ms: loopback answers in well
	 * under a millisecond, so a slower backend is wedged or busy. */
	int timeout = (int)(every / 2);
	struct poll_target *t;
	size_t i, n;

	if (timeout < 100)
		timeout = 100;
	if (timeout > 500)
		timeout = 500;
	while (!poll_sleep(every)) {
		if ((t = poll_targets(&n)) == NULL)
			continue;
		/* On through the drain: it waits on these numbers. */
		for (i = 0; i < n; i++)
			poll_one(&t[i], timeout);
		free(t);
	}
	return NULL;
}

void
wk_poll_start(void)
{
	poll_stop = 0;
	if (pthread_create(&poll_thread, NULL, poll_main, NULL) != 0) {
		log_warnx("cannot start the in-flight poller: heartbeats "
		          "report 0 in flight");
		return;
	}
	poll_started = 1;
}

void
wk_poll_stop(void)
{
	if (!poll_started)
		return;
	pthread_mutex_lock(&poll_mtx);
	poll_stop = 1;
	pthread_cond_broadcast(&poll_wake);
	pthread_mutex_unlock(&poll_mtx);
	pthread_join(poll_thread, NULL);
	poll_started = 0;
}
