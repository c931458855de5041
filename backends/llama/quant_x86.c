/*
 * x86 kernels (AVX2+FMA+F16C and AVX-512+VNNI), compiled with per-function
 * target attributes so the binary runs anywhere and qt_init() picks them at
 * run time.  Each kernel computes exactly what its portable twin in quant.c
 * computes: the same exact integer sums per block and the same float lanes
 * combined by separate multiplies and adds, reduced by qt_reduce8/16.
 */
#include <string.h>

#include "backends/llama/quant.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX512                                                                 \
	__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,"                \
	                      "avx512vl,avx512vnni")))

/* ---- float rows: 16 lanes (two 8-lane registers) --------------------- */

AVX2 static inline __m256
bf16x8(const uint16_t *p)
{
	__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const void *)p));

	return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

AVX2 static inline __m256
f16x8(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const void *)p));
}

AVX2 static inline __m256
f32x8(const float *p)
{
	return _mm256_loadu_ps(p);
}

#define AVX2_FLOAT_DOT(name, T, LOAD, CONV)                                    \
	AVX2 static float name(int n, const void *vx, const void *vy)          \
	{                                                                      \
		const T *x = vx, *y = vy;                                      \
		__m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();     \
		float acc[16], tail = 0, p;                                    \
		int i;                                                         \
                                                                               \
		for (i = 0; i + 16 <= n; i += 16) {                            \
			a0 = _mm256_add_ps(                                    \
			    a0, _mm256_mul_ps(LOAD(x + i), LOAD(y + i)));      \
			a1 = _mm256_add_ps(a1,                                 \
			    _mm256_mul_ps(LOAD(x + i + 8), LOAD(y + i + 8)));  \
		}                                                              \
		_mm256_storeu_ps(acc, a0);                                     \
		_mm256_storeu_ps(acc + 8, a1);                                 \
		for (; i < n; i++) {                                           \
			p = CONV(x[i]) * CONV(y[i]);                           \
			tail = tail + p;                                       \
		}                                                              \
		return qt_reduce16(acc) + tail;                                \
	}

#define IDENT(v) (v)
AVX2_FLOAT_DOT(avx2_dot_f32, float, f32x8, IDENT)
AVX2_FLOAT_DOT(avx2_dot_f16, uint16_t, f16x8, qt_fp16_to_fp32)
AVX2_FLOAT_DOT(avx2_dot_bf16, uint16_t, bf16x8, qt_bf16_to_fp32)

/* ---- 8-bit blocks --------------------------------------------------------- */

/* Eight int32 partial sums of x[i] * y[i] over 32 signed bytes. */
AVX2 static inline __m256i
mul_sum_i8(__m256i x, __m256i y)
{
	__m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);

	return _mm256_madd_epi16(
	    _mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

AVX512 static inline __m256i
mul_sum_i8_vnni(__m256i x, __m256i y)
{
	__m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);

	return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy);
}

/* The horizontal sums of eight vectors, as one vector [s0..s7]. */
AVX2 static inline __m256i
hsum8x8(const __m256i *v)
{
	__m256i u0 = _mm256_hadd_epi32(
	    _mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
	__m256i u1 = _mm256_hadd_epi32(
	    _mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));

	return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
	    _mm256_permute2x128_si256(u0, u1, 0x31));
}

