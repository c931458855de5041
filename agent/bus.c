/*
 * NATS glue for the agent processes.  See bus.h.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "agent/bus.h"
#include "proto/log.h"

/* How long bus_close waits for the library's threads. */
#define BUS_CLOSE_WAIT_MS 3000

struct bus {
	natsConnection *nc;
	natsOptions *opts;
	struct bus_handlers h;
	void *arg;
	natsSubscription *subs[32];
	int nsubs;
	/* Callbacks the library still owes us before b may be freed:
	 * each subscription's completion, and the connection's "closed". */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int owed;
};

static void
bus_deliver(
    natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct bus *b = closure;

	if (b->h.on_msg != NULL)
		b->h.on_msg(b->arg, natsMsg_GetSubject(msg),
		    natsMsg_GetReply(msg), natsMsg_GetData(msg),
		    (size_t)natsMsg_GetDataLength(msg));
	natsMsg_Destroy(msg);
}

/* A NATS URL fit for logs: "user:password@" (or a token) masked. */
static void
bus_mask(char *dst, size_t size, const char *url)
{
	const char *scheme = strstr(url, "://"), *at;

	at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
	if (at == NULL)
		snprintf(dst, size, "%s", url);
	else
		snprintf(
		    dst, size, "%.*s***%s", (int)(scheme + 3 - url), url, at);
}

static void
bus_server(natsConnection *nc, char *buf, size_t size)
{
	char raw[256];

	buf[0] = '\0';
	if (natsConnection_GetConnectedUrl(nc, raw, sizeof(raw)) == NATS_OK)
		bus_mask(buf, size, raw);
}

static void
bus_up(natsConnection *nc, void *closure)
{
	struct bus *b = closure;
	char url[256];

	bus_server(nc, url, sizeof(url));
	log_info("nats: connected to %s", url);
	if (b->h.on_state != NULL)
		b->h.on_state(b->arg, 1, url);
}

static void
bus_down(natsConnection *nc, void *closure)
{
	struct bus *b = closure;

	log_warnx("nats: disconnected, reconnecting");
	if (b->h.on_state != NULL)
		b->h.on_state(b->arg, 0, "");
}

static void
bus_error(
    natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
	log_warnx("nats: %s", natsStatus_GetText(err));
}

/* One callback the library owed us has run: bus_close may go on. */
static void
bus_paid(struct bus *b)
{
	pthread_mutex_lock(&b->mu);
	if (--b->owed == 0)
		pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* The connection is closed: the library's last callback with b. */
static void
bus_closed(natsConnection *nc, void *closure)
{
	bus_paid(closure);
}

/* A subscription is closed and its handler will not run again. */
static void
bus_sub_done(void *closure)
{
	bus_paid(closure);
}

/*
 * Options: reconnect forever with a short, jittered wait (a restarted
 * nats-server is back within a second); detect a dead server in about
 * three seconds with pings; send at once rather than through the flusher
 * thread (request/reply latency drops from ~1 ms to ~0.2 ms); one shared
 * delivery thread for all subscriptions.
 */
/*
 * The connection name, for `nats-server` monitoring: only [A-Za-z0-9._-],
 * anything else '_'.  It travels inside the JSON of CONNECT, and a node
 * name with a quote or a backslash made the server close the connection
 * again and again.
 */
static const char *
bus_conn_name(const char *name, char out[128])
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < 127; i++)
		out[i] = isalnum((unsigned char)name[i]) ||
		                 strchr("._-", name[i]) != NULL
		             ? name[i]
		             : '_';
	out[i] = '\0';
	return out;
}

