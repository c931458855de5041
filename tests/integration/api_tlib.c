/*
 * api_tlib: processes, the scripted router, HTTP and the file endpoint
 * stand-in for the api process tests (see api_tlib.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "api_tlib.h"

int tl_failures;
long tl_http_timeout_ms = 60000;
struct tl_router TR = {.mu = PTHREAD_MUTEX_INITIALIZER};

extern char **environ;

int64_t
tl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tl_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static char tl_dir[512];

static int
tl_rm(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path) == -1 ? 0 : 0;
}

static void
tl_cleanup(void)
{
	if (tl_dir[0] != '\0')
		(void)nftw(tl_dir, tl_rm, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
tl_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	if (tl_dir[0] != '\0')
		return tl_dir;
	snprintf(tl_dir, sizeof(tl_dir), "%s/api-test-XXXXXX",
	    t != NULL && t[0] != '\0' ? t : "/tmp");
	if (mkdtemp(tl_dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	chmod(tl_dir, 0755);
	atexit(tl_cleanup);
	return tl_dir;
}

/* ---- processes ------------------------------------------------------------ */

static char **
tl_env(char *const extra[])
{
	size_t n = 0, m = 0, i;
	char **envp;

	while (environ[n] != NULL)
		n++;
	while (extra != NULL && extra[m] != NULL)
		m++;
	if ((envp = calloc(n + m + 1, sizeof(*envp))) == NULL)
		exit(2);
	for (i = 0; i < m; i++)
		envp[i] = extra[i];
	for (i = 0; i < n; i++)
		envp[m + i] = environ[i];
	return envp;
}

