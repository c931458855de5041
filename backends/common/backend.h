/*
 * The backend runtime: everything a localai-c backend process shares.
 *
 * A backend (espeak, pocketsphinx, llama, the test fake…) is a small program
 * whose main() is one line:
 *
 *	int
 *	main(int argc, char **argv)
 *	{
 *		return be_main(argc, argv, &espeak_ops);
 *	}
 *
 * be_main() parses the command line (LocalAI's run.sh convention,
 * `run --addr HOST:PORT` or `run --addr unix:PATH`), serves LocalAI's
 * backend.Backend gRPC service (proto/backend.proto) on that address and
 * calls the backend's operations table (struct be_ops) for each RPC.  The
 * runtime owns all of gRPC: decoding and encoding messages, deadlines,
 * cancellation, authentication, limits, concurrency, Status, shutdown.
 *
 * Command line and environment (flag > environment > default):
 *   --addr ADDR          HOST:PORT, [V6]:PORT, unix:PATH or unix-abstract:NAME
 *                        (required; PORT 0 picks a free port)
 *   --port-file PATH     write the bound TCP port there once serving
 *                        (useful with PORT 0; written atomically)
 *   --max-msg-size N     bytes, both directions
 *                        (LOCALAI_GRPC_MAX_MESSAGE_SIZE; default 50 MiB)
 *   --grace-ms N         SIGTERM grace for in-flight calls
 *                        (LOCALAI_BACKEND_GRACE_MS; default 10000)
 *   --max-calls N        calls handled at once, queued ones included;
 *                        more get RESOURCE_EXHAUSTED (default 256)
 *   -v, -d               more logging, debug logging
 *   LOCALAI_GRPC_AUTH_TOKEN  when set and not empty, every call must carry
 *                        the metadata `authorization: Bearer <token>`, else
 *                        it fails with UNAUTHENTICATED (constant-time check)
 *   Unknown options are an error (exit 78).
 *
 * Exit status of be_main(): 0 after a clean shutdown (SIGTERM or SIGINT),
 * 1 when serving fails (address in use, ...), 78 on a usage error.
 *
 * Shutdown (SIGTERM or SIGINT).  Calls in progress may finish within the
 * grace period (--grace-ms); those still running then are cancelled.
 * Meanwhile the listener and the connections stay open and every new call
 * fails at once with UNAVAILABLE "backend shutting down", which clients
 * retry on another replica.  When the last call has ended, its client gets
 * 500 ms more to read the rest of the answer, then every connection closes
 * at once; a backend that was idle closes at once.  (gRPC's own graceful
 * shutdown is not used: it closes a connection as soon as its last stream
 * ends on the server side, and a client that had not read the stream's
 * tail yet lost it; docs/DESIGN.md has the details.)  A second signal cuts
 * the waits short.
 *
 * RPCs and ops.  Health and Status are answered by the runtime itself
 * (through the optional health/status ops).  LoadModel, Free, Predict,
 * PredictStream, Embedding, TokenizeString, TTS and AudioTranscription call
 * the matching op; when that op is NULL the call fails with UNIMPLEMENTED,
 * as does every other RPC of the protocol.  A request that is not a valid
 * protobuf message fails with INVALID_ARGUMENT before any op runs; a message
 * over the size limit fails with RESOURCE_EXHAUSTED.
 *
 * Threading rules (read these before writing a backend):
 * - Every call runs on its own runtime thread.  The "gated" ops (load,
 *   free, predict, predict_stream, embed, tokenize, tts, transcribe) run
 *   at most `parallel` at a time; further calls wait in arrival order
 *   (FIFO).  load and free run alone: they wait until no gated op runs and
 *   nothing else starts until they return.  So a backend built on a library
 *   that is not thread-safe (espeak-ng keeps global state) declares
 *   parallel = 1 and never sees two gated ops at once.
 * - health and status are NOT gated: they may run at any time, concurrently
 *   with any gated op (a Health probe must answer while a long stream or a
 *   slow load runs).  They must only read state that is safe to read from
 *   another thread (atomics, or data under the backend's own mutex).
 * - init runs once on the main thread before the server starts and fini
 *   once after every call has ended; neither runs concurrently with
 *   anything.
 * - The be_* functions below that take a ctx may only be called from the
 *   thread running that ctx's op, while it runs.
 *
 * Errors.  An op returns 0 on success or -1 on failure.  Before returning
 * -1 it calls be_error() to choose the gRPC status and message the client
 * sees; an op that returns -1 without be_error() fails the call with
 * UNKNOWN "backend error".  A cancelled call (client gone, deadline passed,
 * shutdown) is answered by the runtime whatever the op returns.
 *
 * Memory.  The request message belongs to the runtime and stays valid until
 * the op returns.  The response message (the out parameter) is initialised
 * by the runtime; everything the op points its fields at must stay valid
 * until the op has returned (the runtime encodes it afterwards): use
 * be_alloc()/be_strdup() (freed by the runtime when the call ends), static
 * data, or pointers into the request.  Never put malloc()ed memory there:
 * the runtime does not free it.
 */
