/*
 * The llama backend: the native GGUF engine (llm.h) behind the shared
 * backend runtime.  One model per process; the engine is not thread-safe,
 * so the runtime gates inference calls one at a time (parallel = 1).
 *
 * LoadModel reads ModelFile (or ModelPath/Model), ContextSize, NBatch,
 * Threads and these Options strings ("key=value" or "key:value"):
 *   context_overflow=error|truncate   prompt longer than the context
 *                                     (default truncate: keep BOS + end)
 *   chat_template=NAME                chatml, llama3, llama2, mistral,
 *                                     zephyr, gemma, phi3 (default: from
 *                                     tokenizer.chat_template)
 *   pooling=mean|last                 embeddings (default mean)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/common/backend.h"
#include "backends/llama/llm.h"
#include "proto/log.h"

static struct llm_engine *engine;
/* Status reads these from another thread while gated ops run. */
static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;
static struct llm_memory mem;

/* ---- LoadModel ------------------------------------------------------------ */

/* Value of option key in opts->options, or NULL. */
static const char *
opt(const Backend__ModelOptions *o, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i < o->n_options; i++)
		if (o->options[i] != NULL &&
		    strncmp(o->options[i], key, kl) == 0 &&
		    (o->options[i][kl] == '=' || o->options[i][kl] == ':'))
			return o->options[i] + kl + 1;
	return NULL;
}

static const char *
model_path(struct be_ctx *ctx, const Backend__ModelOptions *o)
{
	if (o->modelfile != NULL && o->modelfile[0] != '\0')
		return o->modelfile;
	if (o->modelpath != NULL && o->modelpath[0] != '\0' &&
	    o->model != NULL && o->model[0] != '\0' && o->model[0] != '/') {
		size_t n = strlen(o->modelpath) + strlen(o->model) + 2;
		char *p = be_alloc(ctx, n);
		if (p != NULL)
			snprintf(p, n, "%s/%s", o->modelpath, o->model);
		return p;
	}
	return o->model;
}

static int
parse_opts(
    struct be_ctx *ctx, const Backend__ModelOptions *o, struct llm_opts *lo)
{
	const char *v;

	memset(lo, 0, sizeof(*lo));
	lo->n_ctx = o->contextsize;
	lo->n_batch = o->nbatch;
	lo->threads = o->threads;
	lo->truncate = 1;
	if ((v = opt(o, "context_overflow")) != NULL) {
		if (strcmp(v, "error") != 0 && strcmp(v, "truncate") != 0)
			return be_error(ctx, BE_INVALID_ARGUMENT,
			    "context_overflow must be error or truncate");
		lo->truncate = strcmp(v, "truncate") == 0;
	}
	if ((v = opt(o, "chat_template")) != NULL) {
		if (chat_by_name(v) == CHAT_UNKNOWN)
			return be_error(ctx, BE_INVALID_ARGUMENT,
			    "unknown chat_template '%s'", v);
		lo->template = v;
	}
	if ((v = opt(o, "pooling")) != NULL) {
		if (strcmp(v, "mean") != 0 && strcmp(v, "last") != 0)
			return be_error(ctx, BE_INVALID_ARGUMENT,
			    "pooling must be mean or last");
		lo->pooling =
		    strcmp(v, "last") == 0 ? LLM_POOL_LAST : LLM_POOL_MEAN;
	}
	if (lo->n_ctx < 0 || lo->n_batch < 0 || lo->threads < 0)
		return be_error(ctx, BE_INVALID_ARGUMENT,
		    "negative ContextSize, NBatch or Threads");
	return 0;
}

static void
set_engine(struct llm_engine *e)
{
	pthread_mutex_lock(&mem_mu);
	llm_close(engine);
	engine = e;
	memset(&mem, 0, sizeof(mem));
	if (e != NULL)
		llm_memory(e, &mem);
	pthread_mutex_unlock(&mem_mu);
}

