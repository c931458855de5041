/*
 * The pocketsphinx backend: LocalAI's AudioTranscription RPC on
 * pocketsphinx 5prealpha with an en-us model.
 *
 * LoadModel finds the model directory (DIR/en-us/, DIR/en-us.lm.bin,
 * DIR/cmudict-en-us.dict) in this order: ModelOptions.ModelFile when it
 * exists (LocalAI sets it to <models>/<model>), ModelOptions.ModelPath when
 * it holds that layout, else Debian's pocketsphinx-en-us
 * (`pkg-config --variable=modeldir pocketsphinx`/en-us, compiled in as
 * PS_DEFAULT_MODELDIR).  ModelOptions.Options "parallel:N" (1..16, default
 * 1) creates N decoders so N transcriptions run at once; each costs about
 * 90 MB and 0.25 s to load.
 *
 * AudioTranscription reads TranscriptRequest.dst (a WAV file, resampled to
 * 16 kHz mono) and answers the text and segments: runs of words without a
 * pause of 0.3 s or more, with start/end in nanoseconds from the start of
 * the audio (LocalAI's unit: its Go code reads them as time.Duration).
 * TranscriptRequest.language must be empty or English ("en", "en-us",
 * "en_US", "english"); the model has no other language.  translate,
 * diarize, prompt and threads are accepted and have no effect.
 *
 * Errors are gRPC statuses: missing file NOT_FOUND, not WAV audio or bad
 * language INVALID_ARGUMENT, no model FAILED_PRECONDITION, model not found
 * at load NOT_FOUND, decoder failure INTERNAL.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backends/common/backend.h"
#include "backends/pocketsphinx/decode.h"
#include "proto/log.h"

#ifndef PS_DEFAULT_MODELDIR
#define PS_DEFAULT_MODELDIR "/usr/share/pocketsphinx/model/en-us"
#endif

#define PS_MAX_PARALLEL 16

/*
 * One decoder per parallel slot.  load and free run alone (runtime rule),
 * so only the busy flags change while transcriptions run; they are taken
 * and released under ps_lock.
 */
static struct decoder *ps_slot[PS_MAX_PARALLEL];
static int ps_busy[PS_MAX_PARALLEL];
static int ps_nslots;
static pthread_mutex_t ps_lock = PTHREAD_MUTEX_INITIALIZER;

static void
ps_release_all(void)
{
	int i;

	for (i = 0; i < ps_nslots; i++) {
		decode_free(ps_slot[i]);
		ps_slot[i] = NULL;
		ps_busy[i] = 0;
	}
	ps_nslots = 0;
}

static int
ps_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Picks the model directory; see the top of this file for the order. */
static const char *
ps_model_dir(const Backend__ModelOptions *opts, char *buf, size_t len)
{
	struct decode_model probe;
	char err[256];

	if (opts->modelfile && *opts->modelfile &&
	    access(opts->modelfile, F_OK) == 0)
		return opts->modelfile;
	if (opts->modelpath && *opts->modelpath && ps_is_dir(opts->modelpath) &&
	    decode_model_dir(opts->modelpath, &probe, err, sizeof(err)) == 0)
		return opts->modelpath;
	snprintf(buf, len, "%s", PS_DEFAULT_MODELDIR);
	return buf;
}

/* Reads "parallel:N" from the options; -1 on a malformed value. */
static int
ps_parallel_option(
    struct be_ctx *ctx, const Backend__ModelOptions *opts, int *n)
{
	const char *o;
	char *end;
	long v;
	size_t i;

	*n = 1;
	for (i = 0; i < opts->n_options; i++) {
		o = opts->options[i];
		if (strncmp(o, "parallel:", 9) != 0) {
			log_warnx("ignoring unknown option '%s'", o);
			continue;
		}
		errno = 0;
		v = strtol(o + 9, &end, 10);
		if (errno || end == o + 9 || *end || v < 1 ||
		    v > PS_MAX_PARALLEL)
			return be_error(ctx, BE_INVALID_ARGUMENT,
			    "option %s: parallel must be 1..%d", o,
			    PS_MAX_PARALLEL);
		*n = (int)v;
	}
	return 0;
}

static int
ps_load(struct be_ctx *ctx, const Backend__ModelOptions *opts)
{
	struct decode_model model;
	const char *dir;
	char buf[1024], err[512], msg[1200];
	int n, i;

	ps_release_all();
	if (ps_parallel_option(ctx, opts, &n) == -1)
		return -1;
	dir = ps_model_dir(opts, buf, sizeof(buf));
	if (decode_model_dir(dir, &model, err, sizeof(err)) == -1)
		return be_error(ctx, BE_NOT_FOUND, "%s", err);
	for (i = 0; i < n; i++) {
		if ((ps_slot[i] = decode_new(&model, err, sizeof(err))) ==
		    NULL) {
			ps_release_all();
			return be_error(ctx, BE_INTERNAL, "%s", err);
		}
		ps_nslots = i + 1;
	}
	be_set_parallel(n);
	snprintf(msg, sizeof(msg),
	    "loaded pocketsphinx model %s (%d decoder%s)", dir, n,
	    n == 1 ? "" : "s");
	be_result_message(ctx, msg);
	log_info("%s", msg);
	return 0;
}

