/*
 * Unit tests for api/oa_form.c: a /v1/audio/transcriptions upload parsed
 * as it streams in.  The file reaches the sink byte for byte at every
 * split point of the body; fields land in struct openai_transcription;
 * every failure (bad multipart, missing or repeated file, oversized file or
 * field, bad field value, a sink that cannot write) is the right
 * OpenAI-shaped error.
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

#define CT "multipart/form-data; boundary=----form7MA4YWxk"
#define DELIM "----form7MA4YWxk"

/* A sink that "stores" the file in memory and counts its calls. */
struct sink {
	char data[8192];
	size_t len;
	int begins, ends;
	char filename[64], ctype[64];
	int fail_data;
};

static int
s_begin(void *arg, const char *filename, const char *ctype)
{
	struct sink *s = arg;

	s->begins++;
	snprintf(s->filename, sizeof(s->filename), "%s",
	    filename ? filename : "(null)");
	snprintf(s->ctype, sizeof(s->ctype), "%s", ctype ? ctype : "(null)");
	return 0;
}

static int
s_data(void *arg, const void *d, size_t n)
{
	struct sink *s = arg;

	if (s->fail_data)
		return -1;
	assert_true(s->len + n <= sizeof(s->data));
	memcpy(s->data + s->len, d, n);
	s->len += n;
	return 0;
}

static int
s_end(void *arg)
{
	((struct sink *)arg)->ends++;
	return 0;
}

static const struct openai_file_sink sink_cb = {s_begin, s_data, s_end};

static const char wav[] = "RIFF\x24\0\0\0WAVEfmt \r\n--\r\n" DELIM "x\0\xff";

/* A complete form body with the given extra parts in the middle. */
static size_t
body(char *out, size_t outsz, const char *extra)
{
	size_t n;

	n = (size_t)snprintf(out, outsz,
	    "--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
	    "whisper-1\r\n"
	    "--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"response_format\"\r\n\r\n"
	    "verbose_json\r\n"
	    "--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"temperature\"\r\n\r\n"
	    "0.2\r\n"
	    "--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"language\"\r\n\r\n"
	    "en\r\n"
	    "%s"
	    "--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"file\"; "
	    "filename=\"speech.wav\"\r\n"
	    "Content-Type: audio/wav\r\n\r\n",
	    extra);
	memcpy(out + n, wav, sizeof(wav) - 1);
	n += sizeof(wav) - 1;
	n += (size_t)snprintf(out + n, outsz - n,
	    "\r\n--" DELIM "\r\n"
	    "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
	    "Hello.\r\n--" DELIM "--\r\n");
	return n;
}

/* Feed body in pieces split at `cut`; 0 or -1 with *err. */
static int
run(const char *b, size_t len, size_t cut, const struct openai_limits *l,
    struct sink *s, struct openai_transcription *out, struct openai_error *err)
{
	struct openai_form *f;
	int rc;

	if ((f = openai_form_new(CT, l, &sink_cb, s, err)) == NULL)
		return -1;
	rc = openai_form_feed(f, b, cut, err);
	if (rc == 0)
		rc = openai_form_feed(f, b + cut, len - cut, err);
	if (rc == 0)
		rc = openai_form_finish(f, out, err);
	openai_form_free(f);
	return rc;
}

static void
test_upload_every_split(void **state)
{
	struct openai_transcription r;
	struct openai_error err;
	struct sink s;
	char b[4096];
	size_t len, cut;

	len = body(b, sizeof(b), "");
	for (cut = 0; cut <= len; cut++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(run(b, len, cut, NULL, &s, &r, &err), 0);
		assert_string_equal(r.model, "whisper-1");
		assert_string_equal(r.language, "en");
		assert_string_equal(r.prompt, "Hello.");
		assert_int_equal(r.format, OPENAI_TRANSCRIPT_VERBOSE_JSON);
		assert_true(r.have_temperature && r.temperature == 0.2);
		assert_true(r.have_file);
		assert_string_equal(r.filename, "speech.wav");
		assert_int_equal(r.file_size, sizeof(wav) - 1);
		assert_int_equal(s.begins, 1);
		assert_int_equal(s.ends, 1);
		assert_string_equal(s.filename, "speech.wav");
		assert_string_equal(s.ctype, "audio/wav");
		assert_int_equal(s.len, sizeof(wav) - 1);
		assert_memory_equal(s.data, wav, sizeof(wav) - 1);
		openai_transcription_free(&r);
	}
}

