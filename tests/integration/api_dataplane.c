/*
 * api_dataplane: the api process end to end, with the router played by
 * this program (api_tlib.h), real backends over gRPC and real HTTP.
 *
 *	api_dataplane BUILDDIR CASE...
 *
 * Prints "ok CASE" per case, or the failed checks, and exits 1 if any
 * check failed.  Every case ends by checking that each grant got exactly
 * one DONE (the router's in-flight count is back to zero).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api_tlib.h"

static const char *build;
static struct tl_api A; /* the api under test */
static struct tl_proc F; /* fakebackend, 5 tokens */
static char fakebin[512], contbin[512], localai[512];
static const char *files_addr;

static const char *const auth_hdr[] = {"Authorization: Bearer " TL_KEY, NULL};

#define CHAT(model, stream)                                                    \
	"{\"model\":\"" model "\",\"messages\":["                              \
	"{\"role\":\"user\",\"content\":\"count\"}],\"stream\":" stream "}"

static json_t *
parse(const struct tl_resp *r)
{
	json_t *o = json_loads(r->body, 0, NULL);

	CHECK(o != NULL, "not JSON: %s", r->body);
	return o;
}

/* An OpenAI error body with this status and code. */
static void
check_error(const struct tl_resp *r, long status, const char *code)
{
	json_t *o = json_loads(r->body, 0, NULL), *e;
	const char *c;
	char buf[128];

	CHECK(r->status == status, "status %ld, want %ld: %s", r->status,
	    status, r->body);
	e = json_object_get(o, "error");
	CHECK(json_is_string(json_object_get(e, "message")), "no message: %s",
	    r->body);
	CHECK(
	    json_is_string(json_object_get(e, "type")), "no type: %s", r->body);
	c = json_string_value(json_object_get(e, "code"));
	if (code != NULL)
		CHECK(c != NULL && strcmp(c, code) == 0, "code %s, want %s",
		    c ? c : "null", code);
	CHECK(tl_header(r, "X-Request-Id", buf, sizeof(buf)) != NULL,
	    "no X-Request-Id");
	json_decref(o);
}

/* Each grant got exactly one DONE. */
static void
check_done(void)
{
	CHECK(tl_router_idle(5000) == 0, "%d request(s) still in flight",
	    TR.n_inflight);
	CHECK(TR.bad == 0, "%d DONE/grant errors", TR.bad);
}

static void
setup(void)
{
	struct conf c;
	struct conf_model m[3];
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=5", NULL};

	tl_router_start();
	if ((files_addr = tl_files_start()) == NULL ||
	    tl_backend(&F, fakebin, env) == -1)
		exit(2);
	tl_conf(&c);
	tl_model(&m[0], "fake");
	tl_model(&m[1], "tok");
	m[1].use_tokenizer_template = 1;
	tl_model(&m[2], "cont");
	if (tl_api_start(&A, localai, &c, m, 3) == -1) {
		fprintf(stderr, "cannot start the api process\n");
		exit(2);
	}
	tl_router_reset(F.addr);
	snprintf(TR.http_address, sizeof(TR.http_address), "%s", files_addr);
}

/*
 * Poll until path answers status: the api applies what the supervisor
 * sends (router link, reloads) just after acknowledging it.
 */
static long
wait_status(const char *path, const char *const *hdrs, long status)
{
	struct tl_resp r;
	int64_t t0 = tl_now_ms();
	long got;

	do {
		tl_http(&A, "GET", path, hdrs, NULL, 0, 0, &r);
		got = r.status;
		tl_resp_free(&r);
		if (got == status)
			break;
		tl_sleep_ms(20);
	} while (tl_now_ms() - t0 < 3000);
	return got;
}

/* ---- cases ------------------------------------------------------------- */

static void
case_basic(void)
{
	const char *const rid[] = {"X-Request-Id: my-id-42", NULL};
	const char *const bad[] = {"Authorization: Bearer nope", NULL};
	struct tl_resp r;
	char buf[128];
	json_t *o;

	CHECK(tl_http(&A, "GET", "/healthz", NULL, NULL, 0, 0, &r) == 0 &&
	          r.status == 200,
	    "healthz %ld", r.status);
	CHECK(tl_header(&r, "X-Request-Id", buf, sizeof(buf)) != NULL &&
	          strncmp(buf, "req-", 4) == 0,
	    "generated id");
	tl_resp_free(&r);
	CHECK(wait_status("/readyz", NULL, 200) == 200, "readyz");
	tl_http(&A, "GET", "/readyz", rid, NULL, 0, 0, &r);
	CHECK(r.status == 200, "readyz %ld %s", r.status, r.body);
	CHECK(tl_header(&r, "X-Request-Id", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "my-id-42") == 0,
	    "request id echoed: %s", buf);
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/models", auth_hdr, NULL, 0, 0, &r);
	o = parse(&r);
	CHECK(
	    r.status == 200 && json_array_size(json_object_get(o, "data")) == 3,
	    "models: %s", r.body);
	CHECK(strcmp(json_string_value(json_object_get(
	                 json_array_get(json_object_get(o, "data"), 0), "id")),
	          "fake") == 0,
	    "model id");
	json_decref(o);
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/models/tok", auth_hdr, NULL, 0, 0, &r);
	CHECK(
	    r.status == 200 && strstr(r.body, "\"tok\"") != NULL, "%s", r.body);
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/models/none", auth_hdr, NULL, 0, 0, &r);
	check_error(&r, 404, "model_not_found");
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/models", NULL, NULL, 0, 0, &r);
	check_error(&r, 401, "invalid_api_key");
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/models", bad, NULL, 0, 0, &r);
	check_error(&r, 401, "invalid_api_key");
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/nothing", auth_hdr, NULL, 0, 0, &r);
	CHECK(r.status == 404, "unknown path %ld", r.status);
	check_error(&r, 404, NULL);
	tl_resp_free(&r);
	tl_http(&A, "GET", "/v1/chat/completions", auth_hdr, NULL, 0, 0, &r);
	check_error(&r, 405, NULL);
	CHECK(tl_header(&r, "Allow", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "POST") == 0,
	    "Allow: %s", buf);
	tl_resp_free(&r);
	CHECK(TR.n_place == 0, "no placement for any of these");
}

