/*
 * Chat templates.  GGUF files carry a Jinja template in
 * tokenizer.chat_template; rather than run Jinja we recognise the family
 * from marker strings (as llama.cpp does) and render it natively.  A model
 * configuration may also name the family explicitly.
 */
#ifndef LLAMA_CHAT_H
#define LLAMA_CHAT_H

#include <stddef.h>

enum chat_family {
	CHAT_UNKNOWN = 0,
	CHAT_CHATML,
	CHAT_LLAMA3,
	CHAT_LLAMA2, /* also Mistral's [INST] */
	CHAT_ZEPHYR,
	CHAT_GEMMA,
	CHAT_PHI3,
};

struct chat_msg {
	const char *role; /* system, user, assistant, tool */
	const char *content;
};

/* The family of a Jinja template text; CHAT_UNKNOWN when unrecognised. */
enum chat_family chat_detect(const char *tmpl);
/* By name ("chatml", "llama3", "llama2", "mistral", "zephyr", "gemma",
 * "phi3"); CHAT_UNKNOWN otherwise. */
enum chat_family chat_by_name(const char *name);
const char *chat_name(enum chat_family);

/*
 * Renders messages; the result is malloc'd (NULL on OOM).  BOS is not
 * included: the tokenizer adds it.  add_assistant appends the header that
 * starts the assistant's reply.
 */
char *chat_render(
    enum chat_family, const struct chat_msg *msgs, size_t n, int add_assistant);

#endif
