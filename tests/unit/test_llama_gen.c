/*
 * Generation on a tiny model and the pure pieces around it: stop strings
 * held back across token boundaries and never emitted, sampling (greedy,
 * seeds, top-k/top-p/min-p, penalties), max tokens, streaming chunks that
 * are whole UTF-8 characters, prompt-prefix reuse, context overflow,
 * embeddings, and chat template detection and rendering.
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

#include "backends/llama/llm.h"
#include "backends/llama/tok.h"
#include "tests/unit/test_llama_common.h"

/* ---- stop strings ----------------------------------------------------- */

struct collect {
	char buf[8192];
	size_t len;
	int chunks, bad_utf8, stop_after;
};

static int
utf8_valid(const char *s, size_t n)
{
	struct utf8_stream st = {0};
	char out[3 * 8192 + 16];
	size_t m = utf8_feed(&st, s, n, out);

	return m == n && memcmp(out, s, n) == 0 && st.npend == 0;
}

static int
collect(void *arg, const char *text, size_t len)
{
	struct collect *c = arg;

	if (!utf8_valid(text, len))
		c->bad_utf8++;
	if (c->len + len < sizeof(c->buf)) {
		memcpy(c->buf + c->len, text, len);
		c->len += len;
		c->buf[c->len] = '\0';
	}
	c->chunks++;
	return c->stop_after > 0 && c->chunks >= c->stop_after;
}

static void
push(struct stopbuf *sb, const char *s, struct collect *c, int *hit)
{
	size_t n = stopbuf_push(sb, s, strlen(s), hit);

	collect(c, sb->hold, n);
	stopbuf_consume(sb, n);
}

static void
test_stopbuf(void **state)
{
	const char *stops[] = {"</s>", "User:"};
	struct stopbuf sb = {0};
	struct collect c = {0};
	int hit;

	sb.stop = stops;
	sb.nstop = 2;
	push(&sb, "Hello <", &c, &hit);
	assert_false(hit);
	assert_string_equal(c.buf, "Hello "); /* "<" held back */
	push(&sb, "b>bold", &c, &hit);
	assert_string_equal(c.buf, "Hello <b>bold");
	push(&sb, " Us", &c, &hit);
	assert_string_equal(c.buf, "Hello <b>bold ");
	push(&sb, "er", &c, &hit);
	assert_false(hit);
	push(&sb, ": next", &c, &hit);
	assert_true(hit);
	assert_string_equal(c.buf, "Hello <b>bold ");
	stopbuf_free(&sb);
	/* a stop string spread over three tokens */
	memset(&c, 0, sizeof(c));
	sb.stop = stops;
	push(&sb, "done<", &c, &hit);
	push(&sb, "/", &c, &hit);
	push(&sb, "s>more", &c, &hit);
	assert_true(hit);
	assert_string_equal(c.buf, "done");
	stopbuf_free(&sb);
}

/* ---- sampling ------------------------------------------------------------ */

static void
test_sampling(void **state)
{
	struct sample_params p = {0};
	struct sampler s, s2;
	float logits[8] = {1, 5, 3, 4.9f, -2, 0, 2, 4.8f}, l[8];
	int32_t hist[3] = {1, 1, 3}, a[50], i, counts[8] = {0};

	p.repeat_penalty = 1;
	sampler_init(&s, &p, 8);
	memcpy(l, logits, sizeof(l));
	assert_int_equal(sampler_pick(&s, l, NULL, 0), 1); /* greedy */
	/* repetition penalty 2 halves the positive logits of seen tokens */
	p.repeat_penalty = 2;
	p.repeat_last_n = 64;
	sampler_free(&s);
	sampler_init(&s, &p, 8);
	memcpy(l, logits, sizeof(l));
	assert_int_equal(sampler_pick(&s, l, hist, 3), 7);
	assert_true(l[1] == 2.5f && l[3] == 2.45f && l[7] == 4.8f);
	/* frequency and presence penalties */
	p.repeat_penalty = 1;
	p.frequency_penalty = 0.5f;
	p.presence_penalty = 0.25f;
	sampler_free(&s);
	sampler_init(&s, &p, 8);
	memcpy(l, logits, sizeof(l));
	sampler_pick(&s, l, hist, 3);
	assert_true(l[1] == 5 - 1.0f - 0.25f && l[3] == 4.9f - 0.5f - 0.25f);
	sampler_free(&s);
	/* same seed, same draws; top_k 3 only ever picks the best three */
	memset(&p, 0, sizeof(p));
	p.repeat_penalty = 1;
	p.temperature = 1;
	p.top_k = 3;
	p.seed = 42;
	sampler_init(&s, &p, 8);
	sampler_init(&s2, &p, 8);
	for (i = 0; i < 50; i++) {
		memcpy(l, logits, sizeof(l));
		a[i] = sampler_pick(&s, l, NULL, 0);
		memcpy(l, logits, sizeof(l));
		assert_int_equal(sampler_pick(&s2, l, NULL, 0), a[i]);
		assert_true(a[i] == 1 || a[i] == 3 || a[i] == 7);
		counts[a[i]]++;
	}
	assert_true(counts[1] > 0 && counts[3] > 0 && counts[7] > 0);
	sampler_free(&s);
	sampler_free(&s2);
	/* min_p 0.5 keeps tokens at least half as likely as the best */
	p.top_k = 0;
	p.min_p = 0.5f;
	sampler_init(&s, &p, 8);
	for (i = 0; i < 50; i++) {
		memcpy(l, logits, sizeof(l));
		a[0] = sampler_pick(&s, l, NULL, 0);
		assert_true(a[0] == 1 || a[0] == 3 || a[0] == 7);
	}
	sampler_free(&s);
	/* top_p 0.3 keeps only the best token here (p = 0.34) */
	p.min_p = 0;
	p.top_p = 0.3f;
	sampler_init(&s, &p, 8);
	for (i = 0; i < 20; i++) {
		memcpy(l, logits, sizeof(l));
		assert_int_equal(sampler_pick(&s, l, NULL, 0), 1);
	}
	sampler_free(&s);
}

