/*
 * A small fixed thread pool for the engine's parallel loops.  pool_run()
 * calls fn(arg, i, n) on the caller (i = 0) and on each worker that picks
 * the job up in time (i unique per thread, < n), and returns when all those
 * calls have returned.  fn must therefore take its work in chunks from a
 * shared counter rather than assume a fixed share per i: a worker may not
 * run it at all.  Workers spin briefly before sleeping, since one forward
 * pass issues hundreds of short parallel sections.
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