AVX2 static inline int
hsum_i32(__m256i v)
{
	__m128i s = _mm_add_epi32(
	    _mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return _mm_cvtsi128_si32(s);
}

AVX2 static inline __m256i
q4_0_bytes(const struct blk_q4_0 *b)
{
	__m128i t = _mm_loadu_si128((const void *)b->qs);
	__m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);

	v = _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
	return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

AVX2 static inline __m256i
q8_0_bytes(const struct blk_q8_0 *b)
{
	return _mm256_loadu_si256((const void *)b->qs);
}

/* The eight block scales dx * dy of blocks b..b+7 (exact F16C loads). */
#define BLOCK_SCALES(x, y, b)                                                  \
	_mm256_mul_ps(                                                         \
	    _mm256_cvtph_ps(_mm_setr_epi16(x[b].d, x[b + 1].d, x[b + 2].d,     \
	        x[b + 3].d, x[b + 4].d, x[b + 5].d, x[b + 6].d, x[b + 7].d)),  \
	    _mm256_cvtph_ps(_mm_setr_epi16(y[b].d, y[b + 1].d, y[b + 2].d,     \
	        y[b + 3].d, y[b + 4].d, y[b + 5].d, y[b + 6].d, y[b + 7].d)))

/*
 * Q8_0-activation dot products: groups of eight blocks summed exactly, then
 * acc[lane] += sum * scale as in the portable code; leftover blocks go to
 * lanes 0.. in scalar code.
 */
#define BLOCK8_DOT(name, ATTR, XT, XBYTES, MULSUM)                             \
	ATTR static float name(int n, const void *vx, const void *vy)          \
	{                                                                      \
		const XT *x = vx;                                              \
		const struct blk_q8_0 *y = vy;                                 \
		__m256 acc = _mm256_setzero_ps();                              \
		__m256i s[8];                                                  \
		float a[8], d;                                                 \
		int nb = n / QK8_0, b, k, sumi;                                \
                                                                               \
		for (b = 0; b + 8 <= nb; b += 8) {                             \
			for (k = 0; k < 8; k++)                                \
				s[k] = MULSUM(                                 \
				    XBYTES(&x[b + k]), q8_0_bytes(&y[b + k])); \
			acc = _mm256_add_ps(                                   \
			    acc, _mm256_mul_ps(_mm256_cvtepi32_ps(hsum8x8(s)), \
			             BLOCK_SCALES(x, y, b)));                  \
		}                                                              \
		_mm256_storeu_ps(a, acc);                                      \
		for (; b < nb; b++) {                                          \
			sumi = hsum_i32(                                       \
			    MULSUM(XBYTES(&x[b]), q8_0_bytes(&y[b])));         \
			d = _cvtsh_ss(x[b].d) * _cvtsh_ss(y[b].d);             \
			a[b & 7] = a[b & 7] + (float)sumi * d;                 \
		}                                                              \
		return qt_reduce8(a);                                          \
	}

/*
 * The same for four activation rows at once: each weight block is decoded
 * once, and every row gets exactly the operations of BLOCK8_DOT.
 */
#define BLOCK8_DOT4(name, ATTR, XT, XBYTES, MULSUM)                            \
	ATTR static void name(                                                 \
	    int n, const void *vx, const void *vy, size_t stride, float *out)  \
	{                                                                      \
		const XT *x = vx;                                              \
		const struct blk_q8_0 *y[4];                                   \
		__m256 acc[4], dx;                                             \
		__m256i wx[8], s[8];                                           \
		float a[8], d;                                                 \
		int nb = n / QK8_0, b, k, t, sumi;                             \
                                                                               \
		for (t = 0; t < 4; t++) {                                      \
			y[t] = (const void *)((const char *)vy + t * stride);  \
			acc[t] = _mm256_setzero_ps();                          \
		}                                                              \
		for (b = 0; b + 8 <= nb; b += 8) {                             \
			for (k = 0; k < 8; k++)                                \
				wx[k] = XBYTES(&x[b + k]);                     \
			dx = _mm256_cvtph_ps(_mm_setr_epi16(x[b].d,            \
			    x[b + 1].d, x[b + 2].d, x[b + 3].d, x[b + 4].d,    \
			    x[b + 5].d, x[b + 6].d, x[b + 7].d));              \
			for (t = 0; t < 4; t++) {                              \
				const struct blk_q8_0 *yt = y[t];              \
				for (k = 0; k < 8; k++)                        \
					s[k] = MULSUM(                         \
					    wx[k], q8_0_bytes(&yt[b + k]));    \
				acc[t] = _mm256_add_ps(acc[t],                 \
				    _mm256_mul_ps(                             \
				        _mm256_cvtepi32_ps(hsum8x8(s)),        \
				        _mm256_mul_ps(dx,                      \
				            _mm256_cvtph_ps(_mm_setr_epi16(    \
				                yt[b].d, yt[b + 1].d,          \
				                yt[b + 2].d, yt[b + 3].d,      \
				                yt[b + 4].d, yt[b + 5].d,      \
				                yt[b + 6].d, yt[b + 7].d))))); \
			}                                                      \
		}                                                              \
		for (t = 0; t < 4; t++) {                                      \
			_mm256_storeu_ps(a, acc[t]);                           \
			for (k = b; k < nb; k++) {                             \
				sumi = hsum_i32(MULSUM(                        \
				    XBYTES(&x[k]), q8_0_bytes(&y[t][k])));     \
				d = _cvtsh_ss(x[k].d) * _cvtsh_ss(y[t][k].d);  \
				a[k & 7] = a[k & 7] + (float)sumi * d;         \
			}                                                      \
			out[t] = qt_reduce8(a);                                \
		}                                                              \
	}

BLOCK8_DOT4(avx2_dot4_q8_0, AVX2, struct blk_q8_0, q8_0_bytes, mul_sum_i8)
BLOCK8_DOT4(avx2_dot4_q4_0, AVX2, struct blk_q4_0, q4_0_bytes, mul_sum_i8)
BLOCK8_DOT4(
    avx512_dot4_q8_0, AVX512, struct blk_q8_0, q8_0_bytes, mul_sum_i8_vnni)
BLOCK8_DOT4(
    avx512_dot4_q4_0, AVX512, struct blk_q4_0, q4_0_bytes, mul_sum_i8_vnni)

BLOCK8_DOT(avx2_dot_q8_0, AVX2, struct blk_q8_0, q8_0_bytes, mul_sum_i8)
BLOCK8_DOT(avx2_dot_q4_0, AVX2, struct blk_q4_0, q4_0_bytes, mul_sum_i8)
BLOCK8_DOT(
    avx512_dot_q8_0, AVX512, struct blk_q8_0, q8_0_bytes, mul_sum_i8_vnni)
BLOCK8_DOT(
    avx512_dot_q4_0, AVX512, struct blk_q4_0, q4_0_bytes, mul_sum_i8_vnni)

/* ---- K-quants ------------------------------------------------------------- */

static inline int
kmins(const uint8_t *mn, const int16_t *bsums)
{
	int j, s = 0;

	for (j = 0; j < 8; j++)
		s += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
	return s;
}

/* 32 unsigned q (<64) times 32 activations, weighted by one scale. */
AVX2 static inline __m256i
scaled_dot(__m256i q, const int8_t *a, int scale)
{
	__m256i p =
	    _mm256_maddubs_epi16(q, _mm256_loadu_si256((const void *)a));

	return _mm256_madd_epi16(p, _mm256_set1_epi16((short)scale));
}

AVX2 static float
avx2_dot_q4_k(int n, const void *vx, const void *vy)
{
	const struct blk_q4_k *x = vx;
	const struct blk_q8_k *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	uint8_t sc[8], mn[8];
	float sumf = 0, d, dmin;
	__m256i acc, q;
	int b, c;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		acc = _mm256_setzero_si256();
		for (c = 0; c < 4; c++) {
			q = _mm256_loadu_si256(
			    (const void *)(x[b].qs + 32 * c));
			acc = _mm256_add_epi32(
			    acc, scaled_dot(_mm256_and_si256(q, m4),
			             y[b].qs + 64 * c, sc[2 * c]));
			acc = _mm256_add_epi32(acc,
			    scaled_dot(
			        _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
			        y[b].qs + 64 * c + 32, sc[2 * c + 1]));
		}
		d = y[b].d * _cvtsh_ss(x[b].d);
		dmin = y[b].d * _cvtsh_ss(x[b].dmin);
		sumf = sumf + (d * (float)hsum_i32(acc) -
		                  dmin * (float)kmins(mn, y[b].bsums));
	}
	return sumf;
}

