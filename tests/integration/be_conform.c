/*
 * be_conform: conformance tests of the backend runtime and the client
 * library, over real gRPC between two processes.
 *
 *	be_conform FAKEBACKEND CASE...
 *
 * Each case starts its own fakebackend child (Unix socket in a private
 * temporary directory, or TCP on an ephemeral port), drives it with
 * bclient, stops it with SIGTERM and checks its exit status.  Prints
 * "ok CASE" or the failed checks, and exits 1 if any check failed.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/common/bclient.h"
#include "proto/log.h"

#include "tests/integration/be_harness.h"

static void
req_init(Backend__PredictOptions *req, const char *prompt)
{
	backend__predict_options__init(req);
	req->prompt = (char *)(uintptr_t)prompt;
}

/* Read a whole stream; the concatenated text in buf, the count returned. */
static int
read_stream(const char *addr, const struct bc_opts *o, const char *prompt,
    char *buf, size_t size, struct bc_error *err)
{
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_stream *st;
	size_t len = 0;
	int n = 0, rc;

	req_init(&req, prompt);
	buf[0] = '\0';
	if ((st = bc_predict_stream(addr, o, &req, err)) == NULL)
		return -1;
	while ((rc = bc_predict_stream_next(st, &r, err)) == 1) {
		len += (size_t)snprintf(buf + len, size - len, "%.*s",
		    (int)r->message.len, (const char *)r->message.data);
		if (len >= size)
			len = size - 1;
		n++;
		bc_free(r);
	}
	bc_stream_close(st);
	return rc == 0 ? n : -1;
}

static void
check_status(const char *addr, int want)
{
	Backend__StatusResponse *st;
	struct bc_error err;

	if (bc_status(addr, &opts5s, &st, &err) == -1) {
		CHECK(0, "Status: %s", err.msg);
		return;
	}
	CHECK(
	    (int)st->state == want, "state %d, want %d", (int)st->state, want);
	CHECK(st->memory != NULL && st->memory->total > 1024 * 1024,
	    "memory %llu",
	    st->memory != NULL ? (unsigned long long)st->memory->total : 0ULL);
	CHECK(st->memory != NULL && st->memory->n_breakdown == 3,
	    "breakdown: rss, virtual, in_flight");
	bc_free(st);
}

static void
rpcs_inference(const char *addr)
{
	Backend__PredictOptions req;
	Backend__Reply *r;
	Backend__EmbeddingResult *e1, *e2;
	Backend__TokenizationResponse *tk;
	struct bc_error err;
	char buf[256];

	req_init(&req, "hello big world");
	CHECK(bc_predict(addr, &opts5s, &req, &r, &err) == 0, "%s", err.msg);
	if (r != NULL) {
		CHECK(r->message.len == 12 &&
		          memcmp(r->message.data, "t0 t1 t2 t3 ", 12) == 0,
		    "Predict reply");
		CHECK(r->tokens == 4 && r->prompt_tokens == 3, "counts");
		bc_free(r);
	}
	CHECK(read_stream(addr, &opts5s, "x", buf, sizeof(buf), &err) == 4,
	    "stream: %s", err.msg);
	CHECK(strcmp(buf, "t0 t1 t2 t3 ") == 0, "stream order: \"%s\"", buf);
	CHECK(bc_embedding(addr, &opts5s, &req, &e1, &err) == 0, "%s", err.msg);
	CHECK(bc_embedding(addr, &opts5s, &req, &e2, &err) == 0, "%s", err.msg);
	if (e1 != NULL && e2 != NULL) {
		CHECK(e1->n_embeddings == 8, "dim %zu", e1->n_embeddings);
		CHECK(memcmp(e1->embeddings, e2->embeddings,
		          8 * sizeof(float)) == 0,
		    "embedding not deterministic");
	}
	bc_free(e1);
	bc_free(e2);
	CHECK(bc_tokenize(addr, &opts5s, &req, &tk, &err) == 0, "%s", err.msg);
	if (tk != NULL)
		CHECK(tk->length == 3 && tk->n_tokens == 3, "tokens %d",
		    tk->length);
	bc_free(tk);
}

static void
rpcs_audio(const char *addr, const char *dir)
{
	Backend__TTSRequest tts = BACKEND__TTSREQUEST__INIT;
	Backend__TranscriptRequest tr = BACKEND__TRANSCRIPT_REQUEST__INIT;
	Backend__TranscriptResult *res;
	struct bc_error err;
	char path[128], head[5] = "", want[64];
	struct stat sb;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out.wav", dir);
	tts.text = (char *)(uintptr_t) "one two";
	tts.dst = path;
	tts.voice = (char *)(uintptr_t) "v";
	CHECK(bc_tts(addr, &opts5s, &tts, &err) == 0, "TTS: %s", err.msg);
	if ((f = fopen(path, "rb")) != NULL) {
		CHECK(fread(head, 1, 4, f) == 4, "short wav");
		fclose(f);
	}
	CHECK(strcmp(head, "RIFF") == 0, "TTS wrote no WAV at %s", path);
	CHECK(stat(path, &sb) == 0 && sb.st_size == 44 + 3 * 1600 * 2,
	    "wav size");
	tr.dst = path;
	CHECK(
	    bc_transcribe(addr, &opts5s, &tr, &res, &err) == 0, "%s", err.msg);
	snprintf(want, sizeof(want), "fake transcript of %lld bytes",
	    (long long)sb.st_size);
	if (res != NULL) {
		CHECK(strcmp(res->text, want) == 0, "text \"%s\"", res->text);
		CHECK(
		    res->n_segments == 1 && res->segments[0]->end == sb.st_size,
		    "segments");
	}
	bc_free(res);
	tts.dst = (char *)(uintptr_t) "";
	CHECK(bc_tts(addr, &opts5s, &tts, &err) == -1 && err.kind == BC_EINVAL,
	    "TTS without dst: %d", err.kind);
}

