/*
 * The child state machine of the supervisor: restart backoff and crash
 * classification, as pure logic (no I/O, no clock, no randomness of its
 * own) so that tests/unit/test_child.c links only child.c.
 *
 *   STARTING -> READY -> EXITED -> BACKOFF -> STARTING ...
 *                           \--> FAILED (crash loop, or exit 78)
 *
 * Times are milliseconds on a monotonic clock, passed in by the caller;
 * jitter comes from a random 32-bit value the caller passes in.
 */
#ifndef LOCALAI_SUP_CHILD_H
#define LOCALAI_SUP_CHILD_H

#include <stdint.h>

#define CHILD_SPAWN_GAP_MS 1000 /* never two spawns closer than this */
#define CHILD_DELAY_MIN_MS 1000 /* first restart delay */
#define CHILD_DELAY_MAX_MS 60000 /* the delay doubles up to this */
#define CHILD_JITTER_PERCENT 20 /* each delay +-20 % */
#define CHILD_RESET_MS 60000 /* READY this long resets the delay */
#define CHILD_LOOP_CRASHES 5 /* this many crashes ... */
#define CHILD_LOOP_WINDOW_MS 120000 /* ... within this long: FAILED */
#define CHILD_RETRY_FAILED_MS 300000 /* backends: retry a FAILED one */

#define CHILD_EXIT_TEMPFAIL 75 /* EX_TEMPFAIL: back off, not a crash */
#define CHILD_EXIT_CONFIG 78 /* EX_CONFIG: never respawned */

/*
 * Where a supervised process stands.  IDLE: not started yet, or stopped
 * on request.  STARTING: spawned, pid known, no READY yet (backends go
 * straight on to READY: they have no readiness handshake with the
 * supervisor).  READY: reported ready.  EXITED: died, about to be
 * classified (only ever seen by the logging).  BACKOFF: waiting for
 * next_at to be respawned.  FAILED: not respawned (crash loop or exit 78);
 * a crash-looping backend is retried at next_at.
 */
enum child_state {
	CHILD_IDLE = 0,
	CHILD_STARTING,
	CHILD_READY,
	CHILD_EXITED,
	CHILD_BACKOFF,
	CHILD_FAILED,
};

/* How one exit counts. */
enum child_exit {
	CHILD_EXIT_CRASH, /* a signal, or any code but 75 and 78 */
	CHILD_EXIT_TEMP, /* 75: back off without counting */
	CHILD_EXIT_CONF, /* 78: a configuration error, never respawn */
};

struct child_sm {
	enum child_state state;
	int ever_ready; /* READY at least once */
	int probation; /* respawned from FAILED: 1 crash fails */
	uint32_t restarts; /* spawns after the first */
	uint32_t delay_ms; /* base of the next backoff delay */
	int64_t spawned_at; /* last spawn, -1 never */
	int64_t ready_at; /* last READY */
	int64_t next_at; /* BACKOFF/FAILED: respawn time, -1 none */
	int64_t crashes[CHILD_LOOP_CRASHES]; /* ring of crash times */
	uint32_t ncrashes; /* crashes recorded (ring index) */
};

/* What became of the child after an exit. */
struct child_verdict {
	enum child_exit kind;
	int early; /* it died before its first READY */
	int loop; /* FAILED for crash looping */
	int64_t wait_ms; /* until next_at; -1 when never */
};

void child_sm_init(struct child_sm *sm);
void child_sm_spawned(struct child_sm *sm, int64_t now);
void child_sm_ready(struct child_sm *sm, int64_t now);
/*
 * The child died with wait status wstatus.  retry_failed_ms is how long a
 * crash-looping child stays FAILED before one more try (0: for good).
 */
struct child_verdict child_sm_exited(struct child_sm *sm, int64_t now,
    int wstatus, uint32_t rnd, uint32_t retry_failed_ms);
/* It is time to spawn it again (BACKOFF or FAILED with a retry due). */
int child_sm_due(const struct child_sm *sm, int64_t now);
/* Stopped on request: forget the pending respawn. */
void child_sm_stopped(struct child_sm *sm);

enum child_exit child_classify(int wstatus);
/* base_ms scaled by a factor in [0.8, 1.2] chosen by rnd. */
uint32_t child_jitter(uint32_t base_ms, uint32_t rnd);
const char *child_state_name(enum child_state state);

#endif