/* ---- chat templates ------------------------------------------------------ */

static void
test_chat(void **state)
{
	const struct chat_msg m[] = {{"system", "Be brief."}, {"user", "Hi"},
	    {"assistant", "Hello!"}, {"user", "Bye"}};
	char *s;

	assert_int_equal(chat_detect("{{'<|im_start|>' + role}}"), CHAT_CHATML);
	assert_int_equal(chat_detect("'<|start_header_id|>' x "
	                             "'<|end_header_id|>'"),
	    CHAT_LLAMA3);
	assert_int_equal(chat_detect("{{ '[INST] ' + content }}"), CHAT_LLAMA2);
	assert_int_equal(
	    chat_detect("'<|user|>\\n' + content + eos_token"), CHAT_ZEPHYR);
	assert_int_equal(chat_detect("<start_of_turn>"), CHAT_GEMMA);
	assert_int_equal(chat_detect("'<|assistant|>' '<|end|>'"), CHAT_PHI3);
	assert_int_equal(chat_detect("{{ messages }}"), CHAT_UNKNOWN);
	assert_int_equal(chat_by_name("mistral"), CHAT_LLAMA2);

	s = chat_render(CHAT_CHATML, m, 4, 1);
	assert_string_equal(s,
	    "<|im_start|>system\nBe brief.<|im_end|>\n"
	    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!"
	    "<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
	    "<|im_start|>assistant\n");
	free(s);
	s = chat_render(CHAT_LLAMA3, m + 1, 1, 1);
	assert_string_equal(s,
	    "<|start_header_id|>user<|end_header_id|>\n\n"
	    "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
	free(s);
	s = chat_render(CHAT_LLAMA2, m, 4, 1);
	assert_string_equal(s, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi "
	                       "[/INST] Hello!</s><s>[INST] Bye [/INST]");
	free(s);
	s = chat_render(CHAT_ZEPHYR, m + 1, 1, 1);
	assert_string_equal(s, "<|user|>\nHi</s>\n<|assistant|>\n");
	free(s);
	s = chat_render(CHAT_GEMMA, m, 3, 1);
	assert_string_equal(s,
	    "<start_of_turn>user\nBe brief.\n\nHi"
	    "<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
	    "<start_of_turn>model\n");
	free(s);
	s = chat_render(CHAT_PHI3, m + 1, 1, 1);
	assert_string_equal(s, "<|user|>\nHi<|end|>\n<|assistant|>\n");
	free(s);
}

/* ---- generation on a tiny model ------------------------------------------ */

static struct llm_engine *
open_model(const char *args, int n_ctx, int truncate)
{
	struct llm_opts o = {n_ctx, 16, 2, truncate, NULL, LLM_POOL_MEAN};
	char err[256];
	struct llm_engine *e;
	const char *path = tl_model(args);

	assert_non_null(path);
	if ((e = llm_open(path, &o, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	return e;
}

static struct llm_gen
greedy(int max)
{
	struct llm_gen g;

	memset(&g, 0, sizeof(g));
	g.sp.repeat_penalty = 1;
	g.max_tokens = max;
	g.ignore_eos = 1;
	return g;
}

static void
run(struct llm_engine *e, const char *prompt, const struct llm_gen *g,
    struct collect *c, struct llm_usage *u)
{
	char err[256];

	memset(c, 0, sizeof(*c) - sizeof(c->stop_after));
	if (llm_generate(e, prompt, g, collect, c, u, err, sizeof(err)) != 0)
		fail_msg("generate: %s", err);
	assert_int_equal(c->bad_utf8, 0);
}

static void
test_generate(void **state)
{
	struct llm_engine *e =
	    open_model("--arch qwen2 --type Q4_K --seed 26", 256, 0);
	struct llm_gen g = greedy(24), g2;
	struct llm_usage u;
	struct collect a = {0}, b = {0};
	const char *stop[1];
	char cut[64];

	run(e, "Once upon a time", &g, &a, &u);
	assert_int_equal(u.completion_tokens, 24);
	assert_int_equal(u.finish, LLM_FINISH_LENGTH);
	assert_true(u.prompt_tokens > 2 && a.len > 0);
	/* the same request again: same text, prompt reused from the cache */
	run(e, "Once upon a time", &g, &b, &u);
	assert_string_equal(a.buf, b.buf);
	assert_int_equal(u.cached_tokens, u.prompt_tokens - 1);
	/* a stop string taken from the middle of the output is cut there */
	snprintf(cut, sizeof(cut), "%.*s", 3, a.buf + a.len / 2);
	stop[0] = cut;
	g2 = g;
	g2.stop = stop;
	g2.nstop = 1;
	run(e, "Once upon a time", &g2, &b, &u);
	assert_int_equal(u.finish, LLM_FINISH_STOP);
	assert_null(strstr(b.buf, cut));
	assert_memory_equal(b.buf, a.buf, b.len);
	assert_true(strstr(a.buf, cut) == a.buf + b.len);
	/* sampling: the same seed gives the same text, another seed differs */
	g2 = g;
	g2.sp.temperature = 1.5f;
	g2.sp.seed = 7;
	run(e, "Once upon a time", &g2, &a, &u);
	run(e, "Once upon a time", &g2, &b, &u);
	assert_string_equal(a.buf, b.buf);
	g2.sp.seed = 8;
	run(e, "Once upon a time", &g2, &b, &u);
	assert_string_not_equal(a.buf, b.buf);
	/* the callback can cancel */
	memset(&b, 0, sizeof(b));
	b.stop_after = 2;
	assert_int_equal(
	    llm_generate(e, "Once", &g, collect, &b, &u, cut, sizeof(cut)), 0);
	assert_int_equal(u.finish, LLM_FINISH_CANCEL);
	assert_int_equal(b.chunks, 2);
	llm_close(e);
}

static void
test_overflow(void **state)
{
	struct llm_engine *e =
	    open_model("--arch llama --type Q8_0 --seed 14", 32, 0);
	struct llm_gen g = greedy(4);
	struct llm_usage u;
	struct collect c = {0};
	char err[256], text[400];

	memset(text, 0, sizeof(text));
	memset(text, 'x', 100);
	for (int i = 0; i < 100; i += 2)
		text[i] = ' ';
	assert_int_equal(
	    llm_generate(e, text, &g, collect, &c, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than the context size"));
	llm_close(e);
	e = open_model("--arch llama --type Q8_0 --seed 14", 32, 1);
	run(e, text, &g, &c, &u);
	assert_true(u.prompt_tokens <= 28);
	assert_int_equal(u.completion_tokens, 4);
	/* generation stops at the end of the context */
	g.max_tokens = 0;
	run(e, "hi", &g, &c, &u);
	assert_int_equal(u.finish, LLM_FINISH_LENGTH);
	assert_int_equal(u.prompt_tokens + u.completion_tokens, 33);
	llm_close(e);
}

static void
test_embeddings(void **state)
{
	struct llm_engine *e =
	    open_model("--arch llama --type F16 --seed 12", 64, 0);
	float a[256], b[256], c[256];
	double n = 0, dot = 0;
	char err[256];
	int i;

	assert_int_equal(llm_dim(e), 256);
	assert_int_equal(llm_embed(e, "hello world", a, err, sizeof(err)), 0);
	assert_int_equal(llm_embed(e, "hello world", b, err, sizeof(err)), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(llm_embed(e, "the lazy dog", c, err, sizeof(err)), 0);
	for (i = 0; i < 256; i++) {
		n += a[i] * a[i];
		dot += a[i] * c[i];
	}
	assert_true(fabs(n - 1) < 1e-5);
	assert_true(dot < 0.999);
	llm_close(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stopbuf),
	    cmocka_unit_test(test_sampling),
	    cmocka_unit_test(test_chat),
	    cmocka_unit_test(test_generate),
	    cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_embeddings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
