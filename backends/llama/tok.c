/*
 * Tokenizers.  Both kinds start from single characters and repeatedly merge
 * the best adjacent pair, as llama.cpp does: SentencePiece-style merges the
 * pair whose concatenation is the highest-scoring token, byte-level BPE the
 * pair with the lowest merge rank; ties go to the leftmost pair.  A binary
 * heap holds candidate pairs; entries made stale by an earlier merge are
 * skipped when popped.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/tok.h"

#define TT_NORMAL 1
#define TT_UNKNOWN 2
#define TT_CONTROL 3
#define TT_USER 4
#define TT_UNUSED 5
#define TT_BYTE 6

/* Hash map from byte strings (not owned) to ids. */
struct strmap {
	const char **key;
	uint32_t *klen;
	int32_t *val;
	size_t mask;
};

struct tok {
	enum tok_kind kind;
	int n;
	struct gguf_str *text;
	float *score;
	int *type;
	struct strmap ids;
	struct strmap merges; /* "left right" -> rank */
	int32_t bos, eos, eot, unk, nl;
	int add_bos, add_eos, add_space;
	int ignore_merges; /* llama3: whole-word lookup first */
	int32_t *special; /* control/user ids, longest first */
	int nspecial;
	uint8_t *eog; /* per id */
	pcre2_code *re;
	uint32_t byte_cp[256]; /* byte -> code point (BPE) */
	int16_t cp_byte[512]; /* code point -> byte, or -1 */
};

static uint64_t
hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n-- > 0)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static int
strmap_init(struct strmap *m, size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	m->key = calloc(size, sizeof(*m->key));
	m->klen = calloc(size, sizeof(*m->klen));
	m->val = calloc(size, sizeof(*m->val));
	m->mask = size - 1;
	return m->key && m->klen && m->val ? 0 : -1;
}

static void
strmap_free(struct strmap *m)
{
	free(m->key);
	free(m->klen);
	free(m->val);
}

static int32_t
strmap_get(const struct strmap *m, const char *s, size_t n)
{
	size_t h;

	if (m->key == NULL)
		return -1;
	for (h = hash_bytes(s, n) & m->mask; m->key[h] != NULL;
	     h = (h + 1) & m->mask)
		if (m->klen[h] == n && memcmp(m->key[h], s, n) == 0)
			return m->val[h];
	return -1;
}

/* First insertion wins, as llama.cpp's token_to_id map does. */
static void
strmap_put(struct strmap *m, const char *s, size_t n, int32_t v)
{
	size_t h;

	for (h = hash_bytes(s, n) & m->mask; m->key[h] != NULL;
	     h = (h + 1) & m->mask)
		if (m->klen[h] == n && memcmp(m->key[h], s, n) == 0)
			return;
	m->key[h] = s;
	m->klen[h] = (uint32_t)n;
	m->val[h] = v;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- UTF-8 ------------------------------------------------------------ */

static int
utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		return 2;
	if ((c & 0xf0) == 0xe0)
		return 3;
	if ((c & 0xf8) == 0xf0)
		return 4;
	return 1; /* stray continuation or invalid: one byte */
}

static int
utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes one character; returns its length, cp = -1 when invalid. */
static int
utf8_get(const unsigned char *s, size_t n, int32_t *cp)
{
	int len = utf8_len(s[0]), i;
	uint32_t v;

	*cp = -1;
	if ((size_t)len > n || (len == 1 && s[0] >= 0x80))
		return 1;
	v = len == 1   ? s[0]
	    : len == 2 ? s[0] & 0x1f
	    : len == 3 ? s[0] & 0x0f
	               : s[0] & 0x07;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		v = v << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) ||
	    (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*cp = (int32_t)v;
	return len;
}

/* Length of an incomplete but so far valid character at the end of s. */
static int
utf8_tail(const unsigned char *s, size_t n)
{
	size_t i;
	int need;

	for (i = 1; i <= 3 && i <= n; i++) {
		unsigned char c = s[n - i];
		if ((c & 0xc0) == 0x80)
			continue;
		need = utf8_len(c);
		return (c >= 0xc0 && need > (int)i) ? (int)i : 0;
	}
	return 0;
}

