/*
 * Sample-rate conversion for the pocketsphinx backend, whose acoustic
 * model wants 16 kHz.  Pure: no I/O, unit tests link only this file.
 *
 * Band-limited interpolation with a Kaiser-windowed sinc (J. O. Smith's
 * method).  Why not linear interpolation: espeak speaks at 22050 Hz and
 * ordinary recordings are 44.1/48 kHz, with energy (fricatives: s, sh, f)
 * above the 8 kHz Nyquist limit of the output.  Linear interpolation has
 * almost no stop band, so that energy folds back into 5-8 kHz, right where
 * pocketsphinx's top mel filters sit (its 16 kHz front end reaches
 * 6855 Hz).  The windowed sinc low-passes at 0.94 x the lower Nyquist with
 * about 80 dB of stop-band attenuation, so aliases stay far below the
 * quantisation noise of 16-bit audio.  It costs ~50 multiply-adds per
 * output sample (about 1 ms per second of audio), small next to decoding.
 */
#ifndef BACKENDS_POCKETSPHINX_RESAMPLE_H
#define BACKENDS_POCKETSPHINX_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Resamples the n_in samples of in from in_rate to out_rate Hz (both
 * 1..10^6).  Returns a malloc'ed array and its length in *n_out
 * (floor(n_in * out_rate / in_rate), at least 1), or NULL with errno set.
 * Equal rates return a copy.
 */
float *resample(const float *in, size_t n_in, uint32_t in_rate,
    uint32_t out_rate, size_t *n_out);

/* Converts float samples in [-1, 1] to int16, rounding and clipping. */
void resample_to_s16(const float *in, size_t n, int16_t *out);

#endif