/* Adds 16 where bit `bit` of the qh byte is set. */
AVX2 static inline __m256i
q5_high(__m256i qh, int bit)
{
	__m256i m = _mm256_set1_epi8((char)(1 << bit));

	return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m), m),
	    _mm256_set1_epi8(16));
}

AVX2 static float
avx2_dot_q5_k(int n, const void *vx, const void *vy)
{
	const struct blk_q5_k *x = vx;
	const struct blk_q8_k *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	uint8_t sc[8], mn[8];
	float sumf = 0, d, dmin;
	__m256i acc, q, qh, lo, hi;
	int b, c;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		qh = _mm256_loadu_si256((const void *)x[b].qh);
		acc = _mm256_setzero_si256();
		for (c = 0; c < 4; c++) {
			q = _mm256_loadu_si256(
			    (const void *)(x[b].qs + 32 * c));
			lo = _mm256_or_si256(
			    _mm256_and_si256(q, m4), q5_high(qh, 2 * c));
			hi = _mm256_or_si256(
			    _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
			    q5_high(qh, 2 * c + 1));
			acc = _mm256_add_epi32(
			    acc, scaled_dot(lo, y[b].qs + 64 * c, sc[2 * c]));
			acc = _mm256_add_epi32(
			    acc, scaled_dot(
			             hi, y[b].qs + 64 * c + 32, sc[2 * c + 1]));
		}
		d = y[b].d * _cvtsh_ss(x[b].d);
		dmin = y[b].d * _cvtsh_ss(x[b].dmin);
		sumf = sumf + (d * (float)hsum_i32(acc) -
		                  dmin * (float)kmins(mn, y[b].bsums));
	}
	return sumf;
}

