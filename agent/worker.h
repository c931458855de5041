/*
 * The worker agent: one per worker node.  It registers the node with a
 * frontend, sends heartbeats, answers the NATS commands nodes.<id>.*,
 * installs backends, fetches model files, serves the node's HTTP endpoint
 * (health, readiness, metrics, per-request files) and asks its supervisor
 * to start and stop one backend process per loaded model.  It never forks.
 *
 * Threads: the main thread owns the supervisor channel and the replica
 * table's transitions from MSG_BE_STATE; nats.c delivers commands on its
 * thread, which hands long work (install, load) to job threads; a
 * heartbeat thread and the registration thread talk to the frontend;
 * libmicrohttpd serves HTTP on its own threads.  Shared state is under
 * wk_lock; wk_cond is broadcast on every replica change.
 */
#ifndef LOCALAI_WORKER_H
#define LOCALAI_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/msg.h"
#include "supervisor/config.h"

struct bus;

/* Replica states as the frontend sees them (localai.events.replica). */
enum wk_rstate {
	WR_STARTING, /* process asked for, not answering Health yet */
	WR_LOADING, /* fetching files or inside LoadModel */
	WR_READY, /* serving */
	WR_FAILED, /* could not start or load; error says why */
	WR_STOPPING, /* Free + stop asked for */
};

struct wk_replica {
	char id[128]; /* model id (or backend name) */
	char backend[CONF_NAME_MAX];
	char run[512];
	uint16_t port;
	char bind[160]; /* --addr given to the process */
	char address[160]; /* advertised host:port */
	enum wk_rstate state;
	int phase; /* last enum msg_be_phase seen */
	int pid;
	uint32_t restarts;
	uint32_t generation; /* bumped on every (re)spawn */
	uint64_t serial; /* this entry's own number, never reused */
	json_t *load; /* load options to replay, or NULL */
	char error[256];
	uint32_t progress; /* 0-100 while loading */
	uint32_t in_flight; /* from the backend's Status */
	const char *event; /* event to announce with the next
					   publish (EVENT_REPLICA_*), or NULL */
	struct wk_replica *next;
};

/* The node as the frontend knows it. */
struct wk_node {
	char id[64];
	char token[128]; /* node token: we present it */
	char backend_token[80]; /* frontend presents it to us */
	char status[32]; /* pending, healthy, … */
	int registered;
	int draining;
};

extern pthread_mutex_t wk_lock;
extern pthread_cond_t wk_cond;
extern struct wk_node wk_node;
extern struct wk_replica *wk_replicas;
extern struct bus *wk_bus;
extern volatile int wk_stopping;

const struct conf *wk_conf(void);
const char *wk_state_name(enum wk_rstate s);

/* worker.c: the replica table (caller holds wk_lock). */
struct wk_replica *wk_replica_find(const char *id);
struct wk_replica *wk_replica_new(const char *id, const char *backend);
void wk_replica_free(struct wk_replica *r);
/* Ask the supervisor to start / stop a replica's process (any thread). */
int wk_sup_start(struct wk_replica *r);
int wk_sup_stop(const char *id);
/* Publish a replica's state on localai.events.replica (any thread). */
void wk_publish_replica(const struct wk_replica *r);
/* A backend package event (EVENT_BACKEND_*): journal and NATS. */
void wk_backend_event(const char *event, const char *backend, const char *model,
    const char *error);
void wk_publish_gone(const char *id);
/* Begin a graceful shutdown of this agent (any thread). */
void wk_shutdown(const char *why);
/* Stop the whole worker: ask the supervisor (any thread). */
void wk_stop_worker(const char *why);

/* wload.c: start a backend process and load a model (job thread). */
json_t *wk_install(json_t *req);
/* Stop (and Free when `free_first`) a replica; with `wait`, until its
 * process is gone (never from the main thread).  0 or -1 with err. */
int wk_stop_replica(
    const char *id, int free_first, int wait, char *err, size_t len);
/* After a crash restart: wait for Health, LoadModel again (job thread). */
void wk_reload_async(const char *id, uint32_t generation);
/* Choose a free port in the configured range; 0 when none. */
uint16_t wk_port_alloc(void);

/* wregister.c */
int wk_identity_load(void);
void wk_register_start(void); /* registration + heartbeat threads */
void wk_register_stop(void);
void wk_drain(void); /* drain, wait for in-flight work */
int wk_deregister(void); /* after wk_register_stop() */
/* The frontend base URL ("http://host:8080"), no trailing slash. */
const char *wk_frontend(void);

/* wpoll.c: the thread that polls each ready backend's in-flight count
 * (Status) once per heartbeat interval into wk_replica.in_flight. */
void wk_poll_start(void);
void wk_poll_stop(void);

/* wcmd.c: NATS subjects nodes.<id>.* */
int wk_cmd_subscribe(void);
void wk_cmd_dispatch(
    const char *subject, const char *reply, const char *data, size_t len);

/* whttp.c */
int wk_http_start(void);
void wk_http_stop(void);
int wk_ready(char *why, size_t len);
void wk_files_expire(void);

#endif
