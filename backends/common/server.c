/*
 * The backend runtime's process: command line, gRPC server, the poller
 * thread that owns the completion queue, the pool of call threads, and the
 * graceful shutdown on SIGTERM.  server.h describes the threading model;
 * server_call.c handles each call.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "backends/common/addr.h"
#include "backends/common/server.h"
#include "proto/log.h"

/* Calls given a further chance to stop after shutdown cancelled them. */
#define BE_CANCEL_WAIT_MS 3000
/*
 * After the last call of a graceful shutdown ended: time its client has
 * to read the last messages and the status before the connections close
 * (see srv_stop).
 */
#define BE_SETTLE_MS 500
/* request_call operations kept posted, so bursts do not wait. */
#define BE_PENDING_REQUESTS 8

static struct be_server srv;
static grpc_server *gsrv;
static grpc_completion_queue *gcq;
static pthread_t poller;
static struct be_tag shutdown_tag = {BE_TAG_SHUTDOWN, NULL};
static atomic_int closing; /* grpc_server_shutdown_and_notify called */

/*
 * The call threads.  Every admitted call is on the `active` list until its
 * thread releases it; calls not yet picked up by a thread also sit on the
 * queue.  A thread is created whenever queued calls outnumber idle
 * threads, so a call never waits behind another call for a thread.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work; /* a call was queued, or stop */
	pthread_cond_t done; /* a call ended, or the server shut down */
	struct be_ctx *qhead, *qtail;
	int nqueued;
	struct be_ctx *active;
	int nactive;
	int nidle, nthreads, max;
	int stop;
	int stopping; /* SIGTERM: new calls are refused */
	int server_down; /* the shutdown tag completed */
	struct timespec last_end; /* when the last call ended (monotonic) */
	pthread_t *threads;
} pool;

static void
srv_usage(void)
{
	fprintf(stderr,
	    "usage: %s --addr HOST:PORT|unix:PATH "
	    "[--port-file PATH] [--max-msg-size BYTES]\n"
	    "\t[--grace-ms MS] [--max-calls N] [-v] [-d]\n",
	    log_procname());
}

/* gRPC's own log records, through our logger. */
static void
srv_grpc_log(gpr_log_func_args *a)
{
	if (a->severity == GPR_LOG_SEVERITY_ERROR)
		log_warnx("grpc: %s", a->message);
	else
		log_debug("grpc: %s", a->message);
}

static void *
srv_worker(void *arg)
{
	struct be_ctx *c;

	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while (pool.qhead == NULL && !pool.stop) {
			pool.nidle++;
			pthread_cond_wait(&pool.work, &pool.mu);
			pool.nidle--;
		}
		if ((c = pool.qhead) == NULL)
			break;
		if ((pool.qhead = c->qnext) == NULL)
			pool.qtail = NULL;
		pool.nqueued--;
		pthread_mutex_unlock(&pool.mu);
		be_call_run(&srv, c);
		pthread_mutex_lock(&pool.mu);
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			pool.active = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		pool.nactive--;
		clock_gettime(CLOCK_MONOTONIC, &pool.last_end);
		pthread_cond_broadcast(&pool.done);
		pthread_mutex_unlock(&pool.mu);
		be_ctx_free(c);
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

/*
 * Turn a call away at once, answered by the poller (no call thread): too
 * many calls in progress, or shutting down.  why is a static string.
 */
static void
srv_reject(struct be_ctx *c, grpc_status_code code, const char *why)
{
	grpc_slice details;
	grpc_op ops[3];

	memset(ops, 0, sizeof(ops));
	details = grpc_slice_from_static_string(why);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = code;
	ops[1].data.send_status_from_server.status_details = &details;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &c->close_cancelled;
	c->new_tag.kind = BE_TAG_REJECT;
	if (grpc_call_start_batch(c->call, ops, 3, &c->new_tag, NULL) !=
	    GRPC_CALL_OK)
		be_ctx_free(c);
}

/*
 * A call arrived: admit it to the pool (creating a thread if needed), or
 * turn it away when shutting down or full.  Deciding under pool.mu means
 * a call is either counted before srv_drain() looks or refused.
 */
static void
srv_admit(struct be_ctx *c)
{
	pthread_mutex_lock(&pool.mu);
	if (pool.stopping) {
		pthread_mutex_unlock(&pool.mu);
		srv_reject(c, GRPC_STATUS_UNAVAILABLE, "backend shutting down");
		return;
	}
	if (pool.nactive >= pool.max) {
		pthread_mutex_unlock(&pool.mu);
		log_warnx(
		    "too many calls in progress (%d): rejecting one", pool.max);
		srv_reject(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
		    "too many calls in progress");
		return;
	}
	pool.nactive++;
	c->next = pool.active;
	if (pool.active != NULL)
		pool.active->prev = c;
	pool.active = c;
	if (pool.qtail != NULL)
		pool.qtail->qnext = c;
	else
		pool.qhead = c;
	pool.qtail = c;
	pool.nqueued++;
	if (pool.nidle < pool.nqueued && pool.nthreads < pool.max) {
		if ((errno = pthread_create(&pool.threads[pool.nthreads], NULL,
		         srv_worker, NULL)) != 0)
			log_warn(
			    "pthread_create (the call waits for a thread)");
		else
			pool.nthreads++;
	}
	pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.mu);
}