size_t
utf8_feed(struct utf8_stream *st, const char *in, size_t inlen, char *out)
{
	unsigned char buf[4 + 256];
	const unsigned char *s;
	size_t n = 0, total, done = 0, keep;
	int32_t cp;
	int len;

	while (inlen > 0) {
		size_t chunk = inlen > 256 ? 256 : inlen;
		memcpy(buf, st->pend, st->npend);
		memcpy(buf + st->npend, in, chunk);
		total = st->npend + chunk;
		in += chunk;
		inlen -= chunk;
		keep = utf8_tail(buf, total);
		for (s = buf, done = 0; done < total - keep; done += len) {
			len = utf8_get(s + done, total - keep - done, &cp);
			if (cp < 0)
				n += utf8_put(0xfffd, out + n);
			else {
				memcpy(out + n, s + done, len);
				n += len;
			}
		}
		memcpy(st->pend, buf + total - keep, keep);
		st->npend = (int)keep;
	}
	return n;
}

size_t
utf8_flush(struct utf8_stream *st, char *out)
{
	size_t n = 0;

	if (st->npend > 0)
		n = utf8_put(0xfffd, out);
	st->npend = 0;
	return n;
}

/* ---- loading ------------------------------------------------------------ */

static void
bpe_byte_map(struct tok *t)
{
	int b, n = 0;

	for (b = 0; b < 512; b++)
		t->cp_byte[b] = -1;
	for (b = 0; b < 256; b++) {
		if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
		    (b >= 0xae && b <= 0xff))
			t->byte_cp[b] = (uint32_t)b;
		else
			t->byte_cp[b] = 256 + n++;
		t->cp_byte[t->byte_cp[b]] = (int16_t)b;
	}
}

/* Pre-tokenizer split rules, by tokenizer.ggml.pre. */
static const char *
pre_regex(const char *pre)
{
	static const char llama3[] =
	    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|"
	    "'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
	    "\\s+(?!\\S)|\\s+";
	static const char qwen2[] =
	    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|"
	    "'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
	    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
	    "\\s+(?!\\S)|\\s+";
	static const char gpt2[] =
	    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+|"
	    " ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

	if (pre != NULL &&
	    (strcmp(pre, "llama3") == 0 || strcmp(pre, "llama-v3") == 0 ||
	        strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "smaug-bpe") == 0))
		return llama3;
	if (pre != NULL &&
	    (strcmp(pre, "qwen2") == 0 || strcmp(pre, "deepseek-r1-qwen") == 0))
		return qwen2;
	return gpt2;
}

static int
load_bpe(struct tok *t, const struct gguf_file *g, char *err, size_t errlen)
{
	const struct gguf_kv *kv = gguf_find(g, "tokenizer.ggml.merges");
	char *pre = gguf_get_strdup(g, "tokenizer.ggml.pre");
	const char *rx = pre_regex(pre);
	int rc, i;
	PCRE2_SIZE off;

	t->ignore_merges = pre != NULL && (strcmp(pre, "llama3") == 0 ||
	                                      strcmp(pre, "llama-bpe") == 0 ||
	                                      strcmp(pre, "llama-v3") == 0);
	free(pre);
	if (kv == NULL || kv->v.type != GGUF_ARRAY || kv->v.strs == NULL)
		return fail(err, errlen, "tokenizer.ggml.merges is missing");
	if (strmap_init(&t->merges, kv->v.n) == -1)
		return fail(err, errlen, "out of memory");
	for (i = 0; (uint64_t)i < kv->v.n; i++)
		strmap_put(&t->merges, kv->v.strs[i].ptr, kv->v.strs[i].len, i);
	bpe_byte_map(t);
	t->re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED,
	    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &rc, &off, NULL);
	if (t->re == NULL)
		return fail(err, errlen, "pre-tokenizer regex: error %d", rc);
	return 0;
}

