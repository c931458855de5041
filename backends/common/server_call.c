/*
 * One call of the backend runtime, on its worker thread: authenticate,
 * receive and decode the request, wait at the gate, run the backend's op,
 * encode and send the answer, wait for the call to close, release it.
 * Also the be_* functions backends call from their ops (backend.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>
#include <openssl/crypto.h>

#include "backends/common/server.h"
#include "proto/log.h"

/* How an RPC passes the gate. */
enum be_gating {
	BE_GATE_NONE, /* Health, Status: always answered at once */
	BE_GATE_SHARED, /* inference: up to `parallel` at a time */
	BE_GATE_EXCLUSIVE, /* LoadModel, Free: alone */
};

typedef int (*be_handler)(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);

struct be_method {
	const char *path;
	const ProtobufCMessageDescriptor *in;
	enum be_gating gating;
	int streaming;
	size_t op; /* offsetof(struct be_ops, op) */
	be_handler run;
};

/* Per-call memory for response fields (be_alloc). */
struct be_arena {
	struct be_arena *next;
	max_align_t data[];
};

static int h_health(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_status(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_load(struct be_server *, struct be_ctx *, const ProtobufCMessage *,
    ProtobufCMessage **);
static int h_free(struct be_server *, struct be_ctx *, const ProtobufCMessage *,
    ProtobufCMessage **);
static int h_predict(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_stream(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_embed(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_tokenize(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);
static int h_tts(struct be_server *, struct be_ctx *, const ProtobufCMessage *,
    ProtobufCMessage **);
static int h_transcribe(struct be_server *, struct be_ctx *,
    const ProtobufCMessage *, ProtobufCMessage **);

#define NO_OP ((size_t)-1)
#define OP(m) offsetof(struct be_ops, m)

static const struct be_method be_methods[] = {
    {"/backend.Backend/Health", &backend__health_message__descriptor,
        BE_GATE_NONE, 0, NO_OP, h_health},
    {"/backend.Backend/Status", &backend__health_message__descriptor,
        BE_GATE_NONE, 0, NO_OP, h_status},
    {"/backend.Backend/LoadModel", &backend__model_options__descriptor,
        BE_GATE_EXCLUSIVE, 0, OP(load), h_load},
    {"/backend.Backend/Free", &backend__health_message__descriptor,
        BE_GATE_EXCLUSIVE, 0, OP(free), h_free},
    {"/backend.Backend/Predict", &backend__predict_options__descriptor,
        BE_GATE_SHARED, 0, OP(predict), h_predict},
    {"/backend.Backend/PredictStream", &backend__predict_options__descriptor,
        BE_GATE_SHARED, 1, OP(predict_stream), h_stream},
    {"/backend.Backend/Embedding", &backend__predict_options__descriptor,
        BE_GATE_SHARED, 0, OP(embed), h_embed},
    {"/backend.Backend/TokenizeString", &backend__predict_options__descriptor,
        BE_GATE_SHARED, 0, OP(tokenize), h_tokenize},
    {"/backend.Backend/TTS", &backend__ttsrequest__descriptor, BE_GATE_SHARED,
        0, OP(tts), h_tts},
    {"/backend.Backend/AudioTranscription",
        &backend__transcript_request__descriptor, BE_GATE_SHARED, 0,
        OP(transcribe), h_transcribe},
};

/* Is the op behind method m present in the table?  (NO_OP: built in.) */
static int
be_has_op(const struct be_ops *ops, const struct be_method *m)
{
	void (*fn)(void);

	if (m->op == NO_OP)
		return 1;
	memcpy(&fn, (const char *)ops + m->op, sizeof(fn));
	return fn != NULL;
}

static const struct be_method *
be_find_method(grpc_slice path)
{
	size_t i;

	for (i = 0; i < sizeof(be_methods) / sizeof(be_methods[0]); i++)
		if (grpc_slice_str_cmp(path, be_methods[i].path) == 0)
			return &be_methods[i];
	return NULL;
}

struct be_ctx *
be_ctx_new(void)
{
	struct be_ctx *c;
	pthread_condattr_t ca;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&c->mu, NULL) != 0 ||
	    pthread_cond_init(&c->cv, &ca) != 0)
		fatalx("be_ctx_new: cannot initialise a mutex");
	pthread_condattr_destroy(&ca);
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->new_tag = (struct be_tag){BE_TAG_NEW, c};
	c->op_tag = (struct be_tag){BE_TAG_OP, c};
	c->close_tag = (struct be_tag){BE_TAG_CLOSE, c};
	atomic_init(&c->cancelled, 0);
	return c;
}

void
be_ctx_free(struct be_ctx *c)
{
	struct be_arena *a;

	if (c == NULL)
		return;
	if (c->call != NULL)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	while ((a = c->arena) != NULL) {
		c->arena = a->next;
		free(a);
	}
	free(c->err_msg);
	free(c->result_msg);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Called by the poller (and shutdown) so waits on c->cv re-check. */
void
be_ctx_wake(struct be_ctx *c)
{
	pthread_mutex_lock(&c->mu);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/*
 * Start a batch on the call and wait until the poller reports it done.
 * Returns 0 when it succeeded, -1 when it failed (the call is gone).
 */
static int
be_batch(struct be_ctx *c, const grpc_op *ops, size_t n)
{
	grpc_call_error e;
	int ok;

	pthread_mutex_lock(&c->mu);
	c->op_done = 0;
	pthread_mutex_unlock(&c->mu);
	e = grpc_call_start_batch(c->call, ops, n, &c->op_tag, NULL);
	if (e != GRPC_CALL_OK) {
		log_warnx("%s: grpc_call_start_batch: %s", c->name,
		    grpc_call_error_to_string(e));
		return -1;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->op_done)
		pthread_cond_wait(&c->cv, &c->mu);
	ok = c->op_ok;
	pthread_mutex_unlock(&c->mu);
	return ok ? 0 : -1;
}

/* A slice holding the encoded message, for SEND_MESSAGE. */
static grpc_byte_buffer *
be_pack(const ProtobufCMessage *m)
{
	grpc_byte_buffer *bb;
	grpc_slice s;
	size_t n;

	n = protobuf_c_message_get_packed_size(m);
	s = grpc_slice_malloc(n);
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static ProtobufCMessage *
be_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	ProtobufCMessage *m;
	grpc_slice s;

	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	m = protobuf_c_message_unpack(
	    d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	grpc_byte_buffer_reader_destroy(&r);
	return m;
}

/*
 * Answer the call: initial metadata if not sent yet, the response message
 * if any, and the status.  Failures only mean the client is gone.
 */
static void
be_finish(struct be_ctx *c, grpc_status_code code, const char *msg,
    const ProtobufCMessage *resp)
{
	grpc_op ops[3];
	grpc_byte_buffer *bb = NULL;
	grpc_slice details;
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	if (!c->initial_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->initial_sent = 1;
	}
	if (resp != NULL) {
		bb = be_pack(resp);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
	}
	details = grpc_slice_from_copied_string(msg != NULL ? msg : "");
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n++].data.send_status_from_server.status_details = &details;
	(void)be_batch(c, ops, n);
	grpc_slice_unref(details);
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
}

/*
 * Does the call carry `authorization: Bearer <token>`?  The comparison of
 * the secret is constant-time; only its length may leak.
 */
int
be_auth_check(const struct be_server *srv, const grpc_metadata_array *md)
{
	const grpc_metadata *m;
	size_t i;
	int ok = 0;

	if (srv->auth == NULL)
		return 0;
	for (i = 0; i < md->count; i++) {
		m = &md->metadata[i];
		if (grpc_slice_str_cmp(m->key, "authorization") != 0)
			continue;
		if (GRPC_SLICE_LENGTH(m->value) == srv->auth_len &&
		    CRYPTO_memcmp(GRPC_SLICE_START_PTR(m->value), srv->auth,
		        srv->auth_len) == 0)
			ok = 1;
	}
	return ok ? 0 : -1;
}

/* Receive the one request message.  NULL after answering the call. */
static ProtobufCMessage *
be_receive(struct be_ctx *c)
{
	grpc_byte_buffer *bb = NULL;
	ProtobufCMessage *req;
	grpc_op ops[2];

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_MESSAGE;
	ops[1].data.recv_message.recv_message = &bb;
	c->initial_sent = 1;
	if (be_batch(c, ops, 2) == -1 || bb == NULL) {
		if (bb != NULL)
			grpc_byte_buffer_destroy(bb);
		if (!be_cancelled(c))
			be_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
			    "no request message", NULL);
		return NULL;
	}
	req = be_unpack(c->method->in, bb);
	grpc_byte_buffer_destroy(bb);
	if (req == NULL) {
		log_warnx("%s: malformed request message", c->name);
		be_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
		    "malformed protobuf request", NULL);
	}
	return req;
}

/* Run the handler inside the gate, then answer with its outcome. */
static void
be_dispatch(
    struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req)
{
	const struct be_method *m = c->method;
	ProtobufCMessage *resp = NULL;
	int excl = m->gating == BE_GATE_EXCLUSIVE, rc;

	if (m->gating != BE_GATE_NONE &&
	    gate_enter(&srv->gate, excl, &c->cancelled) == -1) {
		be_finish(
		    c, GRPC_STATUS_CANCELLED, "cancelled while queued", NULL);
		return;
	}
	rc = m->run(srv, c, req, &resp);
	if (m->gating != BE_GATE_NONE)
		gate_leave(&srv->gate, excl);
	if (be_cancelled(c))
		be_finish(c,
		    gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), c->deadline) >= 0
		        ? GRPC_STATUS_DEADLINE_EXCEEDED
		        : GRPC_STATUS_CANCELLED,
		    "cancelled", NULL);
	else if (rc == -1 && c->err_code == BE_OK)
		be_finish(c, GRPC_STATUS_UNKNOWN, "backend error", NULL);
	else if (rc == -1)
		be_finish(c, (grpc_status_code)c->err_code, c->err_msg, NULL);
	else
		be_finish(c, GRPC_STATUS_OK, NULL, resp);
}

/* Wait until RECV_CLOSE_ON_SERVER completed: only then may we unref. */
static void
be_wait_close(struct be_ctx *c)
{
	pthread_mutex_lock(&c->mu);
	while (!c->close_done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

static void
be_call_serve(struct be_server *srv, struct be_ctx *c)
{
	ProtobufCMessage *req;

	if (be_auth_check(srv, &c->md) == -1) {
		log_warnx(
		    "%s: rejected: missing or wrong bearer token", c->name);
		be_finish(c, GRPC_STATUS_UNAUTHENTICATED,
		    "missing or invalid authorization token", NULL);
		return;
	}
	if (c->method == NULL || !be_has_op(srv->ops, c->method)) {
		be_finish(c, GRPC_STATUS_UNIMPLEMENTED,
		    "method not implemented by this backend", NULL);
		return;
	}
	if ((req = be_receive(c)) == NULL)
		return;
	be_dispatch(srv, c, req);
	protobuf_c_message_free_unpacked(req, NULL);
}

void
be_call_run(struct be_server *srv, struct be_ctx *c)
{
	grpc_op op;
	char *method;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	method = grpc_slice_to_c_string(c->details.method);
	snprintf(c->name, sizeof(c->name), "%s",
	    strncmp(method, "/backend.Backend/", 17) == 0 ? method + 17
	                                                  : method);
	gpr_free(method);
	c->method = be_find_method(c->details.method);
	c->deadline =
	    gpr_convert_clock_type(c->details.deadline, GPR_CLOCK_MONOTONIC);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) !=
	    GRPC_CALL_OK)
		fatalx("%s: cannot watch the call for cancellation", c->name);
	be_call_serve(srv, c);
	be_wait_close(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("%s: done in %.3f ms%s", c->name,
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
	    atomic_load(&c->cancelled) ? " (cancelled)" : "");
}

/* ---- handlers: one per implemented RPC ------------------------------- */

/* A response message of descriptor d in the call's arena. */
static ProtobufCMessage *
be_new_resp(struct be_ctx *c, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m;

	if ((m = be_alloc(c, d->sizeof_message)) != NULL)
		protobuf_c_message_init(d, m);
	return m;
}

#define NEW_RESP(c, type, desc, var)                                           \
	type *var = (type *)be_new_resp((c), &(desc));                         \
	if (var == NULL)                                                       \
	return be_error((c), BE_RESOURCE_EXHAUSTED, "out of memory")

static int
h_health(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__Reply, backend__reply__descriptor, r);
	if (srv->ops->health != NULL && srv->ops->health(c) == -1) {
		if (c->err_code == BE_OK)
			return be_error(c, BE_UNAVAILABLE, "unhealthy");
		return -1;
	}
	r->message.data = (uint8_t *)(uintptr_t) "OK";
	r->message.len = 2;
	*resp = &r->base;
	return 0;
}

/* Resident and virtual size of this process, in bytes. */
static int
be_memory(uint64_t *rss, uint64_t *vsz)
{
	unsigned long long size, res;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	int n;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	if (n != 2 || page <= 0)
		return -1;
	*rss = res * (uint64_t)page;
	*vsz = size * (uint64_t)page;
	return 0;
}

/*
 * Status's memory: total is the RSS; the breakdown has "rss", "virtual"
 * and "in_flight", the gated calls running or queued now.  The in-flight
 * count rides in the breakdown map because LocalAI's backend.proto has no
 * field for it and we keep that file unchanged (a LocalAI client ignores
 * the extra key); the worker agent polls it for its heartbeats.
 */
static int
be_fill_memory(
    struct be_server *srv, struct be_ctx *c, Backend__MemoryUsageData *mem)
{
	static const char *keys[] = {"rss", "virtual", "in_flight"};
	Backend__MemoryUsageData__BreakdownEntry *e, **v;
	uint64_t rss = 0, vsz = 0, vals[3];
	int i;

	if (be_memory(&rss, &vsz) == -1)
		log_warn("Status: /proc/self/statm");
	vals[0] = rss;
	vals[1] = vsz;
	vals[2] = (uint64_t)gate_running(&srv->gate) +
	          (uint64_t)gate_waiting(&srv->gate);
	e = be_alloc(c, 3 * sizeof(*e));
	v = be_alloc(c, 3 * sizeof(*v));
	if (e == NULL || v == NULL)
		return -1;
	for (i = 0; i < 3; i++) {
		backend__memory_usage_data__breakdown_entry__init(&e[i]);
		e[i].key = (char *)(uintptr_t)keys[i];
		e[i].value = vals[i];
		v[i] = &e[i];
	}
	mem->total = rss;
	mem->n_breakdown = 3;
	mem->breakdown = v;
	return 0;
}

static int
h_status(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__StatusResponse,
	    backend__status_response__descriptor, r);
	NEW_RESP(c, Backend__MemoryUsageData,
	    backend__memory_usage_data__descriptor, mem);
	int state = atomic_load(&srv->model_state);

	if (state == BE_STATE_READY && gate_running(&srv->gate) > 0)
		state = BE_STATE_BUSY;
	r->state = (Backend__StatusResponse__State)state;
	if (be_fill_memory(srv, c, mem) == -1)
		return be_error(c, BE_RESOURCE_EXHAUSTED, "out of memory");
	r->memory = mem;
	if (srv->ops->status != NULL && srv->ops->status(c, r) == -1)
		return -1;
	*resp = &r->base;
	return 0;
}