/* Keep one more request_call posted.  -1 if the server refuses. */
static int
srv_request(void)
{
	struct be_ctx *c;
	grpc_call_error e;

	if ((c = be_ctx_new()) == NULL) {
		log_warn("be_ctx_new");
		return -1;
	}
	e = grpc_server_request_call(
	    gsrv, &c->call, &c->details, &c->md, gcq, gcq, &c->new_tag);
	if (e != GRPC_CALL_OK) {
		log_warnx("grpc_server_request_call: %s",
		    grpc_call_error_to_string(e));
		be_ctx_free(c);
		return -1;
	}
	return 0;
}

/*
 * A call arrived.  Until the server closes, it keeps accepting calls, so
 * that one arriving during a graceful shutdown gets a retryable
 * UNAVAILABLE from us rather than the CANCELLED gRPC answers to calls
 * arriving after grpc_server_shutdown_and_notify (see srv_stop).
 */
static void
srv_new_call(struct be_ctx *c, int ok)
{
	if (!ok) { /* the server shut down */
		be_ctx_free(c);
		return;
	}
	if (!atomic_load(&closing))
		(void)srv_request();
	srv_admit(c);
}

/* The call is over: record whether it ended early and wake its thread. */
static void
srv_closed(struct be_ctx *c, int ok)
{
	pthread_mutex_lock(&c->mu);
	c->close_done = 1;
	if (c->close_cancelled || !ok)
		atomic_store(&c->cancelled, 1);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	/* c may be freed from here on. */
	gate_kick(&srv.gate);
}

static void *
srv_poll(void *arg)
{
	struct be_tag *t;
	grpc_event ev;
	int i;

	/*
	 * Posted here rather than by main: every call context is then
	 * created by the thread that handles its events, which keeps the
	 * hand-over visible to ThreadSanitizer (it cannot see gRPC's own
	 * synchronisation).
	 */
	for (i = 0; i < BE_PENDING_REQUESTS; i++)
		if (srv_request() == -1)
			fatalx("cannot accept calls");
	for (;;) {
		ev = grpc_completion_queue_next(
		    gcq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		t = ev.tag;
		switch (t->kind) {
		case BE_TAG_NEW:
			srv_new_call(t->ctx, ev.success);
			break;
		case BE_TAG_OP:
			pthread_mutex_lock(&t->ctx->mu);
			t->ctx->op_done = 1;
			t->ctx->op_ok = ev.success;
			pthread_cond_broadcast(&t->ctx->cv);
			pthread_mutex_unlock(&t->ctx->mu);
			break;
		case BE_TAG_CLOSE:
			srv_closed(t->ctx, ev.success);
			break;
		case BE_TAG_REJECT:
			be_ctx_free(t->ctx);
			break;
		case BE_TAG_SHUTDOWN:
			pthread_mutex_lock(&pool.mu);
			pool.server_down = 1;
			pthread_cond_broadcast(&pool.done);
			pthread_mutex_unlock(&pool.mu);
			break;
		}
	}
	return NULL;
}

static void
srv_pool_init(long max)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&pool.mu, NULL) != 0 ||
	    pthread_cond_init(&pool.work, NULL) != 0 ||
	    pthread_cond_init(&pool.done, &ca) != 0)
		fatalx("cannot initialise the call pool");
	pthread_condattr_destroy(&ca);
	pool.max = (int)max;
	if ((pool.threads = calloc((size_t)max, sizeof(pthread_t))) == NULL)
		fatal("calloc");
}

