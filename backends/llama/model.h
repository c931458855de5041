/*
 * The transformer: loading a GGUF model's hyper-parameters and weights
 * (llama and qwen2 architectures) and evaluating batches of tokens against
 * a KV cache.
 */
#ifndef LLAMA_MODEL_H
#define LLAMA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "backends/llama/gguf.h"

struct pool;

struct llm_hparams {
	char arch[32];
	uint32_t n_vocab;
	uint32_t n_ctx_train;
	uint32_t dim;
	uint32_t n_layer;
	uint32_t n_head;
	uint32_t n_head_kv;
	uint32_t head_dim;
	uint32_t ffn;
	uint32_t n_rot;
	float eps;
	float rope_base;
	float rope_scale; /* freq_scale = 1 / linear factor */
	int rope_neox; /* rotate (i, i + n/2), else (2i, 2i+1) */
};

struct llm_layer {
	const struct gguf_tensor *wq, *wk, *wv, *wo, *gate, *up, *down;
	float *attn_norm, *ffn_norm, *bq, *bk, *bv; /* owned copies */
};

struct llm_model {
	struct gguf_file *gguf;
	struct llm_hparams hp;
	const struct gguf_tensor *tok_embd, *output;
	float *output_norm;
	float *rope_freqs; /* optional, n_rot / 2 */
	struct llm_layer *layers;
	uint64_t weight_bytes; /* mapped tensor data */
};

/* Opens and validates path; on failure err explains why. */
struct llm_model *llm_model_load(const char *path, char *err, size_t errlen);
void llm_model_free(struct llm_model *);

struct llm_ctx;

/*
 * An evaluation context: KV cache for n_ctx positions, scratch for batches
 * of up to n_batch tokens, and a pool of n_threads threads.
 */
struct llm_ctx *llm_ctx_new(const struct llm_model *, int n_ctx, int n_batch,
    int n_threads, char *err, size_t errlen);
void llm_ctx_free(struct llm_ctx *);

/* Flags for llm_eval. */
#define LLM_EVAL_LOGITS 0x1 /* logits of the last token */
#define LLM_EVAL_HIDDEN 0x2 /* final normalised states of every token */

/*
 * Evaluates n tokens (n <= n_batch) at positions llm_ctx_pos().. and
 * appends them to the cache.  -1 (err set) when they would not fit.
 */
int llm_eval(struct llm_ctx *, const int32_t *tokens, int n, int flags,
    char *err, size_t errlen);
const float *llm_logits(const struct llm_ctx *);
/* Row t (0..n-1) of the last batch's hidden states (LLM_EVAL_HIDDEN). */
const float *llm_hidden(const struct llm_ctx *, int t);
int llm_ctx_pos(const struct llm_ctx *);
int llm_ctx_size(const struct llm_ctx *);
int llm_ctx_batch(const struct llm_ctx *);
/* The tokens whose keys and values the cache holds, in order. */
const int32_t *llm_ctx_tokens(const struct llm_ctx *);
/* Forgets cached positions from pos on. */
void llm_ctx_truncate(struct llm_ctx *, int pos);
size_t llm_ctx_kv_bytes(const struct llm_ctx *);

#endif