static int
llama_load(struct be_ctx *ctx, const Backend__ModelOptions *o)
{
	struct llm_opts lo;
	struct llm_engine *e;
	const char *path = model_path(ctx, o);
	char err[512], msg[256];
	struct stat st;
	struct timespec t0, t1;

	if (parse_opts(ctx, o, &lo) == -1)
		return -1;
	if (path == NULL || path[0] == '\0')
		return be_error(
		    ctx, BE_INVALID_ARGUMENT, "no model file given");
	if (stat(path, &st) == -1)
		return be_error(
		    ctx, BE_NOT_FOUND, "model file %s not found", path);
	set_engine(NULL); /* a second load replaces the first */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((e = llm_open(path, &lo, err, sizeof(err))) == NULL)
		return be_error(ctx, BE_INVALID_ARGUMENT, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	set_engine(e);
	snprintf(msg, sizeof(msg),
	    "loaded %s: context %d, template %s, "
	    "%.0f ms",
	    path, llm_ctx_len(e), llm_template_name(e),
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	log_info("%s", msg);
	be_result_message(ctx, msg);
	return 0;
}

static int
llama_free(struct be_ctx *ctx)
{
	set_engine(NULL);
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static int
need_engine(struct be_ctx *ctx)
{
	if (engine == NULL)
		return be_error(ctx, BE_FAILED_PRECONDITION, "no model loaded");
	return 0;
}

static void
gen_params(const Backend__PredictOptions *r, struct llm_gen *g)
{
	struct sample_params *s = &g->sp;

	memset(g, 0, sizeof(*g));
	s->temperature = r->temperature;
	s->top_k = r->topk;
	s->top_p = r->topp > 0 ? r->topp : 1.0f;
	s->min_p = r->minp;
	s->repeat_penalty = r->penalty > 0 ? r->penalty : 1.0f;
	s->repeat_last_n = r->repeat != 0 ? r->repeat : 64;
	s->frequency_penalty = r->frequencypenalty;
	s->presence_penalty = r->presencepenalty;
	/* -1 asks for a random seed, as in LocalAI. */
	s->seed = r->seed >= 0
	              ? (uint64_t)r->seed
	              : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	g->max_tokens = r->tokens;
	g->ignore_eos = r->ignoreeos;
	g->stop = (const char *const *)r->stopprompts;
	g->nstop = r->n_stopprompts;
}

/* The prompt text: rendered messages for UseTokenizerTemplate. */
static char *
prompt_text(struct be_ctx *ctx, const Backend__PredictOptions *r)
{
	struct chat_msg *m;
	char *s, *out;
	size_t i;

	if (!r->usetokenizertemplate || r->n_messages == 0)
		return be_strdup(ctx, r->prompt != NULL ? r->prompt : "");
	if ((m = be_alloc(ctx, r->n_messages * sizeof(*m))) == NULL)
		return NULL;
	for (i = 0; i < r->n_messages; i++) {
		m[i].role =
		    r->messages[i]->role ? r->messages[i]->role : "user";
		m[i].content =
		    r->messages[i]->content ? r->messages[i]->content : "";
	}
	if ((s = llm_chat(engine, m, r->n_messages)) == NULL)
		return NULL;
	out = be_strdup(ctx, s);
	free(s);
	return out;
}

struct unary {
	struct be_ctx *ctx;
	char *buf;
	size_t len, cap;
};

static int
unary_emit(void *arg, const char *text, size_t len)
{
	struct unary *u = arg;
	char *nb;

	if (u->len + len + 1 > u->cap) {
		u->cap = (u->len + len + 1) * 2;
		if ((nb = realloc(u->buf, u->cap)) == NULL)
			return 1;
		u->buf = nb;
	}
	memcpy(u->buf + u->len, text, len);
	u->len += len;
	return be_cancelled(u->ctx);
}

static void
fill_usage(Backend__Reply *rep, const struct llm_usage *us)
{
	rep->tokens = us->completion_tokens;
	rep->prompt_tokens = us->prompt_tokens;
	rep->timing_prompt_processing = us->prompt_ms;
	rep->timing_token_generation = us->gen_ms;
}

static int
llama_predict(
    struct be_ctx *ctx, const Backend__PredictOptions *r, Backend__Reply *rep)
{
	struct unary u = {ctx, NULL, 0, 0};
	struct llm_gen g;
	struct llm_usage us;
	char err[256], *prompt;

	if (need_engine(ctx) == -1)
		return -1;
	if ((prompt = prompt_text(ctx, r)) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	gen_params(r, &g);
	if (llm_generate(engine, prompt, &g, unary_emit, &u, &us, err,
	        sizeof(err)) == -1) {
		free(u.buf);
		return be_error(ctx, BE_INVALID_ARGUMENT, "%s", err);
	}
	rep->message.data = u.len ? be_alloc(ctx, u.len) : NULL;
	if (u.len > 0 && rep->message.data == NULL) {
		free(u.buf);
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (u.len > 0)
		memcpy(rep->message.data, u.buf, u.len);
	rep->message.len = u.len;
	free(u.buf);
	fill_usage(rep, &us);
	return 0;
}

struct stream {
	struct be_ctx *ctx;
	int sent;
};

static int
stream_emit(void *arg, const char *text, size_t len)
{
	struct stream *s = arg;
	Backend__Reply r = BACKEND__REPLY__INIT;

	r.message.data = (uint8_t *)(uintptr_t)text;
	r.message.len = len;
	r.tokens = 1;
	if (be_cancelled(s->ctx) || be_send(s->ctx, &r) == -1)
		return 1;
	s->sent++;
	return 0;
}

static int
llama_predict_stream(struct be_ctx *ctx, const Backend__PredictOptions *r)
{
	struct stream s = {ctx, 0};
	Backend__Reply last = BACKEND__REPLY__INIT;
	struct llm_gen g;
	struct llm_usage us;
	char err[256], *prompt;

	if (need_engine(ctx) == -1)
		return -1;
	if ((prompt = prompt_text(ctx, r)) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	gen_params(r, &g);
	if (llm_generate(engine, prompt, &g, stream_emit, &s, &us, err,
	        sizeof(err)) == -1)
		return be_error(ctx, BE_INVALID_ARGUMENT, "%s", err);
	if (us.finish == LLM_FINISH_CANCEL)
		return -1;
	/* A last, empty reply carries the usage and timings. */
	fill_usage(&last, &us);
	be_send(ctx, &last);
	return 0;
}

static int
llama_embed(struct be_ctx *ctx, const Backend__PredictOptions *r,
    Backend__EmbeddingResult *res)
{
	const char *text = r->embeddings != NULL && r->embeddings[0] != '\0'
	                       ? r->embeddings
	                       : r->prompt;
	char err[256];
	float *v;

	if (need_engine(ctx) == -1)
		return -1;
	if ((v = be_alloc(ctx, llm_dim(engine) * sizeof(float))) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	if (llm_embed(engine, text != NULL ? text : "", v, err, sizeof(err)) ==
	    -1)
		return be_error(ctx, BE_INVALID_ARGUMENT, "%s", err);
	res->embeddings = v;
	res->n_embeddings = (size_t)llm_dim(engine);
	return 0;
}

static int
llama_tokenize(struct be_ctx *ctx, const Backend__PredictOptions *r,
    Backend__TokenizationResponse *res)
{
	int32_t *ids;
	int n;

	if (need_engine(ctx) == -1)
		return -1;
	if ((n = llm_tokenize(engine, r->prompt ? r->prompt : "", &ids)) < 0)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	res->tokens = n > 0 ? be_alloc(ctx, n * sizeof(int32_t)) : NULL;
	if (n > 0 && res->tokens == NULL) {
		free(ids);
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (n > 0)
		memcpy(res->tokens, ids, n * sizeof(int32_t));
	res->n_tokens = (size_t)n;
	res->length = n;
	free(ids);
	return 0;
}

/* ---- Status ------------------------------------------------------------- */

/* Adds the mapped weights and the KV cache to the runtime's breakdown. */
static int
llama_status(struct be_ctx *ctx, Backend__StatusResponse *res)
{
	Backend__MemoryUsageData *m = res->memory;
	Backend__MemoryUsageData__BreakdownEntry **arr, *e;
	struct llm_memory now;
	size_t n;

	pthread_mutex_lock(&mem_mu);
	now = mem;
	pthread_mutex_unlock(&mem_mu);
	if (m == NULL || now.weights == 0)
		return 0;
	n = m->n_breakdown;
	arr = be_alloc(ctx, (n + 2) * sizeof(*arr));
	e = be_alloc(ctx, 2 * sizeof(*e));
	if (arr == NULL || e == NULL)
		return 0;
	if (n > 0)
		memcpy(arr, m->breakdown, n * sizeof(*arr));
	backend__memory_usage_data__breakdown_entry__init(&e[0]);
	backend__memory_usage_data__breakdown_entry__init(&e[1]);
	e[0].key = "weights_mapped";
	e[0].value = now.weights;
	e[1].key = "kv_cache";
	e[1].value = now.kv_cache;
	arr[n] = &e[0];
	arr[n + 1] = &e[1];
	m->breakdown = arr;
	m->n_breakdown = n + 2;
	return 0;
}

static void
llama_fini(void)
{
	set_engine(NULL);
}

static const struct be_ops llama_ops = {
    .name = "llama",
    .parallel = 1,
    .fini = llama_fini,
    .status = llama_status,
    .load = llama_load,
    .free = llama_free,
    .predict = llama_predict,
    .predict_stream = llama_predict_stream,
    .embed = llama_embed,
    .tokenize = llama_tokenize,
};

int
main(int argc, char **argv)
{
	return be_main(argc, argv, &llama_ops);
}
