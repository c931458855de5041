/*
 * The admission gate of a backend process: how many "gated" operations
 * (inference, load, free) run at once, and in which order the others wait.
 *
 * A backend declares a parallelism N.  Shared entries (predict, embed, …)
 * run up to N at a time; exclusive entries (load, free) run alone.  Waiters
 * are admitted strictly in arrival order: an exclusive waiter at the head
 * holds back shared waiters behind it even when slots are free, so a
 * LoadModel is not starved by a stream of predictions.  No I/O: the unit
 * test links only gate.c.
 */
#ifndef LOCALAI_BE_GATE_H
#define LOCALAI_BE_GATE_H

#include <pthread.h>
#include <stdatomic.h>

struct gate_waiter;

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int parallel;		/* shared entries allowed at once, >= 1 */
	int running;		/* shared entries inside */
	int exclusive;		/* 1 while an exclusive entry is inside */
	int waiting;		/* entries queued */
	struct gate_waiter *head, *tail;	/* FIFO of waiters */
};

void gate_init(struct gate *g, int parallel);
void gate_destroy(struct gate *g);

/*
 * Wait for admission, in arrival order.  Gives up and returns -1 when
 * *cancelled becomes non-zero while waiting (the caller then calls
 * gate_kick() after setting it, or the wait notices within 100 ms); 0 once
 * admitted.  cancelled may be NULL.
 */
int gate_enter(struct gate *g, int exclusive, atomic_int *cancelled);
void gate_leave(struct gate *g, int exclusive);

/* Wake every waiter so that cancelled ones leave the queue at once. */
void gate_kick(struct gate *g);
void gate_set_parallel(struct gate *g, int parallel);

/* Shared entries running now, and entries queued (for Status, tests). */
int gate_running(struct gate *g);
int gate_waiting(struct gate *g);

#endif
