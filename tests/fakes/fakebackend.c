/*
 * fakebackend: a test-only backend on the real runtime (never shipped).
 * Its behaviour is chosen by options, from FAKE_BACKEND_OPTIONS at start
 * (comma-separated, for tests that never call LoadModel) and then from
 * LoadModel's ModelOptions.Options strings ("key=value" or "key:value"),
 * which replace the environment's settings one by one:
 *
 *   tokens=N        PredictStream sends N tokens "t0 ", "t1 ", … (default 5)
 *   rate_ms=N       wait N ms before each token (cancellable)
 *   crash_after=K   abort() once K tokens were sent (0: at once)
 *   hang            Predict/PredictStream/Embedding/TTS/transcribe never
 *                   return and ignore cancellation (a wedged backend)
 *   hang_health     Health never answers either
 *   hang_load       LoadModel never returns
 *   fail_load       LoadModel fails (FAILED_PRECONDITION)
 *   fail_health     Health fails (UNAVAILABLE)
 *   echo            replies repeat the prompt: the stream sends its words
 *   delay_ms=N      every unary inference op takes N ms (cancellable)
 *   load_ms=N       LoadModel takes N ms (cancellable)
 *   dim=N           embedding dimension (default 8)
 *   parallel=N      calls served at once (be_set_parallel)
 *
 * Deterministic answers: Predict returns what the stream would send
 * concatenated; Embedding a vector derived from the prompt's FNV-1a hash;
 * TokenizeString one FNV-derived id per word; TTS a WAV file (16 kHz mono
 * PCM16, a 440 Hz tone, 0.1 s per word) at dst; AudioTranscription
 * "fake transcript of N bytes" for the file at dst.
 *
 * With FAKE_BACKEND_EVENTS=PATH each stream appends one line to PATH when it
 * ends: "stream done N", "stream cancelled N" (N tokens sent), so tests can
 * check that the backend itself saw a cancellation.
 */
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/common/backend.h"
#include "proto/log.h"

struct fake_conf {
	int tokens, rate_ms, crash_after, delay_ms, load_ms, dim, parallel;
	int hang, hang_health, hang_load, fail_load, fail_health, echo;
};

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fake_conf fake_env;	/* from the environment */
static struct fake_conf fake;		/* in force (env + LoadModel) */

static void
fake_defaults(struct fake_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->tokens = 5;
	c->crash_after = -1;
	c->dim = 8;
}

static int
fake_num(const char *v, int *out)
{
	char *end;
	long n;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > 100000000)
		return -1;
	*out = (int)n;
	return 0;
}

/* The options: a number (flag == 0) or a flag set by its presence. */
static const struct {
	const char *key;
	size_t off;
	int flag;
} fake_keys[] = {
	{ "tokens", offsetof(struct fake_conf, tokens), 0 },
	{ "rate_ms", offsetof(struct fake_conf, rate_ms), 0 },
	{ "crash_after", offsetof(struct fake_conf, crash_after), 0 },
	{ "delay_ms", offsetof(struct fake_conf, delay_ms), 0 },
	{ "load_ms", offsetof(struct fake_conf, load_ms), 0 },
	{ "dim", offsetof(struct fake_conf, dim), 0 },
	{ "parallel", offsetof(struct fake_conf, parallel), 0 },
	{ "hang", offsetof(struct fake_conf, hang), 1 },
	{ "hang_health", offsetof(struct fake_conf, hang_health), 1 },
	{ "hang_load", offsetof(struct fake_conf, hang_load), 1 },
	{ "fail_load", offsetof(struct fake_conf, fail_load), 1 },
	{ "fail_health", offsetof(struct fake_conf, fail_health), 1 },
	{ "echo", offsetof(struct fake_conf, echo), 1 },
};

/* Apply one option; -1 for an unknown option or a bad number. */
static int
fake_option(struct fake_conf *c, const char *opt)
{
	size_t i, n = strcspn(opt, "=:");
	const char *v = opt[n] != '\0' ? opt + n + 1 : NULL;
	int *field;

	for (i = 0; i < sizeof(fake_keys) / sizeof(fake_keys[0]); i++) {
		if (strlen(fake_keys[i].key) != n ||
		    strncmp(fake_keys[i].key, opt, n) != 0)
			continue;
		field = (int *)(void *)((char *)c + fake_keys[i].off);
		if (fake_keys[i].flag) {
			*field = 1;
			return 0;
		}
		return fake_num(v, field);
	}
	return -1;
}

