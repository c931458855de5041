/*
 * Where to cut long audio into utterances for pocketsphinx.  Pure: no I/O,
 * unit tests link only this file.
 *
 * pocketsphinx keeps the whole search history of an utterance in memory
 * and its final passes grow with its length, so hours of audio must not be
 * one utterance.  We cannot use pocketsphinx's own voice-activity detector
 * to cut: with -remove_silence yes, 5prealpha reports shifted word frames
 * after the first pause (measured: a word at 0.46 s reported at 6.64 s),
 * so timestamps would be wrong.  Instead audio longer than SPLIT_MAX_SEC
 * is cut at the quietest 100 ms between SPLIT_MIN_SEC and SPLIT_MAX_SEC,
 * which is almost always a pause between words.
 */
#ifndef BACKENDS_POCKETSPHINX_SPLIT_H
#define BACKENDS_POCKETSPHINX_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#define SPLIT_MIN_SEC 20
#define SPLIT_MAX_SEC 30

/*
 * Returns the end (exclusive sample index) of the utterance that starts at
 * start in pcm[0..n) sampled at rate Hz: n when the rest is short enough,
 * else the centre of the quietest 100 ms window in the allowed range.
 */
size_t split_next(const int16_t *pcm, size_t n, size_t start, uint32_t rate);

#endif
