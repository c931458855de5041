/*
 * Unit tests for the WAV writer (backends/espeak/wav.c) and reader
 * (backends/pocketsphinx/wavread.c): exact header bytes, a write/read
 * round trip through a real file, every sample layout the reader accepts,
 * and a clear refusal of what is not WAV audio.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/espeak/wav.h"
#include "backends/pocketsphinx/wavread.h"

/* A byte buffer to assemble test files in. */
struct buf {
	uint8_t b[4096];
	size_t n;
};

static void
put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
put16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = {v & 0xff, v >> 8};

	put(b, p, 2);
}

static void
put32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};

	put(b, p, 4);
}

/* RIFF/WAVE header followed by a plain 16-byte fmt chunk. */
static void
start_wav(struct buf *b, uint16_t tag, uint16_t channels, uint32_t rate,
    uint16_t bits)
{
	b->n = 0;
	put(b, "RIFF", 4);
	put32(b, 0); /* readers must not trust this size */
	put(b, "WAVE", 4);
	put(b, "fmt ", 4);
	put32(b, 16);
	put16(b, tag);
	put16(b, channels);
	put32(b, rate);
	put32(b, rate * channels * (bits / 8));
	put16(b, (uint16_t)(channels * (bits / 8)));
	put16(b, bits);
}

static void
test_header_bytes(void **state)
{
	static const uint8_t want[WAV_HEADER_SIZE] = {
	    'R', 'I', 'F', 'F', 0x3c, 0x56, 0x00, 0x00, /* 36 + 22040 */
	    'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0,
	    0x22, 0x56, 0, 0, /* 22050 */
	    0x44, 0xac, 0, 0, /* 44100 bytes/s */
	    2, 0, 16, 0, 'd', 'a', 't', 'a', 0x18, 0x56, 0, 0 /* 22040 */
	};
	uint8_t hdr[WAV_HEADER_SIZE];

	assert_int_equal(wav_header_encode(hdr, 22050, 1, 16, 22040), 0);
	assert_memory_equal(hdr, want, sizeof(want));
}

static void
test_header_rejects(void **state)
{
	uint8_t hdr[WAV_HEADER_SIZE];

	assert_int_equal(wav_header_encode(hdr, 0, 1, 16, 2), -1);
	assert_int_equal(wav_header_encode(hdr, 16000, 0, 16, 2), -1);
	assert_int_equal(wav_header_encode(hdr, 16000, 1, 12, 2), -1);
	assert_int_equal(
	    wav_header_encode(hdr, 16000, 1, 16, (uint64_t)UINT32_MAX), -1);
	assert_int_equal(
	    wav_header_encode(hdr, 16000, 1, 16, WAV_MAX_DATA_BYTES), 0);
}

/* Writes a file with wav_write_file() and reads it back with wav_parse(). */
static void
test_write_read_roundtrip(void **state)
{
	char path[] = "/tmp/test_wav_XXXXXX";
	int16_t pcm[1000], got;
	uint8_t file[4096];
	struct wav_info wi;
	char err[128];
	ssize_t n;
	size_t i;
	int fd;

	for (i = 0; i < 1000; i++)
		pcm[i] = (int16_t)(i * 67 - 32768);
	pcm[1] = 32767;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(wav_write_file(path, pcm, 1000, 22050), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, file, sizeof(file));
	close(fd);
	unlink(path);
	assert_int_equal(n, WAV_HEADER_SIZE + 2000);
	assert_int_equal(wav_parse(file, (size_t)n, &wi, err, sizeof(err)), 0);
	assert_int_equal(wi.rate, 22050);
	assert_int_equal(wi.channels, 1);
	assert_int_equal(wi.bits, 16);
	assert_false(wi.is_float);
	assert_int_equal(wi.frames, 1000);
	for (i = 0; i < 1000; i++) {
		got = (int16_t)(wi.data[2 * i] | wi.data[2 * i + 1] << 8);
		assert_int_equal(got, pcm[i]);
	}
}

