/*
 * Unit tests for api/multipart.c: parts, headers and data reach the
 * callbacks exactly as sent, whatever the chunking (every split point,
 * every pair of split points, one byte at a time), and every kind of
 * malformed body fails with the right error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"

#define CT "multipart/form-data; boundary=XyZ-42"

/* Everything the callbacks saw, as one printable log. */
struct rec {
	char log[65536];
	size_t len;
	int abort_at_begin; /* abort when this part index begins (1-based) */
	int abort_data;
};

static void
rec_add(struct rec *r, const char *s, size_t n)
{
	assert_true(r->len + n < sizeof(r->log));
	memcpy(r->log + r->len, s, n);
	r->len += n;
	r->log[r->len] = '\0';
}

static int
on_begin(void *arg, const struct multipart_part *p)
{
	struct rec *r = arg;
	char tmp[1024];
	int n;

	n = snprintf(tmp, sizeof(tmp), "<%u name=%s file=%s type=%s>", p->index,
	    p->name, p->filename ? p->filename : "(null)",
	    p->content_type ? p->content_type : "(null)");
	rec_add(r, tmp, (size_t)n);
	return r->abort_at_begin == (int)p->index + 1;
}

static int
on_data(void *arg, const char *d, size_t n)
{
	struct rec *r = arg;

	assert_true(n > 0);
	rec_add(r, d, n);
	return r->abort_data;
}

static int
on_end(void *arg)
{
	rec_add(arg, "<end>", 5);
	return 0;
}

static const struct multipart_callbacks cbs = {on_begin, on_data, on_end};

/*
 * Parse body fed at the given split offsets (sorted, may repeat); returns
 * the error code (MULTIPART_OK on success) and fills r.
 */
static enum multipart_errcode
parse_split(const char *ct, const char *body, size_t len, const size_t *cuts,
    size_t ncuts, const struct multipart_limits *lim, struct rec *r)
{
	struct multipart *mp;
	enum multipart_errcode code;
	size_t prev = 0, i;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	mp = multipart_new(ct, lim, &cbs, r, &code);
	if (mp == NULL)
		return code;
	for (i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		rc = multipart_feed(mp, body + prev, end - prev);
		prev = end;
	}
	if (rc == 0)
		rc = multipart_finish(mp);
	code = multipart_error(mp);
	assert_int_equal(rc == 0, code == MULTIPART_OK);
	multipart_free(mp);
	return code;
}

static enum multipart_errcode
parse_all(const char *ct, const char *body, size_t len, struct rec *r)
{
	return parse_split(ct, body, len, NULL, 0, NULL, r);
}

static const char body1[] =
    "preamble to ignore\r\n"
    "--XyZ-42\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper-1\r\n"
    "--XyZ-42  \t\r\n"
    "content-disposition: FORM-DATA; filename=\"a \\\"b\\\".wav\"; "
    "name=file\r\n"
    "Content-Type:  audio/wav \r\n"
    "X-Ignored: yes\r\n"
    "\r\n"
    "RIFF\r\n--XyZ-4\r\r\n-\r\n--XyZ\0\x01\xff\r\n\r\n--\r\n"
    "\r\n"
    "--XyZ-42\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--XyZ-42--\r\n"
    "epilogue --XyZ-42 junk\r\n";

static const char log1[] =
    "<0 name=model file=(null) type=(null)>whisper-1<end>"
    "<1 name=file file=a \"b\".wav type=audio/wav>"
    "RIFF\r\n--XyZ-4\r\r\n-\r\n--XyZ\0\x01\xff\r\n\r\n--\r\n<end>"
    "<2 name=empty file=(null) type=(null)><end>";

static void
test_basic(void **state)
{
	struct rec r;

	assert_int_equal(
	    parse_all(CT, body1, sizeof(body1) - 1, &r), MULTIPART_OK);
	assert_int_equal(r.len, sizeof(log1) - 1);
	assert_memory_equal(r.log, log1, sizeof(log1) - 1);
}

/* Every single split point gives the same result as one feed. */
static void
test_every_split(void **state)
{
	struct rec r;
	size_t i, len = sizeof(body1) - 1;

	for (i = 0; i <= len; i++) {
		assert_int_equal(
		    parse_split(CT, body1, len, &i, 1, NULL, &r), MULTIPART_OK);
		assert_int_equal(r.len, sizeof(log1) - 1);
		assert_memory_equal(r.log, log1, sizeof(log1) - 1);
	}
}

