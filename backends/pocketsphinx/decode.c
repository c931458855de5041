/*
 * pocketsphinx decoding: see decode.h.
 *
 * Word times come from ps_seg_iter() frames (100 frames per second by
 * default, read from the configuration).  -remove_silence is turned off
 * because 5prealpha's voice-activity detector shifts the reported frames
 * (see split.h); the decoder then spends a little time on silences, which
 * it labels <sil> and which we drop.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pocketsphinx.h>

#include "backends/pocketsphinx/decode.h"
#include "backends/pocketsphinx/resample.h"
#include "backends/pocketsphinx/split.h"
#include "backends/pocketsphinx/wavread.h"

/* Samples handed to ps_process_raw() between two cancellation checks. */
#define DECODE_BLOCK 4096

struct decoder {
	cmd_ln_t *config;
	ps_decoder_t *ps;
	int frame_rate; /* feature frames per second */
	/*
	 * The live cepstral mean as loaded.  pocketsphinx adapts it, and its
	 * noise estimate, across utterances, so without a reset one
	 * request's audio would change the next request's transcript
	 * (measured: the same file decoded as "what a free for five", then
	 * "one two three four five").  Every decode_pcm() starts a new stream
	 * (noise estimate reset) from this cepstral mean.
	 */
	mfcc_t cmn_initial[64];
	int cmn_len;
};

/* One recognised word with its times, before grouping into segments. */
struct word {
	char *text;
	int64_t start_ns;
	int64_t end_ns;
};

struct words {
	struct word *v;
	size_t n;
	size_t cap;
};

static int
decode_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Builds dir/name into out and checks it exists with the wanted type. */
static int
decode_model_part(char *out, size_t outlen, const char *dir, const char *name,
    int want_dir, char *err, size_t errlen)
{
	struct stat st;
	int n;

	n = snprintf(out, outlen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outlen)
		return decode_error(
		    err, errlen, "model path too long: %s/%s", dir, name);
	if (stat(out, &st) == -1)
		return decode_error(err, errlen,
		    "model directory %s has no %s: %s", dir, name,
		    strerror(errno));
	if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return decode_error(err, errlen, "model part %s is not a %s",
		    out, want_dir ? "directory" : "file");
	return 0;
}

int
decode_model_dir(
    const char *dir, struct decode_model *m, char *err, size_t errlen)
{
	char mdef[1100];

	if (dir == NULL || *dir == '\0')
		return decode_error(err, errlen, "no model directory");
	if (decode_model_part(
	        m->hmm, sizeof(m->hmm), dir, "en-us", 1, err, errlen) == -1 ||
	    decode_model_part(
	        mdef, sizeof(mdef), m->hmm, "mdef", 0, err, errlen) == -1 ||
	    decode_model_part(m->lm, sizeof(m->lm), dir, "en-us.lm.bin", 0, err,
	        errlen) == -1 ||
	    decode_model_part(m->dict, sizeof(m->dict), dir,
	        "cmudict-en-us.dict", 0, err, errlen) == -1)
		return -1;
	return 0;
}

/* Remembers the initial cepstral mean (see struct decoder). */
static void
decode_save_cmn(struct decoder *d)
{
	feat_t *feat = ps_get_feat(d->ps);

	d->cmn_len = 0;
	if (feat == NULL || feat->cmn_struct == NULL ||
	    feat->cmn_struct->veclen <= 0 ||
	    feat->cmn_struct->veclen >
	        (int)(sizeof(d->cmn_initial) / sizeof(d->cmn_initial[0])))
		return;
	cmn_live_get(feat->cmn_struct, d->cmn_initial);
	d->cmn_len = feat->cmn_struct->veclen;
}

static void
decode_reset_cmn(struct decoder *d)
{
	feat_t *feat = ps_get_feat(d->ps);

	if (d->cmn_len > 0 && feat != NULL && feat->cmn_struct != NULL)
		cmn_live_set(feat->cmn_struct, d->cmn_initial);
}

struct decoder *
decode_new(const struct decode_model *m, char *err, size_t errlen)
{
	struct decoder *d;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		decode_error(err, errlen, "out of memory");
		return NULL;
	}
	/* -logfn: pocketsphinx logs pages of INFO lines to stderr else. */
	d->config = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", m->hmm, "-lm",
	    m->lm, "-dict", m->dict, "-remove_silence", "no", "-logfn",
	    "/dev/null", NULL);
	if (d->config == NULL) {
		decode_error(
		    err, errlen, "pocketsphinx rejected its configuration");
		free(d);
		return NULL;
	}
	if ((d->ps = ps_init(d->config)) == NULL) {
		decode_error(err, errlen,
		    "pocketsphinx could not load the model in %s", m->hmm);
		cmd_ln_free_r(d->config);
		free(d);
		return NULL;
	}
	d->frame_rate = cmd_ln_int32_r(d->config, "-frate");
	if (d->frame_rate <= 0)
		d->frame_rate = 100;
	decode_save_cmn(d);
	return d;
}

