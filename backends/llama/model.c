/*
 * Model loading: hyper-parameters from the GGUF metadata, every weight
 * tensor looked up by its llama.cpp name and checked for shape and type
 * before the model is accepted.  Large matrices stay in the map; norms,
 * biases and RoPE factors are copied to floats.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/model.h"
#include "backends/llama/quant.h"

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t
arch_u32(
    const struct gguf_file *g, const char *arch, const char *key, uint32_t def)
{
	char name[128];
	uint32_t v = def;

	snprintf(name, sizeof(name), "%s.%s", arch, key);
	gguf_get_u32(g, name, &v);
	return v;
}

static float
arch_f32(
    const struct gguf_file *g, const char *arch, const char *key, float def)
{
	char name[128];
	float v = def;

	snprintf(name, sizeof(name), "%s.%s", arch, key);
	gguf_get_f32(g, name, &v);
	return v;
}

/* RoPE scaling: "linear" with a factor, or the older scale_linear key. */
static float
rope_freq_scale(const struct gguf_file *g, const char *arch)
{
	char name[128], *type;
	float factor;

	snprintf(name, sizeof(name), "%s.rope.scaling.type", arch);
	type = gguf_get_strdup(g, name);
	factor = arch_f32(g, arch, "rope.scaling.factor", 0);
	if (type != NULL && strcmp(type, "linear") != 0)
		factor = 0; /* yarn etc.: not applied (documented) */
	free(type);
	if (factor <= 0)
		factor = arch_f32(g, arch, "rope.scale_linear", 1);
	return factor > 0 ? 1.0f / factor : 1.0f;
}

static int
read_hparams(struct llm_model *m, char *err, size_t errlen)
{
	struct llm_hparams *hp = &m->hp;
	const struct gguf_file *g = m->gguf;
	char *arch = gguf_get_strdup(g, "general.architecture");
	const char *a;

	if (arch == NULL)
		return fail(err, errlen, "general.architecture is missing");
	if (strcmp(arch, "llama") != 0 && strcmp(arch, "qwen2") != 0) {
		fail(err, errlen,
		    "unsupported architecture '%.64s' "
		    "(supported: llama, qwen2)",
		    arch);
		free(arch);
		return -1;
	}
	snprintf(hp->arch, sizeof(hp->arch), "%s", arch);
	free(arch);
	a = hp->arch;
	hp->rope_neox = strcmp(a, "qwen2") == 0;
	hp->n_ctx_train = arch_u32(g, a, "context_length", 2048);
	hp->dim = arch_u32(g, a, "embedding_length", 0);
	hp->n_layer = arch_u32(g, a, "block_count", 0);
	hp->ffn = arch_u32(g, a, "feed_forward_length", 0);
	hp->n_head = arch_u32(g, a, "attention.head_count", 0);
	hp->n_head_kv = arch_u32(g, a, "attention.head_count_kv", hp->n_head);
	if (hp->dim == 0 || hp->n_layer == 0 || hp->n_head == 0 ||
	    hp->n_head_kv == 0 || hp->ffn == 0 || hp->n_layer > 4096 ||
	    hp->n_head % hp->n_head_kv != 0)
		return fail(err, errlen,
		    "%s: missing or inconsistent "
		    "dimensions in the metadata",
		    a);
	hp->head_dim =
	    arch_u32(g, a, "attention.key_length", hp->dim / hp->n_head);
	hp->n_rot = arch_u32(g, a, "rope.dimension_count", hp->head_dim);
	if (hp->head_dim == 0 || hp->head_dim % 2 != 0 || hp->n_rot % 2 != 0 ||
	    hp->n_rot > hp->head_dim ||
	    arch_u32(g, a, "attention.value_length", hp->head_dim) !=
	        hp->head_dim)
		return fail(err, errlen, "%s: unsupported head geometry", a);
	hp->eps = arch_f32(g, a, "attention.layer_norm_rms_epsilon", 1e-5f);
	hp->rope_base = arch_f32(g, a, "rope.freq_base", 10000.0f);
	hp->rope_scale = rope_freq_scale(g, a);
	return 0;
}

/* Looks a tensor up and checks its shape (ne1 0: one-dimensional). */
static const struct gguf_tensor *
tensor(const struct llm_model *m, const char *name, uint64_t ne0, uint64_t ne1,
    int optional, char *err, size_t errlen)
{
	const struct gguf_tensor *t = gguf_find_tensor(m->gguf, name);

	if (t == NULL) {
		if (!optional)
			fail(err, errlen, "tensor '%s' is missing", name);
		return NULL;
	}
	if (t->ne[0] != ne0 || t->ne[1] != (ne1 ? ne1 : 1) || t->ne[2] != 1 ||
	    t->ne[3] != 1) {
		fail(err, errlen,
		    "tensor '%s' has shape [%llu, %llu], "
		    "expected [%llu, %llu]",
		    name, (unsigned long long)t->ne[0],
		    (unsigned long long)t->ne[1], (unsigned long long)ne0,
		    (unsigned long long)(ne1 ? ne1 : 1));
		return NULL;
	}
	if (!qt_supported(t->type)) {
		fail(err, errlen,
		    "tensor '%s' has type %s, which this engine "
		    "does not support",
		    name, ggml_type_name(t->type));
		return NULL;
	}
	return t;
}