static void
rpcs_errors(const char *addr)
{
	Backend__HealthMessage hm = BACKEND__HEALTH_MESSAGE__INIT;
	ProtobufCMessage *out;
	struct bc_error err;
	const char *bad[] = {"fail_load"};

	CHECK(bc_call(addr, "/backend.Backend/Rerank", &hm.base,
	          &backend__rerank_result__descriptor, &out, &opts5s,
	          &err) == -1 &&
	          err.kind == BC_EUNIMPL,
	    "Rerank: %d %s", err.kind, err.msg);
	CHECK(bc_call(addr, "/other.Service/Nope", &hm.base,
	          &backend__reply__descriptor, &out, &opts5s, &err) == -1 &&
	          err.kind == BC_EUNIMPL,
	    "unknown method: %d", err.kind);
	CHECK(!bc_is_retryable(&err), "UNIMPLEMENTED is not retryable");
	CHECK(load(addr, bad, 1, &err) == -1 && err.kind == BC_EBACKEND &&
	          err.grpc_status == 9 && strstr(err.msg, "fake-model") != NULL,
	    "fail_load: %d %d %s", err.kind, err.grpc_status, err.msg);
	check_status(addr, BACKEND__STATUS_RESPONSE__STATE__ERROR);
}

/* Every implemented RPC, over a Unix socket or TCP. */
static void
case_rpcs(int tcp)
{
	const char *opt[] = {"tokens=4"}, *sick[] = {"fail_health"};
	struct bc_error err;
	struct srv s;

	CHECK(srv_start(&s, tcp, NULL, NULL) == 0, "start");
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__UNINITIALIZED);
	CHECK(load(s.addr, opt, 1, &err) == 0, "LoadModel: %s", err.msg);
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__READY);
	rpcs_inference(s.addr);
	rpcs_audio(s.addr, s.dir);
	CHECK(bc_free_model(s.addr, &opts5s, &err) == 0, "Free: %s", err.msg);
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__UNINITIALIZED);
	rpcs_errors(s.addr);
	CHECK(load(s.addr, sick, 1, &err) == 0, "%s", err.msg);
	CHECK(bc_health(s.addr, &opts5s, &err) == -1 &&
	          err.kind == BC_EUNAVAILABLE,
	    "fail_health: %d %s", err.kind, err.msg);
	/* All those calls went over one cached channel: one connection. */
	CHECK(bc_channels() == 1, "%d channels cached", bc_channels());
	CHECK(srv_sockets(&s) == 2, "backend holds %d sockets, want 2",
	    srv_sockets(&s));
	srv_stop(&s, 5000);
}

/* Options from the environment, without LoadModel; echo mode. */
static void
case_env(void)
{
	char *env[] = {
	    (char *)(uintptr_t) "FAKE_BACKEND_OPTIONS=echo,rate_ms=1", NULL};
	struct bc_error err;
	char buf[256];
	struct srv s;

	CHECK(srv_start(&s, 0, env, NULL) == 0, "start");
	CHECK(read_stream(s.addr, &opts5s, "the quick brown fox", buf,
	          sizeof(buf), &err) == 4,
	    "%s", err.msg);
	CHECK(strcmp(buf, "the quick brown fox ") == 0, "echo: \"%s\"", buf);
	srv_stop(&s, 5000);
}

struct canceller {
	struct bc_stream *st;
	struct bc_cancel *h;
	int after_ms;
};

static void *
cancel_later(void *arg)
{
	struct canceller *c = arg;

	sleep_ms(c->after_ms);
	if (c->st != NULL)
		bc_stream_cancel(c->st);
	else
		bc_cancel_fire(c->h);
	return NULL;
}

/*
 * Cancel a long stream from another thread while the reader waits: the
 * reader sees CANCELLED at once, the backend stops generating, and the
 * backend keeps serving.
 */
