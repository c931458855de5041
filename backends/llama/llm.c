/*
 * The engine façade: prompt evaluation with prefix reuse, the generation
 * loop (sampling, end-of-generation tokens, stop strings held back until
 * they cannot match, whole UTF-8 characters only), embeddings and
 * tokenisation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/llama/llm.h"
#include "backends/llama/model.h"
#include "backends/llama/tok.h"

struct llm_engine {
	struct llm_model *m;
	struct tok *t;
	struct llm_ctx *c;
	struct llm_opts o;
	enum chat_family chat;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct llm_engine *
llm_open(const char *path, const struct llm_opts *o, char *err, size_t errlen)
{
	struct llm_engine *e = calloc(1, sizeof(*e));
	char *tmpl;
	long ncpu;

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->o = *o;
	if ((e->m = llm_model_load(path, err, errlen)) == NULL ||
	    (e->t = tok_load(e->m->gguf, err, errlen)) == NULL)
		goto bad;
	if (e->o.n_ctx <= 0)
		e->o.n_ctx = e->m->hp.n_ctx_train < 4096
		                 ? (int)e->m->hp.n_ctx_train
		                 : 4096;
	if (e->o.n_batch <= 0)
		e->o.n_batch = 512;
	if (e->o.threads <= 0)
		e->o.threads =
		    (ncpu = sysconf(_SC_NPROCESSORS_ONLN)) > 0 ? (int)ncpu : 1;
	e->c = llm_ctx_new(
	    e->m, e->o.n_ctx, e->o.n_batch, e->o.threads, err, errlen);
	if (e->c == NULL)
		goto bad;
	e->chat = chat_by_name(o->template);
	if (e->chat == CHAT_UNKNOWN) {
		tmpl = gguf_get_strdup(e->m->gguf, "tokenizer.chat_template");
		e->chat = chat_detect(tmpl);
		free(tmpl);
	}
	if (e->chat == CHAT_UNKNOWN)
		e->chat = CHAT_CHATML;
	e->o.template = NULL;
	return e;
bad:
	llm_close(e);
	return NULL;
}

void
llm_close(struct llm_engine *e)
{
	if (e == NULL)
		return;
	llm_ctx_free(e->c);
	tok_free(e->t);
	llm_model_free(e->m);
	free(e);
}

/* ---- stop strings ------------------------------------------------------- */

size_t
stopbuf_push(struct stopbuf *sb, const char *text, size_t len, int *hit)
{
	size_t i, k, keep = 0, best = (size_t)-1, slen;
	const char *p;
	char *np;

	*hit = 0;
	if (sb->hold == NULL || sb->len + len > sb->cap) {
		sb->cap = (sb->len + len) * 2 + 64;
		if ((np = realloc(sb->hold, sb->cap)) == NULL)
			return 0;
		sb->hold = np;
	}
	if (len > 0)
		memcpy(sb->hold + sb->len, text, len);
	sb->len += len;
	for (i = 0; i < sb->nstop; i++) {
		slen = strlen(sb->stop[i]);
		if (slen == 0)
			continue;
		p = memmem(sb->hold, sb->len, sb->stop[i], slen);
		if (p != NULL && (size_t)(p - sb->hold) < best)
			best = (size_t)(p - sb->hold);
		/* the longest end of hold that starts this stop string */
		for (k = slen - 1; k > keep; k--)
			if (k <= sb->len &&
			    memcmp(sb->hold + sb->len - k, sb->stop[i], k) == 0)
				break;
		if (k > keep)
			keep = k;
	}
	if (best != (size_t)-1) {
		*hit = 1;
		sb->len = best;
		return best;
	}
	return sb->len - keep;
}

void
stopbuf_consume(struct stopbuf *sb, size_t n)
{
	if (n == 0)
		return;
	memmove(sb->hold, sb->hold + n, sb->len - n);
	sb->len -= n;
}

void
stopbuf_free(struct stopbuf *sb)
{
	free(sb->hold);
	sb->hold = NULL;
	sb->len = sb->cap = 0;
}

/* ---- prompt ---------------------------------------------------------------- */