static void
case_chat(void)
{
	struct tl_resp r;
	json_t *o, *ch, *u;
	const char *s;

	tl_router_reset(F.addr);
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	o = parse(&r);
	CHECK(r.status == 200, "%ld %s", r.status, r.body);
	CHECK(strcmp(json_string_value(json_object_get(o, "object")),
	          "chat.completion") == 0,
	    "object");
	s = json_string_value(json_object_get(o, "id"));
	CHECK(s != NULL && strncmp(s, "chatcmpl-", 9) == 0, "id");
	CHECK(json_is_integer(json_object_get(o, "created")), "created");
	ch = json_array_get(json_object_get(o, "choices"), 0);
	s = json_string_value(
	    json_object_get(json_object_get(ch, "message"), "content"));
	CHECK(s != NULL && strcmp(s, "t0 t1 t2 t3 t4 ") == 0, "content %s", s);
	CHECK(strcmp(json_string_value(json_object_get(
	                 json_object_get(ch, "message"), "role")),
	          "assistant") == 0,
	    "role");
	CHECK(strcmp(json_string_value(json_object_get(ch, "finish_reason")),
	          "stop") == 0,
	    "finish_reason");
	u = json_object_get(o, "usage");
	CHECK(json_integer_value(json_object_get(u, "completion_tokens")) == 5,
	    "completion_tokens");
	CHECK(json_integer_value(json_object_get(u, "prompt_tokens")) > 0,
	    "prompt_tokens");
	json_decref(o);
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_place == 1 && strcmp(TR.places[0].model, "fake") == 0 &&
	          strcmp(TR.places[0].endpoint, "chat") == 0 &&
	          TR.places[0].attempt == 0,
	    "PLACE %s %s", TR.places[0].model, TR.places[0].endpoint);
	CHECK(TR.n_done == 1 && TR.dones[0].outcome == OUTCOME_OK &&
	          TR.dones[0].completion_tokens == 5,
	    "DONE outcome %u tokens %u", TR.dones[0].outcome,
	    TR.dones[0].completion_tokens);
	/* max_tokens: finish "length". */
	tl_post(&A, "/v1/chat/completions",
	    "{\"model\":\"fake\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":5}",
	    &r);
	CHECK(strstr(r.body, "\"finish_reason\":\"length\"") != NULL, "%s",
	    r.body);
	tl_resp_free(&r);
	/* The backend's own template: still answered. */
	tl_post(&A, "/v1/chat/completions", CHAT("tok", "false"), &r);
	CHECK(r.status == 200 && strstr(r.body, "t0 t1") != NULL, "tok %s",
	    r.body);
	tl_resp_free(&r);
	check_done();
}

static void
case_chat_stream(void)
{
	struct tl_resp r;
	char text[4096], buf[64];
	int events, done;

	tl_router_reset(F.addr);
	tl_post(&A, "/v1/chat/completions",
	    "{\"model\":\"fake\",\"messages\":"
	    "[{\"role\":\"user\",\"content\":\"count\"}],\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true}}",
	    &r);
	CHECK(r.status == 200, "%ld %s", r.status, r.body);
	CHECK(tl_header(&r, "Content-Type", buf, sizeof(buf)) != NULL &&
	          strncmp(buf, "text/event-stream", 17) == 0,
	    "type %s", buf);
	CHECK(tl_sse_text(r.body, text, sizeof(text), &events, &done) == 0,
	    "SSE parse: %s", r.body);
	CHECK(strcmp(text, "t0 t1 t2 t3 t4 ") == 0, "text %s", text);
	CHECK(done, "no [DONE]");
	CHECK(
	    strstr(r.body, "\"role\":\"assistant\"") != NULL &&
	        strstr(r.body, "\"role\":\"assistant\"") < strstr(r.body, "t0"),
	    "first chunk carries the role");
	CHECK(strstr(r.body, "\"finish_reason\":\"stop\"") != NULL, "finish");
	CHECK(strstr(r.body, "\"completion_tokens\":5") != NULL, "usage %s",
	    r.body);
	CHECK(strstr(r.body, "chat.completion.chunk") != NULL, "object");
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_done == 1 && TR.dones[0].outcome == OUTCOME_OK &&
	          TR.dones[0].ttft_us > 0,
	    "DONE");
}

static void
case_completions(void)
{
	struct tl_resp r;
	char text[4096];
	int events, done;
	json_t *o;

	tl_router_reset(F.addr);
	tl_post(&A, "/v1/completions",
	    "{\"model\":\"fake\",\"prompt\":"
	    "\"once upon\"}",
	    &r);
	o = parse(&r);
	CHECK(r.status == 200 &&
	          strcmp(json_string_value(json_object_get(o, "object")),
	              "text_completion") == 0,
	    "%s", r.body);
	CHECK(strcmp(json_string_value(json_object_get(
	                 json_array_get(json_object_get(o, "choices"), 0),
	                 "text")),
	          "t0 t1 t2 t3 t4 ") == 0,
	    "text");
	json_decref(o);
	tl_resp_free(&r);
	tl_post(&A, "/v1/completions",
	    "{\"model\":\"fake\",\"prompt\":"
	    "\"once upon\",\"stream\":true}",
	    &r);
	tl_sse_text(r.body, text, sizeof(text), &events, &done);
	CHECK(
	    strcmp(text, "t0 t1 t2 t3 t4 ") == 0 && done, "stream %s", r.body);
	tl_resp_free(&r);
	check_done();
	CHECK(strcmp(TR.places[0].endpoint, "completions") == 0, "endpoint");
}

static void
case_embeddings(void)
{
	struct tl_resp r;
	json_t *o, *d;

	tl_router_reset(F.addr);
	tl_post(&A, "/v1/embeddings",
	    "{\"model\":\"fake\",\"input\":"
	    "[\"hello world\",\"bye\"]}",
	    &r);
	o = parse(&r);
	CHECK(r.status == 200, "%ld %s", r.status, r.body);
	d = json_object_get(o, "data");
	CHECK(json_array_size(d) == 2, "2 vectors");
	CHECK(json_array_size(
	          json_object_get(json_array_get(d, 1), "embedding")) == 8,
	    "dimension 8");
	CHECK(json_is_real(json_array_get(
	          json_object_get(json_array_get(d, 0), "embedding"), 0)),
	    "floats");
	CHECK(json_integer_value(
	          json_object_get(json_array_get(d, 1), "index")) == 1,
	    "index");
	CHECK(json_integer_value(json_object_get(
	          json_object_get(o, "usage"), "prompt_tokens")) == 3,
	    "usage");
	json_decref(o);
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_place == 1 && TR.n_done == 1, "one placement");
}