/* 32 unsigned 6-bit values times activations; scales sa (first 16), sb. */
AVX2 static inline __m256i
q6_group(__m256i q, const int8_t *a, int sa, int sb)
{
	__m256i p =
	    _mm256_maddubs_epi16(q, _mm256_loadu_si256((const void *)a));

	return _mm256_madd_epi16(p, _mm256_set_m128i(_mm_set1_epi16((short)sb),
	                                _mm_set1_epi16((short)sa)));
}

AVX2 static float
avx2_dot_q6_k(int n, const void *vx, const void *vy)
{
	const struct blk_q6_k *x = vx;
	const struct blk_q8_k *y = vy;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const int8_t *sc, *a;
	__m256i acc, qh, l0, l1, q[4];
	float sumf = 0, d;
	int b, h, g, bias, j;

	for (b = 0; b < n / QK_K; b++) {
		acc = _mm256_setzero_si256();
		for (h = 0; h < 2; h++) {
			qh = _mm256_loadu_si256(
			    (const void *)(x[b].qh + 32 * h));
			l0 = _mm256_loadu_si256(
			    (const void *)(x[b].ql + 64 * h));
			l1 = _mm256_loadu_si256(
			    (const void *)(x[b].ql + 64 * h + 32));
			q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
			    _mm256_slli_epi16(
			        _mm256_and_si256(qh, _mm256_set1_epi8(0x03)),
			        4));
			q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
			    _mm256_slli_epi16(
			        _mm256_and_si256(qh, _mm256_set1_epi8(0x0c)),
			        2));
			q[2] = _mm256_or_si256(
			    _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
			    _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
			q[3] = _mm256_or_si256(
			    _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
			    _mm256_srli_epi16(_mm256_and_si256(qh,
			                          _mm256_set1_epi8((char)0xc0)),
			        2));
			sc = x[b].scales + 8 * h;
			a = y[b].qs + 128 * h;
			for (g = 0; g < 4; g++)
				acc = _mm256_add_epi32(
				    acc, q6_group(q[g], a + 32 * g, sc[2 * g],
				             sc[2 * g + 1]));
		}
		for (bias = 0, j = 0; j < QK_K / 16; j++)
			bias += x[b].scales[j] * y[b].bsums[j];
		d = y[b].d * _cvtsh_ss(x[b].d);
		sumf = sumf + d * (float)(hsum_i32(acc) - 32 * bias);
	}
	return sumf;
}

/*
 * K-quant rows times four activation rows: the weights of each super block
 * are unpacked once into eight vectors of 32 unsigned values (with their
 * eight scales), then each row gets exactly the single-row arithmetic.
 */
