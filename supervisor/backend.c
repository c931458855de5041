/*
 * Backend processes, supervised for the worker agent: MSG_BE_START runs
 * `<run_path> --addr <addr>` in <workdir> with LOCALAI_GRPC_AUTH_TOKEN set
 * (and no other LOCALAI_* variable), MSG_BE_STOP stops it, and every
 * transition goes back to the agent as MSG_BE_STATE.  The restart policy
 * is the child state machine of every child, except that a crash-looping
 * backend is retried every 300 s instead of stopping the supervisor.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "proto/msg.h"
#include "supervisor/child.h"
#include "supervisor/sup.h"

static unsigned
sup_be_count(void)
{
	struct sup_child *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, sup_children(), entry)
	n += c->kind == SUP_BACKEND;
	return n;
}

/* MSG_BE_STATE to the worker agent (if it is there to hear it). */
static void
sup_be_report(struct sup_child *c, int phase, int wstatus, int64_t wait_ms)
{
	struct sup_child *agent = sup_worker_agent();
	struct msg_be_state st;

	if (agent == NULL || agent->mb.fd == -1)
		return;
	memset(&st, 0, sizeof(st));
	snprintf(st.id, sizeof(st.id), "%s", c->be.id);
	st.phase = phase;
	st.pid = c->pid != -1 ? c->pid : c->last_pid;
	st.exit_status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	st.signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
	st.restarts = c->sm.restarts;
	st.next_retry_ms = wait_ms > 0 ? (uint32_t)wait_ms : 0;
	sup_compose(agent, MSG_BE_STATE, 0, -1, &st, sizeof(st));
}

void
sup_be_snapshot(void)
{
	struct sup_child *c;
	int64_t now = sup_now(), wait;

	TAILQ_FOREACH(c, sup_children(), entry)
	{
		if (c->kind != SUP_BACKEND)
			continue;
		wait = c->sm.next_at != -1 ? c->sm.next_at - now : 0;
		if (c->pid != -1)
			sup_be_report(c, BE_STARTING, 0, 0);
		else if (c->sm.state == CHILD_BACKOFF)
			sup_be_report(c, BE_BACKOFF, 0, wait);
		else if (c->sm.state == CHILD_FAILED)
			sup_be_report(c, BE_FAILED, 0, wait);
	}
}

static struct sup_child *
sup_backend_find(const char *id)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, sup_children(), entry)
	{
		if (c->kind == SUP_BACKEND && strcmp(c->be.id, id) == 0)
			return c;
	}
	return NULL;
}

static void
sup_be_terminate(struct msg_be_start *bs)
{
	MSG_TERMINATE(bs->id);
	MSG_TERMINATE(bs->backend);
	MSG_TERMINATE(bs->run_path);
	MSG_TERMINATE(bs->addr);
	MSG_TERMINATE(bs->token);
	MSG_TERMINATE(bs->workdir);
}

/* A refused start: tell the agent it FAILED, for good. */
static void
sup_be_refuse(const struct msg_be_start *bs, const char *why)
{
	struct sup_child tmp;

	log_warnx("backend %s: refused: %s", bs->id, why);
	memset(&tmp, 0, sizeof(tmp));
	tmp.pid = tmp.last_pid = -1;
	tmp.be = *bs;
	sup_be_report(&tmp, BE_FAILED, CHILD_EXIT_CONFIG << 8, 0);
}

/*
 * The working directory a backend runs in (the agent's models_path) may
 * not exist yet on a fresh node: create it (and its parents) rather than
 * fail the backend for good.  0, or -1 with errno.
 */
static int
sup_be_workdir(const char *dir)
{
	char buf[PATH_MAX], *p;
	struct stat st;

	if (dir[0] == '\0' || stat(dir, &st) == 0)
		return 0;
	if (strlen(dir) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, dir, strlen(dir) + 1);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		return -1;
	log_info("backend working directory %s created", dir);
	return 0;
}