static void
srv_pool_stop(void)
{
	int i;

	pthread_mutex_lock(&pool.mu);
	pool.stop = 1;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	for (i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
}

/* Write the bound port to path atomically (tmp file + rename). */
static int
srv_write_port(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		log_warnx("--port-file: path too long");
		return -1;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		return -1;
	}
	if (fprintf(f, "%d\n", port) < 0 || fclose(f) == EOF) {
		log_warn("%s", tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", path);
		return -1;
	}
	return 0;
}

/* Create, bind and start the server; start the poller. */
static int
srv_start(const struct be_conf *conf, const struct be_addr *addr)
{
	grpc_arg args[4] = {
	    {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
	        {.integer = (int)conf->max_msg}},
	    {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
	        {.integer = (int)conf->max_msg}},
	    /* A second server on our port must fail, not share it. */
	    {GRPC_ARG_INTEGER, GRPC_ARG_ALLOW_REUSEPORT, {.integer = 0}},
	    {GRPC_ARG_INTEGER, GRPC_ARG_ENABLE_HTTP_PROXY, {.integer = 0}},
	};
	grpc_channel_args cargs = {4, args};
	grpc_server_credentials *creds;
	int port;

	gcq = grpc_completion_queue_create_for_next(NULL);
	gsrv = grpc_server_create(&cargs, NULL);
	grpc_server_register_completion_queue(gsrv, gcq, NULL);
	creds = grpc_insecure_server_credentials_create();
	port = grpc_server_add_http2_port(gsrv, addr->target, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		log_warnx(
		    "cannot listen on %s (address in use?)", addr->target);
		return -1;
	}
	grpc_server_start(gsrv);
	if ((errno = pthread_create(&poller, NULL, srv_poll, NULL)) != 0)
		fatal("pthread_create");
	if (conf->port_file != NULL &&
	    srv_write_port(
	        conf->port_file, addr->kind == BE_ADDR_TCP ? port : 0) == -1)
		return -1;
	if (addr->kind == BE_ADDR_TCP)
		log_info("serving on %s:%d%s", addr->host, port,
		    srv.auth != NULL ? " (bearer token required)" : "");
	else
		log_info("serving on %s%s", addr->target,
		    srv.auth != NULL ? " (bearer token required)" : "");
	return 0;
}

/*
 * Wait until no call is in progress, at most ms milliseconds.  A second
 * SIGTERM/SIGINT cuts the wait short.  Returns 0 when every call ended.
 */
static int
srv_drain(long ms, const sigset_t *sigs)
{
	struct timespec end, now, step, zero = {0, 0};
	int left;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&pool.mu);
	while ((left = pool.nactive) > 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		step = now;
		step.tv_nsec += 100 * 1000000;
		if (step.tv_nsec >= 1000000000) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pool.done, &pool.mu, &step);
		pthread_mutex_unlock(&pool.mu);
		if (sigtimedwait(sigs, NULL, &zero) > 0) {
			log_info("second signal: not waiting any longer");
			pthread_mutex_lock(&pool.mu);
			left = pool.nactive;
			break;
		}
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return left > 0 ? -1 : 0;
}

