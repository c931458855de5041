/*
 * The engine's forward pass against a plain double-precision reference
 * written here for clarity (its own dequantisers, direct RoPE angles, no
 * quantised activations, no SIMD).  For every tensor type and both
 * architectures: logits agree within a per-type tolerance at every step of
 * a greedy continuation, and the greedy tokens are the same (a step where
 * the reference's top two are closer than twice the measured error may
 * differ, at most three times per run; both then continue with the
 * reference's token).  Also: batched prompt evaluation equals
 * token-by-token evaluation bit for bit, for 1 and 3 threads; unsupported
 * architectures and context overflow are refused with clear messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backends/llama/gguf.h"
#include "backends/llama/model.h"
#include "tests/unit/test_llama_common.h"

/* ---- reference dequantisation --------------------------------------- */

static double
half(const uint8_t *p)
{
	unsigned h = p[0] | p[1] << 8, e = (h >> 10) & 31, m = h & 1023;
	double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);

	return (h & 0x8000) ? -v : v;
}

/* Scale j and min j (6 bits each) of a Q4_K/Q5_K block's 12 bytes. */
static void
scale_min(const uint8_t *s, int j, int *sc, int *mn)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*mn = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
		*mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
	}
}

/* Element i (0..255) of a K-quant block, as a double. */
static double
kquant_value(uint32_t type, const uint8_t *b, int i)
{
	int sub = i / 32, chunk = i / 64, l = i % 32, hi = sub % 2, q, sc, mn;

	if (type == GGML_Q6_K) {
		int half_ = i / 128, g = (i % 128) / 32, lo;
		lo = b[64 * half_ + l + (g % 2) * 32];
		lo = g >= 2 ? lo >> 4 : lo & 15;
		q = lo | ((b[128 + 32 * half_ + l] >> (2 * g)) & 3) << 4;
		return half(b + 208) * (int8_t)b[192 + i / 16] * (q - 32);
	}
	scale_min(b + 4, sub, &sc, &mn);
	if (type == GGML_Q4_K)
		q = hi ? b[16 + 32 * chunk + l] >> 4
		       : b[16 + 32 * chunk + l] & 15;
	else {
		q = hi ? b[48 + 32 * chunk + l] >> 4
		       : b[48 + 32 * chunk + l] & 15;
		q |= ((b[16 + l] >> sub) & 1) << 4;
	}
	return half(b) * sc * q - half(b + 2) * mn;
}

static double
value(uint32_t type, const uint8_t *row, int i)
{
	const uint8_t *b;
	float f;

	switch (type) {
	case GGML_F32:
		memcpy(&f, row + 4 * i, 4);
		return f;
	case GGML_F16:
		return half(row + 2 * i);
	case GGML_BF16: {
		uint32_t bits = (uint32_t)(row[2 * i] | row[2 * i + 1] << 8)
		                << 16;
		memcpy(&f, &bits, 4);
		return f;
	}
	case GGML_Q8_0:
		b = row + 34 * (i / 32);
		return half(b) * (int8_t)b[2 + i % 32];
	case GGML_Q4_0:
		b = row + 18 * (i / 32);
		return half(b) * (((i % 32 < 16 ? b[2 + i % 16] & 15
		                                : b[2 + i % 16] >> 4)) -
		                     8);
	default:
		return kquant_value(
		    type, row + ggml_type_size(type) * (i / 256), i % 256);
	}
}

/* A whole tensor as doubles, row-major [ne1][ne0]. */
static double *
tensor_d(const struct gguf_file *g, const char *name, int optional)
{
	const struct gguf_tensor *t = gguf_find_tensor(g, name);
	uint64_t r, i, rs;
	double *d;

	if (t == NULL) {
		if (!optional)
			fail_msg("tensor %s missing", name);
		return NULL;
	}
	rs = ggml_row_size(t->type, t->ne[0]);
	d = malloc(t->ne[0] * t->ne[1] * sizeof(double));
	for (r = 0; r < t->ne[1]; r++)
		for (i = 0; i < t->ne[0]; i++)
			d[r * t->ne[0] + i] = value(
			    t->type, (const uint8_t *)t->data + r * rs, (int)i);
	return d;
}

