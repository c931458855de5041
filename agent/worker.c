/*
 * The worker agent process: state, the replica table, the supervisor
 * channel and the main loop.  See worker.h for the threads and locking.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/bus.h"
#include "agent/hclient.h"
#include "agent/util.h"
#include "agent/wmetrics.h"
#include "agent/worker.h"
#include "proto/event_catalog.h"
#include "backends/common/bclient.h"
#include "proto/log.h"
#include "proto/msgbuf.h"
#include "proto/proc.h"

pthread_mutex_t wk_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t wk_cond = PTHREAD_COND_INITIALIZER;
struct wk_node wk_node;
struct wk_replica *wk_replicas;
struct bus *wk_bus;
volatile int wk_stopping;

static struct conf wk_cf;
static int wk_wake[2] = {-1, -1}; /* other threads wake the loop */
/* Writes to the supervisor come from job threads and the main thread. */
static pthread_mutex_t wk_sup_lock = PTHREAD_MUTEX_INITIALIZER;

const struct conf *
wk_conf(void)
{
	return &wk_cf;
}

const char *
wk_state_name(enum wk_rstate s)
{
	static const char *names[] = {
	    "starting", "loading", "ready", "failed", "stopping"};

	return (unsigned)s < 5 ? names[s] : "unknown";
}

struct wk_replica *
wk_replica_find(const char *id)
{
	struct wk_replica *r;

	for (r = wk_replicas; r != NULL; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

struct wk_replica *
wk_replica_new(const char *id, const char *backend)
{
	static uint64_t serial;
	struct wk_replica *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->serial = ++serial;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->backend, sizeof(r->backend), "%s", backend);
	r->next = wk_replicas;
	wk_replicas = r;
	return r;
}

void
wk_replica_free(struct wk_replica *x)
{
	struct wk_replica **pp;

	for (pp = &wk_replicas; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	json_decref(x->load);
	free(x);
}

/*
 * Messages to the supervisor are queued by any thread and sent by the
 * main loop: proc.h's channel is not thread-safe, and the sender may hold
 * wk_lock, which must never wait on a socket.
 */
struct supq {
	uint32_t type;
	union {
		struct msg_be_start start;
		struct msg_be_id stop;
	} u;
	size_t len;
	struct supq *next;
};

static struct supq *supq_head, **supq_tail = &supq_head;

static int
wk_sup_queue(uint32_t type, const void *data, size_t len)
{
	struct supq *q;
	char c = 'q';

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	q->type = type;
	memcpy(&q->u, data, len);
	q->len = len;
	pthread_mutex_lock(&wk_sup_lock);
	*supq_tail = q;
	supq_tail = &q->next;
	pthread_mutex_unlock(&wk_sup_lock);
	if (write(wk_wake[1], &c, 1) == -1 && errno != EAGAIN)
		log_warn("wake");
	return 0;
}

/* Main loop: send what other threads queued. */
static int
wk_sup_flush(void)
{
	struct supq *q, *list;
	int rc = 0;

	pthread_mutex_lock(&wk_sup_lock);
	list = supq_head;
	supq_head = NULL;
	supq_tail = &supq_head;
	pthread_mutex_unlock(&wk_sup_lock);
	while ((q = list) != NULL) {
		list = q->next;
		if (rc == 0 && proc_send(q->type, 0, -1, &q->u, q->len) == -1)
			rc = -1;
		free(q);
	}
	return rc;
}

int
wk_sup_start(struct wk_replica *r)
{
	struct msg_be_start m = {0};

	snprintf(m.id, sizeof(m.id), "%s", r->id);
	snprintf(m.backend, sizeof(m.backend), "%s", r->backend);
	snprintf(m.run_path, sizeof(m.run_path), "%s", r->run);
	snprintf(m.addr, sizeof(m.addr), "%s", r->bind);
	snprintf(m.token, sizeof(m.token), "%s", wk_node.backend_token);
	snprintf(m.workdir, sizeof(m.workdir), "%s", wk_cf.models_path);
	return wk_sup_queue(MSG_BE_START, &m, sizeof(m));
}

int
wk_sup_stop(const char *id)
{
	struct msg_be_id m = {0};

	snprintf(m.id, sizeof(m.id), "%s", id);
	return wk_sup_queue(MSG_BE_STOP, &m, sizeof(m));
}

void
wk_publish_replica(const struct wk_replica *r)
{
	char tok[80], *s;
	json_t *o;

	if (wk_bus == NULL || wk_node.id[0] == '\0')
		return;
	bus_token(tok, sizeof(tok), wk_node.id);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s}", "node_id",
	    wk_node.id, "model", r->id, "backend", r->backend, "address",
	    r->address, "state", wk_state_name(r->state), "progress",
	    (int)r->progress, "restarts", (int)r->restarts, "error", r->error,
	    "event", r->event ? r->event : "");
	if (o != NULL && (s = json_dumps(o, JSON_COMPACT)) != NULL) {
		(void)bus_publish(
		    wk_bus, "localai.events.replica", s, strlen(s));
		free(s);
	}
	json_decref(o);
}

