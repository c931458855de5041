/*
 * Replicas on a worker: starting a backend process for a model, loading
 * the model into it, reloading after a crash, stopping it.
 *
 * backend.install (LocalAI's payload {backend, model_id}) starts the
 * process and answers once gRPC Health answers.  Our frontend adds the
 * model's files ({name, size, sha256}) and its load options (ModelOptions
 * as JSON by proto field name): the agent then fetches the files, calls
 * LoadModel itself with worker-local paths and answers once the model is
 * loaded; it keeps the options to load again after a crash.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/fetch.h"
#include "agent/install.h"
#include "agent/pbjson.h"
#include "agent/util.h"
#include "agent/wgrpc.h"
#include "agent/wmetrics.h"
#include "agent/worker.h"
#include "proto/event_catalog.h"
#include "proto/log.h"

#define LOAD_TIMEOUT_MS (10 * 60 * 1000)
/* Stop to BE_STOPPED: the supervisor kills a process 5 s after SIGTERM. */
#define STOP_TIMEOUT_MS 15000

static json_t *
fail(const char *fmt, const char *a)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, a);
	return json_pack("{s:b,s:s}", "success", 0, "error", msg);
}

static const char *
serve_host(void)
{
	static char host[128];
	const char *a = wk_conf()->worker.serve_addr;
	const char *colon = strrchr(a, ':');
	size_t n = colon ? (size_t)(colon - a) : 0;

	snprintf(host, sizeof(host), "%.*s", (int)n, a);
	return host[0] ? host : "0.0.0.0";
}

static unsigned
base_port(void)
{
	const char *a = wk_conf()->worker.serve_addr;
	const char *colon = strrchr(a, ':');

	return colon ? (unsigned)atoi(colon + 1) : 50051;
}

/*
 * Is TCP port p free to bind on the serve host right now?  SO_REUSEADDR,
 * as the backend's gRPC server sets it: connections of a stopped process
 * left in TIME_WAIT do not hold its port, a listening socket does.
 */