/* Check a failing upload at every split point gives the same error. */
static void
expect_error(const char *b, size_t len, const struct openai_limits *l,
    int status, const char *code, const char *param, const char *message)
{
	struct openai_transcription r;
	struct openai_error err;
	struct sink s;
	size_t cut;

	for (cut = 0; cut <= len; cut++) {
		memset(&s, 0, sizeof(s));
		memset(&err, 0, sizeof(err));
		if (run(b, len, cut, l, &s, &r, &err) != -1)
			fail_msg("accepted at split %zu", cut);
		if (err.status != status || strcmp(err.code, code) != 0 ||
		    strcmp(err.param, param) != 0 ||
		    strstr(err.message, message) == NULL)
			fail_msg("split %zu: got %d code=%s param=%s %s", cut,
			    err.status, err.code, err.param, err.message);
	}
}

static void
test_field_errors(void **state)
{
	char b[4096];
	size_t len;

	len = body(b, sizeof(b),
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"response_format\"\r\n\r\nxml\r\n");
	expect_error(b, len, NULL, 400, "invalid_value", "response_format",
	    "Invalid value: 'xml'");
	len = body(b, sizeof(b),
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"temperature\"\r\n\r\n7\r\n");
	expect_error(
	    b, len, NULL, 400, "decimal_above_max_value", "temperature", "");
	len = body(b, sizeof(b),
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"file\"; filename=\"b.wav\"\r\n\r\nxx\r\n");
	expect_error(
	    b, len, NULL, 400, "invalid_value", "file", "only one file");
}

static void
test_missing_parts(void **state)
{
	static const char nofile[] =
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"model\"\r\n\r\nm\r\n--" DELIM "--";
	static const char nomodel[] =
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"file\"; filename=\"a\"\r\n\r\nx\r\n--" DELIM
	    "--";
	static const char empty[] = "--" DELIM "--";

	expect_error(nofile, sizeof(nofile) - 1, NULL, 400,
	    "missing_required_parameter", "file", "'file'");
	expect_error(nomodel, sizeof(nomodel) - 1, NULL, 400,
	    "missing_required_parameter", "model", "'model'");
	expect_error(empty, sizeof(empty) - 1, NULL, 400,
	    "missing_required_parameter", "model", "");
}

static void
test_limits(void **state)
{
	struct openai_limits l;
	char b[4096], field[300];
	size_t len;

	memset(&l, 0, sizeof(l));
	len = body(b, sizeof(b), "");
	l.upload_max = sizeof(wav) - 2;
	expect_error(b, len, &l, 413, "request_too_large", "", "");
	l.upload_max = sizeof(wav) - 1;
	/* Exactly the limit passes. */
	{
		struct openai_transcription r;
		struct openai_error err;
		struct sink s;

		memset(&s, 0, sizeof(s));
		assert_int_equal(run(b, len, 10, &l, &s, &r, &err), 0);
		openai_transcription_free(&r);
	}
	memset(&l, 0, sizeof(l));
	l.string_max = 100;
	memset(field, 'p', sizeof(field) - 1);
	field[sizeof(field) - 1] = '\0';
	{
		char extra[600];

		snprintf(extra, sizeof(extra),
		    "--" DELIM "\r\n"
		    "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
		    "%s\r\n",
		    field);
		len = body(b, sizeof(b), extra);
	}
	expect_error(b, len, &l, 400, "string_above_max_length", "prompt",
	    "longer than 100 bytes");
	memset(&l, 0, sizeof(l));
	l.form_parts_max = 5;
	len = body(b, sizeof(b), "");
	expect_error(
	    b, len, &l, 400, "invalid_multipart", "", "too many parts");
}

