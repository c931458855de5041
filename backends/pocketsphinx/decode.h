/*
 * Speech to text with pocketsphinx 5prealpha (the "old" ps_* API) and the
 * Debian en-us model: WAV file in, transcript with timed segments out.
 *
 * A struct decoder owns one ps_decoder_t.  pocketsphinx decoders are not
 * thread-safe, so each parallel slot of the backend gets its own decoder;
 * one decoder is used by one thread at a time.
 */
#ifndef BACKENDS_POCKETSPHINX_DECODE_H
#define BACKENDS_POCKETSPHINX_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* The rate and format pocketsphinx's en-us acoustic model expects. */
#define DECODE_RATE 16000

/*
 * Largest WAV file AudioTranscription reads: 2.3 h of 16 kHz mono 16-bit,
 * 23 min of 48 kHz stereo.  Conversion holds the file and its float copy
 * at once: the peak is about 3 times the size of a 16 kHz mono file.
 */
#define DECODE_MAX_FILE_BYTES (256u << 20)

/*
 * One segment: consecutive words without a pause of DECODE_PAUSE_NS or
 * more between them.  Times are nanoseconds from the start of the audio,
 * LocalAI's unit for TranscriptSegment.start/end (Go time.Duration).
 */
#define DECODE_PAUSE_NS 300000000LL

struct transcript_segment {
	int64_t start_ns;
	int64_t end_ns;
	char *text;
};

struct transcript {
	char *text; /* all words, space separated */
	struct transcript_segment *segments;
	size_t nsegments;
	int64_t duration_ns; /* length of the audio */
};

/* Paths of the three model parts pocketsphinx loads. */
struct decode_model {
	char hmm[1024]; /* acoustic model directory (has mdef) */
	char lm[1024]; /* language model, en-us.lm.bin */
	char dict[1024]; /* pronunciation dictionary */
};

/*
 * Called between blocks of audio; a non-zero return abandons the decode
 * (a cancelled or timed-out request).
 */
typedef int (*decode_cancel_fn)(void *arg);

/* Outcome of decode_pcm() and decode_file(); the message is in err. */
enum decode_status {
	DECODE_OK = 0,
	DECODE_NOT_FOUND, /* the audio file does not exist */
	DECODE_BAD_INPUT, /* unreadable, not WAV audio, bad encoding */
	DECODE_CANCELLED, /* cancel() returned non-zero */
	DECODE_FAILED /* pocketsphinx or memory failure */
};

struct decoder;

/*
 * Fills *m from a model directory laid out like Debian's pocketsphinx-en-us
 * (DIR/en-us/, DIR/en-us.lm.bin, DIR/cmudict-en-us.dict), checking that
 * each part exists.  Returns 0, or -1 with a reason in err.
 */
int decode_model_dir(
    const char *dir, struct decode_model *m, char *err, size_t errlen);

/* Loads the model; NULL with a reason in err on failure. */
struct decoder *decode_new(
    const struct decode_model *m, char *err, size_t errlen);
void decode_free(struct decoder *d);

/*
 * Decodes n samples of 16 kHz mono audio into *out (free it with
 * transcript_clear()).  On failure *out is empty and err says why.
 */
enum decode_status decode_pcm(struct decoder *d, const int16_t *pcm, size_t n,
    decode_cancel_fn cancel, void *cancel_arg, struct transcript *out,
    char *err, size_t errlen);

/*
 * Reads the WAV file path (any layout wavread.h accepts), converts it to
 * 16 kHz mono and decodes it.  A missing file, a directory, a file that is
 * not WAV audio or an unsupported encoding give DECODE_NOT_FOUND or
 * DECODE_BAD_INPUT with a message for the user.
 */
enum decode_status decode_file(struct decoder *d, const char *path,
    decode_cancel_fn cancel, void *cancel_arg, struct transcript *out,
    char *err, size_t errlen);

void transcript_clear(struct transcript *t);

#endif
