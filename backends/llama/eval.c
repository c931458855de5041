/*
 * The forward pass: a batch of T tokens through every layer (RMSNorm,
 * attention with RoPE and grouped-query heads over an F16 KV cache, SwiGLU
 * feed-forward), as llama.cpp computes it.  Matrix products quantise their
 * input rows once into the weights' activation format and split the output
 * rows across the thread pool; attention splits (token, head) pairs.
 */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/model.h"
#include "backends/llama/pool.h"
#include "backends/llama/quant.h"

struct llm_ctx {
	const struct llm_model *m;
	struct pool *pool;
	int n_ctx, n_batch, pos;
	int32_t *tokens; /* cache contents */
	uint16_t *kcache, *vcache; /* [layer][pos][kvdim] */
	float *x, *xb, *xb2, *q, *k, *v, *hb, *hb2;
	float *logits, *scores; /* scores: per thread */
	uint8_t *aq; /* quantised activations */
	size_t aq_stride;
	const float *aq_src; /* what aq holds, or NULL */
	uint32_t aq_type;
	int aq_rows;
};

static float f16_table[65536];

static void
f16_table_init(void)
{
	static int done;
	int i;

	if (done)
		return;
	for (i = 0; i < 65536; i++)
		f16_table[i] = qt_fp16_to_fp32((uint16_t)i);
	done = 1;
}

static void *
alloc_floats(size_t n, int *ok)
{
	void *p = calloc(n ? n : 1, sizeof(float));

	if (p == NULL)
		*ok = 0;
	return p;
}

static size_t
max_act_size(const struct llm_model *m, size_t n)
{
	return ggml_row_size(GGML_F32, n) + 2 * sizeof(struct blk_q8_k);
}

struct llm_ctx *
llm_ctx_new(const struct llm_model *m, int n_ctx, int n_batch, int threads,
    char *err, size_t errlen)
{
	const struct llm_hparams *hp = &m->hp;
	struct llm_ctx *c;
	size_t kvd = (size_t)hp->n_head_kv * hp->head_dim, qd, wide;
	size_t cache;
	int ok = 1;

	f16_table_init();
	if (n_ctx < 8 || n_batch < 1) {
		snprintf(err, errlen, "context of %d is too small", n_ctx);
		return NULL;
	}
	if (n_batch > n_ctx)
		n_batch = n_ctx;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto oom;
	c->m = m;
	c->n_ctx = n_ctx;
	c->n_batch = n_batch;
	qd = (size_t)hp->n_head * hp->head_dim;
	wide = hp->ffn > qd ? hp->ffn : qd;
	wide = wide > hp->dim ? wide : hp->dim;
	cache = (size_t)hp->n_layer * n_ctx * kvd;
	c->kcache = calloc(cache, sizeof(uint16_t));
	c->vcache = calloc(cache, sizeof(uint16_t));
	c->tokens = calloc(n_ctx, sizeof(int32_t));
	c->x = alloc_floats((size_t)n_batch * hp->dim, &ok);
	c->xb = alloc_floats((size_t)n_batch * wide, &ok);
	c->xb2 = alloc_floats((size_t)n_batch * wide, &ok);
	c->q = alloc_floats((size_t)n_batch * qd, &ok);
	c->k = alloc_floats((size_t)n_batch * kvd, &ok);
	c->v = alloc_floats((size_t)n_batch * kvd, &ok);
	c->hb = alloc_floats((size_t)n_batch * hp->ffn, &ok);
	c->hb2 = alloc_floats((size_t)n_batch * hp->ffn, &ok);
	c->logits = alloc_floats(hp->n_vocab, &ok);
	c->aq_stride = max_act_size(m, wide);
	c->aq = malloc(c->aq_stride * n_batch);
	if (!ok || c->kcache == NULL || c->vcache == NULL ||
	    c->tokens == NULL || c->aq == NULL)
		goto oom;
	if ((c->pool = pool_new(threads)) == NULL)
		goto oom;
	c->scores = alloc_floats((size_t)pool_size(c->pool) * n_ctx, &ok);
	if (!ok)
		goto oom;
	return c;
oom:
	snprintf(
	    err, errlen, "out of memory for a context of %d tokens", n_ctx);
	llm_ctx_free(c);
	return NULL;
}

void
llm_ctx_free(struct llm_ctx *c)
{
	if (c == NULL)
		return;
	pool_free(c->pool);
	free(c->kcache);
	free(c->vcache);
	free(c->tokens);
	free(c->x);
	free(c->xb);
	free(c->xb2);
	free(c->q);
	free(c->k);
	free(c->v);
	free(c->hb);
	free(c->hb2);
	free(c->logits);
	free(c->scores);
	free(c->aq);
	free(c);
}