/* fork + exec argv with stdout/stderr to log and fds moved as asked. */
static pid_t
tl_spawn(char *const argv[], char *const extra_env[], const char *log,
    const int *fds, int nfds)
{
	char **envp = tl_env(extra_env);
	int i, lfd, moved[8];
	pid_t pid;

	if ((pid = fork()) == -1) {
		perror("fork");
		exit(2);
	}
	if (pid > 0) {
		free(envp);
		return pid;
	}
	if ((lfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1)
		_exit(126);
	for (i = 0; i < nfds; i++) /* out of the way first */
		moved[i] = fcntl(fds[i], F_DUPFD, 100);
	dup2(lfd, 1);
	dup2(lfd, 2);
	for (i = 0; i < nfds; i++)
		dup2(moved[i], 3 + i);
	closefrom(3 + nfds);
	signal(SIGPIPE, SIG_DFL);
	execve(argv[0], argv, envp);
	_exit(127);
}

int
tl_backend(struct tl_proc *p, const char *bin, char *const env[])
{
	return tl_backend_opt(p, bin, env, "127.0.0.1:0", NULL);
}

int
tl_backend_opt(struct tl_proc *p, const char *bin, char *const env[],
    const char *addr, const char *const *args)
{
	char pf[600], buf[32], *argv[16], tok[64], *extra[16];
	int64_t t0 = tl_now_ms();
	size_t i, n = 0;
	FILE *f;

	memset(p, 0, sizeof(*p));
	snprintf(
	    pf, sizeof(pf), "%s/port.%ld.%d", tl_tmpdir(), (long)t0, rand());
	snprintf(p->log, sizeof(p->log), "%s.log", pf);
	snprintf(tok, sizeof(tok), "LOCALAI_GRPC_AUTH_TOKEN=%s", TL_TOKEN);
	extra[n++] = tok;
	for (i = 0; env != NULL && env[i] != NULL && n < 15; i++)
		extra[n++] = env[i];
	extra[n] = NULL;
	argv[0] = (char *)(uintptr_t)bin;
	argv[1] = "--addr";
	argv[2] = (char *)(uintptr_t)addr;
	argv[3] = "--port-file";
	argv[4] = pf;
	argv[5] = "--grace-ms";
	argv[6] = "500";
	for (i = 0, n = 7; args != NULL && args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)(uintptr_t)args[i];
	argv[n] = NULL;
	p->pid = tl_spawn(argv, extra, p->log, NULL, 0);
	while (tl_now_ms() - t0 < 10000) {
		if ((f = fopen(pf, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				p->port = atoi(buf);
			fclose(f);
			if (p->port > 0) {
				snprintf(p->addr, sizeof(p->addr),
				    "127.0.0.1:%d", p->port);
				return 0;
			}
		}
		tl_sleep_ms(10);
	}
	fprintf(stderr, "backend %s did not start (log %s)\n", bin, p->log);
	return -1;
}

static int
tl_wait(pid_t pid, int timeout_ms)
{
	int64_t t0 = tl_now_ms();
	int st;

	while (tl_now_ms() - t0 < timeout_ms) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
			                     : 128 + WTERMSIG(st);
		tl_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 137;
}

int
tl_proc_stop(struct tl_proc *p)
{
	int rc;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	rc = tl_wait(p->pid, 10000);
	p->pid = 0;
	return rc;
}

void
tl_proc_kill(struct tl_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGKILL);
	(void)tl_wait(p->pid, 5000);
	p->pid = 0;
}

void
tl_dead_addr(char *buf, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	close(fd);
	snprintf(buf, len, "127.0.0.1:%d", ntohs(sin.sin_port));
}

/* ---- the router ------------------------------------------------------------ */

#define TL_LINKS 8
#define TL_PEND 256

struct tl_link {
	int used;
	struct msgbuf mb;
};

struct tl_pend {
	int64_t due;
	int link;
	uint32_t peerid;
	int waits;
	struct msg_place p;
};

static struct tl_link tl_links[TL_LINKS];
static struct tl_pend tl_pend[TL_PEND];
static int tl_npend;
static int tl_wake[2];

static void
tl_kick(void)
{
	char c = 1;

	(void)write(tl_wake[1], &c, 1);
}

static int
tl_link_add(int fd)
{
	int i;

	pthread_mutex_lock(&TR.mu);
	for (i = 0; i < TL_LINKS && tl_links[i].used; i++)
		;
	if (i < TL_LINKS) {
		tl_links[i].used = 1;
		msgbuf_init(&tl_links[i].mb, fd);
	}
	pthread_mutex_unlock(&TR.mu);
	tl_kick();
	return i < TL_LINKS ? i : -1;
}

static void
tl_link_close(int i)
{
	close(tl_links[i].mb.fd);
	msgbuf_clear(&tl_links[i].mb);
	tl_links[i].used = 0;
}

void
tl_router_drop_links(void)
{
	int i;

	pthread_mutex_lock(&TR.mu);
	for (i = 0; i < TL_LINKS; i++)
		if (tl_links[i].used)
			tl_link_close(i);
	tl_npend = 0;
	TR.n_inflight = 0; /* the "new router" knows nothing */
	pthread_mutex_unlock(&TR.mu);
	tl_kick();
}

static void
tl_send(int link, uint32_t type, uint32_t peerid, const void *d, size_t n)
{
	if (link < 0 || link >= TL_LINKS || !tl_links[link].used)
		return;
	if (msgbuf_send(&tl_links[link].mb, type, peerid, -1, d, n) == -1)
		fprintf(stderr, "router: send: %s\n", strerror(errno));
}

/* The answer to one PLACE, now (TR.mu held). */
static void
tl_answer(struct tl_pend *q)
{
	struct msg_place_ok ok;
	struct msg_place_wait w;
	int i;

	if (q->waits > 0) {
		memset(&w, 0, sizeof(w));
		memcpy(w.request_id, q->p.request_id, sizeof(w.request_id));
		w.progress_pct = 50;
		snprintf(w.state, sizeof(w.state), "loading");
		tl_send(q->link, MSG_PLACE_WAIT, q->peerid, &w, sizeof(w));
		return;
	}
	if (TR.mode == TL_REJECT) {
		memcpy(TR.reject.request_id, q->p.request_id, 64);
		tl_send(q->link, MSG_PLACE_REJECT, q->peerid, &TR.reject,
		    sizeof(TR.reject));
		return;
	}
	i = (int)q->p.attempt < TR.naddr ? (int)q->p.attempt : TR.naddr - 1;
	memset(&ok, 0, sizeof(ok));
	memcpy(ok.request_id, q->p.request_id, sizeof(ok.request_id));
	ok.replica_id = (uint64_t)i + 1;
	snprintf(ok.node_id, sizeof(ok.node_id), "node-%d", i);
	snprintf(ok.node_name, sizeof(ok.node_name), "worker-%d", i);
	snprintf(ok.address, sizeof(ok.address), "%s", TR.addrs[i]);
	snprintf(
	    ok.http_address, sizeof(ok.http_address), "%s", TR.http_address);
	snprintf(ok.token, sizeof(ok.token), "%s", TL_TOKEN);
	snprintf(ok.backend, sizeof(ok.backend), "fake");
	for (i = 0; i < TR.n_inflight; i++)
		if (strcmp(TR.inflight[i], ok.request_id) == 0)
			TR.bad++; /* granted twice */
	if (TR.n_inflight < TL_MAX_REC)
		memcpy(TR.inflight[TR.n_inflight++], ok.request_id, 64);
	tl_send(q->link, MSG_PLACE_OK, q->peerid, &ok, sizeof(ok));
}

static void
tl_on_place(int link, uint32_t peerid, const struct msg_place *p)
{
	struct tl_pend q;

	if (TR.n_place < TL_MAX_REC)
		TR.places[TR.n_place] = *p;
	TR.n_place++;
	if (TR.mode == TL_SILENT)
		return;
	memset(&q, 0, sizeof(q));
	q.link = link;
	q.peerid = peerid;
	q.p = *p;
	q.waits = TR.waits;
	q.due = tl_now_ms() + TR.delay_ms;
	if (q.waits == 0 && TR.delay_ms == 0) {
		tl_answer(&q);
		return;
	}
	if (q.waits > 0) { /* the first WAIT at once */
		tl_answer(&q);
		q.waits--;
	}
	if (tl_npend < TL_PEND)
		tl_pend[tl_npend++] = q;
}

static void
tl_on_done(const struct msg_done *d)
{
	int i;

	if (TR.n_done < TL_MAX_REC)
		TR.dones[TR.n_done] = *d;
	TR.n_done++;
	for (i = 0; i < TR.n_inflight; i++)
		if (strncmp(TR.inflight[i], d->request_id, 64) == 0) {
			memmove(TR.inflight[i], TR.inflight[i + 1],
			    (size_t)(TR.n_inflight - i - 1) * 64);
			TR.n_inflight--;
			return;
		}
	fprintf(stderr, "router: DONE for unknown request %s\n", d->request_id);
	TR.bad++;
}

static void
tl_on_http(int link, uint32_t peerid, const struct msg *m)
{
	const struct msg_http_req *req = (const void *)m->data;
	static const char ready[] = "{\"status\":\"ready\"}";
	struct msg_http_resp h;
	char *buf;
	size_t n = strlen(TR.http_body);

	/* Readiness is the router's to say: this one is always ready. */
	if (strcmp(req->path, "/readyz") == 0) {
		memset(&h, 0, sizeof(h));
		h.status = 200;
		snprintf(
		    h.content_type, sizeof(h.content_type), "application/json");
		h.body_len = sizeof(ready) - 1;
		if ((buf = malloc(sizeof(h) + h.body_len)) == NULL)
			exit(2);
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), ready, h.body_len);
		tl_send(
		    link, MSG_HTTP_RESP, peerid, buf, sizeof(h) + h.body_len);
		free(buf);
		return;
	}
	if (TR.n_http < 16)
		memcpy(&TR.http[TR.n_http], m->data, sizeof(TR.http[0]));
	TR.n_http++;
	n = m->hdr.len - sizeof(struct msg_http_req);
	if (n >= sizeof(TR.http_req_body))
		n = sizeof(TR.http_req_body) - 1;
	memcpy(TR.http_req_body, m->data + sizeof(struct msg_http_req), n);
	TR.http_req_body[n] = '\0';
	memset(&h, 0, sizeof(h));
	h.status = TR.http_status;
	snprintf(h.content_type, sizeof(h.content_type), "%s", TR.http_ctype);
	h.body_len = (uint32_t)strlen(TR.http_body);
	if ((buf = malloc(sizeof(h) + h.body_len)) == NULL)
		exit(2);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), TR.http_body, h.body_len);
	tl_send(link, MSG_HTTP_RESP, peerid, buf, sizeof(h) + h.body_len);
	free(buf);
}

