/*
 * llama_client ADDR GOOD.gguf BAD.gguf: drives a running llama backend
 * (build/backends/llama/run) over real gRPC with the project's client
 * library and checks what a caller sees: load errors, Status memory,
 * TokenizeString, Predict and PredictStream (same text, usage, stop
 * strings, seeds, chat templates, cancellation), Embedding and Free.
 * Prints "ok" lines, or FAIL lines and exits 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/bclient.h"
#include "proto/log.h"

static int failures;
static const char *addr;
static struct bc_opts opts = {NULL, 60000, 1, NULL};

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__,          \
			    __LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

static int
load(const char *path, char **options, size_t nopt, struct bc_error *err)
{
	Backend__ModelOptions m = BACKEND__MODEL_OPTIONS__INIT;

	m.modelfile = (char *)(uintptr_t)path;
	m.contextsize = 256;
	m.threads = 2;
	m.options = options;
	m.n_options = nopt;
	return bc_load_model(addr, &opts, &m, err);
}

static void
check_load(const char *good, const char *bad)
{
	struct bc_error err;
	char *o[] = {"chat_template=chatml", "context_overflow:error"};
	char *wrong[] = {"pooling=max"};

	CHECK(load("/nonexistent/model.gguf", NULL, 0, &err) == -1 &&
	          err.grpc_status == 5,
	    "missing file: status %d", err.grpc_status);
	CHECK(load(bad, NULL, 0, &err) == -1 && err.grpc_status == 3 &&
	          strstr(err.msg, "beyond the end of the file") != NULL,
	    "bad file: %s", err.msg);
	CHECK(load(good, wrong, 1, &err) == -1 && err.grpc_status == 3,
	    "bad option accepted");
	CHECK(load(good, o, 2, &err) == 0, "load: %s", err.msg);
	printf("ok load errors and load\n");
}

static void
check_status(int loaded)
{
	Backend__StatusResponse *st = NULL;
	struct bc_error err;
	uint64_t w = 0, kv = 0;
	size_t i;

	CHECK(bc_status(addr, &opts, &st, &err) == 0, "status: %s", err.msg);
	if (st == NULL)
		return;
	for (i = 0; st->memory != NULL && i < st->memory->n_breakdown; i++) {
		if (strcmp(st->memory->breakdown[i]->key, "weights_mapped") ==
		    0)
			w = st->memory->breakdown[i]->value;
		if (strcmp(st->memory->breakdown[i]->key, "kv_cache") == 0)
			kv = st->memory->breakdown[i]->value;
	}
	if (loaded) {
		CHECK(st->state == BACKEND__STATUS_RESPONSE__STATE__READY,
		    "state %d", st->state);
		/* 2 layers x 256 positions x 128 (K) + 128 (V) x 2 bytes */
		CHECK(w > 500000 && kv == 2 * 256 * 256 * 2,
		    "weights %llu kv %llu", (unsigned long long)w,
		    (unsigned long long)kv);
	} else
		CHECK(st->state ==
		              BACKEND__STATUS_RESPONSE__STATE__UNINITIALIZED &&
		          w == 0,
		    "state %d after Free", st->state);
	bc_free(st);
	printf("ok status (%s)\n", loaded ? "loaded" : "freed");
}

static Backend__PredictOptions
request(const char *prompt, int tokens)
{
	Backend__PredictOptions r = BACKEND__PREDICT_OPTIONS__INIT;

	r.prompt = (char *)(uintptr_t)prompt;
	r.tokens = tokens;
	r.ignoreeos = 1;
	r.penalty = 1;
	return r;
}

/* Predict; returns the text (malloc'd) and the reply's usage. */
static char *
predict(const Backend__PredictOptions *r, int *ntok, int *nprompt)
{
	Backend__Reply *rep = NULL;
	struct bc_error err;
	char *s;

	if (bc_predict(addr, &opts, r, &rep, &err) == -1) {
		CHECK(0, "predict: %s", err.msg);
		return strdup("");
	}
	s = strndup((char *)rep->message.data, rep->message.len);
	*ntok = rep->tokens;
	*nprompt = rep->prompt_tokens;
	CHECK(rep->timing_prompt_processing > 0 &&
	          rep->timing_token_generation > 0,
	    "timings");
	bc_free(rep);
	return s;
}

/* PredictStream; concatenated text, the last reply's token count. */
static char *
stream(const Backend__PredictOptions *r, int *ntok, int cancel_after)
{
	struct bc_stream *s = bc_predict_stream(addr, &opts, r, NULL);
	Backend__Reply *rep;
	struct bc_error err;
	char *text = calloc(1, 65536);
	size_t len = 0;
	int rc, n = 0;

	while ((rc = bc_predict_stream_next(s, &rep, &err)) == 1) {
		if (rep->message.len > 0 && len + rep->message.len < 65535) {
			memcpy(text + len, rep->message.data, rep->message.len);
			len += rep->message.len;
		}
		if (rep->message.len == 0)
			*ntok = rep->tokens;
		bc_free(rep);
		if (++n == cancel_after) {
			bc_stream_cancel(s);
			break;
		}
	}
	CHECK(cancel_after > 0 || rc == 0, "stream: %s", err.msg);
	bc_stream_close(s);
	return text;
}