static int32_t
meta_id(const struct tok *t, const struct gguf_file *g, const char *key,
    int32_t def)
{
	uint32_t v;

	if (gguf_get_u32(g, key, &v) == 0 && v < (uint32_t)t->n)
		return (int32_t)v;
	return def;
}

static int
cmp_len_desc(const void *a, const void *b, void *arg)
{
	const struct tok *t = arg;
	uint64_t la = t->text[*(const int32_t *)a].len;
	uint64_t lb = t->text[*(const int32_t *)b].len;

	return la < lb   ? 1
	       : la > lb ? -1
	                 : *(const int32_t *)a - *(const int32_t *)b;
}

static int
is_eog_text(const struct gguf_str *s)
{
	static const char *names[] = {"<|eot_id|>", "<|im_end|>",
	    "<|endoftext|>", "<end_of_turn>", "<|end|>", "<|eom_id|>", "</s>",
	    NULL};
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (s->len == strlen(names[i]) &&
		    memcmp(s->ptr, names[i], s->len) == 0)
			return 1;
	return 0;
}

static int
load_specials(struct tok *t, const struct gguf_file *g)
{
	int i;

	t->bos = meta_id(t, g, "tokenizer.ggml.bos_token_id", -1);
	t->eos = meta_id(t, g, "tokenizer.ggml.eos_token_id", -1);
	t->eot = meta_id(t, g, "tokenizer.ggml.eot_token_id", -1);
	t->unk = meta_id(t, g, "tokenizer.ggml.unknown_token_id", -1);
	t->add_bos = t->kind == TOK_SPM;
	t->add_space = t->kind == TOK_SPM;
	gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
	gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
	gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space);
	if ((t->special = calloc(t->n, sizeof(int32_t))) == NULL ||
	    (t->eog = calloc(t->n, 1)) == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		if ((t->type[i] == TT_CONTROL || t->type[i] == TT_USER) &&
		    t->text[i].len > 0)
			t->special[t->nspecial++] = i;
		if (t->type[i] == TT_CONTROL && is_eog_text(&t->text[i]))
			t->eog[i] = 1;
	}
	qsort_r(t->special, t->nspecial, sizeof(int32_t), cmp_len_desc, t);
	if (t->eos >= 0)
		t->eog[t->eos] = 1;
	if (t->eot >= 0)
		t->eog[t->eot] = 1;
	return 0;
}

static int
load_vocab(struct tok *t, const struct gguf_file *g, char *err, size_t errlen)
{
	const struct gguf_kv *toks = gguf_find(g, "tokenizer.ggml.tokens");
	const struct gguf_kv *sc = gguf_find(g, "tokenizer.ggml.scores");
	const struct gguf_kv *ty = gguf_find(g, "tokenizer.ggml.token_type");
	double d;
	int i;

	if (toks == NULL || toks->v.type != GGUF_ARRAY ||
	    toks->v.strs == NULL || toks->v.n == 0 || toks->v.n > (1u << 24))
		return fail(err, errlen, "tokenizer.ggml.tokens is missing");
	t->n = (int)toks->v.n;
	t->text = toks->v.strs;
	t->score = calloc(t->n, sizeof(float));
	t->type = calloc(t->n, sizeof(int));
	if (t->score == NULL || t->type == NULL || strmap_init(&t->ids, t->n))
		return fail(err, errlen, "out of memory");
	for (i = 0; i < t->n; i++) {
		t->type[i] = TT_NORMAL;
		if (ty != NULL && gguf_arr_num(&ty->v, i, &d) == 0)
			t->type[i] = (int)d;
		if (sc != NULL && gguf_arr_num(&sc->v, i, &d) == 0)
			t->score[i] = (float)d;
		strmap_put(&t->ids, t->text[i].ptr, t->text[i].len, i);
	}
	return 0;
}