static void
case_bad_inputs(void)
{
	static const char *const chunked[] = {"Authorization: Bearer " TL_KEY,
	    "Transfer-Encoding: chunked", NULL};
	struct tl_resp r;
	char *big, deep[200];
	int i, places;

	tl_router_reset(F.addr);
	big = malloc(100 * 1024);
	memset(big, ' ', 100 * 1024);
	big[0] = '{';
	big[100 * 1024 - 1] = '}';
	tl_http(&A, "POST", "/v1/chat/completions", auth_hdr, big, 100 * 1024,
	    0, &r);
	check_error(&r, 413, NULL);
	tl_resp_free(&r);
	tl_http(&A, "POST", "/v1/chat/completions", chunked, big, 100 * 1024, 0,
	    &r);
	check_error(&r, 413, NULL);
	tl_resp_free(&r);
	free(big);
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	deep[40] = '\0';
	snprintf(deep + 40, sizeof(deep) - 40, "%s", "");
	tl_post(&A, "/v1/chat/completions", deep, &r);
	check_error(&r, 400, NULL);
	tl_resp_free(&r);
	tl_post(&A, "/v1/chat/completions",
	    "{\"model\":\"fake\","
	    "\"messages\":5}",
	    &r);
	check_error(&r, 400, NULL);
	CHECK(
	    strstr(r.body, "messages") != NULL, "names the field: %s", r.body);
	tl_resp_free(&r);
	tl_post(&A, "/v1/chat/completions",
	    "{\"model\":\"fake\",\n"
	    "\"messages\": [}",
	    &r);
	check_error(&r, 400, NULL);
	CHECK(strstr(r.body, "line 2") != NULL ||
	          strstr(r.body, "column") != NULL,
	    "position: %s", r.body);
	tl_resp_free(&r);
	places = TR.n_place;
	tl_post(&A, "/v1/chat/completions", CHAT("nosuch", "false"), &r);
	check_error(&r, 404, "model_not_found");
	tl_resp_free(&r);
	CHECK(TR.n_place == places, "unknown model placed");
	tl_http(&A, "POST", "/v1/chat/completions", NULL, "{}", 2, 0, &r);
	check_error(&r, 401, "invalid_api_key");
	tl_resp_free(&r);
	CHECK(tl_http(&A, "GET", "/healthz", NULL, NULL, 0, 0, &r) == 0 &&
	          r.status == 200,
	    "still serving");
	tl_resp_free(&r);
	check_done();
}

/* A client that sends its body too slowly gets 408; others are served. */
static void
case_slow_body(void)
{
	struct sockaddr_in sin;
	char buf[2048], req[512];
	struct tl_resp r;
	size_t got;
	ssize_t n;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)A.proc.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "conn");
	snprintf(req, sizeof(req),
	    "POST /v1/chat/completions HTTP/1.1\r\n"
	    "Host: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n"
	    "\r\n{\"mod",
	    TL_KEY);
	/* Never idle for long (MHD's idle timeout), but slow in total. */
	(void)write(fd, req, strlen(req));
	tl_sleep_ms(700);
	(void)write(fd, "e", 1);
	tl_sleep_ms(700);
	(void)write(fd, "l", 1);
	tl_sleep_ms(400);
	(void)write(fd, "\"", 1);
	for (got = 0; got < sizeof(buf) - 1; got += (size_t)n)
		if ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) <= 0)
			break;
	buf[got] = '\0';
	CHECK(strncmp(buf, "HTTP/1.1 408", 12) == 0, "got: %s", buf);
	CHECK(strstr(buf, "request_timeout") != NULL, "OpenAI error: %s", buf);
	close(fd);
	CHECK(tl_http(&A, "GET", "/healthz", NULL, NULL, 0, 0, &r) == 0 &&
	          r.status == 200,
	    "still serving");
	tl_resp_free(&r);
}

static void
case_reject(void)
{
	struct tl_resp r;
	char buf[32];

	tl_router_reset(F.addr);
	TR.mode = TL_REJECT;
	TR.reject.http_status = 503;
	TR.reject.retry_after_s = 7;
	snprintf(TR.reject.code, sizeof(TR.reject.code), "model_loading");
	snprintf(TR.reject.message, sizeof(TR.reject.message),
	    "model fake is loading (40 %%)");
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "true"), &r);
	check_error(&r, 503, "model_loading");
	CHECK(tl_header(&r, "Retry-After", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "7") == 0,
	    "Retry-After %s", buf);
	CHECK(strstr(r.body, "loading (40 %)") != NULL, "message %s", r.body);
	tl_resp_free(&r);
	TR.reject.http_status = 404;
	TR.reject.retry_after_s = 0;
	snprintf(TR.reject.code, sizeof(TR.reject.code), "model_not_found");
	tl_post(
	    &A, "/v1/embeddings", "{\"model\":\"fake\",\"input\":\"x\"}", &r);
	check_error(&r, 404, "model_not_found");
	CHECK(tl_header(&r, "Retry-After", buf, sizeof(buf)) == NULL,
	    "no Retry-After");
	tl_resp_free(&r);
	TR.reject.http_status = 429;
	TR.reject.retry_after_s = 2;
	snprintf(TR.reject.code, sizeof(TR.reject.code), "rate_limit_exceeded");
	tl_post(
	    &A, "/v1/completions", "{\"model\":\"fake\",\"prompt\":\"x\"}", &r);
	check_error(&r, 429, "rate_limit_exceeded");
	tl_resp_free(&r);
	CHECK(TR.n_done == 0, "no DONE without a grant");
	check_done();
}

static void
case_wait(void)
{
	struct tl_resp r;

	tl_router_reset(F.addr);
	TR.waits = 3;
	TR.delay_ms = 400;
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	CHECK(r.status == 200 && r.ms >= 350, "%ld after %lld ms", r.status,
	    (long long)r.ms);
	tl_resp_free(&r);
	check_done();
	/* No answer at all: our own bound (queue/load wait + slack). */
	tl_router_reset(F.addr);
	TR.mode = TL_SILENT;
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	check_error(&r, 504, NULL);
	CHECK(r.ms >= 12000 && r.ms < 16000, "gave up after %lld ms",
	    (long long)r.ms);
	tl_resp_free(&r);
	check_done();
}

