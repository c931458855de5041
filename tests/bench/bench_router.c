/*
 * bench_router: the router process's PLACE round trip over its socket.
 *
 *	bench_router BUILDDIR [PLACEMENTS]
 *
 * Starts `localai -P router` the way the frontend supervisor does (fd 3
 * its control socket: configuration, then an api link as MSG_PEER_FD) on
 * a throwaway PostgreSQL (no NATS: warm placement needs none), plays an
 * api process on that link, registers NODES simulated nodes through the
 * node API (MSG_HTTP_REQ, as the api relays it) and reports one ready
 * replica of model "m" on each with a heartbeat.  Then prints, for 1 and
 * NODES replicas:
 *   - PLACE -> PLACE_OK round trip, one request at a time, p50/p99/max;
 *   - PLACE+DONE pairs per second with 64 requests in flight (pipelined
 *     on the one link, as 64 concurrent requests of one api process);
 *   - PLACE handling inside the router (decision and the answer
 *     written), from its localai_placement_duration_seconds (GET
 *     /metrics over the link).
 * The client and the router share the machine: read orders of magnitude.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/msg.h"
#include "proto/msgbuf.h"
#include "supervisor/config.h"
#include "tests/harness/harness.h"

#define NODES 100
#define PIPELINE 64
#define REG_TOKEN "bench-registration-token"

static struct msgbuf ctl, api;
static unsigned seq;

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "bench_router: %s\n", what);
	exit(1);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Wait for one message of type want on mb (others are dropped). */
static void
expect(struct msgbuf *mb, uint32_t want, struct msg *out)
{
	struct msg m;

	for (;;) {
		if (msgbuf_recv(mb, &m, 30000) != 1)
			die("no answer from the router");
		if (m.hdr.type == want) {
			*out = m;
			return;
		}
		msg_free(&m);
	}
}

static pid_t
spawn_router(const char *localai, const char *log, int fd)
{
	char *argv[] = {
	    (char *)(uintptr_t)localai, "-P", "router", "-R", "frontend", NULL};
	pid_t pid;
	int lfd;

	if ((pid = fork()) == -1)
		die("fork");
	if (pid > 0)
		return pid;
	if ((lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1)
		_exit(126);
	dup2(lfd, 1);
	dup2(lfd, 2);
	if (fd != 3) {
		dup2(fd, 3);
		close(fd);
	}
	closefrom(4);
	execv(argv[0], argv);
	_exit(127);
}

static void
configure(const char *pg_url, const char *dir)
{
	struct conf c;
	struct conf_model m;
	struct msg_cfg_done done = {1, 1};
	struct msg_peer peer = {PEER_API, 0};
	struct msg r;
	int sp[2];

	conf_defaults(&c);
	c.generation = 1;
	snprintf(c.instance_id, sizeof(c.instance_id), "bench");
	snprintf(c.frontend.database_url, sizeof(c.frontend.database_url), "%s",
	    pg_url);
	snprintf(c.frontend.registration_token,
	    sizeof(c.frontend.registration_token), "%s", REG_TOKEN);
	c.frontend.auto_approve_nodes = 1;
	snprintf(c.models_path, sizeof(c.models_path), "%s", dir);
	snprintf(
	    c.frontend.gallery_dir, sizeof(c.frontend.gallery_dir), "%s", dir);
	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "m");
	snprintf(m.backend, sizeof(m.backend), "fake");
	snprintf(m.model, sizeof(m.model), "m-model");
	snprintf(m.source, sizeof(m.source), "bench:1");
	m.replicas_max = NODES;
	m.max_concurrency = 1000;
	m.revision = 1;
	if (msgbuf_send(&ctl, MSG_CFG_MAIN, 0, -1, &c, sizeof(c)) == -1 ||
	    msgbuf_send(&ctl, MSG_CFG_MODEL, 0, -1, &m, sizeof(m)) == -1 ||
	    msgbuf_send(&ctl, MSG_CFG_DONE, 0, -1, &done, sizeof(done)) == -1)
		die("configuration");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die("socketpair");
	if (msgbuf_send(&ctl, MSG_PEER_FD, 0, sp[1], &peer, sizeof(peer)) == -1)
		die("peer");
	close(sp[1]);
	msgbuf_init(&api, sp[0]);
	expect(&ctl, MSG_CTL_READY, &r);
	msg_free(&r);
}