/*
 * A backend package was installed from the gallery, or could not be: a
 * journal record here, and an event the frontends' health leader records
 * in the events table (localai.events.replica, like crashes).
 */
void
wk_backend_event(const char *event, const char *backend, const char *model,
    const char *error)
{
	char *s;
	json_t *o;

	log_fields(error[0] ? 4 : 6,
	    &(struct log_fields){
	        .node_id = wk_node.id, .model = model, .event = event},
	    "backend %s: %s%s%s", backend, event, error[0] ? ": " : "", error);
	if (wk_bus == NULL || wk_node.id[0] == '\0')
		return;
	o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "node_id", wk_node.id, "event",
	    event, "backend", backend, "model", model, "error", error);
	if (o != NULL && (s = json_dumps(o, JSON_COMPACT)) != NULL) {
		(void)bus_publish(
		    wk_bus, "localai.events.replica", s, strlen(s));
		free(s);
	}
	json_decref(o);
}

/* Tell the frontends a replica we do not track is going away. */
void
wk_publish_gone(const char *id)
{
	struct wk_replica r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	r.state = WR_STOPPING;
	wk_publish_replica(&r);
}

/*
 * nodes.<id>.stop: the whole worker stops, as on SIGTERM.  The agent only
 * asks its supervisor (our parent): an agent that exited on its own would
 * just be restarted, and the supervisor owns the backends and the order
 * in which everything stops (this agent drains first).
 */
void
wk_stop_worker(const char *why)
{
	pid_t sup = getppid();

	log_info("stopping the worker: %s", why);
	if (sup > 1 && kill(sup, SIGTERM) == 0)
		return;
	log_warn("cannot signal the supervisor (pid %d)", (int)sup);
	wk_shutdown(why);
}

void
wk_shutdown(const char *why)
{
	char c = 's';

	log_info("shutting down: %s", why);
	wk_stopping = 1;
	if (write(wk_wake[1], &c, 1) == -1 && errno != EAGAIN)
		log_warn("wake");
}

/*
 * A backend process changed state in the supervisor.  A respawn after a
 * crash means the model must be loaded again; a crash loop means the
 * replica failed (the supervisor retries it every 300 s).
 */