static void
case_retry(void)
{
	struct tl_resp r;

	tl_router_reset(F.addr);
	tl_dead_addr(TR.addrs[0], sizeof(TR.addrs[0]));
	snprintf(TR.addrs[1], sizeof(TR.addrs[1]), "%s", F.addr);
	TR.naddr = 2;
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "true"), &r);
	CHECK(r.status == 200 && strstr(r.body, "[DONE]") != NULL, "%ld %s",
	    r.status, r.body);
	tl_resp_free(&r);
	check_done();
	/* Refused: first placed again on a fresh channel (the cached one
	 * may be stale), with no REPLICA_FAIL; refused again, the replica
	 * failed: the next attempt avoids its node. */
	CHECK(TR.n_place == 3 && TR.places[1].attempt == 0 &&
	          TR.places[1].exclude_node[0] == '\0' &&
	          TR.places[2].attempt == 1 &&
	          strcmp(TR.places[2].exclude_node, "node-0") == 0,
	    "PLACEs %d, attempts %u %u exclude %s", TR.n_place,
	    TR.places[1].attempt, TR.places[2].attempt,
	    TR.places[2].exclude_node);
	CHECK(strcmp(TR.places[0].request_id, TR.places[2].request_id) == 0,
	    "same request id");
	CHECK(TR.n_fail == 1 && strcmp(TR.fails[0].node_id, "node-0") == 0 &&
	          TR.fails[0].grpc_status == 14,
	    "REPLICA_FAIL %d", TR.n_fail);
	CHECK(TR.n_done == 3 && TR.dones[0].outcome == OUTCOME_UNAVAILABLE &&
	          TR.dones[1].outcome == OUTCOME_UNAVAILABLE &&
	          TR.dones[2].outcome == OUTCOME_OK,
	    "DONEs %u %u %u", TR.dones[0].outcome, TR.dones[1].outcome,
	    TR.dones[2].outcome);
	/* Every replica dead: bounded attempts (1 + one fresh channel +
	 * retries), then 503. */
	tl_router_reset(F.addr);
	tl_dead_addr(TR.addrs[0], sizeof(TR.addrs[0]));
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	check_error(&r, 503, "service_unavailable");
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_place == 4 && TR.n_done == 4 && TR.n_fail == 3,
	    "places %d dones %d fails %d", TR.n_place, TR.n_done, TR.n_fail);
}

/* A replica dies after 3 tokens; another continues the stream. */
static void
case_failover(void)
{
	char *ea[] = {"API_CONTBE=tokens=10,rate_ms=20,crash_after=3", NULL};
	char *eb[] = {"API_CONTBE=tokens=10,rate_ms=5", NULL};
	struct tl_proc a, b;
	struct tl_resp r;
	char text[4096];
	int events, done;

	CHECK(tl_backend(&a, contbin, ea) == 0 &&
	          tl_backend(&b, contbin, eb) == 0,
	    "backends");
	tl_router_reset(a.addr);
	snprintf(TR.addrs[1], sizeof(TR.addrs[1]), "%s", b.addr);
	TR.naddr = 2;
	tl_post(&A, "/v1/chat/completions", CHAT("cont", "true"), &r);
	CHECK(r.status == 200, "%ld", r.status);
	tl_sse_text(r.body, text, sizeof(text), &events, &done);
	CHECK(strcmp(text, "t0 t1 t2 t3 t4 t5 t6 t7 t8 t9 ") == 0,
	    "one stream, in order, no duplicates: \"%s\"", text);
	CHECK(done, "ends with [DONE]: %s", r.body);
	CHECK(strstr(r.body, "\"error\"") == NULL, "no error event");
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_fail == 1 && strcmp(TR.fails[0].node_id, "node-0") == 0,
	    "REPLICA_FAIL for the dead one");
	CHECK(TR.n_done == 2 && TR.dones[0].outcome == OUTCOME_UNAVAILABLE &&
	          TR.dones[0].completion_tokens == 3 &&
	          TR.dones[1].outcome == OUTCOME_OK &&
	          TR.dones[1].completion_tokens == 7,
	    "DONEs");
	CHECK(tl_proc_stop(&a) == 128 + 6, "the first replica crashed");
	/* Nobody can continue: the stream ends with an error event. */
	CHECK(tl_backend(&a, contbin, ea) == 0, "backend");
	tl_router_reset(a.addr);
	tl_dead_addr(TR.addrs[1], sizeof(TR.addrs[1]));
	TR.naddr = 2;
	tl_post(&A, "/v1/chat/completions", CHAT("cont", "true"), &r);
	tl_sse_text(r.body, text, sizeof(text), &events, &done);
	CHECK(r.status == 200 && strcmp(text, "t0 t1 t2 ") == 0, "%s", text);
	CHECK(!done && strstr(r.body, "data: {\"error\"") != NULL,
	    "error event, no [DONE]: %s", r.body);
	tl_resp_free(&r);
	check_done();
	tl_proc_stop(&a);
	tl_proc_stop(&b);
}

static int
file_has(const char *path, const char *what)
{
	char buf[4096];
	ssize_t n;
	int fd, found = 0;

	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		found = strstr(buf, what) != NULL;
	}
	close(fd);
	return found;
}

/* The client hangs up mid-stream: the backend stops at once. */
static void
case_cancel(void)
{
	char ev[600], evenv[700];
	char *env[] = {
	    "FAKE_BACKEND_OPTIONS=tokens=1000,rate_ms=10", evenv, NULL};
	struct tl_proc s;
	struct tl_resp r;
	int64_t t0;

	snprintf(ev, sizeof(ev), "%s/events", tl_tmpdir());
	snprintf(evenv, sizeof(evenv), "FAKE_BACKEND_EVENTS=%s", ev);
	CHECK(tl_backend(&s, fakebin, env) == 0, "backend");
	tl_router_reset(s.addr);
	tl_http(&A, "POST", "/v1/chat/completions",
	    (const char *const[]){"Authorization: Bearer " TL_KEY, NULL},
	    CHAT("fake", "true"), strlen(CHAT("fake", "true")), 600, &r);
	t0 = tl_now_ms();
	tl_resp_free(&r);
	while (!file_has(ev, "stream cancelled") && tl_now_ms() - t0 < 3000)
		tl_sleep_ms(10);
	CHECK(file_has(ev, "stream cancelled"), "backend saw the cancel");
	CHECK(tl_now_ms() - t0 < 1000, "within %lld ms",
	    (long long)(tl_now_ms() - t0));
	check_done();
	CHECK(TR.n_done == 1 && TR.dones[0].outcome == OUTCOME_CANCELLED,
	    "DONE outcome %u", TR.dones[0].outcome);
	/*
	 * The client hangs up while the placement waits: the grant that
	 * comes later is given back at once (DONE, CANCELLED), unused.
	 */
	tl_router_reset(s.addr);
	TR.delay_ms = 1500;
	tl_http_timeout_ms = 300;
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "true"), &r);
	tl_http_timeout_ms = 60000;
	tl_resp_free(&r);
	tl_sleep_ms(1600);
	check_done();
	CHECK(TR.n_place == 1 && TR.n_done == 1 &&
	          TR.dones[0].outcome == OUTCOME_CANCELLED &&
	          TR.dones[0].completion_tokens == 0,
	    "stray grant returned: %d DONE (%u %u)", TR.n_done,
	    TR.dones[0].outcome, TR.dones[1].outcome);
	CHECK(!file_has(ev, "stream done") && !file_has(ev, "cancelled 0"),
	    "the backend was never called");
	tl_proc_stop(&s);
}

