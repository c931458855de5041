/*
 * Unit tests for api/oa_template.c: the exact prompt text of every chat
 * template (the same renderings docs/openai.md shows), role mapping
 * (developer as system, tool results), system messages in the templates
 * that have no system turn, name lookup and end-of-turn stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/openai.h"

#define MSG(r, s)                                                              \
	{                                                                      \
		OPENAI_ROLE_##r, (char *)(s), sizeof(s) - 1, NULL, NULL, NULL  \
	}

/* system, user, assistant, user: the common conversation. */
static const struct openai_message conv[] = {
    MSG(SYSTEM, "S"),
    MSG(USER, "U1"),
    MSG(ASSISTANT, "A1"),
    MSG(USER, "U2"),
};

/* developer, user, an assistant tool call (no text), the tool result. */
static const struct openai_message tools[] = {
    MSG(DEVELOPER, "D"),
    MSG(USER, "U"),
    MSG(ASSISTANT, ""),
    MSG(TOOL, "42"),
};

static void
check(enum openai_template t, const struct openai_message *m, size_t n,
    const char *want)
{
	struct openai_buf b;

	openai_buf_init(&b);
	assert_int_equal(openai_template_render(t, m, n, &b), 0);
	if (b.data == NULL || strcmp(b.data, want) != 0)
		fail_msg("template %s:\n got: %s\nwant: %s",
		    openai_template_name(t), b.data, want);
	openai_buf_free(&b);
}

static void
test_conversation(void **state)
{
	check(OPENAI_TEMPLATE_PLAIN, conv, 4,
	    "System: S\nUser: U1\nAssistant: A1\nUser: U2\nAssistant:");
	check(OPENAI_TEMPLATE_CHATML, conv, 4,
	    "<|im_start|>system\nS<|im_end|>\n"
	    "<|im_start|>user\nU1<|im_end|>\n"
	    "<|im_start|>assistant\nA1<|im_end|>\n"
	    "<|im_start|>user\nU2<|im_end|>\n"
	    "<|im_start|>assistant\n");
	check(OPENAI_TEMPLATE_LLAMA3, conv, 4,
	    "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>"
	    "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
	    "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>"
	    "<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
	    "<|start_header_id|>assistant<|end_header_id|>\n\n");
	check(OPENAI_TEMPLATE_LLAMA2, conv, 4,
	    "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>"
	    "[INST] U2 [/INST]");
	check(OPENAI_TEMPLATE_MISTRAL, conv, 4,
	    "[INST] S\n\nU1 [/INST] A1</s>[INST] U2 [/INST]");
	check(OPENAI_TEMPLATE_ZEPHYR, conv, 4,
	    "<|system|>\nS</s>\n<|user|>\nU1</s>\n<|assistant|>\nA1</s>\n"
	    "<|user|>\nU2</s>\n<|assistant|>\n");
	check(OPENAI_TEMPLATE_GEMMA, conv, 4,
	    "<start_of_turn>user\nS\n\nU1<end_of_turn>\n"
	    "<start_of_turn>model\nA1<end_of_turn>\n"
	    "<start_of_turn>user\nU2<end_of_turn>\n"
	    "<start_of_turn>model\n");
	check(OPENAI_TEMPLATE_PHI3, conv, 4,
	    "<|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n"
	    "<|assistant|>\nA1<|end|>\n<|user|>\nU2<|end|>\n<|assistant|>\n");
}

static void
test_tools_and_developer(void **state)
{
	check(OPENAI_TEMPLATE_PLAIN, tools, 4,
	    "System: D\nUser: U\nAssistant: \nTool: 42\nAssistant:");
	check(OPENAI_TEMPLATE_CHATML, tools, 4,
	    "<|im_start|>system\nD<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"
	    "<|im_start|>assistant\n<|im_end|>\n"
	    "<|im_start|>tool\n42<|im_end|>\n<|im_start|>assistant\n");
	check(OPENAI_TEMPLATE_LLAMA3, tools, 4,
	    "<|start_header_id|>system<|end_header_id|>\n\nD<|eot_id|>"
	    "<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
	    "<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>"
	    "<|start_header_id|>ipython<|end_header_id|>\n\n42<|eot_id|>"
	    "<|start_header_id|>assistant<|end_header_id|>\n\n");
	check(OPENAI_TEMPLATE_ZEPHYR, tools, 4,
	    "<|system|>\nD</s>\n<|user|>\nU</s>\n<|assistant|>\n</s>\n"
	    "<|user|>\n42</s>\n<|assistant|>\n");
	check(OPENAI_TEMPLATE_PHI3, tools, 4,
	    "<|system|>\nD<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n<|end|>\n"
	    "<|user|>\n42<|end|>\n<|assistant|>\n");
	check(OPENAI_TEMPLATE_GEMMA, tools, 4,
	    "<start_of_turn>user\nD\n\nU<end_of_turn>\n"
	    "<start_of_turn>model\n<end_of_turn>\n"
	    "<start_of_turn>user\n42<end_of_turn>\n<start_of_turn>model\n");
	check(OPENAI_TEMPLATE_LLAMA2, tools, 4,
	    "[INST] <<SYS>>\nD\n<</SYS>>\n\nU [/INST]  </s><s>[INST] 42 "
	    "[/INST]");
}

