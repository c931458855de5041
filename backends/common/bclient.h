/*
 * bclient: the gRPC client of LocalAI's backend protocol, for the
 * frontend's api process (and the worker's readiness probes, the tests and
 * the benchmark).
 *
 * - Channels are cached per address ("host:port", "unix:/path") and reused
 *   by every call to that address from every thread; a channel reconnects
 *   by itself (backoff 100 ms .. 2 s) when its backend comes back.
 *   bc_forget() drops one (a replica that went away for good).
 * - Every call takes struct bc_opts: bearer token, deadline, whether to
 *   wait for the backend to become reachable, and an optional cancel
 *   handle another thread can fire.
 * - Every failure fills struct bc_error with a kind the router can act on;
 *   bc_is_retryable() says whether trying another replica makes sense.
 * - Responses are protobuf-c messages owned by the caller: bc_free() them.
 *
 * Thread safety: every function may be called from any thread at the
 * same time, except that one struct bc_stream is driven by one thread at a
 * time (bc_stream_cancel() excepted: it may be called from any thread while
 * another is inside bc_stream_next(), but not concurrently with or after
 * bc_stream_close()).
 *
 * Linking: $(BCLIENT_SRCS) $(BCLIENT_LIBS) (backends/common/module.mk) plus
 * proto/log.c, which the process already has.  gRPC's own log records go
 * through proto/log.c (warnings at GPR_LOG_SEVERITY_ERROR only).
 */
#ifndef LOCALAI_BCLIENT_H
#define LOCALAI_BCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"

/* What went wrong with a call, as the router needs to know it. */
enum bc_err {
	BC_OK = 0,
	BC_ECONNREFUSED, /* nothing listens there (refused, no such
				   socket, unreachable): the request never
				   reached a backend */
	BC_EUNAVAILABLE, /* connection lost mid-call, backend shutting
				   down (also when it cancelled the call
				   itself), or other transport failure */
	BC_EBUSY, /* the backend refused the call: too many in
				   progress */
	BC_EDEADLINE, /* the deadline passed */
	BC_ECANCELLED, /* cancelled on our side (bc_cancel_fire,
				   bc_stream_cancel) */
	BC_EUNAUTH, /* missing or wrong bearer token */
	BC_EINVAL, /* the backend rejected the request
				   (INVALID_ARGUMENT) */
	BC_ETOOBIG, /* a message exceeded the size limit */
	BC_EUNIMPL, /* the backend does not implement the RPC */
	BC_EBACKEND, /* the backend answered with an error (any other
				   status, or Result.success == false) */
	BC_EPROTO, /* the answer could not be decoded */
	BC_ELOCAL, /* local failure: out of memory, bc_init missing */
};

struct bc_error {
	enum bc_err kind;
	int grpc_status; /* gRPC status code, -1 for local failures */
	char msg[256]; /* the server's message, or ours */
};

/* A cancel handle: fire it from any thread to cancel the call using it. */
struct bc_cancel;

struct bc_opts {
	const char *token; /* bearer token; NULL or "" sends none */
	int64_t timeout_ms; /* deadline from now; <= 0 means none */
	int wait_ready; /* 1: while the backend is unreachable, wait
				   (until the deadline) instead of failing at
				   once with BC_ECONNREFUSED */
	struct bc_cancel *cancel; /* NULL, or a handle used by one call
				   at a time */
};

/*
 * Start and stop the library.  bc_init() may be called more than once (each
 * call needs a bc_shutdown()); bc_shutdown() of the last user closes every
 * cached channel.  The maximum message size in both directions is
 * LOCALAI_GRPC_MAX_MESSAGE_SIZE bytes (default 50 MiB), read by the first
 * bc_init().  Return 0 or -1.
 */
int bc_init(void);
void bc_shutdown(void);

/* Close the cached channel of addr (calls in progress finish first). */
void bc_forget(const char *addr);
/* How many channels are cached (for metrics and tests). */
int bc_channels(void);

/* Should the router try another replica after this error? */
int bc_is_retryable(const struct bc_error *err);
const char *bc_strerror(enum bc_err kind);

/* Free a response returned by any call below; NULL is fine. */
void bc_free(void *msg);

struct bc_cancel *bc_cancel_new(void);
/* Cancel the call using h now, and any call started with it later. */
void bc_cancel_fire(struct bc_cancel *h);
void bc_cancel_free(struct bc_cancel *h);

/*
 * Unary calls.  Each returns 0, or -1 with err filled (err may be NULL).
 * On success *out (when there is one) is a message to bc_free().
 */
int bc_health(const char *addr, const struct bc_opts *o, struct bc_error *err);
int bc_status(const char *addr, const struct bc_opts *o,
    Backend__StatusResponse **out, struct bc_error *err);
/* LoadModel/Free/TTS: Result.success == false is BC_EBACKEND. */
int bc_load_model(const char *addr, const struct bc_opts *o,
    const Backend__ModelOptions *req, struct bc_error *err);
int bc_free_model(
    const char *addr, const struct bc_opts *o, struct bc_error *err);
int bc_predict(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__Reply **out,
    struct bc_error *err);
int bc_embedding(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__EmbeddingResult **out,
    struct bc_error *err);
int bc_tokenize(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__TokenizationResponse **out,
    struct bc_error *err);
int bc_tts(const char *addr, const struct bc_opts *o,
    const Backend__TTSRequest *req, struct bc_error *err);
int bc_transcribe(const char *addr, const struct bc_opts *o,
    const Backend__TranscriptRequest *req, Backend__TranscriptResult **out,
    struct bc_error *err);

/*
 * Any unary RPC by its full method name ("/backend.Backend/Rerank"):
 * req encoded, the answer decoded with out_desc.
 */
int bc_call(const char *addr, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    const struct bc_opts *o, struct bc_error *err);
/*
 * The same with raw bytes both ways (tests send malformed messages with
 * it).  *out is malloc()ed (free() it); out may be NULL to discard it.
 */
int bc_call_raw(const char *addr, const char *method, const void *req,
    size_t len, void **out, size_t *outlen, const struct bc_opts *o,
    struct bc_error *err);

/*
 * Server-streaming calls, driven by one producer thread:
 *	s = bc_predict_stream(addr, &o, &req, &err);
 *	while ((rc = bc_predict_stream_next(s, &reply, &err)) == 1) {
 *		... use reply ...; bc_free(reply);
 *	}
 *	rc == 0: the stream ended normally; rc == -1: err says why
 *	bc_stream_close(s);
 * bc_stream_open() fails (NULL) only for local reasons; connection errors
 * show up in the first bc_stream_next().  Whether the backend had produced
 * anything before an error is known to the caller (it counted the
 * messages), which is what decides whether the router may retry.
 */
struct bc_stream;

struct bc_stream *bc_stream_open(const char *addr, const char *method,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
    const struct bc_opts *o, struct bc_error *err);
struct bc_stream *bc_predict_stream(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, struct bc_error *err);
/* 1 with *out set (bc_free it), 0 at the normal end, -1 on error. */
int bc_stream_next(
    struct bc_stream *s, ProtobufCMessage **out, struct bc_error *err);
int bc_predict_stream_next(
    struct bc_stream *s, Backend__Reply **out, struct bc_error *err);
/* Cancel from any thread; the pending or next bc_stream_next() fails. */
void bc_stream_cancel(struct bc_stream *s);
/* Cancel if still running, release everything. */
void bc_stream_close(struct bc_stream *s);

#endif