static void
case_first_token(void)
{
	char *env[] = {"FAKE_BACKEND_OPTIONS=hang", NULL};
	struct tl_proc s;
	struct tl_resp r;

	CHECK(tl_backend(&s, fakebin, env) == 0, "backend");
	tl_router_reset(s.addr);
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "true"), &r);
	check_error(&r, 504, NULL);
	CHECK(r.ms >= 1900 && r.ms < 4000, "after %lld ms", (long long)r.ms);
	CHECK(strstr(r.body, "first token") != NULL, "%s", r.body);
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_done == 1 && TR.dones[0].outcome == OUTCOME_TIMEOUT, "%u",
	    TR.dones[0].outcome);
	tl_proc_kill(&s);
}

static void
case_speech(void)
{
	struct tl_resp r;
	char buf[64];

	tl_router_reset(F.addr);
	tl_post(&A, "/v1/audio/speech",
	    "{\"model\":\"fake\",\"input\":"
	    "\"hello there\",\"voice\":\"alloy\"}",
	    &r);
	CHECK(r.status == 200, "%ld %s", r.status, r.body);
	CHECK(tl_header(&r, "Content-Type", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "audio/wav") == 0,
	    "type %s", buf);
	CHECK(r.len == 44 + 3 * 1600 * 2 && memcmp(r.body, "RIFF", 4) == 0 &&
	          memcmp(r.body + 8, "WAVE", 4) == 0,
	    "WAV of %zu bytes", r.len);
	tl_resp_free(&r);
	check_done();
	CHECK(strcmp(TR.places[0].endpoint, "tts") == 0, "endpoint");
}

/* A multipart body with a file of n bytes and the given format. */
static char *
form(size_t n, const char *fmt, size_t *len)
{
	const char *b = "----tlboundary";
	char head[512], tail[512], *body;
	size_t h, t;

	h = (size_t)snprintf(head, sizeof(head),
	    "--%s\r\nContent-Disposition:"
	    " form-data; name=\"model\"\r\n\r\nfake\r\n--%s\r\n"
	    "Content-Disposition: form-data; name=\"response_format\"\r\n\r\n"
	    "%s\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; "
	    "filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
	    b, b, fmt, b);
	t = (size_t)snprintf(tail, sizeof(tail), "\r\n--%s--\r\n", b);
	body = malloc(h + n + t);
	memcpy(body, head, h);
	memset(body + h, 'a', n);
	memcpy(body + h + n, tail, t);
	*len = h + n + t;
	return body;
}

static void
case_transcription(void)
{
	static const char *const h[] = {"Authorization: Bearer " TL_KEY,
	    "Content-Type: multipart/form-data; boundary=----tlboundary", NULL};
	struct tl_resp r;
	char *body, buf[64];
	size_t len;

	tl_router_reset(F.addr);
	body = form(300000, "json", &len);
	tl_http(&A, "POST", "/v1/audio/transcriptions", h, body, len, 0, &r);
	CHECK(r.status == 200 &&
	          strstr(r.body,
	              "\"text\":\"fake transcript of 300000 bytes\"") != NULL,
	    "%ld %s", r.status, r.body);
	tl_resp_free(&r);
	free(body);
	body = form(1000, "text", &len);
	tl_http(&A, "POST", "/v1/audio/transcriptions", h, body, len, 0, &r);
	CHECK(r.status == 200 && strstr(r.body, "fake transcript of 1000") &&
	          r.body[0] != '{',
	    "text: %s", r.body);
	CHECK(tl_header(&r, "Content-Type", buf, sizeof(buf)) != NULL &&
	          strncmp(buf, "text/plain", 10) == 0,
	    "type %s", buf);
	tl_resp_free(&r);
	free(body);
	body = form(1000, "vtt", &len);
	tl_http(&A, "POST", "/v1/audio/transcriptions", h, body, len, 0, &r);
	CHECK(r.status == 200 && strncmp(r.body, "WEBVTT", 6) == 0, "vtt %s",
	    r.body);
	tl_resp_free(&r);
	free(body);
	body = form(2 * 1024 * 1024, "json", &len);
	tl_http(&A, "POST", "/v1/audio/transcriptions", h, body, len, 0, &r);
	check_error(&r, 413, NULL);
	tl_resp_free(&r);
	free(body);
	tl_http(&A, "POST", "/v1/audio/transcriptions", h, "garbage", 7, 0, &r);
	check_error(&r, 400, NULL);
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_place == 3, "3 transcriptions placed, not %d", TR.n_place);
}