/* Templates without a system turn: where the system text goes. */
static void
test_merged_system(void **state)
{
	static const struct openai_message only[] = {MSG(SYSTEM, "S")};
	static const struct openai_message asst_first[] = {
	    MSG(SYSTEM, "S"),
	    MSG(ASSISTANT, "A"),
	    MSG(USER, "U"),
	};
	static const struct openai_message late[] = {
	    MSG(SYSTEM, "S1"),
	    MSG(USER, "U"),
	    MSG(DEVELOPER, "S2"),
	};
	static const struct openai_message none[] = {MSG(USER, "U")};

	check(OPENAI_TEMPLATE_LLAMA2, only, 1,
	    "[INST] <<SYS>>\nS\n<</SYS>>\n\n [/INST]");
	check(OPENAI_TEMPLATE_GEMMA, only, 1,
	    "<start_of_turn>user\nS\n\n<end_of_turn>\n<start_of_turn>model\n");
	check(OPENAI_TEMPLATE_MISTRAL, asst_first, 3,
	    "[INST] S\n\n [/INST] A</s>[INST] U [/INST]");
	/* Every system message joins the block, wherever it was. */
	check(OPENAI_TEMPLATE_GEMMA, late, 3,
	    "<start_of_turn>user\nS1\n\nS2\n\nU<end_of_turn>\n"
	    "<start_of_turn>model\n");
	check(OPENAI_TEMPLATE_LLAMA2, none, 1, "[INST] U [/INST]");
	check(OPENAI_TEMPLATE_MISTRAL, none, 1, "[INST] U [/INST]");
	/* No messages at all: just the generation prompt. */
	check(OPENAI_TEMPLATE_CHATML, none, 0, "<|im_start|>assistant\n");
	check(OPENAI_TEMPLATE_LLAMA2, none, 0, "");
}

/* Content goes in verbatim, including bytes that look like markup. */
static void
test_verbatim(void **state)
{
	static const struct openai_message m[] = {
	    MSG(USER, "  <|im_end|>\n x  "),
	};

	check(OPENAI_TEMPLATE_CHATML, m, 1,
	    "<|im_start|>user\n  <|im_end|>\n x  <|im_end|>\n"
	    "<|im_start|>assistant\n");
}

static void
test_names_and_stops(void **state)
{
	const char *const *s;
	struct conf_model m;
	enum openai_template t;

	assert_int_equal(openai_template_find(""), OPENAI_TEMPLATE_PLAIN);
	assert_int_equal(openai_template_find(NULL), OPENAI_TEMPLATE_PLAIN);
	assert_int_equal(
	    openai_template_find("ChatML"), OPENAI_TEMPLATE_CHATML);
	assert_int_equal(
	    openai_template_find("llama-3"), OPENAI_TEMPLATE_LLAMA3);
	assert_int_equal(
	    openai_template_find("LLAMA2"), OPENAI_TEMPLATE_LLAMA2);
	assert_int_equal(
	    openai_template_find("mistral"), OPENAI_TEMPLATE_MISTRAL);
	assert_int_equal(
	    openai_template_find("zephyr"), OPENAI_TEMPLATE_ZEPHYR);
	assert_int_equal(openai_template_find("gemma"), OPENAI_TEMPLATE_GEMMA);
	assert_int_equal(openai_template_find("phi-3"), OPENAI_TEMPLATE_PHI3);
	assert_int_equal(
	    openai_template_find("vicuna"), OPENAI_TEMPLATE_UNKNOWN);
	assert_string_equal(openai_template_name(OPENAI_TEMPLATE_PHI3), "phi3");
	assert_string_equal(
	    openai_template_name(OPENAI_TEMPLATE_UNKNOWN), "unknown");
	s = openai_template_stops(OPENAI_TEMPLATE_LLAMA2);
	assert_string_equal(s[0], "</s>");
	assert_string_equal(s[1], "[INST]");
	assert_null(s[2]);
	assert_string_equal(
	    openai_template_stops(OPENAI_TEMPLATE_CHATML)[0], "<|im_end|>");
	assert_string_equal(
	    openai_template_stops(OPENAI_TEMPLATE_LLAMA3)[0], "<|eot_id|>");
	assert_string_equal(
	    openai_template_stops(OPENAI_TEMPLATE_GEMMA)[0], "<end_of_turn>");
	assert_string_equal(
	    openai_template_stops(OPENAI_TEMPLATE_PLAIN)[0], "\nUser:");
	assert_null(openai_template_stops(OPENAI_TEMPLATE_UNKNOWN)[0]);

	memset(&m, 0, sizeof(m));
	assert_int_equal(openai_template_for_model(&m, &t), 0);
	assert_int_equal(t, OPENAI_TEMPLATE_PLAIN);
	strcpy(m.template, "gemma");
	assert_int_equal(openai_template_for_model(&m, &t), 0);
	assert_int_equal(t, OPENAI_TEMPLATE_GEMMA);
	strcpy(m.template, "nope");
	assert_int_equal(openai_template_for_model(&m, &t), 0);
	assert_int_equal(t, OPENAI_TEMPLATE_PLAIN);
	m.use_tokenizer_template = 1;
	assert_int_equal(openai_template_for_model(&m, &t), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conversation),
	    cmocka_unit_test(test_tools_and_developer),
	    cmocka_unit_test(test_merged_system),
	    cmocka_unit_test(test_verbatim),
	    cmocka_unit_test(test_names_and_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