/* Every pair of split points: three chunks of every size combination. */
static void
test_every_split_pair(void **state)
{
	struct rec r;
	size_t cuts[2], len = sizeof(body1) - 1;

	for (cuts[0] = 0; cuts[0] <= len; cuts[0]++)
		for (cuts[1] = cuts[0]; cuts[1] <= len; cuts[1]++) {
			assert_int_equal(
			    parse_split(CT, body1, len, cuts, 2, NULL, &r),
			    MULTIPART_OK);
			assert_int_equal(r.len, sizeof(log1) - 1);
			assert_memory_equal(r.log, log1, sizeof(log1) - 1);
		}
}

static void
test_byte_at_a_time(void **state)
{
	struct rec r;
	size_t len = sizeof(body1) - 1, i, cuts[sizeof(body1)];

	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	assert_int_equal(
	    parse_split(CT, body1, len, cuts, len, NULL, &r), MULTIPART_OK);
	assert_memory_equal(r.log, log1, sizeof(log1) - 1);
}

/* A large binary file with CRs everywhere, fed in odd-sized chunks. */
static void
test_binary_file(void **state)
{
	static char body[200000];
	static struct rec r;
	char *p = body, *data;
	size_t i, n = 60000, cuts[64], ncuts = 0;

	p += sprintf(p, "--XyZ-42\r\nContent-Disposition: form-data; "
	                "name=\"file\"; filename=\"x.bin\"\r\n\r\n");
	data = p;
	for (i = 0; i < n; i++)
		*p++ = (char)(i % 7 == 0    ? '\r'
		              : i % 11 == 0 ? '\n'
		                            : (i * 131) & 0xff);
	p += sprintf(p, "\r\n--XyZ-42--");
	for (i = 1; i < 64 && i * 3001 < (size_t)(p - body); i++)
		cuts[ncuts++] = i * 3001;
	assert_int_equal(
	    parse_split(CT, body, (size_t)(p - body), cuts, ncuts, NULL, &r),
	    MULTIPART_OK);
	assert_true(
	    strncmp(r.log, "<0 name=file file=x.bin type=(null)>", 36) == 0);
	assert_int_equal(r.len, 36 + n + 5);
	assert_memory_equal(r.log + 36, data, n);
}

static void
test_lf_only_and_empty(void **state)
{
	static const char lf[] = "--B\nContent-Disposition: form-data; "
	                         "name=a\n\nvalue\r\n--B--";
	struct rec r;

	assert_int_equal(parse_all("multipart/form-data; boundary=B", lf,
	                     sizeof(lf) - 1, &r),
	    MULTIPART_OK);
	assert_string_equal(r.log, "<0 name=a file=(null) type=(null)>value"
	                           "<end>");
	/* No parts at all is a valid (empty) form. */
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=B", "--B--", 5, &r),
	    MULTIPART_OK);
	assert_int_equal(r.len, 0);
	/* An empty body is truncated. */
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=B", "", 0, &r),
	    MULTIPART_ERR_TRUNCATED);
}

