/*
 * FIFO admission gate (see gate.h).  Each waiter is a node on its own
 * stack linked into the queue; only the head may be admitted, and every
 * change (admission, leave, cancellation, parallelism) broadcasts so the new
 * head re-checks.  Waits are bounded to 100 ms so that a cancellation flag
 * set without gate_kick() is still noticed.
 */
#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "backends/common/gate.h"
#include "proto/log.h"

struct gate_waiter {
	struct gate_waiter *next;
	int exclusive;
};

void
gate_init(struct gate *g, int parallel)
{
	pthread_condattr_t ca;
	int rc;

	/* Waits are timed against CLOCK_MONOTONIC: wall-clock jumps must
	 * not stall admission. */
	if ((rc = pthread_condattr_init(&ca)) != 0 ||
	    (rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) != 0 ||
	    (rc = pthread_mutex_init(&g->mu, NULL)) != 0 ||
	    (rc = pthread_cond_init(&g->cv, &ca)) != 0) {
		errno = rc;
		fatal("gate_init");
	}
	pthread_condattr_destroy(&ca);
	g->parallel = parallel > 0 ? parallel : 1;
	g->running = 0;
	g->exclusive = 0;
	g->waiting = 0;
	g->head = g->tail = NULL;
}

void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Can the head waiter w enter now?  Called with g->mu held. */
static int
gate_admissible(const struct gate *g, const struct gate_waiter *w)
{
	if (g->head != w || g->exclusive)
		return 0;
	if (w->exclusive)
		return g->running == 0;
	return g->running < g->parallel;
}

/* Unlink w from the queue.  Called with g->mu held. */
static void
gate_unlink(struct gate *g, struct gate_waiter *w)
{
	struct gate_waiter **pp, *prev = NULL;

	for (pp = &g->head; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			if (g->tail == w)
				g->tail = prev;
			g->waiting--;
			return;
		}
	}
}

static void
gate_timedwait(struct gate *g)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 100 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&g->cv, &g->mu, &ts);
}

int
gate_enter(struct gate *g, int exclusive, atomic_int *cancelled)
{
	struct gate_waiter w = { NULL, exclusive };
	int rc = 0;

	pthread_mutex_lock(&g->mu);
	if (g->tail != NULL)
		g->tail->next = &w;
	else
		g->head = &w;
	g->tail = &w;
	g->waiting++;
	while (!gate_admissible(g, &w)) {
		if (cancelled != NULL && atomic_load(cancelled)) {
			rc = -1;
			break;
		}
		gate_timedwait(g);
	}
	gate_unlink(g, &w);
	if (rc == 0) {
		if (exclusive)
			g->exclusive = 1;
		else
			g->running++;
	}
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void
gate_leave(struct gate *g, int exclusive)
{
	pthread_mutex_lock(&g->mu);
	if (exclusive)
		g->exclusive = 0;
	else
		g->running--;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void
gate_kick(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void
gate_set_parallel(struct gate *g, int parallel)
{
	pthread_mutex_lock(&g->mu);
	g->parallel = parallel > 0 ? parallel : 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

int
gate_running(struct gate *g)
{
	int n;

	pthread_mutex_lock(&g->mu);
	n = g->running;
	pthread_mutex_unlock(&g->mu);
	return n;
}

int
gate_waiting(struct gate *g)
{
	int n;

	pthread_mutex_lock(&g->mu);
	n = g->waiting;
	pthread_mutex_unlock(&g->mu);
	return n;
}