static void
case_cancel(int fast)
{
	/* fast: no pause between tokens, so only be_send sees the cancel. */
	const char *opt[] = {
	    "tokens=100000000", fast ? "rate_ms=0" : "rate_ms=5"};
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct canceller c = {NULL, NULL, 300};
	struct bc_error err;
	pthread_t t;
	struct srv s;
	int n = 0, rc, stopped, later;
	int64_t t0;

	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	req_init(&req, "p");
	c.st = bc_predict_stream(s.addr, &opts5s, &req, &err);
	CHECK(c.st != NULL, "open");
	pthread_create(&t, NULL, cancel_later, &c);
	while ((rc = bc_predict_stream_next(c.st, &r, &err)) == 1) {
		n++;
		bc_free(r);
	}
	t0 = now_ms();
	pthread_join(t, NULL);
	bc_stream_close(c.st);
	CHECK(rc == -1 && err.kind == BC_ECANCELLED, "rc %d kind %d %s", rc,
	    err.kind, err.msg);
	CHECK(n > 3 && n < 100000000, "%d tokens before the cancel", n);
	stopped = srv_event(&s, "cancelled", 3000);
	CHECK(stopped >= n && stopped < n + (fast ? 1000000 : 200),
	    "backend stopped after %d tokens (client saw %d)", stopped, n);
	CHECK(now_ms() - t0 < 3000, "backend took too long to stop");
	sleep_ms(100);
	later = srv_event(&s, "cancelled", 0);
	CHECK(later == stopped, "backend still generating");
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__READY);
	srv_stop(&s, 5000);
}

/* Unary cancel from another thread through a cancel handle. */
static void
case_cancel_unary(void)
{
	char *env[] = {
	    (char *)(uintptr_t) "FAKE_BACKEND_OPTIONS=delay_ms=5000", NULL};
	struct canceller c = {NULL, NULL, 200};
	struct bc_opts o = {NULL, 10000, 0, NULL};
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_error err;
	pthread_t t;
	struct srv s;
	int64_t t0;

	CHECK(srv_start(&s, 0, env, NULL) == 0, "start");
	c.h = o.cancel = bc_cancel_new();
	req_init(&req, "p");
	t0 = now_ms();
	pthread_create(&t, NULL, cancel_later, &c);
	CHECK(bc_predict(s.addr, &o, &req, &r, &err) == -1 &&
	          err.kind == BC_ECANCELLED,
	    "kind %d %s", err.kind, err.msg);
	CHECK(now_ms() - t0 < 2000, "cancel took %lld ms",
	    (long long)(now_ms() - t0));
	pthread_join(t, NULL);
	/* A fired handle cancels later calls at once. */
	CHECK(bc_predict(s.addr, &o, &req, &r, &err) == -1 &&
	          err.kind == BC_ECANCELLED,
	    "fired handle: %d", err.kind);
	bc_cancel_free(c.h);
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	srv_stop(&s, 5000);
}

/* Deadlines: a stream and a unary call outlive theirs. */
static void
case_deadline(void)
{
	const char *opt[] = {"tokens=100000", "rate_ms=5", "delay_ms=5000"};
	struct bc_opts o = {NULL, 400, 0, NULL};
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_error err;
	char buf[64];
	struct srv s;
	int64_t t0;
	int n;

	CHECK(srv_start(&s, 1, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 3, &err) == 0, "%s", err.msg);
	t0 = now_ms();
	n = read_stream(s.addr, &o, "p", buf, sizeof(buf), &err);
	CHECK(n == -1 && err.kind == BC_EDEADLINE, "stream: %d %s", err.kind,
	    err.msg);
	CHECK(now_ms() - t0 < 1500, "deadline took %lld ms",
	    (long long)(now_ms() - t0));
	CHECK(srv_event(&s, "cancelled", 3000) > 0,
	    "backend did not see the deadline");
	req_init(&req, "p");
	t0 = now_ms();
	CHECK(bc_predict(s.addr, &o, &req, &r, &err) == -1 &&
	          err.kind == BC_EDEADLINE,
	    "unary: %d %s", err.kind, err.msg);
	CHECK(now_ms() - t0 < 1500, "deadline took %lld ms",
	    (long long)(now_ms() - t0));
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	srv_stop(&s, 8000);
}

static void
case_auth(void)
{
	char *env[] = {
	    (char *)(uintptr_t) "LOCALAI_GRPC_AUTH_TOKEN=s3cret", NULL};
	struct bc_opts o = {NULL, 5000, 0, NULL};
	struct bc_error err;
	struct srv s;

	/* srv_start's own Health has no token: it must be refused. */
	CHECK(srv_start(&s, 0, env, NULL) == -1, "no token accepted");
	CHECK(bc_health(s.addr, &o, &err) == -1 && err.kind == BC_EUNAUTH,
	    "missing token: %d %s", err.kind, err.msg);
	o.token = "s3creT";
	CHECK(bc_health(s.addr, &o, &err) == -1 && err.kind == BC_EUNAUTH,
	    "wrong token: %d", err.kind);
	o.token = "s3cret-and-more";
	CHECK(bc_health(s.addr, &o, &err) == -1 && err.kind == BC_EUNAUTH,
	    "longer token: %d", err.kind);
	CHECK(!bc_is_retryable(&err), "UNAUTHENTICATED is not retryable");
	o.token = "s3cret";
	CHECK(bc_health(s.addr, &o, &err) == 0, "right token: %s", err.msg);
	CHECK(read_stream(s.addr, &o, "p", (char[64]){0}, 64, &err) == 5,
	    "stream with token: %s", err.msg);
	srv_stop(&s, 5000);
	/* Without the variable, a token is simply not needed. */
	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	CHECK(bc_health(s.addr, &o, &err) == 0, "%s", err.msg);
	srv_stop(&s, 5000);
}

