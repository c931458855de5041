/*
 * Portable tensor kernels, conversions and the run-time kernel choice.
 *
 * Bit-identical results across SIMD levels rest on three rules that every
 * kernel (here and in quant_x86.c) follows:
 *  - inside a block, products are summed as exact integers (quantised
 *    types) or as exact float products of 16-bit values;
 *  - floats are combined with separate multiply and add (never fused; the
 *    objects are built with -ffp-contract=off);
 *  - partial sums live in a fixed set of lanes (block b of a Q8_0/Q4_0 row
 *    in lane b % 8, element i of a float row in lane i % 16, K-quant super
 *    blocks in one running sum) reduced in one fixed order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/llama/gguf.h"
#include "backends/llama/quant.h"

static const struct qt_kernels *kern = &qt_portable;
static enum qt_level level = QT_PORTABLE;

/* ---- scalar conversions ---------------------------------------------- */

float
qt_fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f)
		bits = sign | 0x7f800000 | mant << 13;
	else if (exp != 0)
		bits = sign | (exp + 112) << 23 | mant << 13;
	else if (mant == 0)
		bits = sign;
	else {
		/* Subnormal: value is mant * 2^-24. */
		f = (float)mant * 0x1p-24f;
		return sign ? -f : f;
	}
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
qt_fp32_to_fp16(float f)
{
	uint32_t x, sign, mant;
	int exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(sign | 0x7e00); /* NaN */
	exp = (int)((x >> 23) & 0xff) - 127 + 15;
	mant = x & 0x7fffff;
	if (exp >= 0x1f)
		return (uint16_t)(sign | 0x7c00); /* overflow: inf */
	if (exp <= 0) {
		/* Subnormal or zero: shift with round to nearest even. */
		if (exp < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		uint32_t shift = (uint32_t)(14 - exp), half = 1u << (shift - 1);
		uint32_t r = mant >> shift, rest = mant & ((1u << shift) - 1);
		if (rest > half || (rest == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	uint32_t r = (uint32_t)exp << 10 | mant >> 13, rest = mant & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
		r++; /* may carry into the exponent, which is correct */
	return (uint16_t)(sign | r);
}

float
qt_bf16_to_fp32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

uint16_t
qt_fp32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 64); /* quiet NaN */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

/* ---- shared helpers ----------------------------------------------------- */

float
qt_reduce8(const float *a)
{
	float b[4], c[2];
	int i;

	for (i = 0; i < 4; i++)
		b[i] = a[i] + a[i + 4];
	for (i = 0; i < 2; i++)
		c[i] = b[i] + b[i + 2];
	return c[0] + c[1];
}

float
qt_reduce16(const float *acc)
{
	float a[8];
	int i;

	for (i = 0; i < 8; i++)
		a[i] = acc[i] + acc[i + 8];
	return qt_reduce8(a);
}

/* Unpacks the eight 6-bit (scale, min) pairs of a Q4_K/Q5_K block. */
void
qt_scales_k4(const uint8_t *q, uint8_t *sc, uint8_t *mn)
{
	int j;

	for (j = 0; j < 8; j++) {
		if (j < 4) {
			sc[j] = q[j] & 63;
			mn[j] = q[j + 4] & 63;
		} else {
			sc[j] = (q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4;
			mn[j] = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
		}
	}
}

/* ---- activation quantisation (portable only: it is cheap) ---------------- */

static void
quantize_q8_0(const float *x, struct blk_q8_0 *y, int n)
{
	int b, j;
	float amax, d, id;

	for (b = 0; b < n / QK8_0; b++, x += QK8_0) {
		amax = 0;
		for (j = 0; j < QK8_0; j++)
			amax = fmaxf(amax, fabsf(x[j]));
		d = amax / 127.0f;
		id = d != 0 ? 1.0f / d : 0.0f;
		y[b].d = qt_fp32_to_fp16(d);
		for (j = 0; j < QK8_0; j++)
			y[b].qs[j] = (int8_t)roundf(x[j] * id);
	}
}

static void
quantize_q8_k(const float *x, struct blk_q8_k *y, int n)
{
	int b, j, v, s;
	float amax, max, ax, iscale;

	for (b = 0; b < n / QK_K; b++, x += QK_K) {
		amax = max = 0;
		for (j = 0; j < QK_K; j++) {
			ax = fabsf(x[j]);
			if (ax > amax) {
				amax = ax;
				max = x[j];
			}
		}
		memset(&y[b], 0, sizeof(y[b]));
		if (amax == 0)
			continue;
		/* The signed extreme maps to -127, as ggml does. */
		iscale = -127.0f / max;
		for (j = 0; j < QK_K; j++) {
			v = (int)lrintf(iscale * x[j]);
			y[b].qs[j] = (int8_t)(v > 127 ? 127 : v);
		}
		for (j = 0; j < QK_K / 16; j++) {
			for (s = 0, v = 0; v < 16; v++)
				s += y[b].qs[j * 16 + v];
			y[b].bsums[j] = (int16_t)s;
		}
		y[b].d = 1.0f / iscale;
	}
}

int
qt_supported(uint32_t t)
{
	switch (t) {
	case GGML_F32:
	case GGML_F16:
	case GGML_BF16:
	case GGML_Q8_0:
	case GGML_Q4_0:
	case GGML_Q4_K:
	case GGML_Q5_K:
	case GGML_Q6_K:
		return 1;
	default:
		return 0;
	}
}

uint32_t
qt_act_type(uint32_t t)
{
	switch (t) {
	case GGML_F16:
	case GGML_BF16:
	case GGML_F32:
		return t;
	case GGML_Q8_0:
	case GGML_Q4_0:
		return GGML_Q8_0;
	default:
		return GGML_Q8_K;
	}
}

size_t
qt_act_size(uint32_t wtype, int n)
{
	return ggml_row_size(qt_act_type(wtype), (uint64_t)n);
}

void
qt_quantize_act(uint32_t wtype, const float *x, void *out, int n)
{
	uint16_t *h = out;
	int i;

	switch (qt_act_type(wtype)) {
	case GGML_F32:
		memcpy(out, x, (size_t)n * sizeof(float));
		break;
	case GGML_F16:
		for (i = 0; i < n; i++)
			h[i] = qt_fp32_to_fp16(x[i]);
		break;
	case GGML_BF16:
		for (i = 0; i < n; i++)
			h[i] = qt_fp32_to_bf16(x[i]);
		break;
	case GGML_Q8_0:
		quantize_q8_0(x, out, n);
		break;
	default:
		quantize_q8_k(x, out, n);
		break;
	}
}

/* ---- dequantisation ------------------------------------------------------- */

static void
dequant_q4_k(const struct blk_q4_k *b, float *y, int n)
{
	uint8_t sc[8], mn[8];
	const uint8_t *q;
	float d, dmin;
	int i, c, l;

	for (i = 0; i < n / QK_K; i++, b++) {
		d = qt_fp16_to_fp32(b->d);
		dmin = qt_fp16_to_fp32(b->dmin);
		qt_scales_k4(b->scales, sc, mn);
		for (c = 0, q = b->qs; c < 4; c++, q += 32) {
			for (l = 0; l < 32; l++)
				*y++ = d * sc[2 * c] * (q[l] & 0xf) -
				       dmin * mn[2 * c];
			for (l = 0; l < 32; l++)
				*y++ = d * sc[2 * c + 1] * (q[l] >> 4) -
				       dmin * mn[2 * c + 1];
		}
	}
}

static void
dequant_q5_k(const struct blk_q5_k *b, float *y, int n)
{
	uint8_t sc[8], mn[8];
	const uint8_t *q;
	float d, dmin;
	int i, c, l, hi;

	for (i = 0; i < n / QK_K; i++, b++) {
		d = qt_fp16_to_fp32(b->d);
		dmin = qt_fp16_to_fp32(b->dmin);
		qt_scales_k4(b->scales, sc, mn);
		for (c = 0, q = b->qs; c < 4; c++, q += 32) {
			for (l = 0; l < 32; l++) {
				hi = (b->qh[l] >> (2 * c) & 1) << 4;
				*y++ = d * sc[2 * c] * ((q[l] & 0xf) | hi) -
				       dmin * mn[2 * c];
			}
			for (l = 0; l < 32; l++) {
				hi = (b->qh[l] >> (2 * c + 1) & 1) << 4;
				*y++ = d * sc[2 * c + 1] * ((q[l] >> 4) | hi) -
				       dmin * mn[2 * c + 1];
			}
		}
	}
}

/* The 6-bit value i (0..255) of a Q6_K block, minus 32. */
static int
q6_value(const struct blk_q6_k *b, int i)
{
	int half = i / 128, r = i % 128, g = r / 32, l = r % 32;
	const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
	int lo = g & 1 ? ql[l + 32] : ql[l];

	lo = g >= 2 ? lo >> 4 : lo & 0xf;
	return (lo | ((qh[l] >> (2 * g)) & 3) << 4) - 32;
}

static void
dequant_q6_k(const struct blk_q6_k *b, float *y, int n)
{
	float d;
	int i, j;

	for (i = 0; i < n / QK_K; i++, b++) {
		d = qt_fp16_to_fp32(b->d);
		for (j = 0; j < QK_K; j++)
			*y++ = d * b->scales[j / 16] * q6_value(b, j);
	}
}

void
qt_dequant_row(uint32_t t, const void *src, float *y, int n)
{
	const uint16_t *h = src;
	const struct blk_q8_0 *q8 = src;
	const struct blk_q4_0 *q4 = src;
	int i, j;

	switch (t) {
	case GGML_F32:
		memcpy(y, src, (size_t)n * sizeof(float));
		break;
	case GGML_F16:
		for (i = 0; i < n; i++)
			y[i] = qt_fp16_to_fp32(h[i]);
		break;
	case GGML_BF16:
		for (i = 0; i < n; i++)
			y[i] = qt_bf16_to_fp32(h[i]);
		break;
	case GGML_Q8_0:
		for (i = 0; i < n / QK8_0; i++)
			for (j = 0; j < QK8_0; j++)
				*y++ = qt_fp16_to_fp32(q8[i].d) * q8[i].qs[j];
		break;
	case GGML_Q4_0:
		for (i = 0; i < n / QK8_0; i++, y += QK8_0)
			for (j = 0; j < 16; j++) {
				y[j] = qt_fp16_to_fp32(q4[i].d) *
				       ((q4[i].qs[j] & 0xf) - 8);
				y[j + 16] = qt_fp16_to_fp32(q4[i].d) *
				            ((q4[i].qs[j] >> 4) - 8);
			}
		break;
	case GGML_Q4_K:
		dequant_q4_k(src, y, n);
		break;
	case GGML_Q5_K:
		dequant_q5_k(src, y, n);
		break;
	case GGML_Q6_K:
		dequant_q6_k(src, y, n);
		break;
	default:
		memset(y, 0, (size_t)n * sizeof(float));
		break;
	}
}

/* ---- portable dot products ---------------------------------------------- */

/* 16 lanes of separate multiply and add, then the fixed reduction. */
#define FLOAT_DOT(name, T, CONV)                                               \
	static float name(int n, const void *vx, const void *vy)               \
	{                                                                      \
		const T *x = vx, *y = vy;                                      \
		float acc[16] = {0}, tail = 0, p;                              \
		int i, l;                                                      \
                                                                               \
		for (i = 0; i + 16 <= n; i += 16)                              \
			for (l = 0; l < 16; l++) {                             \
				p = CONV(x[i + l]) * CONV(y[i + l]);           \
				acc[l] = acc[l] + p;                           \
			}                                                      \
		for (; i < n; i++) {                                           \
			p = CONV(x[i]) * CONV(y[i]);                           \
			tail = tail + p;                                       \
		}                                                              \
		return qt_reduce16(acc) + tail;                                \
	}

#define IDENT(v) (v)
FLOAT_DOT(dot_f32, float, IDENT)
FLOAT_DOT(dot_f16, uint16_t, qt_fp16_to_fp32)
FLOAT_DOT(dot_bf16, uint16_t, qt_bf16_to_fp32)

static float
dot_q8_0(int n, const void *vx, const void *vy)
{
	const struct blk_q8_0 *x = vx, *y = vy;
	float acc[8] = {0}, d;
	int b, j, sumi;

	for (b = 0; b < n / QK8_0; b++) {
		for (sumi = 0, j = 0; j < QK8_0; j++)
			sumi += x[b].qs[j] * y[b].qs[j];
		d = qt_fp16_to_fp32(x[b].d) * qt_fp16_to_fp32(y[b].d);
		acc[b & 7] = acc[b & 7] + (float)sumi * d;
	}
	return qt_reduce8(acc);
}

static float
dot_q4_0(int n, const void *vx, const void *vy)
{
	const struct blk_q4_0 *x = vx;
	const struct blk_q8_0 *y = vy;
	float acc[8] = {0}, d;
	int b, j, sumi;

	for (b = 0; b < n / QK8_0; b++) {
		for (sumi = 0, j = 0; j < 16; j++)
			sumi += ((x[b].qs[j] & 0xf) - 8) * y[b].qs[j] +
			        ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
		d = qt_fp16_to_fp32(x[b].d) * qt_fp16_to_fp32(y[b].d);
		acc[b & 7] = acc[b & 7] + (float)sumi * d;
	}
	return qt_reduce8(acc);
}

/* Σ_j mn[j] * (sum of the 32 activations of sub-block j). */
static int
kquant_mins(const uint8_t *mn, const int16_t *bsums)
{
	int j, s = 0;

	for (j = 0; j < 8; j++)
		s += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
	return s;
}

static float
dot_q4_k(int n, const void *vx, const void *vy)
{
	const struct blk_q4_k *x = vx;
	const struct blk_q8_k *y = vy;
	uint8_t sc[8], mn[8];
	float sumf = 0, d, dmin;
	int b, c, l, s0, s1, sumi;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		for (sumi = 0, c = 0; c < 4; c++) {
			const uint8_t *q = x[b].qs + 32 * c;
			const int8_t *a = y[b].qs + 64 * c;
			for (s0 = s1 = 0, l = 0; l < 32; l++) {
				s0 += (q[l] & 0xf) * a[l];
				s1 += (q[l] >> 4) * a[l + 32];
			}
			sumi += sc[2 * c] * s0 + sc[2 * c + 1] * s1;
		}
		d = y[b].d * qt_fp16_to_fp32(x[b].d);
		dmin = y[b].d * qt_fp16_to_fp32(x[b].dmin);
		sumf = sumf + (d * (float)sumi -
		                  dmin * (float)kquant_mins(mn, y[b].bsums));
	}
	return sumf;
}

static float
dot_q5_k(int n, const void *vx, const void *vy)
{
	const struct blk_q5_k *x = vx;
	const struct blk_q8_k *y = vy;
	uint8_t sc[8], mn[8];
	float sumf = 0, d, dmin;
	int b, c, l, s0, s1, sumi, q0, q1;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		for (sumi = 0, c = 0; c < 4; c++) {
			const uint8_t *q = x[b].qs + 32 * c, *h = x[b].qh;
			const int8_t *a = y[b].qs + 64 * c;
			for (s0 = s1 = 0, l = 0; l < 32; l++) {
				q0 = (q[l] & 0xf) | ((h[l] >> (2 * c)) & 1)
				                        << 4;
				q1 = (q[l] >> 4) | ((h[l] >> (2 * c + 1)) & 1)
				                       << 4;
				s0 += q0 * a[l];
				s1 += q1 * a[l + 32];
			}
			sumi += sc[2 * c] * s0 + sc[2 * c + 1] * s1;
		}
		d = y[b].d * qt_fp16_to_fp32(x[b].d);
		dmin = y[b].d * qt_fp16_to_fp32(x[b].dmin);
		sumf = sumf + (d * (float)sumi -
		                  dmin * (float)kquant_mins(mn, y[b].bsums));
	}
	return sumf;
}

static float
dot_q6_k(int n, const void *vx, const void *vy)
{
	const struct blk_q6_k *x = vx;
	const struct blk_q8_k *y = vy;
	float sumf = 0, d;
	int b, j, k, s, sumi;

	for (b = 0; b < n / QK_K; b++) {
		for (sumi = 0, j = 0; j < QK_K / 16; j++) {
			for (s = 0, k = 0; k < 16; k++)
				s += q6_value(&x[b], j * 16 + k) *
				     y[b].qs[j * 16 + k];
			sumi += x[b].scales[j] * s;
		}
		d = y[b].d * qt_fp16_to_fp32(x[b].d);
		sumf = sumf + d * (float)sumi;
	}
	return sumf;
}

/* The portable level has no four-row kernels: matmul calls dot. */
const struct qt_kernels qt_portable = {dot_f32, dot_f16, dot_bf16, dot_q8_0,
    dot_q4_0, dot_q4_k, dot_q5_k, dot_q6_k, NULL, NULL, NULL, NULL, NULL};

/* ---- dispatch ------------------------------------------------------------- */

float
qt_dot(uint32_t t, int n, const void *w, const void *act)
{
	switch (t) {
	case GGML_F32:
		return kern->dot_f32(n, w, act);
	case GGML_F16:
		return kern->dot_f16(n, w, act);
	case GGML_BF16:
		return kern->dot_bf16(n, w, act);
	case GGML_Q8_0:
		return kern->dot_q8_0(n, w, act);
	case GGML_Q4_0:
		return kern->dot_q4_0(n, w, act);
	case GGML_Q4_K:
		return kern->dot_q4_k(n, w, act);
	case GGML_Q5_K:
		return kern->dot_q5_k(n, w, act);
	case GGML_Q6_K:
		return kern->dot_q6_k(n, w, act);
	default:
		return 0;
	}
}

qt_dot_fn
qt_get_dot(uint32_t t)
{
	switch (t) {
	case GGML_F32:
		return kern->dot_f32;
	case GGML_F16:
		return kern->dot_f16;
	case GGML_BF16:
		return kern->dot_bf16;
	case GGML_Q8_0:
		return kern->dot_q8_0;
	case GGML_Q4_0:
		return kern->dot_q4_0;
	case GGML_Q4_K:
		return kern->dot_q4_k;
	case GGML_Q5_K:
		return kern->dot_q5_k;
	case GGML_Q6_K:
		return kern->dot_q6_k;
	default:
		return NULL;
	}
}

qt_dot4_fn
qt_get_dot4(uint32_t t)
{
	switch (t) {
	case GGML_Q8_0:
		return kern->dot4_q8_0;
	case GGML_Q4_0:
		return kern->dot4_q4_0;
	case GGML_Q4_K:
		return kern->dot4_q4_k;
	case GGML_Q5_K:
		return kern->dot4_q5_k;
	case GGML_Q6_K:
		return kern->dot4_q6_k;
	default:
		return NULL;
	}
}

enum qt_level
qt_cpu_level(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512vnni"))
		return QT_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return QT_AVX2;
#endif
	return QT_PORTABLE;
}

enum qt_level
qt_set_level(enum qt_level want)
{
	enum qt_level cpu = qt_cpu_level();

	level = want > cpu ? cpu : want;
	kern = level == QT_AVX512 ? &qt_avx512
	       : level == QT_AVX2 ? &qt_avx2
	                          : &qt_portable;
	return level;
}

void
qt_init(void)
{
	const char *env = getenv("LLAMA_SIMD");
	enum qt_level want = QT_AVX512;

	if (env != NULL && strcmp(env, "portable") == 0)
		want = QT_PORTABLE;
	else if (env != NULL && strcmp(env, "avx2") == 0)
		want = QT_AVX2;
	qt_set_level(want);
}

enum qt_level
qt_level(void)
{
	return level;
}

const char *
qt_level_name(enum qt_level l)
{
	return l == QT_AVX512 ? "avx512" : l == QT_AVX2 ? "avx2" : "portable";
}
