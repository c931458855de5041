/*
 * GGUF reader: a bounds-checked cursor over the mapped file.  Every read
 * goes through cur_need(), which fails instead of reading past the end, and
 * every count is compared with the bytes left before anything is allocated
 * for it, so the memory a hostile header can make us allocate is bounded by
 * the file's own size.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/llama/gguf.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_MAX_KEY 65536
#define GGUF_MAX_DEPTH 4
#define GGUF_MAX_NAME 4096

struct cursor {
	const uint8_t *p;
	size_t left;
	char *err;
	size_t errlen;
};

struct type_traits {
	const char *name;
	uint32_t blck;
	uint32_t size;
};

/* ggml's block geometry for every type a GGUF file may name. */
static const struct type_traits traits[GGML_NTYPES] = {
    [0] = {"F32", 1, 4},
    [1] = {"F16", 1, 2},
    [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},
    [6] = {"Q5_0", 32, 22},
    [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},
    [9] = {"Q8_1", 32, 36},
    [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},
    [12] = {"Q4_K", 256, 144},
    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},
    [15] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},
    [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},
    [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},
    [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},
    [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},
    [30] = {"BF16", 1, 2},
    [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},
    [39] = {"MXFP4", 32, 17},
};

/* Bytes of one scalar of each metadata type (0: not a fixed-size scalar). */
static const uint8_t vsize[GGUF_NVTYPES] = {
    1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *
ggml_type_name(uint32_t type)
{
	if (type >= GGML_NTYPES || traits[type].name == NULL)
		return "unknown";
	return traits[type].name;
}

uint32_t
ggml_blck_size(uint32_t type)
{
	return type < GGML_NTYPES ? traits[type].blck : 0;
}

uint32_t
ggml_type_size(uint32_t type)
{
	return type < GGML_NTYPES ? traits[type].size : 0;
}

uint64_t
ggml_row_size(uint32_t type, uint64_t n)
{
	uint32_t b = ggml_blck_size(type);

	return b == 0 ? 0 : n / b * ggml_type_size(type);
}

static int
cur_fail(struct cursor *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err != NULL && c->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const uint8_t *
cur_need(struct cursor *c, uint64_t n)
{
	const uint8_t *p;

	if (n > c->left) {
		cur_fail(c, "truncated file (need %llu bytes, %zu left)",
		    (unsigned long long)n, c->left);
		return NULL;
	}
	p = c->p;
	c->p += n;
	c->left -= n;
	return p;
}

/* Little-endian load of n <= 8 bytes. */
static uint64_t
load_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int
cur_u32(struct cursor *c, uint32_t *v)
{
	const uint8_t *p = cur_need(c, 4);

	if (p == NULL)
		return -1;
	*v = (uint32_t)load_le(p, 4);
	return 0;
}

static int
cur_u64(struct cursor *c, uint64_t *v)
{
	const uint8_t *p = cur_need(c, 8);

	if (p == NULL)
		return -1;
	*v = load_le(p, 8);
	return 0;
}

static int
cur_str(struct cursor *c, struct gguf_str *s)
{
	uint64_t len;
	const uint8_t *p;

	if (cur_u64(c, &len) == -1)
		return -1;
	if ((p = cur_need(c, len)) == NULL)
		return cur_fail(c, "string length %llu exceeds the file",
		    (unsigned long long)len);
	s->ptr = (const char *)p;
	s->len = len;
	return 0;
}

static char *
str_dup(struct cursor *c, const struct gguf_str *s, uint64_t max)
{
	char *d;

	if (s->len > max) {
		cur_fail(c, "name of %llu bytes is too long",
		    (unsigned long long)s->len);
		return NULL;
	}
	if ((d = malloc(s->len + 1)) == NULL) {
		cur_fail(c, "out of memory");
		return NULL;
	}
	memcpy(d, s->ptr, s->len);
	d[s->len] = '\0';
	return d;
}

/* Decodes one scalar of type t at p into v. */
static void
scalar_decode(enum gguf_vtype t, const uint8_t *p, struct gguf_value *v)
{
	uint64_t raw = load_le(p, vsize[t]);
	uint32_t u32;
	float f;

	v->type = t;
	switch (t) {
	case GGUF_I8:
		v->i = (int8_t)raw;
		break;
	case GGUF_I16:
		v->i = (int16_t)raw;
		break;
	case GGUF_I32:
		v->i = (int32_t)raw;
		break;
	case GGUF_I64:
		v->i = (int64_t)raw;
		break;
	case GGUF_F32:
		u32 = (uint32_t)raw;
		memcpy(&f, &u32, 4);
		v->f = f;
		break;
	case GGUF_F64:
		memcpy(&v->f, &raw, 8);
		break;
	case GGUF_BOOL:
		v->u = raw != 0;
		break;
	default:
		v->u = raw;
		break;
	}
}

/* FNV-1a: names are short and the table only needs a fair spread. */
static uint64_t
name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static int
index_init(struct gguf_index *x, uint64_t n)
{
	uint64_t size = 16;

	while (size < 2 * n)
		size *= 2;
	x->slot = calloc(size, sizeof(*x->slot));
	x->names = calloc(n ? n : 1, sizeof(*x->names));
	if (x->slot == NULL || x->names == NULL)
		return -1;
	x->mask = size - 1;
	return 0;
}

/* Open addressing; slots hold index + 1 so 0 means empty. */
static int
index_add(struct gguf_index *x, const char *name, uint64_t i)
{
	uint64_t h = name_hash(name) & x->mask;

	while (x->slot[h] != 0) {
		if (strcmp(x->names[x->slot[h] - 1], name) == 0)
			return -1;
		h = (h + 1) & x->mask;
	}
	x->slot[h] = i + 1;
	x->names[i] = name;
	return 0;
}

/* Index of name, or -1. */
static int64_t
index_find(const struct gguf_index *x, const char *name)
{
	uint64_t h;

	if (x->slot == NULL)
		return -1;
	for (h = name_hash(name) & x->mask; x->slot[h] != 0;
	     h = (h + 1) & x->mask)
		if (strcmp(x->names[x->slot[h] - 1], name) == 0)
			return (int64_t)(x->slot[h] - 1);
	return -1;
}

static int parse_value(
    struct cursor *, enum gguf_vtype, struct gguf_value *, int);

/*
 * An array: fixed-size elements are checked as one span; strings and nested
 * arrays are walked element by element, each one checked as it is read.
 * Only top-level string arrays get an index (strs) for random access.
 */
static int
parse_array(struct cursor *c, struct gguf_value *v, int depth)
{
	uint32_t at;
	uint64_t n, i;
	struct gguf_value sub;

	if (cur_u32(c, &at) == -1 || cur_u64(c, &n) == -1)
		return -1;
	if (at >= GGUF_NVTYPES)
		return cur_fail(c, "array of unknown type %u", at);
	v->atype = at;
	v->n = n;
	v->data = c->p;
	if (at != GGUF_STRING && at != GGUF_ARRAY) {
		if (n > c->left / vsize[at] ||
		    cur_need(c, n * vsize[at]) == NULL)
			return cur_fail(c,
			    "array of %llu elements exceeds the "
			    "file",
			    (unsigned long long)n);
		return 0;
	}
	if (n > c->left / 8)
		return cur_fail(c, "array of %llu elements exceeds the file",
		    (unsigned long long)n);
	if (at == GGUF_STRING && depth == 0 &&
	    (v->strs = calloc(n ? n : 1, sizeof(*v->strs))) == NULL)
		return cur_fail(c, "out of memory");
	for (i = 0; i < n; i++) {
		if (at == GGUF_STRING) {
			if (cur_str(c, v->strs ? &v->strs[i] : &sub.s) == -1)
				return -1;
			continue;
		}
		memset(&sub, 0, sizeof(sub));
		if (parse_value(c, GGUF_ARRAY, &sub, depth + 1) == -1)
			return -1;
	}
	return 0;
}

static int
parse_value(
    struct cursor *c, enum gguf_vtype t, struct gguf_value *v, int depth)
{
	const uint8_t *p;

	v->type = t;
	if (t >= GGUF_NVTYPES)
		return cur_fail(c, "unknown value type %u", (unsigned)t);
	if (t == GGUF_STRING)
		return cur_str(c, &v->s);
	if (t == GGUF_ARRAY) {
		if (depth >= GGUF_MAX_DEPTH)
			return cur_fail(c, "arrays nested too deeply");
		return parse_array(c, v, depth);
	}
	if ((p = cur_need(c, vsize[t])) == NULL)
		return -1;
	scalar_decode(t, p, v);
	return 0;
}

static int
parse_kvs(struct cursor *c, struct gguf_file *g)
{
	uint64_t i;
	uint32_t t;
	struct gguf_str key;
	struct gguf_kv *kv;

	/* A key/value pair takes at least 8 + 4 + 1 bytes. */
	if (g->n_kv > c->left / 13)
		return cur_fail(c, "%llu metadata pairs exceed the file",
		    (unsigned long long)g->n_kv);
	if ((g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv))) == NULL ||
	    index_init(&g->kv_index, g->n_kv) == -1)
		return cur_fail(c, "out of memory");
	for (i = 0; i < g->n_kv; i++) {
		kv = &g->kv[i];
		if (cur_str(c, &key) == -1 || cur_u32(c, &t) == -1)
			return -1;
		if ((kv->key = str_dup(c, &key, GGUF_MAX_KEY)) == NULL)
			return -1;
		if (index_add(&g->kv_index, kv->key, i) == -1)
			return cur_fail(c, "duplicate key '%s'", kv->key);
		if (parse_value(c, (enum gguf_vtype)t, &kv->v, 0) == -1)
			return -1;
	}
	return 0;
}

