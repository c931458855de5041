/*
 * The supervisor: one single-threaded ppoll() loop that spawns the core
 * children of a role (fork + exec of our own binary), talks to each over
 * a socketpair, hands out peer sockets, restarts children through the
 * state machine in child.c, supervises the worker's backend processes
 * for its agent, and reports to systemd (notify.c).
 *
 * It never initialises libmicrohttpd, gRPC, nats.c or libpq: they start
 * threads, and a forking supervisor must stay single-threaded.
 *
 * Signals are blocked except inside ppoll(); their handlers only set
 * flags, which the loop reads after ppoll() returns.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/msg.h"
#include "proto/msgbuf.h"
#include "proto/proc.h"
#include "supervisor/child.h"
#include "supervisor/status.h"
#include "supervisor/sup.h"

#define SUP_PING_INTERVAL_MS 5000
#define SUP_PING_TIMEOUT_MS 15000
#define SUP_RELOAD_ACK_MS 10000 /* wait this long for CFG_ACKs */

static struct {
	enum conf_role role;
	char conf_path[PATH_MAX];
	int path_given;
	int verbose_flag;
	struct conf conf;
	struct conf_models models;
	struct sup_children children;
	int stopping; /* shutdown begun */
	int exit_code;
	int ready_sent; /* READY=1 sent once */
	int started; /* children after the services spawned */
	int64_t started_at;
	uint32_t reload_gen; /* waiting for acks of it; 0 none */
	int64_t reload_deadline;
	int64_t watchdog_ms;
	int64_t next_watchdog;
	sigset_t ppoll_mask; /* the mask while waiting */
	struct pollfd *pfd; /* poll arrays, poll_cap entries */
	struct sup_child **who;
	size_t poll_cap;
	char child_status[320]; /* last MSG_CTL_STATUS, named */
	const struct sup_child *child_status_from;
} sup;

static volatile sig_atomic_t sup_got_chld, sup_got_hup, sup_got_term;

static void sup_stop(int, const char *);

int64_t
sup_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
sup_min(int64_t a, int64_t b)
{
	if (a == -1)
		return b;
	if (b == -1)
		return a;
	return a < b ? a : b;
}

int
sup_has_ctl(const struct sup_child *c)
{
	return c->kind == SUP_API || c->kind == SUP_ROUTER ||
	       c->kind == SUP_AGENT_FE || c->kind == SUP_AGENT_WK;
}

int
sup_is_service(const struct sup_child *c)
{
	return c->kind == SUP_PG || c->kind == SUP_NATS;
}

/* What READY=1 waits for: every child but the backends. */
static int
sup_is_core(const struct sup_child *c)
{
	return c->kind != SUP_BACKEND;
}

static void
sup_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		sup_got_chld = 1;
		break;
	case SIGHUP:
		sup_got_hup = 1;
		break;
	default:
		sup_got_term = 1;
		break;
	}
}

/* Block our signals outside ppoll() and install flag-setting handlers. */
static int
sup_signals(void)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
	struct sigaction sa;
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &block, &sup.ppoll_mask) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sup_signal;
	sa.sa_flags = SA_NOCLDSTOP;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigdelset(&sup.ppoll_mask, sigs[i]);
		if (sigaction(sigs[i], &sa, NULL) == -1)
			return -1;
	}
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* ---- children ------------------------------------------------------------ */

int
sup_is_stopping(void)
{
	return sup.stopping;
}

int
sup_is_reloading(void)
{
	return sup.reload_gen != 0;
}

enum conf_role
sup_role(void)
{
	return sup.role;
}

const struct conf *
sup_conf(void)
{
	return &sup.conf;
}

int64_t
sup_started_at(void)
{
	return sup.started_at;
}

struct sup_children *
sup_children(void)
{
	return &sup.children;
}

struct sup_child *
sup_child_new(enum sup_kind kind, uint32_t instance, const char *name)
{
	struct sup_child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("calloc");
	c->kind = kind;
	c->instance = instance;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->pid = c->last_pid = -1;
	msgbuf_init(&c->mb, -1);
	child_sm_init(&c->sm);
	c->kill_at = c->ping_sent = -1;
	TAILQ_INSERT_TAIL(&sup.children, c, entry);
	return c;
}

