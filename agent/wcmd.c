/*
 * The worker's NATS commands, subjects and payloads as LocalAI's
 * (reference: nodes.<id>.backend.install|list|stop|delete,
 * nodes.<id>.model.unload|delete, nodes.<id>.stop).  Every request is
 * answered; a bad payload gets {"success":false,"error":…} and changes
 * nothing.  Work that can take long (install, unload) runs on a job thread
 * so nats.c's shared delivery thread is never blocked.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/bus.h"
#include "agent/fetch.h"
#include "agent/install.h"
#include "agent/util.h"
#include "agent/worker.h"
#include "proto/log.h"

struct job {
	char verb[32];
	char *reply;
	json_t *req;
};

static void
cmd_reply(const char *reply, json_t *ans)
{
	char *s;

	if (reply != NULL && *reply != '\0' &&
	    (s = json_dumps(ans, JSON_COMPACT)) != NULL) {
		(void)bus_publish(wk_bus, reply, s, strlen(s));
		free(s);
	}
	json_decref(ans);
}

static json_t *
cmd_fail(const char *fmt, const char *arg)
{
	char msg[512];

	snprintf(msg, sizeof(msg), fmt, arg);
	return json_pack("{s:b,s:s}", "success", 0, "error", msg);
}

static json_t *
cmd_ok(void)
{
	return json_pack("{s:b}", "success", 1);
}

/* A string member that must be a safe name; NULL after setting *err. */
static const char *
cmd_name(json_t *req, const char *key, int required, json_t **err)
{
	json_t *v = json_object_get(req, key);
	const char *s;

	if (v == NULL || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0)) {
		if (required)
			*err = cmd_fail("missing field \"%s\"", key);
		return required ? NULL : "";
	}
	if ((s = json_string_value(v)) == NULL) {
		*err = cmd_fail("field \"%s\" must be a string", key);
		return NULL;
	}
	if (!name_ok(s)) {
		*err = cmd_fail("invalid name \"%s\"", s);
		return NULL;
	}
	return s;
}

static json_t *
cmd_backend_list(json_t *req)
{
	const struct conf *c = wk_conf();
	json_t *ans = json_object();

	json_object_set_new(ans, "backends",
	    install_list(c->backends_path, c->worker.gallery_url));
	json_object_set_new(ans, "error", json_string(""));
	return ans;
}

/*
 * backend.stop / backend.delete: the replica `name`, or every replica
 * whose backend is `name`, or (name empty) all of them.  model.unload
 * (by_backend 0): the replica of model `name` only -- a model may share
 * its name with a backend that serves other models.
 */
static json_t *
cmd_stop_matching(const char *name, int by_backend)
{
	char ids[64][128], err[256];
	struct wk_replica *r;
	int i, n = 0, failed = 0;

	pthread_mutex_lock(&wk_lock);
	for (r = wk_replicas; r != NULL && n < 64; r = r->next)
		if ((by_backend && *name == '\0') || strcmp(r->id, name) == 0 ||
		    (by_backend && strcmp(r->backend, name) == 0))
			snprintf(ids[n++], sizeof(ids[0]), "%s", r->id);
	pthread_mutex_unlock(&wk_lock);
	if (n == 0 && *name != '\0')
		return cmd_fail("nothing running for \"%s\"", name);
	for (i = 0; i < n; i++)
		if (wk_stop_replica(ids[i], 1, 1, err, sizeof(err)) == -1)
			failed++;
	return failed ? cmd_fail("%s", err) : cmd_ok();
}

static json_t *
cmd_backend_delete(json_t *req)
{
	const struct conf *c = wk_conf();
	json_t *bad = NULL, *ans;
	const char *name;
	char err[256];

	if ((name = cmd_name(req, "backend", 1, &bad)) == NULL)
		return bad;
	/* Processes of a deleted backend go first. */
	json_decref(cmd_stop_matching(name, 1));
	if (install_remove(c->backends_path, name, err, sizeof(err)) == -1)
		return cmd_fail("%s", err);
	ans = cmd_ok();
	return ans;
}

