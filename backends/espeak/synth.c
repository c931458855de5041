/*
 * espeak-ng synthesis into a memory buffer, then a WAV file: see synth.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/speak_lib.h>

#include "backends/espeak/synth.h"
#include "backends/espeak/wav.h"

/*
 * PCM collected by the synthesis callback.  espeak's callback has no user
 * pointer we control for synchronous output, hence a static buffer; the
 * module is single-threaded by contract (see synth.h).
 */
static struct {
	int16_t *pcm;
	size_t len;
	size_t cap;
	size_t max; /* SYNTH_MAX_SECONDS at the engine's rate */
	int overflow; /* out of memory or over max */
	synth_cancel_fn cancel;
	void *cancel_arg;
	int cancelled;
} synth_buf;

static int synth_sample_rate = -1;

static int
synth_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Grows synth_buf so that n more samples fit; -1 when it cannot. */
static int
synth_reserve(size_t n)
{
	size_t cap;
	int16_t *p;

	if (synth_buf.len + n <= synth_buf.cap)
		return 0;
	if (synth_buf.len + n > synth_buf.max)
		return -1;
	cap = synth_buf.cap ? synth_buf.cap : 22050;
	while (cap < synth_buf.len + n)
		cap *= 2;
	if (cap > synth_buf.max)
		cap = synth_buf.max;
	if ((p = realloc(synth_buf.pcm, cap * sizeof(*p))) == NULL)
		return -1;
	synth_buf.pcm = p;
	synth_buf.cap = cap;
	return 0;
}

/*
 * espeak calls this with each block of samples (wav == NULL at the end).
 * Returning 1 aborts the synthesis, which we do when the buffer cannot
 * grow or the caller's request was cancelled.
 */
static int
synth_callback(short *wav, int n, espeak_EVENT *events)
{
	if (synth_buf.cancel != NULL &&
	    synth_buf.cancel(synth_buf.cancel_arg)) {
		synth_buf.cancelled = 1;
		return 1;
	}
	if (wav == NULL || n <= 0)
		return 0;
	if (synth_reserve((size_t)n) == -1) {
		synth_buf.overflow = 1;
		return 1;
	}
	memcpy(synth_buf.pcm + synth_buf.len, wav, (size_t)n * sizeof(*wav));
	synth_buf.len += (size_t)n;
	return 0;
}

int
synth_init(char *err, size_t errlen)
{
	int rate;

	/* DONT_EXIT: without it espeak calls exit() when its data is missing. */
	rate = espeak_Initialize(
	    AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, espeakINITIALIZE_DONT_EXIT);
	if (rate <= 0)
		return synth_error(err, errlen,
		    "espeak-ng initialisation "
		    "failed (is espeak-ng-data installed?)");
	espeak_SetSynthCallback(synth_callback);
	synth_sample_rate = rate;
	synth_buf.max = (size_t)rate * SYNTH_MAX_SECONDS;
	return rate;
}

void
synth_terminate(void)
{
	if (synth_sample_rate > 0)
		espeak_Terminate();
	synth_sample_rate = -1;
	free(synth_buf.pcm);
	memset(&synth_buf, 0, sizeof(synth_buf));
}

int
synth_rate(void)
{
	return synth_sample_rate;
}

/* Is name the file name of an installed voice variant ("f3", "klatt")? */
static int
synth_variant_known(const char *name)
{
	const espeak_VOICE **v;
	espeak_VOICE spec;

	memset(&spec, 0, sizeof(spec));
	spec.languages = "variant";
	if ((v = espeak_ListVoices(&spec)) == NULL)
		return 0;
	for (; *v != NULL; v++)
		if ((*v)->identifier != NULL &&
		    strncmp((*v)->identifier, "!v/", 3) == 0 &&
		    strcmp((*v)->identifier + 3, name) == 0)
			return 1;
	return 0;
}

/*
 * Selects voice ("base[+variant]").  espeak_SetVoiceByName() accepts an
 * unknown variant silently and a failed call can leave a half-loaded
 * voice, so the variant is checked first and any failure is reported.
 */
static int
synth_select_voice(const char *voice, char *err, size_t errlen)
{
	const char *plus;

	if (voice == NULL || *voice == '\0' || strlen(voice) > 64)
		return synth_error(
		    err, errlen, "unknown voice '%.64s'", voice ? voice : "");
	if ((plus = strchr(voice, '+')) != NULL &&
	    !synth_variant_known(plus + 1))
		return synth_error(err, errlen,
		    "unknown voice variant '%s' in voice '%s'", plus + 1,
		    voice);
	if (espeak_SetVoiceByName(voice) != EE_OK)
		return synth_error(err, errlen, "unknown voice '%s'", voice);
	return 0;
}