/* ---- elementwise pieces ---------------------------------------------- */

static void
rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
	double sum = 0;
	float scale;
	int i;

	for (i = 0; i < n; i++)
		sum += (double)(x[i] * x[i]);
	scale = 1.0f / sqrtf((float)(sum / n) + eps);
	for (i = 0; i < n; i++)
		out[i] = x[i] * scale * w[i];
}

/*
 * RoPE on one head at position pos.  Angles follow ggml: theta starts at
 * pos and is multiplied by base^(-2/n_rot) per pair, so the rounding
 * matches llama.cpp's.
 */
static void
rope(float *h, int pos, const struct llm_model *m)
{
	const struct llm_hparams *hp = &m->hp;
	float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
	float theta_base = (float)pos, theta, c, s, x0, x1;
	int i, half = (int)hp->n_rot / 2, i0, i1;

	for (i = 0; i < half; i++) {
		theta = theta_base;
		if (m->rope_freqs != NULL)
			theta = theta / m->rope_freqs[i];
		theta = hp->rope_scale * theta;
		c = cosf(theta);
		s = sinf(theta);
		i0 = hp->rope_neox ? i : 2 * i;
		i1 = hp->rope_neox ? i + half : 2 * i + 1;
		x0 = h[i0];
		x1 = h[i1];
		h[i0] = x0 * c - x1 * s;
		h[i1] = x0 * s + x1 * c;
		theta_base *= theta_scale;
	}
}

/* ---- matrix products -------------------------------------------------- */

struct mm_job {
	const struct gguf_tensor *w;
	const uint8_t *act;
	size_t act_stride;
	int T, nin, nout;
	float *out;
	qt_dot_fn dot;
	qt_dot4_fn dot4; /* or NULL */
	atomic_int next; /* next chunk of rows */
};

#define MM_ROWS 16

/* Takes chunks of MM_ROWS output rows until none are left. */
static void
mm_worker(void *arg, int ith, int nth)
{
	struct mm_job *j = arg;
	size_t rowsize = ggml_row_size(j->w->type, j->nin);
	const uint8_t *w = j->w->data;
	float o4[4];
	int rc, re, r, t, k;

	while ((rc = atomic_fetch_add(&j->next, 1) * MM_ROWS) < j->nout) {
		re = rc + MM_ROWS < j->nout ? rc + MM_ROWS : j->nout;
		for (t = 0; j->dot4 != NULL && t + 4 <= j->T; t += 4)
			for (r = rc; r < re; r++) {
				j->dot4(j->nin, w + (size_t)r * rowsize,
				    j->act + (size_t)t * j->act_stride,
				    j->act_stride, o4);
				for (k = 0; k < 4; k++)
					j->out[(size_t)(t + k) * j->nout + r] =
					    o4[k];
			}
		for (; t < j->T; t++)
			for (r = rc; r < re; r++)
				j->out[(size_t)t * j->nout + r] =
				    j->dot(j->nin, w + (size_t)r * rowsize,
				        j->act + (size_t)t * j->act_stride);
	}
}

/* out[T][nout] = src[T][nin] · Wᵀ; src is quantised once per format. */
static void
matmul(struct llm_ctx *c, const struct gguf_tensor *w, const float *src, int T,
    float *out)
{
	struct mm_job j;
	int nin = (int)w->ne[0], t;
	uint32_t at = qt_act_type(w->type);

	if (c->aq_src != src || c->aq_type != at || c->aq_rows != T) {
		for (t = 0; t < T; t++)
			qt_quantize_act(w->type, src + (size_t)t * nin,
			    c->aq + t * c->aq_stride, nin);
		c->aq_src = src;
		c->aq_type = at;
		c->aq_rows = T;
	}
	j.w = w;
	j.act = c->aq;
	j.act_stride = c->aq_stride;
	j.T = T;
	j.nin = nin;
	j.nout = (int)w->ne[1];
	j.out = out;
	j.dot = qt_get_dot(w->type);
	j.dot4 = qt_get_dot4(w->type);
	atomic_init(&j.next, 0);
	pool_run(c->pool, mm_worker, &j);
}

/* The next matmul must requantise: its source buffer was rewritten. */
static void
act_dirty(struct llm_ctx *c)
{
	c->aq_src = NULL;
}

/* ---- attention -------------------------------------------------------- */

struct att_job {
	struct llm_ctx *c;
	int layer, T;
	atomic_int next; /* next (token, head) pair */
};