static json_t *
cmd_model_delete(json_t *req)
{
	const struct conf *c = wk_conf();
	json_t *bad = NULL;
	const char *name;
	char err[256];

	if ((name = cmd_name(req, "model_name", 1, &bad)) == NULL)
		return bad;
	pthread_mutex_lock(&wk_lock);
	if (wk_replica_find(name) != NULL) {
		pthread_mutex_unlock(&wk_lock);
		return cmd_fail("model %s is loaded; unload it first", name);
	}
	pthread_mutex_unlock(&wk_lock);
	if (fetch_delete_model(c->models_path, name, err, sizeof(err)) == -1)
		return cmd_fail("%s", err);
	return cmd_ok();
}

static json_t *
cmd_run(const char *verb, json_t *req)
{
	json_t *bad = NULL;
	const char *name;

	if (strcmp(verb, "backend.install") == 0)
		return wk_install(req);
	if (strcmp(verb, "backend.list") == 0)
		return cmd_backend_list(req);
	if (strcmp(verb, "backend.delete") == 0)
		return cmd_backend_delete(req);
	if (strcmp(verb, "model.delete") == 0)
		return cmd_model_delete(req);
	if (strcmp(verb, "backend.stop") == 0) {
		if ((name = cmd_name(req, "backend", 0, &bad)) == NULL)
			return bad;
		return cmd_stop_matching(name, 1);
	}
	if (strcmp(verb, "model.unload") == 0) {
		if ((name = cmd_name(req, "model_name", 1, &bad)) == NULL)
			return bad;
		return cmd_stop_matching(name, 0);
	}
	return cmd_fail("unknown command \"%s\"", verb);
}

static void *
cmd_job(void *arg)
{
	struct job *j = arg;

	cmd_reply(j->reply, cmd_run(j->verb, j->req));
	json_decref(j->req);
	free(j->reply);
	free(j);
	return NULL;
}

/* Run a command on a detached job thread; answers the error itself when
 * the thread cannot be made. */
static void
cmd_spawn(const char *verb, const char *reply, json_t *req)
{
	pthread_attr_t attr;
	pthread_t t;
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->reply = strdup(reply ? reply : "")) == NULL) {
		free(j);
		cmd_reply(reply, cmd_fail("%s", "out of memory"));
		json_decref(req);
		return;
	}
	snprintf(j->verb, sizeof(j->verb), "%s", verb);
	j->req = req;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, cmd_job, j) != 0) {
		cmd_reply(reply, cmd_fail("%s", "cannot start a job thread"));
		json_decref(req);
		free(j->reply);
		free(j);
	}
	pthread_attr_destroy(&attr);
}

void
wk_cmd_dispatch(
    const char *subject, const char *reply, const char *data, size_t len)
{
	const char *verb;
	json_error_t je;
	json_t *req;
	char tok[80], prefix[96];

	bus_token(tok, sizeof(tok), wk_node.id);
	snprintf(prefix, sizeof(prefix), "nodes.%s.", tok);
	if (strncmp(subject, prefix, strlen(prefix)) != 0)
		return;
	verb = subject + strlen(prefix);
	log_info("command %s", verb);
	if (strcmp(verb, "stop") == 0) {
		cmd_reply(reply, cmd_ok());
		wk_stop_worker("nodes.<id>.stop command");
		return;
	}
	/* LocalAI sends "{}" or nothing for list; treat empty as {}. */
	if (len == 0)
		req = json_object();
	else
		req = json_loadb(data, len, 0, &je);
	if (req == NULL || !json_is_object(req)) {
		json_decref(req);
		cmd_reply(
		    reply, cmd_fail("payload is not a JSON object%s", ""));
		return;
	}
	if (strcmp(verb, "backend.list") == 0) {
		cmd_reply(reply, cmd_run(verb, req));
		json_decref(req);
		return;
	}
	cmd_spawn(verb, reply, req);
}

/* Subscribe to nodes.<id>.> once per node id (idempotent; a failed
 * attempt is retried on the next heartbeat).  nats.c replays the
 * subscription after every reconnect. */
int
wk_cmd_subscribe(void)
{
	static char done_for[64];
	char tok[80], subj[128];

	if (wk_node.id[0] == '\0' || strcmp(done_for, wk_node.id) == 0)
		return 0;
	bus_token(tok, sizeof(tok), wk_node.id);
	snprintf(subj, sizeof(subj), "nodes.%s.>", tok);
	if (bus_subscribe(wk_bus, subj) == -1)
		return -1;
	snprintf(done_for, sizeof(done_for), "%s", wk_node.id);
	log_info("listening for commands on %s", subj);
	return 0;
}