void
sup_child_free(struct sup_child *c)
{
	TAILQ_REMOVE(&sup.children, c, entry);
	if (c->mb.fd != -1)
		close(c->mb.fd);
	msgbuf_clear(&c->mb);
	free(c);
}

static void
sup_channel_close(struct sup_child *c)
{
	if (c->mb.fd == -1)
		return;
	close(c->mb.fd);
	msgbuf_clear(&c->mb);
	msgbuf_init(&c->mb, -1);
}

/* ---- messages to children ---------------------------------------------- */

/*
 * A child broke the protocol, cannot be talked to or hangs: kill it.
 * One that was asked to stop is only cut off: its socket breaks because
 * it is exiting, and its SIGKILL deadline is already set.
 */
void
sup_child_kill(struct sup_child *c, const char *why)
{
	if (c->stopping && c->kill_at != -1) {
		log_debug(
		    "%s[%d]: %s while stopping", c->name, (int)c->pid, why);
		sup_channel_close(c);
		return;
	}
	log_warnx("%s[%d]: %s; SIGKILL", c->name, (int)c->pid, why);
	sup_channel_close(c);
	if (c->pid != -1)
		(void)kill(-c->pid, SIGKILL);
	c->doomed = 1;
}

void
sup_compose(struct sup_child *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	if (c->mb.fd == -1)
		return;
	if (msgbuf_compose(&c->mb, type, peerid, fd, data, len) == -1)
		sup_child_kill(c, "cannot queue a message");
}

static void
sup_send_config(struct sup_child *c)
{
	struct msg_cfg_done done;
	struct conf cf = sup.conf;
	uint32_t i;

	/* An api process holds no database or NATS credentials. */
	if (c->kind == SUP_API) {
		memset(cf.frontend.database_url, 0,
		    sizeof(cf.frontend.database_url));
		memset(cf.nats_url, 0, sizeof(cf.nats_url));
	}
	if (c->kind == SUP_AGENT_WK && sup.role == ROLE_STANDALONE)
		sup_sa_worker_conf(&cf);
	sup_compose(c, MSG_CFG_MAIN, 0, -1, &cf, sizeof(cf));
	for (i = 0; i < sup.models.n; i++)
		sup_compose(c, MSG_CFG_MODEL, i, -1, &sup.models.models[i],
		    sizeof(sup.models.models[i]));
	done.generation = sup.conf.generation;
	done.n_models = sup.models.n;
	sup_compose(c, MSG_CFG_DONE, 0, -1, &done, sizeof(done));
}

static uint32_t
sup_peer_kind(const struct sup_child *c)
{
	switch (c->kind) {
	case SUP_API:
		return PEER_API;
	case SUP_ROUTER:
		return PEER_ROUTER;
	default:
		return PEER_AGENT;
	}
}

/* api <-> router and router <-> frontend agent talk directly. */
static int
sup_are_peers(const struct sup_child *a, const struct sup_child *b)
{
	if (b->kind == SUP_ROUTER) {
		const struct sup_child *t = a;

		a = b;
		b = t;
	}
	return a->kind == SUP_ROUTER &&
	       (b->kind == SUP_API || b->kind == SUP_AGENT_FE);
}

/* A fresh socketpair between two running peers, one end to each. */
static void
sup_link(struct sup_child *a, struct sup_child *b)
{
	struct msg_peer pa, pb;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("peer socket %s <-> %s", a->name, b->name);
		return;
	}
	pa.kind = sup_peer_kind(b);
	pa.instance = b->instance;
	pb.kind = sup_peer_kind(a);
	pb.instance = a->instance;
	sup_compose(a, MSG_PEER_FD, 0, sv[0], &pa, sizeof(pa));
	sup_compose(b, MSG_PEER_FD, 0, sv[1], &pb, sizeof(pb));
	close(sv[0]);
	close(sv[1]);
	log_debug("peer link %s <-> %s", a->name, b->name);
}

static void
sup_link_peers(struct sup_child *c)
{
	struct sup_child *p;

	TAILQ_FOREACH(p, &sup.children, entry)
	{
		if (p != c && p->mb.fd != -1 && !p->stopping &&
		    sup_are_peers(c, p))
			sup_link(c, p);
	}
}

struct sup_child *
sup_worker_agent(void)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (c->kind == SUP_AGENT_WK)
			return c;
	}
	return NULL;
}