static void
tl_dispatch(int link, struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_PLACE:
		CHECK(m->hdr.len == sizeof(struct msg_place), "PLACE size");
		tl_on_place(link, m->hdr.peerid, (void *)m->data);
		break;
	case MSG_DONE:
		CHECK(m->hdr.len == sizeof(struct msg_done), "DONE size");
		tl_on_done((void *)m->data);
		break;
	case MSG_REPLICA_FAIL:
		CHECK(m->hdr.len == sizeof(struct msg_replica_fail), "size");
		if (TR.n_fail < 64)
			TR.fails[TR.n_fail] =
			    *(struct msg_replica_fail *)(void *)m->data;
		TR.n_fail++;
		break;
	case MSG_HTTP_REQ:
		tl_on_http(link, m->hdr.peerid, m);
		break;
	case MSG_METRICS_SNAP:
		/* The api's metrics, once a second: only the size matters here. */
		CHECK(
		    m->hdr.len == sizeof(struct metrics_snap), "snapshot size");
		break;
	default:
		CHECK(0, "router got message type %u", m->hdr.type);
	}
}

/* Due delayed answers (TR.mu held); the ms until the next one. */
static int
tl_due(void)
{
	int64_t now = tl_now_ms(), next = -1;
	int i;

	for (i = 0; i < tl_npend;) {
		if (tl_pend[i].due <= now) {
			tl_answer(&tl_pend[i]);
			if (tl_pend[i].waits > 0) {
				tl_pend[i].waits--;
				tl_pend[i].due = now + 50;
			} else {
				tl_pend[i] = tl_pend[--tl_npend];
				continue;
			}
		}
		if (next == -1 || tl_pend[i].due - now < next)
			next = tl_pend[i].due - now;
		i++;
	}
	return (int)next;
}

