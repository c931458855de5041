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
	int rate; /* words per minute, 80..450 */
	int pitch; /* 0..100 */
};

/*
 * Initialises espeak-ng (synchronous output to our callback).  Returns the
 * engine's sample rate (22050 Hz with the Debian data) or -1 with a reason
 * in err.  Called once per process.
 *
 * The output depends slightly on what was spoken before: espeak-ng keeps
 * synthesiser state (waveform phase, noise generator) between calls, so
 * the same text twice in a row gives different bytes that sound the same.
 */
int synth_init(char *err, size_t errlen);

/*
 * Releases espeak-ng's memory at process exit.  espeak-ng 1.51 cannot be
 * initialised again afterwards (measured: the next synthesis hangs).
 */
void synth_terminate(void);

/*
 * Checks that voice ("en-us", "en-us+f3") exists.  Returns 0 or -1 with
 * "unknown voice '…'" (or "unknown voice variant '…'") in err.
 */
int synth_check_voice(const char *voice, char *err, size_t errlen);

/* Outcome of synth_to_wav(); the message is in err. */
enum synth_status {
	SYNTH_OK = 0,
	SYNTH_BAD_REQUEST, /* unknown voice/language, no text, no dst */
	SYNTH_TOO_LONG, /* the audio would exceed SYNTH_MAX_SECONDS */
	SYNTH_WRITE_FAILED, /* dst cannot be written; errno kept */
	SYNTH_CANCELLED, /* cancel() returned non-zero */
	SYNTH_FAILED /* espeak-ng or memory failure */
};

/* Longest audio one request may produce. */
#define SYNTH_MAX_SECONDS 600

/* Polled by the synthesis between audio blocks; non-zero aborts. */
typedef int (*synth_cancel_fn)(void *arg);

/*
 * Speaks text with the given voice and writes the WAV file path.  When
 * voice is NULL or empty and language is not, the best voice for that
 * language is used ("unknown language '…'" when espeak has none).  When
 * both are empty, fallback_voice is used.  On failure a partial file is
 * removed and err says why.  *samples (when not NULL) receives the number
 * of samples written.
 */
enum synth_status synth_to_wav(const char *text, const char *voice,
    const char *language, const char *fallback_voice,
    const struct synth_params *params, const char *path, synth_cancel_fn cancel,
    void *cancel_arg, size_t *samples, char *err, size_t errlen);

/* Sample rate of the files synth_to_wav() writes (after synth_init()). */
int synth_rate(void);

#endif
