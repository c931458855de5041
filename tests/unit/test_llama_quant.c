/*
 * Tensor kernels: for every supported type, random weight blocks (every bit
 * pattern of the quants, sane scales) times quantised random activations
 * give bit-identical results with the portable, AVX2 and AVX-512 kernels,
 * and agree with a double-precision dequantise-then-dot reference.  Also
 * checks the fp16/bf16 conversions against the hardware (F16C).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <immintrin.h>

#include "backends/llama/gguf.h"
#include "backends/llama/quant.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static float
rndf(void) /* roughly N(0,1) */
{
	float s = 0;
	int i;

	for (i = 0; i < 4; i++)
		s += (float)rnd32() / 4294967296.0f;
	return (s - 2.0f) * 1.7f;
}

static uint16_t
small_f16(void)
{
	return qt_fp32_to_fp16(
	    (0.5f + (float)(rnd32() % 1000) / 1000.0f) * 0.01f);
}

/* Random bytes, then valid small scales where the format has them. */
static void
random_row(uint32_t t, uint8_t *row, int n)
{
	size_t size = ggml_row_size(t, n), i;
	int b;

	for (i = 0; i < size; i++)
		row[i] = (uint8_t)rnd32();
	if (t == GGML_F16 || t == GGML_BF16 || t == GGML_F32) {
		for (b = 0; b < n; b++) {
			float v = rndf();
			if (t == GGML_F32)
				memcpy(row + 4 * b, &v, 4);
			else {
				uint16_t h = t == GGML_F16 ? qt_fp32_to_fp16(v)
				                           : qt_fp32_to_bf16(v);
				memcpy(row + 2 * b, &h, 2);
			}
		}
		return;
	}
	for (b = 0; b < n / (int)ggml_blck_size(t); b++) {
		uint8_t *blk = row + (size_t)b * ggml_type_size(t);
		uint16_t d = small_f16(), dm = small_f16();
		if (t == GGML_Q6_K)
			memcpy(blk + 208, &d, 2);
		else
			memcpy(blk, &d, 2);
		if (t == GGML_Q4_K || t == GGML_Q5_K)
			memcpy(blk + 2, &dm, 2);
		if (t == GGML_Q8_0) /* ggml never writes -128 */
			for (i = 2; i < 34; i++)
				if (blk[i] == 0x80)
					blk[i] = 0x81;
	}
}

static double
act_value(uint32_t at, const void *act, int i)
{
	const struct blk_q8_0 *q8 = act;
	const struct blk_q8_k *qk = act;
	const uint16_t *h = act;

	switch (at) {
	case GGML_F32:
		return ((const float *)act)[i];
	case GGML_F16:
		return qt_fp16_to_fp32(h[i]);
	case GGML_BF16:
		return qt_bf16_to_fp32(h[i]);
	case GGML_Q8_0:
		return (double)qt_fp16_to_fp32(q8[i / 32].d) *
		       q8[i / 32].qs[i % 32];
	default:
		return (double)qk[i / 256].d * qk[i / 256].qs[i % 256];
	}
}

static void
check_type(uint32_t t, int n)
{
	uint8_t *w = malloc(ggml_row_size(t, n));
	float *x = malloc(n * sizeof(float)), *wf = malloc(n * sizeof(float));
	void *act = malloc(qt_act_size(t, n));
	double ref = 0, mag = 0, v;
	float r[3];
	int i, trial, l;

	for (trial = 0; trial < 50; trial++) {
		random_row(t, w, n);
		for (i = 0; i < n; i++)
			x[i] = rndf() * (trial % 3 == 0 ? 100.0f : 1.0f);
		qt_quantize_act(t, x, act, n);
		for (l = 0; l <= 2; l++) {
			qt_set_level((enum qt_level)l);
			r[l] = qt_dot(t, n, w, act);
		}
		qt_dequant_row(t, w, wf, n);
		for (ref = mag = 0, i = 0; i < n; i++) {
			v = (double)wf[i] * act_value(qt_act_type(t), act, i);
			ref += v;
			mag += fabs(v);
		}
		if (memcmp(&r[0], &r[1], 4) != 0 ||
		    memcmp(&r[0], &r[2], 4) != 0)
			fail_msg("%s n=%d: portable %.9g avx2 %.9g avx512 %.9g",
			    ggml_type_name(t), n, r[0], r[1], r[2]);
		if (fabs(r[0] - ref) > 1e-5 * mag + 1e-30)
			fail_msg("%s n=%d: dot %.9g reference %.9g (mag %g)",
			    ggml_type_name(t), n, r[0], ref, mag);
	}
	qt_init();
	free(w);
	free(x);
	free(wf);
	free(act);
}