static void
tl_read_link(int i)
{
	struct msg m;
	ssize_t n;

	n = msgbuf_read(&tl_links[i].mb);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		tl_link_close(i);
		return;
	}
	while (msgbuf_get(&tl_links[i].mb, &m) == 1) {
		tl_dispatch(i, &m);
		msg_free(&m);
	}
}

static void *
tl_router_main(void *arg)
{
	struct pollfd pfd[TL_LINKS + 1];
	int i, n, idx[TL_LINKS], timeout;
	char buf[64];

	for (;;) {
		pthread_mutex_lock(&TR.mu);
		timeout = tl_due();
		pfd[0].fd = tl_wake[0];
		pfd[0].events = POLLIN;
		for (i = 0, n = 1; i < TL_LINKS; i++)
			if (tl_links[i].used) {
				pfd[n].fd = tl_links[i].mb.fd;
				pfd[n].events = POLLIN;
				idx[n - 1] = i;
				n++;
			}
		pthread_mutex_unlock(&TR.mu);
		if (poll(pfd, (nfds_t)n, timeout) == -1 && errno != EINTR)
			exit(2);
		if (pfd[0].revents & POLLIN)
			(void)read(tl_wake[0], buf, sizeof(buf));
		pthread_mutex_lock(&TR.mu);
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0 && tl_links[idx[i - 1]].used &&
			    tl_links[idx[i - 1]].mb.fd == pfd[i].fd)
				tl_read_link(idx[i - 1]);
		pthread_mutex_unlock(&TR.mu);
	}
	return NULL;
}

void
tl_router_start(void)
{
	pthread_t t;

	if (pipe2(tl_wake, O_CLOEXEC | O_NONBLOCK) == -1)
		exit(2);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&t, NULL, tl_router_main, NULL);
	pthread_detach(t);
}

void
tl_router_reset(const char *addr)
{
	pthread_mutex_lock(&TR.mu);
	TR.mode = TL_GRANT;
	snprintf(TR.addrs[0], sizeof(TR.addrs[0]), "%s", addr);
	TR.naddr = 1;
	TR.waits = 0;
	TR.delay_ms = 0;
	TR.n_place = TR.n_done = TR.n_fail = TR.n_http = 0;
	TR.bad = 0;
	TR.http_status = 200;
	snprintf(TR.http_ctype, sizeof(TR.http_ctype), "application/json");
	snprintf(TR.http_body, sizeof(TR.http_body), "{}");
	tl_npend = 0;
	pthread_mutex_unlock(&TR.mu);
}

