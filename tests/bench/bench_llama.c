/*
 * bench_llama: throughput of the llama engine on models of TinyLlama-1.1B's
 * shape (dim 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632, vocab 32000)
 * with random weights, generated under /tmp by tests/tools/mkgguf.py
 * --fast (kept between runs; LLAMA_BENCH_DIR overrides the directory).
 *
 *	bench_llama [TYPES] [THREADS]      defaults "Q8_0,Q4_K,F16" "1,2"
 *
 * For each type: file size, load time, then for each thread count:
 * prompt processing (a 128-token batch) and generation (64 tokens one at a
 * time) in tokens/s, and the resident set.  A streaming-read benchmark
 * measures this machine's memory bandwidth in the same run; for generation
 * the report gives tokens/s x weight bytes per token / bandwidth, the
 * fraction of the memory-bandwidth limit reached.  Prints figures; not a
 * test.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/llama/model.h"
#include "backends/llama/quant.h"

#define PROMPT 128
#define GEN 64

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, res = 0;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	fclose(f);
	return res * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

/* ---- memory bandwidth ------------------------------------------------- */

struct bw_arg {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static void *
bw_read(void *v)
{
	struct bw_arg *a = v;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i;

	for (i = 0; i + 4 <= a->n; i += 4) {
		s0 += a->p[i];
		s1 += a->p[i + 1];
		s2 += a->p[i + 2];
		s3 += a->p[i + 3];
	}
	a->sum = s0 + s1 + s2 + s3;
	return NULL;
}

/* GB/s of reading a 1 GiB buffer with nthreads threads (best of 3). */
static double
bandwidth(int nthreads)
{
	size_t bytes = 1ull << 30, n = bytes / 8, per = n / nthreads;
	uint64_t *buf = malloc(bytes);
	pthread_t th[16];
	struct bw_arg a[16];
	double best = 0, t;
	int i, rep;

	if (buf == NULL)
		return 0;
	memset(buf, 1, bytes);
	for (rep = 0; rep < 3; rep++) {
		t = now();
		for (i = 0; i < nthreads; i++) {
			a[i].p = buf + per * i;
			a[i].n = per;
			pthread_create(&th[i], NULL, bw_read, &a[i]);
		}
		for (i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		t = now() - t;
		if (bytes / t / 1e9 > best)
			best = bytes / t / 1e9;
	}
	free(buf);
	return best;
}

/* ---- models ------------------------------------------------------------- */

static int
make_model(const char *dir, const char *type, char *path, size_t len)
{
	char cmd[1024];
	struct stat st;
	double t;

	snprintf(path, len, "%s/tinyllama-shape-%s.gguf", dir, type);
	if (stat(path, &st) == 0)
		return 0;
	snprintf(cmd, sizeof(cmd),
	    "mkdir -p %s && python3 "
	    "tests/tools/mkgguf.py --fast --arch llama --type %s --dim 2048 "
	    "--layers 22 --heads 32 --kv-heads 4 --ffn 5632 --vocab 32000 "
	    "--ctx 2048 -o %s",
	    dir, type, path);
	printf("generating %s ...\n", path);
	fflush(stdout);
	t = now();
	if (system(cmd) != 0)
		return -1;
	printf("  generated in %.1f s\n", now() - t);
	return 0;
}

static void
bench_threads(const struct llm_model *m, int threads, double bw)
{
	char err[256];
	struct llm_ctx *c =
	    llm_ctx_new(m, 512, PROMPT, threads, err, sizeof(err));
	int32_t toks[PROMPT], t;
	double t0, pp, tg;
	int i;

	if (c == NULL) {
		printf("  context: %s\n", err);
		return;
	}
	for (i = 0; i < PROMPT; i++)
		toks[i] = (int32_t)((i * 7919 + 13) % m->hp.n_vocab);
	/* a short warm-up brings the mapped weights into memory */
	llm_eval(c, toks, 4, LLM_EVAL_LOGITS, err, sizeof(err));
	llm_ctx_truncate(c, 0);
	t0 = now();
	if (llm_eval(c, toks, PROMPT, LLM_EVAL_LOGITS, err, sizeof(err)) == -1)
		printf("  eval: %s\n", err);
	pp = PROMPT / (now() - t0);
	t0 = now();
	for (i = 0; i < GEN; i++) {
		t = (int32_t)((i * 31 + 5) % m->hp.n_vocab);
		if (llm_eval(c, &t, 1, LLM_EVAL_LOGITS, err, sizeof(err)) == -1)
			break;
	}
	tg = GEN / (now() - t0);
	printf("  threads %d: prompt %7.1f tok/s   generation %6.2f tok/s   "
	       "%5.1f GB/s of weights = %3.0f%% of bandwidth   RSS %ld MiB\n",
	    threads, pp, tg, tg * m->weight_bytes / 1e9,
	    100.0 * tg * m->weight_bytes / 1e9 / bw, rss_mb());
	llm_ctx_free(c);
}

int
main(int argc, char **argv)
{
	const char *types = argc > 1 ? argv[1] : "Q8_0,Q4_K,F16";
	const char *tlist = argc > 2 ? argv[2] : "1,2";
	const char *dir = getenv("LLAMA_BENCH_DIR");
	char path[512], err[256], tbuf[64], *tp, *tsave, ttl[64], *th, *thsave;
	struct llm_model *m;
	struct rusage ru;
	struct stat st;
	double bw1, bw2, t;

	if (dir == NULL)
		dir = "/tmp/localai-llama-bench";
	qt_init();
	bw1 = bandwidth(1);
	bw2 = bandwidth(2);
	printf("SIMD level: %s\nmemory bandwidth (streaming read): %.1f GB/s "
	       "1 thread, %.1f GB/s 2 threads\n",
	    qt_level_name(qt_level()), bw1, bw2);
	snprintf(tbuf, sizeof(tbuf), "%s", types);
	for (tp = strtok_r(tbuf, ",", &tsave); tp != NULL;
	     tp = strtok_r(NULL, ",", &tsave)) {
		if (make_model(dir, tp, path, sizeof(path)) == -1) {
			printf("%s: generation failed\n", tp);
			continue;
		}
		t = now();
		if ((m = llm_model_load(path, err, sizeof(err))) == NULL) {
			printf("%s: %s\n", tp, err);
			continue;
		}
		stat(path, &st);
		printf("%s: file %.2f GB, weights %.2f GB, load %.1f ms\n", tp,
		    st.st_size / 1e9, m->weight_bytes / 1e9, (now() - t) * 1e3);
		snprintf(ttl, sizeof(ttl), "%s", tlist);
		for (th = strtok_r(ttl, ",", &thsave); th != NULL;
		     th = strtok_r(NULL, ",", &thsave))
			bench_threads(m, atoi(th), atoi(th) > 1 ? bw2 : bw1);
		llm_model_free(m);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
	return 0;
}