static void
wk_be_state(const struct msg_be_state *st)
{
	struct wk_replica *r;
	uint32_t gen = 0;
	int reload = 0, was;

	pthread_mutex_lock(&wk_lock);
	if ((r = wk_replica_find(st->id)) == NULL) {
		pthread_mutex_unlock(&wk_lock);
		/* A process no replica of ours owns: the supervisor's
		 * snapshot after this agent restarted.  We know neither its
		 * port nor its load options, so it is stopped; the frontend
		 * loads the model again where it wants it. */
		if (st->phase != BE_STOPPED) {
			log_info("stopping backend %s left by a previous agent",
			    st->id);
			(void)wk_sup_stop(st->id);
			wk_publish_gone(st->id);
		}
		return;
	}
	was = r->phase;
	if (st->restarts > r->restarts)
		wk_metrics_restarts(
		    r->id, r->backend, st->restarts - r->restarts);
	if (st->phase == BE_FAILED && was != BE_FAILED)
		wk_metrics_crash_loop(r->id, r->backend);
	r->phase = st->phase;
	r->pid = st->pid;
	r->restarts = st->restarts;
	switch (st->phase) {
	case BE_STARTING:
		/* A respawn after a crash: the model must be loaded again
		 * (the first spawn is the install job's to follow). */
		if (r->restarts > 0 && r->state != WR_STOPPING) {
			gen = ++r->generation;
			reload = 1;
		}
		break;
	case BE_EXITED:
	case BE_BACKOFF:
		if (r->state == WR_READY || r->state == WR_LOADING) {
			r->state = WR_STARTING;
			snprintf(r->error, sizeof(r->error),
			    "backend exited "
			    "(status %d, signal %d); restarting",
			    st->exit_status, st->signal);
			log_fields(4,
			    &(struct log_fields){
			        .model = r->id, .event = EVENT_REPLICA_CRASHED},
			    "%s", r->error);
			r->event = EVENT_REPLICA_CRASHED;
			wk_publish_replica(r);
			r->event = NULL;
		}
		break;
	case BE_FAILED:
		if (r->state != WR_STOPPING) {
			r->state = WR_FAILED;
			snprintf(r->error, sizeof(r->error),
			    "backend crash loop "
			    "(%u restarts); retrying in %u s",
			    r->restarts, st->next_retry_ms / 1000);
			log_fields(3,
			    &(struct log_fields){.model = r->id,
			        .event = EVENT_REPLICA_CRASH_LOOP},
			    "%s", r->error);
			r->event = EVENT_REPLICA_CRASH_LOOP;
			wk_publish_replica(r);
			r->event = NULL;
		}
		break;
	case BE_STOPPED:
		/* The process is gone for good: a replica being stopped
		 * leaves the table now (its id and port become free); any
		 * other one failed. */
		if (r->state == WR_STOPPING) {
			wk_replica_free(r);
		} else if (r->state != WR_FAILED) {
			r->state = WR_FAILED;
			snprintf(r->error, sizeof(r->error),
			    "backend process "
			    "stopped by the supervisor");
			wk_publish_replica(r);
		}
		break;
	default:
		break;
	}
	pthread_cond_broadcast(&wk_cond);
	pthread_mutex_unlock(&wk_lock);
	if (reload)
		wk_reload_async(st->id, gen);
}

/* Messages from the supervisor other than the control ones proc handles. */
static int
wk_sup_msg(struct msg *m, void *arg)
{
	struct msg_be_state st;

	switch (m->hdr.type) {
	case MSG_BE_STATE:
		if (msg_check_len(m, sizeof(st)) == -1)
			fatalx("bad MSG_BE_STATE");
		memcpy(&st, m->data, sizeof(st));
		MSG_TERMINATE(st.id);
		wk_be_state(&st);
		break;
	default:
		return -1;
	}
	return 0;
}

static void
wk_sup_shutdown(void *arg)
{
	wk_stopping = 1;
}

static void
wk_on_bus(void *arg, const char *subject, const char *reply, const char *data,
    size_t len)
{
	wk_cmd_dispatch(subject, reply, data, len);
}

static void
wk_on_bus_state(void *arg, int connected, const char *server)
{
}

/*
 * Stop every replica (Free, then stop) at shutdown, and wait, bounded,
 * until the supervisor reports each process gone.  This runs on the main
 * thread, which is the one that reads the supervisor's answers, so it
 * pumps the channel itself.
 */