/* Oversized and malformed requests fail cleanly; the server goes on. */
static void
case_limits(void)
{
	char *args[] = {(char *)(uintptr_t) "--max-msg-size",
	    (char *)(uintptr_t) "65536", NULL};
	static const unsigned char junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f,
	    0x01},
	                           badtag[] = {0x07, 0x01};
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_error err;
	struct srv s;
	char *big;
	void *out;
	size_t outlen;

	CHECK(srv_start(&s, 0, NULL, args) == 0, "start");
	big = malloc(100000);
	memset(big, 'a', 99999);
	big[99999] = '\0';
	req_init(&req, big);
	CHECK(bc_predict(s.addr, &opts5s, &req, &r, &err) == -1 &&
	          err.kind == BC_ETOOBIG && err.grpc_status == 8,
	    "oversized: %d %d %s", err.kind, err.grpc_status, err.msg);
	free(big);
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	CHECK(bc_call_raw(s.addr, "/backend.Backend/Predict", junk,
	          sizeof(junk), &out, &outlen, &opts5s, &err) == -1 &&
	          err.kind == BC_EINVAL,
	    "truncated field: %d %s", err.kind, err.msg);
	CHECK(bc_call_raw(s.addr, "/backend.Backend/LoadModel", badtag,
	          sizeof(badtag), &out, &outlen, &opts5s, &err) == -1 &&
	          err.kind == BC_EINVAL,
	    "bad wire type: %d %s", err.kind, err.msg);
	CHECK(bc_call_raw(s.addr, "/backend.Backend/Health", "", 0, &out,
	          &outlen, &opts5s, &err) == 0,
	    "empty Health: %s", err.msg);
	if (err.kind == BC_OK) {
		CHECK(outlen == 4 && memcmp(out, "\x0a\x02OK", 4) == 0,
		    "Health bytes");
		free(out);
	}
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	srv_stop(&s, 5000);
}

struct timed_call {
	const char *addr;
	int index;
	int64_t t0, done;
	int rc;
	enum bc_err kind;
};

static void *
timed_predict(void *arg)
{
	struct timed_call *c = arg;
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_error err;

	req_init(&req, "p");
	c->rc = bc_predict(c->addr, &opts5s, &req, &r, &err);
	c->kind = err.kind;
	c->done = now_ms() - c->t0;
	bc_free(r);
	return NULL;
}

/*
 * parallel=N, each Predict taking 400 ms: 6 calls started 30 ms apart
 * finish in waves of N, in arrival order.
 */
static void
case_parallel(int par)
{
	char env[64], *envv[] = {env, NULL};
	struct timed_call c[6];
	pthread_t t[6];
	struct srv s;
	int i, wave;
	int64_t t0;

	snprintf(env, sizeof(env),
	    "FAKE_BACKEND_OPTIONS=delay_ms=400,parallel=%d", par);
	CHECK(srv_start(&s, 0, envv, NULL) == 0, "start");
	t0 = now_ms();
	for (i = 0; i < 6; i++) {
		c[i] = (struct timed_call){s.addr, i, t0, 0, 0, BC_OK};
		pthread_create(&t[i], NULL, timed_predict, &c[i]);
		sleep_ms(30);
	}
	for (i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 6; i++) {
		wave = i / par + 1;
		CHECK(c[i].rc == 0, "call %d failed: %d", i, c[i].kind);
		CHECK(c[i].done >= wave * 400 - 50 &&
		          c[i].done < wave * 400 + 30 * i + 350,
		    "parallel=%d: call %d done at %lld ms, wave %d", par, i,
		    (long long)c[i].done, wave);
		if (i > 0 && i % par == 0)
			CHECK(c[i].done > c[i - 1].done,
			    "call %d overtook call %d", i, i - 1);
	}
	srv_stop(&s, 5000);
}

struct health_probe {
	const char *addr;
	int64_t worst;
	int fails;
	int busy_seen;
	atomic_int stop;
};

static void *
probe_health(void *arg)
{
	struct health_probe *p = arg;
	Backend__StatusResponse *st;
	struct bc_error err;
	int64_t t0, dt;

	while (!atomic_load(&p->stop)) {
		t0 = now_ms();
		if (bc_health(p->addr, &opts5s, &err) == -1)
			p->fails++;
		dt = now_ms() - t0;
		if (dt > p->worst)
			p->worst = dt;
		if (bc_status(p->addr, &opts5s, &st, &err) == 0) {
			if (st->state == BACKEND__STATUS_RESPONSE__STATE__BUSY)
				p->busy_seen = 1;
			bc_free(st);
		}
		sleep_ms(20);
	}
	return NULL;
}

