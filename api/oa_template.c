/*
 * Chat templates: the prompt text for models whose config names a template
 * rendered here (not by the backend's tokenizer).  No BOS token is written:
 * backends add it when they tokenize, and a second one hurts some models.
 * Message content is inserted verbatim (no trimming); names are not
 * rendered.  docs/openai.md shows the exact output of each template.
 *
 * Two families:
 * - turn templates (plain, ChatML, Llama 3, Zephyr, Phi-3): every message
 *   is "<open><role label><mid><content><close>", and the generation prompt
 *   opens an assistant turn;
 * - merged-system templates (Llama 2, Mistral, Gemma) have no system turn:
 *   the system and developer messages, joined with a blank line, go in
 *   front of the first user turn's content (or, when no user turn comes
 *   first, into a user turn of their own at the start).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/oa_internal.h"

/* Role labels indexed by enum openai_role. */
#define ROLES 5

struct turn_template {
	const char *open, *mid, *close, *generation;
	const char *label[ROLES];
};

/*
 * In a merged-system template a user turn is
 * user_open [sys_open S sys_close] content user_close, and an assistant turn
 * asst_open content asst_close.  Tool results are user turns.
 */
struct merged_template {
	const char *user_open, *sys_open, *sys_close, *user_close;
	const char *asst_open, *asst_close, *generation;
};

static const struct turn_template plain = {
    .open = "",
    .mid = ": ",
    .close = "\n",
    .generation = "Assistant:",
    .label = {"System", "System", "User", "Assistant", "Tool"},
};
static const struct turn_template chatml = {
    .open = "<|im_start|>",
    .mid = "\n",
    .close = "<|im_end|>\n",
    .generation = "<|im_start|>assistant\n",
    .label = {"system", "system", "user", "assistant", "tool"},
};
static const struct turn_template llama3 = {
    .open = "<|start_header_id|>",
    .mid = "<|end_header_id|>\n\n",
    .close = "<|eot_id|>",
    .generation = "<|start_header_id|>assistant<|end_header_id|>\n\n",
    .label = {"system", "system", "user", "assistant", "ipython"},
};
static const struct turn_template zephyr = {
    .open = "<|",
    .mid = "|>\n",
    .close = "</s>\n",
    .generation = "<|assistant|>\n",
    .label = {"system", "system", "user", "assistant", "user"},
};
static const struct turn_template phi3 = {
    .open = "<|",
    .mid = "|>\n",
    .close = "<|end|>\n",
    .generation = "<|assistant|>\n",
    .label = {"system", "system", "user", "assistant", "user"},
};
static const struct merged_template llama2 = {
    .user_open = "[INST] ",
    .sys_open = "<<SYS>>\n",
    .sys_close = "\n<</SYS>>\n\n",
    .user_close = " [/INST]",
    .asst_open = " ",
    .asst_close = " </s><s>",
    .generation = "",
};
static const struct merged_template mistral = {
    .user_open = "[INST] ",
    .sys_open = "",
    .sys_close = "\n\n",
    .user_close = " [/INST]",
    .asst_open = " ",
    .asst_close = "</s>",
    .generation = "",
};
static const struct merged_template gemma = {
    .user_open = "<start_of_turn>user\n",
    .sys_open = "",
    .sys_close = "\n\n",
    .user_close = "<end_of_turn>\n",
    .asst_open = "<start_of_turn>model\n",
    .asst_close = "<end_of_turn>\n",
    .generation = "<start_of_turn>model\n",
};

static const struct {
	const char *name;
	enum openai_template t;
} names[] = {
    {"plain", OPENAI_TEMPLATE_PLAIN},
    {"chatml", OPENAI_TEMPLATE_CHATML},
    {"llama3", OPENAI_TEMPLATE_LLAMA3},
    {"llama-3", OPENAI_TEMPLATE_LLAMA3},
    {"llama2", OPENAI_TEMPLATE_LLAMA2},
    {"llama-2", OPENAI_TEMPLATE_LLAMA2},
    {"mistral", OPENAI_TEMPLATE_MISTRAL},
    {"zephyr", OPENAI_TEMPLATE_ZEPHYR},
    {"gemma", OPENAI_TEMPLATE_GEMMA},
    {"phi3", OPENAI_TEMPLATE_PHI3},
    {"phi-3", OPENAI_TEMPLATE_PHI3},
};

enum openai_template
openai_template_find(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return OPENAI_TEMPLATE_PLAIN;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].t;
	return OPENAI_TEMPLATE_UNKNOWN;
}

const char *
openai_template_name(enum openai_template t)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == t)
			return names[i].name;
	return "unknown";
}

