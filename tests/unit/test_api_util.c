/*
 * Unit tests for api/requtil.c: request ids, the Range header, the retry
 * backoff, the prefix hash and the continuation of a broken stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/requtil.h"

static void
test_rid_valid(void **state)
{
	char longid[80];

	assert_true(api_rid_valid("abc-123_x.y:z"));
	assert_true(api_rid_valid("0b7f5c1e-6a1d-4bd0-9d3c-3c4b9d8e1f2a"));
	assert_false(api_rid_valid(""));
	assert_false(api_rid_valid(NULL));
	assert_false(api_rid_valid("has space"));
	assert_false(api_rid_valid("semi;colon"));
	assert_false(api_rid_valid("new\nline"));
	assert_false(api_rid_valid("quote\""));
	memset(longid, 'a', 63);
	longid[63] = '\0';
	assert_true(api_rid_valid(longid));
	longid[63] = 'a';
	longid[64] = '\0';
	assert_false(api_rid_valid(longid));
}

static void
test_rid_format(void **state)
{
	uint8_t rnd[16];
	char out[API_RID_MAX];
	int i;

	for (i = 0; i < 16; i++)
		rnd[i] = (uint8_t)(i * 17);
	api_rid_format(out, rnd);
	assert_string_equal(out, "req-00112233445566778899aabbccddeeff");
	assert_true(api_rid_valid(out));
}

/* One Range case: expected result and bytes. */
static void
range_is(const char *hdr, uint64_t size, enum api_range want, uint64_t off,
    uint64_t len)
{
	uint64_t o = 12345, l = 12345;

	assert_int_equal(api_range_parse(hdr, size, &o, &l), want);
	if (want == API_RANGE_PART) {
		assert_int_equal(o, off);
		assert_int_equal(l, len);
	}
}

static void
test_range(void **state)
{
	range_is(NULL, 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=0-9", 100, API_RANGE_PART, 0, 10);
	range_is("bytes=10-", 100, API_RANGE_PART, 10, 90);
	range_is("bytes=-10", 100, API_RANGE_PART, 90, 10);
	range_is("bytes=-500", 100, API_RANGE_PART, 0, 100);
	range_is("bytes=90-500", 100, API_RANGE_PART, 90, 10);
	range_is("bytes=99-99", 100, API_RANGE_PART, 99, 1);
	range_is("BYTES=5-6", 100, API_RANGE_PART, 5, 2);
	range_is(" bytes= 5-6 ", 100, API_RANGE_PART, 5, 2);
	/* Beyond the end: 416. */
	range_is("bytes=100-", 100, API_RANGE_UNSAT, 0, 0);
	range_is("bytes=200-300", 100, API_RANGE_UNSAT, 0, 0);
	range_is("bytes=-0", 100, API_RANGE_UNSAT, 0, 0);
	range_is("bytes=0-", 0, API_RANGE_UNSAT, 0, 0);
	range_is("bytes=-5", 0, API_RANGE_UNSAT, 0, 0);
	/* Ignored: the whole file. */
	range_is("bytes=5-1", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=0-1,5-6", 100, API_RANGE_FULL, 0, 0);
	range_is("items=0-1", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=-", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=a-b", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=1-2x", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=99999999999999999999-", 100, API_RANGE_FULL, 0, 0);
	range_is("bytes=+1-2", 100, API_RANGE_FULL, 0, 0);
}

static void
test_backoff(void **state)
{
	uint32_t a, r, ms, base;

	assert_int_equal(api_backoff_ms(0, 7), 0);
	for (a = 1; a <= 12; a++) {
		base = a == 1   ? 50
		       : a == 2 ? 100
		       : a == 3 ? 200
		       : a == 4 ? 400
		       : a == 5 ? 800
		                : 1000;
		for (r = 0; r < 2000; r += 37) {
			ms = api_backoff_ms(a, r * 2654435761u);
			assert_true(ms >= base - base / 4);
			assert_true(ms <= base + base / 4);
		}
	}
	/* Jitter: different random inputs give different pauses. */
	assert_int_not_equal(api_backoff_ms(3, 1), api_backoff_ms(3, 60));
}

static void
test_prefix_hash(void **state)
{
	char a[2000], b[2000];

	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[1999] = 'y'; /* beyond the prefix: same hash */
	assert_true(
	    api_prefix_hash(a, sizeof(a)) == api_prefix_hash(b, sizeof(b)));
	b[10] = 'y';
	assert_true(
	    api_prefix_hash(a, sizeof(a)) != api_prefix_hash(b, sizeof(b)));
	assert_true(api_prefix_hash("", 0) == 14695981039346656037ull);
}

static void
test_continuation(void **state)
{
	size_t n;
	char *p;

	p = api_continuation_prompt(
	    "User: hi\nAssistant:", 19, " t0 t1 ", 7, &n);
	assert_non_null(p);
	assert_int_equal(n, 26);
	assert_string_equal(p, "User: hi\nAssistant: t0 t1 ");
	free(p);
	p = api_continuation_prompt("abc", 3, NULL, 0, &n);
	assert_string_equal(p, "abc");
	assert_int_equal(n, 3);
	free(p);
	/* Bytes, not strings: a NUL in the generated text survives. */
	p = api_continuation_prompt("a", 1, "b\0c", 3, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "ab\0c", 5);
	free(p);
}

static void
test_tokens_left(void **state)
{
	assert_int_equal(api_tokens_left(10, 1, 3), 7);
	assert_int_equal(api_tokens_left(10, 1, 9), 1);
	assert_int_equal(api_tokens_left(10, 1, 10), -1);
	assert_int_equal(api_tokens_left(10, 1, 12), -1);
	assert_int_equal(api_tokens_left(10, 0, 3), 0);
	assert_int_equal(api_tokens_left(0, 1, 3), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rid_valid),
	    cmocka_unit_test(test_rid_format),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_prefix_hash),
	    cmocka_unit_test(test_continuation),
	    cmocka_unit_test(test_tokens_left),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