/* ---- spawning ----------------------------------------------------------- */

static void
sup_spawned(struct sup_child *c, int ctl, int64_t now)
{
	msgbuf_init(&c->mb, ctl);
	c->doomed = 0;
	c->kill_at = c->ping_sent = -1;
	c->acked = 0;
	child_sm_spawned(&c->sm, now);
	if (c->sm.restarts > 0)
		log_info("%s[%d]: STARTING (restart %u)", c->name, (int)c->pid,
		    c->sm.restarts);
	else
		log_info("%s[%d]: STARTING", c->name, (int)c->pid);
	if (c->kind == SUP_BACKEND) {
		sup_be_spawned(c, now);
		return;
	}
	if (sup_is_service(c))
		return; /* sup_svc_probe() watches it start */
	sup_send_config(c);
	sup_link_peers(c);
	if (c->kind == SUP_AGENT_WK)
		sup_be_snapshot();
}

void
sup_spawn(struct sup_child *c, int64_t now)
{
	int ctl;

	c->pid = c->last_pid = sup_fork_exec(c, &ctl, &c->exec_errno);
	if (c->exec_errno != 0)
		log_warnx("%s[%d]: cannot execute %s: %s", c->name, (int)c->pid,
		    c->kind == SUP_BACKEND ? c->be.run_path
		    : sup_is_service(c)    ? sup_svc_path(c)
		                           : sup_exec_path(),
		    strerror(c->exec_errno));
	sup_spawned(c, ctl, now);
}

/* ---- exits -------------------------------------------------------------- */

static void
sup_describe_status(int wstatus, char *buf, size_t len)
{
	if (WIFEXITED(wstatus))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(wstatus),
		    sigabbrev_np(WTERMSIG(wstatus))
		        ? sigabbrev_np(WTERMSIG(wstatus))
		        : "?",
		    WCOREDUMP(wstatus) ? ", core dumped" : "");
	else
		snprintf(buf, len, "wait status %#x", wstatus);
}

static void
sup_core_exited(struct sup_child *c, int wstatus, int64_t now)
{
	struct child_verdict v;

	if (c->stopping || sup.stopping) {
		child_sm_stopped(&c->sm);
		log_info("%s: STOPPED", c->name);
		return;
	}
	v = child_sm_exited(&c->sm, now, wstatus, arc4random(), 0);
	if (v.kind == CHILD_EXIT_CONF) {
		log_warnx("%s: FAILED: configuration error (exit %d), not "
		          "restarted",
		    c->name, CHILD_EXIT_CONFIG);
		sup_stop(CHILD_EXIT_CONFIG, "a core process has a "
		                            "configuration error");
	} else if (v.early && v.kind != CHILD_EXIT_TEMP) {
		log_warnx("%s: FAILED: died before it was ready", c->name);
		sup_stop(1, "a core process died before it was ready");
	} else if (v.loop) {
		log_warnx("%s: FAILED: %d crashes within %d s", c->name,
		    CHILD_LOOP_CRASHES, CHILD_LOOP_WINDOW_MS / 1000);
		sup_stop(1, "a core process is crash-looping");
	} else
		log_info("%s: BACKOFF %lld ms%s", c->name, (long long)v.wait_ms,
		    v.kind == CHILD_EXIT_TEMP
		        ? " (temporary failure, not counted)"
		        : "");
}

static void
sup_exited(struct sup_child *c, int wstatus, int64_t now)
{
	char desc[96];

	sup_describe_status(wstatus, desc, sizeof(desc));
	log_info("%s[%d]: EXITED, %s", c->name, (int)c->pid, desc);
	c->exited = 1;
	c->last_wstatus = wstatus;
	/* Helpers it left behind in its group go with it. */
	(void)kill(-c->pid, SIGKILL);
	sup_channel_close(c);
	c->pid = -1;
	c->kill_at = c->ping_sent = -1;
	if (sup.child_status_from == c) {
		sup.child_status[0] = '\0';
		sup.child_status_from = NULL;
	}
	if (c->kind == SUP_BACKEND)
		sup_be_exited(c, wstatus, now);
	else {
		sup_svc_exited(c);
		sup_core_exited(c, wstatus, now);
	}
}

static struct sup_child *
sup_find_pid(pid_t pid)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (c->pid == pid)
			return c;
	}
	return NULL;
}

