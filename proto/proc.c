/*
 * proc: the child side of the supervisor's control channel (see proc.h).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/msgbuf.h"
#include "proto/proc.h"

#define PROC_CONFIG_TIMEOUT_MS 30000

_Static_assert(
    sizeof(struct conf) <= MSG_MAX_PAYLOAD, "struct conf must fit one message");
_Static_assert(sizeof(struct conf_model) <= MSG_MAX_PAYLOAD,
    "struct conf_model must fit one message");

static struct msgbuf proc_mb;
static struct proc_handlers proc_h;
static volatile sig_atomic_t proc_sigterm;
static int proc_stopping; /* shutdown seen and handled */

static struct conf proc_cf; /* the configuration in force */
static struct conf_models proc_cms;
static struct conf proc_cf_new; /* one being received */
static struct conf_models proc_cms_new;
static int proc_cf_have_main;

static void
proc_models_clear(struct conf_models *cms)
{
	free(cms->models);
	cms->models = NULL;
	cms->n = 0;
}

static void
proc_sig_term(int sig)
{
	(void)sig;
	proc_sigterm = 1;
}

static int
proc_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = proc_sig_term; /* no SA_RESTART: poll sees EINTR */
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	return 0;
}

static int
proc_send_ack(void)
{
	struct msg_cfg_done ack;

	ack.generation = proc_cf.generation;
	ack.n_models = proc_cms.n;
	return proc_send(MSG_CFG_ACK, 0, -1, &ack, sizeof(ack));
}

static int
proc_cfg_main(const struct msg *m)
{
	if (msg_check_len(m, sizeof(struct conf)) == -1)
		return -1;
	memcpy(&proc_cf_new, m->data, sizeof(proc_cf_new));
	proc_models_clear(&proc_cms_new);
	proc_cf_have_main = 1;
	return 0;
}

static int
proc_cfg_model(const struct msg *m)
{
	struct conf_model *cm;

	if (msg_check_len(m, sizeof(struct conf_model)) == -1)
		return -1;
	if (!proc_cf_have_main || proc_cms_new.n >= CONF_MAX_MODELS) {
		log_warnx("protocol error: model config out of sequence");
		return -1;
	}
	cm = reallocarray(proc_cms_new.models, proc_cms_new.n + 1, sizeof(*cm));
	if (cm == NULL) {
		log_warn("model configs");
		return -1;
	}
	memcpy(&cm[proc_cms_new.n], m->data, sizeof(*cm));
	proc_cms_new.models = cm;
	proc_cms_new.n++;
	return 0;
}

/* MSG_CFG_DONE: the set is complete; apply it and acknowledge. */
static int
proc_cfg_done(const struct msg *m)
{
	struct msg_cfg_done done;

	if (msg_check_len(m, sizeof(done)) == -1)
		return -1;
	memcpy(&done, m->data, sizeof(done));
	if (!proc_cf_have_main || done.n_models != proc_cms_new.n ||
	    done.generation != proc_cf_new.generation) {
		log_warnx("protocol error: configuration %u incomplete "
		          "(%u of %u models)",
		    done.generation, proc_cms_new.n, done.n_models);
		return -1;
	}
	proc_models_clear(&proc_cms);
	proc_cf = proc_cf_new;
	proc_cms = proc_cms_new;
	memset(&proc_cms_new, 0, sizeof(proc_cms_new));
	proc_cf_have_main = 0;
	log_setverbose(proc_cf.verbose);
	log_debug("configuration %u applied, %u models", proc_cf.generation,
	    proc_cms.n);
	return proc_send_ack();
}

static int
proc_pong(const struct msg *m)
{
	if (msg_check_len(m, sizeof(struct msg_ctl_ping)) == -1)
		return -1;
	return proc_send(MSG_CTL_PONG, m->hdr.peerid, -1, m->data,
	    sizeof(struct msg_ctl_ping));
}

static int
proc_verbose(const struct msg *m)
{
	struct msg_ctl_verbose v;

	if (msg_check_len(m, sizeof(v)) == -1)
		return -1;
	memcpy(&v, m->data, sizeof(v));
	log_setverbose(v.verbose);
	return 0;
}

/* Messages proc handles itself at any time; 1 when m was not one. */
static int
proc_handle_common(const struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_CTL_PING:
		return proc_pong(m);
	case MSG_CTL_VERBOSE:
		return proc_verbose(m);
	case MSG_CFG_MAIN:
		return proc_cfg_main(m);
	case MSG_CFG_MODEL:
		return proc_cfg_model(m);
	default:
		return 1;
	}
}