static void
test_write_fails_cleanly(void **state)
{
	int16_t pcm[4] = {0};

	errno = 0;
	assert_int_equal(
	    wav_write_file("/nonexistent-dir/x.wav", pcm, 4, 22050), -1);
	assert_int_equal(errno, ENOENT);
}

/* 8-bit unsigned stereo: channels are averaged, 128 is silence. */
static void
test_parse_u8_stereo(void **state)
{
	static const uint8_t samples[6] = {128, 128, 255, 255, 0, 128};
	struct wav_info wi;
	struct buf b;
	char err[128];
	float *f;

	start_wav(&b, 1, 2, 8000, 8);
	put(&b, "data", 4);
	put32(&b, sizeof(samples));
	put(&b, samples, sizeof(samples));
	assert_int_equal(wav_parse(b.b, b.n, &wi, err, sizeof(err)), 0);
	assert_int_equal(wi.frames, 3);
	f = wav_to_mono_float(&wi);
	assert_non_null(f);
	assert_float_equal(f[0], 0.0, 1e-6);
	assert_float_equal(f[1], 127.0 / 128, 1e-6);
	assert_float_equal(f[2], -0.5, 1e-6);
	free(f);
}

static void
test_parse_s24_and_float(void **state)
{
	static const uint8_t s24[6] = {0x00, 0x00, 0x40, 0x00, 0x00, 0xc0};
	struct wav_info wi;
	struct buf b;
	char err[128];
	float *f, v;
	uint32_t u;

	start_wav(&b, 1, 1, 48000, 24);
	put(&b, "data", 4);
	put32(&b, 6);
	put(&b, s24, 6);
	assert_int_equal(wav_parse(b.b, b.n, &wi, err, sizeof(err)), 0);
	f = wav_to_mono_float(&wi);
	assert_float_equal(f[0], 0.5, 1e-6);
	assert_float_equal(f[1], -0.5, 1e-6);
	free(f);

	/* Float samples; out-of-range and NaN values are made safe. */
	start_wav(&b, 3, 1, 16000, 32);
	put(&b, "data", 4);
	put32(&b, 12);
	v = 0.25f;
	memcpy(&u, &v, 4);
	put32(&b, u);
	v = 7.0f;
	memcpy(&u, &v, 4);
	put32(&b, u);
	put32(&b, 0x7fc00000); /* NaN */
	assert_int_equal(wav_parse(b.b, b.n, &wi, err, sizeof(err)), 0);
	assert_true(wi.is_float);
	f = wav_to_mono_float(&wi);
	assert_float_equal(f[0], 0.25, 1e-6);
	assert_float_equal(f[1], 1.0, 1e-6);
	assert_float_equal(f[2], 0.0, 1e-6);
	free(f);
}

/* WAVE_FORMAT_EXTENSIBLE with the PCM sub-format GUID. */
static void
test_parse_extensible(void **state)
{
	static const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
	    0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};
	struct wav_info wi;
	struct buf b;
	char err[128];

	b.n = 0;
	put(&b, "RIFF", 4);
	put32(&b, 0);
	put(&b, "WAVE", 4);
	put(&b, "fmt ", 4);
	put32(&b, 40);
	put16(&b, 0xfffe);
	put16(&b, 2);
	put32(&b, 44100);
	put32(&b, 44100 * 4);
	put16(&b, 4);
	put16(&b, 16);
	put16(&b, 22); /* cbSize */
	put16(&b, 16); /* valid bits */
	put32(&b, 3); /* channel mask */
	put16(&b, 1); /* sub-format: PCM */
	put(&b, tail, sizeof(tail));
	put(&b, "data", 4);
	put32(&b, 8);
	put32(&b, 0);
	put32(&b, 0);
	assert_int_equal(wav_parse(b.b, b.n, &wi, err, sizeof(err)), 0);
	assert_int_equal(wi.channels, 2);
	assert_int_equal(wi.rate, 44100);
	assert_int_equal(wi.frames, 2);
}

