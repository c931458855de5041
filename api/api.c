/*
 * api_main: the api process (`localai -P api -R frontend`).
 *
 * The main thread owns the supervisor's control socket (proc.h): it
 * receives the configuration (and reloads), the router link, pings and
 * the shutdown order.  Everything else runs on the threads described in
 * api.h.  The configuration is published to those threads as reference-
 * counted snapshots (struct api_cfg): a request keeps the snapshot it
 * started with.
 *
 * Privileges: the api process parses everything that comes from the
 * network, so when started as root it switches to the `localai` user (and
 * group) before it serves, if that user exists; otherwise it says that it
 * keeps running as root.  It needs no privilege after start: the
 * listening socket is inherited, and the files it sends (model files,
 * gallery packages) must be readable by that user.
 */
#include <sys/random.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/api.h"
#include "proto/log.h"
#include "proto/proc.h"

#define API_USER "localai"
#define API_DRAIN_MS 3000 /* of the supervisor's 5 s */
#define API_ABORT_WAIT_MS 1000

static pthread_mutex_t api_cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct api_cfg *api_cfg_cur;
static int api_stopping; /* atomic */

uint64_t
api_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
api_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t x;
	size_t i;

	if (getrandom(buf, len, 0) == (ssize_t)len)
		return;
	x = api_now_us() ^ ((uint64_t)getpid() << 32);
	for (i = 0; i < len; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(x >> 56);
	}
}

int
api_shutting_down(void)
{
	return __atomic_load_n(&api_stopping, __ATOMIC_RELAXED);
}

/* A snapshot of what the supervisor sent; NULL when out of memory. */
static struct api_cfg *
api_cfg_build(void)
{
	const struct conf_models *m = proc_models();
	struct api_cfg *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->refs = 1;
	c->conf = *proc_conf();
	if (m->n > 0) {
		if ((c->models.models = calloc(m->n, sizeof(*m->models))) ==
		    NULL) {
			free(c);
			return NULL;
		}
		memcpy(c->models.models, m->models, m->n * sizeof(*m->models));
	}
	c->models.n = m->n;
	openai_limits_from_conf(&c->limits, &c->conf.frontend);
	return c;
}

static void
api_cfg_free(struct api_cfg *c)
{
	free(c->models.models);
	free(c);
}

struct api_cfg *
api_cfg_get(void)
{
	struct api_cfg *c;

	pthread_mutex_lock(&api_cfg_mu);
	c = api_cfg_cur;
	c->refs++;
	pthread_mutex_unlock(&api_cfg_mu);
	return c;
}

void
api_cfg_put(struct api_cfg *c)
{
	int refs;

	pthread_mutex_lock(&api_cfg_mu);
	refs = --c->refs;
	pthread_mutex_unlock(&api_cfg_mu);
	if (refs == 0)
		api_cfg_free(c);
}

const struct conf_model *
api_cfg_model(const struct api_cfg *c, const char *name)
{
	return conf_model_find(&c->models, name);
}

static void
api_cfg_publish(struct api_cfg *c)
{
	struct api_cfg *old;

	pthread_mutex_lock(&api_cfg_mu);
	old = api_cfg_cur;
	api_cfg_cur = c;
	pthread_mutex_unlock(&api_cfg_mu);
	if (old != NULL)
		api_cfg_put(old);
}

static void
api_warn_open(const struct api_cfg *c)
{
	if (c->conf.frontend.n_api_keys == 0)
		log_warnx("no API keys configured: /v1/* is open to anyone who "
		          "can reach %s",
		    c->conf.frontend.listen);
}

/* ---- supervisor handlers ------------------------------------------------- */

static void
api_on_peer(int fd, const struct msg_peer *peer, void *arg)
{
	if (peer->kind != PEER_ROUTER) {
		log_warnx("unexpected peer socket of kind %u", peer->kind);
		close(fd);
		return;
	}
	api_rlink_set_fd(fd);
}

static void
api_on_shutdown(void *arg)
{
	__atomic_store_n(&api_stopping, 1, __ATOMIC_RELAXED);
}

static void
api_on_reload(void *arg)
{
	struct api_cfg *c;

	if ((c = api_cfg_build()) == NULL) {
		log_warnx("reload: out of memory; keeping the configuration");
		return;
	}
	api_cfg_publish(c);
	log_info("configuration %u applied (%u models)", c->conf.generation,
	    c->models.n);
}

/*
 * Running as root: become the `localai` user when it exists.  0, or -1
 * when switching failed half-way (the process must not serve then).
 */
static int
api_drop_privileges(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(API_USER)) == NULL) {
		log_info("running as root: there is no \"%s\" user to switch "
		         "to",
		    API_USER);
		return 0;
	}
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_warn("cannot switch to user %s", API_USER);
		return -1;
	}
	if (setuid(0) != -1) {
		log_warnx("privileges could be regained after dropping them");
		return -1;
	}
	log_info("running as user %s (uid %u)", API_USER, (unsigned)pw->pw_uid);
	return 0;
}

/* ---- life cycle --------------------------------------------------------- */

static int
api_start(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		return -1;
	}
	if (bc_init() == -1) {
		log_warnx("cannot start the gRPC client");
		return -1;
	}
	if (api_rlink_init() == -1 || api_dp_init() == -1 ||
	    api_ops_start() == -1)
		return -1;
	return api_http_start(PROC_LISTEN_FD, api_cfg_cur);
}

static void
api_wait_idle(int ms)
{
	int i;

	for (i = 0; i < ms / 10 && api_dp_active() > 0; i++)
		usleep(10000);
}

/*
 * Finish: stop accepting, let requests in progress end for a while,
 * abort the rest, then stop the HTTP server once no connection is
 * suspended.  Libraries are shut down only when every request thread is
 * gone; otherwise exit() takes care of it.
 */
static void
api_stop(void)
{
	__atomic_store_n(&api_stopping, 1, __ATOMIC_RELAXED);
	api_http_quiesce();
	api_wait_idle(API_DRAIN_MS);
	if (api_dp_active() > 0) {
		log_info("aborting %d request(s) still in progress",
		    api_dp_active());
		api_dp_stop_all();
		api_wait_idle(API_ABORT_WAIT_MS);
	}
	api_http_stop();
	api_ops_stop();
	api_dp_stop();
	api_rlink_stop();
	if (api_dp_active() == 0) {
		bc_shutdown();
		curl_global_cleanup();
	}
}

static int
api_loop(void)
{
	struct pollfd pfd;

	while (!proc_shutting_down() && !api_shutting_down()) {
		pfd.fd = proc_fd();
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 1000) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return -1;
		}
		if ((pfd.revents & (POLLIN | POLLHUP)) && proc_dispatch() == -1)
			return -1;
	}
	return 0;
}

int
api_main(enum conf_role role)
{
	static const struct proc_handlers h = {
	    .peer_fd = api_on_peer,
	    .shutdown = api_on_shutdown,
	    .reload = api_on_reload,
	};
	int rc;

	if (proc_init("api") == -1)
		return 1;
	proc_set_handlers(&h);
	if ((api_cfg_cur = api_cfg_build()) == NULL) {
		log_warnx("out of memory");
		return 1;
	}
	if (api_drop_privileges() == -1)
		return 1;
	api_warn_open(api_cfg_cur);
	if (api_start() == -1)
		return 1;
	if (proc_ready() == -1)
		return 1;
	rc = api_loop();
	api_stop();
	/* Read what the supervisor sent meanwhile (its shutdown message):
	 * closing a socket with unread data resets the connection. */
	if (rc == 0)
		(void)proc_dispatch();
	return rc == -1 ? 1 : 0;
}