/* Reap every dead child, ours or adopted (we are a subreaper). */
static void
sup_reap(int64_t now)
{
	struct sup_child *c;
	pid_t pid;
	int wstatus;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
		if ((c = sup_find_pid(pid)) != NULL)
			sup_exited(c, wstatus, now);
		else
			log_debug("reaped orphaned descendant %d", (int)pid);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

/* ---- stopping ----------------------------------------------------------- */

void
sup_child_stop(struct sup_child *c, int64_t now)
{
	if (sup_is_service(c)) {
		sup_svc_stop(c, now);
		return;
	}
	c->stopping = 1;
	if (c->pid == -1) {
		child_sm_stopped(&c->sm);
		return;
	}
	if (c->mb.fd != -1)
		sup_compose(c, MSG_CTL_SHUTDOWN, 0, -1, NULL, 0);
	if (kill(-c->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("%s[%d]: SIGTERM", c->name, (int)c->pid);
	c->stop_at = now;
	c->kill_at = now + SUP_KILL_AFTER_MS;
}

/*
 * Begin the shutdown: STOPPING=1, no more respawns, children stopped in
 * the order of stop.c (each SIGTERM, SIGKILL later); the loop ends when
 * every child has been reaped.  The first exit code set wins.
 */
static void
sup_stop(int code, const char *why)
{
	if (sup.stopping)
		return;
	sup.stopping = 1;
	sup.exit_code = code;
	log_info("stopping: %s", why);
	sup_notify_stopping();
	sup_stop_begin(sup.role, sup.conf.worker.drain_timeout_ms, sup_now());
}

/* ---- messages from children -------------------------------------------- */

static int
sup_all_core_ready(void)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_is_core(c) && c->sm.state != CHILD_READY)
			return 0;
	}
	return 1;
}

void
sup_child_ready(struct sup_child *c, int64_t now)
{
	child_sm_ready(&c->sm, now);
	c->next_ping = now + SUP_PING_INTERVAL_MS;
	log_info("%s[%d]: READY", c->name, (int)c->pid);
	if (!sup.ready_sent && sup_all_core_ready()) {
		sup.ready_sent = 1;
		log_info("all core processes ready");
		sup_notify_ready();
	}
}

/* Every running core child acknowledged the reload, or time is up. */
static void
sup_reload_check(int64_t now)
{
	struct sup_child *c;
	int missing = 0;

	if (sup.reload_gen == 0)
		return;
	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_has_ctl(c) && c->mb.fd != -1 &&
		    c->acked < sup.reload_gen)
			missing++;
	}
	if (missing > 0 && now < sup.reload_deadline)
		return;
	if (missing > 0)
		log_warnx("configuration %u: %d processes did not acknowledge "
		          "it within %d s",
		    sup.reload_gen, missing, SUP_RELOAD_ACK_MS / 1000);
	log_info("configuration %u in force", sup.reload_gen);
	sup.reload_gen = 0;
	if (sup.ready_sent)
		sup_notify_ready();
}

static int
sup_handle_ctl(struct sup_child *c, const struct msg *m, int64_t now)
{
	struct msg_ctl_status st;
	struct msg_ctl_ping pong;
	struct msg_cfg_done ack;

	switch (m->hdr.type) {
	case MSG_CTL_READY:
		if (msg_check_len(m, 0) == -1)
			return -1;
		if (c->sm.state == CHILD_STARTING)
			sup_child_ready(c, now);
		return 0;
	case MSG_CTL_PONG:
		if (msg_check_len(m, sizeof(pong)) == -1)
			return -1;
		memcpy(&pong, m->data, sizeof(pong));
		if (pong.seq == c->ping_seq)
			c->ping_sent = -1;
		return 0;
	case MSG_CTL_STATUS:
		if (msg_check_len(m, sizeof(st)) == -1)
			return -1;
		memcpy(&st, m->data, sizeof(st));
		MSG_TERMINATE(st.text);
		log_info("%s: status: %s", c->name, st.text);
		snprintf(sup.child_status, sizeof(sup.child_status), "%s: %s",
		    c->name, st.text);
		sup.child_status_from = c;
		return 0;
	case MSG_CFG_ACK:
		if (msg_check_len(m, sizeof(ack)) == -1)
			return -1;
		memcpy(&ack, m->data, sizeof(ack));
		c->acked = ack.generation;
		log_debug("%s: configuration %u acknowledged", c->name,
		    ack.generation);
		sup_reload_check(now);
		return 0;
	}
	return 1;
}