/* Reads tensor info i and checks its shape and type. */
static int
parse_tensor(struct cursor *c, struct gguf_tensor *t)
{
	struct gguf_str name;
	uint64_t n = 1;
	uint32_t d;

	if (cur_str(c, &name) == -1)
		return -1;
	if ((t->name = str_dup(c, &name, GGUF_MAX_NAME)) == NULL)
		return -1;
	if (cur_u32(c, &t->ndim) == -1)
		return -1;
	if (t->ndim < 1 || t->ndim > 4)
		return cur_fail(
		    c, "tensor '%s' has %u dimensions", t->name, t->ndim);
	for (d = 0; d < 4; d++)
		t->ne[d] = 1;
	for (d = 0; d < t->ndim; d++) {
		if (cur_u64(c, &t->ne[d]) == -1)
			return -1;
		if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) ||
		    n > (1ull << 42) / t->ne[d])
			return cur_fail(
			    c, "tensor '%s' has a bad shape", t->name);
		n *= t->ne[d];
	}
	if (cur_u32(c, &t->type) == -1 || cur_u64(c, &t->offset) == -1)
		return -1;
	if (ggml_blck_size(t->type) == 0)
		return cur_fail(
		    c, "tensor '%s' has unknown type %u", t->name, t->type);
	if (t->ne[0] % ggml_blck_size(t->type) != 0)
		return cur_fail(c,
		    "tensor '%s': row of %llu is not a multiple "
		    "of the %s block",
		    t->name, (unsigned long long)t->ne[0],
		    ggml_type_name(t->type));
	t->nbytes = ggml_row_size(t->type, t->ne[0]) * (n / t->ne[0]);
	return 0;
}