static int
bus_options(struct bus *b, const char *url, const char *name)
{
	char cname[128];
	natsOptions *o;
	natsStatus s;

	if ((s = natsOptions_Create(&o)) != NATS_OK)
		return -1;
	b->opts = o;
	s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, bus_conn_name(name, cname));
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectJitter(o, 100, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetPingInterval(o, 1000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxPingsOut(o, 3);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK)
		s = natsOptions_UseGlobalMessageDelivery(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, bus_down, b);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, bus_up, b);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, bus_error, b);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, bus_closed, b);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(o, true, bus_up, b);
	if (s != NATS_OK) {
		log_warnx("nats: options: %s", natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

struct bus *
bus_open(
    const char *url, const char *name, const struct bus_handlers *h, void *arg)
{
	struct bus *b;
	natsStatus s;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->h = *h;
	b->arg = arg;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (bus_options(b, url, name) == -1) {
		bus_close(b);
		return NULL;
	}
	/* With retry-on-failed-connect a down server is NATS_NOT_YET_CONNECTED
	 * and the library keeps trying; bus_up() runs once it succeeds. */
	s = natsConnection_Connect(&b->nc, b->opts);
	if (b->nc != NULL)
		b->owed = 1; /* its "closed" callback */
	if (s == NATS_OK) {
		bus_up(b->nc, b);
	} else if (s == NATS_NOT_YET_CONNECTED) {
		char m[256];

		bus_mask(m, sizeof(m), url);
		log_warnx("nats: %s not reachable yet, retrying", m);
	} else {
		char m[256];

		bus_mask(m, sizeof(m), url);
		log_warnx("nats: connect %s: %s", m, natsStatus_GetText(s));
		bus_close(b);
		return NULL;
	}
	return b;
}

void
bus_disconnect(struct bus *b)
{
	if (b != NULL && b->nc != NULL)
		natsConnection_Close(b->nc);
}

/*
 * The library's threads (message delivery, connection callbacks) may be
 * running one of our callbacks, with b, when we unsubscribe and close.
 * Wait until it has confirmed that no callback will run again (every
 * subscription complete, the connection closed) before freeing b, or
 * leave b allocated if that takes too long: the process is exiting.
 */
void
bus_close(struct bus *b)
{
	struct timespec until;
	int i, owed;

	if (b == NULL)
		return;
	for (i = 0; i < b->nsubs; i++)
		natsSubscription_Unsubscribe(b->subs[i]);
	if (b->nc != NULL)
		natsConnection_Close(b->nc);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUS_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&b->mu);
	while (
	    b->owed > 0 && pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0)
		;
	owed = b->owed;
	pthread_mutex_unlock(&b->mu);
	for (i = 0; i < b->nsubs; i++)
		natsSubscription_Destroy(b->subs[i]);
	natsConnection_Destroy(b->nc);
	natsOptions_Destroy(b->opts);
	if (owed > 0) {
		log_warnx("nats: %d callback(s) still pending at close", owed);
		return;
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

int
bus_connected(struct bus *b)
{
	return b->nc != NULL &&
	       natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

int
bus_subscribe(struct bus *b, const char *subject)
{
	natsSubscription *sub;
	natsStatus s;

	if (b->nsubs == (int)(sizeof(b->subs) / sizeof(b->subs[0])))
		return -1;
	s = natsConnection_Subscribe(&sub, b->nc, subject, bus_deliver, b);
	if (s != NATS_OK) {
		log_warnx(
		    "nats: subscribe %s: %s", subject, natsStatus_GetText(s));
		return -1;
	}
	b->subs[b->nsubs++] = sub;
	pthread_mutex_lock(&b->mu);
	if (natsSubscription_SetOnCompleteCB(sub, bus_sub_done, b) == NATS_OK)
		b->owed++;
	pthread_mutex_unlock(&b->mu);
	/* Make sure the server has the SUB before anyone relies on it; while
	 * disconnected the library replays it on reconnect. */
	if (bus_connected(b))
		(void)natsConnection_FlushTimeout(b->nc, 1000);
	return 0;
}

int
bus_publish(struct bus *b, const char *subject, const void *data, size_t len)
{
	natsStatus s;

	if (!bus_connected(b))
		return BUS_EDOWN;
	s = natsConnection_Publish(b->nc, subject, data, (int)len);
	if (s != NATS_OK) {
		log_debug(
		    "nats: publish %s: %s", subject, natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

int
bus_request(struct bus *b, const char *subject, const void *data, size_t len,
    int timeout_ms, char **reply, size_t *reply_len)
{
	natsMsg *m = NULL;
	natsStatus s;
	int n;

	*reply = NULL;
	*reply_len = 0;
	if (!bus_connected(b))
		return BUS_EDOWN;
	s = natsConnection_Request(
	    &m, b->nc, subject, data, (int)len, timeout_ms);
	if (s == NATS_NO_RESPONDERS)
		return BUS_ENORESP;
	if (s == NATS_TIMEOUT)
		return BUS_ETIMEOUT;
	if (s != NATS_OK)
		return BUS_EDOWN;
	n = natsMsg_GetDataLength(m);
	if ((*reply = malloc((size_t)n + 1)) == NULL) {
		natsMsg_Destroy(m);
		return -1;
	}
	memcpy(*reply, natsMsg_GetData(m), (size_t)n);
	(*reply)[n] = '\0';
	*reply_len = (size_t)n;
	natsMsg_Destroy(m);
	return 0;
}

const char *
bus_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case BUS_ENORESP:
		return "no responders";
	case BUS_ETIMEOUT:
		return "timed out";
	case BUS_EDOWN:
		return "NATS not connected";
	default:
		return "NATS error";
	}
}

char *
bus_token(char *dst, size_t size, const char *id)
{
	size_t i;

	for (i = 0; i + 1 < size && id[i] != '\0'; i++) {
		unsigned char c = (unsigned char)id[i];

		dst[i] = (c == '.' || c == '*' || c == '>' || isspace(c))
		             ? '-'
		             : (char)c;
	}
	if (size > 0)
		dst[i] = '\0';
	return dst;
}
