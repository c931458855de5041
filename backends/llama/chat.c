/* Chat template families; see chat.h.  No I/O. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/chat.h"

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		if ((np = realloc(b->p, b->cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_cat(struct sbuf *b, int n, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, n);
	while (n-- > 0) {
		s = va_arg(ap, const char *);
		sb_add(b, s, strlen(s));
	}
	va_end(ap);
}

/* Appends s without leading and trailing whitespace (Jinja's trim). */
static void
sb_trim(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && strchr(" \t\r\n", *s) != NULL) {
		s++;
		n--;
	}
	while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
		n--;
	sb_add(b, s, n);
}

static const struct {
	const char *name;
	enum chat_family f;
} names[] = {
    {"chatml", CHAT_CHATML},
    {"llama3", CHAT_LLAMA3},
    {"llama2", CHAT_LLAMA2},
    {"mistral", CHAT_LLAMA2},
    {"zephyr", CHAT_ZEPHYR},
    {"gemma", CHAT_GEMMA},
    {"phi3", CHAT_PHI3},
};

enum chat_family
chat_by_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return names[i].f;
	return CHAT_UNKNOWN;
}

const char *
chat_name(enum chat_family f)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].f == f)
			return names[i].name;
	return "unknown";
}

enum chat_family
chat_detect(const char *t)
{
	if (t == NULL)
		return CHAT_UNKNOWN;
	if (strstr(t, "<|im_start|>") != NULL)
		return CHAT_CHATML;
	if (strstr(t, "<|start_header_id|>") != NULL &&
	    strstr(t, "<|end_header_id|>") != NULL)
		return CHAT_LLAMA3;
	if (strstr(t, "<start_of_turn>") != NULL)
		return CHAT_GEMMA;
	if (strstr(t, "<|assistant|>") != NULL && strstr(t, "<|end|>") != NULL)
		return CHAT_PHI3;
	if (strstr(t, "<|user|>") != NULL)
		return CHAT_ZEPHYR;
	if (strstr(t, "[INST]") != NULL)
		return CHAT_LLAMA2;
	return CHAT_UNKNOWN;
}

static void
render_llama2(struct sbuf *b, const struct chat_msg *m, size_t n)
{
	int inside = 1;
	size_t i;

	sb_cat(b, 1, "[INST] ");
	for (i = 0; i < n; i++) {
		if (strcmp(m[i].role, "assistant") == 0) {
			sb_cat(b, 3, " ", m[i].content, "</s>");
			inside = 0;
			continue;
		}
		if (!inside) {
			sb_cat(b, 1, "<s>[INST] ");
			inside = 1;
		}
		if (strcmp(m[i].role, "system") == 0)
			sb_cat(
			    b, 3, "<<SYS>>\n", m[i].content, "\n<</SYS>>\n\n");
		else
			sb_cat(b, 2, m[i].content, " [/INST]");
	}
}

/* Gemma has no system role: the system text opens the first user turn. */
static void
render_gemma(struct sbuf *b, const struct chat_msg *m, size_t n, int add)
{
	const char *sys = NULL, *role;
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(m[i].role, "system") == 0) {
			sys = m[i].content;
			continue;
		}
		role =
		    strcmp(m[i].role, "assistant") == 0 ? "model" : m[i].role;
		sb_cat(b, 3, "<start_of_turn>", role, "\n");
		if (sys != NULL && strcmp(role, "user") == 0) {
			sb_cat(b, 2, sys, "\n\n");
			sys = NULL;
		}
		sb_trim(b, m[i].content);
		sb_cat(b, 1, "<end_of_turn>\n");
	}
	if (add)
		sb_cat(b, 1, "<start_of_turn>model\n");
}

static void
render_simple(struct sbuf *b, enum chat_family f, const struct chat_msg *m,
    size_t n, int add)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (f) {
		case CHAT_LLAMA3:
			sb_cat(b, 3, "<|start_header_id|>", m[i].role,
			    "<|end_header_id|>\n\n");
			sb_trim(b, m[i].content);
			sb_cat(b, 1, "<|eot_id|>");
			break;
		case CHAT_ZEPHYR:
			sb_cat(b, 5, "<|", m[i].role, "|>\n", m[i].content,
			    "</s>\n");
			break;
		case CHAT_PHI3:
			sb_cat(b, 5, "<|", m[i].role, "|>\n", m[i].content,
			    "<|end|>\n");
			break;
		default:
			sb_cat(b, 5, "<|im_start|>", m[i].role, "\n",
			    m[i].content, "<|im_end|>\n");
			break;
		}
	}
	if (!add)
		return;
	sb_cat(b, 1,
	    f == CHAT_LLAMA3
	        ? "<|start_header_id|>assistant<|end_header_id|>\n\n"
	    : f == CHAT_ZEPHYR ? "<|assistant|>\n"
	    : f == CHAT_PHI3   ? "<|assistant|>\n"
	                       : "<|im_start|>assistant\n");
}

char *
chat_render(enum chat_family f, const struct chat_msg *m, size_t n, int add)
{
	struct sbuf b = {0};

	sb_add(&b, "", 0);
	if (f == CHAT_LLAMA2)
		render_llama2(&b, m, n);
	else if (f == CHAT_GEMMA)
		render_gemma(&b, m, n, add);
	else
		render_simple(&b, f, m, n, add);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
