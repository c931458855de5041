/*
 * bclient: gRPC client of the backend protocol (see bclient.h).
 *
 * One cached grpc_channel per address, shared by all threads.  Each call
 * gets its own pluck completion queue, so the calling thread drives its
 * call alone and calls on different threads never wait for one another; a
 * cancel from another thread is grpc_call_cancel(), which gRPC allows from
 * any thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "backends/common/bclient.h"
#include "proto/log.h"

/* Unused channels beyond this many are closed, oldest first. */
#define BC_MAX_CHANNELS 256

struct bc_chan {
	struct bc_chan *next;
	char *addr;
	grpc_channel *ch;
	int refs; /* calls using it */
	int forgotten; /* off the cache; destroyed at refs == 0 */
};

struct bc_cancel {
	pthread_mutex_t mu;
	int fired;
	grpc_call *call; /* the call using the handle, if any */
};

/* One call in progress, unary or streaming. */
struct bc_stream {
	struct bc_chan *chan;
	grpc_completion_queue *cq;
	grpc_call *call;
	const ProtobufCMessageDescriptor *out_desc;
	struct bc_cancel *cancel;
	grpc_metadata auth;
	int has_auth;
	grpc_metadata_array md_in, md_trail;
	grpc_status_code status;
	grpc_slice details;
	const char *error_string;
	grpc_byte_buffer *send_bb;
	int start_pending, status_pending;
	atomic_int cancelled; /* we cancelled the call ourselves */
	int done; /* status received (or failed locally) */
	struct bc_error result; /* the outcome once done */
	char tag_start, tag_msg, tag_status; /* addresses used as tags */
};

static pthread_mutex_t bc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bc_chan *bc_chans; /* most recently used first */
static int bc_nchans;
static int bc_users;
static int bc_max_msg = 50 * 1024 * 1024;

static void
bc_seterr(struct bc_error *err, enum bc_err kind, int status, const char *msg)
{
	if (err == NULL)
		return;
	err->kind = kind;
	err->grpc_status = status;
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
}

static void
bc_grpc_log(gpr_log_func_args *a)
{
	if (a->severity == GPR_LOG_SEVERITY_ERROR)
		log_warnx("grpc: %s", a->message);
	else
		log_debug("grpc: %s", a->message);
}

int
bc_init(void)
{
	const char *v = getenv("LOCALAI_GRPC_MAX_MESSAGE_SIZE");
	char *end;
	long n;

	pthread_mutex_lock(&bc_mu);
	if (bc_users++ == 0) {
		if (v != NULL) {
			errno = 0;
			n = strtol(v, &end, 10);
			if (errno == 0 && *end == '\0' && n >= 1024 &&
			    n <= 0x7fffffff)
				bc_max_msg = (int)n;
			else
				log_warnx("bad LOCALAI_GRPC_MAX_MESSAGE_SIZE "
				          "\"%s\" ignored",
				    v);
		}
		gpr_set_log_function(bc_grpc_log);
		gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
	}
	pthread_mutex_unlock(&bc_mu);
	grpc_init();
	return 0;
}

static void
bc_chan_destroy(struct bc_chan *c)
{
	grpc_channel_destroy(c->ch);
	free(c->addr);
	free(c);
}

void
bc_shutdown(void)
{
	struct bc_chan *c, *next = NULL;

	pthread_mutex_lock(&bc_mu);
	if (--bc_users == 0) {
		for (c = bc_chans; c != NULL; c = next) {
			next = c->next;
			if (c->refs == 0)
				bc_chan_destroy(c);
			else
				c->forgotten = 1;
		}
		bc_chans = NULL;
		bc_nchans = 0;
	}
	pthread_mutex_unlock(&bc_mu);
	grpc_shutdown();
}

