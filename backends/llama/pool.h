/*
 * A small fixed thread pool for the engine's parallel loops.  pool_run()
 * calls fn(arg, i, n) once on each of the n threads (the caller is thread
 * 0) and returns when all calls have returned.  Workers spin briefly on a
 * generation counter before sleeping, since one forward pass issues
 * hundreds of short parallel sections.
 */
#ifndef LLAMA_POOL_H
#define LLAMA_POOL_H

struct pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

struct pool *pool_new(int nthreads);
int pool_size(const struct pool *);
void pool_run(struct pool *, pool_fn fn, void *arg);
void pool_free(struct pool *);

#endif
