/*
 * bus: the NATS link of an agent process (nats.c glue).
 *
 * One connection per process, reconnecting forever: a NATS outage never
 * ends the process, and publishes made while it is down are dropped (the
 * callers publish state that is refreshed anyway: heartbeats, snapshots,
 * events).  Messages on subscribed subjects and link state changes are
 * delivered to callbacks on nats.c's delivery thread.
 */
#ifndef LOCALAI_BUS_H
#define LOCALAI_BUS_H

#include <stddef.h>

struct bus;

struct bus_handlers {
	/* A message on a subscribed subject; reply is NULL unless a request. */
	void (*on_msg)(void *arg, const char *subject, const char *reply,
	    const char *data, size_t len);
	/* The link went up (1) or down (0). */
	void (*on_state)(void *arg, int connected, const char *server);
};

/* Connect to url (comma-separated list allowed); never fails for a down
 * server, only for bad arguments.  name identifies the client to NATS. */
struct bus *bus_open(
    const char *url, const char *name, const struct bus_handlers *h, void *arg);
/* Close the connection: requests in progress return at once (BUS_EDOWN);
 * b stays valid until bus_close. */
void bus_disconnect(struct bus *b);
/* Close and free, once the library has confirmed that none of our
 * callbacks will run again (bounded wait). */
void bus_close(struct bus *b);
int bus_connected(struct bus *b);
int bus_subscribe(struct bus *b, const char *subject);
int bus_publish(
    struct bus *b, const char *subject, const void *data, size_t len);
/* Request/reply; *reply is malloc'd (NUL-terminated).  Returns 0, or a
 * negative value: BUS_ENORESP (no responders), BUS_ETIMEOUT, BUS_EDOWN. */
#define BUS_ENORESP (-2)
#define BUS_ETIMEOUT (-3)
#define BUS_EDOWN (-4)
int bus_request(struct bus *b, const char *subject, const void *data,
    size_t len, int timeout_ms, char **reply, size_t *reply_len);
const char *bus_strerror(int err);

/* Make a node id safe as one NATS subject token ('.', '*', '>' and white
 * space become '-'), as LocalAI does.  Returns dst. */
char *bus_token(char *dst, size_t size, const char *id);

#endif