static grpc_channel *
bc_channel_create(const char *addr)
{
	grpc_arg args[5] = {
	    {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	        {.integer = bc_max_msg}},
	    {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
	        {.integer = bc_max_msg}},
	    /* Backends are on the cluster network: never via a proxy. */
	    {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}},
	    /*
	     * Notice a restarted backend quickly.  Not
	     * GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC core uses it as the
	     * minimum *connect timeout*, and at 100 ms every attempt after a
	     * first refused one was abandoned ("tcp handshaker shutdown"), so
	     * a channel that met a backend before it listened never recovered.
	     */
	    {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
	        {.integer = 100}},
	    {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
	        {.integer = 2000}},
	};
	grpc_channel_args cargs = {5, args};
	grpc_channel_credentials *creds;
	grpc_channel *ch;

	creds = grpc_insecure_credentials_create();
	ch = grpc_channel_create(addr, creds, &cargs);
	grpc_channel_credentials_release(creds);
	return ch;
}

/* Close unused channels past the cap, least recently used first. */
static void
bc_chan_trim(void)
{
	struct bc_chan **pp, *c;
	int n = 0;

	for (pp = &bc_chans; (c = *pp) != NULL;) {
		if (++n > BC_MAX_CHANNELS && c->refs == 0) {
			*pp = c->next;
			bc_nchans--;
			bc_chan_destroy(c);
			continue;
		}
		pp = &c->next;
	}
}

/* The cached channel for addr (created on first use), referenced. */
static struct bc_chan *
bc_chan_get(const char *addr)
{
	struct bc_chan **pp, *c;

	pthread_mutex_lock(&bc_mu);
	for (pp = &bc_chans; (c = *pp) != NULL; pp = &c->next)
		if (strcmp(c->addr, addr) == 0) {
			*pp = c->next; /* move to the front */
			break;
		}
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->addr = strdup(addr)) == NULL) {
			free(c);
			pthread_mutex_unlock(&bc_mu);
			return NULL;
		}
		c->ch = bc_channel_create(addr);
		bc_nchans++;
	}
	c->next = bc_chans;
	bc_chans = c;
	c->refs++;
	if (bc_nchans > BC_MAX_CHANNELS)
		bc_chan_trim();
	pthread_mutex_unlock(&bc_mu);
	return c;
}

static void
bc_chan_put(struct bc_chan *c)
{
	pthread_mutex_lock(&bc_mu);
	if (--c->refs == 0 && c->forgotten)
		bc_chan_destroy(c);
	pthread_mutex_unlock(&bc_mu);
}

void
bc_forget(const char *addr)
{
	struct bc_chan **pp, *c;

	pthread_mutex_lock(&bc_mu);
	for (pp = &bc_chans; (c = *pp) != NULL; pp = &c->next) {
		if (strcmp(c->addr, addr) != 0)
			continue;
		*pp = c->next;
		bc_nchans--;
		if (c->refs == 0)
			bc_chan_destroy(c);
		else
			c->forgotten = 1;
		break;
	}
	pthread_mutex_unlock(&bc_mu);
}

int
bc_channels(void)
{
	int n;

	pthread_mutex_lock(&bc_mu);
	n = bc_nchans;
	pthread_mutex_unlock(&bc_mu);
	return n;
}

int
bc_is_retryable(const struct bc_error *err)
{
	return err != NULL &&
	       (err->kind == BC_ECONNREFUSED || err->kind == BC_EUNAVAILABLE ||
	           err->kind == BC_EBUSY);
}

const char *
bc_strerror(enum bc_err kind)
{
	static const char *const s[] = {
	    [BC_OK] = "ok",
	    [BC_ECONNREFUSED] = "backend unreachable",
	    [BC_EUNAVAILABLE] = "backend unavailable",
	    [BC_EBUSY] = "backend busy",
	    [BC_EDEADLINE] = "deadline exceeded",
	    [BC_ECANCELLED] = "cancelled",
	    [BC_EUNAUTH] = "not authenticated",
	    [BC_EINVAL] = "invalid request",
	    [BC_ETOOBIG] = "message too large",
	    [BC_EUNIMPL] = "not implemented by the backend",
	    [BC_EBACKEND] = "backend error",
	    [BC_EPROTO] = "malformed answer",
	    [BC_ELOCAL] = "local error",
	};

	if ((unsigned)kind >= sizeof(s) / sizeof(s[0]))
		return "unknown error";
	return s[kind];
}