static int
parse_tensors(struct cursor *c, struct gguf_file *g)
{
	uint64_t i;

	/* A tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes. */
	if (g->n_tensors > c->left / 32)
		return cur_fail(c, "%llu tensors exceed the file",
		    (unsigned long long)g->n_tensors);
	g->tensors =
	    calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->tensors));
	if (g->tensors == NULL ||
	    index_init(&g->tensor_index, g->n_tensors) == -1)
		return cur_fail(c, "out of memory");
	for (i = 0; i < g->n_tensors; i++) {
		if (parse_tensor(c, &g->tensors[i]) == -1)
			return -1;
		if (index_add(&g->tensor_index, g->tensors[i].name, i) == -1)
			return cur_fail(
			    c, "duplicate tensor '%s'", g->tensors[i].name);
	}
	return 0;
}

static int
read_alignment(struct cursor *c, struct gguf_file *g)
{
	const struct gguf_kv *kv = gguf_find(g, "general.alignment");

	g->alignment = 32;
	if (kv == NULL)
		return 0;
	if (kv->v.type != GGUF_U32 || kv->v.u == 0 ||
	    (kv->v.u & (kv->v.u - 1)) != 0)
		return cur_fail(c, "general.alignment must be a power of two");
	g->alignment = kv->v.u;
	return 0;
}

/* Places the data section and checks every tensor lies inside it. */
static int
place_data(struct cursor *c, struct gguf_file *g)
{
	uint64_t off = g->size - c->left, avail, i;
	struct gguf_tensor *t;

	off = (off + g->alignment - 1) / g->alignment * g->alignment;
	if (g->n_tensors > 0 && off > g->size)
		return cur_fail(c, "truncated file (no tensor data)");
	g->data_offset = off;
	avail = off <= g->size ? g->size - off : 0;
	for (i = 0; i < g->n_tensors; i++) {
		t = &g->tensors[i];
		if (t->offset % g->alignment != 0)
			return cur_fail(
			    c, "tensor '%s' is misaligned", t->name);
		if (t->offset > avail || t->nbytes > avail - t->offset)
			return cur_fail(c,
			    "tensor '%s' (%llu bytes at %llu) "
			    "lies beyond the end of the file",
			    t->name, (unsigned long long)t->nbytes,
			    (unsigned long long)t->offset);
		t->data = g->base + off + t->offset;
	}
	return 0;
}

static int
parse_header(struct cursor *c, struct gguf_file *g)
{
	uint32_t magic;

	if (cur_u32(c, &magic) == -1)
		return cur_fail(c, "not a GGUF file (too short)");
	if (magic != GGUF_MAGIC)
		return cur_fail(c, "not a GGUF file (bad magic)");
	if (cur_u32(c, &g->version) == -1)
		return -1;
	if (g->version != 2 && g->version != 3)
		return cur_fail(c, "unsupported GGUF version %u", g->version);
	if (cur_u64(c, &g->n_tensors) == -1 || cur_u64(c, &g->n_kv) == -1)
		return -1;
	return 0;
}

