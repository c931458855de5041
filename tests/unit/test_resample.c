/*
 * Unit tests for backends/pocketsphinx/resample.c: lengths, pass-band
 * gain, frequency preserved, and - the reason for a windowed sinc instead
 * of linear interpolation - tones above the new Nyquist limit removed
 * instead of folded back as aliases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "backends/pocketsphinx/resample.h"

static float *
sine(size_t n, double freq, double rate, double amp)
{
	float *s = malloc(n * sizeof(*s));
	size_t i;

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = (float)(amp * sin(2 * M_PI * freq * (double)i / rate));
	return s;
}

/*
 * Amplitude of the component at freq (Goertzel over x[from..to)), ignoring
 * the filter's start-up and tail at the edges.
 */
static double
tone_amplitude(const float *x, size_t from, size_t to, double freq, double rate)
{
	double w = 2 * M_PI * freq / rate, c = 2 * cos(w), s0, s1 = 0, s2 = 0;
	size_t i, n = to - from;

	for (i = from; i < to; i++) {
		s0 = x[i] + c * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return 2 * sqrt(s1 * s1 + s2 * s2 - c * s1 * s2) / (double)n;
}

static double
rms(const float *x, size_t from, size_t to)
{
	double acc = 0;
	size_t i;

	for (i = from; i < to; i++)
		acc += (double)x[i] * x[i];
	return sqrt(acc / (double)(to - from));
}

static void
test_lengths(void **state)
{
	float in[22050] = {0}, *out;
	size_t n;

	out = resample(in, 22050, 22050, 16000, &n);
	assert_non_null(out);
	assert_int_equal(n, 16000);
	free(out);
	out = resample(in, 1000, 8000, 16000, &n);
	assert_int_equal(n, 2000);
	free(out);
	out = resample(in, 1, 48000, 16000, &n);
	assert_int_equal(n, 1);
	free(out);
}

static void
test_same_rate_copies(void **state)
{
	float *in = sine(1000, 440, 16000, 0.5), *out;
	size_t n, i;

	out = resample(in, 1000, 16000, 16000, &n);
	assert_int_equal(n, 1000);
	for (i = 0; i < n; i++)
		assert_true(out[i] == in[i]);
	free(in);
	free(out);
}

static void
test_invalid_arguments(void **state)
{
	float in[4] = {0};
	size_t n;

	errno = 0;
	assert_null(resample(in, 0, 22050, 16000, &n));
	assert_int_equal(errno, EINVAL);
	assert_null(resample(in, 4, 0, 16000, &n));
	assert_null(resample(in, 4, 22050, 0, &n));
}

/* espeak's case: 22050 -> 16000; a 1 kHz tone keeps its level and pitch. */
static void
test_passband_tone_kept(void **state)
{
	float *in = sine(22050, 1000, 22050, 0.5), *out;
	size_t n;

	out = resample(in, 22050, 22050, 16000, &n);
	assert_non_null(out);
	assert_float_equal(
	    tone_amplitude(out, 1000, 15000, 1000, 16000), 0.5, 0.005);
	assert_float_equal(rms(out, 1000, 15000), 0.5 / sqrt(2), 0.005);
	free(in);
	free(out);
}

/*
 * A 10 kHz tone at 44.1 kHz cannot exist at 16 kHz.  Linear interpolation
 * would fold it to 6 kHz at nearly full level; the windowed sinc must
 * leave less than -60 dB of it.
 */
static void
test_alias_removed(void **state)
{
	float *in = sine(44100, 10000, 44100, 0.9), *out;
	size_t n;

	out = resample(in, 44100, 44100, 16000, &n);
	assert_non_null(out);
	assert_true(rms(out, 500, 15500) < 0.9 * 1e-3);
	assert_true(tone_amplitude(out, 500, 15500, 6000, 16000) < 0.9e-3);
	free(in);
	free(out);
}

/* The same check for espeak's rate: 9 kHz at 22050 Hz would alias to 7 kHz. */
static void
test_alias_removed_espeak_rate(void **state)
{
	float *in = sine(22050, 9000, 22050, 0.9), *out;
	size_t n;

	out = resample(in, 22050, 22050, 16000, &n);
	assert_true(rms(out, 500, 15500) < 0.9 * 1e-3);
	free(in);
	free(out);
}

/* Upsampling 8 kHz telephone audio: tone kept, no image at 7 kHz. */
static void
test_upsample(void **state)
{
	float *in = sine(8000, 1000, 8000, 0.5), *out;
	size_t n;

	out = resample(in, 8000, 8000, 16000, &n);
	assert_int_equal(n, 16000);
	assert_float_equal(
	    tone_amplitude(out, 1000, 15000, 1000, 16000), 0.5, 0.005);
	assert_true(tone_amplitude(out, 1000, 15000, 7000, 16000) < 1e-3);
	free(in);
	free(out);
}

static void
test_dc_kept(void **state)
{
	float in[4800], *out;
	size_t n, i;

	for (i = 0; i < 4800; i++)
		in[i] = 0.25f;
	out = resample(in, 4800, 48000, 16000, &n);
	for (i = 100; i < n - 100; i++)
		assert_float_equal(out[i], 0.25, 0.001);
	free(out);
}

static void
test_to_s16(void **state)
{
	const float in[6] = {0.0f, 0.5f, -0.5f, 1.2f, -1.5f, 1.0f / 32768};
	int16_t out[6];

	resample_to_s16(in, 6, out);
	assert_int_equal(out[0], 0);
	assert_int_equal(out[1], 16384);
	assert_int_equal(out[2], -16384);
	assert_int_equal(out[3], 32767);
	assert_int_equal(out[4], -32768);
	assert_int_equal(out[5], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_same_rate_copies),
	    cmocka_unit_test(test_invalid_arguments),
	    cmocka_unit_test(test_passband_tone_kept),
	    cmocka_unit_test(test_alias_removed),
	    cmocka_unit_test(test_alias_removed_espeak_rate),
	    cmocka_unit_test(test_upsample),
	    cmocka_unit_test(test_dc_kept),
	    cmocka_unit_test(test_to_s16),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
