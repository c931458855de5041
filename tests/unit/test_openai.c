/*
 * Unit tests for the request side of the OpenAI layer (api/openai.c,
 * api/oa_fields.c, api/oa_request.c): every field of every endpoint
 * parsed into its struct, nulls and unknown fields ignored, and every bad
 * input answered with OpenAI's error shape naming the field (status, type,
 * param, code, message).  Also the JSON pre-scan limits, model defaults
 * and the error builders.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/openai.h"

/* Parse-and-free wrappers with one signature, for the error table. */
static int
chat(const char *body, const struct openai_limits *l, struct openai_error *e)
{
	struct openai_chat r;
	int rc = openai_chat_parse(body, strlen(body), l, &r, e);

	openai_chat_free(&r);
	return rc;
}

static int compl(
    const char *body, const struct openai_limits *l, struct openai_error *e)
{
	struct openai_completion r;
	int rc = openai_completion_parse(body, strlen(body), l, &r, e);

	openai_completion_free(&r);
	return rc;
}

static int
embed(const char *body, const struct openai_limits *l, struct openai_error *e)
{
	struct openai_embeddings r;
	int rc = openai_embeddings_parse(body, strlen(body), l, &r, e);

	openai_embeddings_free(&r);
	return rc;
}

static int
speech(const char *body, const struct openai_limits *l, struct openai_error *e)
{
	struct openai_speech r;
	int rc = openai_speech_parse(body, strlen(body), l, &r, e);

	openai_speech_free(&r);
	return rc;
}

#define M "\"model\":\"m\","
#define MSG "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define CHAT(x) "{" M MSG "," x "}"
#define COMPL(x) "{" M "\"prompt\":\"p\"," x "}"

struct bad_case {
	int (*fn)(
	    const char *, const struct openai_limits *, struct openai_error *);
	const char *body;
	int status;
	const char *param; /* "" = null */
	const char *code; /* "" = null */
	const char *message; /* a substring of the message */
};

