/*
 * Windowed-sinc resampler: see resample.h for the why.
 *
 * The filter is the ideal low-pass sinc(fc * t) truncated to
 * RS_ZEROS zero crossings each side and shaped by a Kaiser window.
 * The right half is tabulated once, RS_STEPS points per zero crossing, and
 * read with linear interpolation between table points; the table error is
 * well under the window's own side lobes.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backends/pocketsphinx/resample.h"

#define RS_ZEROS 16 /* zero crossings each side of the centre */
#define RS_STEPS 512 /* table points per zero crossing */
#define RS_BETA 8.0 /* Kaiser beta: about -80 dB side lobes */
#define RS_ROLLOFF 0.94 /* pass band edge as a fraction of Nyquist */
#define RS_MAX_RATE 1000000

static float rs_table[RS_ZEROS * RS_STEPS + 2];
static pthread_once_t rs_once = PTHREAD_ONCE_INIT;

/* Modified Bessel function of the first kind, order 0 (power series). */
static double
bessel_i0(double x)
{
	double sum = 1.0, term = 1.0, q = x * x / 4.0;
	int k;

	for (k = 1; k < 50; k++) {
		term *= q / ((double)k * k);
		sum += term;
		if (term < sum * 1e-12)
			break;
	}
	return sum;
}

static void
rs_table_init(void)
{
	double x, r, w, s;
	int i, n = RS_ZEROS * RS_STEPS;

	for (i = 0; i <= n; i++) {
		x = (double)i / RS_STEPS;
		r = x / RS_ZEROS;
		w = bessel_i0(RS_BETA * sqrt(1.0 - r * r)) / bessel_i0(RS_BETA);
		s = i == 0 ? 1.0 : sin(M_PI * x) / (M_PI * x);
		rs_table[i] = (float)(s * w);
	}
	rs_table[n + 1] = 0.0f; /* lets the interpolation read one past */
}

/* The windowed sinc at x zero crossings from the centre (|x| free). */
static float
rs_kernel(double x)
{
	double pos;
	size_t i;
	float frac;

	pos = fabs(x) * RS_STEPS;
	if (pos >= (double)RS_ZEROS * RS_STEPS)
		return 0.0f;
	i = (size_t)pos;
	frac = (float)(pos - (double)i);
	return rs_table[i] + frac * (rs_table[i + 1] - rs_table[i]);
}

/*
 * One output sample at input position k0 + frac (in input samples).  fc is
 * the cut-off relative to the input Nyquist (<= 1); the kernel is stretched
 * by 1/fc so it spans RS_ZEROS / fc input samples each side.
 */
static float
rs_point(const float *in, size_t n_in, size_t k0, double frac, double fc)
{
	double half = RS_ZEROS / fc, acc = 0.0;
	long lo, hi, k;

	lo = (long)k0 - (long)floor(half - frac);
	hi = (long)k0 + (long)floor(half + frac);
	if (lo < 0)
		lo = 0;
	if (hi > (long)n_in - 1)
		hi = (long)n_in - 1;
	for (k = lo; k <= hi; k++)
		acc += in[k] * rs_kernel(((double)k0 + frac - (double)k) * fc);
	return (float)(acc * fc);
}

float *
resample(const float *in, size_t n_in, uint32_t in_rate, uint32_t out_rate,
    size_t *n_out)
{
	uint64_t m, pos, n;
	double fc;
	float *out;

	if (n_in == 0 || in_rate == 0 || out_rate == 0 ||
	    in_rate > RS_MAX_RATE || out_rate > RS_MAX_RATE ||
	    n_in > (SIZE_MAX / sizeof(float)) / out_rate) {
		errno = EINVAL;
		return NULL;
	}
	n = (uint64_t)n_in * out_rate / in_rate;
	if (n == 0)
		n = 1;
	if ((out = malloc(n * sizeof(float))) == NULL)
		return NULL;
	*n_out = n;
	if (in_rate == out_rate) {
		memcpy(out, in, n * sizeof(float));
		return out;
	}
	if (pthread_once(&rs_once, rs_table_init) != 0) {
		free(out);
		errno = EAGAIN;
		return NULL;
	}
	fc = out_rate < in_rate ? (double)out_rate / in_rate : 1.0;
	fc *= RS_ROLLOFF;
	/* Exact integer positions: no drift over hours of audio. */
	for (m = 0; m < n; m++) {
		pos = m * in_rate;
		out[m] = rs_point(in, n_in, pos / out_rate,
		    (double)(pos % out_rate) / out_rate, fc);
	}
	return out;
}

void
resample_to_s16(const float *in, size_t n, int16_t *out)
{
	size_t i;
	float v;

	for (i = 0; i < n; i++) {
		v = in[i] * 32768.0f;
		if (v >= 32767.0f)
			out[i] = 32767;
		else if (v <= -32768.0f)
			out[i] = -32768;
		else
			out[i] = (int16_t)lrintf(v);
	}
}