/* Keeps BOS and the last tokens so that room tokens remain free. */
static int
fit_prompt(struct llm_engine *e, int32_t *ids, int n, int room, char *err,
    size_t errlen)
{
	int keep_bos = n > 0 && ids[0] == tok_bos(e->t),
	    max = e->o.n_ctx - room;

	if (n <= max)
		return n;
	if (!e->o.truncate) {
		snprintf(err, errlen,
		    "the prompt has %d tokens, more than the "
		    "context size %d allows",
		    n, e->o.n_ctx);
		return -1;
	}
	memmove(ids + keep_bos, ids + n - (max - keep_bos),
	    (max - keep_bos) * sizeof(*ids));
	return max;
}

/* Evaluates ids, reusing the cached prefix; logits of the last token. */
static int
eval_prompt(struct llm_engine *e, const int32_t *ids, int n, int *cached,
    char *err, size_t errlen)
{
	const int32_t *have = llm_ctx_tokens(e->c);
	int common = 0, pos, chunk, nb = llm_ctx_batch(e->c);

	while (common < llm_ctx_pos(e->c) && common < n &&
	       have[common] == ids[common])
		common++;
	if (common == n)
		common--; /* re-evaluate the last token for its logits */
	llm_ctx_truncate(e->c, common);
	*cached = common;
	for (pos = common; pos < n; pos += chunk) {
		chunk = n - pos < nb ? n - pos : nb;
		if (llm_eval(e->c, ids + pos, chunk,
		        pos + chunk == n ? LLM_EVAL_LOGITS : 0, err,
		        errlen) == -1)
			return -1;
	}
	return 0;
}

/* ---- generation ----------------------------------------------------------- */

struct gen_state {
	struct llm_engine *e;
	struct stopbuf sb;
	struct utf8_stream u8;
	llm_emit_fn emit;
	void *arg;
	int stopped, cancelled;
};

/* Feeds token text through UTF-8 and stop filtering, emitting what is safe. */
static void
gen_text(struct gen_state *g, const char *piece, size_t len)
{
	char out[3 * 256 + 16]; /* every byte may become U+FFFD */
	size_t n, ready;
	int hit;

	n = utf8_feed(&g->u8, piece, len, out);
	ready = stopbuf_push(&g->sb, out, n, &hit);
	if (ready > 0 && !g->cancelled &&
	    g->emit(g->arg, g->sb.hold, ready) != 0)
		g->cancelled = 1;
	stopbuf_consume(&g->sb, ready);
	if (hit)
		g->stopped = 1;
}

static void
gen_flush(struct gen_state *g)
{
	char out[8];
	size_t n = utf8_flush(&g->u8, out);
	int hit = 0;

	if (!g->stopped && n > 0)
		stopbuf_push(&g->sb, out, n, &hit);
	if (!g->stopped && !g->cancelled && g->sb.len > 0 &&
	    g->emit(g->arg, g->sb.hold, g->sb.len) != 0)
		g->cancelled = 1;
}

static enum llm_finish
gen_loop(struct gen_state *g, const struct llm_gen *p, struct sampler *s,
    int32_t **hist, int *nhist, struct llm_usage *u, char *err, size_t errlen)
{
	struct llm_engine *e = g->e;
	float *logits = malloc(e->m->hp.n_vocab * sizeof(float));
	char piece[256];
	int32_t tok;
	int len;

	if (logits == NULL)
		return LLM_FINISH_CANCEL;
	for (;;) {
		if (p->max_tokens > 0 && u->completion_tokens >= p->max_tokens)
			break;
		memcpy(
		    logits, llm_logits(e->c), e->m->hp.n_vocab * sizeof(float));
		tok = sampler_pick(s, logits, *hist, *nhist);
		if (!p->ignore_eos && tok_is_eog(e->t, tok)) {
			free(logits);
			return LLM_FINISH_EOS;
		}
		(*hist)[(*nhist)++] = tok;
		u->completion_tokens++;
		if ((len = tok_piece(e->t, tok, 0, piece, sizeof(piece))) > 0)
			gen_text(g, piece, len);
		if (g->stopped || g->cancelled)
			break;
		if (llm_ctx_pos(e->c) >= llm_ctx_size(e->c))
			break;
		if (llm_eval(e->c, &tok, 1, LLM_EVAL_LOGITS, err, errlen) == -1)
			break;
	}
	free(logits);
	return g->cancelled ? LLM_FINISH_CANCEL
	       : g->stopped ? LLM_FINISH_STOP
	                    : LLM_FINISH_LENGTH;
}