static const struct bad_case bad[] = {
    /* The body itself. */
    {chat, "", 400, "", "", "could not parse the JSON body"},
    {chat, "{\"model\":", 400, "", "", "line 1, column 9, position 9"},
    {chat, "{\"model\":\"m\",\n \"messages\": [,]}", 400, "", "",
        "line 2, column"},
    {chat, CHAT("\"x\":1,"), 400, "", "", "could not parse"},
    {chat, "{\"model\":\"a\\u0000b\"," MSG "}", 400, "", "", "could not parse"},
    {chat, "{\"model\":\"\xff\"," MSG "}", 400, "", "", "could not parse"},
    {chat, "[]", 400, "", "invalid_type", "must be a JSON object"},
    {chat, "null", 400, "", "invalid_type", "but got null instead"},
    /* model */
    {chat, "{" MSG "}", 400, "model", "missing_required_parameter",
        "Missing required parameter: 'model'."},
    {chat, "{\"model\":\"\"," MSG "}", 400, "model",
        "missing_required_parameter", "'model'"},
    {chat, "{\"model\":null," MSG "}", 400, "model",
        "missing_required_parameter", "'model'"},
    {chat, "{\"model\":5," MSG "}", 400, "model", "invalid_type",
        "Invalid type for 'model': expected a string, but got an integer "
        "instead."},
    /* messages */
    {chat, "{" M "\"x\":1}", 400, "messages", "missing_required_parameter",
        "'messages'"},
    {chat, "{" M "\"messages\":{}}", 400, "messages", "invalid_type",
        "expected an array, but got an object"},
    {chat, "{" M "\"messages\":[]}", 400, "messages", "empty_array",
        "empty array"},
    {chat, "{" M "\"messages\":[1]}", 400, "messages[0]", "invalid_type",
        "expected an object, but got an integer"},
    {chat, "{" M "\"messages\":[{\"content\":\"x\"}]}", 400, "messages[0].role",
        "missing_required_parameter", ""},
    {chat, "{" M "\"messages\":[{\"role\":1,\"content\":\"x\"}]}", 400,
        "messages[0].role", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"function\",\"content\":\"x\"}]}",
        400, "messages[1].role", "invalid_value",
        "Invalid value: 'function'. Supported values are: 'system', "
        "'developer', 'user', 'assistant' and 'tool'."},
    {chat, "{" M "\"messages\":[{\"role\":\"user\"}]}", 400,
        "messages[0].content", "missing_required_parameter", ""},
    {chat, "{" M "\"messages\":[{\"role\":\"system\",\"content\":null}]}", 400,
        "messages[0].content", "missing_required_parameter", ""},
    {chat, "{" M "\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400,
        "messages[0].content", "invalid_type",
        "expected a string or an array of content parts"},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}",
        400, "messages[0].content[0].type", "invalid_value",
        "Only 'text' content parts are supported."},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"a\"},{\"text\":\"b\"}]}]}",
        400, "messages[0].content[1].type", "missing_required_parameter", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\"}]}]}",
        400, "messages[0].content[0].text", "missing_required_parameter", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":[]}]}]}",
        400, "messages[0].content[0].text", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[\"text\"]}]}",
        400, "messages[0].content[0]", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":7}]}]}",
        400, "messages[0].content[0].type", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"x\","
        "\"name\":5}]}",
        400, "messages[0].name", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"tool\",\"content\":\"42\"}]}",
        400, "messages[1].tool_call_id", "missing_required_parameter", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"tool\",\"content\":\"42\","
        "\"tool_call_id\":9}]}",
        400, "messages[0].tool_call_id", "invalid_type", ""},
    {chat,
        "{" M "\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
        "{}}]}",
        400, "messages[0].tool_calls", "invalid_type", ""},
    /* sampling */
    {chat, CHAT("\"temperature\":\"hot\""), 400, "temperature", "invalid_type",
        "Invalid type for 'temperature': expected a number, "
        "but got a string instead."},
    {chat, CHAT("\"temperature\":2.5"), 400, "temperature",
        "decimal_above_max_value",
        "Invalid 'temperature': 2.5 is greater "
        "than the maximum of 2."},
    {chat, CHAT("\"temperature\":-0.1"), 400, "temperature",
        "decimal_below_min_value", "-0.1 is less than the minimum of 0"},
    {chat, CHAT("\"top_p\":1.01"), 400, "top_p", "decimal_above_max_value", ""},
    {chat, CHAT("\"top_p\":true"), 400, "top_p", "invalid_type",
        "but got a boolean"},
    {chat, CHAT("\"presence_penalty\":-3"), 400, "presence_penalty",
        "decimal_below_min_value", ""},
    {chat, CHAT("\"frequency_penalty\":2.0001"), 400, "frequency_penalty",
        "decimal_above_max_value", ""},
    {chat, CHAT("\"max_tokens\":0"), 400, "max_tokens",
        "integer_below_min_value", "0 is less than the minimum of 1"},
    {chat, CHAT("\"max_tokens\":1.5"), 400, "max_tokens", "invalid_type",
        "expected an integer, but got a number"},
    {chat, CHAT("\"max_tokens\":\"10\""), 400, "max_tokens", "invalid_type",
        ""},
    {chat, CHAT("\"max_tokens\":4294967296"), 400, "max_tokens",
        "integer_above_max_value", ""},
    {chat, CHAT("\"max_completion_tokens\":-1"), 400, "max_completion_tokens",
        "integer_below_min_value", ""},
    {chat, CHAT("\"top_k\":-1"), 400, "top_k", "integer_below_min_value", ""},
    {chat, CHAT("\"seed\":\"x\""), 400, "seed", "invalid_type", ""},
    {chat, CHAT("\"seed\":1.5"), 400, "seed", "invalid_type", ""},
    {chat, CHAT("\"n\":2"), 400, "n", "invalid_value", "only n=1 is supported"},
    {chat, CHAT("\"n\":\"1\""), 400, "n", "invalid_type", ""},
    {chat, CHAT("\"stop\":5"), 400, "stop", "invalid_type",
        "expected a string or an array of strings"},
    {chat, CHAT("\"stop\":[\"a\",1]"), 400, "stop[1]", "invalid_type", ""},
    {chat, CHAT("\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]"), 400, "stop",
        "array_above_max_length",
        "maximum length 4, but got an array with "
        "length 5"},
    /* stream, user */
    {chat, CHAT("\"stream\":\"yes\""), 400, "stream", "invalid_type",
        "expected a boolean, but got a string"},
    {chat, CHAT("\"stream\":true,\"stream_options\":1"), 400, "stream_options",
        "invalid_type", ""},
    {chat,
        CHAT("\"stream\":true,\"stream_options\":{\"include_usage\":"
             "1}"),
        400, "stream_options.include_usage", "invalid_type", ""},
    {chat, CHAT("\"user\":1"), 400, "user", "invalid_type", ""},
    /* completions */
    {compl, "{" M "\"x\":1}", 400, "prompt", "missing_required_parameter", ""},
    {compl, "{\"prompt\":\"p\"}", 400, "model", "missing_required_parameter",
        ""},
    {compl, "{" M "\"prompt\":5}", 400, "prompt", "invalid_type",
        "expected a string or an array of strings"},
    {compl, "{" M "\"prompt\":[]}", 400, "prompt", "invalid_value",
        "empty array"},
    {compl, "{" M "\"prompt\":[1,2,3]}", 400, "prompt", "invalid_value",
        "token arrays are not supported"},
    {compl, "{" M "\"prompt\":[[1,2]]}", 400, "prompt", "invalid_value",
        "token arrays are not supported"},
    {compl, "{" M "\"prompt\":[\"a\",\"b\"]}", 400, "prompt", "invalid_value",
        "only one prompt"},
    {compl, "{" M "\"prompt\":[true]}", 400, "prompt[0]", "invalid_type", ""},
    {compl, COMPL("\"echo\":true"), 400, "echo", "invalid_value",
        "echo is not supported"},
    {compl, COMPL("\"echo\":1"), 400, "echo", "invalid_type", ""},
    {compl, COMPL("\"best_of\":3"), 400, "best_of", "invalid_value", ""},
    {compl, COMPL("\"suffix\":\"end\""), 400, "suffix", "invalid_value", ""},
    {compl, COMPL("\"n\":0"), 400, "n", "invalid_value", ""},
    {compl, COMPL("\"temperature\":9"), 400, "temperature",
        "decimal_above_max_value", ""},
    {compl, COMPL("\"stream_options\":[]"), 400, "stream_options",
        "invalid_type", ""},
    /* embeddings */
    {embed, "{" M "\"x\":1}", 400, "input", "missing_required_parameter", ""},
    {embed, "{" M "\"input\":5}", 400, "input", "invalid_type",
        "expected a string or an array of strings"},
    {embed, "{" M "\"input\":\"\"}", 400, "input", "invalid_value",
        "cannot be an empty string"},
    {embed, "{" M "\"input\":[]}", 400, "input", "empty_array", ""},
    {embed, "{" M "\"input\":[\"a\",\"\"]}", 400, "input[1]", "invalid_value",
        "empty string"},
    {embed, "{" M "\"input\":[1,2]}", 400, "input[0]", "invalid_value",
        "token arrays are not supported"},
    {embed, "{" M "\"input\":[[1,2]]}", 400, "input[0]", "invalid_value",
        "token arrays"},
    {embed, "{" M "\"input\":[\"a\",{}]}", 400, "input[1]", "invalid_type", ""},
    {embed, "{" M "\"input\":\"a\",\"encoding_format\":\"int8\"}", 400,
        "encoding_format", "invalid_value",
        "Invalid value: 'int8'. "
        "Supported values are: 'float' and 'base64'."},
    {embed, "{" M "\"input\":\"a\",\"encoding_format\":1}", 400,
        "encoding_format", "invalid_type", ""},
    {embed, "{\"input\":\"a\"}", 400, "model", "missing_required_parameter",
        ""},
    /* speech */
    {speech, "{" M "\"voice\":\"v\"}", 400, "input",
        "missing_required_parameter", ""},
    {speech, "{" M "\"input\":\"\"}", 400, "input", "invalid_value", ""},
    {speech, "{" M "\"input\":[]}", 400, "input", "invalid_type", ""},
    {speech, "{" M "\"input\":\"hi\",\"voice\":5}", 400, "voice",
        "invalid_type", ""},
    {speech, "{" M "\"input\":\"hi\",\"response_format\":\"mp3\"}", 400,
        "response_format", "invalid_value",
        "Invalid value: 'mp3'. "
        "Supported values are: 'wav'."},
    {speech, "{" M "\"input\":\"hi\",\"speed\":4.5}", 400, "speed",
        "decimal_above_max_value", ""},
    {speech, "{" M "\"input\":\"hi\",\"speed\":0.2}", 400, "speed",
        "decimal_below_min_value", ""},
    {speech, "{\"input\":\"hi\"}", 400, "model", "missing_required_parameter",
        ""},
};

