/*
 * llama_probe MODEL PROMPT NGEN [THREADS]: tokenises PROMPT (with the
 * model's BOS, special tokens parsed), evaluates it and decodes NGEN tokens
 * greedily, printing one JSON object: prompt token ids, generated ids,
 * generated text and the logits of every step.  Used by the differential
 * test against llama.cpp (tests/e2e/llama_diff.test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/model.h"
#include "backends/llama/tok.h"

static void
json_str(const char *s, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
ids_json(const char *name, const int32_t *ids, int n)
{
	int i;

	printf("\"%s\":[", name);
	for (i = 0; i < n; i++)
		printf("%s%d", i ? "," : "", ids[i]);
	printf("],");
}

int
main(int argc, char **argv)
{
	char err[256], text[65536], piece[256];
	struct llm_model *m;
	struct llm_ctx *c;
	struct tok *t;
	int32_t *ids, gen[1024];
	int n, ngen, i, j, best, len;
	size_t tl = 0;
	const float *lg;

	if (argc < 4)
		return fprintf(stderr, "usage: llama_probe MODEL PROMPT NGEN "
		                       "[THREADS]\n"),
		       2;
	ngen = atoi(argv[3]);
	if (ngen < 0 || ngen > 1024)
		return 2;
	if ((m = llm_model_load(argv[1], err, sizeof(err))) == NULL ||
	    (t = tok_load(m->gguf, err, sizeof(err))) == NULL)
		return fprintf(stderr, "llama_probe: %s\n", err), 1;
	n = tok_encode(t, argv[2], strlen(argv[2]), 1, 1, &ids);
	c = llm_ctx_new(
	    m, 512, 512, argc > 4 ? atoi(argv[4]) : 1, err, sizeof(err));
	if (n < 1 || c == NULL ||
	    llm_eval(c, ids, n, LLM_EVAL_LOGITS, err, sizeof(err)) == -1)
		return fprintf(stderr, "llama_probe: %s\n", err), 1;
	printf("{");
	ids_json("prompt_tokens", ids, n);
	printf("\"logits\":[");
	for (i = 0; i < ngen; i++) {
		lg = llm_logits(c);
		for (best = 0, j = 0; j < (int)m->hp.n_vocab; j++) {
			printf("%s%.6g", j ? "," : i ? ",[" : "[", lg[j]);
			if (lg[j] > lg[best])
				best = j;
		}
		printf("]");
		gen[i] = best;
		len = tok_piece(t, best, 0, piece, sizeof(piece));
		if (len > 0 && tl + len < sizeof(text)) {
			memcpy(text + tl, piece, len);
			tl += len;
		}
		if (llm_eval(c, &best, 1, LLM_EVAL_LOGITS, err, sizeof(err)) ==
		    -1)
			return fprintf(stderr, "llama_probe: %s\n", err), 1;
	}
	printf("],");
	ids_json("gen", gen, ngen);
	printf("\"text\":");
	json_str(text, tl);
	printf("}\n");
	free(ids);
	llm_ctx_free(c);
	tok_free(t);
	llm_model_free(m);
	return 0;
}