static void
wk_stop_all(void)
{
	char ids[64][128], err[256];
	uint64_t deadline = now_ms() + 10000;
	struct wk_replica *r;
	struct pollfd pfd;
	int i, n;

	do {
		n = 0;
		pthread_mutex_lock(&wk_lock);
		for (r = wk_replicas; r != NULL && n < 64; r = r->next)
			if (r->state != WR_STOPPING)
				snprintf(ids[n++], sizeof(ids[0]), "%s", r->id);
		pthread_mutex_unlock(&wk_lock);
		for (i = 0; i < n; i++)
			(void)wk_stop_replica(ids[i], 1, 0, err, sizeof(err));
	} while (n == 64);
	for (;;) {
		if (wk_sup_flush() == -1)
			return;
		pthread_mutex_lock(&wk_lock);
		n = wk_replicas != NULL;
		pthread_mutex_unlock(&wk_lock);
		if (!n || now_ms() >= deadline)
			break;
		pfd.fd = proc_fd();
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 200) == -1 && errno != EINTR)
			return;
		if ((pfd.revents & (POLLIN | POLLHUP)) && proc_dispatch() == -1)
			return;
	}
	if (n)
		log_warnx("shutdown: some backend processes did not stop in "
		          "time; the supervisor stops them");
}

static void
wk_drain_wake(void)
{
	char buf[64];

	while (read(wk_wake[0], buf, sizeof(buf)) > 0)
		;
}

int
worker_agent_main(void)
{
	static const struct bus_handlers h = {wk_on_bus, wk_on_bus_state};
	static const struct proc_handlers ph = {
	    .shutdown = wk_sup_shutdown, .message = wk_sup_msg};
	struct pollfd pfd[2];
	uint64_t last_expire = 0, expire_every;
	char name[300];

	wk_cf = *proc_conf();
	/* Per-request files are swept at half their lifetime (1 s to 1 min),
	 * so none outlives file_ttl by more than half of it. */
	expire_every = wk_cf.worker.file_ttl_ms / 2;
	if (expire_every < 1000)
		expire_every = 1000;
	if (expire_every > 60000)
		expire_every = 60000;
	proc_set_handlers(&ph);
	if (pipe2(wk_wake, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe2");
	if (hclient_init() == -1 || bc_init() == -1 ||
	    wk_metrics_init() == -1 || wk_identity_load() == -1)
		fatalx("cannot initialise the worker state in %s",
		    wk_cf.state_dir);
	/* Backend processes run in models_path; installs go to backends_path. */
	if (mkdir_p(wk_cf.models_path, 0755) == -1 ||
	    mkdir_p(wk_cf.backends_path, 0755) == -1)
		fatal("%s or %s", wk_cf.models_path, wk_cf.backends_path);
	if (wk_http_start() == -1)
		return 75; /* the port is taken: retry later */
	snprintf(
	    name, sizeof(name), "localai-worker-%s", wk_cf.worker.node_name);
	if ((wk_bus = bus_open(wk_cf.nats_url, name, &h, NULL)) == NULL)
		fatalx("bad NATS url %s", wk_cf.nats_url);
	wk_register_start();
	wk_poll_start();
	if (proc_ready() == -1)
		return 1;
	while (!wk_stopping && !proc_shutting_down()) {
		pfd[0].fd = proc_fd();
		pfd[0].events = POLLIN;
		pfd[1].fd = wk_wake[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 1000) == -1 && errno != EINTR)
			fatal("poll");
		if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
		    proc_dispatch() == -1)
			return 1;
		if (pfd[1].revents & POLLIN)
			wk_drain_wake();
		if (wk_sup_flush() == -1)
			return 1;
		if (now_ms() - last_expire >= expire_every) {
			last_expire = now_ms();
			wk_files_expire();
		}
	}
	/* Graceful: drain, wait for in-flight work, deregister, stop all. */
	wk_drain();
	wk_register_stop();
	wk_poll_stop();
	(void)wk_deregister();
	wk_stop_all();
	(void)wk_sup_flush();
	wk_http_stop();
	/* Only disconnected, not freed: a job thread still finishing (an
	 * install that outlived the drain) may publish; it then fails. */
	bus_disconnect(wk_bus);
	bc_shutdown();
	wk_metrics_free();
	(void)proc_dispatch(); /* the shutdown message, if unread */
	return 0;
}