static void
test_bad_inputs(void **state)
{
	struct openai_error err;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (bad[i].fn(bad[i].body, NULL, &err) != -1)
			fail_msg("case %zu accepted: %s", i, bad[i].body);
		if (err.status != bad[i].status ||
		    strcmp(err.param, bad[i].param) != 0 ||
		    strcmp(err.code, bad[i].code) != 0 ||
		    strcmp(err.type, "invalid_request_error") != 0 ||
		    strstr(err.message, bad[i].message) == NULL)
			fail_msg("case %zu (%s): got %d type=%s param=%s "
			         "code=%s message=%s",
			    i, bad[i].body, err.status, err.type, err.param,
			    err.code, err.message);
	}
}

/* No body at all (a POST without one) is malformed JSON, not a crash. */
static void
test_empty_body(void **state)
{
	struct openai_chat r;
	struct openai_error err;

	assert_int_equal(openai_chat_parse(NULL, 0, NULL, &r, &err), -1);
	assert_int_equal(err.status, 400);
	assert_non_null(strstr(err.message, "could not parse the JSON body"));
}

static void
test_chat_full(void **state)
{
	static const char body[] =
	    "{"
	    "\"model\":\"llama\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"be brief\"},"
	    "{\"role\":\"developer\",\"content\":\"dev\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}"
	    ","
	    "{\"type\":\"text\",\"text\":\"b\\u00e9\"}],\"name\":\"bob\"},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":"
	    "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"f\","
	    "\"arguments\":\"{}\"}}]},"
	    "{\"role\":\"tool\",\"content\":\"42\",\"tool_call_id\":\"c1\"}],"
	    "\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
	    "\"max_tokens\":10,\"max_completion_tokens\":20,\"seed\":-7,"
	    "\"presence_penalty\":1,\"frequency_penalty\":-1.5,"
	    "\"stop\":[\"\\n\\n\",\"END\",\"\",\"END\"],\"n\":1,"
	    "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
	    "\"user\":\"u1\",\"logit_bias\":{\"1\":2},\"tools\":[],"
	    "\"response_format\":{\"type\":\"text\"},\"unknown\":[[[1]]]}";
	struct openai_chat r;
	struct openai_error err;

	assert_int_equal(
	    openai_chat_parse(body, sizeof(body) - 1, NULL, &r, &err), 0);
	assert_string_equal(r.model, "llama");
	assert_int_equal(r.n_messages, 5);
	assert_int_equal(r.messages[0].role, OPENAI_ROLE_SYSTEM);
	assert_string_equal(r.messages[0].content, "be brief");
	assert_int_equal(r.messages[1].role, OPENAI_ROLE_DEVELOPER);
	assert_int_equal(r.messages[2].role, OPENAI_ROLE_USER);
	assert_string_equal(r.messages[2].content, "a\nb\xc3\xa9");
	assert_int_equal(r.messages[2].content_len, 5);
	assert_string_equal(r.messages[2].name, "bob");
	assert_null(r.messages[2].tool_calls);
	assert_int_equal(r.messages[3].role, OPENAI_ROLE_ASSISTANT);
	assert_string_equal(r.messages[3].content, "");
	assert_string_equal(r.messages[3].tool_calls,
	    "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
	    "\"f\",\"arguments\":\"{}\"}}]");
	assert_int_equal(r.messages[4].role, OPENAI_ROLE_TOOL);
	assert_string_equal(r.messages[4].tool_call_id, "c1");
	assert_null(r.messages[4].name);
	assert_true(r.sampling.have_temperature);
	assert_true(r.sampling.temperature == 0.5);
	assert_true(r.sampling.top_p == 0.9);
	assert_true(r.sampling.have_top_k && r.sampling.top_k == 40);
	/* max_completion_tokens wins over the deprecated max_tokens. */
	assert_true(r.sampling.have_max_tokens);
	assert_int_equal(r.sampling.max_tokens, 20);
	assert_true(r.sampling.have_seed && r.sampling.seed == -7);
	assert_true(r.sampling.presence_penalty == 1);
	assert_true(r.sampling.frequency_penalty == -1.5);
	/* Empty and duplicate stops are dropped. */
	assert_int_equal(r.sampling.n_stop, 2);
	assert_string_equal(r.sampling.stop[0], "\n\n");
	assert_string_equal(r.sampling.stop[1], "END");
	assert_true(r.stream);
	assert_true(r.include_usage);
	assert_string_equal(r.user, "u1");
	openai_chat_free(&r);
	/* Free twice is harmless (the struct is zeroed). */
	openai_chat_free(&r);
}