static struct fake_conf
fake_get(void)
{
	struct fake_conf c;

	pthread_mutex_lock(&fake_mu);
	c = fake;
	pthread_mutex_unlock(&fake_mu);
	return c;
}

static void
fake_event(const char *what, int n)
{
	const char *path = getenv("FAKE_BACKEND_EVENTS");
	char line[64];
	int fd, len;

	if (path == NULL)
		return;
	len = snprintf(line, sizeof(line), "stream %s %d\n", what, n);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0644)) == -1) {
		log_warn("%s", path);
		return;
	}
	if (write(fd, line, (size_t)len) != len)
		log_warn("%s", path);
	close(fd);
}

/* A wedged backend: never returns, ignores cancellation. */
static void
fake_hang(void)
{
	for (;;)
		sleep(60);
}

static void
fake_crash(int sent)
{
	struct rlimit rl = { 0, 0 };

	log_warnx("crashing on purpose after %d tokens", sent);
	(void)setrlimit(RLIMIT_CORE, &rl);	/* no core file */
	abort();
}

static uint32_t
fake_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Number of space-separated words in s. */
static int
fake_words(const char *s)
{
	int n = 0;

	for (;;) {
		s += strspn(s, " ");
		if (*s == '\0')
			return n;
		n++;
		s += strcspn(s, " ");
	}
}

/* Token i of a reply, written into buf: "t<i> " or the prompt's word i. */
static void
fake_token(const struct fake_conf *c, const char *prompt, int i, char *buf,
    size_t size)
{
	size_t n;

	if (!c->echo) {
		snprintf(buf, size, "t%d ", i);
		return;
	}
	for (;;) {
		prompt += strspn(prompt, " ");
		n = strcspn(prompt, " ");
		if (i-- == 0)
			break;
		prompt += n;
	}
	snprintf(buf, size, "%.*s ", (int)n, prompt);
}

static int
fake_ntokens(const struct fake_conf *c, const char *prompt)
{
	return c->echo ? fake_words(prompt) : c->tokens;
}

static int
fake_init(void)
{
	const char *env = getenv("FAKE_BACKEND_OPTIONS");
	char *copy, *opt, *save = NULL;

	fake_defaults(&fake_env);
	if (env != NULL) {
		if ((copy = strdup(env)) == NULL)
			return -1;
		for (opt = strtok_r(copy, ", ", &save); opt != NULL;
		    opt = strtok_r(NULL, ", ", &save))
			if (fake_option(&fake_env, opt) == -1)
				log_warnx("FAKE_BACKEND_OPTIONS: bad option "
				    "\"%s\" ignored", opt);
		free(copy);
	}
	fake = fake_env;
	if (fake.parallel > 0)
		be_set_parallel(fake.parallel);
	if (fake.hang_load)
		fake_hang();
	return 0;
}

static int
fake_health(struct be_ctx *ctx)
{
	struct fake_conf c = fake_get();

	if (c.hang_health)
		fake_hang();
	if (c.fail_health)
		return be_error(ctx, BE_UNAVAILABLE,
		    "fake: health failure requested");
	return 0;
}

static int
fake_load(struct be_ctx *ctx, const Backend__ModelOptions *o)
{
	struct fake_conf c = fake_env;
	size_t i;

	for (i = 0; i < o->n_options; i++)
		if (fake_option(&c, o->options[i]) == -1)
			return be_error(ctx, BE_INVALID_ARGUMENT,
			    "fake: bad option \"%s\"", o->options[i]);
	if (c.hang_load)
		fake_hang();
	if (c.load_ms > 0 && be_sleep(ctx, c.load_ms) == -1)
		return be_error(ctx, BE_CANCELLED, "cancelled");
	if (c.fail_load)
		return be_error(ctx, BE_FAILED_PRECONDITION,
		    "fake: load failure requested for model \"%s\"", o->model);
	pthread_mutex_lock(&fake_mu);
	fake = c;
	pthread_mutex_unlock(&fake_mu);
	if (c.parallel > 0)
		be_set_parallel(c.parallel);
	be_result_message(ctx, "fake model loaded");
	return 0;
}