/*
 * Classify a gRPC status.  A failed connection attempt is UNAVAILABLE
 * like a broken one; only its message tells them apart, and the router
 * needs to know (nothing was sent: retry at once, mark the replica dead).
 * CANCELLED means we cancelled; bc_outcome() turns a CANCELLED we did not
 * ask for into UNAVAILABLE.
 */
static enum bc_err
bc_classify(grpc_status_code st, const char *msg)
{
	switch (st) {
	case GRPC_STATUS_OK:
		return BC_OK;
	case GRPC_STATUS_CANCELLED:
		return BC_ECANCELLED;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return BC_EDEADLINE;
	case GRPC_STATUS_UNAUTHENTICATED:
	case GRPC_STATUS_PERMISSION_DENIED:
		return BC_EUNAUTH;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return BC_EINVAL;
	case GRPC_STATUS_UNIMPLEMENTED:
		return BC_EUNIMPL;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return strstr(msg, "too many calls") != NULL ? BC_EBUSY
		                                             : BC_ETOOBIG;
	case GRPC_STATUS_UNAVAILABLE:
		if (strstr(msg, "failed to connect") != NULL ||
		    strstr(msg, "Connection refused") != NULL ||
		    strstr(msg, "No such file") != NULL ||
		    strstr(msg, "DNS resolution failed") != NULL)
			return BC_ECONNREFUSED;
		return BC_EUNAVAILABLE;
	default:
		return BC_EBACKEND;
	}
}