struct kblock {
	__m256i q[8];
	int sc[8];
};

AVX2 static inline int
kblock_dot(const struct kblock *kb, const int8_t *a)
{
	__m256i acc = _mm256_setzero_si256();
	int g;

	for (g = 0; g < 8; g++)
		acc = _mm256_add_epi32(
		    acc, scaled_dot(kb->q[g], a + 32 * g, kb->sc[g]));
	return hsum_i32(acc);
}

AVX2 static void
avx2_dot4_q4_k(int n, const void *vx, const void *vy, size_t stride, float *out)
{
	const struct blk_q4_k *x = vx;
	const struct blk_q8_k *y;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	uint8_t sc[8], mn[8];
	struct kblock kb;
	float sumf[4] = {0}, d, dmin;
	__m256i q;
	int b, c, t;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		for (c = 0; c < 4; c++) {
			q = _mm256_loadu_si256(
			    (const void *)(x[b].qs + 32 * c));
			kb.q[2 * c] = _mm256_and_si256(q, m4);
			kb.q[2 * c + 1] =
			    _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
			kb.sc[2 * c] = sc[2 * c];
			kb.sc[2 * c + 1] = sc[2 * c + 1];
		}
		for (t = 0; t < 4; t++) {
			y = (const void *)((const char *)vy + t * stride);
			d = y[b].d * _cvtsh_ss(x[b].d);
			dmin = y[b].d * _cvtsh_ss(x[b].dmin);
			sumf[t] =
			    sumf[t] + (d * (float)kblock_dot(&kb, y[b].qs) -
			                  dmin * (float)kmins(mn, y[b].bsums));
		}
	}
	memcpy(out, sumf, sizeof(sumf));
}

AVX2 static void
avx2_dot4_q5_k(int n, const void *vx, const void *vy, size_t stride, float *out)
{
	const struct blk_q5_k *x = vx;
	const struct blk_q8_k *y;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	uint8_t sc[8], mn[8];
	struct kblock kb;
	float sumf[4] = {0}, d, dmin;
	__m256i q, qh;
	int b, c, t;

	for (b = 0; b < n / QK_K; b++) {
		qt_scales_k4(x[b].scales, sc, mn);
		qh = _mm256_loadu_si256((const void *)x[b].qh);
		for (c = 0; c < 4; c++) {
			q = _mm256_loadu_si256(
			    (const void *)(x[b].qs + 32 * c));
			kb.q[2 * c] = _mm256_or_si256(
			    _mm256_and_si256(q, m4), q5_high(qh, 2 * c));
			kb.q[2 * c + 1] = _mm256_or_si256(
			    _mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
			    q5_high(qh, 2 * c + 1));
			kb.sc[2 * c] = sc[2 * c];
			kb.sc[2 * c + 1] = sc[2 * c + 1];
		}
		for (t = 0; t < 4; t++) {
			y = (const void *)((const char *)vy + t * stride);
			d = y[b].d * _cvtsh_ss(x[b].d);
			dmin = y[b].d * _cvtsh_ss(x[b].dmin);
			sumf[t] =
			    sumf[t] + (d * (float)kblock_dot(&kb, y[b].qs) -
			                  dmin * (float)kmins(mn, y[b].bsums));
		}
	}
	memcpy(out, sumf, sizeof(sumf));
}

/* The four groups of one Q6_K half block, as in avx2_dot_q6_k. */
AVX2 static inline void
q6_unpack(const struct blk_q6_k *x, int h, __m256i *q)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	__m256i qh, l0, l1;

	qh = _mm256_loadu_si256((const void *)(x->qh + 32 * h));
	l0 = _mm256_loadu_si256((const void *)(x->ql + 64 * h));
	l1 = _mm256_loadu_si256((const void *)(x->ql + 64 * h + 32));
	q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
	    _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x03)), 4));
	q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
	    _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0x0c)), 2));
	q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
	    _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
	q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
	    _mm256_srli_epi16(
	        _mm256_and_si256(qh, _mm256_set1_epi8((char)0xc0)), 2));
}

