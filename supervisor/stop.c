/*
 * The order in which a supervisor stops its children.
 *
 *   STOP_AGENT	   the worker agent alone (worker and standalone roles).
 *		   It drains: tells the frontend, waits for the requests in
 *		   flight, deregisters, and asks for each backend to be
 *		   stopped (MSG_BE_STOP).  Backends keep serving meanwhile,
 *		   so requests in flight finish; in standalone mode the
 *		   frontend it deregisters from is still up.  It gets
 *		   worker.drain_timeout + 5 s, then SIGKILL.
 *   STOP_MAIN	   every other child but the private servers: api, router,
 *		   frontend agent and the backends still running (SIGTERM,
 *		   SIGKILL 5 s later).
 *   STOP_SERVICES the private nats-server and PostgreSQL (fast
 *		   shutdown), last, so that nothing above loses them while
 *		   it finishes.
 *
 * A phase ends when none of its children is running any more.  A second
 * SIGTERM/SIGINT during STOP_AGENT does not wait for the drain.
 */
#include <sys/types.h>

#include <stdint.h>

#include "proto/log.h"
#include "supervisor/sup.h"

#define STOP_DRAIN_GRACE_MS 5000 /* on top of worker.drain_timeout */

enum stop_phase {
	STOP_NONE = 0,
	STOP_AGENT,
	STOP_MAIN,
	STOP_SERVICES,
};

static enum stop_phase stop_phase;

static int
stop_in_main(const struct sup_child *c)
{
	return !sup_is_service(c);
}

/* Does any child that the test selects still run? */
static int
stop_running(int (*in_phase)(const struct sup_child *))
{
	struct sup_child *c;

	TAILQ_FOREACH(c, sup_children(), entry)
	{
		if (c->pid != -1 && in_phase(c))
			return 1;
	}
	return 0;
}

/* Stop the children the test selects, except those already stopping. */
static void
stop_children(int (*in_phase)(const struct sup_child *), int64_t now)
{
	struct sup_child *c, *next;

	for (c = TAILQ_FIRST(sup_children()); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (in_phase(c) && !(c->stopping && c->pid != -1))
			sup_child_stop(c, now);
	}
}

void
sup_stop_begin(enum conf_role role, uint32_t drain_timeout_ms, int64_t now)
{
	struct sup_child *agent = sup_worker_agent();

	stop_phase = STOP_AGENT;
	if (agent != NULL && agent->pid != -1) {
		log_info("%s[%d]: stopping the worker agent first; it has %u s "
		         "to drain before the rest stops",
		    agent->name, (int)agent->pid,
		    (drain_timeout_ms + STOP_DRAIN_GRACE_MS) / 1000);
		sup_child_stop(agent, now);
		agent->kill_at = now + drain_timeout_ms + STOP_DRAIN_GRACE_MS;
	} else if (agent != NULL)
		sup_child_stop(agent, now);
	sup_stop_step(now);
}

void
sup_stop_step(int64_t now)
{
	struct sup_child *agent;

	switch (stop_phase) {
	case STOP_AGENT:
		agent = sup_worker_agent();
		if (agent != NULL && agent->pid != -1)
			return;
		stop_phase = STOP_MAIN;
		stop_children(stop_in_main, now);
		/* FALLTHROUGH */
	case STOP_MAIN:
		if (stop_running(stop_in_main))
			return;
		stop_phase = STOP_SERVICES;
		stop_children(sup_is_service, now);
		/* FALLTHROUGH */
	default:
		return;
	}
}

void
sup_stop_hurry(int64_t now)
{
	struct sup_child *agent = sup_worker_agent();

	if (stop_phase != STOP_AGENT)
		return;
	log_info("second signal: not waiting for the worker agent to drain");
	if (agent != NULL && agent->pid != -1 &&
	    agent->kill_at > now + SUP_KILL_AFTER_MS)
		agent->kill_at = now + SUP_KILL_AFTER_MS;
	stop_phase = STOP_MAIN;
	stop_children(stop_in_main, now);
}
