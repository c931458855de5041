/*
 * api_tlib: what the api process tests share.
 *
 * The api process is started the way the supervisor starts it (fd 3 the
 * control socket, fd 4 the listening socket; configuration, then its
 * router link as MSG_PEER_FD), by this test program, which then plays the
 * router on that link with a scripted policy and records every PLACE,
 * DONE and REPLICA_FAIL.  Backends are real processes (the fake backend,
 * api_contbe) speaking gRPC; HTTP is real (libcurl).  This lets every
 * data-plane behaviour be tested while the router process is being built;
 * tests/integration/api_cluster.test runs the full path when it exists.
 */
#ifndef API_TLIB_H
#define API_TLIB_H

#include <sys/types.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/metrics.h"
#include "proto/msg.h"
#include "proto/msgbuf.h"
#include "supervisor/config.h"

extern int tl_failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			tl_failures++;                                         \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__,          \
			    __LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

#define TL_KEY "sk-test-key"
#define TL_TOKEN "node-token-123"
#define TL_MAX_REC 4096

int64_t tl_now_ms(void);
void tl_sleep_ms(int ms);
/* A fresh directory under $TMPDIR (removed at exit). */
const char *tl_tmpdir(void);

/* ---- processes ------------------------------------------------------------ */

struct tl_proc {
	pid_t pid;
	char log[512];
	int port;
	char addr[64]; /* 127.0.0.1:PORT */
};

/*
 * A backend: path to its binary, extra environment ("K=V", NULL-ended).
 * It listens on an ephemeral port and requires TL_TOKEN.
 */
int tl_backend(struct tl_proc *p, const char *bin, char *const env[]);
/* The same on addr ("127.0.0.1:PORT" to restart one), with more
 * arguments (NULL-ended, may be NULL). */
int tl_backend_opt(struct tl_proc *p, const char *bin, char *const env[],
    const char *addr, const char *const *args);
int tl_proc_stop(struct tl_proc *p); /* exit code, 128+sig */
void tl_proc_kill(struct tl_proc *p);
/* An address nothing listens on (bound then closed). */
void tl_dead_addr(char *buf, size_t len);

/* ---- the api process and its router ------------------------------------ */

struct tl_api {
	struct tl_proc proc;
	int ctl; /* supervisor side */
	struct msgbuf cmb;
	int link; /* index in the router's links */
	char base[64]; /* http://127.0.0.1:PORT */
};

/* Defaults for the api tests: one API key, small limits, short waits. */
void tl_conf(struct conf *c);
/* A model config for the fake backends. */
void tl_model(struct conf_model *m, const char *name);
int tl_api_start(struct tl_api *a, const char *localai, const struct conf *c,
    const struct conf_model *models, size_t n);
/* A new configuration, as on SIGHUP (waits for its MSG_CFG_ACK). */
int tl_api_reload(struct tl_api *a, const struct conf *c,
    const struct conf_model *models, size_t n);
/* Shutdown as the supervisor does it; the exit code. */
int tl_api_stop(struct tl_api *a);
/* A new router link for the api (a router restart); the old one closes. */
int tl_api_relink(struct tl_api *a);

/* The router's scripted behaviour. */
enum tl_mode {
	TL_GRANT, /* PLACE_OK to addrs[attempt] (the last one repeats) */
	TL_REJECT, /* PLACE_REJECT with `reject` */
	TL_SILENT, /* no answer at all */
};

struct tl_router {
	pthread_mutex_t mu;
	/* policy */
	enum tl_mode mode;
	char addrs[4][128];
	int naddr;
	char http_address[128];
	int waits; /* PLACE_WAITs first */
	int delay_ms; /* before the answer */
	struct msg_place_reject reject;
	unsigned http_status;
	char http_ctype[64];
	char http_body[4096];
	/* records */
	int n_place, n_done, n_fail, n_http;
	int bad; /* DONE unknown or twice */
	struct msg_place places[TL_MAX_REC];
	struct msg_done dones[TL_MAX_REC];
	struct msg_replica_fail fails[64];
	struct msg_http_req http[16];
	char http_req_body[4096];
	int n_inflight;
	char inflight[TL_MAX_REC][64];
};

extern struct tl_router TR;

void tl_router_start(void);
/* Forget records and set the default policy: grant addrs[0]. */
void tl_router_reset(const char *addr);
/* Wait until nothing is in flight (DONE for every grant); 0 or -1. */
int tl_router_idle(int timeout_ms);
/* Close every router link (the router "crashed"). */
void tl_router_drop_links(void);

/* ---- HTTP ---------------------------------------------------------------- */

/* Client-side timeout of tl_http (a shorter one hangs up on purpose). */
extern long tl_http_timeout_ms;

struct tl_resp {
	long status;
	char *body;
	size_t len;
	char headers[8192];
	int64_t ms;
};

/*
 * One request; hdrs is NULL-terminated ("Name: value").  With
 * abort_after > 0 the client hangs up once it received that many body
 * bytes.  0, or -1 on a transport error.
 */
int tl_http(const struct tl_api *a, const char *method, const char *path,
    const char *const *hdrs, const char *body, size_t len, size_t abort_after,
    struct tl_resp *r);
/* POST JSON with the API key. */
int tl_post(const struct tl_api *a, const char *path, const char *json,
    struct tl_resp *r);
void tl_resp_free(struct tl_resp *r);
/* The value of a response header (case-insensitive), or NULL. */
const char *tl_header(
    const struct tl_resp *r, const char *name, char *buf, size_t len);
/* The concatenated "content"/"text" of an SSE body; events counted. */
int tl_sse_text(
    const char *body, char *out, size_t len, int *events, int *done);

/* ---- the worker's file endpoint (a stand-in for agent/whttp.c) ------- */

/* Serve /v1/files on an ephemeral port; its "host:port". */
const char *tl_files_start(void);

#endif
