/*
 * Worker registration, identity and heartbeats.
 *
 * Identity: <state_dir>/node.json (0600) keeps the node id, the node token
 * the frontend issued (we present it on every call to the frontend) and
 * the backend token we generated (the frontend presents it to our backends
 * and file endpoint).  Registration (POST /api/node/register, registration
 * token) retries with backoff 2 s doubling to 30 s with jitter until it
 * succeeds; a 401/403 is logged as a token problem and retried every 30 s.
 * Heartbeats go on NATS every heartbeat_interval (localai.heartbeat.<id>)
 * and over HTTP every 10 s, or every interval while NATS is down, so a
 * frontend never loses sight of a live node.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/bus.h"
#include "agent/hclient.h"
#include "agent/install.h"
#include "agent/sysinfo.h"
#include "agent/util.h"
#include "agent/worker.h"
#include "proto/log.h"

#define HTTP_HEARTBEAT_MS 10000

static pthread_t hb_thread;
static int reg_started;
static pthread_mutex_t hb_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hb_wake = PTHREAD_COND_INITIALIZER;
static volatile int reg_stop;
static uint64_t hb_seq;

const char *
wk_frontend(void)
{
	static char url[512];
	size_t n;

	snprintf(url, sizeof(url), "%s", wk_conf()->worker.register_to);
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	return url;
}

static void
identity_path(char *p, size_t len)
{
	snprintf(p, len, "%s/node.json", wk_conf()->state_dir);
}

/* Write node.json atomically with mode 0600 (it holds secrets). */
static int
identity_save(void)
{
	char path[512], tmp[600], *s;
	json_t *o;
	int fd, rc = -1;
	size_t n;

	identity_path(path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	o = json_pack("{s:s,s:s,s:s,s:s}", "id", wk_node.id, "token",
	    wk_node.token, "backend_token", wk_node.backend_token, "name",
	    wk_conf()->worker.node_name);
	s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (s == NULL)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1) {
		log_warn("%s", tmp);
		free(s);
		return -1;
	}
	n = strlen(s);
	if (write(fd, s, n) == (ssize_t)n && fsync(fd) == 0)
		rc = 0;
	close(fd);
	free(s);
	if (rc == 0 && rename(tmp, path) == -1) {
		log_warn("%s", path);
		rc = -1;
	}
	return rc;
}

int
wk_identity_load(void)
{
	char path[512];
	json_error_t je;
	json_t *o;
	const char *id, *tok, *btok;

	if (mkdir_p(wk_conf()->state_dir, 0700) == -1) {
		log_warn("%s", wk_conf()->state_dir);
		return -1;
	}
	identity_path(path, sizeof(path));
	if ((o = json_load_file(path, 0, &je)) != NULL) {
		id = json_string_value(json_object_get(o, "id"));
		tok = json_string_value(json_object_get(o, "token"));
		btok = json_string_value(json_object_get(o, "backend_token"));
		snprintf(wk_node.id, sizeof(wk_node.id), "%s", id ? id : "");
		snprintf(
		    wk_node.token, sizeof(wk_node.token), "%s", tok ? tok : "");
		snprintf(wk_node.backend_token, sizeof(wk_node.backend_token),
		    "%s", btok ? btok : "");
		json_decref(o);
	}
	if (wk_node.backend_token[0] == '\0') {
		if (random_hex(wk_node.backend_token, 32) == -1)
			return -1;
		return identity_save();
	}
	return 0;
}

/* host:port we advertise for our HTTP endpoint. */
static void
advertised_http(char *out, size_t len)
{
	const struct conf_worker *w = &wk_conf()->worker;

	snprintf(out, len, "%s",
	    w->advertise_http_addr[0] ? w->advertise_http_addr : w->http_addr);
}

static void
advertised_grpc(char *out, size_t len)
{
	const struct conf_worker *w = &wk_conf()->worker;

	snprintf(out, len, "%s",
	    w->advertise_addr[0] ? w->advertise_addr : w->serve_addr);
}