static void
test_malformed(void **state)
{
	static const char trunc[] = "--" DELIM "\r\nContent-Disposition: "
	                            "form-data; name=\"model\"\r\n\r\nm";
	static const char nodisp[] = "--" DELIM "\r\nContent-Type: x\r\n\r\n"
	                             "m\r\n--" DELIM "--";
	struct openai_error err;
	struct sink s;

	expect_error(trunc, sizeof(trunc) - 1, NULL, 400, "invalid_multipart",
	    "",
	    "Invalid multipart/form-data body: the body ended before the "
	    "closing boundary (at byte 69).");
	expect_error(nodisp, sizeof(nodisp) - 1, NULL, 400, "invalid_multipart",
	    "", "lacks Content-Disposition");
	assert_null(openai_form_new(NULL, NULL, &sink_cb, &s, &err));
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "invalid_multipart");
	assert_null(
	    openai_form_new("multipart/form-data", NULL, &sink_cb, &s, &err));
	assert_non_null(strstr(err.message, "boundary"));
	assert_null(
	    openai_form_new("application/json", NULL, &sink_cb, &s, &err));
	assert_non_null(strstr(err.message, "not multipart/form-data"));
}

static void
test_sink_failure_and_sticky(void **state)
{
	struct openai_transcription r;
	struct openai_error err, err2;
	struct openai_form *f;
	struct sink s;
	char b[4096];
	size_t len;

	memset(&s, 0, sizeof(s));
	s.fail_data = 1;
	len = body(b, sizeof(b), "");
	f = openai_form_new(CT, NULL, &sink_cb, &s, &err);
	assert_non_null(f);
	assert_int_equal(openai_form_feed(f, b, len, &err), -1);
	assert_int_equal(err.status, 500);
	assert_string_equal(err.type, "server_error");
	assert_int_equal(openai_form_feed(f, "x", 1, &err2), -1);
	assert_string_equal(err2.message, err.message);
	assert_int_equal(openai_form_finish(f, &r, &err2), -1);
	assert_int_equal(err2.status, 500);
	assert_int_equal(s.ends, 0);
	openai_form_free(f);
	/* Free without finish (client gone) releases everything. */
	f = openai_form_new(CT, NULL, &sink_cb, &s, &err);
	s.fail_data = 0;
	assert_int_equal(openai_form_feed(f, b, len / 2, &err), 0);
	openai_form_free(f);
	openai_form_free(NULL);
}

/* Other file parts are skipped; unknown fields ignored; no sink at all. */
static void
test_skips(void **state)
{
	struct openai_transcription r;
	struct openai_error err;
	struct openai_form *f;
	char b[4096];
	size_t len;

	len = body(b, sizeof(b),
	    "--" DELIM "\r\nContent-Disposition: "
	    "form-data; name=\"extra\"; filename=\"x.bin\"\r\n\r\nzzz\r\n"
	    "--" DELIM "\r\nContent-Disposition: form-data; "
	    "name=\"timestamp_granularities[]\"\r\n\r\nsegment\r\n");
	f = openai_form_new(CT, NULL, NULL, NULL, &err);
	assert_int_equal(openai_form_feed(f, b, len, &err), 0);
	assert_int_equal(openai_form_finish(f, &r, &err), 0);
	assert_int_equal(r.file_size, sizeof(wav) - 1);
	assert_string_equal(r.model, "whisper-1");
	openai_transcription_free(&r);
	openai_form_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_upload_every_split),
	    cmocka_unit_test(test_field_errors),
	    cmocka_unit_test(test_missing_parts),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_sink_failure_and_sticky),
	    cmocka_unit_test(test_skips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