/* Wait until the server's shutdown tag came. */
static void
srv_wait_down(void)
{
	pthread_mutex_lock(&pool.mu);
	while (!pool.server_down)
		pthread_cond_wait(&pool.done, &pool.mu);
	pthread_mutex_unlock(&pool.mu);
}

/* Mark every call in progress cancelled and wake whatever it waits on. */
static void
srv_cancel_all(void)
{
	struct be_ctx *c;

	grpc_server_cancel_all_calls(gsrv);
	pthread_mutex_lock(&pool.mu);
	for (c = pool.active; c != NULL; c = c->next) {
		atomic_store(&c->cancelled, 1);
		be_ctx_wake(c);
	}
	pthread_mutex_unlock(&pool.mu);
	gate_kick(&srv.gate);
}

static int
srv_nactive(void)
{
	int n;

	pthread_mutex_lock(&pool.mu);
	n = pool.nactive;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

/*
 * Wait until BE_SETTLE_MS after the last call ended (at once if it ended
 * longer ago, or no call ever came).  A second SIGTERM/SIGINT cuts the
 * wait short.
 */
static void
srv_settle(const sigset_t *sigs)
{
	struct timespec end, now, left;

	pthread_mutex_lock(&pool.mu);
	end = pool.last_end;
	pthread_mutex_unlock(&pool.mu);
	if (end.tv_sec == 0 && end.tv_nsec == 0)
		return;
	end.tv_sec += BE_SETTLE_MS / 1000;
	end.tv_nsec += (BE_SETTLE_MS % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	left.tv_sec = end.tv_sec - now.tv_sec;
	left.tv_nsec = end.tv_nsec - now.tv_nsec;
	if (left.tv_nsec < 0) {
		left.tv_sec--;
		left.tv_nsec += 1000000000;
	}
	if (left.tv_sec < 0)
		return;
	if (sigtimedwait(sigs, NULL, &left) > 0)
		log_info("second signal: not waiting any longer");
}

/*
 * Close the listeners and every connection at once, cancelling whatever
 * call is left.  grpc_server_cancel_all_calls() right after the shutdown
 * leaves gRPC no time to turn away calls itself.
 */
static void
srv_close(void)
{
	atomic_store(&closing, 1);
	grpc_server_shutdown_and_notify(gsrv, gcq, &shutdown_tag);
	srv_cancel_all();
}

/*
 * Graceful shutdown: refuse new calls, give those in progress the grace
 * period, cancel what is left, and tear everything down in the order gRPC
 * requires.  A backend op that ignores cancellation cannot be joined; the
 * process then exits at once (status 0: the shutdown was asked for and no
 * further call will be answered).
 *
 * The listeners and connections stay open, and new calls get UNAVAILABLE
 * "backend shutting down" from us, until the last call has ended and its
 * client has had BE_SETTLE_MS to read the answer; then everything closes
 * at once.  gRPC's own graceful shutdown (GOAWAY at SIGTERM) loses final
 * statuses: once a connection got a GOAWAY, gRPC closes it as soon as its
 * last stream has ended on our side, and a client that writes anything
 * (the flow-control update of its next read) before it has read that
 * stream's last message and status gets EPIPE, fails the stream with
 * UNAVAILABLE and never reads what was already in its socket.  And calls
 * that arrive on a connection after the shutdown began, before the client
 * processed the GOAWAY (an idle client processes it only at its next call),
 * are answered CANCELLED, which a client cannot tell from a real
 * cancellation.
 */
static void
srv_stop(const struct be_conf *conf, const sigset_t *sigs)
{
	pthread_mutex_lock(&pool.mu);
	pool.stopping = 1;
	pthread_mutex_unlock(&pool.mu);
	log_info("shutting down: %d call(s) in progress, grace %ld ms",
	    srv_nactive(), conf->grace_ms);
	if (srv_drain(conf->grace_ms, sigs) == -1) {
		log_warnx(
		    "cancelling %d call(s) still in progress", srv_nactive());
		srv_close();
		if (srv_drain(BE_CANCEL_WAIT_MS, sigs) == -1) {
			log_warnx("%d call(s) ignore cancellation; exiting "
			          "without waiting for them",
			    srv_nactive());
			_exit(0);
		}
	} else {
		srv_settle(sigs);
		srv_close();
	}
	srv_wait_down();
	grpc_server_destroy(gsrv);
	grpc_completion_queue_shutdown(gcq);
	pthread_join(poller, NULL);
	grpc_completion_queue_destroy(gcq);
	srv_pool_stop();
}

/* Block the shutdown signals in every thread; main waits for them. */
static void
srv_signals(sigset_t *sigs)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	if ((errno = pthread_sigmask(SIG_BLOCK, sigs, NULL)) != 0)
		fatal("pthread_sigmask");
}

/*
 * Wait for SIGTERM or SIGINT.  From then on SIGHUP no longer counts: only a
 * second SIGTERM/SIGINT cuts the grace period short.
 */
static void
srv_wait_signal(sigset_t *sigs)
{
	int sig;

	for (;;) {
		if ((errno = sigwait(sigs, &sig)) != 0)
			fatal("sigwait");
		if (sig != SIGHUP)
			break;
		log_info("SIGHUP ignored");
	}
	log_info("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sigdelset(sigs, SIGHUP);
}

/* LOCALAI_GRPC_AUTH_TOKEN → "Bearer <token>", the metadata value to expect. */
static int
srv_auth_init(void)
{
	const char *tok = getenv("LOCALAI_GRPC_AUTH_TOKEN");

	if (tok == NULL || *tok == '\0')
		return 0;
	if (asprintf(&srv.auth, "Bearer %s", tok) == -1) {
		srv.auth = NULL;
		return -1;
	}
	srv.auth_len = strlen(srv.auth);
	return 0;
}

static int
srv_config(int argc, char **argv, struct be_conf *conf, struct be_addr *addr)
{
	char err[256];
	int rc;

	if (be_conf_init(conf, getenv("LOCALAI_GRPC_MAX_MESSAGE_SIZE"),
	        getenv("LOCALAI_BACKEND_GRACE_MS"), err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return 78;
	}
	if ((rc = be_conf_args(conf, argc, argv, err, sizeof(err))) != 0) {
		if (rc == -1)
			log_warnx("%s", err);
		srv_usage();
		return rc == 1 ? 0 : 78;
	}
	if (be_addr_parse(conf->addr, addr, err, sizeof(err)) == -1)
		fatalx("%s", err); /* be_conf_args checked it */
	return -1;
}

int
be_main(int argc, char **argv, const struct be_ops *ops)
{
	struct be_conf conf;
	struct be_addr addr;
	sigset_t sigs;
	int rc;

	log_init(0);
	log_procinit(ops->name != NULL ? ops->name : "backend");
	if ((rc = srv_config(argc, argv, &conf, &addr)) != -1)
		return rc;
	log_setverbose(conf.verbose);
	srv_signals(&sigs);
	srv.ops = ops;
	gate_init(&srv.gate, ops->parallel);
	atomic_init(&srv.model_state, BE_STATE_UNINITIALIZED);
	if (srv_auth_init() == -1)
		fatal("asprintf");
	srv_pool_init(conf.max_calls);
	gpr_set_log_function(srv_grpc_log);
	gpr_set_log_verbosity(
	    conf.verbose >= 2 ? GPR_LOG_SEVERITY_INFO : GPR_LOG_SEVERITY_ERROR);
	grpc_init();
	if (ops->init != NULL && ops->init() == -1) {
		log_warnx("backend initialisation failed");
		return 1;
	}
	if (srv_start(&conf, &addr) == -1)
		return 1;
	srv_wait_signal(&sigs);
	srv_stop(&conf, &sigs);
	if (ops->fini != NULL)
		ops->fini();
	grpc_shutdown();
	gate_destroy(&srv.gate);
	free(srv.auth);
	log_info("stopped");
	return 0;
}

void
be_set_parallel(int n)
{
	gate_set_parallel(&srv.gate, n);
}