/*
 * Chunks before fmt (an odd-sized LIST, padded to even) are skipped, and a
 * data size that runs past the end (a streaming writer) is cut.
 */
static void
test_parse_skips_chunks_and_clamps(void **state)
{
	struct wav_info wi;
	struct buf b;
	char err[128];

	b.n = 0;
	put(&b, "RIFF", 4);
	put32(&b, 0xffffffff);
	put(&b, "WAVE", 4);
	put(&b, "LIST", 4);
	put32(&b, 3);
	put(&b, "abc\0", 4); /* 3 bytes + pad */
	put(&b, "fmt ", 4);
	put32(&b, 16);
	put16(&b, 1);
	put16(&b, 1);
	put32(&b, 16000);
	put32(&b, 32000);
	put16(&b, 2);
	put16(&b, 16);
	put(&b, "data", 4);
	put32(&b, 0xffffffff);
	put16(&b, 1);
	put16(&b, 2);
	put16(&b, 3);
	put(&b, "\x04", 1); /* half a sample at the end */
	assert_int_equal(wav_parse(b.b, b.n, &wi, err, sizeof(err)), 0);
	assert_int_equal(wi.frames, 3);
}

static void
expect_error(const uint8_t *p, size_t n, const char *needle)
{
	struct wav_info wi;
	char err[200] = "";

	assert_int_equal(wav_parse(p, n, &wi, err, sizeof(err)), -1);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void
test_parse_errors(void **state)
{
	static const char text[] = "hello, this is a text file, not audio\n";
	struct buf b;

	expect_error((const uint8_t *)text, sizeof(text) - 1, "not a WAV");
	expect_error((const uint8_t *)"RIFF", 4, "not a WAV");
	expect_error((const uint8_t *)"", 0, "not a WAV");

	start_wav(&b, 0x55, 1, 16000, 16); /* MPEG layer 3 in WAV */
	put(&b, "data", 4);
	put32(&b, 2);
	put16(&b, 0);
	expect_error(b.b, b.n, "0x0055");

	start_wav(&b, 1, 0, 16000, 16);
	expect_error(b.b, b.n, "channel");

	start_wav(&b, 1, 1, 50, 16);
	expect_error(b.b, b.n, "sample rate");

	start_wav(&b, 1, 1, 16000, 12);
	expect_error(b.b, b.n, "sample size");

	start_wav(&b, 1, 1, 16000, 16);
	expect_error(b.b, b.n, "no data chunk");

	start_wav(&b, 1, 1, 16000, 16);
	put(&b, "data", 4);
	put32(&b, 0);
	expect_error(b.b, b.n, "no audio samples");

	b.n = 0;
	put(&b, "RIFF", 4);
	put32(&b, 0);
	put(&b, "WAVE", 4);
	put(&b, "data", 4);
	put32(&b, 2);
	put16(&b, 0);
	expect_error(b.b, b.n, "no fmt chunk");

	/* A chunk claiming 4 GiB must not make the reader run off the end. */
	b.n = 0;
	put(&b, "RIFF", 4);
	put32(&b, 0);
	put(&b, "WAVE", 4);
	put(&b, "LIST", 4);
	put32(&b, 0xfffffffe);
	put32(&b, 0);
	expect_error(b.b, b.n, "no fmt chunk");

	/* A truncated fmt chunk. */
	b.n = 0;
	put(&b, "RIFF", 4);
	put32(&b, 0);
	put(&b, "WAVE", 4);
	put(&b, "fmt ", 4);
	put32(&b, 16);
	put16(&b, 1);
	expect_error(b.b, b.n, "truncated");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_bytes),
	    cmocka_unit_test(test_header_rejects),
	    cmocka_unit_test(test_write_read_roundtrip),
	    cmocka_unit_test(test_write_fails_cleanly),
	    cmocka_unit_test(test_parse_u8_stereo),
	    cmocka_unit_test(test_parse_s24_and_float),
	    cmocka_unit_test(test_parse_extensible),
	    cmocka_unit_test(test_parse_skips_chunks_and_clamps),
	    cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
