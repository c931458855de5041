/* Sampling; see sample.h.  No I/O: unit tests link this file alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/sample.h"

struct cand {
	int32_t id;
	float logit;
	float p;
};

int
sampler_init(struct sampler *s, const struct sample_params *p, int n_vocab)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->n_vocab = n_vocab;
	s->state = p->seed ^ 0x9e3779b97f4a7c15ull;
	s->cand = calloc(n_vocab > 0 ? n_vocab : 1, sizeof(*s->cand));
	return s->cand == NULL ? -1 : 0;
}

void
sampler_free(struct sampler *s)
{
	free(s->cand);
	s->cand = NULL;
}

/* splitmix64: small, fast, and the same on every platform. */
double
sampler_uniform(struct sampler *s)
{
	uint64_t z = (s->state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1p-53;
}

static void
penalize(const struct sample_params *p, float *logits, int n_vocab,
    const int32_t *hist, int nhist)
{
	int i, j, count,
	    start = p->repeat_last_n > 0 && nhist > p->repeat_last_n
	                ? nhist - p->repeat_last_n
	                : 0;
	int32_t t;

	if (p->repeat_last_n == 0 ||
	    (p->repeat_penalty == 1.0f && p->frequency_penalty == 0 &&
	        p->presence_penalty == 0))
		return;
	for (i = start; i < nhist; i++) {
		t = hist[i];
		if (t < 0 || t >= n_vocab)
			continue;
		for (j = start; j < i && hist[j] != t; j++)
			;
		if (j < i)
			continue; /* counted at its first occurrence */
		for (count = 0, j = i; j < nhist; j++)
			count += hist[j] == t;
		if (p->repeat_penalty != 1.0f && p->repeat_penalty > 0)
			logits[t] = logits[t] > 0
			                ? logits[t] / p->repeat_penalty
			                : logits[t] * p->repeat_penalty;
		logits[t] -=
		    (float)count * p->frequency_penalty + p->presence_penalty;
	}
}

static int
cand_desc(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->logit != y->logit)
		return x->logit < y->logit ? 1 : -1;
	return x->id - y->id;
}

/* Softmax of c[0..n) at temperature t into c[].p. */
static void
softmax(struct cand *c, int n, float t)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += c[i].p = expf((c[i].logit - c[0].logit) / t);
	for (i = 0; i < n; i++)
		c[i].p = (float)(c[i].p / sum);
}

/* Filters the sorted candidates; returns how many remain. */
static int
filter(const struct sample_params *p, struct cand *c, int n)
{
	double cum = 0;
	int i;

	if (p->top_k > 0 && p->top_k < n)
		n = p->top_k;
	softmax(c, n, 1.0f);
	if (p->top_p > 0 && p->top_p < 1.0f) {
		for (i = 0; i < n; i++) {
			cum += c[i].p;
			if (cum >= p->top_p) {
				n = i + 1;
				break;
			}
		}
	}
	if (p->min_p > 0 && p->min_p <= 1.0f)
		for (i = 1; i < n; i++)
			if (c[i].p < p->min_p * c[0].p) {
				n = i;
				break;
			}
	return n;
}

int32_t
sampler_pick(struct sampler *s, float *logits, const int32_t *hist, int nhist)
{
	struct cand *c = s->cand;
	double r, cum = 0;
	int i, n = s->n_vocab, best = 0;

	penalize(&s->p, logits, n, hist, nhist);
	if (s->p.temperature <= 0) {
		for (i = 1; i < n; i++)
			if (logits[i] > logits[best])
				best = i;
		return best;
	}
	/*
	 * Tokens more than 50 below the best have probability under e^-50
	 * relative to it: dropping them before sorting changes nothing
	 * measurable and keeps large vocabularies cheap.
	 */
	for (i = 1; i < n; i++)
		if (logits[i] > logits[best])
			best = i;
	for (n = 0, i = 0; i < s->n_vocab; i++)
		if (logits[i] >= logits[best] - 50.0f) {
			c[n].id = i;
			c[n++].logit = logits[i];
		}
	qsort(c, n, sizeof(*c), cand_desc);
	n = filter(&s->p, c, n);
	softmax(c, n, s->p.temperature);
	r = sampler_uniform(s);
	for (i = 0; i < n; i++) {
		cum += c[i].p;
		if (r < cum)
			return c[i].id;
	}
	return c[n - 1].id;
}