static void
test_chat_minimal(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"messages\":[{\"role\":"
	    "\"user\",\"content\":\"hi\"}],\"temperature\":null,\"stop\":null,"
	    "\"stream_options\":{\"include_usage\":true},\"user\":null,"
	    "\"n\":null,\"max_tokens\":100.0}";
	struct openai_chat r;
	struct openai_error err;

	assert_int_equal(
	    openai_chat_parse(body, sizeof(body) - 1, NULL, &r, &err), 0);
	assert_false(r.sampling.have_temperature);
	assert_false(r.sampling.have_top_p);
	assert_false(r.sampling.have_seed);
	assert_int_equal(r.sampling.n_stop, 0);
	/* Reals with no fraction are integers. */
	assert_int_equal(r.sampling.max_tokens, 100);
	/* include_usage only matters when streaming. */
	assert_false(r.stream);
	assert_false(r.include_usage);
	assert_null(r.user);
	assert_int_equal(r.messages[0].content_len, 2);
	openai_chat_free(&r);

	assert_int_equal(openai_chat_parse(CHAT("\"stop\":\"###\""),
	                     strlen(CHAT("\"stop\":\"###\"")), NULL, &r, &err),
	    0);
	assert_int_equal(r.sampling.n_stop, 1);
	assert_string_equal(r.sampling.stop[0], "###");
	openai_chat_free(&r);
}