#ifndef LOCALAI_BACKEND_H
#define LOCALAI_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"

/* One call in progress: opaque, owned by the runtime. */
struct be_ctx;

/*
 * gRPC status codes an op may answer with (the values are gRPC's).  Use
 * INVALID_ARGUMENT for a bad request (unknown voice, file that is not
 * audio), FAILED_PRECONDITION for "no model loaded", NOT_FOUND for a missing
 * model file, RESOURCE_EXHAUSTED for out of memory, INTERNAL for a library
 * failure.
 */
enum be_code {
	BE_OK = 0,
	BE_CANCELLED = 1,
	BE_UNKNOWN = 2,
	BE_INVALID_ARGUMENT = 3,
	BE_DEADLINE_EXCEEDED = 4,
	BE_NOT_FOUND = 5,
	BE_RESOURCE_EXHAUSTED = 8,
	BE_FAILED_PRECONDITION = 9,
	BE_ABORTED = 10,
	BE_UNIMPLEMENTED = 12,
	BE_INTERNAL = 13,
	BE_UNAVAILABLE = 14,
};

/*
 * A backend's operations.  Every member but name may be NULL; a NULL op
 * makes its RPC answer UNIMPLEMENTED (health and status have defaults).
 */
struct be_ops {
	/* Short name for logs ("espeak"); also the process name in logs. */
	const char *name;
	/*
	 * How many gated ops may run at once; 0 means 1.  be_set_parallel()
	 * changes it at run time (e.g. from load, once the model says how
	 * many slots it has).
	 */
	int parallel;

	/* Once, before serving (main thread).  -1 makes be_main exit 1. */
	int (*init)(void);
	/* Once, after the last call ended, before be_main returns. */
	void (*fini)(void);

	/*
	 * Health: the default answers Reply{message="OK"}.  An op returning
	 * -1 makes Health fail with its be_error() status (UNAVAILABLE if
	 * none), so a probe sees the backend as unhealthy.  Not gated.
	 */
	int (*health)(struct be_ctx *ctx);
	/*
	 * Status: the runtime fills res->state (UNINITIALIZED before the first
	 * successful load and after Free, ERROR after a failed load, BUSY while
	 * a gated op other than load/free runs, READY otherwise) and
	 * res->memory (total = resident bytes of this process from
	 * /proc/self/statm, breakdown {"rss", "virtual"}) before calling this
	 * optional op, which may refine either (arrays from be_alloc).  Not
	 * gated.
	 */
	int (*status)(struct be_ctx *ctx, Backend__StatusResponse *res);

	/*
	 * LoadModel.  Success answers Result{success=true, message="loaded"}
	 * (or the message set with be_result_message); failure answers the
	 * be_error() status.  Exclusive (see threading rules).  A second load
	 * replaces the first model: the backend releases the old one itself.
	 */
	int (*load)(struct be_ctx *ctx, const Backend__ModelOptions *opts);
	/* Free: release the model.  Exclusive.  Answers Result{success}. */
	int (*free)(struct be_ctx *ctx);

