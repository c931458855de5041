/*
 * The engine as the backend glue sees it: a loaded model with its
 * tokenizer, chat template and one evaluation context; text generation with
 * sampling, stop strings and streaming; embeddings; tokenisation.  Not
 * thread-safe: one call at a time per engine (the runtime's gate ensures
 * it).
 */
#ifndef LLAMA_LLM_H
#define LLAMA_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "backends/llama/chat.h"
#include "backends/llama/sample.h"

struct llm_engine;

enum llm_pooling { LLM_POOL_MEAN = 0, LLM_POOL_LAST = 1 };

struct llm_opts {
	int n_ctx; /* 0: min(training context, 4096) */
	int n_batch; /* 0: 512 */
	int threads; /* 0: all online CPUs */
	int truncate; /* prompt longer than the context: keep
					   BOS and the end, instead of an error */
	const char *template; /* chat family name, NULL: detect */
	enum llm_pooling pooling;
};

struct llm_engine *llm_open(
    const char *path, const struct llm_opts *, char *err, size_t errlen);
void llm_close(struct llm_engine *);

/* Why generation ended. */
enum llm_finish {
	LLM_FINISH_LENGTH, /* max_tokens or context full */
	LLM_FINISH_EOS, /* an end-of-generation token */
	LLM_FINISH_STOP, /* a stop string */
	LLM_FINISH_CANCEL, /* the callback asked to stop */
};

struct llm_gen {
	struct sample_params sp;
	int max_tokens; /* <= 0: until the context ends */
	int ignore_eos;
	const char *const *stop;
	size_t nstop;
};

struct llm_usage {
	int prompt_tokens;
	int completion_tokens;
	int cached_tokens; /* prompt prefix reused */
	double prompt_ms;
	double gen_ms;
	enum llm_finish finish;
};

/*
 * Called with each new piece of text (whole UTF-8 characters, never the
 * text of a stop string); nonzero stops generation.
 */
typedef int (*llm_emit_fn)(void *arg, const char *text, size_t len);

int llm_generate(struct llm_engine *, const char *prompt,
    const struct llm_gen *, llm_emit_fn emit, void *arg, struct llm_usage *,
    char *err, size_t errlen);

/* Renders messages with the model's chat template (malloc'd). */
char *llm_chat(struct llm_engine *, const struct chat_msg *, size_t n);

/* L2-normalised pooled embedding into out[llm_dim()]. */
int llm_embed(struct llm_engine *, const char *text, float *out, char *err,
    size_t errlen);
int llm_dim(const struct llm_engine *);

/* Token ids of text (with BOS as the model asks); *ids malloc'd. */
int llm_tokenize(struct llm_engine *, const char *text, int32_t **ids);

struct llm_memory {
	uint64_t weights; /* mapped tensor bytes */
	uint64_t kv_cache;
	uint64_t file;
};
void llm_memory(const struct llm_engine *, struct llm_memory *);
int llm_ctx_len(const struct llm_engine *);
const char *llm_template_name(const struct llm_engine *);

/*
 * Stop-string filter, exposed for tests: text is appended to a holding
 * buffer; what cannot be the start of a stop string is released.
 */
struct stopbuf {
	char *hold;
	size_t len, cap;
	const char *const *stop;
	size_t nstop;
};

/*
 * Appends text; returns how many bytes at the start of sb->hold may be
 * emitted now (the caller emits them and calls stopbuf_consume), and sets
 * *hit when a stop string was found (hold then ends just before it).
 */
size_t stopbuf_push(struct stopbuf *, const char *text, size_t len, int *hit);
void stopbuf_consume(struct stopbuf *, size_t n);
void stopbuf_free(struct stopbuf *);

#endif
