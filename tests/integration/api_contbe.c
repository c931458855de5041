/*
 * api_contbe: a test-only backend for the api tests (never shipped) that
 * behaves like a language model continuing its prompt, which the data
 * plane's mid-stream failover relies on.
 *
 * It generates the tokens "t0 ", "t1 ", … "t<N-1> ".  A prompt that already
 * ends with "t0 t1 … t<k-1> " (a continuation: the original prompt plus what
 * was generated) makes it go on from t<k>.  PredictOptions.Tokens, when set,
 * limits how many it generates.  Settings from API_CONTBE (comma-separated):
 *   tokens=N       N tokens in all (default 10)
 *   rate_ms=N      pause before each token
 *   crash_after=K  abort() after sending K tokens (a replica dying mid-stream)
 */
#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/backend.h"
#include "proto/log.h"

static int cb_tokens = 10, cb_rate_ms, cb_crash_after = -1;

static int
cb_init(void)
{
	const char *env = getenv("API_CONTBE");
	const char *p;

	if (env == NULL)
		return 0;
	if ((p = strstr(env, "tokens=")) != NULL)
		cb_tokens = atoi(p + 7);
	if ((p = strstr(env, "rate_ms=")) != NULL)
		cb_rate_ms = atoi(p + 8);
	if ((p = strstr(env, "crash_after=")) != NULL)
		cb_crash_after = atoi(p + 12);
	return 0;
}

/* How many of t0 t1 … the prompt already holds, in that order. */
static int
cb_already(const char *prompt)
{
	const char *p;
	char want[32];
	int k = 0;

	for (;;) {
		snprintf(want, sizeof(want), "t%d ", k);
		p = strstr(prompt, want);
		if (p == NULL)
			return k;
		prompt = p + strlen(want);
		k++;
	}
}

static int
cb_stream(struct be_ctx *ctx, const Backend__PredictOptions *req)
{
	Backend__Reply r = BACKEND__REPLY__INIT;
	struct rlimit rl = {0, 0};
	int i, sent = 0, first = cb_already(req->prompt), end = cb_tokens;
	char tok[32];

	if (req->tokens > 0 && first + req->tokens < end)
		end = first + req->tokens;
	for (i = first; i < end; i++) {
		if (sent == cb_crash_after) {
			log_warnx("crashing on purpose after %d tokens", sent);
			(void)setrlimit(RLIMIT_CORE, &rl);
			abort();
		}
		if (cb_rate_ms > 0 && be_sleep(ctx, cb_rate_ms) == -1)
			return be_error(ctx, BE_CANCELLED, "cancelled");
		snprintf(tok, sizeof(tok), "t%d ", i);
		r.message.data = (uint8_t *)tok;
		r.message.len = strlen(tok);
		r.tokens = 1;
		r.prompt_tokens = sent == 0 ? 7 : 0;
		if (be_send(ctx, &r) == -1)
			return be_error(ctx, BE_CANCELLED, "cancelled");
		sent++;
	}
	return 0;
}

static const struct be_ops cb_ops = {
    .name = "api_contbe",
    .parallel = 8,
    .init = cb_init,
    .predict_stream = cb_stream,
};

int
main(int argc, char **argv)
{
	return be_main(argc, argv, &cb_ops);
}