/* A Result{success=true} with the op's message or a default. */
static int
be_result_ok(struct be_ctx *c, const char *dflt, ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__Result, backend__result__descriptor, r);
	r->success = 1;
	r->message =
	    (char *)(uintptr_t)(c->result_msg != NULL ? c->result_msg : dflt);
	*resp = &r->base;
	return 0;
}

static int
h_load(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	const Backend__ModelOptions *o = (const Backend__ModelOptions *)req;

	log_info("LoadModel: model \"%s\"", o->model);
	if (srv->ops->load(c, o) == -1) {
		atomic_store(&srv->model_state, BE_STATE_ERROR);
		log_warnx("LoadModel: \"%s\" failed: %s", o->model,
		    c->err_msg != NULL ? c->err_msg : "backend error");
		return -1;
	}
	atomic_store(&srv->model_state, BE_STATE_READY);
	return be_result_ok(c, "loaded", resp);
}

static int
h_free(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	if (srv->ops->free(c) == -1)
		return -1;
	atomic_store(&srv->model_state, BE_STATE_UNINITIALIZED);
	return be_result_ok(c, "freed", resp);
}

static int
h_predict(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__Reply, backend__reply__descriptor, r);
	if (srv->ops->predict(c, (const Backend__PredictOptions *)req, r) == -1)
		return -1;
	*resp = &r->base;
	return 0;
}