	/* Predict: fill reply (message, tokens, prompt_tokens, timings). */
	int (*predict)(struct be_ctx *ctx, const Backend__PredictOptions *req,
	    Backend__Reply *reply);
	/*
	 * PredictStream: send each chunk with be_send() in order, return 0
	 * at the end of generation.  When be_send() returns -1 or
	 * be_cancelled() is true, stop generating and return promptly.
	 */
	int (*predict_stream)(
	    struct be_ctx *ctx, const Backend__PredictOptions *req);
	/* Embedding: fill res->embeddings/n_embeddings (from be_alloc). */
	int (*embed)(struct be_ctx *ctx, const Backend__PredictOptions *req,
	    Backend__EmbeddingResult *res);
	/* TokenizeString: fill res->length and res->tokens/n_tokens. */
	int (*tokenize)(struct be_ctx *ctx, const Backend__PredictOptions *req,
	    Backend__TokenizationResponse *res);
	/* TTS: write the audio file named by req->dst.  Answers Result. */
	int (*tts)(struct be_ctx *ctx, const Backend__TTSRequest *req);
	/* AudioTranscription: read req->dst, fill text and segments. */
	int (*transcribe)(struct be_ctx *ctx,
	    const Backend__TranscriptRequest *req,
	    Backend__TranscriptResult *res);
};

/* Serve ops until SIGTERM/SIGINT; see the top of this file. */
int be_main(int argc, char **argv, const struct be_ops *ops);

/*
 * True (1) once the call can no longer be answered usefully: the client
 * cancelled or went away, its deadline passed, or shutdown ran out of
 * grace.  Long ops poll it (e.g. once per token or per audio block) and
 * return -1 promptly when it turns true.
 */
int be_cancelled(struct be_ctx *ctx);

/*
 * Milliseconds left before the call's deadline, or -1 when the client set
 * none.  0 means the deadline has passed.
 */
int64_t be_deadline_ms(struct be_ctx *ctx);

/*
 * Sleep ms milliseconds or until the call is cancelled, whichever comes
 * first.  Returns 0 after a full sleep, -1 when cancelled.
 */
int be_sleep(struct be_ctx *ctx, int64_t ms);

/*
 * PredictStream only: send one Reply to the client and wait until gRPC has
 * taken it (flow control applies, so a slow client slows generation down).
 * The reply and what it points to may be freed as soon as this returns.
 * Returns 0, or -1 once the client is gone or the call was cancelled; the
 * op then stops and returns (its return value no longer matters).
 */
int be_send(struct be_ctx *ctx, const Backend__Reply *reply);

/*
 * Choose the status a failing op answers with; message is printf-style
 * and also logged.  Always returns -1, so ops write
 *	return be_error(ctx, BE_INVALID_ARGUMENT, "unknown voice %s", v);
 */
int be_error(struct be_ctx *ctx, enum be_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * For ops that answer Result (load, free, tts): the message of a
 * successful Result (default "loaded", "freed", "ok"); copied.
 */
void be_result_message(struct be_ctx *ctx, const char *msg);

/*
 * Per-call memory for response fields: zeroed, freed by the runtime when
 * the call ends.  NULL (and a warning logged) when memory is exhausted.
 */
void *be_alloc(struct be_ctx *ctx, size_t size);
char *be_strdup(struct be_ctx *ctx, const char *s);
char *be_strndup(struct be_ctx *ctx, const char *s, size_t n);

/* The RPC name of the call ("PredictStream"), for the backend's logs. */
const char *be_method(struct be_ctx *ctx);

/*
 * Change how many gated ops may run at once (n >= 1).  Thread-safe; may be
 * called from load.  Calls already running are not interrupted.
 */
void be_set_parallel(int n);

#endif
