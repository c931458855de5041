/*
 * The api process (`localai -P api`): the OpenAI-compatible HTTP server and
 * the data plane.  N of them share the listening socket; each holds no
 * database or NATS credentials and asks the router process, over its
 * router link, where to send each inference request.
 *
 * Files: api.c (process loop, configuration snapshots, privileges),
 * http.c (libmicrohttpd glue: requests, bodies, replies, streaming),
 * rlink.c (the router link), dataplane.c (placement, gRPC calls, retries,
 * failover, the request watchdog), h_*.c (one per resource), requtil.c
 * (pure helpers).  The OpenAI request/response layer is api/openai.h.
 *
 * Threads: the main thread runs the supervisor's control loop; MHD runs a
 * small pool of event-loop threads that never block; every request that
 * needs the data plane (or the router) runs on a thread of its own while
 * its connection is suspended; one thread reads the router link; one
 * watchdog thread enforces deadlines and notices clients that went away.
 */
#ifndef LOCALAI_API_H
#define LOCALAI_API_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "api/openai.h"
#include "api/requtil.h"
#include "backends/common/bclient.h"
#include "proto/msg.h"
#include "supervisor/config.h"

/* ---- api.c ---------------------------------------------------------------- */

/*
 * The configuration a request runs with: a snapshot taken when it starts,
 * kept (reference counted) until it ends, so a reload never changes a
 * request half-way.
 */
struct api_cfg {
	int refs;
	struct conf conf;
	struct conf_models models;
	struct openai_limits limits;
};

struct api_cfg *api_cfg_get(void);
void api_cfg_put(struct api_cfg *c);
const struct conf_model *api_cfg_model(
    const struct api_cfg *c, const char *name);
uint64_t api_now_us(void); /* monotonic clock */
int api_shutting_down(void);
/* 16 random bytes (getrandom); never fails (falls back to the clock). */
void api_random(void *buf, size_t len);

/* ---- http.c --------------------------------------------------------------- */

struct api_req;

/* How a route receives its request body. */
enum api_body {
	API_BODY_NONE, /* none expected (a body is read and ignored) */
	API_BODY_JSON, /* JSON, pre-scanned as it arrives */
	API_BODY_FORM, /* multipart, streamed to a file (h_audio.c) */
	API_BODY_RAW, /* bytes relayed to the router as they are */
};

#define API_R_KEY 0x1 /* needs an API key (when keys are set) */
#define API_R_LIMITED 0x2 /* counts against frontend.max_concurrent */

struct api_route {
	const char *path;
	int prefix; /* path is a prefix */
	const char *methods; /* "GET", "POST", "GET,POST", NULL any */
	enum api_body body;
	int flags;
	/* The body is complete: reply now, or api_async(). */
	void (*start)(struct api_req *r);
};

/* A request's phases, as http.c drives them. */
enum api_phase {
	API_PH_NEW, /* seen by the URI callback only */
	API_PH_BODY, /* headers accepted, body arriving */
	API_PH_ASYNC, /* a worker thread has it; connection suspended */
	API_PH_REPLY, /* response queued */
};

/* Why a request was stopped before it finished. */
enum api_stop {
	API_STOP_NONE = 0,
	API_STOP_GONE, /* the client went away */
	API_STOP_FIRST_TOKEN, /* frontend.first_token passed */
	API_STOP_DEADLINE, /* frontend.request_timeout passed */
	API_STOP_SHUTDOWN, /* the process is stopping */
};

/* What goes back to the client. */
struct api_reply {
	int status;
	char content_type[80];
	struct openai_buf body; /* the body, or the stream's queue */
	int fd; /* a file body when >= 0 */
	uint64_t offset, length;
	char content_range[96];
	unsigned retry_after; /* seconds; 0: no header */
	const char *allow; /* 405 */
	int accept_ranges;
	int stream; /* SSE: the worker produces the body */
	const char *etag; /* the Nodes page's files */
};

struct api_req {
	pthread_mutex_t mu;
	int refs;
	struct MHD_Connection *conn;
	int sock; /* the client's socket */
	struct api_cfg *cfg;
	const struct api_route *route;
	enum api_phase phase;
	char method[16];
	char uri[1024]; /* path and query, raw */
	int uri_truncated;
	char request_id[API_RID_MAX];
	char place_id[API_RID_MAX]; /* id the router sees */
	char model[CONF_NAME_MAX]; /* for the logs */
	char remote[64];
	uint64_t t_start; /* api_now_us() */
	int limited; /* counted in max_concurrent */