static void
case_relay(void)
{
	static const char *const h[] = {
	    "Authorization: Bearer admin-key", "X-Request-Id: relay-1", NULL};
	const char *const rh[] = {"Range: bytes=10-19", NULL};
	const char *const bad[] = {"Range: bytes=5000-", NULL};
	char path[600], buf[128];
	struct tl_resp r;
	int fd, i;

	tl_router_reset(F.addr);
	snprintf(TR.http_body, sizeof(TR.http_body), "{\"nodes\":[]}");
	tl_http(&A, "POST", "/api/nodes/n1/drain?force=1", h, "{\"a\":1}", 7, 0,
	    &r);
	CHECK(r.status == 200 && strcmp(r.body, "{\"nodes\":[]}") == 0,
	    "%ld %s", r.status, r.body);
	tl_resp_free(&r);
	CHECK(TR.n_http == 1 && strcmp(TR.http[0].method, "POST") == 0 &&
	          strcmp(TR.http[0].path, "/api/nodes/n1/drain?force=1") == 0 &&
	          strcmp(TR.http[0].authorization, "Bearer admin-key") == 0 &&
	          strcmp(TR.http[0].request_id, "relay-1") == 0 &&
	          strcmp(TR.http[0].remote, "127.0.0.1") == 0 &&
	          strcmp(TR.http_req_body, "{\"a\":1}") == 0,
	    "relayed %s %s", TR.http[0].path, TR.http_req_body);
	TR.http_status = 401;
	snprintf(TR.http_body, sizeof(TR.http_body), "{\"error\":{}}");
	tl_http(&A, "GET", "/api/events", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 401, "router's status %ld", r.status);
	tl_resp_free(&r);
	/* sendfile */
	snprintf(path, sizeof(path), "%s/model.bin", tl_tmpdir());
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	for (i = 0; i < 100; i++)
		(void)write(fd, "0123456789", 10);
	close(fd);
	TR.http_status = 200;
	snprintf(TR.http_ctype, sizeof(TR.http_ctype),
	    "application/x-localai-sendfile");
	snprintf(TR.http_body, sizeof(TR.http_body), "%s", path);
	tl_http(&A, "GET", "/api/node/files/m/model.bin", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 200 && r.len == 1000, "%ld %zu", r.status, r.len);
	CHECK(tl_header(&r, "Content-Length", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "1000") == 0,
	    "Content-Length %s", buf);
	CHECK(tl_header(&r, "Accept-Ranges", buf, sizeof(buf)) != NULL,
	    "Accept-Ranges");
	tl_resp_free(&r);
	tl_http(&A, "GET", "/api/node/files/m/model.bin", rh, NULL, 0, 0, &r);
	CHECK(r.status == 206 && r.len == 10 &&
	          memcmp(r.body, "0123456789", 10) == 0,
	    "%ld %zu", r.status, r.len);
	CHECK(tl_header(&r, "Content-Range", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "bytes 10-19/1000") == 0,
	    "Content-Range %s", buf);
	tl_resp_free(&r);
	tl_http(&A, "GET", "/api/node/files/m/model.bin", bad, NULL, 0, 0, &r);
	CHECK(r.status == 416 &&
	          tl_header(&r, "Content-Range", buf, sizeof(buf)) != NULL &&
	          strcmp(buf, "bytes */1000") == 0,
	    "%ld", r.status);
	tl_resp_free(&r);
	snprintf(TR.http_body, sizeof(TR.http_body), "%s/none", tl_tmpdir());
	tl_http(&A, "GET", "/api/node/files/m/none", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 404, "missing file %ld", r.status);
	tl_resp_free(&r);
	/* /metrics is the router's to render. */
	snprintf(TR.http_ctype, sizeof(TR.http_ctype), "text/plain");
	snprintf(TR.http_body, sizeof(TR.http_body), "localai_up 1\n");
	tl_http(&A, "GET", "/metrics", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 200 && strcmp(r.body, "localai_up 1\n") == 0 &&
	          strcmp(TR.http[TR.n_http - 1].path, "/metrics") == 0,
	    "metrics %ld", r.status);
	tl_resp_free(&r);
}

struct bg {
	struct tl_resp r;
	const char *body;
};

static void *
bg_post(void *arg)
{
	struct bg *b = arg;

	tl_post(&A, "/v1/chat/completions", b->body, &b->r);
	return NULL;
}

static int
wait_places(int n, int timeout_ms)
{
	int64_t t0 = tl_now_ms();

	while (TR.n_place < n && tl_now_ms() - t0 < timeout_ms)
		tl_sleep_ms(10);
	return TR.n_place >= n ? 0 : -1;
}

/* The router restarts: waiting placements move to the new link. */
static void
case_router_restart(void)
{
	struct bg b = {.body = CHAT("fake", "false")};
	struct tl_resp r;
	pthread_t t;

	tl_router_reset(F.addr);
	TR.mode = TL_SILENT;
	pthread_create(&t, NULL, bg_post, &b);
	CHECK(wait_places(1, 5000) == 0, "first PLACE");
	tl_router_drop_links();
	tl_sleep_ms(300);
	tl_http(&A, "GET", "/readyz", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 503, "not ready without a router: %ld", r.status);
	tl_resp_free(&r);
	TR.mode = TL_GRANT;
	CHECK(tl_api_relink(&A) == 0, "relink");
	pthread_join(t, NULL);
	CHECK(b.r.status == 200, "answered after the restart: %ld %s",
	    b.r.status, b.r.body);
	tl_resp_free(&b.r);
	CHECK(
	    TR.n_place == 2 &&
	        strcmp(TR.places[0].request_id, TR.places[1].request_id) == 0 &&
	        TR.places[1].attempt == 0,
	    "PLACE sent again on the new link");
	check_done();
	CHECK(wait_status("/readyz", NULL, 200) == 200, "ready again");
	/* No router for longer than the api waits for one: 503. */
	tl_router_drop_links();
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	check_error(&r, 503, NULL);
	CHECK(r.ms >= 4000 && r.ms < 8000, "after %lld ms", (long long)r.ms);
	tl_resp_free(&r);
	CHECK(tl_api_relink(&A) == 0, "relink");
	tl_sleep_ms(100);
}

/*
 * A backend killed (-9) and restarted on the same port: calls made while
 * it was down left the api's cached channel to that address in its
 * reconnect backoff (growing to 2 s).  Every request after the restart
 * succeeds (non-streaming and streaming), and none of them reports the
 * replica failed (that would make the node suspect).
 */
static void
case_stale(void)
{
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=3", NULL};
	char addr[64], text[256];
	struct tl_proc b;
	struct tl_resp r;
	int i, ok = 0, events, done;

	CHECK(tl_backend(&b, fakebin, env) == 0, "backend");
	snprintf(addr, sizeof(addr), "%s", b.addr);
	tl_router_reset(addr);
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	CHECK(r.status == 200, "before the kill: %ld %s", r.status, r.body);
	tl_resp_free(&r);
	tl_proc_kill(&b);
	for (i = 0; i < 12; i++) {
		tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
		CHECK(r.status == 503, "while down: %ld %s", r.status, r.body);
		tl_resp_free(&r);
		tl_sleep_ms(200);
	}
	check_done();
	CHECK(tl_backend_opt(&b, fakebin, env, addr, NULL) == 0,
	    "restart on %s", addr);
	tl_router_reset(addr);
	for (i = 0; i < 6; i++) {
		tl_post(&A, "/v1/chat/completions",
		    i % 2 ? CHAT("fake", "true") : CHAT("fake", "false"), &r);
		if (i % 2) {
			tl_sse_text(r.body, text, sizeof(text), &events, &done);
			ok += r.status == 200 && done &&
			      strcmp(text, "t0 t1 t2 ") == 0;
		} else
			ok += r.status == 200 &&
			      strstr(r.body, "t0 t1 t2 ") != NULL;
		if (r.status != 200)
			fprintf(stderr, "after the restart: %ld %s\n", r.status,
			    r.body);
		tl_resp_free(&r);
	}
	CHECK(ok == 6, "%d of 6 requests succeeded after the restart", ok);
	CHECK(TR.n_fail == 0, "%d REPLICA_FAIL after the restart", TR.n_fail);
	check_done();
	tl_proc_stop(&b);
}

/*
 * An address gRPC cannot make a channel for ("Failed to create secure
 * client channel"): a connection failure, never a 500.  The node is
 * reported (REPLICA_FAIL) and the request served by another replica;
 * with none, 503 with Retry-After and a message that says so.
 */