static int
sup_handle(struct sup_child *c, const struct msg *m, int64_t now)
{
	int r;

	if ((r = sup_handle_ctl(c, m, now)) != 1)
		return r;
	if (c->kind == SUP_AGENT_WK && m->hdr.type == MSG_BE_START) {
		if (msg_check_len(m, sizeof(struct msg_be_start)) == -1)
			return -1;
		sup_be_start(m, now);
		return 0;
	}
	if (c->kind == SUP_AGENT_WK && m->hdr.type == MSG_BE_STOP) {
		if (msg_check_len(m, sizeof(struct msg_be_id)) == -1)
			return -1;
		sup_be_stop(m, now);
		return 0;
	}
	log_warnx("%s: unexpected message type %u", c->name, m->hdr.type);
	return -1;
}

/* The control socket of c is readable. */
static void
sup_child_input(struct sup_child *c, int64_t now)
{
	struct msg m;
	ssize_t n;
	int r;

	n = msgbuf_read(&c->mb);
	if (n == 0) {
		log_debug(
		    "%s[%d]: control socket closed", c->name, (int)c->pid);
		sup_channel_close(c);
		/* It is exiting; if it is not, it gets 5 s to do so. */
		if (c->kill_at == -1) {
			c->stop_at = now;
			c->kill_at = now + SUP_KILL_AFTER_MS;
		}
		return;
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		sup_child_kill(c, errno == EBADMSG ? "protocol error"
		                                   : "control socket error");
		return;
	}
	while (c->mb.fd != -1 && (r = msgbuf_get(&c->mb, &m)) != 0) {
		if (r == -1) {
			sup_child_kill(c, "protocol error");
			return;
		}
		r = sup_handle(c, &m, now);
		msg_free(&m);
		if (r == -1) {
			sup_child_kill(c, "protocol error");
			return;
		}
	}
}

/* ---- timers -------------------------------------------------------------- */

/* Ping a READY core child every 5 s; SIGKILL it after 15 s of silence. */
static int64_t
sup_ping(struct sup_child *c, int64_t now)
{
	struct msg_ctl_ping ping;

	if (c->sm.state != CHILD_READY || c->stopping || c->doomed ||
	    c->mb.fd == -1)
		return -1;
	if (c->ping_sent != -1) {
		if (now - c->ping_sent < SUP_PING_TIMEOUT_MS)
			return c->ping_sent + SUP_PING_TIMEOUT_MS;
		log_warnx("%s[%d]: no answer to ping in %d s", c->name,
		    (int)c->pid, SUP_PING_TIMEOUT_MS / 1000);
		sup_child_kill(c, "hung");
		return -1;
	}
	if (now < c->next_ping)
		return c->next_ping;
	ping.seq = ++c->ping_seq;
	sup_compose(c, MSG_CTL_PING, 0, -1, &ping, sizeof(ping));
	c->ping_sent = now;
	c->next_ping = now + SUP_PING_INTERVAL_MS;
	return c->ping_sent + SUP_PING_TIMEOUT_MS;
}

static int64_t
sup_child_timers(struct sup_child *c, int64_t now)
{
	if (c->pid == -1) {
		if (sup.stopping || c->stopping)
			return -1;
		if (child_sm_due(&c->sm, now)) {
			sup_spawn(c, now);
			return now; /* look again at once */
		}
		return c->sm.next_at;
	}
	if (c->kill_at != -1) {
		if (now < c->kill_at)
			return sup_min(c->kill_at, sup_ping(c, now));
		log_warnx("%s[%d]: still running %lld s after SIGTERM or "
		          "closing its socket; SIGKILL",
		    c->name, (int)c->pid,
		    (long long)(now - c->stop_at + 500) / 1000);
		(void)kill(-c->pid, SIGKILL);
		c->kill_at = -1;
		return -1;
	}
	if (sup_is_service(c))
		return sup_svc_probe(c, now);
	return sup_has_ctl(c) ? sup_ping(c, now) : -1;
}

/*
 * WATCHDOG=1 only while every running READY core child answers its
 * pings: a ping outstanding for a whole interval withholds it.
 */