/* ---- reference model -------------------------------------------------- */

struct ref_layer {
	double *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *ffn_norm;
	double *gate, *up, *down;
};

struct ref {
	int dim, nl, nh, nkv, hd, ffn, nv, neox, ctx;
	double eps, base;
	double *embd, *out_norm, *out;
	struct ref_layer *l;
	double *kc, *vc; /* [layer][pos][kv dim] */
	int pos;
};

static void
ref_load(struct ref *r, const struct llm_model *m)
{
	const struct gguf_file *g = m->gguf;
	char n[64];
	int i;

	r->dim = m->hp.dim;
	r->nl = m->hp.n_layer;
	r->nh = m->hp.n_head;
	r->nkv = m->hp.n_head_kv;
	r->hd = m->hp.head_dim;
	r->ffn = m->hp.ffn;
	r->nv = m->hp.n_vocab;
	r->eps = m->hp.eps;
	r->base = m->hp.rope_base;
	r->neox = strcmp(m->hp.arch, "qwen2") == 0;
	r->ctx = 128;
	r->pos = 0;
	r->embd = tensor_d(g, "token_embd.weight", 0);
	r->out_norm = tensor_d(g, "output_norm.weight", 0);
	r->out = tensor_d(g, "output.weight", 1);
	r->l = calloc(r->nl, sizeof(*r->l));
	for (i = 0; i < r->nl; i++) {
#define L(field, suffix, opt)                                                  \
	snprintf(n, sizeof(n), "blk.%d." suffix, i);                           \
	r->l[i].field = tensor_d(g, n, opt)
		L(attn_norm, "attn_norm.weight", 0);
		L(wq, "attn_q.weight", 0);
		L(wk, "attn_k.weight", 0);
		L(wv, "attn_v.weight", 0);
		L(wo, "attn_output.weight", 0);
		L(bq, "attn_q.bias", 1);
		L(bk, "attn_k.bias", 1);
		L(bv, "attn_v.bias", 1);
		L(ffn_norm, "ffn_norm.weight", 0);
		L(gate, "ffn_gate.weight", 0);
		L(up, "ffn_up.weight", 0);
		L(down, "ffn_down.weight", 0);
#undef L
	}
	r->kc = calloc((size_t)r->nl * r->ctx * r->nkv * r->hd, sizeof(double));
	r->vc = calloc((size_t)r->nl * r->ctx * r->nkv * r->hd, sizeof(double));
}

static void
ref_free(struct ref *r)
{
	int i;

	for (i = 0; i < r->nl; i++) {
		double **f = (double **)&r->l[i];
		for (size_t k = 0; k < sizeof(r->l[i]) / sizeof(double *); k++)
			free(f[k]);
	}
	free(r->l);
	free(r->embd);
	free(r->out_norm);
	free(r->out);
	free(r->kc);
	free(r->vc);
}

/* y[nout] = W[nout][nin] x (+ b) */
static void
mv(double *y, const double *w, const double *x, int nin, int nout,
    const double *b)
{
	for (int o = 0; o < nout; o++) {
		double s = b ? b[o] : 0;
		for (int i = 0; i < nin; i++)
			s += w[(size_t)o * nin + i] * x[i];
		y[o] = s;
	}
}

static void
norm(double *y, const double *x, const double *w, int n, double eps)
{
	double ss = 0;

	for (int i = 0; i < n; i++)
		ss += x[i] * x[i];
	ss = 1.0 / sqrt(ss / n + eps);
	for (int i = 0; i < n; i++)
		y[i] = x[i] * ss * w[i];
}