static void
case_lame(void)
{
	struct tl_resp r;
	char buf[32];

	tl_router_reset(F.addr);
	snprintf(TR.addrs[0], sizeof(TR.addrs[0]), "ipv4:999.1.1.1:5");
	snprintf(TR.addrs[1], sizeof(TR.addrs[1]), "%s", F.addr);
	TR.naddr = 2;
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	CHECK(r.status == 200, "served elsewhere: %ld %s", r.status, r.body);
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_fail == 1 && strcmp(TR.fails[0].node_id, "node-0") == 0,
	    "REPLICA_FAIL %d", TR.n_fail);
	CHECK(
	    TR.n_place == 2 && strcmp(TR.places[1].exclude_node, "node-0") == 0,
	    "PLACE %d, exclude %s", TR.n_place, TR.places[1].exclude_node);
	tl_router_reset("ipv4:999.1.1.1:5");
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "true"), &r);
	check_error(&r, 503, "service_unavailable");
	CHECK(strstr(r.body, "cannot connect") != NULL &&
	          strstr(r.body, "channel") != NULL,
	    "message: %s", r.body);
	CHECK(tl_header(&r, "Retry-After", buf, sizeof(buf)) != NULL,
	    "Retry-After");
	tl_resp_free(&r);
	check_done();
	CHECK(TR.n_fail == 3, "REPLICA_FAIL %d", TR.n_fail);
}

/*
 * A replica whose backend is at its call limit (the cross-frontend
 * last-slot race, docs/DESIGN.md §10): RESOURCE_EXHAUSTED is placed
 * again (here: granted another replica), is no REPLICA_FAIL, and every
 * client succeeds.
 */
static void
case_busy(void)
{
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=3,delay_ms=400", NULL};
	const char *args[] = {"--max-calls", "1", NULL};
	struct bg bgs[3];
	pthread_t t[3];
	struct tl_proc b;
	int i, busy = 0;

	CHECK(tl_backend_opt(&b, fakebin, env, "127.0.0.1:0", args) == 0,
	    "backend");
	tl_router_reset(b.addr);
	snprintf(TR.addrs[1], sizeof(TR.addrs[1]), "%s", F.addr);
	TR.naddr = 2;
	for (i = 0; i < 3; i++) {
		memset(&bgs[i], 0, sizeof(bgs[i]));
		bgs[i].body = CHAT("fake", "false");
		pthread_create(&t[i], NULL, bg_post, &bgs[i]);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		CHECK(bgs[i].r.status == 200 &&
		          strstr(bgs[i].r.body, "t0 t1 t2") != NULL,
		    "request %d: %ld %s", i, bgs[i].r.status, bgs[i].r.body);
		tl_resp_free(&bgs[i].r);
	}
	check_done();
	/* Placed again, not avoiding the busy node: it is healthy and may
	 * hold the only replica (the router places elsewhere or queues). */
	for (i = 0; i < TR.n_place; i++)
		if (TR.places[i].attempt == 1) {
			busy++;
			CHECK(TR.places[i].exclude_node[0] == '\0',
			    "busy node excluded: %s",
			    TR.places[i].exclude_node);
		}
	CHECK(busy >= 1, "no request was retried: %d PLACE", TR.n_place);
	CHECK(TR.n_fail == 0, "busy is no failure: %d REPLICA_FAIL", TR.n_fail);
	tl_proc_stop(&b);
}

/* A reload (SIGHUP at the supervisor) changes models and keys at once. */
static void
case_reload(void)
{
	static const char *const k2[] = {
	    "Authorization: Bearer second-key", NULL};
	struct conf_model m[4];
	struct tl_resp r;
	struct conf c;

	tl_conf(&c);
	c.generation = 2;
	c.frontend.n_api_keys = 2;
	conf_hash_key("second-key", 10, c.frontend.api_keys[1]);
	tl_model(&m[0], "fake");
	tl_model(&m[1], "tok");
	m[1].use_tokenizer_template = 1;
	tl_model(&m[2], "cont");
	tl_model(&m[3], "added");
	CHECK(tl_api_reload(&A, &c, m, 4) == 0, "reload acknowledged");
	CHECK(wait_status("/v1/models", k2, 200) == 200, "second key");
	tl_http(&A, "GET", "/v1/models", k2, NULL, 0, 0, &r);
	CHECK(r.status == 200 && strstr(r.body, "\"added\"") != NULL,
	    "new model and key: %ld %s", r.status, r.body);
	tl_resp_free(&r);
	c.generation = 3;
	c.frontend.n_api_keys = 1;
	CHECK(tl_api_reload(&A, &c, m, 3) == 0, "reload back");
	CHECK(wait_status("/v1/models", k2, 401) == 401, "key removed");
	tl_http(&A, "GET", "/v1/models/added", auth_hdr, NULL, 0, 0, &r);
	CHECK(r.status == 404, "model removed: %ld", r.status);
	tl_resp_free(&r);
}

/* ---- load, limits and shutdown -------------------------------------- */

struct mixer {
	int id;
	int ok, bad, cancelled;
};

static void *
mixer_main(void *arg)
{
	static const char *const h[] = {"Authorization: Bearer " TL_KEY, NULL};
	const char *stream = CHAT("fake", "true"),
	           *plain = CHAT("fake", "false");
	struct mixer *m = arg;
	struct tl_resp r;
	int i, kind;

	for (i = 0; i < 125; i++) {
		kind = (i + m->id) % 4;
		if (kind == 0)
			tl_post(&A, "/v1/chat/completions", plain, &r);
		else if (kind == 1)
			tl_post(&A, "/v1/chat/completions", stream, &r);
		else if (kind == 2)
			tl_post(&A, "/v1/embeddings",
			    "{\"model\":\"fake\","
			    "\"input\":\"abc\"}",
			    &r);
		else
			tl_http(&A, "POST", "/v1/chat/completions", h, stream,
			    strlen(stream), 300, &r);
		if (kind == 3)
			m->cancelled++;
		else if (r.status == 200)
			m->ok++;
		else
			m->bad++;
		tl_resp_free(&r);
	}
	return NULL;
}

