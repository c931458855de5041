/*
 * The child state machine: restart backoff and crash classification.
 * Pure logic; see child.h.
 */
#include <sys/wait.h>

#include <stdint.h>
#include <string.h>

#include "supervisor/child.h"

void
child_sm_init(struct child_sm *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->state = CHILD_IDLE;
	sm->delay_ms = CHILD_DELAY_MIN_MS;
	sm->spawned_at = -1;
	sm->ready_at = -1;
	sm->next_at = -1;
}

void
child_sm_spawned(struct child_sm *sm, int64_t now)
{
	if (sm->spawned_at != -1)
		sm->restarts++;
	if (sm->state == CHILD_FAILED)
		sm->probation = 1;
	sm->state = CHILD_STARTING;
	sm->spawned_at = now;
	sm->next_at = -1;
}

void
child_sm_ready(struct child_sm *sm, int64_t now)
{
	sm->state = CHILD_READY;
	sm->ever_ready = 1;
	sm->ready_at = now;
}

enum child_exit
child_classify(int wstatus)
{
	if (WIFEXITED(wstatus)) {
		if (WEXITSTATUS(wstatus) == CHILD_EXIT_TEMPFAIL)
			return CHILD_EXIT_TEMP;
		if (WEXITSTATUS(wstatus) == CHILD_EXIT_CONFIG)
			return CHILD_EXIT_CONF;
	}
	return CHILD_EXIT_CRASH;
}

uint32_t
child_jitter(uint32_t base_ms, uint32_t rnd)
{
	uint64_t span = (uint64_t)base_ms * 2 * CHILD_JITTER_PERCENT / 100;
	uint64_t low = (uint64_t)base_ms - span / 2;

	return (uint32_t)(low + ((span * (uint64_t)rnd) >> 32));
}

/*
 * Record a crash; 1 when it makes CHILD_LOOP_CRASHES within the window,
 * i.e. the crash CHILD_LOOP_CRASHES - 1 before this one is recent.
 */
static int
child_sm_crash(struct child_sm *sm, int64_t now)
{
	uint32_t slot = sm->ncrashes % CHILD_LOOP_CRASHES;
	int64_t oldest;

	sm->crashes[slot] = now;
	sm->ncrashes++;
	if (sm->ncrashes < CHILD_LOOP_CRASHES)
		return 0;
	oldest = sm->crashes[sm->ncrashes % CHILD_LOOP_CRASHES];
	return now - oldest < CHILD_LOOP_WINDOW_MS;
}

/* Go to BACKOFF: the jittered delay, but never closer than the gap. */
static int64_t
child_sm_backoff(struct child_sm *sm, int64_t now, uint32_t rnd)
{
	int64_t at = now + child_jitter(sm->delay_ms, rnd);

	if (sm->spawned_at != -1 && at < sm->spawned_at + CHILD_SPAWN_GAP_MS)
		at = sm->spawned_at + CHILD_SPAWN_GAP_MS;
	sm->delay_ms = sm->delay_ms >= CHILD_DELAY_MAX_MS / 2
	                   ? CHILD_DELAY_MAX_MS
	                   : sm->delay_ms * 2;
	sm->state = CHILD_BACKOFF;
	sm->next_at = at;
	return at - now;
}

static int64_t
child_sm_fail(struct child_sm *sm, int64_t now, uint32_t retry_ms)
{
	sm->state = CHILD_FAILED;
	sm->next_at = retry_ms > 0 ? now + retry_ms : -1;
	return retry_ms > 0 ? (int64_t)retry_ms : -1;
}

struct child_verdict
child_sm_exited(struct child_sm *sm, int64_t now, int wstatus, uint32_t rnd,
    uint32_t retry_failed_ms)
{
	struct child_verdict v;

	memset(&v, 0, sizeof(v));
	v.kind = child_classify(wstatus);
	v.early = !sm->ever_ready;
	/* A long healthy run earns a fresh start. */
	if (sm->state == CHILD_READY && now - sm->ready_at >= CHILD_RESET_MS) {
		sm->delay_ms = CHILD_DELAY_MIN_MS;
		sm->probation = 0;
	}
	sm->state = CHILD_EXITED;
	switch (v.kind) {
	case CHILD_EXIT_CONF:
		v.wait_ms = child_sm_fail(sm, now, 0);
		break;
	case CHILD_EXIT_TEMP:
		v.wait_ms = child_sm_backoff(sm, now, rnd);
		break;
	case CHILD_EXIT_CRASH:
		if (child_sm_crash(sm, now) || sm->probation) {
			v.loop = 1;
			v.wait_ms = child_sm_fail(sm, now, retry_failed_ms);
		} else
			v.wait_ms = child_sm_backoff(sm, now, rnd);
		break;
	}
	return v;
}

int
child_sm_due(const struct child_sm *sm, int64_t now)
{
	if (sm->state != CHILD_BACKOFF && sm->state != CHILD_FAILED)
		return 0;
	return sm->next_at != -1 && now >= sm->next_at;
}

void
child_sm_stopped(struct child_sm *sm)
{
	sm->state = CHILD_IDLE;
	sm->next_at = -1;
}

const char *
child_state_name(enum child_state state)
{
	switch (state) {
	case CHILD_IDLE:
		return "IDLE";
	case CHILD_STARTING:
		return "STARTING";
	case CHILD_READY:
		return "READY";
	case CHILD_EXITED:
		return "EXITED";
	case CHILD_BACKOFF:
		return "BACKOFF";
	case CHILD_FAILED:
		return "FAILED";
	}
	return "?";
}
