/*
 * Text to speech with libespeak-ng: text in, 16-bit PCM mono WAV file out.
 *
 * espeak-ng keeps all of its state (voice, parameters, output callback) in
 * globals, so this module is a singleton and not thread-safe: one synthesis
 * at a time per process.  The espeak backend declares parallel = 1 so the
 * runtime queues calls instead of running them concurrently.
 *
 * Voice names are espeak-ng's: a language voice ("en-us", "de", "fr") with
 * an optional variant after '+' ("en-us+f3", "en+klatt").  An unknown voice,
 * an unknown variant or an unknown language is refused with a message, never
 * replaced silently by espeak's fallback voice.
 */
#ifndef BACKENDS_ESPEAK_SYNTH_H
#define BACKENDS_ESPEAK_SYNTH_H

#include <stddef.h>

/* Used when LoadModel names no voice. */
#define SYNTH_DEFAULT_VOICE "en-us"

/* Speaking parameters; 0 keeps espeak's default for that parameter. */
struct synth_params {
	int rate;	/* words per minute, 80..450 */
	int pitch;	/* 0..100 */
};

/*
 * Initialises espeak-ng (synchronous output to our callback).  Returns the
 * engine's sample rate (22050 Hz with the Debian data) or -1 with a reason
 * in err.  Called once per process.
 */
int synth_init(char *err, size_t errlen);

/* Releases espeak-ng's memory; synth_init() may be called again after. */
void synth_terminate(void);

/*
 * Checks that voice ("en-us", "en-us+f3") exists.  Returns 0 or -1 with
 * "unknown voice '…'" (or "unknown voice variant '…'") in err.
 */
int synth_check_voice(const char *voice, char *err, size_t errlen);

/*
 * Speaks text with the given voice and writes the WAV file path.  When
 * voice is NULL or empty and language is not, the best voice for that
 * language is used ("unknown language '…'" when espeak has none).  When
 * both are empty, fallback_voice is used.  Returns 0, or -1 with a reason
 * in err; a partial file is removed.  *samples (when not NULL) receives
 * the number of samples written.
 */
int synth_to_wav(const char *text, const char *voice, const char *language,
    const char *fallback_voice, const struct synth_params *params,
    const char *path, size_t *samples, char *err, size_t errlen);

/* Sample rate of the files synth_to_wav() writes (after synth_init()). */
int synth_rate(void);

#endif