static json_t *
register_body(void)
{
	const struct conf *c = wk_conf();
	struct sysinfo_mem m;
	char grpc[160], http[160];
	json_t *labels = json_object(), *backends, *list, *b, *e;
	uint32_t i;
	size_t k;

	(void)sysinfo_read(&m, "/proc/meminfo");
	advertised_grpc(grpc, sizeof(grpc));
	advertised_http(http, sizeof(http));
	for (i = 0; i < c->worker.n_labels; i++)
		json_object_set_new(labels, c->worker.labels[i].key,
		    json_string(c->worker.labels[i].value));
	/* The installed backends, by name: the router's placement uses them. */
	list = install_list(c->backends_path, "");
	backends = json_array();
	json_array_foreach(list, k, e)
	    json_array_append(backends, json_object_get(e, "name"));
	json_decref(list);
	b = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:I,s:I,s:o,s:i,s:s,s:s,s:o}",
	    "name", c->worker.node_name, "address", grpc, "http_address", http,
	    "total_vram", (json_int_t)m.total_vram, "available_vram",
	    (json_int_t)m.available_vram, "gpu_vendor", m.gpu_vendor,
	    "total_ram", (json_int_t)m.total_ram, "available_ram",
	    (json_int_t)m.available_ram, "labels", labels, "max_concurrency",
	    (int)c->worker.max_concurrency, "node_type", "backend",
	    "backend_token", wk_node.backend_token, "backends", backends);
	return b;
}

/* One registration attempt: the HTTP status, or 0 when unreachable. */
static long
register_once(void)
{
	const struct conf *c = wk_conf();
	char url[600], *body;
	const char *id, *tok, *st;
	struct hresp r;
	json_error_t je;
	json_t *b, *ans;
	long status;

	snprintf(url, sizeof(url), "%s/api/node/register", wk_frontend());
	if ((b = register_body()) == NULL ||
	    (body = json_dumps(b, JSON_COMPACT)) == NULL) {
		json_decref(b);
		return 0;
	}
	json_decref(b);
	if (hclient_json("POST", url, c->frontend.registration_token, body,
	        10000, &r) == -1) {
		log_warnx("register with %s: %s", url, r.error);
		free(body);
		hresp_free(&r);
		return 0;
	}
	free(body);
	status = r.status;
	if (status == 200 || status == 201) {
		ans = json_loads(r.body, 0, &je);
		id = json_string_value(json_object_get(ans, "id"));
		tok = json_string_value(json_object_get(ans, "node_token"));
		st = json_string_value(json_object_get(ans, "status"));
		if (id == NULL || !name_ok(id) ||
		    strlen(id) >= sizeof(wk_node.id)) {
			log_warnx(
			    "register: the frontend's answer has no valid id");
			status = 0;
		} else {
			pthread_mutex_lock(&wk_lock);
			snprintf(wk_node.id, sizeof(wk_node.id), "%s", id);
			if (tok != NULL)
				snprintf(wk_node.token, sizeof(wk_node.token),
				    "%s", tok);
			snprintf(wk_node.status, sizeof(wk_node.status), "%s",
			    st ? st : "");
			wk_node.registered = 1;
			pthread_mutex_unlock(&wk_lock);
			(void)identity_save();
			log_setnode(id);
			log_info("registered with %s as %s (status %s)",
			    wk_frontend(), id, st ? st : "?");
		}
		json_decref(ans);
	} else {
		log_warnx(
		    "register with %s: HTTP %ld: %.200s", url, status, r.body);
	}
	hresp_free(&r);
	return status;
}

/* Sleep up to ms, waking early when stopping.  Returns 1 if stopping. */
static int
reg_sleep(uint64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&hb_mtx);
	if (!reg_stop)
		pthread_cond_timedwait(&hb_wake, &hb_mtx, &ts);
	pthread_mutex_unlock(&hb_mtx);
	return reg_stop;
}

/* Backoff 2 s doubling to 30 s, ±20 % jitter. */
static uint64_t
reg_backoff(int attempt)
{
	uint64_t ms = 2000;
	unsigned int r;

	while (attempt-- > 0 && ms < 30000)
		ms *= 2;
	if (ms > 30000)
		ms = 30000;
	r = (unsigned int)rand();
	return ms * 8 / 10 + (uint64_t)(r % (ms * 4 / 10 + 1));
}

