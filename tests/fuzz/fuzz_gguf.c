/*
 * libFuzzer target for the GGUF reader: any input must parse or fail with an
 * error string, never read outside the buffer.  Successful parses are
 * walked (every key, string array element and tensor) so that an index or
 * pointer that escaped validation is touched.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backends/llama/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void
walk(const struct gguf_file *g)
{
	uint64_t i, j;
	const struct gguf_value *v;
	const uint8_t *p;
	double d;

	for (i = 0; i < g->n_kv; i++) {
		v = &g->kv[i].v;
		sink += strlen(g->kv[i].key);
		if (v->type == GGUF_STRING && v->s.len > 0)
			sink += (uint8_t)v->s.ptr[v->s.len - 1];
		for (j = 0; v->strs != NULL && j < v->n; j++)
			if (v->strs[j].len > 0)
				sink +=
				    (uint8_t)v->strs[j].ptr[v->strs[j].len - 1];
		if (v->type == GGUF_ARRAY && v->n > 0 &&
		    gguf_arr_num(v, v->n - 1, &d) == 0)
			sink += (uint64_t)(d != 0);
	}
	for (i = 0; i < g->n_tensors; i++) {
		p = g->tensors[i].data;
		if (g->tensors[i].nbytes > 0)
			sink += p[0] + p[g->tensors[i].nbytes - 1];
		if (gguf_find_tensor(g, g->tensors[i].name) == NULL)
			__builtin_trap();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct gguf_file *g;

	err[0] = '\0';
	g = gguf_parse(data, size, err, sizeof(err));
	if (g == NULL) {
		if (err[0] == '\0')
			__builtin_trap();
		return 0;
	}
	walk(g);
	gguf_close(g);
	return 0;
}