int
synth_check_voice(const char *voice, char *err, size_t errlen)
{
	return synth_select_voice(voice, err, errlen);
}

/* Selects the best voice for language ("de", "en-gb"). */
static int
synth_select_language(const char *language, char *err, size_t errlen)
{
	espeak_VOICE spec;

	if (strlen(language) > 32)
		return synth_error(
		    err, errlen, "unknown language '%.32s'", language);
	memset(&spec, 0, sizeof(spec));
	spec.languages = language;
	if (espeak_SetVoiceByProperties(&spec) != EE_OK)
		return synth_error(
		    err, errlen, "unknown language '%s'", language);
	return 0;
}

/* Applies the voice rules of synth_to_wav() and the speaking params. */
static int
synth_prepare(const char *voice, const char *language,
    const char *fallback_voice, const struct synth_params *params, char *err,
    size_t errlen)
{
	int rc;

	if (voice != NULL && *voice != '\0')
		rc = synth_select_voice(voice, err, errlen);
	else if (language != NULL && *language != '\0')
		rc = synth_select_language(language, err, errlen);
	else
		rc = synth_select_voice(fallback_voice, err, errlen);
	if (rc == -1)
		return -1;
	/* Parameters are global too: reset them on every call. */
	if (espeak_SetParameter(espeakRATE,
	        params && params->rate ? params->rate : espeakRATE_NORMAL,
	        0) != EE_OK ||
	    espeak_SetParameter(espeakPITCH,
	        params && params->pitch ? params->pitch : 50, 0) != EE_OK)
		return synth_error(
		    err, errlen, "espeak-ng refused the speaking parameters");
	return 0;
}

/* Checks the request's strings; SYNTH_OK or SYNTH_BAD_REQUEST. */
static enum synth_status
synth_check_request(
    const char *text, const char *path, char *err, size_t errlen)
{
	if (synth_sample_rate <= 0) {
		synth_error(err, errlen, "espeak-ng is not initialised");
		return SYNTH_FAILED;
	}
	if (text == NULL || text[strspn(text, " \t\r\n")] == '\0') {
		synth_error(err, errlen, "no text to speak");
		return SYNTH_BAD_REQUEST;
	}
	if (path == NULL || *path == '\0') {
		synth_error(err, errlen, "no destination file (dst)");
		return SYNTH_BAD_REQUEST;
	}
	return SYNTH_OK;
}

/* Runs espeak over text into synth_buf; the caller checked the request. */
static enum synth_status
synth_run(const char *text, synth_cancel_fn cancel, void *cancel_arg, char *err,
    size_t errlen)
{
	espeak_ERROR rc;

	synth_buf.len = 0;
	synth_buf.overflow = 0;
	synth_buf.cancelled = 0;
	synth_buf.cancel = cancel;
	synth_buf.cancel_arg = cancel_arg;
	rc = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
	    espeakCHARS_UTF8, NULL, NULL);
	if (rc == EE_OK)
		rc = espeak_Synchronize();
	synth_buf.cancel = NULL;
	if (synth_buf.cancelled) {
		synth_error(err, errlen, "synthesis cancelled");
		return SYNTH_CANCELLED;
	}
	if (synth_buf.overflow) {
		synth_error(err, errlen,
		    "text too long: the audio would "
		    "exceed %d seconds or the memory available",
		    SYNTH_MAX_SECONDS);
		return SYNTH_TOO_LONG;
	}
	if (rc != EE_OK || synth_buf.len == 0) {
		synth_error(err, errlen,
		    "espeak-ng synthesis failed (error %d, %zu samples)",
		    (int)rc, synth_buf.len);
		return SYNTH_FAILED;
	}
	return SYNTH_OK;
}

enum synth_status
synth_to_wav(const char *text, const char *voice, const char *language,
    const char *fallback_voice, const struct synth_params *params,
    const char *path, synth_cancel_fn cancel, void *cancel_arg, size_t *samples,
    char *err, size_t errlen)
{
	enum synth_status st;
	int saved;

	if ((st = synth_check_request(text, path, err, errlen)) != SYNTH_OK)
		return st;
	if (synth_prepare(
	        voice, language, fallback_voice, params, err, errlen) == -1)
		return SYNTH_BAD_REQUEST;
	if ((st = synth_run(text, cancel, cancel_arg, err, errlen)) != SYNTH_OK)
		return st;
	if (wav_write_file(path, synth_buf.pcm, synth_buf.len,
	        (uint32_t)synth_sample_rate) == -1) {
		saved = errno;
		synth_error(
		    err, errlen, "cannot write %s: %s", path, strerror(saved));
		errno = saved;
		return SYNTH_WRITE_FAILED;
	}
	if (samples != NULL)
		*samples = synth_buf.len;
	return SYNTH_OK;
}