static void
rope_d(double *h, int hd, int pos, double base, int neox)
{
	for (int i = 0; i < hd / 2; i++) {
		double th = pos * pow(base, -2.0 * i / hd);
		int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
		double x0 = h[a], x1 = h[b];
		h[a] = x0 * cos(th) - x1 * sin(th);
		h[b] = x0 * sin(th) + x1 * cos(th);
	}
}

static void
ref_attention(struct ref *r, int li, double *x, double *xb)
{
	struct ref_layer *L = &r->l[li];
	int kvd = r->nkv * r->hd, qd = r->nh * r->hd, p = r->pos;
	double q[qd], k[kvd], v[kvd], att[qd], o[r->dim], sc[r->ctx];
	double *kc = r->kc + (size_t)li * r->ctx * kvd;
	double *vc = r->vc + (size_t)li * r->ctx * kvd;

	norm(xb, x, L->attn_norm, r->dim, r->eps);
	mv(q, L->wq, xb, r->dim, qd, L->bq);
	mv(k, L->wk, xb, r->dim, kvd, L->bk);
	mv(v, L->wv, xb, r->dim, kvd, L->bv);
	for (int h = 0; h < r->nh; h++)
		rope_d(q + h * r->hd, r->hd, p, r->base, r->neox);
	for (int h = 0; h < r->nkv; h++)
		rope_d(k + h * r->hd, r->hd, p, r->base, r->neox);
	memcpy(kc + (size_t)p * kvd, k, sizeof(k));
	memcpy(vc + (size_t)p * kvd, v, sizeof(v));
	for (int h = 0; h < r->nh; h++) {
		int kh = h / (r->nh / r->nkv);
		double mx = -1e300, sum = 0;
		for (int t = 0; t <= p; t++) {
			double s = 0;
			for (int d = 0; d < r->hd; d++)
				s += q[h * r->hd + d] *
				     kc[(size_t)t * kvd + kh * r->hd + d];
			sc[t] = s / sqrt(r->hd);
			mx = fmax(mx, sc[t]);
		}
		for (int t = 0; t <= p; t++)
			sum += (sc[t] = exp(sc[t] - mx));
		for (int d = 0; d < r->hd; d++) {
			double s = 0;
			for (int t = 0; t <= p; t++)
				s += sc[t] / sum *
				     vc[(size_t)t * kvd + kh * r->hd + d];
			att[h * r->hd + d] = s;
		}
	}
	mv(o, L->wo, att, qd, r->dim, NULL);
	for (int i = 0; i < r->dim; i++)
		x[i] += o[i];
}

static void
ref_ffn(struct ref *r, int li, double *x, double *xb)
{
	struct ref_layer *L = &r->l[li];
	double *g = malloc(r->ffn * sizeof(double));
	double *u = malloc(r->ffn * sizeof(double)), o[r->dim];

	norm(xb, x, L->ffn_norm, r->dim, r->eps);
	mv(g, L->gate, xb, r->dim, r->ffn, NULL);
	mv(u, L->up, xb, r->dim, r->ffn, NULL);
	for (int i = 0; i < r->ffn; i++)
		g[i] = g[i] / (1 + exp(-g[i])) * u[i];
	mv(o, L->down, g, r->ffn, r->dim, NULL);
	for (int i = 0; i < r->dim; i++)
		x[i] += o[i];
	free(g);
	free(u);
}

/* One token at the next position; logits[nv]. */
static void
ref_step(struct ref *r, int token, double *logits)
{
	double x[r->dim], xb[r->dim];

	memcpy(x, r->embd + (size_t)token * r->dim, sizeof(x));
	for (int li = 0; li < r->nl; li++) {
		ref_attention(r, li, x, xb);
		ref_ffn(r, li, x, xb);
	}
	norm(xb, x, r->out_norm, r->dim, r->eps);
	mv(logits, r->out ? r->out : r->embd, xb, r->dim, r->nv, NULL);
	r->pos++;
}

/* ---- comparisons ---------------------------------------------------- */