int
tl_router_idle(int timeout_ms)
{
	int64_t t0 = tl_now_ms();
	int n;

	for (;;) {
		pthread_mutex_lock(&TR.mu);
		n = TR.n_inflight;
		pthread_mutex_unlock(&TR.mu);
		if (n == 0)
			return 0;
		if (tl_now_ms() - t0 > timeout_ms)
			return -1;
		tl_sleep_ms(10);
	}
}

/* ---- the api process ------------------------------------------------------ */

void
tl_conf(struct conf *c)
{
	conf_defaults(c);
	c->generation = 1;
	c->verbose = 2;
	c->insecure = 1;
	snprintf(c->frontend.listen, sizeof(c->frontend.listen), "127.0.0.1:0");
	c->frontend.n_api_keys = 1;
	conf_hash_key(TL_KEY, strlen(TL_KEY), c->frontend.api_keys[0]);
	c->frontend.body_max = 64 * 1024;
	c->frontend.string_max = 32 * 1024;
	c->frontend.json_depth_max = 16;
	c->frontend.upload_max = 1024 * 1024;
	c->frontend.body_timeout_ms = 1500;
	c->frontend.first_token_ms = 2000;
	c->frontend.request_timeout_ms = 20000;
	c->frontend.queue_wait_ms = 3000;
	c->frontend.load_wait_ms = 3000;
	c->frontend.retries = 2;
	c->frontend.max_concurrent = 256;
}

void
tl_model(struct conf_model *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->backend, sizeof(m->backend), "fake");
	snprintf(m->model, sizeof(m->model), "%s.bin", name);
	snprintf(m->source, sizeof(m->source), "test:1");
}

static int
tl_listen(int *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 512) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Wait for one control message of type want; 0 or -1. */
static int
tl_ctl_expect(struct tl_api *a, uint32_t want)
{
	struct msg m;
	int r;

	for (;;) {
		if ((r = msgbuf_recv(&a->cmb, &m, 15000)) != 1) {
			fprintf(stderr, "api: no message %u (log %s)\n", want,
			    a->proc.log);
			return -1;
		}
		r = m.hdr.type == want;
		msg_free(&m);
		if (r)
			return 0;
	}
}

int
tl_api_relink(struct tl_api *a)
{
	struct msg_peer peer = {PEER_ROUTER, 0};
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	a->link = tl_link_add(sp[0]);
	if (msgbuf_send(&a->cmb, MSG_PEER_FD, 0, sp[1], &peer, sizeof(peer)) ==
	    -1)
		return -1;
	close(sp[1]);
	return 0;
}