void
decode_free(struct decoder *d)
{
	if (d == NULL)
		return;
	ps_free(d->ps);
	cmd_ln_free_r(d->config);
	free(d);
}

void
transcript_clear(struct transcript *t)
{
	size_t i;

	for (i = 0; i < t->nsegments; i++)
		free(t->segments[i].text);
	free(t->segments);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static void
words_clear(struct words *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->v[i].text);
	free(w->v);
	memset(w, 0, sizeof(*w));
}

/*
 * Fillers (<s>, </s>, <sil>, [NOISE], ++BREATH++) are not words of the
 * transcript.
 */
static int
decode_is_filler(const char *word)
{
	return word[0] == '<' || word[0] == '[' || strncmp(word, "++", 2) == 0;
}

/* Appends word (without its "(2)" alternate-pronunciation suffix). */
static int
words_add(struct words *w, const char *word, int64_t start_ns, int64_t end_ns)
{
	size_t len = strcspn(word, "(");
	struct word *v;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		if ((v = reallocarray(w->v, w->cap, sizeof(*v))) == NULL)
			return -1;
		w->v = v;
	}
	if ((w->v[w->n].text = strndup(word, len)) == NULL)
		return -1;
	w->v[w->n].start_ns = start_ns;
	w->v[w->n].end_ns = end_ns;
	w->n++;
	return 0;
}

/*
 * Frame of the utterance's first segment.  5prealpha numbers frames from
 * the decoder's creation, not from ps_start_utt() (measured: the second
 * utterance of a decoder starts at frame 269, the third at 547), and the
 * first segment (<s>, which spans the leading silence since -remove_silence
 * is off) begins at the utterance's first frame.
 */
static int
decode_first_frame(ps_decoder_t *ps)
{
	ps_seg_t *seg;
	int sf, ef, first = -1;

	for (seg = ps_seg_iter(ps); seg != NULL; seg = ps_seg_next(seg)) {
		ps_seg_frames(seg, &sf, &ef);
		if (first == -1 || sf < first)
			first = sf;
	}
	return first < 0 ? 0 : first;
}

/* Collects the words of the utterance just ended, offset by offset_ns. */
static int
decode_collect(struct decoder *d, int64_t offset_ns, struct words *w)
{
	const char *word;
	ps_seg_t *seg;
	int sf, ef, base;
	int64_t ns_per_frame = 1000000000LL / d->frame_rate;

	base = decode_first_frame(d->ps);
	for (seg = ps_seg_iter(d->ps); seg != NULL; seg = ps_seg_next(seg)) {
		word = ps_seg_word(seg);
		if (word == NULL || decode_is_filler(word))
			continue;
		ps_seg_frames(seg, &sf, &ef);
		if (words_add(w, word, offset_ns + (sf - base) * ns_per_frame,
		        offset_ns + (ef + 1 - base) * ns_per_frame) == -1) {
			ps_seg_free(seg);
			return -1;
		}
	}
	return 0;
}

/* Decodes pcm[0..n) as one utterance starting at offset_ns. */
static enum decode_status
decode_utterance(struct decoder *d, const int16_t *pcm, size_t n,
    int64_t offset_ns, decode_cancel_fn cancel, void *cancel_arg,
    struct words *w, char *err, size_t errlen)
{
	size_t i, k;

	if (ps_start_utt(d->ps) < 0) {
		decode_error(
		    err, errlen, "pocketsphinx cannot start an utterance");
		return DECODE_FAILED;
	}
	for (i = 0; i < n; i += k) {
		k = n - i < DECODE_BLOCK ? n - i : DECODE_BLOCK;
		if (cancel != NULL && cancel(cancel_arg)) {
			ps_end_utt(d->ps);
			decode_error(err, errlen, "transcription cancelled");
			return DECODE_CANCELLED;
		}
		if (ps_process_raw(d->ps, pcm + i, k, FALSE, FALSE) < 0) {
			ps_end_utt(d->ps);
			decode_error(err, errlen,
			    "pocketsphinx failed to process the audio");
			return DECODE_FAILED;
		}
	}
	if (ps_end_utt(d->ps) < 0 || decode_collect(d, offset_ns, w) == -1) {
		decode_error(
		    err, errlen, "pocketsphinx failed to finish the utterance");
		return DECODE_FAILED;
	}
	return DECODE_OK;
}

/* Appends " word" (or "word" at the start) to the string *s. */
static int
str_append_word(char **s, size_t *len, const char *word)
{
	size_t wl = strlen(word), sep = *len ? 1 : 0;
	char *p;

	if ((p = realloc(*s, *len + sep + wl + 1)) == NULL)
		return -1;
	if (sep)
		p[(*len)++] = ' ';
	memcpy(p + *len, word, wl + 1);
	*len += wl;
	*s = p;
	return 0;
}

/*
 * Groups words into segments at pauses of DECODE_PAUSE_NS or more and
 * builds the full text.  An empty transcript (silence) has text "" and no
 * segments.
 */
