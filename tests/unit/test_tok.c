/*
 * Tokenizers on generated vocabularies: encode/decode round trips (ASCII,
 * accents, CJK, emoji, whitespace runs, invalid UTF-8 excepted), merges
 * that actually merge, SentencePiece byte fallback for characters outside
 * the vocabulary, special-token parsing, and the streaming UTF-8 decoder
 * that never splits a character.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backends/llama/gguf.h"
#include "backends/llama/tok.h"
#include "tests/unit/test_llama_common.h"

static const char *texts[] = {
    "Hello world, the robot said hello back.",
    "Café naïve résumé — Zürich, São Paulo, Ångström, El Niño.",
    "你好世界，今天天气很好。日本語のテキスト",
    "Emoji: 🙂 🚀 🌍 ❤️ 👍 and 🦙 (not in the corpus)",
    "  leading, double  spaces,\ttabs\t\tand\n\nnewlines\n   trailing   ",
    "numbers 1234567 and 3.14159, code: def main(): return 0",
    "x",
    " ",
};

struct tk {
	struct gguf_file *g;
	struct tok *t;
};

static struct tk
load(const char *args)
{
	struct tk k;
	char err[256];
	const char *path = tl_model(args);

	assert_non_null(path);
	k.g = gguf_open(path, err, sizeof(err));
	assert_non_null(k.g);
	k.t = tok_load(k.g, err, sizeof(err));
	if (k.t == NULL)
		fail_msg("%s: %s", args, err);
	return k;
}

static void
unload(struct tk *k)
{
	tok_free(k->t);
	gguf_close(k->g);
}

/* Concatenated pieces of ids. */
static char *
decode(const struct tok *t, const int32_t *ids, int n)
{
	char *out = malloc(64 * n + 1);
	int i, len;
	size_t pos = 0;

	for (i = 0; i < n; i++) {
		len = tok_piece(t, ids[i], 0, out + pos, 64);
		assert_true(len >= 0);
		pos += len;
	}
	out[pos] = '\0';
	return out;
}

static void
round_trips(const char *args, int spm)
{
	struct tk k = load(args);
	int32_t *ids;
	char *back;
	size_t i;
	int n, chars;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		n = tok_encode(k.t, texts[i], strlen(texts[i]), 0, 0, &ids);
		assert_true(n > 0);
		back = decode(k.t, ids, n);
		/* SentencePiece adds one leading space */
		if (strcmp(back + (spm ? 1 : 0), texts[i]) != 0 ||
		    (spm && back[0] != ' '))
			fail_msg(
			    "%s: '%s' came back as '%s'", args, texts[i], back);
		free(back);
		free(ids);
	}
	/* merges: a common word is fewer tokens than characters */
	n = tok_encode(k.t, "the robot read the story", 24, 0, 0, &ids);
	for (chars = 0, i = 0; i < 24; i++)
		chars++;
	assert_true(n > 0 && n <= chars / 3);
	free(ids);
	unload(&k);
}

static void
test_spm_round_trip(void **state)
{
	round_trips("--arch llama --type Q8_0 --seed 14", 1);
}

static void
test_bpe_round_trip(void **state)
{
	round_trips("--arch qwen2 --type Q8_0 --seed 24", 0);
	round_trips("--arch llama --type Q8_0 --seed 31 --tokenizer bpe "
	            "--pre llama-bpe",
	    0);
}

static void
test_spm_byte_fallback(void **state)
{
	struct tk k = load("--arch llama --type Q8_0 --seed 14");
	int32_t *ids;
	char buf[16];
	int n, i;

	/* U+1F680 is deliberately missing from the vocabulary */
	assert_int_equal(tok_find(k.t, "🚀"), -1);
	n = tok_encode(k.t, "🚀", 4, 1, 0, &ids);
	assert_int_equal(n, 6); /* BOS, "▁", four byte tokens */
	assert_int_equal(ids[0], tok_bos(k.t));
	assert_int_equal(ids[1], tok_find(k.t, "\xe2\x96\x81"));
	for (i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "<0x%02X>", (unsigned char)"🚀"[i]);
		assert_int_equal(ids[2 + i], tok_find(k.t, buf));
	}
	free(ids);
	/* a merged piece from the corpus comes out whole */
	n = tok_encode(k.t, "hello", 5, 0, 0, &ids);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], tok_find(k.t, "\xe2\x96\x81hello"));
	free(ids);
	unload(&k);
}

static void
test_specials(void **state)
{
	struct tk k = load("--arch qwen2 --type Q8_0 --seed 24");
	const char *s = "<|im_start|>user\nhi<|im_end|>";
	int32_t *ids, start = tok_find(k.t, "<|im_start|>");
	char buf[64];
	int n;

	assert_true(start >= 0);
	n = tok_encode(k.t, s, strlen(s), 1, 1, &ids);
	assert_true(n >= 4);
	assert_int_equal(ids[0], start); /* qwen2 adds no BOS */
	assert_int_equal(ids[n - 1], tok_find(k.t, "<|im_end|>"));
	assert_true(tok_is_eog(k.t, ids[n - 1]));
	assert_int_equal(tok_piece(k.t, start, 0, buf, sizeof(buf)), 0);
	assert_int_equal(tok_piece(k.t, start, 1, buf, sizeof(buf)), 12);
	free(ids);
	n = tok_encode(k.t, s, strlen(s), 1, 0, &ids);
	assert_true(ids[0] != start); /* plain text when not parsing */
	free(ids);
	unload(&k);
}

static void
test_utf8_stream(void **state)
{
	const char *s = "aé你🙂b";
	struct utf8_stream st = {0};
	char out[64], all[64];
	size_t i, n, total = 0;

	for (i = 0; i < strlen(s); i++) {
		n = utf8_feed(&st, s + i, 1, out);
		/* each chunk is empty or whole characters */
		if (n > 0)
			assert_true(((unsigned char)out[0] & 0xc0) != 0x80);
		memcpy(all + total, out, n);
		total += n;
	}
	assert_int_equal(total, strlen(s));
	assert_memory_equal(all, s, total);
	assert_int_equal(utf8_flush(&st, out), 0);
	/* invalid bytes become U+FFFD; a dangling lead byte too, at flush */
	n = utf8_feed(&st,
	    "x\xff"
	    "y\xe4\xbd",
	    5, out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "x\xef\xbf\xbdy", 5);
	assert_int_equal(utf8_flush(&st, out), 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spm_round_trip),
	    cmocka_unit_test(test_bpe_round_trip),
	    cmocka_unit_test(test_spm_byte_fallback),
	    cmocka_unit_test(test_specials),
	    cmocka_unit_test(test_utf8_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