static void
check_generation(void)
{
	Backend__PredictOptions r = request("Once upon a time", 16);
	char *a, *b, *c, stop[8], *stops[1] = {stop};
	int nt = 0, np = 0, st = 0;

	a = predict(&r, &nt, &np);
	CHECK(
	    nt == 16 && np > 2 && strlen(a) > 0, "tokens %d prompt %d", nt, np);
	b = stream(&r, &st, 0);
	CHECK(
	    strcmp(a, b) == 0 && st == 16, "stream '%s' vs predict '%s'", b, a);
	free(b);
	snprintf(stop, sizeof(stop), "%.3s", a + strlen(a) / 2);
	r.stopprompts = stops;
	r.n_stopprompts = 1;
	b = predict(&r, &nt, &np);
	CHECK(strncmp(a, b, strlen(b)) == 0 && strstr(b, stop) == NULL &&
	          strstr(a, stop) == a + strlen(b),
	    "stop '%s': '%s' of '%s'", stop, b, a);
	free(b);
	r = request("Once upon a time", 16);
	r.temperature = 1.2f;
	r.seed = 5;
	b = predict(&r, &nt, &np);
	c = predict(&r, &nt, &np);
	CHECK(strcmp(b, c) == 0, "seed 5 twice: '%s' vs '%s'", b, c);
	free(a);
	free(b);
	free(c);
	printf("ok predict, stream, stop strings, seeds\n");
}

static void
check_chat_and_cancel(void)
{
	Backend__PredictOptions r = request("", 8);
	Backend__Message m1 = BACKEND__MESSAGE__INIT,
	                 m2 = BACKEND__MESSAGE__INIT;
	Backend__Message *msgs[2] = {&m1, &m2};
	Backend__TokenizationResponse *tr = NULL;
	int nt = 0, np = 0;
	char *s;

	m1.role = "system";
	m1.content = "Be brief.";
	m2.role = "user";
	m2.content = "Hello";
	r.usetokenizertemplate = 1;
	r.messages = msgs;
	r.n_messages = 2;
	s = predict(&r, &nt, &np);
	free(s);
	r = request(
	    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
	    "Hello<|im_end|>\n<|im_start|>assistant\n",
	    8);
	CHECK(bc_tokenize(addr, &opts, &r, &tr, NULL) == 0 && tr != NULL &&
	          tr->length == np && (int)tr->n_tokens == np,
	    "chat prompt has %d tokens, tokenized template %d", np,
	    tr ? tr->length : -1);
	bc_free(tr);
	/* cancel a long stream after two chunks; the backend carries on */
	r = request("Once upon a time", 0);
	s = stream(&r, &nt, 2);
	free(s);
	r = request("Once", 4);
	s = predict(&r, &nt, &np);
	CHECK(nt == 4, "after cancel: %d tokens", nt);
	free(s);
	printf("ok chat template, tokenize, cancellation\n");
}

static void
check_embedding(void)
{
	Backend__PredictOptions r = request("hello world", 0);
	Backend__EmbeddingResult *e = NULL;
	struct bc_error err;
	double n = 0;
	size_t i;

	CHECK(bc_embedding(addr, &opts, &r, &e, &err) == 0, "%s", err.msg);
	if (e == NULL)
		return;
	for (i = 0; i < e->n_embeddings; i++)
		n += e->embeddings[i] * e->embeddings[i];
	CHECK(e->n_embeddings == 256 && fabs(n - 1) < 1e-4, "dim %zu norm %g",
	    e->n_embeddings, n);
	bc_free(e);
	printf("ok embedding\n");
}

static void
check_free(void)
{
	Backend__PredictOptions r = request("x", 2);
	Backend__Reply *rep = NULL;
	struct bc_error err;

	CHECK(bc_free_model(addr, &opts, &err) == 0, "free: %s", err.msg);
	check_status(0);
	CHECK(bc_predict(addr, &opts, &r, &rep, &err) == -1 &&
	          err.grpc_status == 9,
	    "predict after free: %d", err.grpc_status);
	printf("ok free\n");
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(
		    stderr, "usage: llama_client ADDR GOOD.gguf BAD.gguf\n");
		return 2;
	}
	log_init(0);
	addr = argv[1];
	if (bc_init() == -1)
		return 1;
	check_load(argv[2], argv[3]);
	check_status(1);
	check_generation();
	check_chat_and_cancel();
	check_embedding();
	check_free();
	bc_shutdown();
	printf("%s\n", failures ? "FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