static int
port_free(uint16_t p)
{
	struct sockaddr_in sa = {0};
	int fd, ok, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		close(fd);
		return 0;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons(p);
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Does something accept connections on 127.0.0.1:p yet?  A plain connect
 * over loopback answers at once; probing with it until the backend
 * listens spares the gRPC channel a refused first attempt, after which it
 * would wait out its reconnect backoff (100 ms) before the Health call.
 */
static int
port_listening(uint16_t p)
{
	struct sockaddr_in sa = {0};
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 1; /* let the Health call find out */
	sa.sin_family = AF_INET;
	sa.sin_port = htons(p);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	     errno != ECONNREFUSED;
	close(fd);
	return ok;
}

/*
 * The lowest port of the range that no replica holds and that nothing
 * else has bound; a port a stopped replica freed is reused.  Caller holds
 * wk_lock.
 */
uint16_t
wk_port_alloc(void)
{
	unsigned base = base_port(), n = wk_conf()->worker.port_count, i;
	struct wk_replica *r;

	for (i = 0; i < n && base + i < 65536; i++) {
		uint16_t p = (uint16_t)(base + i);

		for (r = wk_replicas; r != NULL; r = r->next)
			if (r->port == p)
				break;
		if (r == NULL && port_free(p))
			return p;
	}
	return 0;
}

static void
loopback_addr(const struct wk_replica *r, char *out, size_t len)
{
	snprintf(out, len, "127.0.0.1:%u", r->port);
}

/* Advertised address: advertise_addr's host (or serve host) + our port. */
static void
advertised(struct wk_replica *r)
{
	const char *a = wk_conf()->worker.advertise_addr;
	const char *colon;
	char host[128];

	if (a[0] == '\0')
		a = wk_conf()->worker.serve_addr;
	colon = strrchr(a, ':');
	snprintf(host, sizeof(host), "%.*s",
	    colon ? (int)(colon - a) : (int)strlen(a), a);
	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	snprintf(r->address, sizeof(r->address), "%s:%u", host, r->port);
}

static void
set_state(struct wk_replica *r, enum wk_rstate s, const char *err)
{
	r->state = s;
	if (err != NULL)
		snprintf(r->error, sizeof(r->error), "%s", err);
	else if (s != WR_FAILED)
		r->error[0] = '\0';
	pthread_cond_broadcast(&wk_cond);
	wk_publish_replica(r);
}

/* "30 s", or "1500 ms" when not whole seconds. */
static void
fmt_ms(char *buf, size_t len, uint32_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%u s", ms / 1000);
	else
		snprintf(buf, len, "%u ms", ms);
}

/*
 * Wait (wk_lock held) until replica id's process answers Health, it dies,
 * the replica is being stopped, or worker.ready_timeout passes (the
 * caller then stops the process).  The lock is let
 * go meanwhile, so the replica is looked up again each time (a stopped
 * one leaves the table).  Returns it when healthy, else NULL with err.
 */
static struct wk_replica *
wait_healthy(const char *id, uint32_t gen, char *err, size_t errlen)
{
	uint32_t limit = wk_conf()->worker.ready_timeout_ms;
	uint64_t deadline = now_ms() + limit;
	useconds_t probe_us = 2000; /* 2 ms doubling to 64 ms */
	struct wk_replica *r;
	struct timespec ts;
	char addr[64], dur[32];

	while (now_ms() < deadline) {
		if ((r = wk_replica_find(id)) == NULL ||
		    r->state == WR_STOPPING) {
			snprintf(err, errlen, "replica stopped while starting");
			return NULL;
		}
		if (r->generation != gen || r->phase == BE_FAILED ||
		    r->phase == BE_STOPPED) {
			snprintf(err, errlen,
			    "backend process exited before "
			    "it was ready");
			return NULL;
		}
		if (r->phase == BE_STARTING && !port_listening(r->port)) {
			pthread_mutex_unlock(&wk_lock);
			usleep(probe_us);
			if (probe_us < 50000)
				probe_us *= 2;
			pthread_mutex_lock(&wk_lock);
			continue;
		}
		if (r->phase == BE_STARTING) {
			loopback_addr(r, addr, sizeof(addr));
			pthread_mutex_unlock(&wk_lock);
			if (wk_grpc_health(addr, wk_node.backend_token, 500,
			        err, errlen) == 0) {
				pthread_mutex_lock(&wk_lock);
				if ((r = wk_replica_find(id)) != NULL &&
				    r->generation == gen &&
				    r->state != WR_STOPPING)
					return r;
				snprintf(err, errlen,
				    "backend process "
				    "restarted or stopped while starting");
				return NULL;
			}
			log_debug("%s: not ready yet: %s", addr, err);
			usleep(100 * 1000);
			pthread_mutex_lock(&wk_lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wk_cond, &wk_lock, &ts);
	}
	fmt_ms(dur, sizeof(dur), limit);
	snprintf(err, errlen,
	    "backend did not become ready (no gRPC Health answer) "
	    "within %s",
	    dur);
	return NULL;
}

struct progress_ctx {
	const char *id;
};

static void
fetch_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress_ctx *p = arg;
	struct wk_replica *r;

	pthread_mutex_lock(&wk_lock);
	if ((r = wk_replica_find(p->id)) != NULL && total > 0) {
		r->progress = (uint32_t)(done * 90 / total);
		wk_publish_replica(r);
	}
	pthread_mutex_unlock(&wk_lock);
}

/*
 * Fetch every file of the request; the first file is the model file and
 * becomes ModelFile in the options.  Returns 0, or -1 with err.
 */
static int
fetch_files(
    const char *id, json_t *files, json_t *opts, char *err, size_t errlen)
{
	const struct conf *c = wk_conf();
	struct progress_ctx pc = {id};
	char base[700], path[1024];
	json_t *f;
	size_t i;

	snprintf(base, sizeof(base), "%s/api/node/files", wk_frontend());
	json_array_foreach(files, i, f)
	{
		struct fetch_file ff = {
		    .model = id,
		    .name = json_string_value(json_object_get(f, "name")),
		    .size = (uint64_t)json_integer_value(
		        json_object_get(f, "size")),
		    .sha256 = json_string_value(json_object_get(f, "sha256")),
		};

		if (ff.name == NULL || ff.sha256 == NULL) {
			snprintf(err, errlen,
			    "file %zu: name and sha256 "
			    "are required",
			    i);
			return -1;
		}
		if (fetch_ensure(c->models_path, base, wk_node.token, &ff,
		        fetch_progress, &pc, path, sizeof(path), err,
		        errlen) == -1)
			return -1;
		if (i == 0 && opts != NULL)
			json_object_set_new(
			    opts, "ModelFile", json_string(path));
	}
	if (opts != NULL)
		json_object_set_new(
		    opts, "ModelPath", json_string(c->models_path));
	return 0;
}

/* LoadModel with the stored options (wk_lock not held). */
static int
load_model(const char *addr, json_t *opts, char *err, size_t errlen)
{
	Backend__ModelOptions *mo;
	int rc;

	mo = (Backend__ModelOptions *)pbjson_to_message(
	    &backend__model_options__descriptor, opts, err, errlen);
	if (mo == NULL)
		return -1;
	rc = wk_grpc_load(
	    addr, wk_node.backend_token, mo, LOAD_TIMEOUT_MS, err, errlen);
	protobuf_c_message_free_unpacked(&mo->base, NULL);
	return rc;
}

/* Start the process for a new replica (wk_lock held). */
static struct wk_replica *
start_replica(const char *id, const char *backend, const char *run, char *err,
    size_t errlen)
{
	struct wk_replica *r;
	uint16_t port;

	if ((port = wk_port_alloc()) == 0) {
		snprintf(err, errlen, "no free port in the backend port range");
		return NULL;
	}
	if ((r = wk_replica_new(id, backend)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->port = port;
	snprintf(r->run, sizeof(r->run), "%s", run);
	snprintf(r->bind, sizeof(r->bind), "%s:%u", serve_host(), port);
	advertised(r);
	r->state = WR_STARTING;
	if (wk_sup_start(r) == -1) {
		snprintf(err, errlen, "the supervisor refused to start it");
		wk_replica_free(r);
		return NULL;
	}
	return r;
}

/*
 * Wait (wk_lock held) until the replica entry numbered `serial` has left
 * the table: a stopped replica stays there, in WR_STOPPING, until the
 * supervisor reports its process gone (BE_STOPPED), so that neither its id
 * nor its port is reused while the old process still runs.  The entry,
 * not the id: a concurrent install may add a new entry for the same id,
 * which an unload that stopped the old one must not wait for.  0 when
 * gone, -1 at the deadline (ms, now_ms()).
 */
static int
wait_gone(uint64_t serial, uint64_t deadline)
{
	struct wk_replica *r;
	struct timespec ts;

	for (;;) {
		for (r = wk_replicas; r != NULL; r = r->next)
			if (r->serial == serial)
				break;
		if (r == NULL)
			return 0;
		if (now_ms() >= deadline)
			return -1;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wk_cond, &wk_lock, &ts);
	}
}

/* Mark a replica stopping and ask the supervisor to stop its process; the
 * entry goes when BE_STOPPED arrives (worker.c).  wk_lock held. */
static void
stop_locked(struct wk_replica *r)
{
	char addr[64];

	r->state = WR_STOPPING;
	pthread_cond_broadcast(&wk_cond);
	loopback_addr(r, addr, sizeof(addr));
	wk_grpc_forget(addr);
	(void)wk_sup_stop(r->id);
}

/* Wait for a replica another job is bringing up; its answer. */
static json_t *
join_pending(struct wk_replica *r, const char *id)
{
	uint64_t deadline = now_ms() + LOAD_TIMEOUT_MS;

	while ((r = wk_replica_find(id)) != NULL &&
	       (r->state == WR_STARTING || r->state == WR_LOADING) &&
	       now_ms() < deadline)
		pthread_cond_wait(&wk_cond, &wk_lock);
	if (r != NULL && r->state == WR_READY)
		return json_pack(
		    "{s:b,s:s}", "success", 1, "address", r->address);
	return fail("%s",
	    r != NULL && r->error[0] ? r->error : "load did not complete");
}

/* Bring replica `id` up: process, files, LoadModel.  wk_lock held on
 * entry and exit. */
static json_t *
bring_up(const char *id, const char *backend, const char *run, json_t *files,
    json_t *opts)
{
	char err[512], addr[64];
	struct wk_replica *r;
	uint32_t gen;

	if ((r = start_replica(id, backend, run, err, sizeof(err))) == NULL)
		return fail("%s", err);
	gen = r->generation;
	if ((r = wait_healthy(id, gen, err, sizeof(err))) == NULL)
		goto failed;
	loopback_addr(r, addr, sizeof(addr));
	if (files != NULL || opts != NULL) {
		set_state(r, WR_LOADING, NULL);
		pthread_mutex_unlock(&wk_lock);
		int rc =
		    files ? fetch_files(id, files, opts, err, sizeof(err)) : 0;
		if (rc == 0 && opts != NULL)
			rc = load_model(addr, opts, err, sizeof(err));
		pthread_mutex_lock(&wk_lock);
		if ((r = wk_replica_find(id)) == NULL ||
		    r->state == WR_STOPPING)
			return fail("%s", "replica stopped while loading");
		if (rc == -1)
			goto failed;
		if (opts != NULL)
			r->load = json_incref(opts);
	}
	r->progress = 100;
	set_state(r, WR_READY, NULL);
	return json_pack("{s:b,s:s}", "success", 1, "address", r->address);
failed:
	log_fields(3,
	    &(struct log_fields){.model = id, .event = "replica_failed"},
	    "replica %s failed to start: %s", id, err);
	if ((r = wk_replica_find(id)) != NULL && r->state != WR_STOPPING) {
		set_state(r, WR_FAILED, err);
		stop_locked(r);
	}
	return fail("%s", err);
}

/*
 * The replica of id, started unless one runs: a running (or starting)
 * replica answers (idempotent); a failed one is replaced and a stopping
 * one first goes.  Another install may start one while we wait, so the
 * wait is for that entry and the choice is made again.  *started: a new
 * replica was brought up.  wk_lock held.
 */
static json_t *
install_locked(const char *id, const char *backend, const char *run,
    json_t *files, json_t *o, int *started)
{
	uint64_t deadline = now_ms() + STOP_TIMEOUT_MS;
	struct wk_replica *r;

	for (;;) {
		if ((r = wk_replica_find(id)) == NULL) {
			*started = 1;
			return bring_up(id, backend, run, files, o);
		}
		if (r->state != WR_FAILED && r->state != WR_STOPPING)
			return join_pending(r, id);
		if (r->state == WR_FAILED)
			stop_locked(r);
		if (wait_gone(r->serial, deadline) == -1)
			return fail("the previous process of %s is still "
			            "stopping",
			    id);
	}
}

json_t *
wk_install(json_t *req)
{
	const struct conf *c = wk_conf();
	const char *backend, *id;
	json_t *files, *opts, *ans, *o = NULL;
	char run[600], err[512], gallery[700];
	uint64_t t0 = now_ms();
	int started = 0, fetched, rc;

	backend = json_string_value(json_object_get(req, "backend"));
	id = json_string_value(json_object_get(req, "model_id"));
	if (backend == NULL || *backend == '\0')
		return fail("%s", "missing field \"backend\"");
	if (!name_ok(backend))
		return fail("invalid backend name \"%s\"", backend);
	if (id == NULL || *id == '\0')
		id = backend;
	if (!name_ok(id))
		return fail("invalid model_id \"%s\"", id);
	files = json_object_get(req, "files");
	opts = json_object_get(req, "options");
	if ((files != NULL && !json_is_array(files)) ||
	    (opts != NULL && !json_is_object(opts)))
		return fail("%s", "\"files\" must be an array and \"options\" "
		                  "an object");
	if (wk_node.draining)
		return fail("%s", "node is draining");
	snprintf(gallery, sizeof(gallery), "%s",
	    c->worker.gallery_url[0] ? c->worker.gallery_url : "");
	if (gallery[0] == '\0')
		snprintf(
		    gallery, sizeof(gallery), "%s/api/gallery", wk_frontend());
	rc = install_ensure(c->backends_path, gallery, wk_node.token, backend,
	    run, sizeof(run), &fetched, err, sizeof(err));
	if (fetched != 0)
		wk_backend_event(fetched > 0 ? EVENT_BACKEND_INSTALLED
		                             : EVENT_BACKEND_INSTALL_FAILED,
		    backend, id, fetched > 0 ? "" : err);
	if (rc == -1)
		return fail("%s", err);
	if (opts != NULL)
		o = json_deep_copy(opts);
	pthread_mutex_lock(&wk_lock);
	ans = install_locked(id, backend, run, files, o, &started);
	/* The install histogram times new replicas that came up. */
	if (started && json_is_true(json_object_get(ans, "success")))
		wk_metrics_install((double)(now_ms() - t0) / 1000.0);
	pthread_mutex_unlock(&wk_lock);
	json_decref(o);
	return ans;
}

/*
 * Stop a replica: Free (best effort) when free_first, then ask the
 * supervisor to stop its process.  With `wait`, return once the process
 * is gone (bounded); the main thread passes 0, since it is the one that
 * hears the supervisor's answer.
 */
int
wk_stop_replica(
    const char *id, int free_first, int wait, char *err, size_t errlen)
{
	struct wk_replica *r;
	uint64_t serial;
	char addr[64];
	int rc = 0;

	pthread_mutex_lock(&wk_lock);
	if ((r = wk_replica_find(id)) == NULL) {
		pthread_mutex_unlock(&wk_lock);
		snprintf(err, errlen, "model %s is not loaded here", id);
		return -1;
	}
	/* The entry we stop; an install may add a new one for id meanwhile. */
	serial = r->serial;
	if (r->state != WR_STOPPING) {
		loopback_addr(r, addr, sizeof(addr));
		free_first = free_first && r->state == WR_READY;
		set_state(r, WR_STOPPING, NULL);
		pthread_mutex_unlock(&wk_lock);
		/* Free is best effort: the process is stopped either way. */
		if (free_first && wk_grpc_free(addr, wk_node.backend_token,
		                      5000, err, errlen) == -1)
			log_warnx("free %s: %s", id, err);
		wk_grpc_forget(addr);
		pthread_mutex_lock(&wk_lock);
		if (wk_sup_stop(id) == -1) {
			snprintf(err, errlen,
			    "the supervisor could not stop "
			    "%s",
			    id);
			rc = -1;
		}
	}
	if (rc == 0 && wait &&
	    wait_gone(serial, now_ms() + STOP_TIMEOUT_MS) == -1) {
		snprintf(err, errlen,
		    "%s: the process did not stop within "
		    "%d s",
		    id, STOP_TIMEOUT_MS / 1000);
		rc = -1;
	}
	pthread_mutex_unlock(&wk_lock);
	return rc;
}

struct reload {
	char id[128];
	uint32_t gen;
};

/* After the supervisor restarted a crashed process: Health, LoadModel. */
static void *
reload_main(void *arg)
{
	struct reload *rl = arg;
	struct wk_replica *r;
	char err[512], addr[64];
	json_t *opts = NULL;
	int rc = 0;

	pthread_mutex_lock(&wk_lock);
	/* The process may have died again before this thread ran: then the
	 * next spawn reloads, or the replica stays failed (crash loop). */
	if ((r = wk_replica_find(rl->id)) == NULL || r->generation != rl->gen ||
	    r->state == WR_STOPPING || r->phase != BE_STARTING)
		goto out;
	set_state(r, WR_LOADING, NULL);
	if ((r = wait_healthy(rl->id, rl->gen, err, sizeof(err))) == NULL)
		goto out; /* it died again: the next spawn retries */
	loopback_addr(r, addr, sizeof(addr));
	opts = r->load ? json_incref(r->load) : NULL;
	pthread_mutex_unlock(&wk_lock);
	if (opts != NULL)
		rc = load_model(addr, opts, err, sizeof(err));
	pthread_mutex_lock(&wk_lock);
	if ((r = wk_replica_find(rl->id)) == NULL || r->generation != rl->gen ||
	    r->state == WR_STOPPING)
		goto out;
	if (rc == 0) {
		log_fields(6,
		    &(struct log_fields){
		        .model = rl->id, .event = "replica_ready"},
		    "replica %s reloaded after a "
		    "restart",
		    rl->id);
		set_state(r, WR_READY, NULL);
	} else {
		set_state(r, WR_FAILED, err);
	}
out:
	pthread_mutex_unlock(&wk_lock);
	json_decref(opts);
	free(rl);
	return NULL;
}

void
wk_reload_async(const char *id, uint32_t generation)
{
	pthread_attr_t attr;
	struct reload *rl;
	pthread_t t;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return;
	snprintf(rl->id, sizeof(rl->id), "%s", id);
	rl->gen = generation;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, reload_main, rl) != 0) {
		log_warnx("cannot start a reload thread for %s", id);
		free(rl);
	}
	pthread_attr_destroy(&attr);
}
