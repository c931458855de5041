/*
 * Thread pool: one job at a time, designed for a machine shared with other
 * work.  The job's function takes its work in chunks from a counter of its
 * own (dynamic scheduling), so a descheduled worker does not hold the
 * others up: the caller runs the function too, then closes the job, and
 * waits only for workers that actually joined it.  A worker that wakes up
 * after the job was closed skips it.
 *
 * The state word packs the job generation (high 32 bits), a closed flag
 * and the number of workers inside the job; joining is a compare-and-swap
 * that fails once the generation moved on or the job closed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "backends/llama/pool.h"

#define SPINS 4000
#define ST_CLOSED (1ull << 31)
#define ST_ACTIVE (ST_CLOSED - 1)

struct pool {
	int n;
	pthread_t *threads;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_cond_t done;
	pool_fn fn;
	void *arg;
	uint32_t gen;
	_Atomic uint64_t st;
	atomic_int quit;
};

struct worker_arg {
	struct pool *p;
	int ith;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

/* Waits for a generation other than seen; returns it, or 0 on quit. */
static uint32_t
wait_job(struct pool *p, uint32_t seen)
{
	uint32_t g;
	int i;

	for (i = 0; i < SPINS; i++) {
		if ((g = (uint32_t)(atomic_load(&p->st) >> 32)) != seen)
			return g;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	while ((g = (uint32_t)(atomic_load(&p->st) >> 32)) == seen &&
	       !atomic_load(&p->quit))
		pthread_cond_wait(&p->wake, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return atomic_load(&p->quit) ? 0 : g;
}

/* Joins job g unless it is closed or gone; 1 when joined. */
static int
join_job(struct pool *p, uint32_t g)
{
	uint64_t s = atomic_load(&p->st);

	for (;;) {
		if ((uint32_t)(s >> 32) != g || (s & ST_CLOSED))
			return 0;
		if (atomic_compare_exchange_weak(&p->st, &s, s + 1))
			return 1;
	}
}

static void *
worker(void *v)
{
	struct worker_arg *wa = v;
	struct pool *p = wa->p;
	int ith = wa->ith;
	uint32_t seen = 0;
	uint64_t s;

	free(wa);
	while ((seen = wait_job(p, seen)) != 0) {
		if (!join_job(p, seen))
			continue;
		p->fn(p->arg, ith, p->n);
		s = atomic_fetch_sub(&p->st, 1) - 1;
		if ((s & ST_CLOSED) && (s & ST_ACTIVE) == 0) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

struct pool *
pool_new(int n)
{
	struct pool *p;
	struct worker_arg *wa;
	int i = 1;

	if (n < 1)
		n = 1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->n = n;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	if ((p->threads = calloc(n, sizeof(*p->threads))) == NULL)
		goto fail;
	for (i = 1; i < n; i++) {
		if ((wa = malloc(sizeof(*wa))) == NULL)
			goto fail;
		wa->p = p;
		wa->ith = i;
		if (pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
			free(wa);
			goto fail;
		}
	}
	return p;
fail:
	p->n = i;
	pool_free(p);
	return NULL;
}

int
pool_size(const struct pool *p)
{
	return p->n;
}

void
pool_run(struct pool *p, pool_fn fn, void *arg)
{
	uint64_t s;
	int i;

	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	if (++p->gen == 0)
		p->gen = 1; /* 0 means "quit" to wait_job */
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->st, (uint64_t)p->gen << 32);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0, p->n);
	s = atomic_fetch_or(&p->st, ST_CLOSED);
	for (i = 0; i < SPINS && (s & ST_ACTIVE) != 0; i++) {
		cpu_relax();
		s = atomic_load(&p->st);
	}
	if ((s & ST_ACTIVE) == 0)
		return;
	pthread_mutex_lock(&p->mu);
	while ((atomic_load(&p->st) & ST_ACTIVE) != 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
pool_free(struct pool *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (i = 1; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p);
}