struct tok *
tok_load(const struct gguf_file *g, char *err, size_t errlen)
{
	struct tok *t = calloc(1, sizeof(*t));
	char *model = gguf_get_strdup(g, "tokenizer.ggml.model");

	if (t == NULL || model == NULL) {
		fail(err, errlen,
		    model ? "out of memory"
		          : "tokenizer.ggml.model is missing");
		goto bad;
	}
	if (strcmp(model, "llama") == 0)
		t->kind = TOK_SPM;
	else if (strcmp(model, "gpt2") == 0)
		t->kind = TOK_BPE;
	else {
		fail(err, errlen,
		    "unsupported tokenizer '%.32s' (supported: "
		    "llama, gpt2)",
		    model);
		goto bad;
	}
	if (load_vocab(t, g, err, errlen) == -1 ||
	    (t->kind == TOK_BPE && load_bpe(t, g, err, errlen) == -1))
		goto bad;
	if (load_specials(t, g) == -1) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	t->nl = t->kind == TOK_SPM ? tok_find(t, "<0x0A>")
	                           : tok_find(t, "\xc4\x8a");
	free(model);
	return t;
bad:
	free(model);
	tok_free(t);
	return NULL;
}

void
tok_free(struct tok *t)
{
	if (t == NULL)
		return;
	strmap_free(&t->ids);
	strmap_free(&t->merges);
	free(t->score);
	free(t->type);
	free(t->special);
	free(t->eog);
	if (t->re != NULL)
		pcre2_code_free(t->re);
	free(t);
}

/* ---- merging ------------------------------------------------------------ */

struct sym {
	int start, len, prev, next;
};

struct cand {
	double prio; /* higher merges first */
	int left, right, size;
};

struct heap {
	struct cand *c;
	int n, cap;
};

static int
cand_before(const struct cand *a, const struct cand *b)
{
	return a->prio > b->prio || (a->prio == b->prio && a->left < b->left);
}