static int
h_stream(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	*resp = NULL;
	return srv->ops->predict_stream(
	    c, (const Backend__PredictOptions *)req);
}

static int
h_embed(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__EmbeddingResult,
	    backend__embedding_result__descriptor, r);
	if (srv->ops->embed(c, (const Backend__PredictOptions *)req, r) == -1)
		return -1;
	*resp = &r->base;
	return 0;
}

static int
h_tokenize(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__TokenizationResponse,
	    backend__tokenization_response__descriptor, r);
	if (srv->ops->tokenize(c, (const Backend__PredictOptions *)req, r) ==
	    -1)
		return -1;
	*resp = &r->base;
	return 0;
}

static int
h_tts(struct be_server *srv, struct be_ctx *c, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	if (srv->ops->tts(c, (const Backend__TTSRequest *)req) == -1)
		return -1;
	return be_result_ok(c, "ok", resp);
}

static int
h_transcribe(struct be_server *srv, struct be_ctx *c,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	NEW_RESP(c, Backend__TranscriptResult,
	    backend__transcript_result__descriptor, r);
	if (srv->ops->transcribe(
	        c, (const Backend__TranscriptRequest *)req, r) == -1)
		return -1;
	*resp = &r->base;
	return 0;
}

/* ---- the API backends call (backend.h) --------------------------------- */