/* One node API request over the link; the answer's body (malloc'd). */
static char *
http(const char *method, const char *path, const char *auth, const char *body,
    unsigned *status)
{
	size_t blen = body ? strlen(body) : 0;
	struct msg_http_req h;
	struct msg_http_resp rh;
	struct msg r;
	char *buf, *out;

	memset(&h, 0, sizeof(h));
	snprintf(h.method, sizeof(h.method), "%s", method);
	snprintf(h.path, sizeof(h.path), "%s", path);
	snprintf(h.authorization, sizeof(h.authorization), "Bearer %s", auth);
	snprintf(h.request_id, sizeof(h.request_id), "http-%u", ++seq);
	h.body_len = (uint32_t)blen;
	if ((buf = malloc(sizeof(h) + blen)) == NULL)
		die("malloc");
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), body, blen);
	if (msgbuf_send(&api, MSG_HTTP_REQ, seq, -1, buf, sizeof(h) + blen) ==
	    -1)
		die("send");
	free(buf);
	expect(&api, MSG_HTTP_RESP, &r);
	memcpy(&rh, r.data, sizeof(rh));
	*status = rh.status;
	if ((out = calloc(1, rh.body_len + 1)) == NULL)
		die("calloc");
	memcpy(out, (char *)r.data + sizeof(rh), rh.body_len);
	msg_free(&r);
	return out;
}

/* The string value of "key":"…" in a flat JSON text. */
static void
json_str(const char *j, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(j, pat)) == NULL ||
	    (e = strchr(p + strlen(pat), '"')) == NULL)
		die(j);
	snprintf(out, len, "%.*s", (int)(e - p - strlen(pat)), p + strlen(pat));
}

/* Register node i and report a ready replica of "m" on it. */
static void
add_node(int i)
{
	char body[512], id[64], tok[80], path[160], *r;
	unsigned st;

	snprintf(body, sizeof(body),
	    "{\"name\":\"n%04d\",\"address\":"
	    "\"127.0.0.1:%d\",\"total_ram\":17179869184,\"available_ram\":"
	    "17179869184,\"max_concurrency\":1000}",
	    i, 20000 + i);
	r = http("POST", "/api/node/register", REG_TOKEN, body, &st);
	if (st != 201)
		die(r);
	json_str(r, "id", id, sizeof(id));
	json_str(r, "node_token", tok, sizeof(tok));
	free(r);
	snprintf(path, sizeof(path), "/api/node/%s/heartbeat", id);
	snprintf(body, sizeof(body),
	    "{\"seq\":1,\"available_ram\":"
	    "17179869184,\"replicas\":[{\"model\":\"m\",\"address\":"
	    "\"127.0.0.1:%d\",\"state\":\"ready\"}]}",
	    20000 + i);
	r = http("POST", path, tok, body, &st);
	if (st != 200)
		die(r);
	free(r);
}

static void
place(const char *rid)
{
	struct msg_place p;

	memset(&p, 0, sizeof(p));
	snprintf(p.request_id, sizeof(p.request_id), "%s", rid);
	snprintf(p.model, sizeof(p.model), "m");
	snprintf(p.endpoint, sizeof(p.endpoint), "chat");
	if (msgbuf_compose(&api, MSG_PLACE, ++seq, -1, &p, sizeof(p)) == -1)
		die("compose");
}

static void
done(const struct msg_place_ok *ok)
{
	struct msg_done d;

	memset(&d, 0, sizeof(d));
	snprintf(d.request_id, sizeof(d.request_id), "%s", ok->request_id);
	d.replica_id = ok->replica_id;
	d.outcome = OUTCOME_OK;
	d.http_status = 200;
	d.duration_us = 1000;
	if (msgbuf_compose(&api, MSG_DONE, 0, -1, &d, sizeof(d)) == -1)
		die("compose");
}