/*
 * One head of one token.  Precision follows llama.cpp's CPU path so that
 * results stay comparable: the query and the softmax weights are rounded
 * to F16 before their products with the F16 cache, the softmax sum is
 * accumulated in double.
 */
static void
attend_one(struct llm_ctx *c, int layer, int t, int h, float *sc)
{
	const struct llm_hparams *hp = &c->m->hp;
	int hd = (int)hp->head_dim, kvd = (int)(hp->n_head_kv * hp->head_dim);
	int kvh = h / (int)(hp->n_head / hp->n_head_kv), pos = c->pos + t;
	const float *q = c->q + (size_t)t * hp->n_head * hd + (size_t)h * hd;
	size_t base = (size_t)layer * c->n_ctx * kvd + (size_t)kvh * hd;
	const uint16_t *kp, *vp;
	float *out = c->xb2 + (size_t)t * hp->n_head * hd + (size_t)h * hd;
	float scale = 1.0f / sqrtf((float)hd), max = -INFINITY, s, p, inv;
	float qh[hd];
	double sum = 0;
	int i, d;

	for (d = 0; d < hd; d++)
		qh[d] = f16_table[qt_fp32_to_fp16(q[d])];
	for (i = 0; i <= pos; i++) {
		kp = c->kcache + base + (size_t)i * kvd;
		for (s = 0, d = 0; d < hd; d++)
			s += qh[d] * f16_table[kp[d]];
		sc[i] = s * scale;
		max = sc[i] > max ? sc[i] : max;
	}
	for (i = 0; i <= pos; i++) {
		sc[i] = expf(sc[i] - max);
		sum += sc[i];
	}
	inv = (float)(1.0 / sum);
	memset(out, 0, hd * sizeof(float));
	for (i = 0; i <= pos; i++) {
		vp = c->vcache + base + (size_t)i * kvd;
		p = f16_table[qt_fp32_to_fp16(sc[i] * inv)];
		for (d = 0; d < hd; d++)
			out[d] += p * f16_table[vp[d]];
	}
}

static void
att_worker(void *arg, int ith, int nth)
{
	struct att_job *j = arg;
	struct llm_ctx *c = j->c;
	int nh = (int)c->m->hp.n_head, n = j->T * nh, i;

	while ((i = atomic_fetch_add(&j->next, 1)) < n)
		attend_one(c, j->layer, i / nh, i % nh,
		    c->scores + (size_t)ith * c->n_ctx);
}

/* Biases, RoPE, then keys and values into the cache at pos.. */
static void
qkv_finish(struct llm_ctx *c, const struct llm_layer *l, int layer, int T)
{
	const struct llm_hparams *hp = &c->m->hp;
	int hd = (int)hp->head_dim, qd = (int)hp->n_head * hd;
	int kvd = (int)hp->n_head_kv * hd, t, i;
	uint16_t *kc, *vc;

	for (t = 0; t < T; t++) {
		float *q = c->q + (size_t)t * qd, *k = c->k + (size_t)t * kvd;
		float *v = c->v + (size_t)t * kvd;
		for (i = 0; l->bq != NULL && i < qd; i++)
			q[i] += l->bq[i];
		for (i = 0; l->bk != NULL && i < kvd; i++)
			k[i] += l->bk[i];
		for (i = 0; l->bv != NULL && i < kvd; i++)
			v[i] += l->bv[i];
		for (i = 0; i < (int)hp->n_head; i++)
			rope(q + i * hd, c->pos + t, c->m);
		for (i = 0; i < (int)hp->n_head_kv; i++)
			rope(k + i * hd, c->pos + t, c->m);
		kc = c->kcache + ((size_t)layer * c->n_ctx + c->pos + t) * kvd;
		vc = c->vcache + ((size_t)layer * c->n_ctx + c->pos + t) * kvd;
		for (i = 0; i < kvd; i++) {
			kc[i] = qt_fp32_to_fp16(k[i]);
			vc[i] = qt_fp32_to_fp16(v[i]);
		}
	}
}

static void
attention(struct llm_ctx *c, const struct llm_layer *l, int layer, int T)
{
	const struct llm_hparams *hp = &c->m->hp;
	struct att_job j;
	int dim = (int)hp->dim, t, i;

	for (t = 0; t < T; t++)
		rmsnorm(c->xb + (size_t)t * dim, c->x + (size_t)t * dim,
		    l->attn_norm, dim, hp->eps);
	act_dirty(c);
	matmul(c, l->wq, c->xb, T, c->q);
	matmul(c, l->wk, c->xb, T, c->k);
	matmul(c, l->wv, c->xb, T, c->v);
	qkv_finish(c, l, layer, T);
	j.c = c;
	j.layer = layer;
	j.T = T;
	atomic_init(&j.next, 0);
	pool_run(c->pool, att_worker, &j);
	act_dirty(c);
	matmul(c, l->wo, c->xb2, T, c->xb);
	for (i = 0; i < T * dim; i++)
		c->x[i] += c->xb[i];
}