int
llm_generate(struct llm_engine *e, const char *prompt, const struct llm_gen *p,
    llm_emit_fn emit, void *arg, struct llm_usage *u, char *err, size_t errlen)
{
	struct gen_state g = {e, {0}, {{0}, 0}, emit, arg, 0, 0};
	struct sampler s;
	int32_t *ids = NULL, *hist;
	int n, room;
	double t0 = now_ms();

	memset(u, 0, sizeof(*u));
	if ((n = tok_encode(e->t, prompt, strlen(prompt), 1, 1, &ids)) < 0)
		return snprintf(err, errlen, "out of memory"), -1;
	room = p->max_tokens > 0 && p->max_tokens < e->o.n_ctx / 4
	           ? p->max_tokens
	           : e->o.n_ctx / 4;
	if (n == 0 ||
	    (n = fit_prompt(e, ids, n, room < 1 ? 1 : room, err, errlen)) < 0 ||
	    eval_prompt(e, ids, n, &u->cached_tokens, err, errlen) == -1) {
		free(ids);
		if (n == 0)
			snprintf(err, errlen, "empty prompt");
		return -1;
	}
	u->prompt_tokens = n;
	u->prompt_ms = now_ms() - t0;
	hist = realloc(ids, (n + e->o.n_ctx + 1) * sizeof(*ids));
	if (hist == NULL || sampler_init(&s, &p->sp, e->m->hp.n_vocab) == -1) {
		free(hist ? hist : ids);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	g.sb.stop = p->stop;
	g.sb.nstop = p->nstop;
	t0 = now_ms();
	err[0] = '\0';
	u->finish = gen_loop(&g, p, &s, &hist, &n, u, err, errlen);
	gen_flush(&g);
	u->gen_ms = now_ms() - t0;
	stopbuf_free(&g.sb);
	sampler_free(&s);
	free(hist);
	return err[0] != '\0' ? -1 : 0;
}

char *
llm_chat(struct llm_engine *e, const struct chat_msg *m, size_t n)
{
	return chat_render(e->chat, m, n, 1);
}

/* ---- embeddings and tokens ----------------------------------------------- */

int
llm_embed(struct llm_engine *e, const char *text, float *out, char *err,
    size_t errlen)
{
	int32_t *ids;
	int n, pos, chunk, d, dim = (int)e->m->hp.dim, t;
	double *sum = calloc(dim, sizeof(double)), norm = 0;

	if (sum == NULL ||
	    (n = tok_encode(e->t, text, strlen(text), 1, 0, &ids)) < 0) {
		free(sum);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	if (n == 0 || (n = fit_prompt(e, ids, n, 0, err, errlen)) < 0) {
		if (n == 0)
			snprintf(err, errlen, "empty input");
		free(ids);
		free(sum);
		return -1;
	}
	llm_ctx_truncate(e->c, 0);
	for (pos = 0; pos < n; pos += chunk) {
		chunk = n - pos < llm_ctx_batch(e->c) ? n - pos
		                                      : llm_ctx_batch(e->c);
		if (llm_eval(e->c, ids + pos, chunk, LLM_EVAL_HIDDEN, err,
		        errlen) == -1)
			break;
		for (t = 0; t < chunk; t++)
			if (e->o.pooling == LLM_POOL_MEAN || pos + t == n - 1)
				for (d = 0; d < dim; d++)
					sum[d] += llm_hidden(e->c, t)[d];
	}
	llm_ctx_truncate(e->c, 0);
	free(ids);
	if (pos < n) {
		free(sum);
		return -1;
	}
	for (d = 0; d < dim; d++)
		norm += sum[d] * sum[d];
	norm = norm > 0 ? 1.0 / sqrt(norm) : 0;
	for (d = 0; d < dim; d++)
		out[d] = (float)(sum[d] * norm);
	free(sum);
	return 0;
}

int
llm_dim(const struct llm_engine *e)
{
	return (int)e->m->hp.dim;
}

int
llm_tokenize(struct llm_engine *e, const char *text, int32_t **ids)
{
	return tok_encode(e->t, text, strlen(text), 1, 1, ids);
}

void
llm_memory(const struct llm_engine *e, struct llm_memory *mem)
{
	mem->weights = e->m->weight_bytes;
	mem->kv_cache = llm_ctx_kv_bytes(e->c);
	mem->file = e->m->gguf->size;
}

int
llm_ctx_len(const struct llm_engine *e)
{
	return e->o.n_ctx;
}

const char *
llm_template_name(const struct llm_engine *e)
{
	return chat_name(e->chat);
}