static void
test_completion(void **state)
{
	static const char body[] =
	    "{\"model\":\"m\",\"prompt\":[\"once\"],"
	    "\"max_tokens\":5,\"echo\":false,\"best_of\":1,\"suffix\":\"\","
	    "\"stream\":true,\"stream_options\":{\"include_usage\":false},"
	    "\"logprobs\":null,\"stop\":[\".\"]}";
	struct openai_completion r;
	struct openai_error err;

	assert_int_equal(
	    openai_completion_parse(body, sizeof(body) - 1, NULL, &r, &err), 0);
	assert_string_equal(r.model, "m");
	assert_string_equal(r.prompt, "once");
	assert_int_equal(r.prompt_len, 4);
	assert_int_equal(r.sampling.max_tokens, 5);
	assert_int_equal(r.sampling.n_stop, 1);
	assert_true(r.stream);
	assert_false(r.include_usage);
	openai_completion_free(&r);

	assert_int_equal(openai_completion_parse("{\"model\":\"m\",\"prompt\":"
	                                         "\"x\\ny\"}",
	                     29, NULL, &r, &err),
	    0);
	assert_string_equal(r.prompt, "x\ny");
	assert_false(r.stream);
	openai_completion_free(&r);
}

static void
test_embeddings(void **state)
{
	static const char one[] = "{\"model\":\"e\",\"input\":\"hello\","
	                          "\"dimensions\":3}";
	static const char many[] =
	    "{\"model\":\"e\",\"input\":[\"a\",\"bc\"],"
	    "\"encoding_format\":\"base64\",\"user\":\"x\"}";
	struct openai_embeddings r;
	struct openai_error err;

	assert_int_equal(
	    openai_embeddings_parse(one, sizeof(one) - 1, NULL, &r, &err), 0);
	assert_int_equal(r.n_inputs, 1);
	assert_string_equal(r.inputs[0], "hello");
	assert_int_equal(r.input_lens[0], 5);
	assert_int_equal(r.encoding, OPENAI_ENCODING_FLOAT);
	openai_embeddings_free(&r);
	assert_int_equal(
	    openai_embeddings_parse(many, sizeof(many) - 1, NULL, &r, &err), 0);
	assert_int_equal(r.n_inputs, 2);
	assert_string_equal(r.inputs[1], "bc");
	assert_int_equal(r.encoding, OPENAI_ENCODING_BASE64);
	assert_string_equal(r.user, "x");
	openai_embeddings_free(&r);
}

static void
test_speech(void **state)
{
	static const char full[] =
	    "{\"model\":\"tts\",\"input\":\"hi there\","
	    "\"voice\":\"alloy\",\"response_format\":\"wav\",\"speed\":1.5,"
	    "\"instructions\":\"calm\"}";
	static const char bare[] = "{\"model\":\"tts\",\"input\":\"hi\"}";
	struct openai_speech r;
	struct openai_error err;
	char body[20000], *p;
	int i;

	assert_int_equal(
	    openai_speech_parse(full, sizeof(full) - 1, NULL, &r, &err), 0);
	assert_string_equal(r.model, "tts");
	assert_string_equal(r.input, "hi there");
	assert_string_equal(r.voice, "alloy");
	assert_true(r.speed == 1.5);
	openai_speech_free(&r);
	assert_int_equal(
	    openai_speech_parse(bare, sizeof(bare) - 1, NULL, &r, &err), 0);
	assert_string_equal(r.voice, "");
	assert_true(r.speed == 1);
	openai_speech_free(&r);
	/* 4096 characters (two bytes each) pass; one more does not. */
	p = body + sprintf(body, "{\"model\":\"t\",\"input\":\"");
	for (i = 0; i < 4096; i++)
		p += sprintf(p, "\xc3\xa9");
	strcpy(p, "\"}");
	assert_int_equal(
	    openai_speech_parse(body, strlen(body), NULL, &r, &err), 0);
	openai_speech_free(&r);
	strcpy(p, "e\"}");
	assert_int_equal(
	    openai_speech_parse(body, strlen(body), NULL, &r, &err), -1);
	assert_string_equal(err.code, "string_above_max_length");
	assert_string_equal(err.param, "input");
}