struct bc_cancel *
bc_cancel_new(void)
{
	struct bc_cancel *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if (pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

void
bc_cancel_fire(struct bc_cancel *h)
{
	pthread_mutex_lock(&h->mu);
	h->fired = 1;
	if (h->call != NULL)
		grpc_call_cancel(h->call, NULL);
	pthread_mutex_unlock(&h->mu);
}

void
bc_cancel_free(struct bc_cancel *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static void
bc_cancel_attach(struct bc_cancel *h, grpc_call *call)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->call = call;
	if (h->fired && call != NULL)
		grpc_call_cancel(call, NULL);
	pthread_mutex_unlock(&h->mu);
}

void
bc_free(void *msg)
{
	if (msg != NULL)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static grpc_byte_buffer *
bc_buffer(const void *data, size_t len)
{
	grpc_byte_buffer *bb;
	grpc_slice s;

	s = grpc_slice_from_copied_buffer(data, len);
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

static grpc_byte_buffer *
bc_pack(const ProtobufCMessage *m)
{
	grpc_byte_buffer *bb;
	grpc_slice s;

	s = grpc_slice_malloc(protobuf_c_message_get_packed_size(m));
	protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* The bytes of a received buffer as one slice (unref it). */
static grpc_slice
bc_slice(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;

	if (!grpc_byte_buffer_reader_init(&r, bb))
		return grpc_empty_slice();
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	return s;
}

static ProtobufCMessage *
bc_unpack(const ProtobufCMessageDescriptor *d, grpc_byte_buffer *bb)
{
	ProtobufCMessage *m;
	grpc_slice s;

	s = bc_slice(bb);
	m = protobuf_c_message_unpack(
	    d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return m;
}

static void
bc_release(struct bc_stream *s)
{
	if (s->call != NULL) {
		if (!s->done)
			grpc_call_cancel(s->call, NULL);
		if (s->start_pending)
			grpc_completion_queue_pluck(s->cq, &s->tag_start,
			    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (s->status_pending)
			grpc_completion_queue_pluck(s->cq, &s->tag_status,
			    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		bc_cancel_attach(s->cancel, NULL);
		grpc_call_unref(s->call);
	}
	if (s->cq != NULL) {
		grpc_completion_queue_shutdown(s->cq);
		grpc_completion_queue_destroy(s->cq);
	}
	if (s->has_auth)
		grpc_slice_unref(s->auth.value);
	if (s->send_bb != NULL)
		grpc_byte_buffer_destroy(s->send_bb);
	grpc_metadata_array_destroy(&s->md_in);
	grpc_metadata_array_destroy(&s->md_trail);
	grpc_slice_unref(s->details);
	if (s->error_string != NULL)
		gpr_free((void *)(uintptr_t)s->error_string);
	if (s->chan != NULL)
		bc_chan_put(s->chan);
	free(s);
}

/* Create the call on the cached channel of addr. */
static struct bc_stream *
bc_begin(const char *addr, const char *method, grpc_byte_buffer *bb,
    const struct bc_opts *o, struct bc_error *err)
{
	struct bc_stream *s;
	gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_REALTIME);
	char *bearer;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		grpc_byte_buffer_destroy(bb);
		bc_seterr(err, BC_ELOCAL, -1, "out of memory");
		return NULL;
	}
	s->send_bb = bb;
	atomic_init(&s->cancelled, 0);
	s->details = grpc_empty_slice();
	grpc_metadata_array_init(&s->md_in);
	grpc_metadata_array_init(&s->md_trail);
	if ((s->chan = bc_chan_get(addr)) == NULL) {
		bc_seterr(err, BC_ELOCAL, -1, "out of memory");
		bc_release(s);
		return NULL;
	}
	if (o != NULL && o->token != NULL && o->token[0] != '\0') {
		if (asprintf(&bearer, "Bearer %s", o->token) == -1) {
			bc_seterr(err, BC_ELOCAL, -1, "out of memory");
			bc_release(s);
			return NULL;
		}
		s->auth.key = grpc_slice_from_static_string("authorization");
		s->auth.value = grpc_slice_from_copied_string(bearer);
		s->has_auth = 1;
		free(bearer);
	}
	if (o != NULL && o->timeout_ms > 0)
		deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
		    gpr_time_from_millis(o->timeout_ms, GPR_TIMESPAN));
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	s->call = grpc_channel_create_call(s->chan->ch, NULL,
	    GRPC_PROPAGATE_DEFAULTS, s->cq,
	    grpc_slice_from_static_string(method), NULL, deadline, NULL);
	s->cancel = o != NULL ? o->cancel : NULL;
	bc_cancel_attach(s->cancel, s->call);
	return s;
}

/* The four ops every call starts with: headers, request, half-close. */
static size_t
bc_send_ops(struct bc_stream *s, const struct bc_opts *o, grpc_op *ops)
{
	memset(ops, 0, 4 * sizeof(*ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = s->has_auth ? 1 : 0;
	ops[0].data.send_initial_metadata.metadata = &s->auth;
	if (o != NULL && o->wait_ready)
		ops[0].flags =
		    GRPC_INITIAL_METADATA_WAIT_FOR_READY |
		    GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->send_bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md_in;
	return 4;
}

static void
bc_status_op(struct bc_stream *s, grpc_op *op)
{
	memset(op, 0, sizeof(*op));
	op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	op->data.recv_status_on_client.trailing_metadata = &s->md_trail;
	op->data.recv_status_on_client.status = &s->status;
	op->data.recv_status_on_client.status_details = &s->details;
	op->data.recv_status_on_client.error_string = &s->error_string;
}

/* Did we cancel the call (bc_stream_cancel, a fired handle, an error)? */
static int
bc_cancelled_here(struct bc_stream *s)
{
	int fired = 0;

	if (atomic_load(&s->cancelled))
		return 1;
	if (s->cancel != NULL) {
		pthread_mutex_lock(&s->cancel->mu);
		fired = s->cancel->fired;
		pthread_mutex_unlock(&s->cancel->mu);
	}
	return fired;
}

/*
 * Record the call's final status in s->result; 0 if it was OK.  A
 * CANCELLED we did not cause comes from the backend: gRPC answers so a
 * call that reaches a server in the middle of its shutdown, and the
 * runtime so the calls still running when the shutdown grace ran out.
 * Either way the backend is going away and another replica may serve the
 * call, so it is UNAVAILABLE, like a connection lost mid-call.
 */
static int
bc_outcome(struct bc_stream *s)
{
	char *msg;

	s->done = 1;
	msg = grpc_slice_to_c_string(s->details);
	s->result.kind = bc_classify(s->status, msg);
	s->result.grpc_status = (int)s->status;
	snprintf(s->result.msg, sizeof(s->result.msg), "%s",
	    msg[0] != '\0' ? msg : bc_strerror(s->result.kind));
	if (s->result.kind == BC_ECANCELLED && !bc_cancelled_here(s)) {
		/* The backend dropped the call: shutting down. */
		s->result.kind = BC_EUNAVAILABLE;
		snprintf(s->result.msg, sizeof(s->result.msg),
		    "cancelled by the backend (%s)",
		    msg[0] != '\0' ? msg : "no message");
	}
	gpr_free(msg);
	return s->result.kind == BC_OK ? 0 : -1;
}

static int
bc_pluck(struct bc_stream *s, void *tag)
{
	grpc_event ev;

	ev = grpc_completion_queue_pluck(
	    s->cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -1;
}

/* One unary call; *out gets the response buffer on success. */
static int
bc_unary(const char *addr, const char *method, grpc_byte_buffer *bb,
    grpc_byte_buffer **out, const struct bc_opts *o, struct bc_error *err)
{
	struct bc_stream *s;
	grpc_op ops[6];
	size_t n;
	int rc;

	*out = NULL;
	if ((s = bc_begin(addr, method, bb, o, err)) == NULL)
		return -1;
	n = bc_send_ops(s, o, ops);
	memset(&ops[n], 0, sizeof(ops[n]));
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = out;
	bc_status_op(s, &ops[n++]);
	if (grpc_call_start_batch(s->call, ops, n, &s->tag_start, NULL) !=
	    GRPC_CALL_OK) {
		bc_seterr(err, BC_ELOCAL, -1, "cannot start the call");
		bc_release(s);
		return -1;
	}
	(void)bc_pluck(s, &s->tag_start);
	rc = bc_outcome(s);
	if (rc == -1) {
		if (err != NULL)
			*err = s->result;
		if (*out != NULL)
			grpc_byte_buffer_destroy(*out);
		*out = NULL;
	} else if (*out == NULL) {
		bc_seterr(err, BC_EPROTO, 0, "no response message");
		rc = -1;
	}
	bc_release(s);
	return rc;
}

int
bc_call(const char *addr, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out,
    const struct bc_opts *o, struct bc_error *err)
{
	grpc_byte_buffer *resp;

	*out = NULL;
	if (bc_unary(addr, method, bc_pack(req), &resp, o, err) == -1)
		return -1;
	*out = bc_unpack(out_desc, resp);
	grpc_byte_buffer_destroy(resp);
	if (*out == NULL) {
		bc_seterr(err, BC_EPROTO, 0, "malformed response message");
		return -1;
	}
	bc_seterr(err, BC_OK, 0, "ok");
	return 0;
}

int
bc_call_raw(const char *addr, const char *method, const void *req, size_t len,
    void **out, size_t *outlen, const struct bc_opts *o, struct bc_error *err)
{
	grpc_byte_buffer *resp;
	grpc_slice s;

	if (bc_unary(addr, method, bc_buffer(req, len), &resp, o, err) == -1)
		return -1;
	s = bc_slice(resp);
	grpc_byte_buffer_destroy(resp);
	if (out != NULL) {
		*outlen = GRPC_SLICE_LENGTH(s);
		if ((*out = malloc(*outlen + 1)) == NULL) {
			grpc_slice_unref(s);
			bc_seterr(err, BC_ELOCAL, -1, "out of memory");
			return -1;
		}
		memcpy(*out, GRPC_SLICE_START_PTR(s), *outlen);
	}
	grpc_slice_unref(s);
	bc_seterr(err, BC_OK, 0, "ok");
	return 0;
}

struct bc_stream *
bc_stream_open(const char *addr, const char *method,
    const ProtobufCMessage *req, const ProtobufCMessageDescriptor *out_desc,
    const struct bc_opts *o, struct bc_error *err)
{
	struct bc_stream *s;
	grpc_op ops[4], st;
	size_t n;

	if ((s = bc_begin(addr, method, bc_pack(req), o, err)) == NULL)
		return NULL;
	s->out_desc = out_desc;
	n = bc_send_ops(s, o, ops);
	bc_status_op(s, &st);
	if (grpc_call_start_batch(s->call, ops, n, &s->tag_start, NULL) !=
	    GRPC_CALL_OK) {
		bc_seterr(err, BC_ELOCAL, -1, "cannot start the call");
		bc_release(s);
		return NULL;
	}
	s->start_pending = 1;
	if (grpc_call_start_batch(s->call, &st, 1, &s->tag_status, NULL) !=
	    GRPC_CALL_OK) {
		bc_seterr(err, BC_ELOCAL, -1, "cannot start the call");
		bc_release(s);
		return NULL;
	}
	s->status_pending = 1;
	return s;
}

/* The stream ended (no more messages): collect its status. */
static int
bc_stream_end(struct bc_stream *s, struct bc_error *err)
{
	(void)bc_pluck(s, &s->tag_status);
	s->status_pending = 0;
	if (bc_outcome(s) == -1) {
		if (err != NULL)
			*err = s->result;
		return -1;
	}
	bc_seterr(err, BC_OK, 0, "ok");
	return 0;
}

int
bc_stream_next(
    struct bc_stream *s, ProtobufCMessage **out, struct bc_error *err)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op op;

	*out = NULL;
	if (s->done) {
		if (err != NULL)
			*err = s->result;
		return s->result.kind == BC_OK ? 0 : -1;
	}
	if (s->start_pending) {
		(void)bc_pluck(s, &s->tag_start);
		s->start_pending = 0;
	}
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &bb;
	if (grpc_call_start_batch(s->call, &op, 1, &s->tag_msg, NULL) !=
	    GRPC_CALL_OK) {
		atomic_store(&s->cancelled, 1);
		grpc_call_cancel(s->call, NULL);
		return bc_stream_end(s, err) == 0 ? 0 : -1;
	}
	(void)bc_pluck(s, &s->tag_msg);
	if (bb == NULL)
		return bc_stream_end(s, err);
	*out = bc_unpack(s->out_desc, bb);
	grpc_byte_buffer_destroy(bb);
	if (*out == NULL) {
		atomic_store(&s->cancelled, 1);
		grpc_call_cancel(s->call, NULL);
		(void)bc_pluck(s, &s->tag_status);
		s->status_pending = 0;
		s->done = 1;
		bc_seterr(&s->result, BC_EPROTO, 0, "malformed stream message");
		if (err != NULL)
			*err = s->result;
		return -1;
	}
	return 1;
}

void
bc_stream_cancel(struct bc_stream *s)
{
	atomic_store(&s->cancelled, 1);
	grpc_call_cancel(s->call, NULL);
}

void
bc_stream_close(struct bc_stream *s)
{
	if (s != NULL)
		bc_release(s);
}

/* ---- typed wrappers -------------------------------------------------- */

#define M(name) "/backend.Backend/" name

/* A Result answer: success == false is a backend error. */
static int
bc_result(const char *addr, const char *method, const ProtobufCMessage *req,
    const struct bc_opts *o, struct bc_error *err)
{
	Backend__Result *r;
	ProtobufCMessage *m;
	int rc = 0;

	if (bc_call(addr, method, req, &backend__result__descriptor, &m, o,
	        err) == -1)
		return -1;
	r = (Backend__Result *)m;
	if (!r->success) {
		bc_seterr(err, BC_EBACKEND, 0,
		    r->message[0] != '\0' ? r->message
		                          : "the backend reported a failure");
		rc = -1;
	}
	bc_free(r);
	return rc;
}

int
bc_health(const char *addr, const struct bc_opts *o, struct bc_error *err)
{
	Backend__HealthMessage req = BACKEND__HEALTH_MESSAGE__INIT;
	ProtobufCMessage *r;

	if (bc_call(addr, M("Health"), &req.base, &backend__reply__descriptor,
	        &r, o, err) == -1)
		return -1;
	bc_free(r);
	return 0;
}

int
bc_status(const char *addr, const struct bc_opts *o,
    Backend__StatusResponse **out, struct bc_error *err)
{
	Backend__HealthMessage req = BACKEND__HEALTH_MESSAGE__INIT;
	ProtobufCMessage *m;
	int rc;

	rc = bc_call(addr, M("Status"), &req.base,
	    &backend__status_response__descriptor, &m, o, err);
	*out = (void *)m;
	return rc;
}

int
bc_load_model(const char *addr, const struct bc_opts *o,
    const Backend__ModelOptions *req, struct bc_error *err)
{
	return bc_result(addr, M("LoadModel"), &req->base, o, err);
}

int
bc_free_model(const char *addr, const struct bc_opts *o, struct bc_error *err)
{
	Backend__HealthMessage req = BACKEND__HEALTH_MESSAGE__INIT;

	return bc_result(addr, M("Free"), &req.base, o, err);
}

int
bc_predict(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__Reply **out,
    struct bc_error *err)
{
	ProtobufCMessage *m;
	int rc;

	rc = bc_call(addr, M("Predict"), &req->base,
	    &backend__reply__descriptor, &m, o, err);
	*out = (void *)m;
	return rc;
}

int
bc_embedding(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__EmbeddingResult **out,
    struct bc_error *err)
{
	ProtobufCMessage *m;
	int rc;

	rc = bc_call(addr, M("Embedding"), &req->base,
	    &backend__embedding_result__descriptor, &m, o, err);
	*out = (void *)m;
	return rc;
}

int
bc_tokenize(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, Backend__TokenizationResponse **out,
    struct bc_error *err)
{
	ProtobufCMessage *m;
	int rc;

	rc = bc_call(addr, M("TokenizeString"), &req->base,
	    &backend__tokenization_response__descriptor, &m, o, err);
	*out = (void *)m;
	return rc;
}

int
bc_tts(const char *addr, const struct bc_opts *o,
    const Backend__TTSRequest *req, struct bc_error *err)
{
	return bc_result(addr, M("TTS"), &req->base, o, err);
}

int
bc_transcribe(const char *addr, const struct bc_opts *o,
    const Backend__TranscriptRequest *req, Backend__TranscriptResult **out,
    struct bc_error *err)
{
	ProtobufCMessage *m;
	int rc;

	rc = bc_call(addr, M("AudioTranscription"), &req->base,
	    &backend__transcript_result__descriptor, &m, o, err);
	*out = (void *)m;
	return rc;
}

struct bc_stream *
bc_predict_stream(const char *addr, const struct bc_opts *o,
    const Backend__PredictOptions *req, struct bc_error *err)
{
	return bc_stream_open(addr, M("PredictStream"), &req->base,
	    &backend__reply__descriptor, o, err);
}

int
bc_predict_stream_next(
    struct bc_stream *s, Backend__Reply **out, struct bc_error *err)
{
	ProtobufCMessage *m;
	int rc;

	rc = bc_stream_next(s, &m, err);
	*out = (void *)m;
	return rc;
}