static int
heap_push(struct heap *h, struct cand c)
{
	struct cand *nc, tmp;
	int i;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		if ((nc = realloc(h->c, h->cap * sizeof(*nc))) == NULL)
			return -1;
		h->c = nc;
	}
	i = h->n++;
	h->c[i] = c;
	while (i > 0 && cand_before(&h->c[i], &h->c[(i - 1) / 2])) {
		tmp = h->c[i];
		h->c[i] = h->c[(i - 1) / 2];
		h->c[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
	return 0;
}

static struct cand
heap_pop(struct heap *h)
{
	struct cand top = h->c[0], tmp;
	int i = 0, l, best;

	h->c[0] = h->c[--h->n];
	for (;;) {
		l = 2 * i + 1;
		best = i;
		if (l < h->n && cand_before(&h->c[l], &h->c[best]))
			best = l;
		if (l + 1 < h->n && cand_before(&h->c[l + 1], &h->c[best]))
			best = l + 1;
		if (best == i)
			return top;
		tmp = h->c[i];
		h->c[i] = h->c[best];
		h->c[best] = tmp;
		i = best;
	}
}

/* Priority of merging symbols a and b of s, or 0 when they cannot merge. */
static int
pair_prio(const struct tok *t, const char *s, const struct sym *a,
    const struct sym *b, double *prio)
{
	char buf[512];
	int32_t id;

	if (t->kind == TOK_SPM) {
		id = strmap_get(&t->ids, s + a->start, a->len + b->len);
		if (id < 0)
			return 0;
		*prio = t->score[id];
		return 1;
	}
	if ((size_t)(a->len + b->len + 1) > sizeof(buf))
		return 0;
	memcpy(buf, s + a->start, a->len);
	buf[a->len] = ' ';
	memcpy(buf + a->len + 1, s + b->start, b->len);
	if ((id = strmap_get(&t->merges, buf, a->len + b->len + 1)) < 0)
		return 0;
	*prio = -(double)id;
	return 1;
}

static int
try_pair(
    const struct tok *t, const char *s, struct sym *sy, int l, struct heap *h)
{
	struct cand c;
	int r;

	if (l < 0 || (r = sy[l].next) < 0)
		return 0;
	if (!pair_prio(t, s, &sy[l], &sy[r], &c.prio))
		return 0;
	c.left = l;
	c.right = r;
	c.size = sy[l].len + sy[r].len;
	return heap_push(h, c);
}

/* Splits s into characters and merges them; returns the symbol list. */
static struct sym *
merge_all(const struct tok *t, const char *s, int n, int *nsym)
{
	struct sym *sy = malloc((n ? n : 1) * sizeof(*sy));
	struct heap h = {0};
	struct cand c;
	int i, k = 0;

	if (sy == NULL)
		return NULL;
	for (i = 0; i < n; k++) {
		sy[k].start = i;
		sy[k].len = utf8_len((unsigned char)s[i]);
		if (sy[k].len > n - i)
			sy[k].len = n - i;
		sy[k].prev = k - 1;
		sy[k].next = i + sy[k].len < n ? k + 1 : -1;
		i += sy[k].len;
	}
	for (i = 0; i + 1 < k; i++)
		if (try_pair(t, s, sy, i, &h) == -1)
			goto oom;
	while (h.n > 0) {
		c = heap_pop(&h);
		if (sy[c.left].len == 0 || sy[c.right].len == 0 ||
		    sy[c.left].len + sy[c.right].len != c.size ||
		    sy[c.left].next != c.right)
			continue; /* stale */
		sy[c.left].len += sy[c.right].len;
		sy[c.right].len = 0;
		sy[c.left].next = sy[c.right].next;
		if (sy[c.right].next >= 0)
			sy[sy[c.right].next].prev = c.left;
		if (try_pair(t, s, sy, sy[c.left].prev, &h) == -1 ||
		    try_pair(t, s, sy, c.left, &h) == -1)
			goto oom;
	}
	free(h.c);
	*nsym = k;
	return sy;
oom:
	free(h.c);
	free(sy);
	return NULL;
}

/* ---- output buffer ----------------------------------------------------- */

struct ids {
	int32_t *v;
	int n, cap, oom;
};

static void
ids_push(struct ids *o, int32_t id)
{
	int32_t *nv;

	if (o->oom || id < 0)
		return;
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		if ((nv = realloc(o->v, o->cap * sizeof(*nv))) == NULL) {
			o->oom = 1;
			return;
		}
		o->v = nv;
	}
	o->v[o->n++] = id;
}

/* ---- SentencePiece-style ------------------------------------------------ */

static void
spm_fragment(const struct tok *t, const char *text, size_t len, int prefix,
    struct ids *o)
{
	char *s = malloc(3 * len + 4), hex[8];
	struct sym *sy;
	size_t i, n = 0;
	int nsym, k, b;
	int32_t id;

	if (s == NULL) {
		o->oom = 1;
		return;
	}
	if (prefix)
		n += (size_t)utf8_put(0x2581, s);
	for (i = 0; i < len; i++) /* spaces become U+2581 */
		n += text[i] == ' ' ? (size_t)utf8_put(0x2581, s + n)
		                    : (size_t)(s[n] = text[i], 1);
	if ((sy = merge_all(t, s, (int)n, &nsym)) == NULL) {
		o->oom = 1;
		free(s);
		return;
	}
	for (k = 0; k < nsym; k++) {
		if (sy[k].len == 0)
			continue;
		if ((id = strmap_get(&t->ids, s + sy[k].start, sy[k].len)) >=
		    0) {
			ids_push(o, id);
			continue;
		}
		for (b = 0; b < sy[k].len; b++) { /* byte fallback */
			snprintf(hex, sizeof(hex), "<0x%02X>",
			    (unsigned char)s[sy[k].start + b]);
			id = strmap_get(&t->ids, hex, 6);
			ids_push(o, id >= 0 ? id : t->unk);
		}
	}
	free(sy);
	free(s);
}