/* The four-row kernels equal four single dots, bit for bit. */
static void
check_dot4(uint32_t t, int n)
{
	size_t as = qt_act_size(t, n);
	uint8_t *w = malloc(ggml_row_size(t, n)), *act = malloc(4 * as);
	float *x = malloc(n * sizeof(float)), o4[4], one;
	int i, k, l, trial;
	qt_dot4_fn d4;

	for (trial = 0; trial < 20; trial++) {
		random_row(t, w, n);
		for (k = 0; k < 4; k++) {
			for (i = 0; i < n; i++)
				x[i] = rndf();
			qt_quantize_act(t, x, act + k * as, n);
		}
		for (l = 1; l <= 2; l++) {
			qt_set_level((enum qt_level)l);
			if ((d4 = qt_get_dot4(t)) == NULL)
				continue;
			d4(n, w, act, as, o4);
			for (k = 0; k < 4; k++) {
				one = qt_dot(t, n, w, act + k * as);
				if (memcmp(&one, &o4[k], 4) != 0)
					fail_msg("%s dot4 row %d: %.9g vs %.9g",
					    ggml_type_name(t), k, o4[k], one);
			}
		}
	}
	qt_init();
	free(w);
	free(act);
	free(x);
}

static void
test_dot4(void **state)
{
	check_dot4(GGML_Q8_0, 32 * 13);
	check_dot4(GGML_Q4_0, 32 * 17);
	check_dot4(GGML_Q4_K, 512);
	check_dot4(GGML_Q5_K, 768);
	check_dot4(GGML_Q6_K, 512);
}

static void
test_dots(void **state)
{
	check_type(GGML_F32, 87);
	check_type(GGML_F32, 4096);
	check_type(GGML_F16, 87);
	check_type(GGML_F16, 2048);
	check_type(GGML_BF16, 93);
	check_type(GGML_BF16, 512);
	check_type(GGML_Q8_0, 32 * 13);
	check_type(GGML_Q8_0, 2048);
	check_type(GGML_Q4_0, 32 * 13);
	check_type(GGML_Q4_0, 2048);
	check_type(GGML_Q4_K, 256);
	check_type(GGML_Q4_K, 2048);
	check_type(GGML_Q5_K, 768);
	check_type(GGML_Q6_K, 256);
	check_type(GGML_Q6_K, 1536);
	printf("cpu level: %s\n", qt_level_name(qt_cpu_level()));
}

/* Activation quantisation keeps each value within half a step. */
static void
test_act_quant(void **state)
{
	float x[512];
	struct blk_q8_k qk[2];
	struct blk_q8_0 q8[16];
	int i, s, j;

	for (i = 0; i < 512; i++)
		x[i] = rndf();
	qt_quantize_act(GGML_Q4_K, x, qk, 512);
	for (i = 0; i < 512; i++)
		assert_true(fabsf(qk[i / 256].d * qk[i / 256].qs[i % 256] -
		                  x[i]) <= fabsf(qk[i / 256].d) * 0.5001f);
	for (j = 0; j < 16; j++) {
		for (s = 0, i = 0; i < 16; i++)
			s += qk[0].qs[j * 16 + i];
		assert_int_equal(s, qk[0].bsums[j]);
	}
	qt_quantize_act(GGML_Q8_0, x, q8, 512);
	for (i = 0; i < 512; i++)
		assert_true(
		    fabsf(
		        qt_fp16_to_fp32(q8[i / 32].d) * q8[i / 32].qs[i % 32] -
		        x[i]) <= qt_fp16_to_fp32(q8[i / 32].d) * 0.51f + 1e-3f);
}

__attribute__((target("f16c"))) static uint16_t
hw_f16(float f)
{
	return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float
hw_f32(uint16_t h)
{
	return _cvtsh_ss(h);
}

static void
test_conversions(void **state)
{
	uint32_t i, bits;
	float f, g;

	for (i = 0; i < 65536; i++) {
		f = qt_fp16_to_fp32((uint16_t)i);
		g = hw_f32((uint16_t)i);
		if (isnan(f) != isnan(g) ||
		    (!isnan(f) && memcmp(&f, &g, 4) != 0))
			fail_msg("fp16 %04x: %g vs %g", i, f, g);
		if (!isnan(f))
			assert_int_equal(qt_fp32_to_fp16(f), i);
	}
	for (i = 0; i < 2000000; i++) {
		bits = rnd32() | (rnd32() & 1) << 31;
		memcpy(&f, &bits, 4);
		if (isnan(f))
			continue;
		if (qt_fp32_to_fp16(f) != hw_f16(f))
			fail_msg("fp32 %08x: %04x vs hw %04x", bits,
			    qt_fp32_to_fp16(f), hw_f16(f));
	}
	assert_int_equal(qt_fp32_to_bf16(1.0f), 0x3f80);
	assert_true(qt_bf16_to_fp32(0x4049) == 3.140625f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conversions),
	    cmocka_unit_test(test_act_quant),
	    cmocka_unit_test(test_dots),
	    cmocka_unit_test(test_dot4),
	};

	qt_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
