/*
 * GGUF reader: a file holding every metadata type parses to the values
 * written; every truncation and a set of hostile headers fail with an error
 * message instead of reading outside the buffer (ASan checks the reads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backends/llama/gguf.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}
static void
put_u64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void
put_str(struct buf *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void
put_key(struct buf *b, const char *k, uint32_t type)
{
	put_str(b, k);
	put_u32(b, type);
}

/* Offsets of fields that the hostile tests patch. */
static size_t off_ntensors, off_tensor_ne0, off_tensor_off, off_arrcount;

/* A version-3 file: 14 keys of every type, two F32 tensors. */
static struct buf
make_file(uint32_t align)
{
	struct buf b = {0};
	uint8_t u8 = 200, pad = 0;
	int8_t i8 = -5;
	uint16_t u16 = 60000;
	int16_t i16 = -3000;
	int32_t i32 = -70000;
	float f32 = 1.5f, data[12];
	double f64 = -2.25;
	int64_t i64 = -(1ll << 40);
	int i;

	put_u32(&b, 0x46554747u);
	put_u32(&b, 3);
	off_ntensors = b.len;
	put_u64(&b, 2);
	put_u64(&b, 14);
	put_key(&b, "general.alignment", GGUF_U32);
	put_u32(&b, align);
	put_key(&b, "k.u8", GGUF_U8);
	put(&b, &u8, 1);
	put_key(&b, "k.i8", GGUF_I8);
	put(&b, &i8, 1);
	put_key(&b, "k.u16", GGUF_U16);
	put(&b, &u16, 2);
	put_key(&b, "k.i16", GGUF_I16);
	put(&b, &i16, 2);
	put_key(&b, "k.i32", GGUF_I32);
	put(&b, &i32, 4);
	put_key(&b, "k.f32", GGUF_F32);
	put(&b, &f32, 4);
	put_key(&b, "k.bool", GGUF_BOOL);
	u8 = 1;
	put(&b, &u8, 1);
	put_key(&b, "k.str", GGUF_STRING);
	put_str(&b, "héllo");
	put_key(&b, "k.u64", GGUF_U64);
	put_u64(&b, 1ull << 33);
	put_key(&b, "k.i64", GGUF_I64);
	put(&b, &i64, 8);
	put_key(&b, "k.f64", GGUF_F64);
	put(&b, &f64, 8);
	put_key(&b, "k.strs", GGUF_ARRAY);
	put_u32(&b, GGUF_STRING);
	off_arrcount = b.len;
	put_u64(&b, 3);
	put_str(&b, "a");
	put_str(&b, "");
	put_str(&b, "ccc");
	put_key(&b, "k.nested", GGUF_ARRAY);
	put_u32(&b, GGUF_ARRAY);
	put_u64(&b, 2);
	put_u32(&b, GGUF_I32);
	put_u64(&b, 1);
	put(&b, &i32, 4);
	put_u32(&b, GGUF_STRING);
	put_u64(&b, 1);
	put_str(&b, "x");
	/* tensors: "a" 4x2 F32 at 0, "b" 4 F32 at the next aligned offset */
	put_str(&b, "a");
	put_u32(&b, 2);
	off_tensor_ne0 = b.len;
	put_u64(&b, 4);
	put_u64(&b, 2);
	put_u32(&b, GGML_F32);
	off_tensor_off = b.len;
	put_u64(&b, 0);
	put_str(&b, "b");
	put_u32(&b, 1);
	put_u64(&b, 4);
	put_u32(&b, GGML_F32);
	put_u64(&b, (32 + align - 1) / align * align);
	while (b.len % align != 0)
		put(&b, &pad, 1);
	for (i = 0; i < 12; i++)
		data[i] = (float)i;
	put(&b, data, 32);
	while ((b.len - 0) % align != 0)
		put(&b, &pad, 1);
	put(&b, data + 8, 16);
	return b;
}