static int
ps_free_op(struct be_ctx *ctx)
{
	ps_release_all();
	return 0;
}

/*
 * Takes a free decoder.  The runtime runs at most ps_nslots transcriptions
 * at once, so one is always free while a model is loaded.
 */
static int
ps_acquire(void)
{
	int i, slot = -1;

	pthread_mutex_lock(&ps_lock);
	for (i = 0; i < ps_nslots && slot == -1; i++)
		if (!ps_busy[i])
			slot = i;
	if (slot != -1)
		ps_busy[slot] = 1;
	pthread_mutex_unlock(&ps_lock);
	return slot;
}

static void
ps_release(int slot)
{
	pthread_mutex_lock(&ps_lock);
	ps_busy[slot] = 0;
	pthread_mutex_unlock(&ps_lock);
}

/* The model speaks English only; accept the usual spellings of it. */
static int
ps_language_ok(const char *lang)
{
	if (lang == NULL || *lang == '\0')
		return 1;
	if (strcasecmp(lang, "english") == 0 || strcasecmp(lang, "en") == 0)
		return 1;
	return strncasecmp(lang, "en", 2) == 0 &&
	       (lang[2] == '-' || lang[2] == '_') &&
	       strcasecmp(lang + 3, "us") == 0;
}

static int
ps_cancelled(void *arg)
{
	return be_cancelled(arg);
}

/* Copies the transcript into the response (runtime-owned memory). */
static int
ps_fill_result(struct be_ctx *ctx, const struct transcript *t,
    Backend__TranscriptResult *res)
{
	static const Backend__TranscriptSegment init =
	    BACKEND__TRANSCRIPT_SEGMENT__INIT;
	Backend__TranscriptSegment *seg;
	size_t i;

	if ((res->text = be_strdup(ctx, t->text)) == NULL)
		return -1;
	if (t->nsegments == 0)
		return 0;
	res->segments = be_alloc(ctx, t->nsegments * sizeof(*res->segments));
	if (res->segments == NULL)
		return -1;
	for (i = 0; i < t->nsegments; i++) {
		if ((seg = be_alloc(ctx, sizeof(*seg))) == NULL)
			return -1;
		*seg = init;
		seg->id = (int32_t)i;
		seg->start = t->segments[i].start_ns;
		seg->end = t->segments[i].end_ns;
		if ((seg->text = be_strdup(ctx, t->segments[i].text)) == NULL)
			return -1;
		res->segments[i] = seg;
	}
	res->n_segments = t->nsegments;
	return 0;
}

static enum be_code
ps_code(enum decode_status st)
{
	switch (st) {
	case DECODE_NOT_FOUND:
		return BE_NOT_FOUND;
	case DECODE_BAD_INPUT:
		return BE_INVALID_ARGUMENT;
	case DECODE_CANCELLED:
		return BE_CANCELLED;
	default:
		return BE_INTERNAL;
	}
}

static int
ps_transcribe(struct be_ctx *ctx, const Backend__TranscriptRequest *req,
    Backend__TranscriptResult *res)
{
	struct transcript t;
	enum decode_status st;
	char err[1200];
	int slot, rc;

	if (!ps_language_ok(req->language))
		return be_error(ctx, BE_INVALID_ARGUMENT,
		    "language '%.32s' is "
		    "not available: this backend has only the en-us model",
		    req->language);
	if ((slot = ps_acquire()) == -1)
		return be_error(ctx, BE_FAILED_PRECONDITION,
		    "no model loaded: call LoadModel first");
	st = decode_file(
	    ps_slot[slot], req->dst, ps_cancelled, ctx, &t, err, sizeof(err));
	ps_release(slot);
	if (st != DECODE_OK)
		return be_error(ctx, ps_code(st), "%s", err);
	rc = ps_fill_result(ctx, &t, res);
	log_debug("transcribed %s: %.2f s of audio, %zu segments", req->dst,
	    (double)t.duration_ns / 1e9, t.nsegments);
	transcript_clear(&t);
	if (rc == -1)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	return 0;
}

static void
ps_fini(void)
{
	ps_release_all();
}

static const struct be_ops ps_ops = {
    .name = "pocketsphinx",
    .parallel = 1,
    .fini = ps_fini,
    .load = ps_load,
    .free = ps_free_op,
    .transcribe = ps_transcribe,
};

int
main(int argc, char **argv)
{
	return be_main(argc, argv, &ps_ops);
}