struct gguf_file *
gguf_parse(const void *buf, size_t size, char *err, size_t errlen)
{
	struct gguf_file *g;
	struct cursor c = {buf, size, err, errlen};

	if ((g = calloc(1, sizeof(*g))) == NULL) {
		cur_fail(&c, "out of memory");
		return NULL;
	}
	g->base = buf;
	g->size = size;
	if (parse_header(&c, g) == -1 || parse_kvs(&c, g) == -1 ||
	    read_alignment(&c, g) == -1 || parse_tensors(&c, g) == -1 ||
	    place_data(&c, g) == -1) {
		gguf_close(g);
		return NULL;
	}
	return g;
}

struct gguf_file *
gguf_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	struct gguf_file *g;
	void *m;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || st.st_size <= 0) {
		snprintf(err, errlen, "%s: %s", path,
		    st.st_size == 0 ? "empty file" : strerror(errno));
		close(fd);
		return NULL;
	}
	m = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		return NULL;
	}
	if ((g = gguf_parse(m, st.st_size, err, errlen)) == NULL) {
		munmap(m, st.st_size);
		return NULL;
	}
	g->mapped = 1;
	return g;
}

void
gguf_close(struct gguf_file *g)
{
	uint64_t i;

	if (g == NULL)
		return;
	for (i = 0; g->kv != NULL && i < g->n_kv; i++) {
		free(g->kv[i].key);
		free(g->kv[i].v.strs);
	}
	for (i = 0; g->tensors != NULL && i < g->n_tensors; i++)
		free(g->tensors[i].name);
	free(g->kv);
	free(g->tensors);
	free(g->kv_index.slot);
	free(g->kv_index.names);
	free(g->tensor_index.slot);
	free(g->tensor_index.names);
	if (g->mapped)
		munmap((void *)(uintptr_t)g->base, g->size);
	free(g);
}

const struct gguf_kv *
gguf_find(const struct gguf_file *g, const char *key)
{
	int64_t i = index_find(&g->kv_index, key);

	return i < 0 ? NULL : &g->kv[i];
}

const struct gguf_tensor *
gguf_find_tensor(const struct gguf_file *g, const char *name)
{
	int64_t i = index_find(&g->tensor_index, name);

	return i < 0 ? NULL : &g->tensors[i];
}

/* Any scalar number as a double; -1 for strings, arrays. */
static int
value_num(const struct gguf_value *v, double *out)
{
	switch (v->type) {
	case GGUF_I8:
	case GGUF_I16:
	case GGUF_I32:
	case GGUF_I64:
		*out = (double)v->i;
		return 0;
	case GGUF_F32:
	case GGUF_F64:
		*out = v->f;
		return 0;
	case GGUF_U8:
	case GGUF_U16:
	case GGUF_U32:
	case GGUF_U64:
	case GGUF_BOOL:
		*out = (double)v->u;
		return 0;
	default:
		return -1;
	}
}

int
gguf_get_u32(const struct gguf_file *g, const char *key, uint32_t *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	double d;

	if (kv == NULL || kv->v.type == GGUF_F32 || kv->v.type == GGUF_F64 ||
	    value_num(&kv->v, &d) == -1 || d < 0 || d > UINT32_MAX)
		return -1;
	*out = (uint32_t)d;
	return 0;
}

int
gguf_get_f32(const struct gguf_file *g, const char *key, float *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	double d;

	if (kv == NULL || value_num(&kv->v, &d) == -1)
		return -1;
	*out = (float)d;
	return 0;
}

int
gguf_get_bool(const struct gguf_file *g, const char *key, int *out)
{
	const struct gguf_kv *kv = gguf_find(g, key);

	if (kv == NULL || kv->v.type != GGUF_BOOL)
		return -1;
	*out = kv->v.u != 0;
	return 0;
}

char *
gguf_get_strdup(const struct gguf_file *g, const char *key)
{
	const struct gguf_kv *kv = gguf_find(g, key);
	char *s;

	if (kv == NULL || kv->v.type != GGUF_STRING)
		return NULL;
	if ((s = malloc(kv->v.s.len + 1)) == NULL)
		return NULL;
	memcpy(s, kv->v.s.ptr, kv->v.s.len);
	s[kv->v.s.len] = '\0';
	return s;
}

int
gguf_arr_num(const struct gguf_value *v, uint64_t i, double *out)
{
	struct gguf_value e;

	if (v->type != GGUF_ARRAY || i >= v->n || v->atype >= GGUF_NVTYPES ||
	    vsize[v->atype] == 0)
		return -1;
	scalar_decode(v->atype, v->data + i * vsize[v->atype], &e);
	return value_num(&e, out);
}