static void
feed_forward(struct llm_ctx *c, const struct llm_layer *l, int T)
{
	const struct llm_hparams *hp = &c->m->hp;
	int dim = (int)hp->dim, t;
	size_t i, n = (size_t)T * hp->ffn;
	float g;

	for (t = 0; t < T; t++)
		rmsnorm(c->xb + (size_t)t * dim, c->x + (size_t)t * dim,
		    l->ffn_norm, dim, hp->eps);
	act_dirty(c);
	matmul(c, l->gate, c->xb, T, c->hb);
	matmul(c, l->up, c->xb, T, c->hb2);
	for (i = 0; i < n; i++) {
		g = c->hb[i];
		c->hb[i] = g / (1.0f + expf(-g)) * c->hb2[i];
	}
	act_dirty(c);
	matmul(c, l->down, c->hb, T, c->xb);
	for (i = 0; i < (size_t)T * dim; i++)
		c->x[i] += c->xb[i];
}

static int
check_tokens(
    struct llm_ctx *c, const int32_t *tokens, int n, char *err, size_t errlen)
{
	int i;

	if (n < 1 || n > c->n_batch) {
		snprintf(err, errlen, "batch of %d tokens (limit %d)", n,
		    c->n_batch);
		return -1;
	}
	if (c->pos + n > c->n_ctx) {
		snprintf(err, errlen,
		    "context overflow: %d + %d tokens exceed "
		    "the context size %d",
		    c->pos, n, c->n_ctx);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->m->hp.n_vocab) {
			snprintf(
			    err, errlen, "token id %d out of range", tokens[i]);
			return -1;
		}
	return 0;
}

int
llm_eval(struct llm_ctx *c, const int32_t *tokens, int n, int flags, char *err,
    size_t errlen)
{
	const struct llm_model *m = c->m;
	int dim = (int)m->hp.dim, t;
	uint32_t l;

	if (check_tokens(c, tokens, n, err, errlen) == -1)
		return -1;
	for (t = 0; t < n; t++)
		qt_dequant_row(m->tok_embd->type,
		    (const uint8_t *)m->tok_embd->data +
		        ggml_row_size(m->tok_embd->type, dim) * tokens[t],
		    c->x + (size_t)t * dim, dim);
	for (l = 0; l < m->hp.n_layer; l++) {
		attention(c, &m->layers[l], (int)l, n);
		feed_forward(c, &m->layers[l], n);
	}
	for (t = (flags & LLM_EVAL_HIDDEN) ? 0 : n - 1; t < n; t++)
		rmsnorm(c->xb + (size_t)t * dim, c->x + (size_t)t * dim,
		    m->output_norm, dim, m->hp.eps);
	act_dirty(c);
	if (flags & LLM_EVAL_LOGITS)
		matmul(
		    c, m->output, c->xb + (size_t)(n - 1) * dim, 1, c->logits);
	memcpy(c->tokens + c->pos, tokens, n * sizeof(*tokens));
	c->pos += n;
	return 0;
}

const float *
llm_logits(const struct llm_ctx *c)
{
	return c->logits;
}

const float *
llm_hidden(const struct llm_ctx *c, int t)
{
	return c->xb + (size_t)t * c->m->hp.dim;
}

int
llm_ctx_pos(const struct llm_ctx *c)
{
	return c->pos;
}

int
llm_ctx_size(const struct llm_ctx *c)
{
	return c->n_ctx;
}

int
llm_ctx_batch(const struct llm_ctx *c)
{
	return c->n_batch;
}

const int32_t *
llm_ctx_tokens(const struct llm_ctx *c)
{
	return c->tokens;
}

void
llm_ctx_truncate(struct llm_ctx *c, int pos)
{
	if (pos >= 0 && pos < c->pos)
		c->pos = pos;
}

size_t
llm_ctx_kv_bytes(const struct llm_ctx *c)
{
	const struct llm_hparams *hp = &c->m->hp;

	return 2 * (size_t)hp->n_layer * c->n_ctx * hp->n_head_kv *
	       hp->head_dim * sizeof(uint16_t);
}