static int
register_loop(void)
{
	int attempt = 0;
	long st;

	while (!reg_stop) {
		st = register_once();
		if (st == 200 || st == 201)
			return 0;
		if (st == 401 || st == 403) {
			log_warnx("registration refused (HTTP %ld): check "
			          "registration_token; retrying in 30 s",
			    st);
			if (reg_sleep(30000))
				break;
			continue;
		}
		if (reg_sleep(reg_backoff(attempt++)))
			break;
	}
	return -1;
}

static json_t *
heartbeat_body(void)
{
	struct sysinfo_mem m;
	struct wk_replica *r;
	json_t *reps = json_array(), *b;
	struct timespec ts;

	(void)sysinfo_read(&m, "/proc/meminfo");
	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&wk_lock);
	for (r = wk_replicas; r != NULL; r = r->next)
		json_array_append_new(reps,
		    json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:s}", "model",
		        r->id, "backend", r->backend, "address", r->address,
		        "state", wk_state_name(r->state), "in_flight",
		        (int)r->in_flight, "restarts", (int)r->restarts,
		        "progress", (int)r->progress, "error", r->error));
	b = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:o}", "node_id",
	    wk_node.id, "seq", (json_int_t)++hb_seq, "ts_ms",
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    "available_ram", (json_int_t)m.available_ram, "available_vram",
	    (json_int_t)m.available_vram, "total_ram", (json_int_t)m.total_ram,
	    "total_vram", (json_int_t)m.total_vram, "draining",
	    wk_node.draining, "replicas", reps);
	pthread_mutex_unlock(&wk_lock);
	return b;
}

/* HTTP heartbeat; a 404 (node removed) or 401 (token revoked) means we
 * must register again.  Returns 1 then, else 0. */
static int
heartbeat_http(const char *body)
{
	char url[700];
	struct hresp r;
	int again = 0;

	snprintf(url, sizeof(url), "%s/api/node/%s/heartbeat", wk_frontend(),
	    wk_node.id);
	if (hclient_json("POST", url, wk_node.token, body, 5000, &r) == -1)
		log_debug("heartbeat: %s", r.error);
	else if (r.status == 404 || r.status == 401 || r.status == 403) {
		log_warnx("heartbeat refused (HTTP %ld): registering again",
		    r.status);
		again = 1;
	}
	hresp_free(&r);
	return again;
}

static void *
heartbeat_main(void *arg)
{
	const struct conf *c = wk_conf();
	uint64_t last_http = 0, t;
	char subj[128], tok[80], *s;
	json_t *b;

	while (!reg_stop) {
		if (!wk_node.registered && register_loop() == -1)
			break;
		if (wk_node.registered)
			(void)wk_cmd_subscribe();
		b = heartbeat_body();
		s = b ? json_dumps(b, JSON_COMPACT) : NULL;
		json_decref(b);
		if (s != NULL) {
			bus_token(tok, sizeof(tok), wk_node.id);
			snprintf(
			    subj, sizeof(subj), "localai.heartbeat.%s", tok);
			(void)bus_publish(wk_bus, subj, s, strlen(s));
			t = now_ms();
			if (!bus_connected(wk_bus) ||
			    t - last_http >= HTTP_HEARTBEAT_MS) {
				last_http = t;
				if (heartbeat_http(s))
					wk_node.registered = 0;
			}
			free(s);
		}
		if (reg_sleep(c->worker.heartbeat_interval_ms))
			break;
	}
	return NULL;
}

