/*
 * The espeak backend: LocalAI's TTS RPC on libespeak-ng.
 *
 * LoadModel: ModelOptions.Model names the default voice ("en-us",
 * "en-us+f3"; empty means SYNTH_DEFAULT_VOICE).  ModelOptions.Options may
 * carry "rate:WPM" (80..450) and "pitch:N" (0..100); other options are
 * ignored with a warning, since a model configuration may hold options
 * meant for other backends.
 *
 * TTS: speaks TTSRequest.text and writes a 16-bit PCM mono WAV at the
 * engine's rate (22050 Hz) to TTSRequest.dst.  TTSRequest.voice overrides
 * the loaded voice; else TTSRequest.language picks espeak's best voice for
 * that language; TTSRequest.model is ignored (the process serves one
 * model).
 *
 * Errors are gRPC statuses (be_error), as LocalAI's Go backends answer:
 * unknown voice/variant/language, empty text, empty or unwritable dst →
 * INVALID_ARGUMENT with "unknown voice 'x'" and the like; TTS before
 * LoadModel → FAILED_PRECONDITION.
 *
 * espeak-ng keeps its state in globals, so the backend runs one call at a
 * time (parallel = 1); the runtime queues the others in arrival order.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/backend.h"
#include "backends/espeak/synth.h"
#include "proto/log.h"

/* The loaded "model": default voice and speaking parameters. */
static char espeak_voice[80];
static struct synth_params espeak_params;
static int espeak_loaded;

static int
espeak_init(void)
{
	char err[256];

	if (synth_init(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

static void
espeak_fini(void)
{
	synth_terminate();
}

/* Parses "key:N" with lo <= N <= hi into *out; 0, or -1 if malformed. */
static int
espeak_int_option(const char *value, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
espeak_parse_options(struct be_ctx *ctx, const Backend__ModelOptions *opts,
    struct synth_params *p)
{
	const char *o;
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < opts->n_options; i++) {
		o = opts->options[i];
		if (strncmp(o, "rate:", 5) == 0) {
			if (espeak_int_option(o + 5, 80, 450, &p->rate) == -1)
				return be_error(ctx, BE_INVALID_ARGUMENT,
				    "option %s: rate must be 80..450 words "
				    "per minute",
				    o);
		} else if (strncmp(o, "pitch:", 6) == 0) {
			if (espeak_int_option(o + 6, 0, 100, &p->pitch) == -1)
				return be_error(ctx, BE_INVALID_ARGUMENT,
				    "option %s: pitch must be 0..100", o);
		} else
			log_warnx("ignoring unknown option '%s'", o);
	}
	return 0;
}

static int
espeak_load(struct be_ctx *ctx, const Backend__ModelOptions *opts)
{
	const char *voice =
	    opts->model && *opts->model ? opts->model : SYNTH_DEFAULT_VOICE;
	struct synth_params params;
	char err[256], msg[160];

	espeak_loaded = 0;
	if (espeak_parse_options(ctx, opts, &params) == -1)
		return -1;
	if (strlen(voice) >= sizeof(espeak_voice))
		return be_error(
		    ctx, BE_INVALID_ARGUMENT, "unknown voice '%.64s'", voice);
	if (synth_check_voice(voice, err, sizeof(err)) == -1)
		return be_error(ctx, BE_INVALID_ARGUMENT, "%s", err);
	snprintf(espeak_voice, sizeof(espeak_voice), "%s", voice);
	espeak_params = params;
	espeak_loaded = 1;
	snprintf(msg, sizeof(msg), "loaded espeak-ng voice %s (%d Hz)",
	    espeak_voice, synth_rate());
	be_result_message(ctx, msg);
	log_info("%s", msg);
	return 0;
}

static int
espeak_free(struct be_ctx *ctx)
{
	espeak_loaded = 0;
	return 0;
}

/* The runtime's cancellation flag, polled by the synthesis callback. */
static int
espeak_cancelled(void *arg)
{
	return be_cancelled(arg);
}

/* The gRPC status for a synthesis failure. */
static enum be_code
espeak_code(enum synth_status st, int saved_errno)
{
	switch (st) {
	case SYNTH_BAD_REQUEST:
	case SYNTH_TOO_LONG:
		return BE_INVALID_ARGUMENT;
	case SYNTH_WRITE_FAILED:
		return saved_errno == ENOSPC || saved_errno == EDQUOT
		           ? BE_RESOURCE_EXHAUSTED
		           : BE_INVALID_ARGUMENT;
	case SYNTH_CANCELLED:
		return BE_CANCELLED;
	default:
		return BE_INTERNAL;
	}
}

static int
espeak_tts(struct be_ctx *ctx, const Backend__TTSRequest *req)
{
	enum synth_status st;
	char err[512], msg[160];
	size_t samples;

	if (!espeak_loaded)
		return be_error(ctx, BE_FAILED_PRECONDITION,
		    "no voice loaded: call LoadModel first");
	st = synth_to_wav(req->text, req->voice, req->language, espeak_voice,
	    &espeak_params, req->dst, espeak_cancelled, ctx, &samples, err,
	    sizeof(err));
	if (st != SYNTH_OK)
		return be_error(ctx, espeak_code(st, errno), "%s", err);
	snprintf(msg, sizeof(msg), "wrote %zu samples (%.2f s at %d Hz)",
	    samples, (double)samples / synth_rate(), synth_rate());
	be_result_message(ctx, msg);
	return 0;
}

static const struct be_ops espeak_ops = {
    .name = "espeak",
    .parallel = 1,
    .init = espeak_init,
    .fini = espeak_fini,
    .load = espeak_load,
    .free = espeak_free,
    .tts = espeak_tts,
};

int
main(int argc, char **argv)
{
	return be_main(argc, argv, &espeak_ops);
}