static int
sup_healthy(int64_t now)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (!sup_has_ctl(c) || c->pid == -1)
			continue;
		if (c->doomed ||
		    (c->ping_sent != -1 &&
		        now - c->ping_sent >= SUP_PING_INTERVAL_MS))
			return 0;
	}
	return 1;
}

static int64_t
sup_watchdog(int64_t now)
{
	if (sup.watchdog_ms <= 0)
		return -1;
	if (now < sup.next_watchdog)
		return sup.next_watchdog;
	if (sup_healthy(now))
		sup_notify_watchdog();
	else
		log_debug("watchdog withheld: a core process is not "
		          "answering");
	sup.next_watchdog = now + sup.watchdog_ms;
	return sup.next_watchdog;
}

/* Run what is due; returns the next deadline (-1 none). */
static int64_t
sup_timers(int64_t now)
{
	struct sup_child *c, *next;
	int64_t deadline = -1;

	for (c = TAILQ_FIRST(&sup.children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		deadline = sup_min(deadline, sup_child_timers(c, now));
	}
	deadline = sup_min(deadline, sup_watchdog(now));
	deadline = sup_min(deadline, sup_ctl_timers(now));
	if (sup.reload_gen != 0) {
		sup_reload_check(now);
		if (sup.reload_gen != 0)
			deadline = sup_min(deadline, sup.reload_deadline);
	}
	return deadline;
}

/* ---- configuration -------------------------------------------------------- */

/* Load configuration and models; 0, or -1 with the reason logged. */
static int
sup_load(struct conf *nc, struct conf_models *nm)
{
	struct conf_error err;

	memset(&err, 0, sizeof(err));
	if (conf_load(sup.conf_path, sup.path_given, nc, &err) == -1) {
		log_warnx("%s", err.text);
		return -1;
	}
	if (conf_load_models(nc, nm) == -1) {
		log_warnx("%s: cannot load the model configs", nc->path);
		return -1;
	}
	if (sup.verbose_flag >= 0)
		nc->verbose = sup.verbose_flag;
	if (sup.role != ROLE_WORKER)
		sup_gallery_default(nc);
	if (sup.role == ROLE_STANDALONE)
		sup_sa_apply(nc); /* a no-op before sup_sa_setup() */
	return 0;
}

/*
 * SIGHUP: parse again; a configuration that fails keeps the running one.
 * The process layout (listen address, api_workers) and the instance id
 * stay as started: changing them needs a restart.
 */
static void
sup_reload(int64_t now)
{
	struct conf nc;
	struct conf_models nm;
	struct sup_child *c;

	sup_notify_reloading();
	log_info("reloading %s", sup.conf_path);
	memset(&nm, 0, sizeof(nm));
	if (sup_load(&nc, &nm) == -1) {
		log_warnx("reload failed; keeping configuration %u",
		    sup.conf.generation);
		if (sup.ready_sent)
			sup_notify_ready();
		return;
	}
	if (strcmp(nc.frontend.listen, sup.conf.frontend.listen) != 0 ||
	    nc.frontend.api_workers != sup.conf.frontend.api_workers)
		log_warnx("reload: listen address and api_workers take effect "
		          "only after a restart");
	memcpy(nc.frontend.listen, sup.conf.frontend.listen,
	    sizeof(nc.frontend.listen));
	nc.frontend.api_workers = sup.conf.frontend.api_workers;
	memcpy(nc.instance_id, sup.conf.instance_id, sizeof(nc.instance_id));
	nc.generation = sup.conf.generation + 1;
	conf_models_free(&sup.models);
	sup.conf = nc;
	sup.models = nm;
	log_setverbose(sup.conf.verbose);
	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_has_ctl(c) && c->mb.fd != -1)
			sup_send_config(c);
	}
	sup.reload_gen = sup.conf.generation;
	sup.reload_deadline = now + SUP_RELOAD_ACK_MS;
	sup_reload_check(now);
}

/* ---- setup and the loop ------------------------------------------------------ */