/* ---- byte-level BPE ------------------------------------------------------ */

static void
bpe_word(const struct tok *t, const char *w, size_t len, struct ids *o)
{
	char *s = malloc(2 * len + 1);
	struct sym *sy;
	size_t i, n = 0;
	int nsym, k, j, cl;
	int32_t id;

	if (s == NULL) {
		o->oom = 1;
		return;
	}
	for (i = 0; i < len; i++)
		n += (size_t)utf8_put(t->byte_cp[(unsigned char)w[i]], s + n);
	if (t->ignore_merges && (id = strmap_get(&t->ids, s, n)) >= 0) {
		ids_push(o, id);
		free(s);
		return;
	}
	if ((sy = merge_all(t, s, (int)n, &nsym)) == NULL) {
		o->oom = 1;
		free(s);
		return;
	}
	for (k = 0; k < nsym; k++) {
		if (sy[k].len == 0)
			continue;
		if ((id = strmap_get(&t->ids, s + sy[k].start, sy[k].len)) >=
		    0) {
			ids_push(o, id);
			continue;
		}
		for (j = 0; j < sy[k].len; j += cl) {
			cl = utf8_len((unsigned char)s[sy[k].start + j]);
			ids_push(
			    o, strmap_get(&t->ids, s + sy[k].start + j, cl));
		}
	}
	free(sy);
	free(s);
}

