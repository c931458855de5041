/*
 * WAV reader: see wavread.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/pocketsphinx/wavread.h"

#define WAVE_FORMAT_PCM 0x0001
#define WAVE_FORMAT_IEEE_FLOAT 0x0003
#define WAVE_FORMAT_EXTENSIBLE 0xfffe

/* The GUID tail shared by every KSDATAFORMAT_SUBTYPE_* in a WAV file. */
static const uint8_t wav_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
    0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

static uint16_t
get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int
wav_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Decodes a "fmt " chunk body into *out (rate, channels, bits, is_float)
 * and checks that the combination is one wav_to_mono_float() converts.
 */
static int
wav_parse_fmt(const uint8_t *p, uint32_t size, struct wav_info *out, char *err,
    size_t errlen)
{
	uint16_t tag, block_align;

	if (size < 16)
		return wav_error(
		    err, errlen, "WAV fmt chunk too short (%u bytes)", size);
	tag = get_le16(p);
	out->channels = get_le16(p + 2);
	out->rate = get_le32(p + 4);
	block_align = get_le16(p + 12);
	out->bits = get_le16(p + 14);
	if (tag == WAVE_FORMAT_EXTENSIBLE) {
		if (size < 40 || memcmp(p + 26, wav_guid_tail, 14) != 0)
			return wav_error(err, errlen,
			    "unsupported WAV extensible sub-format");
		tag = get_le16(p + 24);
	}
	if (tag != WAVE_FORMAT_PCM && tag != WAVE_FORMAT_IEEE_FLOAT)
		return wav_error(err, errlen,
		    "unsupported WAV encoding "
		    "(format tag 0x%04x); only PCM and IEEE float are read",
		    tag);
	out->is_float = tag == WAVE_FORMAT_IEEE_FLOAT;
	if (out->channels == 0 || out->channels > WAV_MAX_CHANNELS)
		return wav_error(err, errlen,
		    "unsupported WAV channel count %u", out->channels);
	if (out->rate < WAV_MIN_RATE || out->rate > WAV_MAX_RATE)
		return wav_error(err, errlen,
		    "unsupported WAV sample rate %u Hz", out->rate);
	if (out->is_float ? out->bits != 32 && out->bits != 64
	                  : out->bits != 8 && out->bits != 16 &&
	                        out->bits != 24 && out->bits != 32)
		return wav_error(err, errlen,
		    "unsupported WAV sample size (%u-bit %s)", out->bits,
		    out->is_float ? "float" : "PCM");
	if (block_align != out->channels * (out->bits / 8))
		return wav_error(err, errlen,
		    "inconsistent WAV block "
		    "alignment %u for %u channels of %u bits",
		    block_align, out->channels, out->bits);
	return 0;
}

int
wav_parse(const uint8_t *buf, size_t len, struct wav_info *out, char *err,
    size_t errlen)
{
	const uint8_t *data = NULL;
	size_t off, data_len = 0, avail;
	uint32_t size;
	int have_fmt = 0;

	memset(out, 0, sizeof(*out));
	if (len < 12 || memcmp(buf, "RIFF", 4) != 0 ||
	    memcmp(buf + 8, "WAVE", 4) != 0)
		return wav_error(
		    err, errlen, "not a WAV audio file (no RIFF/WAVE header)");
	for (off = 12; len - off >= 8; off += 8 + (size_t)size + (size & 1)) {
		size = get_le32(buf + off + 4);
		avail = len - off - 8;
		if (memcmp(buf + off, "fmt ", 4) == 0) {
			if (size > avail)
				return wav_error(
				    err, errlen, "truncated WAV fmt chunk");
			if (wav_parse_fmt(
			        buf + off + 8, size, out, err, errlen) == -1)
				return -1;
			have_fmt = 1;
		} else if (memcmp(buf + off, "data", 4) == 0) {
			data = buf + off + 8;
			data_len = size < avail ? size : avail;
		}
		if (have_fmt && data != NULL)
			break;
		if ((size_t)size + (size & 1) > avail)
			break;
	}
	if (!have_fmt)
		return wav_error(err, errlen, "WAV file has no fmt chunk");
	if (data == NULL)
		return wav_error(err, errlen, "WAV file has no data chunk");
	out->data = data;
	out->frames = data_len / (out->channels * (out->bits / 8));
	if (out->frames == 0)
		return wav_error(
		    err, errlen, "WAV file holds no audio samples");
	return 0;
}

/* One sample of the given container, scaled to [-1, 1]. */
static float
wav_sample(const uint8_t *p, uint16_t bits, int is_float)
{
	uint32_t u;
	uint64_t u64;
	float f;
	double d;

	if (is_float) {
		if (bits == 32) {
			u = get_le32(p);
			memcpy(&f, &u, sizeof(f));
			return f;
		}
		u64 = get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
		memcpy(&d, &u64, sizeof(d));
		return (float)d;
	}
	switch (bits) {
	case 8:
		return ((int)p[0] - 128) / 128.0f;
	case 16:
		return (int16_t)get_le16(p) / 32768.0f;
	case 24:
		u = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 24;
		return (float)((int32_t)u / 2147483648.0);
	default:
		return (float)((int32_t)get_le32(p) / 2147483648.0);
	}
}

float *
wav_to_mono_float(const struct wav_info *w)
{
	size_t i, bytes = w->bits / 8;
	const uint8_t *p = w->data;
	uint16_t c;
	float *out, sum, v;

	if (w->frames == 0 || w->frames > SIZE_MAX / sizeof(float)) {
		errno = EINVAL;
		return NULL;
	}
	if ((out = malloc(w->frames * sizeof(float))) == NULL)
		return NULL;
	for (i = 0; i < w->frames; i++) {
		sum = 0;
		for (c = 0; c < w->channels; c++, p += bytes) {
			v = wav_sample(p, w->bits, w->is_float);
			/* NaN or huge floats must not reach the decoder. */
			if (isnan(v))
				v = 0.0f;
			else if (v < -1.0f)
				v = -1.0f;
			else if (v > 1.0f)
				v = 1.0f;
			sum += v;
		}
		out[i] = sum / w->channels;
	}
	return out;
}