static void
sup_create_children(void)
{
	char name[32];
	uint32_t i;
	long ncpu;

	if (sup.role == ROLE_FRONTEND || sup.role == ROLE_STANDALONE) {
		if (sup.conf.frontend.api_workers == 0) {
			ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			sup.conf.frontend.api_workers =
			    ncpu > 0 ? (uint32_t)ncpu : 1;
		}
		for (i = 0; i < sup.conf.frontend.api_workers; i++) {
			snprintf(name, sizeof(name), "api.%u", i);
			(void)sup_child_new(SUP_API, i, name);
		}
		(void)sup_child_new(SUP_ROUTER, 0, "router");
		(void)sup_child_new(SUP_AGENT_FE, 0, "agent");
	}
	if (sup.role == ROLE_WORKER)
		(void)sup_child_new(SUP_AGENT_WK, 0, "agent");
	if (sup.role == ROLE_STANDALONE)
		(void)sup_child_new(SUP_AGENT_WK, 0, "worker-agent");
}

const char *
sup_role_name(enum conf_role role)
{
	switch (role) {
	case ROLE_FRONTEND:
		return "frontend";
	case ROLE_WORKER:
		return "worker";
	case ROLE_STANDALONE:
		return "standalone";
	default:
		return "?";
	}
}

/* Everything before the first spawn; returns an exit code, or 0. */
static int
sup_setup(char *argv0)
{
	int fd;

	struct conf_error err;

	memset(&sup.models, 0, sizeof(sup.models));
	if (sup_load(&sup.conf, &sup.models) == -1)
		return CHILD_EXIT_CONFIG;
	memset(&err, 0, sizeof(err));
	if (conf_check_role(&sup.conf, sup.role, &err) == -1) {
		log_warnx("%s", err.text);
		return CHILD_EXIT_CONFIG;
	}
	log_setverbose(sup.conf.verbose);
	/* An empty instance_id: one random UUID, kept across reloads. */
	if (sup.conf.instance_id[0] == '\0' &&
	    conf_random_uuid(
	        sup.conf.instance_id, sizeof(sup.conf.instance_id)) == -1)
		fatal("getrandom");
	sup.conf.generation = 1;
	if (sup_spawn_init(argv0) == -1)
		return 1;
	sup_notify_init();
	sup.watchdog_ms = sup_notify_watchdog_ms();
	fd =
	    sup_listen_setup(sup.conf.frontend.listen, sup.role != ROLE_WORKER);
	if (fd == -2)
		return CHILD_EXIT_CONFIG;
	if (fd == -3)
		return 1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");
	if (sup_signals() == -1)
		fatal("signals");
	/* The private servers go first in the list, and start first. */
	if (sup.role == ROLE_STANDALONE && sup_sa_setup(&sup.conf, fd) == -1)
		return 1;
	sup_create_children();
	sup_ctl_open(sup.conf.state_dir);
	return 0;
}

static void
sup_status(void)
{
	struct sup_child *c;
	unsigned core = 0, ready = 0, be = 0, be_up = 0, be_failed = 0;
	char text[160];

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_is_core(c)) {
			core++;
			ready += c->sm.state == CHILD_READY;
			continue;
		}
		be++;
		be_up += c->pid != -1;
		be_failed += c->sm.state == CHILD_FAILED;
	}
	if (sup.stopping) {
		sup_notify_status("stopping");
		return;
	}
	if (be == 0)
		snprintf(text, sizeof(text), "%s: %u/%u core processes ready",
		    sup_role_name(sup.role), ready, core);
	else
		snprintf(text, sizeof(text),
		    "%s: %u/%u core processes ready; "
		    "backends: %u running, %u failed, %u total",
		    sup_role_name(sup.role), ready, core, be_up, be_failed, be);
	if (sup.child_status[0] != '\0')
		sup_notify_status("%s; %s", text, sup.child_status);
	else
		sup_notify_status("%s", text);
}

/*
 * The private servers come first: the frontend and worker processes
 * start once every service accepts connections (at once without any).
 */
static void
sup_start_rest(int64_t now)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_is_service(c) && c->sm.state != CHILD_READY)
			return;
	}
	sup.started = 1;
	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (!sup_is_service(c) && c->kind != SUP_BACKEND)
			sup_spawn(c, now);
	}
}

static int
sup_alive(void)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (c->pid != -1)
			return 1;
	}
	return 0;
}

/* Room for n entries in the poll arrays. */
static void
sup_poll_reserve(size_t n)
{
	struct pollfd *p;
	struct sup_child **w;

	if (n <= sup.poll_cap)
		return;
	n += 16;
	if ((p = reallocarray(sup.pfd, n, sizeof(*p))) == NULL)
		fatal("poll array");
	sup.pfd = p;
	if ((w = reallocarray(sup.who, n, sizeof(*w))) == NULL)
		fatal("poll array");
	sup.who = w;
	sup.poll_cap = n;
}