static void
test_transcription_fields(void **state)
{
	struct openai_transcription r;
	struct openai_error err;

	memset(&r, 0, sizeof(r));
	assert_int_equal(openai_transcription_check(&r, 0, &err), -1);
	assert_string_equal(err.param, "model");
	assert_int_equal(
	    openai_transcription_field(&r, "model", "whisper", 7, NULL, &err),
	    0);
	assert_int_equal(
	    openai_transcription_field(&r, "language", "pt-BR", 5, NULL, &err),
	    0);
	assert_int_equal(
	    openai_transcription_field(&r, "prompt", "Hi, ok", 6, NULL, &err),
	    0);
	assert_int_equal(openai_transcription_field(&r, "response_format",
	                     "verbose_json", 12, NULL, &err),
	    0);
	assert_int_equal(openai_transcription_field(
	                     &r, "temperature", "0.25", 4, NULL, &err),
	    0);
	assert_int_equal(
	    openai_transcription_field(
	        &r, "timestamp_granularities[]", "word", 4, NULL, &err),
	    0);
	assert_string_equal(r.model, "whisper");
	assert_string_equal(r.language, "pt-BR");
	assert_string_equal(r.prompt, "Hi, ok");
	assert_int_equal(r.format, OPENAI_TRANSCRIPT_VERBOSE_JSON);
	assert_true(r.have_temperature && r.temperature == 0.25);
	assert_int_equal(openai_transcription_check(&r, 0, &err), 0);
	assert_int_equal(openai_transcription_check(&r, 1, &err), -1);
	assert_string_equal(err.param, "file");
	assert_string_equal(err.code, "missing_required_parameter");
	/* A later value replaces an earlier one. */
	assert_int_equal(openai_transcription_field(
	                     &r, "response_format", "srt", 3, NULL, &err),
	    0);
	assert_int_equal(r.format, OPENAI_TRANSCRIPT_SRT);

	assert_int_equal(openai_transcription_field(
	                     &r, "response_format", "xml", 3, NULL, &err),
	    -1);
	assert_string_equal(err.message,
	    "Invalid value: 'xml'. Supported "
	    "values are: 'json', 'text', 'verbose_json', 'srt' and 'vtt'.");
	assert_int_equal(
	    openai_transcription_field(&r, "temperature", "hot", 3, NULL, &err),
	    -1);
	assert_string_equal(err.code, "invalid_type");
	assert_int_equal(openai_transcription_field(
	                     &r, "temperature", " 0.5", 4, NULL, &err),
	    -1);
	assert_int_equal(
	    openai_transcription_field(&r, "temperature", "", 0, NULL, &err),
	    -1);
	assert_int_equal(
	    openai_transcription_field(&r, "temperature", "1.5", 3, NULL, &err),
	    -1);
	assert_string_equal(err.code, "decimal_above_max_value");
	assert_int_equal(
	    openai_transcription_field(&r, "temperature", "nan", 3, NULL, &err),
	    -1);
	assert_int_equal(
	    openai_transcription_field(&r, "language", "e n", 3, NULL, &err),
	    -1);
	assert_string_equal(err.param, "language");
	assert_int_equal(
	    openai_transcription_field(&r, "prompt", "a\0b", 3, NULL, &err),
	    -1);
	assert_string_equal(err.code, "invalid_value");
	openai_transcription_free(&r);
}