AVX2 static void
avx2_dot4_q6_k(int n, const void *vx, const void *vy, size_t stride, float *out)
{
	const struct blk_q6_k *x = vx;
	const struct blk_q8_k *y;
	const int8_t *sc;
	__m256i q[8], acc;
	float sumf[4] = {0}, d;
	int b, h, g, t, j, bias;

	for (b = 0; b < n / QK_K; b++) {
		q6_unpack(&x[b], 0, q);
		q6_unpack(&x[b], 1, q + 4);
		for (t = 0; t < 4; t++) {
			y = (const void *)((const char *)vy + t * stride);
			acc = _mm256_setzero_si256();
			for (h = 0; h < 2; h++) {
				sc = x[b].scales + 8 * h;
				for (g = 0; g < 4; g++)
					acc = _mm256_add_epi32(
					    acc, q6_group(q[4 * h + g],
					             y[b].qs + 128 * h + 32 * g,
					             sc[2 * g], sc[2 * g + 1]));
			}
			for (bias = 0, j = 0; j < QK_K / 16; j++)
				bias += x[b].scales[j] * y[b].bsums[j];
			d = y[b].d * _cvtsh_ss(x[b].d);
			sumf[t] =
			    sumf[t] + d * (float)(hsum_i32(acc) - 32 * bias);
		}
	}
	memcpy(out, sumf, sizeof(sumf));
}

/* ---- AVX-512 float rows: one 16-lane register --------------------------- */

#define AVX512_FLOAT_DOT(name, T, LOAD16, CONV)                                \
	AVX512 static float name(int n, const void *vx, const void *vy)        \
	{                                                                      \
		const T *x = vx, *y = vy;                                      \
		__m512 a = _mm512_setzero_ps();                                \
		float acc[16], tail = 0, p;                                    \
		int i;                                                         \
                                                                               \
		for (i = 0; i + 16 <= n; i += 16)                              \
			a = _mm512_add_ps(                                     \
			    a, _mm512_mul_ps(LOAD16(x + i), LOAD16(y + i)));   \
		_mm512_storeu_ps(acc, a);                                      \
		for (; i < n; i++) {                                           \
			p = CONV(x[i]) * CONV(y[i]);                           \
			tail = tail + p;                                       \
		}                                                              \
		return qt_reduce16(acc) + tail;                                \
	}

AVX512 static inline __m512
f32x16(const float *p)
{
	return _mm512_loadu_ps(p);
}

AVX512 static inline __m512
f16x16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const void *)p));
}

AVX512 static inline __m512
bf16x16(const uint16_t *p)
{
	__m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)p));

	return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

AVX512_FLOAT_DOT(avx512_dot_f32, float, f32x16, IDENT)
AVX512_FLOAT_DOT(avx512_dot_f16, uint16_t, f16x16, qt_fp16_to_fp32)
AVX512_FLOAT_DOT(avx512_dot_bf16, uint16_t, bf16x16, qt_bf16_to_fp32)

const struct qt_kernels qt_avx2 = {avx2_dot_f32, avx2_dot_f16, avx2_dot_bf16,
    avx2_dot_q8_0, avx2_dot_q4_0, avx2_dot_q4_k, avx2_dot_q5_k, avx2_dot_q6_k,
    avx2_dot4_q8_0, avx2_dot4_q4_0, avx2_dot4_q4_k, avx2_dot4_q5_k,
    avx2_dot4_q6_k};

const struct qt_kernels qt_avx512 = {avx512_dot_f32, avx512_dot_f16,
    avx512_dot_bf16, avx512_dot_q8_0, avx512_dot_q4_0, avx2_dot_q4_k,
    avx2_dot_q5_k, avx2_dot_q6_k, avx512_dot4_q8_0, avx512_dot4_q4_0,
    avx2_dot4_q4_k, avx2_dot4_q5_k, avx2_dot4_q6_k};

#else /* not x86-64: the portable kernels stand in */

const struct qt_kernels qt_avx2;
const struct qt_kernels qt_avx512;

#endif
