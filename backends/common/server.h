/*
 * Internals of the backend runtime shared by server.c (process, server,
 * completion-queue poller, worker pool, shutdown) and server_call.c (one
 * call from request to status).  Backends include backend.h only.
 *
 * Threading model (see docs/DESIGN.md):
 * - the main thread parses arguments, starts the server and then waits for
 *   signals; on SIGTERM it runs the shutdown sequence;
 * - one poller thread owns the single completion queue: every call is bound
 *   to it, every batch completes there, and the poller turns completions
 *   into state changes (new call → worker pool, batch done → wake the
 *   call's thread, call closed → mark it cancelled);
 * - one worker thread per call in progress (a pool that grows up to
 *   --max-calls and keeps idle threads): it runs the call start to finish,
 *   blocking on its own condition variable while a batch is in flight, so
 *   a long inference never stops other calls or cancellation from making
 *   progress.
 */
#ifndef LOCALAI_BE_SERVER_H
#define LOCALAI_BE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "backends/common/backend.h"
#include "backends/common/gate.h"

/* What a completion-queue tag stands for. */
enum be_tag_kind {
	BE_TAG_NEW,		/* grpc_server_request_call finished */
	BE_TAG_OP,		/* a batch started by the call's thread */
	BE_TAG_CLOSE,		/* RECV_CLOSE_ON_SERVER: the call is over */
	BE_TAG_REJECT,		/* the batch answering a call we turned away */
	BE_TAG_SHUTDOWN,	/* grpc_server_shutdown_and_notify finished */
};

struct be_tag {
	enum be_tag_kind kind;
	struct be_ctx *ctx;
};

struct be_arena;
struct be_method;

/* One call, from request_call until its thread releases it. */
struct be_ctx {
	struct be_ctx *next, *prev;	/* list of admitted calls */
	struct be_ctx *qnext;		/* queue of calls awaiting a thread */
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	struct be_tag new_tag, op_tag, close_tag;
	int close_cancelled;		/* out parameter of RECV_CLOSE */
	atomic_int cancelled;		/* client gone, deadline, shutdown */
	pthread_mutex_t mu;		/* guards the three flags below */
	pthread_cond_t cv;		/* signalled by the poller */
	int op_done, op_ok, close_done;
	const struct be_method *method;
	char name[48];			/* RPC name for logs */
	gpr_timespec deadline;		/* monotonic; inf_future if none */
	int initial_sent;		/* SEND_INITIAL_METADATA done */
	int nsent;			/* stream messages sent */
	struct be_arena *arena;
	int err_code;			/* be_error(), BE_OK if none */
	char *err_msg;
	char *result_msg;		/* be_result_message() */
};

/* Model state as Status reports it (values of StatusResponse.State). */
#define BE_STATE_UNINITIALIZED	BACKEND__STATUS_RESPONSE__STATE__UNINITIALIZED
#define BE_STATE_READY		BACKEND__STATUS_RESPONSE__STATE__READY
#define BE_STATE_BUSY		BACKEND__STATUS_RESPONSE__STATE__BUSY
#define BE_STATE_ERROR		BACKEND__STATUS_RESPONSE__STATE__ERROR

/* What server_call.c needs from the process. */
struct be_server {
	const struct be_ops *ops;
	struct gate gate;
	atomic_int model_state;
	char *auth;		/* "Bearer <token>", NULL when auth is off */
	size_t auth_len;
};

/* server_call.c */
void be_call_run(struct be_server *srv, struct be_ctx *c);
struct be_ctx *be_ctx_new(void);
void be_ctx_free(struct be_ctx *c);
void be_ctx_wake(struct be_ctx *c);
int be_auth_check(const struct be_server *srv, const grpc_metadata_array *md);

#endif
