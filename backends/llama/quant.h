/*
 * Tensor element types: block layouts, dequantisation, activation
 * quantisation and dot products.
 *
 * A matrix-vector product y = W x over weights of type T first converts x
 * into T's activation format (qt_act_type): F32 stays F32, F16 and BF16
 * weights take F16/BF16 activations, Q4_0/Q8_0 take Q8_0 blocks and the
 * K-quants take Q8_K blocks, as ggml does.  qt_dot() then multiplies one
 * weight row by one converted activation row with integer arithmetic inside
 * each block.
 *
 * Every kernel has a portable C version and x86 versions (AVX2, AVX-512)
 * chosen at run time; all of them produce bit-identical results because
 * the per-block integer sums are exact and the float accumulation order is
 * fixed (see quant.c).
 */
#ifndef LLAMA_QUANT_H
#define LLAMA_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK8_0 32
#define QK_K 256

struct blk_q8_0 {
	uint16_t d; /* fp16 scale */
	int8_t qs[QK8_0];
};

struct blk_q4_0 {
	uint16_t d;
	uint8_t qs[QK8_0 / 2]; /* x[j] low nibble, x[j+16] high */
};

struct blk_q4_k {
	uint16_t d, dmin;
	uint8_t scales[12]; /* 8 x (6-bit scale, 6-bit min) */
	uint8_t qs[QK_K / 2];
};

struct blk_q5_k {
	uint16_t d, dmin;
	uint8_t scales[12];
	uint8_t qh[QK_K / 8];
	uint8_t qs[QK_K / 2];
};

struct blk_q6_k {
	uint8_t ql[QK_K / 2];
	uint8_t qh[QK_K / 4];
	int8_t scales[QK_K / 16];
	uint16_t d;
};

struct blk_q8_k {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16]; /* sums of each 16 qs */
};

/* SIMD levels, in increasing order of capability. */
enum qt_level {
	QT_PORTABLE = 0,
	QT_AVX2 = 1, /* AVX2 + FMA + F16C */
	QT_AVX512 = 2, /* AVX-512 F/BW/VL + VNNI */
};

/* Picks the best level this CPU supports (LLAMA_SIMD may lower it). */
void qt_init(void);
/* Forces a level (tests); returns the level in effect (capped by CPU). */
enum qt_level qt_set_level(enum qt_level);
enum qt_level qt_level(void);
enum qt_level qt_cpu_level(void);
const char *qt_level_name(enum qt_level);

/* 1 if the engine can compute with weights of this ggml type. */
int qt_supported(uint32_t type);
uint32_t qt_act_type(uint32_t wtype);
/* Bytes of n activations converted for weights of type wtype. */
size_t qt_act_size(uint32_t wtype, int n);
/* Converts n floats (n a multiple of the weight block) for wtype. */
void qt_quantize_act(uint32_t wtype, const float *x, void *out, int n);
/* One weight row (n elements) times one converted activation row. */
float qt_dot(uint32_t wtype, int n, const void *w, const void *act);
typedef float (*qt_dot_fn)(int, const void *, const void *);
/* The kernel qt_dot() would call for wtype at the current level. */
qt_dot_fn qt_get_dot(uint32_t wtype);
/*
 * One weight row times four activation rows (stride bytes apart) into
 * out[4], bit-identical to four qt_dot calls; NULL when the current level
 * has no such kernel for wtype.
 */
typedef void (*qt_dot4_fn)(int, const void *, const void *, size_t, float *);
qt_dot4_fn qt_get_dot4(uint32_t wtype);
/* n elements of a row of type type into floats. */
void qt_dequant_row(uint32_t type, const void *src, float *dst, int n);

float qt_fp16_to_fp32(uint16_t);
uint16_t qt_fp32_to_fp16(float);
float qt_bf16_to_fp32(uint16_t);
uint16_t qt_fp32_to_bf16(float);

/* Kernel table, one per SIMD level (quant.c, quant_x86.c). */
struct qt_kernels {
	float (*dot_f32)(int, const void *, const void *);
	float (*dot_f16)(int, const void *, const void *);
	float (*dot_bf16)(int, const void *, const void *);
	float (*dot_q8_0)(int, const void *, const void *);
	float (*dot_q4_0)(int, const void *, const void *);
	float (*dot_q4_k)(int, const void *, const void *);
	float (*dot_q5_k)(int, const void *, const void *);
	float (*dot_q6_k)(int, const void *, const void *);
	/* Four activation rows `stride` bytes apart; NULL: use dot. */
	void (*dot4_q8_0)(int, const void *, const void *, size_t, float *);
	void (*dot4_q4_0)(int, const void *, const void *, size_t, float *);
	void (*dot4_q4_k)(int, const void *, const void *, size_t, float *);
	void (*dot4_q5_k)(int, const void *, const void *, size_t, float *);
	void (*dot4_q6_k)(int, const void *, const void *, size_t, float *);
};

extern const struct qt_kernels qt_portable;
extern const struct qt_kernels qt_avx2;
extern const struct qt_kernels qt_avx512;

/* Shared by the kernels: the fixed reduction of 8 or 16 float lanes. */
float qt_reduce8(const float *acc);
float qt_reduce16(const float *acc);
void qt_scales_k4(const uint8_t *scales, uint8_t *sc, uint8_t *mn);

#endif
