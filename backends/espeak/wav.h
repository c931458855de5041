/*
 * WAV (RIFF/WAVE) writer for 16-bit PCM, the format the espeak backend's
 * TTS writes to TTSRequest.dst.  wav_header_encode() is pure so unit tests
 * can check every byte; wav_write_file() adds the file I/O.
 */
#ifndef BACKENDS_ESPEAK_WAV_H
#define BACKENDS_ESPEAK_WAV_H

#include <stddef.h>
#include <stdint.h>

/* A canonical header: RIFF, a 16-byte "fmt " chunk and the "data" header. */
#define WAV_HEADER_SIZE 44

/* The largest PCM payload a RIFF size field (32 bits) can describe. */
#define WAV_MAX_DATA_BYTES (UINT32_MAX - (WAV_HEADER_SIZE - 8))

/*
 * Fills out[] with the header of a PCM WAV file holding data_bytes of
 * interleaved little-endian samples.  Returns -1 when the parameters cannot
 * be represented (zero rate or channels, bits not a multiple of 8, data
 * larger than WAV_MAX_DATA_BYTES), 0 otherwise.
 */
int wav_header_encode(uint8_t out[WAV_HEADER_SIZE], uint32_t rate,
    uint16_t channels, uint16_t bits, uint64_t data_bytes);

/*
 * Writes a mono 16-bit PCM WAV file of nsamples samples at rate Hz to path
 * (created with mode 0644, truncated if it exists).  On failure returns -1
 * with errno set (EFBIG when the audio is too long for a WAV file), and
 * removes the partial file.
 */
int wav_write_file(
    const char *path, const int16_t *pcm, size_t nsamples, uint32_t rate);

#endif