	/* The body. */
	struct openai_buf body;
	struct openai_prescan prescan;
	uint64_t body_len;
	int discard; /* error decided: drop the rest */
	int have_err;
	struct openai_error err;
	void *state; /* the handler's own state */
	void (*state_free)(void *);

	/* Asynchronous work and the reply. */
	struct api_reply reply;
	int suspended;
	int closed; /* MHD is done with it */
	int stream_end;
	size_t out_off; /* stream bytes given to MHD */
	int abort; /* atomic: enum api_stop */
	struct bc_cancel *cancel; /* fired when aborted */
	uint64_t deadline; /* whole request (api_now_us) */
	uint64_t first_token_deadline; /* 0: not waiting */
	void (*work)(struct api_req *r);
	struct api_req *wprev, *wnext; /* watchdog list */
	uint32_t n_tokens; /* for the access log */
};

int api_http_start(int listen_fd, const struct api_cfg *cfg);
/* Stop accepting; requests in progress go on. */
void api_http_quiesce(void);
/* Wait (bounded) for suspended connections, then stop the daemon. */
void api_http_stop(void);

void api_req_ref(struct api_req *r);
void api_req_unref(struct api_req *r);
/* A request header, or NULL. */
const char *api_header(struct api_req *r, const char *name);
/* Is the request aborted (atomic read)?  enum api_stop. */
int api_req_stopped(const struct api_req *r);
/* Abort it: record why (first reason wins) and fire its cancel handle. */
void api_req_stop(struct api_req *r, enum api_stop why);

/* Replies (from start() or a worker thread before it finishes). */
void api_reply_error(struct api_req *r, const struct openai_error *e);
/* The configured model named by a request, or NULL after replying 404. */
const struct conf_model *api_req_model(struct api_req *r, const char *model);
void api_reply_buf(struct api_req *r, int status, const char *ctype,
    struct openai_buf *body); /* takes body's memory */
void api_reply_data(struct api_req *r, int status, const char *ctype,
    const void *data, size_t len);