const char *const *
openai_template_stops(enum openai_template t)
{
	static const char *const none[] = {NULL};
	static const char *const s_plain[] = {"\nUser:", NULL};
	static const char *const s_chatml[] = {"<|im_end|>", NULL};
	static const char *const s_llama3[] = {"<|eot_id|>", NULL};
	static const char *const s_inst[] = {"</s>", "[INST]", NULL};
	static const char *const s_zephyr[] = {"</s>", NULL};
	static const char *const s_gemma[] = {"<end_of_turn>", NULL};
	static const char *const s_phi3[] = {"<|end|>", "<|endoftext|>", NULL};

	switch (t) {
	case OPENAI_TEMPLATE_PLAIN:
		return s_plain;
	case OPENAI_TEMPLATE_CHATML:
		return s_chatml;
	case OPENAI_TEMPLATE_LLAMA3:
		return s_llama3;
	case OPENAI_TEMPLATE_LLAMA2:
	case OPENAI_TEMPLATE_MISTRAL:
		return s_inst;
	case OPENAI_TEMPLATE_ZEPHYR:
		return s_zephyr;
	case OPENAI_TEMPLATE_GEMMA:
		return s_gemma;
	case OPENAI_TEMPLATE_PHI3:
		return s_phi3;
	case OPENAI_TEMPLATE_UNKNOWN:
		break;
	}
	return none;
}

int
openai_template_for_model(const struct conf_model *m, enum openai_template *t)
{
	char name[sizeof(m->template) + 1];

	if (m->use_tokenizer_template)
		return 1;
	memcpy(name, m->template, sizeof(m->template));
	name[sizeof(m->template)] = '\0';
	*t = openai_template_find(name);
	if (*t == OPENAI_TEMPLATE_UNKNOWN)
		*t = OPENAI_TEMPLATE_PLAIN;
	return 0;
}

static void
render_turns(const struct turn_template *tt, const struct openai_message *msgs,
    size_t n, struct openai_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		oa_puts(out, tt->open);
		oa_puts(out, tt->label[msgs[i].role]);
		oa_puts(out, tt->mid);
		openai_buf_append(out, msgs[i].content, msgs[i].content_len);
		oa_puts(out, tt->close);
	}
	oa_puts(out, tt->generation);
}

static int
is_system(const struct openai_message *m)
{
	return m->role == OPENAI_ROLE_SYSTEM ||
	       m->role == OPENAI_ROLE_DEVELOPER;
}

/* The system block "sys_open S sys_close", S the joined system messages. */
static void
system_block(const struct merged_template *mt,
    const struct openai_message *msgs, size_t n, struct openai_buf *out)
{
	size_t i;
	int first = 1;

	oa_puts(out, mt->sys_open);
	for (i = 0; i < n; i++) {
		if (!is_system(&msgs[i]))
			continue;
		if (!first)
			OA_PUTS(out, "\n\n");
		openai_buf_append(out, msgs[i].content, msgs[i].content_len);
		first = 0;
	}
	oa_puts(out, mt->sys_close);
}

static void
render_merged(const struct merged_template *mt,
    const struct openai_message *msgs, size_t n, struct openai_buf *out)
{
	size_t i;
	int sys_pending = 0;

	for (i = 0; i < n; i++)
		if (is_system(&msgs[i]))
			sys_pending = 1;
	for (i = 0; i < n; i++) {
		if (is_system(&msgs[i]))
			continue;
		if (msgs[i].role == OPENAI_ROLE_ASSISTANT) {
			if (sys_pending) {
				oa_puts(out, mt->user_open);
				system_block(mt, msgs, n, out);
				oa_puts(out, mt->user_close);
				sys_pending = 0;
			}
			oa_puts(out, mt->asst_open);
			openai_buf_append(
			    out, msgs[i].content, msgs[i].content_len);
			oa_puts(out, mt->asst_close);
			continue;
		}
		oa_puts(out, mt->user_open);
		if (sys_pending)
			system_block(mt, msgs, n, out);
		sys_pending = 0;
		openai_buf_append(out, msgs[i].content, msgs[i].content_len);
		oa_puts(out, mt->user_close);
	}
	if (sys_pending) {
		oa_puts(out, mt->user_open);
		system_block(mt, msgs, n, out);
		oa_puts(out, mt->user_close);
	}
	oa_puts(out, mt->generation);
}

int
openai_template_render(enum openai_template t,
    const struct openai_message *msgs, size_t n, struct openai_buf *out)
{
	switch (t) {
	case OPENAI_TEMPLATE_CHATML:
		render_turns(&chatml, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_LLAMA3:
		render_turns(&llama3, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_ZEPHYR:
		render_turns(&zephyr, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_PHI3:
		render_turns(&phi3, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_LLAMA2:
		render_merged(&llama2, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_MISTRAL:
		render_merged(&mistral, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_GEMMA:
		render_merged(&gemma, msgs, n, out);
		break;
	case OPENAI_TEMPLATE_PLAIN:
	case OPENAI_TEMPLATE_UNKNOWN:
		render_turns(&plain, msgs, n, out);
		break;
	}
	return out->failed ? -1 : 0;
}
