/*
 * Thread pool: one job at a time.  The caller publishes (fn, arg), bumps
 * the generation under the mutex and broadcasts; each worker runs its share
 * and decrements `pending`; the caller runs share 0 and then waits for
 * pending to reach zero.  Both waits spin for a short while first.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "backends/llama/pool.h"

#define SPINS	20000

struct pool {
	int			 n;
	pthread_t		*threads;
	pthread_mutex_t		 mu;
	pthread_cond_t		 wake;
	pthread_cond_t		 done;
	pool_fn			 fn;
	void			*arg;
	atomic_uint		 gen;
	atomic_int		 pending;
	atomic_int		 quit;
};

struct worker_arg {
	struct pool	*p;
	int		 ith;
};

static inline void
cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#endif
}

/* Waits until the generation differs from seen; returns it (or ~0: quit). */
static unsigned
wait_job(struct pool *p, unsigned seen)
{
	unsigned g;
	int i;

	for (i = 0; i < SPINS; i++) {
		if ((g = atomic_load(&p->gen)) != seen)
			return g;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	while ((g = atomic_load(&p->gen)) == seen && !p->quit)
		pthread_cond_wait(&p->wake, &p->mu);
	if (p->quit)
		g = ~0u;
	pthread_mutex_unlock(&p->mu);
	return g;
}

static void *
worker(void *v)
{
	struct worker_arg *wa = v;
	struct pool *p = wa->p;
	int ith = wa->ith;
	unsigned seen = 0;

	free(wa);
	for (;;) {
		if ((seen = wait_job(p, seen)) == ~0u || p->quit)
			return NULL;
		p->fn(p->arg, ith, p->n);
		if (atomic_fetch_sub(&p->pending, 1) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
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
	int i;

	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->gen, 1);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	fn(arg, 0, p->n);
	for (i = 0; i < SPINS && atomic_load(&p->pending) > 0; i++)
		cpu_relax();
	pthread_mutex_lock(&p->mu);
	while (atomic_load(&p->pending) > 0)
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
	p->quit = 1;
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