static int
argmax_f(const float *v, int n)
{
	int b = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

static int
argmax_d(const double *v, int n, double *gap)
{
	int b = 0, s = -1;

	for (int i = 1; i < n; i++)
		if (v[i] > v[b]) {
			s = b;
			b = i;
		} else if (s < 0 || v[i] > v[s])
			s = i;
	*gap = v[b] - v[s];
	return b;
}

static const int32_t prompt[] = {1, 50, 300, 120, 7, 260, 99, 42};
#define NPROMPT ((int)(sizeof(prompt) / sizeof(prompt[0])))

/*
 * Prompt then 12 greedy steps; returns the worst logit error relative to
 * the reference logits' RMS.
 */
static double
compare(const char *args, double tol)
{
	const char *path = tl_model(args);
	char err[256];
	struct llm_model *m;
	struct llm_ctx *c;
	struct ref r;
	double *rl, worst = 0, gap;
	int i, step, tok, rtok, nv, ties = 0;

	assert_non_null(path);
	m = llm_model_load(path, err, sizeof(err));
	if (m == NULL)
		fail_msg("%s: %s", args, err);
	c = llm_ctx_new(m, 128, 32, 2, err, sizeof(err));
	assert_non_null(c);
	ref_load(&r, m);
	nv = r.nv;
	rl = malloc(nv * sizeof(double));
	for (i = 0; i < NPROMPT; i++)
		ref_step(&r, prompt[i], rl);
	assert_int_equal(
	    llm_eval(c, prompt, NPROMPT, LLM_EVAL_LOGITS, err, sizeof(err)), 0);
	for (step = 0; step < 12; step++) {
		const float *el = llm_logits(c);
		double ms = 0, md = 0;
		for (i = 0; i < nv; i++) {
			ms += rl[i] * rl[i];
			md = fmax(md, fabs(el[i] - rl[i]));
		}
		md /= sqrt(ms / nv);
		worst = fmax(worst, md);
		if (md > tol)
			fail_msg(
			    "%s step %d: logit error %.4g (tolerance %.4g)",
			    args, step, md, tol);
		tok = argmax_f(el, nv);
		if (tok != (rtok = argmax_d(rl, nv, &gap))) {
			if (gap > 2 * md * sqrt(ms / nv))
				fail_msg("%s step %d: greedy token %d differs "
				         "(reference gap %.4g)",
				    args, step, tok, gap);
			ties++; /* a near tie: follow the reference */
			tok = rtok;
		}
		ref_step(&r, tok, rl);
		assert_int_equal(
		    llm_eval(c, &tok, 1, LLM_EVAL_LOGITS, err, sizeof(err)), 0);
	}
	printf("%-40s worst logit error %.2e, %d near ties in %d steps\n", args,
	    worst, ties, step);
	assert_true(ties <= 3);
	free(rl);
	ref_free(&r);
	llm_ctx_free(c);
	llm_model_free(m);
	return worst;
}

static void
test_llama_types(void **state)
{
	compare("--arch llama --type F32 --seed 11", 2e-3);
	compare("--arch llama --type F16 --seed 12", 5e-3);
	compare("--arch llama --type BF16 --seed 13", 2e-2);
	compare("--arch llama --type Q8_0 --seed 14", 8e-2);
	compare("--arch llama --type Q4_0 --seed 15", 8e-2);
	compare("--arch llama --type Q4_K --seed 16", 8e-2);
	compare("--arch llama --type Q5_K --seed 17", 8e-2);
	compare("--arch llama --type Q6_K --seed 18", 8e-2);
}

static void
test_qwen2_types(void **state)
{
	compare("--arch qwen2 --type F32 --seed 21", 2e-3);
	compare("--arch qwen2 --type F16 --seed 22", 5e-3);
	compare("--arch qwen2 --type BF16 --seed 23", 2e-2);
	compare("--arch qwen2 --type Q8_0 --seed 24", 8e-2);
	compare("--arch qwen2 --type Q4_0 --seed 25", 8e-2);
	compare("--arch qwen2 --type Q4_K --seed 26", 8e-2);
	compare("--arch qwen2 --type Q5_K --seed 27", 8e-2);
	compare("--arch qwen2 --type Q6_K --seed 28", 8e-2);
	compare("--arch llama --type Q8_0 --seed 29 --tied --heads 8 "
	        "--kv-heads 1 --rope-base 500000",
	    8e-2);
}

/* Batch of 8 == 8 single steps, and 1 thread == 3 threads, exactly. */
static void
test_batch_consistency(void **state)
{
	const char *path = tl_model("--arch qwen2 --type Q4_K --seed 26");
	char err[256];
	struct llm_model *m = llm_model_load(path, err, sizeof(err));
	struct llm_ctx *a, *b;
	float *la;
	int i, nv;

	assert_non_null(m);
	nv = m->hp.n_vocab;
	a = llm_ctx_new(m, 64, 16, 1, err, sizeof(err));
	b = llm_ctx_new(m, 64, 16, 3, err, sizeof(err));
	assert_int_equal(
	    llm_eval(a, prompt, NPROMPT, LLM_EVAL_LOGITS, err, sizeof(err)), 0);
	la = malloc(nv * sizeof(float));
	memcpy(la, llm_logits(a), nv * sizeof(float));
	for (i = 0; i < NPROMPT; i++)
		assert_int_equal(llm_eval(b, &prompt[i], 1, LLM_EVAL_LOGITS,
		                     err, sizeof(err)),
		    0);
	assert_memory_equal(la, llm_logits(b), nv * sizeof(float));
	/* truncate and re-evaluate the last token: same logits again */
	llm_ctx_truncate(b, NPROMPT - 1);
	assert_int_equal(llm_ctx_pos(b), NPROMPT - 1);
	assert_int_equal(llm_eval(b, &prompt[NPROMPT - 1], 1, LLM_EVAL_LOGITS,
	                     err, sizeof(err)),
	    0);
	assert_memory_equal(la, llm_logits(b), nv * sizeof(float));
	free(la);
	llm_ctx_free(a);
	llm_ctx_free(b);
	llm_model_free(m);
}

/* Copies path to out with general.architecture = "mamba". */
static void
patch_arch(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "rb");
	static const char key[] = "general.architecture";
	char *buf, *p;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	p = memmem(buf, n, key, sizeof(key) - 1);
	assert_non_null(p);
	/* key, u32 type, u64 length, then the 5 bytes of "llama" */
	assert_memory_equal(p + sizeof(key) - 1 + 12, "llama", 5);
	memcpy(p + sizeof(key) - 1 + 12, "mamba", 5);
	snprintf(out, outlen, "%s.mamba", path);
	f = fopen(out, "wb");
	assert_int_equal(fwrite(buf, 1, n, f), (size_t)n);
	fclose(f);
	free(buf);
}

static void
test_refusals(void **state)
{
	const char *path = tl_model("--arch llama --type Q8_0 --seed 14");
	char err[256], cmd[1024];
	struct llm_model *m = llm_model_load(path, err, sizeof(err));
	struct llm_ctx *c;
	int32_t toks[16] = {0};

	assert_non_null(m);
	c = llm_ctx_new(m, 16, 16, 1, err, sizeof(err));
	assert_int_equal(llm_eval(c, toks, 12, 0, err, sizeof(err)), 0);
	assert_int_equal(llm_eval(c, toks, 5, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "context overflow"));
	toks[0] = 1 << 20;
	llm_ctx_truncate(c, 0);
	assert_int_equal(llm_eval(c, toks, 1, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	llm_ctx_free(c);
	llm_model_free(m);
	/* a file claiming another architecture is refused by name */
	patch_arch(path, cmd, sizeof(cmd));
	assert_null(llm_model_load(cmd, err, sizeof(err)));
	assert_non_null(strstr(err, "unsupported architecture 'mamba'"));
	remove(cmd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_llama_types),
	    cmocka_unit_test(test_qwen2_types),
	    cmocka_unit_test(test_batch_consistency),
	    cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