void
sup_be_start(const struct msg *m, int64_t now)
{
	struct msg_be_start bs;
	struct sup_child *c;
	char name[160];

	memcpy(&bs, m->data, sizeof(bs));
	sup_be_terminate(&bs);
	if (sup_is_stopping())
		return sup_be_refuse(&bs, "shutting down");
	if (bs.id[0] == '\0' || bs.run_path[0] != '/' || bs.addr[0] == '\0')
		return sup_be_refuse(&bs, "needs an id, an absolute run path "
		                          "and an address");
	if (sup_be_workdir(bs.workdir) == -1) {
		log_warn("backend %s: working directory %s", bs.id, bs.workdir);
		return sup_be_refuse(&bs, "its working directory cannot be "
		                          "created");
	}
	if ((c = sup_backend_find(bs.id)) != NULL && c->pid != -1) {
		log_warnx("%s: already running (pid %d); stop it first",
		    c->name, (int)c->pid);
		return sup_be_report(c, BE_STARTING, 0, 0);
	}
	if (c == NULL) {
		if (sup_be_count() >= SUP_MAX_BACKENDS)
			return sup_be_refuse(&bs, "too many backends");
		snprintf(name, sizeof(name), "backend %s", bs.id);
		c = sup_child_new(SUP_BACKEND, 0, name);
	}
	/* An explicit start is a fresh start. */
	child_sm_init(&c->sm);
	c->be = bs;
	c->stopping = c->remove = 0;
	log_info("%s: start %s --addr %s (backend %s, in %s)", c->name,
	    bs.run_path, bs.addr, bs.backend,
	    bs.workdir[0] ? bs.workdir : "the current directory");
	sup_spawn(c, now);
}

void
sup_be_stop(const struct msg *m, int64_t now)
{
	struct msg_be_id id;
	struct sup_child *c, tmp;

	memcpy(&id, m->data, sizeof(id));
	MSG_TERMINATE(id.id);
	if ((c = sup_backend_find(id.id)) == NULL) {
		memset(&tmp, 0, sizeof(tmp));
		tmp.pid = tmp.last_pid = -1;
		snprintf(tmp.be.id, sizeof(tmp.be.id), "%s", id.id);
		return sup_be_report(&tmp, BE_STOPPED, 0, 0);
	}
	log_info("%s: stop requested", c->name);
	c->remove = 1;
	if (c->pid != -1) {
		sup_child_stop(c, now);
		return;
	}
	c->stopping = 1;
	sup_be_report(c, BE_STOPPED, 0, 0);
	sup_child_free(c);
}

void
sup_be_exited(struct sup_child *c, int wstatus, int64_t now)
{
	struct child_verdict v;

	if (c->stopping) {
		child_sm_stopped(&c->sm);
		log_info("%s: STOPPED", c->name);
		sup_be_report(c, BE_STOPPED, wstatus, 0);
		if (c->remove)
			sup_child_free(c);
		return;
	}
	sup_be_report(c, BE_EXITED, wstatus, 0);
	if (c->exec_errno != 0)
		wstatus = CHILD_EXIT_CONFIG << 8; /* cannot run at all */
	v = child_sm_exited(
	    &c->sm, now, wstatus, arc4random(), CHILD_RETRY_FAILED_MS);
	if (c->sm.state == CHILD_FAILED) {
		if (v.wait_ms > 0)
			log_warnx("%s: FAILED: %d crashes within %d s; retry "
			          "in %lld s",
			    c->name, CHILD_LOOP_CRASHES,
			    CHILD_LOOP_WINDOW_MS / 1000,
			    (long long)v.wait_ms / 1000);
		else
			log_warnx("%s: FAILED: configuration error (exit %d), "
			          "not restarted",
			    c->name, CHILD_EXIT_CONFIG);
		sup_be_report(c, BE_FAILED, wstatus, v.wait_ms);
	} else {
		log_info("%s: BACKOFF %lld ms%s", c->name, (long long)v.wait_ms,
		    v.kind == CHILD_EXIT_TEMP
		        ? " (temporary failure, not counted)"
		        : "");
		sup_be_report(c, BE_BACKOFF, wstatus, v.wait_ms);
	}
}

/* No readiness handshake with a backend: running counts as ready. */
void
sup_be_spawned(struct sup_child *c, int64_t now)
{
	child_sm_ready(&c->sm, now);
	sup_be_report(c, BE_STARTING, 0, 0);
}
