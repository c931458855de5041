/*
 * Token sampling: repetition/frequency/presence penalties, then greedy
 * (temperature <= 0) or top-k, top-p, min-p filtering on the untempered
 * distribution followed by temperature and a draw from a seeded generator
 * (the order of llama.cpp's default chain).  Same seed, same logits, same
 * history: same token.
 */
#ifndef LLAMA_SAMPLE_H
#define LLAMA_SAMPLE_H

#include <stdint.h>

struct sample_params {
	float temperature; /* <= 0: greedy */
	int top_k; /* <= 0: off */
	float top_p; /* >= 1: off */
	float min_p; /* <= 0: off */
	float repeat_penalty; /* 1: off */
	int repeat_last_n; /* window for all penalties */
	float frequency_penalty;
	float presence_penalty;
	uint64_t seed;
};

struct sampler {
	struct sample_params p;
	uint64_t state;
	struct cand *cand; /* scratch, n_vocab entries */
	int n_vocab;
};

int sampler_init(struct sampler *, const struct sample_params *, int n_vocab);
void sampler_free(struct sampler *);
/* Applies penalties to logits (modified) and picks a token. */
int32_t sampler_pick(
    struct sampler *, float *logits, const int32_t *history, int nhistory);
/* Uniform double in [0, 1) from the sampler's generator. */
double sampler_uniform(struct sampler *);

#endif