/* Wait for input, a signal or the next deadline, then handle input. */
static void
sup_poll(int64_t deadline)
{
	struct pollfd *pfd;
	struct sup_child *c;
	struct timespec ts, *tsp = NULL;
	int64_t now = sup_now(), wait;
	nfds_t n = 0, i, nctl;

	TAILQ_FOREACH(c, &sup.children, entry)
	n++;
	sup_poll_reserve(n + 1 + SUP_STATUS_CLIENTS);
	pfd = sup.pfd;
	n = 0;
	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (c->mb.fd == -1)
			continue;
		pfd[n].fd = c->mb.fd;
		pfd[n].events =
		    POLLIN | (msgbuf_pending(&c->mb) > 0 ? POLLOUT : 0);
		sup.who[n++] = c;
	}
	if (deadline != -1) {
		wait = deadline > now ? deadline - now : 0;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000;
		tsp = &ts;
	}
	nctl = sup_ctl_pollfds(&pfd[n]);
	if (ppoll(pfd, n + nctl, tsp, &sup.ppoll_mask) == -1) {
		if (errno != EINTR)
			fatal("ppoll");
		return;
	}
	now = sup_now();
	for (i = 0; i < n; i++) {
		c = sup.who[i];
		if ((pfd[i].revents & POLLOUT) && c->mb.fd != -1 &&
		    msgbuf_flush(&c->mb) == -1)
			sup_child_kill(c, "cannot write to it");
		if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    c->mb.fd != -1)
			sup_child_input(c, now);
	}
	sup_ctl_handle(&pfd[n], nctl, now);
}

/* Write what was queued this round without waiting for POLLOUT. */
static void
sup_flush_all(void)
{
	struct sup_child *c;

	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (c->mb.fd != -1 && msgbuf_pending(&c->mb) > 0 &&
		    msgbuf_flush(&c->mb) == -1)
			sup_child_kill(c, "cannot write to it");
	}
}

static void
sup_cleanup(void)
{
	struct sup_child *c;

	/* Adopted descendants that died meanwhile. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	sup_ctl_close();
	while ((c = TAILQ_FIRST(&sup.children)) != NULL)
		sup_child_free(c);
	conf_models_free(&sup.models);
	sup_spawn_cleanup();
	free(sup.pfd);
	free(sup.who);
}

int
sup_main(enum conf_role role, const char *conf_path, int path_given,
    int verbose_flag, char *argv0)
{
	struct sup_child *c;
	int64_t now, deadline;
	int r;

	memset(&sup, 0, sizeof(sup));
	TAILQ_INIT(&sup.children);
	sup.role = role;
	snprintf(sup.conf_path, sizeof(sup.conf_path), "%s", conf_path);
	sup.path_given = path_given;
	sup.verbose_flag = verbose_flag;
	log_procinit("supervisor");
	sup.started_at = sup_now();
	if ((r = sup_setup(argv0)) != 0) {
		sup_cleanup();
		return r;
	}
	log_info("%s supervisor started, configuration %s", sup_role_name(role),
	    sup.conf.path);
	now = sup_now();
	TAILQ_FOREACH(c, &sup.children, entry)
	{
		if (sup_is_service(c))
			sup_spawn(c, now);
	}
	for (;;) {
		now = sup_now();
		if (sup_got_term) {
			sup_got_term = 0;
			if (sup.stopping)
				sup_stop_hurry(now);
			sup_stop(0, "signal received");
		}
		if (sup_got_chld) {
			sup_got_chld = 0;
			sup_reap(now);
		}
		if (sup_got_hup) {
			sup_got_hup = 0;
			if (!sup.stopping)
				sup_reload(now);
		}
		if (sup.stopping)
			sup_stop_step(now);
		else if (!sup.started)
			sup_start_rest(now);
		if (sup.stopping && !sup_alive())
			break;
		deadline = sup_timers(now);
		sup_status();
		sup_flush_all();
		sup_poll(deadline);
	}
	log_info("stopped, exit %d", sup.exit_code);
	sup_cleanup();
	return sup.exit_code;
}