int
be_cancelled(struct be_ctx *c)
{
	if (atomic_load(&c->cancelled))
		return 1;
	if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), c->deadline) >= 0) {
		atomic_store(&c->cancelled, 1);
		return 1;
	}
	return 0;
}

int64_t
be_deadline_ms(struct be_ctx *c)
{
	gpr_timespec left;

	if (gpr_time_cmp(c->deadline, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0)
		return -1;
	left = gpr_time_sub(c->deadline, gpr_now(GPR_CLOCK_MONOTONIC));
	if (left.tv_sec < 0)
		return 0;
	return (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

int
be_sleep(struct be_ctx *c, int64_t ms)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!(rc = be_cancelled(c)) &&
	       pthread_cond_timedwait(&c->cv, &c->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->mu);
	if (rc == 0)
		rc = be_cancelled(c);
	return rc ? -1 : 0;
}

int
be_send(struct be_ctx *c, const Backend__Reply *reply)
{
	grpc_byte_buffer *bb;
	grpc_op op;
	int rc;

	if (c->method == NULL || !c->method->streaming) {
		log_warnx("%s: be_send on a unary call", c->name);
		return -1;
	}
	if (be_cancelled(c))
		return -1;
	bb = be_pack(&reply->base);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.data.send_message.send_message = bb;
	rc = be_batch(c, &op, 1);
	grpc_byte_buffer_destroy(bb);
	if (rc == -1) {
		atomic_store(&c->cancelled, 1);
		return -1;
	}
	c->nsent++;
	return 0;
}

int
be_error(struct be_ctx *c, enum be_code code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	free(c->err_msg);
	c->err_msg = msg;
	c->err_code = code == BE_OK ? BE_UNKNOWN : code;
	log_debug(
	    "%s: error %d: %s", c->name, c->err_code, msg != NULL ? msg : "");
	return -1;
}

void
be_result_message(struct be_ctx *c, const char *msg)
{
	free(c->result_msg);
	if ((c->result_msg = strdup(msg)) == NULL)
		log_warn("be_result_message");
}

void *
be_alloc(struct be_ctx *c, size_t size)
{
	struct be_arena *a;

	if (size > SIZE_MAX - sizeof(*a) ||
	    (a = calloc(1, sizeof(*a) + size)) == NULL) {
		log_warn("be_alloc %zu bytes", size);
		return NULL;
	}
	a->next = c->arena;
	c->arena = a;
	return a->data;
}

char *
be_strndup(struct be_ctx *c, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p;

	if ((p = be_alloc(c, len + 1)) != NULL)
		memcpy(p, s, len);
	return p;
}

char *
be_strdup(struct be_ctx *c, const char *s)
{
	return be_strndup(c, s, SIZE_MAX);
}

const char *
be_method(struct be_ctx *c)
{
	return c->name;
}
