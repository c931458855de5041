/*
 * Unit tests for backends/pocketsphinx/split.c: short audio is one
 * utterance, long audio is cut at its quietest point inside the allowed
 * window, and successive cuts cover the whole signal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "backends/pocketsphinx/split.h"

#define RATE 16000

/* Pseudo-random "speech" noise at amplitude amp. */
static int16_t *
noise(size_t n, int amp)
{
	int16_t *p = malloc(n * sizeof(*p));
	uint32_t x = 12345;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (int16_t)((int)(x >> 16) % (2 * amp + 1) - amp);
	}
	return p;
}

static void
test_short_is_one_utterance(void **state)
{
	int16_t *p = noise(RATE * 30, 5000);

	assert_int_equal(split_next(p, RATE * 30, 0, RATE), RATE * 30);
	assert_int_equal(split_next(p, 10, 0, RATE), 10);
	assert_int_equal(split_next(p, 10, 10, RATE), 10);
	free(p);
}

/* 50 s of loud noise with a 0.4 s pause at 24.0 s: the cut lands in it. */
static void
test_cut_in_pause(void **state)
{
	size_t n = RATE * 50, i, cut;
	int16_t *p = noise(n, 8000);

	for (i = RATE * 24; i < RATE * 24 + RATE * 4 / 10; i++)
		p[i] = (int16_t)(p[i] / 100);
	cut = split_next(p, n, 0, RATE);
	assert_true(cut > RATE * 24 && cut < RATE * 24 + RATE * 4 / 10);
	free(p);
}

/* Uniform noise: cuts stay inside [20, 30] s and cover everything. */
static void
test_cuts_cover_signal(void **state)
{
	size_t n = RATE * 100, start = 0, end, pieces = 0;
	int16_t *p = noise(n, 8000);

	while (start < n) {
		end = split_next(p, n, start, RATE);
		assert_true(end > start);
		assert_true(end - start <= (size_t)SPLIT_MAX_SEC * RATE);
		if (end < n)
			assert_true(
			    end - start >= (size_t)SPLIT_MIN_SEC * RATE);
		start = end;
		pieces++;
	}
	assert_int_equal(start, n);
	assert_true(pieces >= 4 && pieces <= 5);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_is_one_utterance),
	    cmocka_unit_test(test_cut_in_pause),
	    cmocka_unit_test(test_cuts_cover_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