/* Splits a fragment with the pre-tokenizer regex; each piece is a word. */
static void
bpe_fragment(const struct tok *t, const char *text, size_t len, struct ids *o)
{
	pcre2_match_data *md =
	    pcre2_match_data_create_from_pattern(t->re, NULL);
	PCRE2_SIZE pos = 0, *ov;
	int rc;

	if (md == NULL) {
		o->oom = 1;
		return;
	}
	while (pos < len) {
		rc =
		    pcre2_match(t->re, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
		if (rc < 0) {
			bpe_word(t, text + pos, len - pos, o);
			break;
		}
		ov = pcre2_get_ovector_pointer(md);
		if (ov[0] > pos) /* unmatched gap: a word of its own */
			bpe_word(t, text + pos, ov[0] - pos, o);
		if (ov[1] == ov[0]) { /* empty match: step one character */
			pos = ov[0] + utf8_len((unsigned char)text[ov[0]]);
			bpe_word(t, text + ov[0], pos - ov[0], o);
			continue;
		}
		bpe_word(t, text + ov[0], ov[1] - ov[0], o);
		pos = ov[1];
	}
	pcre2_match_data_free(md);
}

/* ---- encoding ------------------------------------------------------------- */

/* The special token starting at text, longest first, or -1. */
static int32_t
special_at(const struct tok *t, const char *text, size_t left, int parse)
{
	int i;
	int32_t id;

	for (i = 0; i < t->nspecial; i++) {
		id = t->special[i];
		if (!parse && t->type[id] == TT_CONTROL)
			continue;
		if (t->text[id].len <= left &&
		    memcmp(text, t->text[id].ptr, t->text[id].len) == 0)
			return id;
	}
	return -1;
}

static void
raw_fragment(const struct tok *t, const char *s, size_t n, int *prev_special,
    struct ids *o)
{
	if (n == 0)
		return;
	if (t->kind == TOK_SPM)
		spm_fragment(t, s, n, t->add_space && *prev_special, o);
	else
		bpe_fragment(t, s, n, o);
	*prev_special = 0;
}

int
tok_encode(const struct tok *t, const char *text, size_t len, int add_special,
    int parse_special, int32_t **out)
{
	struct ids o = {0};
	size_t i = 0, start = 0;
	int prev_special = 1;
	int32_t id;

	if (add_special && t->add_bos)
		ids_push(&o, t->bos);
	while (i < len) {
		if (t->nspecial > 0 && (id = special_at(t, text + i, len - i,
		                            parse_special)) >= 0) {
			raw_fragment(
			    t, text + start, i - start, &prev_special, &o);
			ids_push(&o, id);
			prev_special = 1;
			i += t->text[id].len;
			start = i;
			continue;
		}
		i++;
	}
	raw_fragment(t, text + start, len - start, &prev_special, &o);
	if (add_special && t->add_eos)
		ids_push(&o, t->eos);
	if (o.oom) {
		free(o.v);
		return -1;
	}
	*out = o.v != NULL ? o.v : malloc(sizeof(int32_t));
	return *out == NULL ? -1 : o.n;
}

/* ---- pieces -------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The byte of a "<0xAB>" token, or -1. */
static int
byte_token(const struct gguf_str *s)
{
	if (s->len != 6 || memcmp(s->ptr, "<0x", 3) != 0 || s->ptr[5] != '>' ||
	    hexval(s->ptr[3]) < 0 || hexval(s->ptr[4]) < 0)
		return -1;
	return hexval(s->ptr[3]) << 4 | hexval(s->ptr[4]);
}

static int
piece_spm(const struct tok *t, int32_t id, char *buf, size_t buflen)
{
	const struct gguf_str *s = &t->text[id];
	size_t i, n = 0;
	int v;

	if (t->type[id] == TT_BYTE && (v = byte_token(s)) >= 0) {
		if (buflen < 1)
			return -1;
		buf[0] = (char)v;
		return 1;
	}
	for (i = 0; i < s->len; i++) {
		if (n + 1 > buflen)
			return -1;
		if (i + 2 < s->len &&
		    memcmp(s->ptr + i, "\xe2\x96\x81", 3) == 0) {
			buf[n++] = ' ';
			i += 2;
		} else
			buf[n++] = s->ptr[i];
	}
	return (int)n;
}

static int
piece_bpe(const struct tok *t, int32_t id, char *buf, size_t buflen)
{
	const struct gguf_str *s = &t->text[id];
	size_t i = 0, n = 0;
	int32_t cp;

	int len;

	while (i < s->len) {
		len = utf8_get(
		    (const unsigned char *)s->ptr + i, s->len - i, &cp);
		if (n + (size_t)len > buflen)
			return -1;
		if (cp >= 0 && cp < 512 && t->cp_byte[cp] >= 0)
			buf[n++] = (char)t->cp_byte[cp];
		else { /* not a byte symbol: the text itself */
			memcpy(buf + n, s->ptr + i, len);
			n += (size_t)len;
		}
		i += (size_t)len;
	}
	return (int)n;
}

int
tok_piece(
    const struct tok *t, int32_t id, int special, char *buf, size_t buflen)
{
	const struct gguf_str *s;

	if (id < 0 || id >= t->n)
		return -1;
	s = &t->text[id];
	switch (t->type[id]) {
	case TT_CONTROL:
		if (!special)
			return 0;
		/* FALLTHROUGH */
	case TT_USER:
		if (s->len > buflen)
			return -1;
		memcpy(buf, s->ptr, s->len);
		return (int)s->len;
	case TT_UNUSED:
		return 0;
	case TT_UNKNOWN:
		if (buflen < 3)
			return -1;
		memcpy(buf, "\xe2\x96\x85", 3);
		return 3;
	default:
		return t->kind == TOK_SPM ? piece_spm(t, id, buf, buflen)
		                          : piece_bpe(t, id, buf, buflen);
	}
}

enum tok_kind
tok_kind(const struct tok *t)
{
	return t->kind;
}
int
tok_n_vocab(const struct tok *t)
{
	return t->n;
}
int32_t
tok_bos(const struct tok *t)
{
	return t->bos;
}
int32_t
tok_eos(const struct tok *t)
{
	return t->eos;
}
int
tok_add_bos(const struct tok *t)
{
	return t->add_bos;
}

int
tok_is_eog(const struct tok *t, int32_t id)
{
	return id >= 0 && id < t->n && t->eog[id];
}

int32_t
tok_find(const struct tok *t, const char *text)
{
	return strmap_get(&t->ids, text, strlen(text));
}