static void
test_parse_all_types(void **state)
{
	struct buf b = make_file(32);
	struct gguf_file *g;
	const struct gguf_kv *kv;
	const struct gguf_tensor *t;
	char err[256] = "", *s;
	uint32_t u;
	float f;
	int bo;
	double d;

	g = gguf_parse(b.p, b.len, err, sizeof(err));
	assert_non_null(g);
	assert_int_equal(g->version, 3);
	assert_int_equal(g->n_kv, 14);
	assert_int_equal(gguf_get_u32(g, "k.u8", &u), 0);
	assert_int_equal(u, 200);
	assert_int_equal(gguf_find(g, "k.i8")->v.i, -5);
	assert_int_equal(gguf_find(g, "k.u16")->v.u, 60000);
	assert_int_equal(gguf_find(g, "k.i16")->v.i, -3000);
	assert_int_equal(gguf_find(g, "k.i32")->v.i, -70000);
	assert_int_equal(gguf_get_u32(g, "k.i32", &u), -1);
	assert_int_equal(gguf_get_f32(g, "k.f32", &f), 0);
	assert_true(f == 1.5f);
	assert_int_equal(gguf_get_bool(g, "k.bool", &bo), 0);
	assert_int_equal(bo, 1);
	s = gguf_get_strdup(g, "k.str");
	assert_string_equal(s, "héllo");
	free(s);
	assert_true(gguf_find(g, "k.u64")->v.u == 1ull << 33);
	assert_true(gguf_find(g, "k.i64")->v.i == -(1ll << 40));
	assert_true(gguf_find(g, "k.f64")->v.f == -2.25);
	kv = gguf_find(g, "k.strs");
	assert_int_equal(kv->v.n, 3);
	assert_int_equal(kv->v.strs[2].len, 3);
	assert_memory_equal(kv->v.strs[2].ptr, "ccc", 3);
	assert_int_equal(kv->v.strs[1].len, 0);
	assert_int_equal(gguf_arr_num(&kv->v, 0, &d), -1);
	assert_int_equal(gguf_find(g, "k.nested")->v.n, 2);
	assert_null(gguf_find(g, "missing"));
	t = gguf_find_tensor(g, "a");
	assert_non_null(t);
	assert_int_equal(t->ne[0], 4);
	assert_int_equal(t->ne[1], 2);
	assert_int_equal(t->nbytes, 32);
	assert_true(((const float *)t->data)[7] == 7.0f);
	t = gguf_find_tensor(g, "b");
	assert_true(((const float *)t->data)[3] == 11.0f);
	assert_int_equal(((const uint8_t *)t->data - g->base) % 32, 0);
	gguf_close(g);
	free(b.p);
}

/* Every proper prefix of the file is rejected with a message. */
static void
test_truncations(void **state)
{
	struct buf b = make_file(64);
	struct gguf_file *g;
	char err[256];
	uint8_t *copy;
	size_t n;

	for (n = 0; n < b.len; n++) {
		copy = malloc(n ? n : 1);
		memcpy(copy, b.p, n);
		err[0] = '\0';
		g = gguf_parse(copy, n, err, sizeof(err));
		if (g != NULL)
			fail_msg("prefix of %zu bytes parsed", n);
		assert_true(err[0] != '\0');
		free(copy);
	}
	free(b.p);
}

static void
expect_error(struct buf *b, const char *what)
{
	char err[256] = "";
	struct gguf_file *g = gguf_parse(b->p, b->len, err, sizeof(err));

	if (g != NULL)
		fail_msg("hostile file parsed");
	if (strstr(err, what) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, what);
}

static void
patch_u64(struct buf *b, size_t off, uint64_t v)
{
	memcpy(b->p + off, &v, 8);
}

static void
test_hostile(void **state)
{
	struct buf b;

	b = make_file(32);
	patch_u64(&b, off_ntensors, UINT64_MAX);
	expect_error(&b, "tensors exceed");
	patch_u64(&b, off_ntensors, 2);
	patch_u64(&b, off_ntensors + 8, 1ull << 60);
	expect_error(&b, "metadata pairs exceed");
	patch_u64(&b, off_ntensors + 8, 14);
	patch_u64(&b, off_arrcount, 1ull << 62);
	expect_error(&b, "exceeds the file");
	patch_u64(&b, off_arrcount, 3);
	patch_u64(&b, off_tensor_off, (1ull << 62) + 4);
	expect_error(&b, "misaligned");
	patch_u64(&b, off_tensor_off, 4096);
	expect_error(&b, "beyond the end");
	patch_u64(&b, off_tensor_off, 0);
	patch_u64(&b, off_tensor_ne0, 1ull << 50);
	expect_error(&b, "bad shape");
	patch_u64(&b, off_tensor_ne0, 4);
	b.p[4] = 1;
	expect_error(&b, "version 1");
	b.p[0] = 'X';
	expect_error(&b, "magic");
	free(b.p);
	b = make_file(24);
	expect_error(&b, "power of two");
	free(b.p);
}

static void
test_open_file(void **state)
{
	struct buf b = make_file(32);
	char path[] = "/tmp/test_gguf.XXXXXX", err[256];
	struct gguf_file *g;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
	close(fd);
	g = gguf_open(path, err, sizeof(err));
	assert_non_null(g);
	assert_int_equal(g->n_tensors, 2);
	gguf_close(g);
	unlink(path);
	assert_null(gguf_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_all_types),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_open_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