/* A matrix [nin, nout] kept in the map. */
static int
matrix(struct llm_model *m, const struct gguf_tensor **out, const char *name,
    uint64_t nin, uint64_t nout, char *err, size_t errlen)
{
	if ((*out = tensor(m, name, nin, nout, 0, err, errlen)) == NULL)
		return -1;
	m->weight_bytes += (*out)->nbytes;
	return 0;
}

/* A vector of n floats, copied; *out stays NULL when optional and absent. */
static int
vector(struct llm_model *m, float **out, const char *name, uint64_t n,
    int optional, char *err, size_t errlen)
{
	const struct gguf_tensor *t;

	*out = NULL;
	if (optional && gguf_find_tensor(m->gguf, name) == NULL)
		return 0;
	if ((t = tensor(m, name, n, 0, 0, err, errlen)) == NULL)
		return -1;
	if ((*out = malloc(n * sizeof(float))) == NULL)
		return fail(err, errlen, "out of memory");
	qt_dequant_row(t->type, t->data, *out, (int)n);
	m->weight_bytes += t->nbytes;
	return 0;
}

static int
load_layer(struct llm_model *m, uint32_t i, char *err, size_t errlen)
{
	const struct llm_hparams *hp = &m->hp;
	struct llm_layer *l = &m->layers[i];
	uint64_t qd = (uint64_t)hp->n_head * hp->head_dim;
	uint64_t kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
	char n[13][64];
	int k;
	static const char *suffix[13] = {"attn_norm.weight", "attn_q.weight",
	    "attn_k.weight", "attn_v.weight", "attn_output.weight",
	    "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
	    "ffn_down.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias", ""};

	for (k = 0; k < 12; k++)
		snprintf(n[k], sizeof(n[k]), "blk.%u.%s", i, suffix[k]);
	if (vector(m, &l->attn_norm, n[0], hp->dim, 0, err, errlen) == -1 ||
	    matrix(m, &l->wq, n[1], hp->dim, qd, err, errlen) == -1 ||
	    matrix(m, &l->wk, n[2], hp->dim, kvd, err, errlen) == -1 ||
	    matrix(m, &l->wv, n[3], hp->dim, kvd, err, errlen) == -1 ||
	    matrix(m, &l->wo, n[4], qd, hp->dim, err, errlen) == -1 ||
	    vector(m, &l->ffn_norm, n[5], hp->dim, 0, err, errlen) == -1 ||
	    matrix(m, &l->gate, n[6], hp->dim, hp->ffn, err, errlen) == -1 ||
	    matrix(m, &l->up, n[7], hp->dim, hp->ffn, err, errlen) == -1 ||
	    matrix(m, &l->down, n[8], hp->ffn, hp->dim, err, errlen) == -1 ||
	    vector(m, &l->bq, n[9], qd, 1, err, errlen) == -1 ||
	    vector(m, &l->bk, n[10], kvd, 1, err, errlen) == -1 ||
	    vector(m, &l->bv, n[11], kvd, 1, err, errlen) == -1)
		return -1;
	return 0;
}

static int
load_tensors(struct llm_model *m, char *err, size_t errlen)
{
	struct llm_hparams *hp = &m->hp;
	const struct gguf_tensor *t =
	    gguf_find_tensor(m->gguf, "token_embd.weight");
	uint32_t i;

	if (t == NULL)
		return fail(
		    err, errlen, "tensor 'token_embd.weight' is missing");
	hp->n_vocab = (uint32_t)t->ne[1];
	if (matrix(m, &m->tok_embd, "token_embd.weight", hp->dim, hp->n_vocab,
	        err, errlen) == -1 ||
	    vector(m, &m->output_norm, "output_norm.weight", hp->dim, 0, err,
	        errlen) == -1 ||
	    vector(m, &m->rope_freqs, "rope_freqs.weight", hp->n_rot / 2, 1,
	        err, errlen) == -1)
		return -1;
	m->output = m->tok_embd; /* tied embeddings */
	if (gguf_find_tensor(m->gguf, "output.weight") != NULL &&
	    matrix(m, &m->output, "output.weight", hp->dim, hp->n_vocab, err,
	        errlen) == -1)
		return -1;
	if ((m->layers = calloc(hp->n_layer, sizeof(*m->layers))) == NULL)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < hp->n_layer; i++)
		if (load_layer(m, i, err, errlen) == -1)
			return -1;
	return 0;
}

struct llm_model *
llm_model_load(const char *path, char *err, size_t errlen)
{
	struct llm_model *m;

	err[0] = '\0';
	qt_init();
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	if ((m->gguf = gguf_open(path, err, errlen)) == NULL ||
	    read_hparams(m, err, errlen) == -1 ||
	    load_tensors(m, err, errlen) == -1) {
		llm_model_free(m);
		return NULL;
	}
	return m;
}

void
llm_model_free(struct llm_model *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; m->layers != NULL && i < m->hp.n_layer; i++) {
		free(m->layers[i].attn_norm);
		free(m->layers[i].ffn_norm);
		free(m->layers[i].bq);
		free(m->layers[i].bk);
		free(m->layers[i].bv);
	}
	free(m->layers);
	free(m->output_norm);
	free(m->rope_freqs);
	gguf_close(m->gguf);
	free(m);
}