void
wk_register_start(void)
{
	struct timespec ts;

	/*
	 * Heartbeat sequence numbers start at the wall clock in ms and count
	 * up by one per beat (at most ten a second), so a restarted agent
	 * continues above its predecessor: a frontend drops a heartbeat whose
	 * number is below the last one it saw, as a reordered one.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	hb_seq = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	reg_stop = 0;
	if (pthread_create(&hb_thread, NULL, heartbeat_main, NULL) != 0)
		fatalx("cannot start the heartbeat thread");
	reg_started = 1;
}

void
wk_register_stop(void)
{
	if (!reg_started)
		return;
	pthread_mutex_lock(&hb_mtx);
	reg_stop = 1;
	pthread_cond_broadcast(&hb_wake);
	pthread_mutex_unlock(&hb_mtx);
	pthread_join(hb_thread, NULL);
	reg_started = 0;
}

/* Sum of in_flight over GET /api/node/<id>/models, or -1. */
static int
node_in_flight(void)
{
	char url[700];
	struct hresp r;
	json_error_t je;
	json_t *ans, *e, *list;
	size_t i;
	int sum = -1;

	snprintf(url, sizeof(url), "%s/api/node/%s/models", wk_frontend(),
	    wk_node.id);
	if (hclient_json("GET", url, wk_node.token, NULL, 3000, &r) == 0 &&
	    r.status == 200 && (ans = json_loads(r.body, 0, &je)) != NULL) {
		list =
		    json_is_array(ans) ? ans : json_object_get(ans, "models");
		sum = 0;
		json_array_foreach(list, i, e) sum +=
		    (int)json_integer_value(json_object_get(e, "in_flight"));
		json_decref(ans);
	}
	hresp_free(&r);
	return sum;
}

static int
node_post(const char *verb)
{
	char url[700];
	struct hresp r;
	int rc;

	snprintf(url, sizeof(url), "%s/api/node/%s/%s", wk_frontend(),
	    wk_node.id, verb);
	rc = hclient_json("POST", url, wk_node.token, "{}", 5000, &r) == 0 &&
	             r.status >= 200 && r.status < 300
	         ? 0
	         : -1;
	if (rc == -1)
		log_warnx("%s: %s", verb, r.status ? r.body : r.error);
	hresp_free(&r);
	return rc;
}

/*
 * Requests in flight on this node's backends, as their Status last said
 * (agent/wpoll.c, at most one heartbeat interval old).  Unlike the
 * frontend's count it covers every frontend and needs none to answer.
 */
static int
local_in_flight(void)
{
	struct wk_replica *r;
	int n = 0;

	pthread_mutex_lock(&wk_lock);
	for (r = wk_replicas; r != NULL; r = r->next)
		n += (int)r->in_flight;
	pthread_mutex_unlock(&wk_lock);
	return n;
}

/*
 * In flight by the frontend's count (when it took our drain) or our
 * backends', whichever is more.
 */
static int
drain_in_flight(int ask_frontend)
{
	int fe = ask_frontend ? node_in_flight() : 0;
	int local = local_in_flight();

	return fe > local ? fe : local;
}

/*
 * LocalAI's shutdown sequence, first half: drain (no new work), then wait
 * until no request is in flight (bounded by drain_timeout) -- by the
 * frontend's count and by our backends' own, so that requests of other
 * frontends count and a frontend that does not answer does not cut the
 * wait short.  Heartbeats go on meanwhile: the node is alive.
 */
void
wk_drain(void)
{
	uint64_t deadline = now_ms() + wk_conf()->worker.drain_timeout_ms;
	int n, fe_ok;

	if (!wk_node.registered)
		return;
	wk_node.draining = 1;
	if (!(fe_ok = node_post("drain") == 0))
		log_warnx("drain: the frontend did not take it; waiting for "
		          "our backends' requests only");
	if ((n = drain_in_flight(fe_ok)) > 0)
		log_info("draining: waiting for %d request(s) in flight", n);
	while (n > 0 && now_ms() < deadline) {
		usleep(200 * 1000);
		n = drain_in_flight(fe_ok);
	}
	if (n > 0)
		log_warnx("drain: %d request(s) still in flight after %u ms", n,
		    wk_conf()->worker.drain_timeout_ms);
}

/*
 * Second half, once the heartbeat thread has stopped (a heartbeat after
 * it would bring the node back online): deregister, so the node goes
 * offline and its replicas leave routing.
 */
int
wk_deregister(void)
{
	if (!wk_node.registered)
		return 0;
	if (node_post("deregister") == -1)
		return -1;
	log_info("deregistered from %s", wk_frontend());
	return 0;
}