static int
tl_api_config(struct tl_api *a, const struct conf *c,
    const struct conf_model *models, size_t n)
{
	struct msg_cfg_done done = {c->generation, (uint32_t)n};
	size_t i;

	if (msgbuf_send(&a->cmb, MSG_CFG_MAIN, 0, -1, c, sizeof(*c)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (msgbuf_send(&a->cmb, MSG_CFG_MODEL, 0, -1, &models[i],
		        sizeof(models[i])) == -1)
			return -1;
	if (msgbuf_send(&a->cmb, MSG_CFG_DONE, 0, -1, &done, sizeof(done)) ==
	    -1)
		return -1;
	return tl_ctl_expect(a, MSG_CFG_ACK);
}

int
tl_api_reload(struct tl_api *a, const struct conf *c,
    const struct conf_model *models, size_t n)
{
	return tl_api_config(a, c, models, n);
}

int
tl_api_start(struct tl_api *a, const char *localai, const struct conf *c,
    const struct conf_model *models, size_t n)
{
	char *argv[] = {
	    (char *)(uintptr_t)localai, "-P", "api", "-R", "frontend", NULL};
	int sp[2], lfd, fds[2];

	memset(a, 0, sizeof(*a));
	if ((lfd = tl_listen(&a->proc.port)) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		return -1;
	snprintf(a->proc.log, sizeof(a->proc.log), "%s/api.%d.log", tl_tmpdir(),
	    a->proc.port);
	snprintf(a->base, sizeof(a->base), "http://127.0.0.1:%d", a->proc.port);
	fds[0] = sp[1];
	fds[1] = lfd;
	a->proc.pid = tl_spawn(argv, NULL, a->proc.log, fds, 2);
	close(sp[1]);
	close(lfd);
	a->ctl = sp[0];
	msgbuf_init(&a->cmb, a->ctl);
	if (tl_api_config(a, c, models, n) == -1 || tl_api_relink(a) == -1 ||
	    tl_ctl_expect(a, MSG_CTL_READY) == -1)
		return -1;
	return 0;
}

int
tl_api_stop(struct tl_api *a)
{
	int rc;

	(void)msgbuf_send(&a->cmb, MSG_CTL_SHUTDOWN, 0, -1, NULL, 0);
	kill(a->proc.pid, SIGTERM);
	rc = tl_wait(a->proc.pid, 10000);
	close(a->ctl);
	msgbuf_clear(&a->cmb);
	return rc;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct tl_io {
	struct tl_resp *r;
	size_t abort_after;
	size_t hlen;
};

static size_t
tl_write(char *d, size_t s, size_t n, void *arg)
{
	struct tl_io *io = arg;
	char *b;

	if ((b = realloc(io->r->body, io->r->len + s * n + 1)) == NULL)
		return 0;
	io->r->body = b;
	memcpy(b + io->r->len, d, s * n);
	io->r->len += s * n;
	b[io->r->len] = '\0';
	if (io->abort_after > 0 && io->r->len >= io->abort_after)
		return 0;
	return s * n;
}

static size_t
tl_hdr(char *d, size_t s, size_t n, void *arg)
{
	struct tl_io *io = arg;
	size_t k = s * n;

	if (io->hlen + k < sizeof(io->r->headers)) {
		memcpy(io->r->headers + io->hlen, d, k);
		io->hlen += k;
		io->r->headers[io->hlen] = '\0';
	}
	return k;
}

int
tl_http(const struct tl_api *a, const char *method, const char *path,
    const char *const *hdrs, const char *body, size_t len, size_t abort_after,
    struct tl_resp *r)
{
	struct curl_slist *sl = NULL;
	struct tl_io io = {r, abort_after, 0};
	char url[1024];
	int64_t t0 = tl_now_ms();
	CURLcode cc;
	CURL *h;

	memset(r, 0, sizeof(*r));
	if ((h = curl_easy_init()) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", a->base, path);
	while (hdrs != NULL && *hdrs != NULL)
		sl = curl_slist_append(sl, *hdrs++);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tl_http_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tl_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &io);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, tl_hdr);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &io);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(
		    h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(sl);
	curl_easy_cleanup(h);
	r->ms = tl_now_ms() - t0;
	if (r->body == NULL)
		r->body = calloc(1, 1);
	if (cc == CURLE_OPERATION_TIMEDOUT && tl_http_timeout_ms < 60000)
		return 0; /* the caller hung up on purpose */
	if (cc != CURLE_OK && !(abort_after > 0 && cc == CURLE_WRITE_ERROR))
		return -1;
	return 0;
}

int
tl_post(const struct tl_api *a, const char *path, const char *json,
    struct tl_resp *r)
{
	static const char *const h[] = {"Authorization: Bearer " TL_KEY,
	    "Content-Type: application/json", NULL};

	return tl_http(a, "POST", path, h, json, strlen(json), 0, r);
}

void
tl_resp_free(struct tl_resp *r)
{
	free(r->body);
	r->body = NULL;
}

const char *
tl_header(const struct tl_resp *r, const char *name, char *buf, size_t len)
{
	const char *p = r->headers, *e;
	size_t n = strlen(name);

	while ((p = strcasestr(p, name)) != NULL) {
		if ((p == r->headers || p[-1] == '\n') && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " ");
			e = p + strcspn(p, "\r\n");
			snprintf(buf, len, "%.*s", (int)(e - p), p);
			return buf;
		}
		p += n;
	}
	return NULL;
}

int
tl_sse_text(const char *body, char *out, size_t len, int *events, int *done)
{
	const char *p = body, *e, *s;
	json_t *o, *ch;
	size_t n = 0;
	char line[8192];

	*events = 0;
	*done = 0;
	out[0] = '\0';
	while (*p != '\0') {
		e = p + strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
		p = *e != '\0' ? e + 1 : e;
		if (strncmp(line, "data: ", 6) != 0)
			continue;
		(*events)++;
		if (strcmp(line + 6, "[DONE]") == 0) {
			*done = 1;
			continue;
		}
		if ((o = json_loads(line + 6, 0, NULL)) == NULL)
			return -1;
		ch = json_array_get(json_object_get(o, "choices"), 0);
		s = json_string_value(
		    json_object_get(json_object_get(ch, "delta"), "content"));
		if (s == NULL)
			s = json_string_value(json_object_get(ch, "text"));
		if (s != NULL && n + strlen(s) < len) {
			memcpy(out + n, s, strlen(s) + 1);
			n += strlen(s);
		}
		json_decref(o);
	}
	return 0;
}

/* ---- the file endpoint stand-in --------------------------------------- */

struct tl_up {
	int fd;
	char path[600];
};

static int tl_files_seq;

static enum MHD_Result
tl_files_reply(struct MHD_Connection *c, unsigned st, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, st, r);

	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
tl_files_get(struct MHD_Connection *c, const char *path)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		return tl_files_reply(c, 404, "{}");
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
tl_files(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **cc)
{
	const char *auth =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	struct tl_up *u = *cc;
	char body[1400], path[700];
	int fd;

	if (u == NULL) {
		u = calloc(1, sizeof(*u));
		u->fd = -1;
		*cc = u;
		return MHD_YES;
	}
	if (auth == NULL || strcmp(auth, "Bearer " TL_TOKEN) != 0)
		return tl_files_reply(c, 401, "{}");
	if (strncmp(url, "/v1/files/", 10) != 0 || strchr(url + 10, '/'))
		return tl_files_reply(c, 404, "{}");
	snprintf(path, sizeof(path), "%s/%s", tl_tmpdir(), url + 10);
	if (strcmp(method, "POST") == 0 && strcmp(url + 10, "temp") == 0) {
		snprintf(path, sizeof(path), "%s/tmp-%d", tl_tmpdir(),
		    __atomic_add_fetch(&tl_files_seq, 1, __ATOMIC_RELAXED));
		if ((fd = open(path, O_CREAT | O_WRONLY, 0644)) != -1)
			close(fd);
		snprintf(body, sizeof(body),
		    "{\"key\":\"%s\",\"local_path\":"
		    "\"%s\"}",
		    strrchr(path, '/') + 1, path);
		return tl_files_reply(c, 200, body);
	}
	if (strcmp(method, "PUT") == 0) {
		if (u->fd == -1) {
			snprintf(u->path, sizeof(u->path), "%s", path);
			u->fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
		}
		if (*size > 0) {
			(void)write(u->fd, data, *size);
			*size = 0;
			return MHD_YES;
		}
		snprintf(body, sizeof(body),
		    "{\"key\":\"%s\",\"local_path\":"
		    "\"%s\"}",
		    url + 10, u->path);
		return tl_files_reply(c, 201, body);
	}
	if (strcmp(method, "GET") == 0)
		return tl_files_get(c, path);
	return tl_files_reply(c, 405, "{}");
}

static void
tl_files_done(void *cls, struct MHD_Connection *c, void **cc,
    enum MHD_RequestTerminationCode toe)
{
	struct tl_up *u = *cc;

	if (u != NULL && u->fd != -1)
		close(u->fd);
	free(u);
	*cc = NULL;
}

const char *
tl_files_start(void)
{
	static char addr[64];
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *di;

	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
	    NULL, NULL, tl_files, NULL, MHD_OPTION_NOTIFY_COMPLETED,
	    tl_files_done, NULL, MHD_OPTION_END);
	if (d == NULL ||
	    (di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL)
		return NULL;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", di->port);
	return addr;
}