/* 1,000 mixed requests, a quarter cancelled mid-stream. */
static void
case_mixed(void)
{
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=40,rate_ms=2", NULL};
	struct mixer m[8];
	pthread_t t[8];
	struct tl_proc s;
	int i, ok = 0, bad = 0;

	CHECK(tl_backend(&s, fakebin, env) == 0, "backend");
	tl_router_reset(s.addr);
	for (i = 0; i < 8; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		m[i].id = i;
		pthread_create(&t[i], NULL, mixer_main, &m[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok += m[i].ok;
		bad += m[i].bad;
	}
	CHECK(ok == 750 && bad == 0, "%d ok, %d failed", ok, bad);
	check_done();
	CHECK(TR.n_place == 1000 && TR.n_done == 1000, "%d PLACE, %d DONE",
	    TR.n_place, TR.n_done);
	tl_proc_stop(&s);
}

/* max_concurrent: the request beyond it gets 503 with Retry-After. */
static void
case_limits(void)
{
	char *env[] = {
	    "FAKE_BACKEND_OPTIONS=tokens=100,rate_ms=20,parallel=4", NULL};
	struct bg b1 = {.body = CHAT("fake", "true")}, b2 = b1;
	struct tl_api saved = A;
	struct conf_model m;
	struct tl_resp r;
	struct tl_proc s;
	pthread_t t1, t2;
	struct conf c;
	char buf[16];

	tl_conf(&c);
	c.frontend.max_concurrent = 2;
	tl_model(&m, "fake");
	CHECK(tl_backend(&s, fakebin, env) == 0, "backend");
	CHECK(tl_api_start(&A, localai, &c, &m, 1) == 0, "second api");
	tl_router_reset(s.addr);
	pthread_create(&t1, NULL, bg_post, &b1);
	pthread_create(&t2, NULL, bg_post, &b2);
	CHECK(wait_places(2, 5000) == 0, "two in progress");
	tl_post(&A, "/v1/chat/completions", CHAT("fake", "false"), &r);
	check_error(&r, 503, NULL);
	CHECK(tl_header(&r, "Retry-After", buf, sizeof(buf)) != NULL,
	    "Retry-After");
	tl_resp_free(&r);
	tl_http(&A, "GET", "/healthz", NULL, NULL, 0, 0, &r);
	CHECK(r.status == 200, "health is not limited");
	tl_resp_free(&r);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK(b1.r.status == 200 && b2.r.status == 200,
	    "the two finished: %ld %ld %s", b1.r.status, b2.r.status,
	    b2.r.body);
	tl_resp_free(&b1.r);
	tl_resp_free(&b2.r);
	check_done();
	CHECK(tl_api_stop(&A) == 0, "exit 0");
	A = saved;
	tl_proc_stop(&s);
}

/* Shutdown with a stream in progress: clean exit, DONE sent. */
static void
case_shutdown(void)
{
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=100000,rate_ms=10", NULL};
	struct bg b = {.body = CHAT("fake", "true")};
	struct tl_api saved = A;
	struct conf_model m;
	struct tl_proc s;
	pthread_t t;
	struct conf c;
	int64_t t0;

	tl_conf(&c);
	tl_model(&m, "fake");
	CHECK(tl_backend(&s, fakebin, env) == 0, "backend");
	CHECK(tl_api_start(&A, localai, &c, &m, 1) == 0, "second api");
	tl_router_reset(s.addr);
	pthread_create(&t, NULL, bg_post, &b);
	CHECK(wait_places(1, 5000) == 0, "streaming");
	tl_sleep_ms(300);
	t0 = tl_now_ms();
	CHECK(tl_api_stop(&A) == 0, "clean exit");
	CHECK(tl_now_ms() - t0 < 5000, "within the supervisor's 5 s: %lld ms",
	    (long long)(tl_now_ms() - t0));
	pthread_join(t, NULL);
	CHECK(strstr(b.r.body, "data: {\"error\"") != NULL &&
	          strstr(b.r.body, "[DONE]") == NULL,
	    "the stream ends with an "
	    "error event");
	tl_resp_free(&b.r);
	check_done();
	CHECK(TR.n_done == 1 && TR.dones[0].outcome == OUTCOME_CANCELLED,
	    "DONE %d", TR.n_done);
	A = saved;
	tl_proc_stop(&s);
}

/*
 * For clients in other languages (tests/e2e/openai_sdk.test): print
 * "ready BASE_URL API_KEY", serve until stdin closes, then check that
 * every grant got its DONE.
 */
static void
serve(void)
{
	char buf[256];

	tl_router_reset(F.addr);
	printf("ready %s %s\n", A.base, TL_KEY);
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	check_done();
}

static void
usage(void)
{
	fprintf(stderr, "usage: api_dataplane BUILDDIR CASE...\n");
	exit(2);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
    {"basic", case_basic},
    {"chat", case_chat},
    {"chat_stream", case_chat_stream},
    {"completions", case_completions},
    {"embeddings", case_embeddings},
    {"bad_inputs", case_bad_inputs},
    {"slow_body", case_slow_body},
    {"reject", case_reject},
    {"wait", case_wait},
    {"retry", case_retry},
    {"failover", case_failover},
    {"cancel", case_cancel},
    {"first_token", case_first_token},
    {"speech", case_speech},
    {"transcription", case_transcription},
    {"relay", case_relay},
    {"router_restart", case_router_restart},
    {"stale", case_stale},
    {"lame", case_lame},
    {"busy", case_busy},
    {"reload", case_reload},
    {"mixed", case_mixed},
    {"limits", case_limits},
    {"shutdown", case_shutdown},
};

int
main(int argc, char **argv)
{
	int i, before, rc;
	size_t k;

	if (argc < 3)
		usage();
	build = argv[1];
	snprintf(fakebin, sizeof(fakebin), "%s/tests/fakes/fakebackend", build);
	snprintf(
	    contbin, sizeof(contbin), "%s/tests/integration/api_contbe", build);
	snprintf(localai, sizeof(localai), "%s/bin/localai", build);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	setup();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "serve") == 0) {
			serve();
			continue;
		}
		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
			if (strcmp(cases[k].name, argv[i]) == 0)
				break;
		if (k == sizeof(cases) / sizeof(cases[0]))
			usage();
		before = tl_failures;
		cases[k].fn();
		printf("%s %s\n", tl_failures == before ? "ok" : "FAILED",
		    argv[i]);
		fflush(stdout);
	}
	rc = tl_api_stop(&A);
	CHECK(rc == 0, "api exit code %d (log %s)", rc, A.proc.log);
	tl_proc_stop(&F);
	if (tl_failures > 0) {
		char cmd[700];

		fprintf(stderr, "--- the end of the api log %s:\n", A.proc.log);
		fflush(stderr);
		snprintf(cmd, sizeof(cmd), "tail -n 80 %s >&2", A.proc.log);
		if (system(cmd) != 0)
			fprintf(stderr, "(cannot show it)\n");
	}
	return tl_failures > 0 ? 1 : 0;
}