/* Health and Status answer at once while parallel=1 streams run. */
static void
case_health_busy(void)
{
	const char *opt[] = {"tokens=60", "rate_ms=10"};
	struct health_probe p;
	struct bc_error err;
	char buf[512];
	pthread_t t;
	struct srv s;

	CHECK(srv_start(&s, 1, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	memset(&p, 0, sizeof(p));
	p.addr = s.addr;
	pthread_create(&t, NULL, probe_health, &p);
	CHECK(read_stream(s.addr, &opts5s, "p", buf, sizeof(buf), &err) == 60,
	    "%s", err.msg);
	atomic_store(&p.stop, 1);
	pthread_join(t, NULL);
	CHECK(p.fails == 0, "%d Health calls failed", p.fails);
	CHECK(p.worst < 250, "slowest Health %lld ms", (long long)p.worst);
	CHECK(p.busy_seen, "Status never said BUSY during the stream");
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__READY);
	srv_stop(&s, 5000);
}

/*
 * A LoadModel that never returns: its caller's deadline fires, Health and
 * Status still answer at once, inference queues behind the load (and times
 * out), and SIGTERM still ends the process.
 */
static void
case_load_hang(void)
{
	char *env[] = {(char *)(uintptr_t) "FAKE_BACKEND_OPTIONS=hang_load",
	    NULL},
	     *args[] = {(char *)(uintptr_t) "--grace-ms",
	         (char *)(uintptr_t) "200", NULL};
	struct bc_opts o = {NULL, 500, 0, NULL};
	Backend__PredictOptions req;
	Backend__Reply *r;
	struct bc_error err;
	struct srv s;
	int64_t t0;

	CHECK(srv_start(&s, 0, env, args) == 0, "start");
	t0 = now_ms();
	{
		Backend__ModelOptions mo = BACKEND__MODEL_OPTIONS__INIT;

		CHECK(bc_load_model(s.addr, &o, &mo, &err) == -1 &&
		          err.kind == BC_EDEADLINE,
		    "stuck load: %d %s", err.kind, err.msg);
	}
	CHECK(bc_health(s.addr, &opts5s, &err) == 0, "%s", err.msg);
	CHECK(now_ms() - t0 < 2000, "Health waited for the load");
	check_status(s.addr, BACKEND__STATUS_RESPONSE__STATE__UNINITIALIZED);
	req_init(&req, "p");
	CHECK(bc_predict(s.addr, &o, &req, &r, &err) == -1 &&
	          err.kind == BC_EDEADLINE,
	    "Predict behind a stuck load: %d %s", err.kind, err.msg);
	srv_stop(&s, 8000);
}

/* More calls than --max-calls: the surplus is refused as busy. */
static void
case_max_calls(void)
{
	char *env[] = {(char *)(uintptr_t) "FAKE_BACKEND_OPTIONS=delay_ms=600",
	    NULL},
	     *args[] = {(char *)(uintptr_t) "--max-calls",
	         (char *)(uintptr_t) "2", NULL};
	struct timed_call c[4];
	pthread_t t[4];
	struct srv s;
	int i, busy = 0, ok = 0;

	CHECK(srv_start(&s, 0, env, args) == 0, "start");
	for (i = 0; i < 4; i++) {
		c[i] = (struct timed_call){s.addr, i, now_ms(), 0, 0, BC_OK};
		pthread_create(&t[i], NULL, timed_predict, &c[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		busy += c[i].rc == -1 && c[i].kind == BC_EBUSY;
		ok += c[i].rc == 0;
	}
	CHECK(
	    busy >= 1 && ok >= 1 && busy + ok == 4, "busy %d ok %d", busy, ok);
	srv_stop(&s, 5000);
}

struct stream_reader {
	const char *addr;
	int delay_ms; /* after each message: a slow consumer */
	int n, rc;
	atomic_int first_seen;
	enum bc_err kind;
	int64_t ended;
	struct bc_error err;
};

static void *
read_in_thread(void *arg)
{
	struct stream_reader *r = arg;
	Backend__PredictOptions req;
	Backend__Reply *m;
	struct bc_stream *st;
	struct bc_error err;
	struct bc_opts o = {NULL, 30000, 0, NULL};

	req_init(&req, "p");
	st = bc_predict_stream(r->addr, &o, &req, &err);
	while ((r->rc = bc_predict_stream_next(st, &m, &err)) == 1) {
		r->n++;
		atomic_store(&r->first_seen, 1);
		bc_free(m);
		if (r->delay_ms > 0)
			sleep_ms(r->delay_ms);
	}
	r->kind = err.kind;
	r->err = err;
	r->ended = now_ms();
	bc_stream_close(st);
	return NULL;
}

/*
 * Start a stream in a thread (taking delay_ms after each message) and wait
 * until its first token arrived.
 */
static void
start_reader(
    struct stream_reader *r, const char *addr, int delay_ms, pthread_t *t)
{
	int64_t end = now_ms() + 5000;

	memset(r, 0, sizeof(*r));
	r->addr = addr;
	r->delay_ms = delay_ms;
	pthread_create(t, NULL, read_in_thread, r);
	while (!atomic_load(&r->first_seen) && now_ms() < end)
		sleep_ms(5);
}

/*
 * SIGTERM during a short stream: the stream ends normally (all messages,
 * status OK), a new call on the same channel during the shutdown fails
 * with a retryable error, and the process exits 0.
 */
static void
case_sigterm_finish(void)
{
	const char *opt[] = {"tokens=20", "rate_ms=50"};
	struct stream_reader r;
	struct bc_error err;
	pthread_t t;
	struct srv s;
	int64_t t0;
	int st;

	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	start_reader(&r, s.addr, 0, &t);
	t0 = now_ms();
	kill(s.pid, SIGTERM);
	CHECK(srv_logged(&s, "shutting down", 3000), "no shutdown logged");
	CHECK(bc_health(s.addr, &opts5s, &err) == -1 && bc_is_retryable(&err),
	    "new call during shutdown: %d %s", err.kind, err.msg);
	st = srv_wait(&s, 8000);
	pthread_join(t, NULL);
	CHECK(r.rc == 0 && r.n == 20,
	    "stream rc %d after %d tokens: kind %d, grpc status %d: %s", r.rc,
	    r.n, r.kind, r.err.grpc_status, r.err.msg);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	CHECK(now_ms() - t0 < 4000, "shutdown took %lld ms",
	    (long long)(now_ms() - t0));
	CHECK(access(s.addr + 5, F_OK) == -1, "socket file left behind");
	srv_stop(&s, 1000);
}

/*
 * SIGTERM during a stream whose client reads slower than the backend
 * writes (the api process forwarding to a slow HTTP client), so the
 * backend finishes ~100 ms before the client has read everything: the
 * connection stays open long enough, and the client gets every message
 * and status OK.  (With gRPC's own graceful shutdown the client lost the
 * tail every time: EPIPE on its next write, see srv_stop.)
 */
static void
case_sigterm_slow_reader(void)
{
	const char *opt[] = {"tokens=20", "rate_ms=10"};
	struct stream_reader r;
	struct bc_error err;
	pthread_t t;
	struct srv s;
	int st;

	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	start_reader(&r, s.addr, 15, &t);
	kill(s.pid, SIGTERM);
	st = srv_wait(&s, 8000);
	pthread_join(t, NULL);
	CHECK(r.rc == 0 && r.n == 20,
	    "stream rc %d after %d tokens: kind %d, grpc status %d: %s", r.rc,
	    r.n, r.kind, r.err.grpc_status, r.err.msg);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	srv_stop(&s, 1000);
}

/* Health calls in a loop on the cached channel, until told to stop. */
struct prober {
	const char *addr;
	atomic_int stop;
	atomic_int ok;
	int retryable, other;
	struct bc_error last; /* the last non-retryable failure */
};

static void *
probe_loop(void *arg)
{
	struct prober *p = arg;
	struct bc_opts o = {NULL, 2000, 0, NULL};
	struct bc_error err;

	while (!atomic_load(&p->stop)) {
		if (bc_health(p->addr, &o, &err) == 0)
			atomic_fetch_add(&p->ok, 1);
		else if (bc_is_retryable(&err))
			p->retryable++;
		else {
			p->other++;
			p->last = err;
		}
		sleep_ms(2);
	}
	return NULL;
}

/*
 * New calls keep arriving on the same channel before, during and after a
 * graceful shutdown with a stream in progress: each either succeeds or
 * fails with a retryable error (never CANCELLED or a backend error: the
 * router must be able to send it elsewhere), and the stream still ends
 * normally.
 */
static void
case_sigterm_probe(int tcp)
{
	const char *opt[] = {"tokens=20", "rate_ms=20"};
	struct stream_reader r;
	struct prober p;
	struct bc_error err;
	pthread_t t, tp;
	struct srv s;
	int64_t t0;
	int st;

	CHECK(srv_start(&s, tcp, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	memset(&p, 0, sizeof(p));
	p.addr = s.addr;
	start_reader(&r, s.addr, 0, &t);
	pthread_create(&tp, NULL, probe_loop, &p);
	t0 = now_ms();
	while (atomic_load(&p.ok) == 0 && now_ms() - t0 < 5000)
		sleep_ms(5);
	kill(s.pid, SIGTERM);
	st = srv_wait(&s, 8000);
	pthread_join(t, NULL);
	sleep_ms(200); /* probes of a backend that is gone */
	atomic_store(&p.stop, 1);
	pthread_join(tp, NULL);
	CHECK(r.rc == 0 && r.n == 20,
	    "stream rc %d after %d tokens: kind %d, grpc status %d: %s", r.rc,
	    r.n, r.kind, r.err.grpc_status, r.err.msg);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	CHECK(p.other == 0, "%d of %d probes failed for good, last: %s %d %s",
	    p.other, atomic_load(&p.ok) + p.retryable + p.other,
	    bc_strerror(p.last.kind), p.last.grpc_status, p.last.msg);
	CHECK(atomic_load(&p.ok) > 0 && p.retryable > 0,
	    "probes: %d ok, %d retryable", atomic_load(&p.ok), p.retryable);
	srv_stop(&s, 1000);
}

/*
 * SIGTERM during a long stream with --grace-ms 500: the stream is cancelled
 * when the grace runs out (the client sees a retryable error), the backend
 * stops generating, the process exits 0.
 */
static void
case_sigterm_grace(void)
{
	const char *opt[] = {"tokens=100000", "rate_ms=5"};
	char *args[] = {
	    (char *)(uintptr_t) "--grace-ms", (char *)(uintptr_t) "500", NULL};
	struct stream_reader r;
	struct bc_error err;
	pthread_t t;
	struct srv s;
	int64_t t0;
	int st;

	CHECK(srv_start(&s, 1, NULL, args) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	start_reader(&r, s.addr, 0, &t);
	t0 = now_ms();
	kill(s.pid, SIGTERM);
	st = srv_wait(&s, 8000);
	pthread_join(t, NULL);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	CHECK(r.rc == -1 && bc_is_retryable(&r.err),
	    "stream end %d kind %d: %s", r.rc, r.kind, r.err.msg);
	CHECK(r.ended - t0 >= 400 && r.ended - t0 < 3000,
	    "stream cut after %lld ms", (long long)(r.ended - t0));
	CHECK(srv_event(&s, "cancelled", 0) > 0, "backend saw no cancel");
	srv_stop(&s, 1000);
}

/* A wedged op that ignores cancellation still lets the process exit 0. */
static void
case_sigterm_hang(void)
{
	char *env[] = {(char *)(uintptr_t) "FAKE_BACKEND_OPTIONS=hang", NULL},
	     *args[] = {(char *)(uintptr_t) "--grace-ms",
	         (char *)(uintptr_t) "300", NULL};
	struct timed_call c;
	pthread_t t;
	struct srv s;
	int64_t t0;
	int st;

	CHECK(srv_start(&s, 0, env, args) == 0, "start");
	c = (struct timed_call){s.addr, 0, now_ms(), 0, 0, BC_OK};
	pthread_create(&t, NULL, timed_predict, &c);
	sleep_ms(200);
	t0 = now_ms();
	kill(s.pid, SIGTERM);
	st = srv_wait(&s, 10000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "exit status 0x%x", st);
	CHECK(now_ms() - t0 < 6000, "exit took %lld ms",
	    (long long)(now_ms() - t0));
	pthread_join(t, NULL);
	CHECK(c.rc == -1 && bc_is_retryable(&(struct bc_error){c.kind, 0, ""}),
	    "hung call ended with %d", c.kind);
	srv_stop(&s, 1000);
}

/* A backend that crashes mid-stream: the client gets a retryable error. */
static void
case_crash(void)
{
	const char *opt[] = {"tokens=10", "crash_after=3"};
	struct bc_error err;
	char buf[64];
	struct srv s;
	int st;

	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	CHECK(load(s.addr, opt, 2, &err) == 0, "%s", err.msg);
	CHECK(read_stream(s.addr, &opts5s, "p", buf, sizeof(buf), &err) == -1 &&
	          err.kind == BC_EUNAVAILABLE,
	    "kind %d %s", err.kind, err.msg);
	CHECK(
	    strcmp(buf, "t0 t1 t2 ") == 0, "got \"%s\" before the crash", buf);
	st = srv_wait(&s, 5000);
	CHECK(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
	    "status 0x%x", st);
	srv_stop(&s, 1000);
}

/*
 * Nothing listening: refused at once and retryable.  The cached channel
 * then finds a backend started later at the same address.
 */
static void
case_refused(void)
{
	struct bc_opts o = {NULL, 5000, 0, NULL};
	struct bc_error err;
	char addr[300];
	struct srv s, s2;
	int64_t t0;
	int ok = 0;

	CHECK(bc_health("127.0.0.1:1", &o, &err) == -1 &&
	          err.kind == BC_ECONNREFUSED && bc_is_retryable(&err),
	    "tcp: %d %s", err.kind, err.msg);
	CHECK(bc_health("unix:/nonexistent/be.sock", &o, &err) == -1 &&
	          err.kind == BC_ECONNREFUSED,
	    "unix: %d %s", err.kind, err.msg);
	CHECK(bc_channels() == 2, "%d channels cached", bc_channels());
	bc_forget("127.0.0.1:1");
	bc_forget("unix:/nonexistent/be.sock");
	CHECK(bc_channels() == 0, "%d channels after forget", bc_channels());
	CHECK(srv_start(&s, 0, NULL, NULL) == 0, "start");
	snprintf(addr, sizeof(addr), "%s", s.addr);
	kill(s.pid, SIGKILL);
	srv_wait(&s, 5000);
	CHECK(bc_health(addr, &o, &err) == -1 && bc_is_retryable(&err),
	    "dead backend: %d %s", err.kind, err.msg);
	/* Same socket path, new process: the cached channel reconnects. */
	if (s.dir[0] != '\0') {
		memset(&s2, 0, sizeof(s2));
		CHECK(srv_start(&s2, 0, NULL, NULL) == 0, "start 2");
		t0 = now_ms();
		while (!ok && now_ms() - t0 < 5000)
			ok = bc_health(s2.addr, &o, &err) == 0;
		CHECK(ok, "new backend unreachable");
		srv_stop(&s2, 5000);
	}
	srv_stop(&s, 1000);
}

/* A second backend on a busy TCP port fails instead of sharing it. */
static void
case_port_in_use(void)
{
	char *argv[] = {(char *)(uintptr_t)fakebin,
	    (char *)(uintptr_t) "--addr", NULL, NULL};
	struct srv s, s2;
	int st;

	CHECK(srv_start(&s, 1, NULL, NULL) == 0, "start");
	memset(&s2, 0, sizeof(s2));
	snprintf(s2.dir, sizeof(s2.dir), "%s", s.dir);
	snprintf(s2.log, sizeof(s2.log), "%s/second.log", s.dir);
	snprintf(s2.events, sizeof(s2.events), "%s/ev2", s.dir);
	argv[2] = s.addr;
	CHECK(srv_spawn(&s2, argv, NULL) == 0, "spawn");
	st = srv_wait(&s2, 5000);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "second server status 0x%x", st);
	if (st == -1)
		kill(s2.pid, SIGKILL);
	srv_stop(&s, 5000);
}

/* Usage errors exit 78 without serving. */
static void
case_usage(void)
{
	char *noaddr[] = {(char *)(uintptr_t)fakebin, NULL};
	char *badaddr[] = {(char *)(uintptr_t)fakebin,
	    (char *)(uintptr_t) "--addr", (char *)(uintptr_t) "localhost:99999",
	    NULL};
	char *badopt[] = {(char *)(uintptr_t)fakebin,
	    (char *)(uintptr_t) "--addr", (char *)(uintptr_t) "unix:/tmp/x",
	    (char *)(uintptr_t) "--frobnicate", NULL};
	char **cases[] = {noaddr, badaddr, badopt};
	struct srv s;
	size_t i;
	int st;

	for (i = 0; i < 3; i++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.log, sizeof(s.log), "/dev/null");
		snprintf(s.events, sizeof(s.events), "/dev/null");
		CHECK(srv_spawn(&s, cases[i], NULL) == 0, "spawn");
		st = srv_wait(&s, 5000);
		CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 78,
		    "usage case %zu: status 0x%x", i, st);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
    {"rpcs_unix", NULL},
    {"rpcs_tcp", NULL},
    {"env", case_env},
    {"cancel", NULL},
    {"cancel_fast", NULL},
    {"cancel_unary", case_cancel_unary},
    {"deadline", case_deadline},
    {"auth", case_auth},
    {"limits", case_limits},
    {"parallel1", NULL},
    {"parallel2", NULL},
    {"health_busy", case_health_busy},
    {"max_calls", case_max_calls},
    {"load_hang", case_load_hang},
    {"sigterm_finish", case_sigterm_finish},
    {"sigterm_grace", case_sigterm_grace},
    {"sigterm_hang", case_sigterm_hang},
    {"sigterm_slow_reader", case_sigterm_slow_reader},
    {"sigterm_probe_unix", NULL},
    {"sigterm_probe_tcp", NULL},
    {"crash", case_crash},
    {"refused", case_refused},
    {"port_in_use", case_port_in_use},
    {"usage", case_usage},
};

static int
run_case(const char *name)
{
	size_t i;
	int before = failures;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, name) != 0)
			continue;
		if (strcmp(name, "rpcs_unix") == 0)
			case_rpcs(0);
		else if (strcmp(name, "rpcs_tcp") == 0)
			case_rpcs(1);
		else if (strcmp(name, "cancel") == 0)
			case_cancel(0);
		else if (strcmp(name, "cancel_fast") == 0)
			case_cancel(1);
		else if (strcmp(name, "parallel1") == 0)
			case_parallel(1);
		else if (strcmp(name, "parallel2") == 0)
			case_parallel(2);
		else if (strcmp(name, "sigterm_probe_unix") == 0)
			case_sigterm_probe(0);
		else if (strcmp(name, "sigterm_probe_tcp") == 0)
			case_sigterm_probe(1);
		else
			cases[i].fn();
		printf("%s %s\n", failures == before ? "ok" : "not ok", name);
		fflush(stdout);
		return 0;
	}
	fprintf(stderr, "unknown case %s\n", name);
	return -1;
}

int
main(int argc, char **argv)
{
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: be_conform FAKEBACKEND CASE...\n");
		return 2;
	}
	log_init(0);
	log_procinit("be_conform");
	fakebin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	bc_init();
	for (i = 2; i < argc; i++)
		if (run_case(argv[i]) == -1)
			failures++;
	bc_shutdown();
	return failures > 0 ? 1 : 0;
}