static int
fake_free(struct be_ctx *ctx)
{
	pthread_mutex_lock(&fake_mu);
	fake = fake_env;
	pthread_mutex_unlock(&fake_mu);
	return 0;
}

/* The common start of every inference op: hang, or the unary delay. */
static int
fake_begin(struct be_ctx *ctx, const struct fake_conf *c, int unary)
{
	if (c->hang)
		fake_hang();
	if (unary && c->delay_ms > 0 && be_sleep(ctx, c->delay_ms) == -1)
		return be_error(ctx, BE_CANCELLED, "cancelled");
	return 0;
}

static int
fake_predict(struct be_ctx *ctx, const Backend__PredictOptions *req,
    Backend__Reply *reply)
{
	struct fake_conf c = fake_get();
	int i, n = fake_ntokens(&c, req->prompt);
	size_t len = 0, size;
	char tok[256], *out;

	if (fake_begin(ctx, &c, 1) == -1)
		return -1;
	if (c.crash_after == 0)
		fake_crash(0);
	size = (size_t)n * sizeof(tok) + 1;
	if ((out = be_alloc(ctx, size)) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	for (i = 0; i < n; i++) {
		fake_token(&c, req->prompt, i, tok, sizeof(tok));
		len += (size_t)snprintf(out + len, size - len, "%s", tok);
	}
	reply->message.data = (uint8_t *)out;
	reply->message.len = len;
	reply->tokens = n;
	reply->prompt_tokens = fake_words(req->prompt);
	return 0;
}

static int
fake_predict_stream(struct be_ctx *ctx, const Backend__PredictOptions *req)
{
	struct fake_conf c = fake_get();
	Backend__Reply r = BACKEND__REPLY__INIT;
	int i, n = fake_ntokens(&c, req->prompt);
	char tok[256];

	if (fake_begin(ctx, &c, 0) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (c.crash_after >= 0 && i == c.crash_after)
			fake_crash(i);
		if (c.rate_ms > 0 && be_sleep(ctx, c.rate_ms) == -1)
			break;
		fake_token(&c, req->prompt, i, tok, sizeof(tok));
		r.message.data = (uint8_t *)tok;
		r.message.len = strlen(tok);
		r.tokens = 1;
		r.prompt_tokens = i == 0 ? fake_words(req->prompt) : 0;
		if (be_send(ctx, &r) == -1)
			break;
	}
	if (i == n && c.crash_after == n)
		fake_crash(i);
	fake_event(i == n ? "done" : "cancelled", i);
	return i == n ? 0 : be_error(ctx, BE_CANCELLED, "cancelled");
}

static int
fake_embed(struct be_ctx *ctx, const Backend__PredictOptions *req,
    Backend__EmbeddingResult *res)
{
	struct fake_conf c = fake_get();
	uint32_t h = fake_hash(req->prompt, strlen(req->prompt));
	float *v;
	int i;

	if (fake_begin(ctx, &c, 1) == -1)
		return -1;
	if ((v = be_alloc(ctx, (size_t)c.dim * sizeof(*v))) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	for (i = 0; i < c.dim; i++) {
		h = h * 1664525u + 1013904223u;
		v[i] = (float)(h >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
	}
	res->embeddings = v;
	res->n_embeddings = (size_t)c.dim;
	return 0;
}

static int
fake_tokenize(struct be_ctx *ctx, const Backend__PredictOptions *req,
    Backend__TokenizationResponse *res)
{
	struct fake_conf c = fake_get();
	const char *p = req->prompt;
	int n = fake_words(p), i = 0;
	size_t len;

	if (fake_begin(ctx, &c, 1) == -1)
		return -1;
	if (n > 0 && (res->tokens = be_alloc(ctx, (size_t)n *
	    sizeof(int32_t))) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	for (;;) {
		p += strspn(p, " ");
		if (*p == '\0')
			break;
		len = strcspn(p, " ");
		res->tokens[i++] = (int32_t)(fake_hash(p, len) % 32000);
		p += len;
	}
	res->n_tokens = (size_t)n;
	res->length = n;
	return 0;
}

static void
fake_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
fake_le32(uint8_t *p, uint32_t v)
{
	fake_le16(p, v & 0xffff);
	fake_le16(p + 2, v >> 16);
}

/* A RIFF/WAVE header for n samples of 16 kHz mono PCM16. */
static void
fake_wav_header(uint8_t h[44], uint32_t n)
{
	memcpy(h, "RIFF", 4);
	fake_le32(h + 4, 36 + n * 2);
	memcpy(h + 8, "WAVEfmt ", 8);
	fake_le32(h + 16, 16);
	fake_le16(h + 20, 1);		/* PCM */
	fake_le16(h + 22, 1);		/* mono */
	fake_le32(h + 24, 16000);
	fake_le32(h + 28, 32000);	/* byte rate */
	fake_le16(h + 32, 2);		/* block align */
	fake_le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	fake_le32(h + 40, n * 2);
}

static int
fake_tts(struct be_ctx *ctx, const Backend__TTSRequest *req)
{
	struct fake_conf c = fake_get();
	uint32_t i, n = (uint32_t)(fake_words(req->text) + 1) * 1600;
	uint8_t *buf;
	FILE *f;
	int ok;

	if (fake_begin(ctx, &c, 1) == -1)
		return -1;
	if (req->dst[0] == '\0')
		return be_error(ctx, BE_INVALID_ARGUMENT, "fake: empty dst");
	if ((buf = be_alloc(ctx, 44 + (size_t)n * 2)) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	fake_wav_header(buf, n);
	for (i = 0; i < n; i++)
		fake_le16(buf + 44 + i * 2, (uint16_t)(int16_t)(8000.0 *
		    sin(2.0 * M_PI * 440.0 * i / 16000.0)));
	if ((f = fopen(req->dst, "wb")) == NULL)
		return be_error(ctx, BE_INVALID_ARGUMENT, "fake: %s: %s",
		    req->dst, strerror(errno));
	ok = fwrite(buf, 1, 44 + (size_t)n * 2, f) == 44 + (size_t)n * 2;
	if (fclose(f) == EOF || !ok)
		return be_error(ctx, BE_INTERNAL, "fake: write %s failed",
		    req->dst);
	return 0;
}

static int
fake_transcribe(struct be_ctx *ctx, const Backend__TranscriptRequest *req,
    Backend__TranscriptResult *res)
{
	struct fake_conf c = fake_get();
	Backend__TranscriptSegment *seg, **segs;
	char text[128];
	long size;
	FILE *f;

	if (fake_begin(ctx, &c, 1) == -1)
		return -1;
	if ((f = fopen(req->dst, "rb")) == NULL)
		return be_error(ctx, BE_INVALID_ARGUMENT, "fake: %s: %s",
		    req->dst, strerror(errno));
	if (fseek(f, 0, SEEK_END) == -1 || (size = ftell(f)) < 0) {
		fclose(f);
		return be_error(ctx, BE_INTERNAL, "fake: cannot size %s",
		    req->dst);
	}
	fclose(f);
	snprintf(text, sizeof(text), "fake transcript of %ld bytes", size);
	seg = be_alloc(ctx, sizeof(*seg));
	segs = be_alloc(ctx, sizeof(*segs));
	if (seg == NULL || segs == NULL ||
	    (res->text = be_strdup(ctx, text)) == NULL)
		return be_error(ctx, BE_RESOURCE_EXHAUSTED, "out of memory");
	backend__transcript_segment__init(seg);
	seg->start = 0;
	seg->end = size;
	seg->text = res->text;
	segs[0] = seg;
	res->segments = segs;
	res->n_segments = 1;
	return 0;
}

static const struct be_ops fake_ops = {
	.name = "fakebackend",
	.parallel = 1,
	.init = fake_init,
	.health = fake_health,
	.load = fake_load,
	.free = fake_free,
	.predict = fake_predict,
	.predict_stream = fake_predict_stream,
	.embed = fake_embed,
	.tokenize = fake_tokenize,
	.tts = fake_tts,
	.transcribe = fake_transcribe,
};

int
main(int argc, char **argv)
{
	return be_main(argc, argv, &fake_ops);
}
