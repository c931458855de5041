/*
 * WAV (RIFF/WAVE) reader for the pocketsphinx backend.  Pure: it parses a
 * buffer already in memory and converts samples, so unit tests link only
 * this file.
 *
 * Accepted: WAVE_FORMAT_PCM (8-bit unsigned, 16/24/32-bit signed),
 * WAVE_FORMAT_IEEE_FLOAT (32/64-bit) and WAVE_FORMAT_EXTENSIBLE with one
 * of those sub-formats; any number of channels up to WAV_MAX_CHANNELS; any
 * rate from WAV_MIN_RATE to WAV_MAX_RATE.  Other encodings (A-law, ADPCM,
 * MP3 in WAV…) are refused with a message naming the format tag.
 */
#ifndef BACKENDS_POCKETSPHINX_WAVREAD_H
#define BACKENDS_POCKETSPHINX_WAVREAD_H

#include <stddef.h>
#include <stdint.h>

#define WAV_MAX_CHANNELS 16
#define WAV_MIN_RATE 1000
#define WAV_MAX_RATE 384000

struct wav_info {
	uint32_t rate; /* frames per second */
	uint16_t channels;
	uint16_t bits; /* bits per sample container: 8..64 */
	int is_float; /* IEEE float samples, else integer PCM */
	const uint8_t *data; /* first sample, inside the parsed buffer */
	size_t frames; /* samples per channel */
};

/*
 * Parses the RIFF/WAVE buffer buf of len bytes.  On success fills *out
 * (out->data points into buf) and returns 0.  On failure returns -1 and
 * writes a one-line reason for the user into err (errlen bytes).
 * A data chunk whose declared size runs past the end of the buffer (a
 * writer that never patched its header) is cut at the end of the buffer.
 */
int wav_parse(const uint8_t *buf, size_t len, struct wav_info *out, char *err,
    size_t errlen);

/*
 * Converts the samples described by w to mono float in [-1, 1], averaging
 * the channels.  Returns a malloc'ed array of w->frames floats, or NULL
 * with errno set.
 */
float *wav_to_mono_float(const struct wav_info *w);

#endif