static void
test_limits(void **state)
{
	struct openai_limits l;
	struct openai_error err;
	char body[4096];
	int i;

	memset(&l, 0, sizeof(l));
	l.depth_max = 5;
	/* Depth 5 passes: {messages:[{content:[{…}]}]} is 5 levels. */
	assert_int_equal(
	    chat("{" M "\"messages\":[{\"role\":\"user\","
	         "\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}",
	        &l, &err),
	    0);
	assert_int_equal(chat("{" M MSG ",\"x\":[[[[1]]]]}", &l, &err), 0);
	assert_int_equal(chat("{" M MSG ",\"x\":[[[[[1]]]]]}", &l, &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "json_too_deep");
	assert_non_null(strstr(err.message, "deeper than 5 levels"));
	/* Brackets inside strings do not count, escaped quotes neither. */
	assert_int_equal(
	    chat("{" M MSG ",\"x\":\"[[[[[[\\\"[[[[\"}", &l, &err), 0);
	/* Strings: decoded length, \u escapes counted as three bytes. */
	memset(&l, 0, sizeof(l));
	l.string_max = 9;
	assert_int_equal(chat(CHAT("\"user\":\"123456789\""), &l, &err), 0);
	assert_int_equal(chat(CHAT("\"user\":\"1234567890\""), &l, &err), -1);
	assert_string_equal(err.code, "string_above_max_length");
	assert_int_equal(
	    chat(CHAT("\"user\":\"\\n\\n\\n\\n\\n\\n\\n\\n\\n\""), &l, &err),
	    0);
	assert_int_equal(
	    chat(CHAT("\"user\":\"\\u00e9\\u00e9\\u00e9\""), &l, &err), 0);
	assert_int_equal(
	    chat(CHAT("\"user\":\"\\u00e9\\u00e9\\u00e9x\""), &l, &err), -1);
	/* Keys are strings too. */
	assert_int_equal(chat(CHAT("\"abcdefghijk\":1"), &l, &err), -1);
	/* Body size: 413. */
	memset(&l, 0, sizeof(l));
	l.body_max = 20;
	assert_int_equal(chat(CHAT(""), &l, &err), -1);
	assert_int_equal(err.status, 413);
	assert_string_equal(err.code, "request_too_large");
	/* Messages and content parts. */
	memset(&l, 0, sizeof(l));
	l.messages_max = 2;
	l.parts_max = 1;
	strcpy(body, "{" M "\"messages\":[");
	for (i = 0; i < 3; i++)
		strcat(body, i ? ",{\"role\":\"user\",\"content\":\"x\"}"
		               : "{\"role\":\"user\",\"content\":\"x\"}");
	strcat(body, "]}");
	assert_int_equal(chat(body, &l, &err), -1);
	assert_string_equal(err.code, "array_above_max_length");
	assert_string_equal(err.param, "messages");
	assert_int_equal(chat("{" M "\"messages\":[{\"role\":\"user\","
	                      "\"content\":[{\"type\":\"text\",\"text\":\"x\"},"
	                      "{\"type\":\"text\","
	                      "\"text\":\"y\"}]}]}",
	                     &l, &err),
	    -1);
	assert_string_equal(err.param, "messages[0].content");
	l.inputs_max = 1;
	assert_int_equal(embed("{" M "\"input\":[\"a\",\"b\"]}", &l, &err), -1);
	assert_string_equal(err.code, "array_above_max_length");
}

/* The pre-scan fed in pieces fails on the piece that crosses the limit. */
static void
test_prescan_incremental(void **state)
{
	struct openai_limits l;
	struct openai_prescan ps;
	struct openai_error err;
	const char *deep = "{\"a\":\"[[[\\\"\",\"b\":[[[[";
	size_t i;

	memset(&l, 0, sizeof(l));
	l.depth_max = 4;
	openai_prescan_init(&ps, &l);
	for (i = 0; i < strlen(deep) - 1; i++)
		assert_int_equal(
		    openai_prescan_feed(&ps, deep + i, 1, &err), 0);
	assert_int_equal(openai_prescan_feed(&ps, deep + i, 1, &err), -1);
	assert_non_null(strstr(err.message, "byte offset 20"));
	/* Sticky. */
	assert_int_equal(openai_prescan_feed(&ps, "}", 1, &err), -1);

	l.depth_max = 0;
	l.body_max = 10;
	openai_prescan_init(&ps, &l);
	assert_int_equal(openai_prescan_feed(&ps, "{\"a\":", 5, &err), 0);
	assert_int_equal(openai_prescan_feed(&ps, "12345", 5, &err), 0);
	assert_int_equal(openai_prescan_feed(&ps, "}", 1, &err), -1);
	assert_int_equal(err.status, 413);
}

static void
test_model_defaults(void **state)
{
	struct openai_chat r;
	struct openai_error err;
	struct conf_model m;

	memset(&m, 0, sizeof(m));
	m.have_temperature = m.have_top_k = m.have_max_tokens = 1;
	m.have_seed = m.have_top_p = 1;
	m.temperature = 0.2f;
	m.top_p = 0.5f;
	m.top_k = 30;
	m.max_tokens = 256;
	m.seed = 99;
	m.n_stop = 2;
	strcpy(m.stop[0], "</s>");
	strcpy(m.stop[1], "STOP");
	assert_int_equal(openai_chat_parse(CHAT("\"top_p\":0.7,\"stop\":"
	                                        "\"STOP\""),
	                     strlen(CHAT("\"top_p\":0.7,\"stop\":\"STOP\"")),
	                     NULL, &r, &err),
	    0);
	assert_int_equal(openai_sampling_apply_model(
	                     &r.sampling, &m, OPENAI_TEMPLATE_CHATML),
	    0);
	assert_true(r.sampling.temperature == 0.2f); /* model */
	assert_true(r.sampling.top_p == 0.7); /* request */
	assert_int_equal(r.sampling.top_k, 30);
	assert_int_equal(r.sampling.max_tokens, 256);
	assert_int_equal(r.sampling.seed, 99);
	assert_true(r.sampling.have_presence_penalty);
	assert_true(r.sampling.presence_penalty == 0);
	/* request, model (minus the duplicate), then the template's stops. */
	assert_int_equal(r.sampling.n_stop, 3);
	assert_string_equal(r.sampling.stop[0], "STOP");
	assert_string_equal(r.sampling.stop[1], "</s>");
	assert_string_equal(r.sampling.stop[2], "<|im_end|>");
	openai_chat_free(&r);

	/* No model config, no template: OpenAI's defaults. */
	assert_int_equal(openai_chat_parse(CHAT("\"seed\":5"),
	                     strlen(CHAT("\"seed\":5")), NULL, &r, &err),
	    0);
	assert_int_equal(openai_sampling_apply_model(
	                     &r.sampling, NULL, OPENAI_TEMPLATE_UNKNOWN),
	    0);
	assert_true(r.sampling.temperature == 1 && r.sampling.top_p == 1);
	assert_true(r.sampling.have_temperature && r.sampling.have_top_p);
	assert_false(r.sampling.have_top_k);
	assert_false(r.sampling.have_max_tokens);
	assert_int_equal(r.sampling.seed, 5);
	assert_int_equal(r.sampling.n_stop, 0);
	openai_chat_free(&r);
}

static void
test_error_builders(void **state)
{
	struct openai_error err;
	struct openai_limits l;
	struct conf_frontend f;

	openai_error_model_not_found(&err, "gpt-9");
	assert_int_equal(err.status, 404);
	assert_string_equal(err.code, "model_not_found");
	assert_string_equal(err.type, "invalid_request_error");
	assert_string_equal(err.message, "The model `gpt-9` does not exist or "
	                                 "you do not have access to it.");
	openai_error_invalid_api_key(&err, 1);
	assert_int_equal(err.status, 401);
	assert_string_equal(err.code, "invalid_api_key");
	assert_string_equal(err.message, "Incorrect API key provided.");
	openai_error_invalid_api_key(&err, 0);
	assert_non_null(strstr(err.message, "didn't provide an API key"));
	openai_error_not_found(&err, "GET", "/v1/nope");
	assert_int_equal(err.status, 404);
	assert_string_equal(err.message, "Invalid URL (GET /v1/nope)");
	openai_error_method_not_allowed(&err, "GET", "/v1/chat/completions");
	assert_int_equal(err.status, 405);
	openai_error_too_large(&err, 1024);
	assert_int_equal(err.status, 413);
	assert_non_null(strstr(err.message, "1024 bytes"));
	openai_error_overloaded(&err, "too many requests");
	assert_int_equal(err.status, 503);
	assert_string_equal(err.type, "server_error");
	openai_error_timeout(&err, "first token");
	assert_int_equal(err.status, 504);
	openai_error_internal(&err, "boom");
	assert_int_equal(err.status, 500);
	assert_string_equal(err.code, "");

	memset(&f, 0, sizeof(f));
	f.body_max = 1000;
	f.json_depth_max = 7;
	openai_limits_from_conf(&l, &f);
	assert_int_equal(l.body_max, 1000);
	assert_int_equal(l.depth_max, 7);
	assert_int_equal(l.string_max, OPENAI_DEFAULT_STRING_MAX);
	assert_int_equal(l.upload_max, OPENAI_DEFAULT_UPLOAD_MAX);
}

static void
test_names(void **state)
{
	char id[OPENAI_ID_MAX], id2[OPENAI_ID_MAX];

	assert_string_equal(
	    openai_role_name(OPENAI_ROLE_DEVELOPER), "developer");
	assert_string_equal(
	    openai_role_backend_name(OPENAI_ROLE_DEVELOPER), "system");
	assert_string_equal(openai_role_backend_name(OPENAI_ROLE_TOOL), "tool");
	assert_string_equal(openai_finish_name(OPENAI_FINISH_LENGTH), "length");
	assert_int_equal(openai_new_id(id, sizeof(id), "chatcmpl-"), 0);
	assert_int_equal(strlen(id), 9 + 24);
	assert_int_equal(strncmp(id, "chatcmpl-", 9), 0);
	assert_int_equal(strspn(id + 9, "0123456789abcdefghijklmnopqrstuvwxyz"
	                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
	    24);
	assert_int_equal(openai_new_id(id2, sizeof(id2), "chatcmpl-"), 0);
	assert_string_not_equal(id, id2);
	assert_int_equal(openai_new_id(id, 20, "chatcmpl-"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_inputs),
	    cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_chat_full),
	    cmocka_unit_test(test_chat_minimal),
	    cmocka_unit_test(test_completion),
	    cmocka_unit_test(test_embeddings),
	    cmocka_unit_test(test_speech),
	    cmocka_unit_test(test_transcription_fields),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_prescan_incremental),
	    cmocka_unit_test(test_model_defaults),
	    cmocka_unit_test(test_error_builders),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
