/*
 * Sample-rate conversion for the pocketsphinx backend, whose acoustic
 * model wants 16 kHz.  Pure: no I/O, unit tests link only this file.
 *
 * Band-limited interpolation with a Kaiser-windowed sinc (J. O. Smith's
 * method).  Why not plain linear interpolation: recordings at 44.1/48 kHz
 * (and espeak's 22050 Hz) carry energy above the 8 kHz Nyquist limit of
 * the output (fricatives: s, sh, f), and linear interpolation has almost
 * no stop band, so that energy folds back into 5-8 kHz, where
 * pocketsphinx's top mel filters sit (its 16 kHz front end reaches
 * 6855 Hz).  Measured response for 22050 -> 16000 Hz: flat (< 0.01 dB) to
 * 6 kHz, -0.5 dB at 6855 Hz, -6 dB at 7.5 kHz, -46 dB at 8.5 kHz and
 * below -80 dB from 9 kHz, so what still aliases lands above 7.5 kHz,
 * outside the band the recogniser looks at.  Cost: about 50 multiply-adds
 * per output sample (~1 ms per second of audio), small next to decoding.
 *
 * A measured curiosity (docs/DESIGN.md §10): on espeak's synthetic voices
 * a linear resampler recovers more words (en-us+benjamin 50/58 against
 * 44/58 here) because the aliased energy happens to help; on real speech
 * the clean filter is the right one, and real speech is what the backend
 * is for.
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