void api_error(struct api_req *r, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/*
 * Run r->work(r) = fn on a thread of its own, the connection suspended
 * until it has a reply or starts a stream.  0, or -1 (a 503 is set).
 */
int api_async(struct api_req *r, void (*fn)(struct api_req *));
/*
 * Streaming from a worker: begin sends the headers (200,
 * text/event-stream) with what was written so far; write queues bytes
 * (-1 once the client is gone); end finishes the body.
 */
void api_stream_begin(struct api_req *r);
int api_stream_write(struct api_req *r, const void *data, size_t len);
void api_stream_end(struct api_req *r);

/* ---- rlink.c -------------------------------------------------------------- */

enum api_place_rc {
	API_PLACE_OK, /* grant in g->ok */
	API_PLACE_REJECT, /* g->reject says how to answer */
	API_PLACE_TIMEOUT, /* no answer before the deadline */
	API_PLACE_CANCELLED, /* the abort flag was raised */
	API_PLACE_DOWN, /* no router link */
};

/* The router's answer to one PLACE. */
struct api_grant {
	struct msg_place_ok ok;
	struct msg_place_reject reject;
	struct msg_place_wait wait; /* the last progress notice */
	uint32_t waits;
	uint32_t gen; /* link the grant came on */
};

int api_rlink_init(void);
void api_rlink_stop(void);
/* The supervisor sent a (new) router link; takes fd. */
void api_rlink_set_fd(int fd);
int api_rlink_up(void);
/* A request slot (its number is the peerid); -1 when none is left. */
int api_rlink_slot_new(void);
void api_rlink_slot_free(int slot);
/*
 * PLACE and wait for OK or REJECT (progress notices are kept in *g), at
 * most until deadline_us, or until *abort_flag becomes non-zero.
 */
enum api_place_rc api_rlink_place(int slot, const struct msg_place *p,
    uint64_t deadline_us, const int *abort_flag, struct api_grant *g);
/* DONE and REPLICA_FAIL for a grant from link generation gen. */
void api_rlink_done(uint32_t gen, const struct msg_done *d);
void api_rlink_replica_fail(uint32_t gen, const struct msg_replica_fail *f);
/* Relay one HTTP request; *rbody is malloc'd (free it). */
enum api_place_rc api_rlink_http(int slot, const struct msg_http_req *h,
    const void *body, size_t len, uint64_t deadline_us,
    struct msg_http_resp *resp, char **rbody);

/* ---- dataplane.c ---------------------------------------------------------- */

/*
 * One inference operation through the data plane: placement, the call
 * on the granted replica, DONE, and retries on other replicas.
 */
struct api_call {
	struct api_req *r;
	const char *endpoint; /* "chat", "completions", … */
	uint64_t prefix_hash;
	/*
	 * The call on a granted replica: 0, or -1 with *err.  c->started
	 * says that output reached the client (no plain retry any more:
	 * run is called again to continue, or the error is final).
	 */
	int (*run)(struct api_call *c, const struct msg_place_ok *ok,
	    struct bc_error *err);
	void *arg;
	/* Accounting of the current attempt, for its DONE. */
	uint32_t prompt_tokens;
	uint32_t completion_tokens;
	uint64_t ttft_us;
	int started;
	int can_continue; /* run knows how to resume output */
	uint32_t attempt;
	struct openai_error err; /* the failure, when api_dp_call fails */
	unsigned retry_after;
};

int api_dp_init(void);
void api_dp_stop(void);
void api_dp_watch(struct api_req *r);
void api_dp_unwatch(struct api_req *r);
/* Abort every request in progress (shutdown). */
void api_dp_stop_all(void);
int api_dp_active(void);
/* 0 on success, -1 with c->err (and c->retry_after) set. */
int api_dp_call(struct api_call *c);
/* Reply a failed call's error, with its Retry-After. */
void api_dp_reply_error(const struct api_call *c);
/* The bclient options of a call on a grant (token, deadline, cancel). */
void api_dp_opts(
    struct api_req *r, const struct msg_place_ok *ok, struct bc_opts *o);
/* An OpenAI error for a failed backend call. */
void api_dp_error(struct api_req *r, const struct bc_error *e,
    struct openai_error *out, unsigned *retry_after);

/*
 * Text generation (chat and completions), streaming or not.  The prompt
 * (or messages) and sampling go in `req`; the rest says how to answer.
 */
struct api_gen {
	enum openai_stream_kind kind;
	int stream;
	int include_usage;
	int have_max_tokens;
	int32_t max_tokens;
	char id[OPENAI_ID_MAX];
	int64_t created;
	const char *model;
	uint64_t prefix_hash;
	Backend__PredictOptions *req; /* filled by the handler */
};

void api_dp_generate(struct api_req *r, struct api_gen *g);

/*
 * What chat and completions hand to api_dp_generate: the parsed request
 * and the backend request built from it (generate.c).  It is r->state.
 */
struct api_genwork {
	struct api_gen g;
	Backend__PredictOptions req;
	Backend__Message *msgs;
	Backend__Message **msgp;
	char *stops[OPENAI_STOPS_TOTAL];
	struct openai_buf prompt;
	struct openai_chat chat;
	struct openai_completion comp;
	char model[CONF_NAME_MAX];
};

/* A new r->state for a generation; NULL (and a 500 set) on failure. */
struct api_genwork *api_genwork_new(struct api_req *r);
/*
 * Fill the backend request from the sampling settings and the model
 * config, then run the generation on a worker thread.
 */
void api_genwork_start(struct api_req *r, struct api_genwork *w,
    const struct conf_model *cm, struct openai_sampling *s,
    enum openai_template t);

/* ---- handlers (h_*.c) ----------------------------------------------------- */

void api_h_chat(struct api_req *r);
void api_h_completions(struct api_req *r);
void api_h_embeddings(struct api_req *r);
void api_h_speech(struct api_req *r);
void api_h_transcriptions(struct api_req *r);
/* The multipart body of a transcription, fed by http.c. */
int api_h_form_begin(struct api_req *r);
int api_h_form_feed(struct api_req *r, const char *data, size_t len);
void api_h_models(struct api_req *r);
void api_h_model(struct api_req *r);
void api_h_healthz(struct api_req *r);
void api_h_readyz(struct api_req *r);
void api_h_relay(struct api_req *r);
/*
 * Serve the file at path (absolute), honouring Range; sets r->reply
 * (200, 206, 404 or 416).
 */
void api_h_sendfile(struct api_req *r, const char *path);

/* h_ops.c: the Nodes page and this process's metrics. */
void api_h_ui(struct api_req *r);
int api_ops_start(void);
void api_ops_stop(void);
void api_metrics_request(const struct api_req *r, uint64_t us);
void api_metrics_in_flight(const char *model, int delta);
void api_metrics_attempt(const char *model, const struct msg_done *d);
void api_metrics_retry(const char *reason, int failover);
/* rlink.c: a one-way message to the router (dropped while no link). */
void api_rlink_send(uint32_t type, const void *data, size_t len);

#endif