static void
test_content_types(void **state)
{
	static const char b[] = "--a b'()+_,-./:=?--";
	struct rec r;

	assert_int_equal(parse_all("Multipart/Form-Data;BOUNDARY=\"a b'()+_,"
	                           "-./:=?\"; charset=utf-8",
	                     b, sizeof(b) - 1, &r),
	    MULTIPART_OK);
	assert_int_equal(
	    parse_all("  multipart/form-data ; boundary=x ;", "--x--", 5, &r),
	    MULTIPART_OK);
	assert_int_equal(
	    parse_all(NULL, "", 0, &r), MULTIPART_ERR_CONTENT_TYPE);
	assert_int_equal(parse_all("application/json", "", 0, &r),
	    MULTIPART_ERR_CONTENT_TYPE);
	assert_int_equal(
	    parse_all("multipart/form-datax; boundary=a", "", 0, &r),
	    MULTIPART_ERR_CONTENT_TYPE);
	assert_int_equal(parse_all("multipart/mixed; boundary=a", "", 0, &r),
	    MULTIPART_ERR_CONTENT_TYPE);
	assert_int_equal(parse_all("multipart/form-data", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(parse_all("multipart/form-data; charset=x", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(parse_all("multipart/form-data; boundary=", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=\"\"", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=\"ab ", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=\"a\rb\"", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(
	    parse_all("multipart/form-data; boundary=\"ab \"", "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	assert_int_equal(parse_all("multipart/form-data; boundary="
	                           "1234567890123456789012345678901234567890123"
	                           "4567890123456789012345"
	                           "678901",
	                     "", 0, &r),
	    MULTIPART_ERR_BOUNDARY);
	/* 70 characters is the maximum and fine. */
	assert_int_equal(
	    parse_all("multipart/form-data; boundary="
	              "12345678901234567890123456789012345678901234567890123456"
	              "789012345"
	              "67890",
	        "--1234567890123456789012345678901234567890123456789012345"
	        "678901234567890--",
	        74, &r),
	    MULTIPART_OK);
}

static const struct {
	const char *body;
	enum multipart_errcode code;
} bad[] = {
    /* truncated: no closing delimiter, mid headers, mid data */
    {"--XyZ-42\r\nContent-Disposition: form-data; name=a\r\n\r\nv",
        MULTIPART_ERR_TRUNCATED},
    {"--XyZ-42\r\nContent-Disp", MULTIPART_ERR_TRUNCATED},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"
     "--XyZ-42",
        MULTIPART_ERR_TRUNCATED},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"
     "--XyZ-42-",
        MULTIPART_ERR_TRUNCATED},
    {"no delimiter at all", MULTIPART_ERR_TRUNCATED},
    /* junk after a delimiter */
    {"--XyZ-42x\r\n", MULTIPART_ERR_DELIMITER},
    {"--XyZ-42-x", MULTIPART_ERR_DELIMITER},
    {"--XyZ-42 x\r\n", MULTIPART_ERR_DELIMITER},
    {"--XyZ-42\rx", MULTIPART_ERR_DELIMITER},
    /* headers */
    {"--XyZ-42\r\nno colon here\r\n\r\n--XyZ-42--", MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\n: empty name\r\n\r\n--XyZ-42--", MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nBad Name: x\r\n\r\n--XyZ-42--", MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=\"a\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=a\rb\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nContent-Disposition: form-data; name\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_HEADER},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=a b\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_HEADER},
    /* disposition */
    {"--XyZ-42\r\n\r\ndata\r\n--XyZ-42--", MULTIPART_ERR_DISPOSITION},
    {"--XyZ-42\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ-42--",
        MULTIPART_ERR_DISPOSITION},
    {"--XyZ-42\r\nContent-Disposition: attachment; name=a\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_DISPOSITION},
    {"--XyZ-42\r\nContent-Disposition: form-data\r\n\r\n--XyZ-42--",
        MULTIPART_ERR_DISPOSITION},
    {"--XyZ-42\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_DISPOSITION},
    {"--XyZ-42\r\nContent-Disposition: form-data; filename=a\r\n\r\n"
     "--XyZ-42--",
        MULTIPART_ERR_DISPOSITION},
};

/* Each malformed body fails the same way at every split point. */
static void
test_malformed(void **state)
{
	struct rec r;
	size_t i, k, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = strlen(bad[i].body);
		for (k = 0; k <= len; k++) {
			enum multipart_errcode got =
			    parse_split(CT, bad[i].body, len, &k, 1, NULL, &r);

			if (got != bad[i].code)
				fail_msg("case %zu split %zu: got %d want %d",
				    i, k, got, bad[i].code);
		}
	}
}

static void
test_header_nul(void **state)
{
	static const char b[] = "--XyZ-42\r\nContent-Disposition: form-data; "
	                        "name=a\0b\r\n\r\n--XyZ-42--";
	struct rec r;

	assert_int_equal(
	    parse_all(CT, b, sizeof(b) - 1, &r), MULTIPART_ERR_HEADER);
}

static void
test_limits(void **state)
{
	struct multipart_limits lim = {0, 2, 64};
	struct rec r;
	char body[512];
	size_t n;

	n = (size_t)snprintf(body, sizeof(body), "%s",
	    "--XyZ-42\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	    "--XyZ-42\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
	    "--XyZ-42\r\nContent-Disposition: form-data; name=c\r\n\r\n3\r\n"
	    "--XyZ-42--");
	assert_int_equal(
	    parse_split(CT, body, n, NULL, 0, &lim, &r), MULTIPART_ERR_PARTS);
	/* The first two parts were delivered complete before the error. */
	assert_non_null(strstr(r.log, "<1 name=b"));
	assert_null(strstr(r.log, "name=c"));
	lim.parts_max = 3;
	assert_int_equal(
	    parse_split(CT, body, n, NULL, 0, &lim, &r), MULTIPART_OK);
	/* Headers: the 38-byte disposition line does not fit in 30. */
	lim.header_max = 30;
	assert_int_equal(parse_split(CT, body, n, NULL, 0, &lim, &r),
	    MULTIPART_ERR_HEADER_SIZE);
	lim.header_max = 0;
	lim.body_max = n - 1;
	assert_int_equal(parse_split(CT, body, n, NULL, 0, &lim, &r),
	    MULTIPART_ERR_BODY_SIZE);
	lim.body_max = n;
	assert_int_equal(
	    parse_split(CT, body, n, NULL, 0, &lim, &r), MULTIPART_OK);
}

/* A header line that never ends stays bounded by header_max. */
static void
test_endless_header(void **state)
{
	struct multipart *mp;
	enum multipart_errcode code;
	char chunk[1000];
	int i, rc = 0;

	mp = multipart_new(CT, NULL, NULL, NULL, &code);
	assert_non_null(mp);
	assert_int_equal(multipart_feed(mp, "--XyZ-42\r\n", 10), 0);
	memset(chunk, 'h', sizeof(chunk));
	for (i = 0; i < 100 && rc == 0; i++)
		rc = multipart_feed(mp, chunk, sizeof(chunk));
	assert_int_equal(rc, -1);
	assert_int_equal(multipart_error(mp), MULTIPART_ERR_HEADER_SIZE);
	/* Sticky: more input, and finish, keep failing. */
	assert_int_equal(multipart_feed(mp, "x", 1), -1);
	assert_int_equal(multipart_finish(mp), -1);
	assert_int_equal(multipart_error(mp), MULTIPART_ERR_HEADER_SIZE);
	assert_non_null(strstr(multipart_error_text(mp), "(at byte 8010)"));
	multipart_free(mp);
}

static void
test_callback_abort(void **state)
{
	struct multipart *mp;
	enum multipart_errcode code;
	struct rec r;

	memset(&r, 0, sizeof(r));
	r.abort_at_begin = 2;
	mp = multipart_new(CT, NULL, &cbs, &r, &code);
	assert_int_equal(multipart_feed(mp, body1, sizeof(body1) - 1), -1);
	assert_int_equal(multipart_error(mp), MULTIPART_ERR_ABORTED);
	assert_null(strstr(r.log, "RIFF"));
	multipart_free(mp);

	memset(&r, 0, sizeof(r));
	r.abort_data = 1;
	mp = multipart_new(CT, NULL, &cbs, &r, &code);
	assert_int_equal(multipart_feed(mp, body1, sizeof(body1) - 1), -1);
	assert_int_equal(multipart_error(mp), MULTIPART_ERR_ABORTED);
	assert_int_equal(multipart_parts(mp), 1);
	multipart_free(mp);
}

static void
test_error_text(void **state)
{
	struct multipart *mp;
	enum multipart_errcode code;

	mp = multipart_new(CT, NULL, NULL, NULL, &code);
	assert_string_equal(multipart_error_text(mp), "no error");
	assert_int_equal(multipart_feed(mp, "--XyZ-42\r\nfoo\r\n\r\n", 17), -1);
	assert_string_equal(multipart_error_text(mp),
	    "a part header is malformed: no header name (at byte 15)");
	multipart_free(mp);
	assert_null(multipart_new("text/plain", NULL, NULL, NULL, &code));
	assert_int_equal(code, MULTIPART_ERR_CONTENT_TYPE);
	assert_string_equal(multipart_strerror(code),
	    "the Content-Type is not multipart/form-data");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic),
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_every_split_pair),
	    cmocka_unit_test(test_byte_at_a_time),
	    cmocka_unit_test(test_binary_file),
	    cmocka_unit_test(test_lf_only_and_empty),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_header_nul),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_endless_header),
	    cmocka_unit_test(test_callback_abort),
	    cmocka_unit_test(test_error_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