static void
flush_all(void)
{
	while (msgbuf_pending(&api) > 0)
		if (msgbuf_flush(&api) == -1 && errno != EAGAIN)
			die("flush");
}

/* Sequential PLACE -> OK round trips; prints p50/p99/max. */
static void
round_trips(int n, int replicas)
{
	double *t = calloc((size_t)n, sizeof(double)), t0;
	struct msg_place_ok ok;
	struct msg r;
	char rid[64];
	int i;

	if (t == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "rt-%d-%d", replicas, i);
		t0 = now_us();
		place(rid);
		flush_all();
		expect(&api, MSG_PLACE_OK, &r);
		t[i] = now_us() - t0;
		memcpy(&ok, r.data, sizeof(ok));
		msg_free(&r);
		done(&ok);
		flush_all();
	}
	qsort(t, (size_t)n, sizeof(double), cmp_double);
	printf("  PLACE->PLACE_OK round trip, %3d replicas: p50 %6.1f us  "
	       "p99 %6.1f us  max %7.1f us  (%d requests)\n",
	    replicas, t[n / 2], t[n * 99 / 100], t[n - 1], n);
	free(t);
}

/* PLACE+DONE pairs with PIPELINE in flight; prints pairs per second. */
static void
throughput(int n, int replicas)
{
	struct msg_place_ok ok;
	struct msg r;
	int sent = 0, got = 0;
	char rid[64];
	double t0 = now_us(), s;

	while (got < n) {
		while (sent < n && sent - got < PIPELINE) {
			snprintf(
			    rid, sizeof(rid), "tp-%d-%d", replicas, sent++);
			place(rid);
		}
		flush_all();
		expect(&api, MSG_PLACE_OK, &r);
		memcpy(&ok, r.data, sizeof(ok));
		msg_free(&r);
		done(&ok);
		got++;
	}
	flush_all();
	s = (now_us() - t0) / 1e6;
	printf("  PLACE+DONE with %d in flight, %3d replicas: %.0f pairs/s\n",
	    PIPELINE, replicas, n / s);
}

/* The router's own placement histogram: mean decision time. */
static void
decision_time(void)
{
	char *r = NULL, *p;
	double sum = 0, count = 0;
	unsigned st;

	r = http("GET", "/metrics", "", NULL, &st);
	if ((p = strstr(r, "localai_placement_duration_seconds_sum")) != NULL)
		sum = strtod(strchr(p, ' ') + 1, NULL);
	if ((p = strstr(r, "localai_placement_duration_seconds_count")) != NULL)
		count = strtod(strchr(p, ' ') + 1, NULL);
	if (count > 0)
		printf("  PLACE handled in the router (decision + answer "
		       "written): mean %.2f us over %.0f placements\n",
		    sum / count * 1e6, count);
	free(r);
}

int
main(int argc, char **argv)
{
	char localai[512], log[600];
	int n = argc > 2 ? atoi(argv[2]) : 20000, sp[2], i;
	struct th_pg *pg;
	const char *dir;
	pid_t pid;

	if (argc < 2)
		die("usage: bench_router BUILDDIR [PLACEMENTS]");
	if (th_init() == -1 || (pg = th_pg_start(NULL)) == NULL ||
	    (dir = th_tmpdir()) == NULL)
		die("cannot start PostgreSQL");
	snprintf(localai, sizeof(localai), "%s/bin/localai", argv[1]);
	snprintf(log, sizeof(log), "%s/router.log", dir);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die("socketpair");
	fcntl(sp[1], F_SETFD, 0);
	pid = spawn_router(localai, log, sp[1]);
	close(sp[1]);
	msgbuf_init(&ctl, sp[0]);
	configure(pg->url, dir);
	printf("bench_router: the router process over its api socket "
	       "(log %s)\n",
	    log);
	add_node(0);
	round_trips(n, 1);
	throughput(n, 1);
	for (i = 1; i < NODES; i++)
		add_node(i);
	round_trips(n, NODES);
	throughput(n, NODES);
	decision_time();
	(void)msgbuf_send(&ctl, MSG_CTL_SHUTDOWN, 0, -1, NULL, 0);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return 0;
}