int
proc_init(const char *name)
{
	struct msg m;
	int r, done = 0;

	log_procinit(name);
	msgbuf_init(&proc_mb, PROC_CTL_FD);
	if (fcntl(PROC_CTL_FD, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(PROC_CTL_FD, F_SETFL, O_NONBLOCK) == -1) {
		log_warn("control socket (fd %d)", PROC_CTL_FD);
		return -1;
	}
	if (proc_signals() == -1) {
		log_warn("sigaction");
		return -1;
	}
	while (!done) {
		if ((r = msgbuf_recv(&proc_mb, &m, PROC_CONFIG_TIMEOUT_MS)) <=
		    0) {
			if (r == 0)
				errno = ETIMEDOUT;
			log_warn("waiting for the configuration");
			return -1;
		}
		if (m.hdr.type == MSG_CFG_DONE) {
			r = proc_cfg_done(&m);
			done = 1;
		} else if ((r = proc_handle_common(&m)) == 1) {
			log_warnx("protocol error: message %u before the "
			          "configuration",
			    m.hdr.type);
			r = -1;
		}
		msg_free(&m);
		if (r == -1)
			return -1;
	}
	return 0;
}

void
proc_set_handlers(const struct proc_handlers *h)
{
	proc_h = *h;
}

static void
proc_shutdown_once(void)
{
	if (proc_stopping)
		return;
	proc_stopping = 1;
	log_debug("shutting down on the supervisor's request");
	if (proc_h.shutdown != NULL)
		proc_h.shutdown(proc_h.arg);
}

static int
proc_peer(struct msg *m)
{
	struct msg_peer peer;

	if (msg_check_len(m, sizeof(peer)) == -1)
		return -1;
	if (m->fd == -1) {
		log_warnx("protocol error: peer message without a socket");
		return -1;
	}
	memcpy(&peer, m->data, sizeof(peer));
	if (proc_h.peer_fd == NULL) {
		log_warnx("peer socket (kind %u) not wanted here", peer.kind);
		return 0; /* msg_free() closes it */
	}
	proc_h.peer_fd(m->fd, &peer, proc_h.arg);
	m->fd = -1;
	return 0;
}

static int
proc_handle(struct msg *m)
{
	int r;

	if ((r = proc_handle_common(m)) != 1)
		return r;
	switch (m->hdr.type) {
	case MSG_CFG_DONE:
		if (proc_cfg_done(m) == -1)
			return -1;
		if (proc_h.reload != NULL)
			proc_h.reload(proc_h.arg);
		return 0;
	case MSG_CTL_SHUTDOWN:
		proc_shutdown_once();
		return 0;
	case MSG_PEER_FD:
		return proc_peer(m);
	default:
		if (proc_h.message != NULL)
			return proc_h.message(m, proc_h.arg);
		log_warnx("protocol error: unexpected message %u from the "
		          "supervisor",
		    m->hdr.type);
		return -1;
	}
}

/* Handle every whole message already buffered; 0 or -1. */
static int
proc_drain(void)
{
	struct msg m;
	int r;

	while ((r = msgbuf_get(&proc_mb, &m)) == 1) {
		r = proc_handle(&m);
		msg_free(&m);
		if (r == -1)
			return -1;
	}
	if (r == -1)
		log_warn("control socket");
	return r;
}

int
proc_dispatch(void)
{
	ssize_t n;

	if (proc_sigterm)
		proc_shutdown_once();
	if (proc_drain() == -1)
		return -1;
	n = msgbuf_read(&proc_mb);
	if (n == 0) {
		log_warnx("the supervisor closed the control socket");
		return -1;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		log_warn("control socket");
		return -1;
	}
	return proc_drain();
}

int
proc_ready(void)
{
	if (proc_send(MSG_CTL_READY, 0, -1, NULL, 0) == -1)
		return -1;
	return proc_drain();
}

int
proc_fd(void)
{
	return PROC_CTL_FD;
}

int
proc_send(uint32_t type, uint32_t peerid, int fd, const void *data, size_t len)
{
	if (msgbuf_send(&proc_mb, type, peerid, fd, data, len) == -1) {
		log_warn("control socket: send message %u", type);
		return -1;
	}
	return 0;
}

int
proc_status(const char *fmt, ...)
{
	struct msg_ctl_status st;
	va_list ap;

	memset(&st, 0, sizeof(st));
	va_start(ap, fmt);
	vsnprintf(st.text, sizeof(st.text), fmt, ap);
	va_end(ap);
	return proc_send(MSG_CTL_STATUS, 0, -1, &st, sizeof(st));
}

int
proc_shutting_down(void)
{
	if (proc_sigterm)
		proc_shutdown_once();
	return proc_stopping;
}

const struct conf *
proc_conf(void)
{
	return &proc_cf;
}

const struct conf_models *
proc_models(void)
{
	return &proc_cms;
}