static int
decode_group(const struct words *w, struct transcript *t)
{
	struct transcript_segment *seg = NULL;
	size_t i, text_len = 0, seg_len = 0;

	if ((t->text = strdup("")) == NULL)
		return -1;
	if (w->n > 0 &&
	    (t->segments = calloc(w->n, sizeof(*t->segments))) == NULL)
		return -1;
	for (i = 0; i < w->n; i++) {
		if (seg == NULL ||
		    w->v[i].start_ns - seg->end_ns >= DECODE_PAUSE_NS) {
			seg = &t->segments[t->nsegments++];
			seg->start_ns = w->v[i].start_ns;
			seg_len = 0;
		}
		seg->end_ns = w->v[i].end_ns;
		if (str_append_word(&seg->text, &seg_len, w->v[i].text) == -1 ||
		    str_append_word(&t->text, &text_len, w->v[i].text) == -1)
			return -1;
	}
	return 0;
}

enum decode_status
decode_pcm(struct decoder *d, const int16_t *pcm, size_t n,
    decode_cancel_fn cancel, void *cancel_arg, struct transcript *out,
    char *err, size_t errlen)
{
	struct words w = {0};
	enum decode_status st = DECODE_OK;
	size_t start, end;

	memset(out, 0, sizeof(*out));
	/* A new stream resets the noise estimate; see struct decoder. */
	if (ps_start_stream(d->ps) < 0) {
		decode_error(err, errlen, "pocketsphinx cannot start a stream");
		return DECODE_FAILED;
	}
	decode_reset_cmn(d);
	for (start = 0; start < n && st == DECODE_OK; start = end) {
		end = split_next(pcm, n, start, DECODE_RATE);
		st = decode_utterance(d, pcm + start, end - start,
		    (int64_t)start * 1000000000LL / DECODE_RATE, cancel,
		    cancel_arg, &w, err, errlen);
	}
	if (st == DECODE_OK && decode_group(&w, out) == -1) {
		decode_error(err, errlen, "out of memory");
		st = DECODE_FAILED;
	}
	words_clear(&w);
	if (st != DECODE_OK)
		transcript_clear(out);
	else
		out->duration_ns = (int64_t)n * 1000000000LL / DECODE_RATE;
	return st;
}

/* Reads the whole regular file path into *buf (malloc'ed). */
static enum decode_status
decode_read_file(
    const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		decode_error(err, errlen, "cannot open audio file %s: %s", path,
		    strerror(errno));
		return errno == ENOENT ? DECODE_NOT_FOUND : DECODE_BAD_INPUT;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > DECODE_MAX_FILE_BYTES) {
		decode_error(err, errlen,
		    "audio file %s is not a regular file of at most %u MiB",
		    path, DECODE_MAX_FILE_BYTES >> 20);
		close(fd);
		return DECODE_BAD_INPUT;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		decode_error(err, errlen, "out of memory");
		return DECODE_FAILED;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, *buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return DECODE_OK;
}

/*
 * Converts parsed WAV audio to 16 kHz mono int16 (*pcm, *n), freeing the
 * file buffer *buf (which wi points into) as soon as it is no longer
 * needed, to bound the peak memory.  Returns 0 or -1 on memory exhaustion.
 */
static int
decode_convert(
    const struct wav_info *wi, uint8_t **buf, int16_t **pcm, size_t *n)
{
	float *mono, *rs;

	mono = wav_to_mono_float(wi);
	free(*buf);
	*buf = NULL;
	if (mono == NULL)
		return -1;
	if (wi->rate == DECODE_RATE) {
		rs = mono;
		*n = wi->frames;
	} else {
		rs = resample(mono, wi->frames, wi->rate, DECODE_RATE, n);
		free(mono);
		if (rs == NULL)
			return -1;
	}
	if ((*pcm = malloc(*n * sizeof(**pcm))) == NULL) {
		free(rs);
		return -1;
	}
	resample_to_s16(rs, *n, *pcm);
	free(rs);
	return 0;
}

enum decode_status
decode_file(struct decoder *d, const char *path, decode_cancel_fn cancel,
    void *cancel_arg, struct transcript *out, char *err, size_t errlen)
{
	struct wav_info wi;
	enum decode_status st;
	uint8_t *buf = NULL;
	int16_t *pcm = NULL;
	size_t len = 0, n = 0;
	char why[200];

	memset(out, 0, sizeof(*out));
	if (path == NULL || *path == '\0') {
		decode_error(err, errlen, "no audio file given (dst is empty)");
		return DECODE_BAD_INPUT;
	}
	if ((st = decode_read_file(path, &buf, &len, err, errlen)) != DECODE_OK)
		return st;
	if (wav_parse(buf, len, &wi, why, sizeof(why)) == -1) {
		decode_error(err, errlen, "%s: %s", path, why);
		free(buf);
		return DECODE_BAD_INPUT;
	}
	if (decode_convert(&wi, &buf, &pcm, &n) == -1) {
		decode_error(err, errlen, "out of memory converting %s", path);
		return DECODE_FAILED;
	}
	st = decode_pcm(d, pcm, n, cancel, cancel_arg, out, err, errlen);
	free(pcm);
	return st;
}
