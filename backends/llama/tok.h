/*
 * Tokenizers from GGUF metadata: SentencePiece-style (tokenizer.ggml.model
 * "llama": score-driven merges, byte fallback) and byte-level BPE ("gpt2":
 * ranked merges after a PCRE2 pre-tokenizer split: gpt2, llama3, qwen2).
 * Special (control) tokens are recognised in the text when asked;
 * user-defined tokens always are.
 */
#ifndef LLAMA_TOK_H
#define LLAMA_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "backends/llama/gguf.h"

struct tok;

enum tok_kind { TOK_SPM, TOK_BPE };

struct tok *tok_load(const struct gguf_file *, char *err, size_t errlen);
void tok_free(struct tok *);

/*
 * Encodes len bytes of text; *out is malloc'd (caller frees).  add_special
 * adds BOS/EOS as the model asks; parse_special turns control-token texts
 * such as "<|im_start|>" into their ids.  Returns the count or -1.
 */
int tok_encode(const struct tok *, const char *text, size_t len,
    int add_special, int parse_special, int32_t **out);

/*
 * The bytes of one token (may be part of a UTF-8 character).  Control
 * tokens give "" unless special is set.  Returns the length or -1 when buf
 * is too small or id is out of range.
 */
int tok_piece(
    const struct tok *, int32_t id, int special, char *buf, size_t buflen);

enum tok_kind tok_kind(const struct tok *);
int tok_n_vocab(const struct tok *);
int32_t tok_bos(const struct tok *); /* -1 when absent */
int32_t tok_eos(const struct tok *);
int tok_add_bos(const struct tok *);
/* End of generation: EOS, EOT and end-of-turn markers. */
int tok_is_eog(const struct tok *, int32_t id);
/* The id of an exact token text, or -1. */
int32_t tok_find(const struct tok *, const char *text);

/*
 * Streaming detokenisation: bytes go in, and only whole UTF-8 characters
 * come out, so a multi-byte character split across tokens is never split
 * across two chunks.  Invalid bytes come out as U+FFFD.
 */
struct utf8_stream {
	unsigned char pend[4];
	int npend;
};

/* Appends the complete part of pend+in to out (room: 3 * inlen + 12). */
size_t utf8_feed(struct utf8_stream *, const char *in, size_t inlen, char *out);
/* Flushes whatever incomplete bytes remain (as U+FFFD). */
size_t utf8_flush(struct utf8_stream *, char *out);

#endif
