/*
 * GGUF (v2 and v3) reader.
 *
 * The file is mapped read-only; every count, length and offset read from it
 * is checked against the bytes that remain before it is used, so a truncated
 * or hostile file yields an error string and never a read outside the map.
 * Parsed keys are copied into NUL-terminated strings; string values and
 * tensor data point into the map.
 */
#ifndef LLAMA_GGUF_H
#define LLAMA_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* Metadata value types, numbered as in the GGUF specification. */
enum gguf_vtype {
	GGUF_U8 = 0,
	GGUF_I8 = 1,
	GGUF_U16 = 2,
	GGUF_I16 = 3,
	GGUF_U32 = 4,
	GGUF_I32 = 5,
	GGUF_F32 = 6,
	GGUF_BOOL = 7,
	GGUF_STRING = 8,
	GGUF_ARRAY = 9,
	GGUF_U64 = 10,
	GGUF_I64 = 11,
	GGUF_F64 = 12,
	GGUF_NVTYPES
};

/* Tensor element types, numbered as ggml numbers them. */
enum ggml_type {
	GGML_F32 = 0,
	GGML_F16 = 1,
	GGML_Q4_0 = 2,
	GGML_Q4_1 = 3,
	GGML_Q5_0 = 6,
	GGML_Q5_1 = 7,
	GGML_Q8_0 = 8,
	GGML_Q8_1 = 9,
	GGML_Q2_K = 10,
	GGML_Q3_K = 11,
	GGML_Q4_K = 12,
	GGML_Q5_K = 13,
	GGML_Q6_K = 14,
	GGML_Q8_K = 15,
	GGML_BF16 = 30,
	GGML_NTYPES = 40
};

struct gguf_str {
	const char *ptr; /* into the map, not NUL-terminated */
	uint64_t len;
};

struct gguf_value {
	enum gguf_vtype type;
	union {
		uint64_t u; /* U8..U64, BOOL */
		int64_t i; /* I8..I64 */
		double f; /* F32, F64 */
		struct gguf_str s; /* STRING */
	};
	/* ARRAY: element type, count, raw elements; strs for string arrays. */
	enum gguf_vtype atype;
	uint64_t n;
	const uint8_t *data;
	struct gguf_str *strs;
};

struct gguf_kv {
	char *key;
	struct gguf_value v;
};

struct gguf_tensor {
	char *name;
	uint32_t ndim;
	uint64_t ne[4]; /* ne[0] is the row length */
	uint32_t type;
	uint64_t offset; /* from the start of the data section */
	uint64_t nbytes;
	const void *data;
};

/* Name → index hash table (open addressing). */
struct gguf_index {
	uint64_t *slot;
	const char **names;
	uint64_t mask;
};

struct gguf_file {
	const uint8_t *base;
	size_t size;
	int mapped; /* base must be munmap'd */
	uint32_t version;
	uint64_t alignment;
	uint64_t data_offset;
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	struct gguf_index kv_index;
	struct gguf_index tensor_index;
};

/* Maps and parses path; on error fills err and returns NULL. */
struct gguf_file *gguf_open(const char *path, char *err, size_t errlen);
/* Parses a buffer the caller keeps alive (fuzzing, tests). */
struct gguf_file *gguf_parse(
    const void *buf, size_t size, char *err, size_t errlen);
void gguf_close(struct gguf_file *);

const struct gguf_kv *gguf_find(const struct gguf_file *, const char *key);
const struct gguf_tensor *gguf_find_tensor(
    const struct gguf_file *, const char *name);

/*
 * Typed getters: 0 when the key exists and converts (any integer type to an
 * integer in range, F32/F64 or an integer to a float), -1 otherwise (the
 * output is left untouched, so callers preset defaults).
 */
int gguf_get_u32(const struct gguf_file *, const char *key, uint32_t *);
int gguf_get_f32(const struct gguf_file *, const char *key, float *);
int gguf_get_bool(const struct gguf_file *, const char *key, int *);
/* A NUL-terminated copy of a string value (malloc'd), or NULL. */
char *gguf_get_strdup(const struct gguf_file *, const char *key);
/* Array element i of an integer/float array as a double (0 on success). */
int gguf_arr_num(const struct gguf_value *, uint64_t i, double *);

const char *ggml_type_name(uint32_t type);
/* Elements per block and bytes per block; 0 for unknown types. */
uint32_t ggml_blck_size(uint32_t type);
uint32_t ggml_type_size(uint32_t type);
/* Bytes of one row of n elements (n a multiple of the block size). */
uint64_t ggml_row_size(uint32_t type, uint64_t n);

#endif
