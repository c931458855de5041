/*
 * Supervisor internals shared by its files:
 *	main.c		flags, roles, `-P <proc>` dispatch
 *	proc.c		the loop: core children, peers, pings, reload, stop
 *	spawn.c		fork + exec of a child, its fds and environment;
 *			the listening socket the api processes share
 *	backend.c	backend processes run for the worker agent
 *	stop.c		the order in which a role's children are stopped
 *	standalone.c	standalone mode: generated secrets, the settings
 *			its frontend and local worker share
 *	svc.c		standalone's private PostgreSQL and nats-server
 *	child.c		the child state machine (pure)
 *	notify.c	systemd's notify protocol
 */
#ifndef LOCALAI_SUP_H
#define LOCALAI_SUP_H

#include <sys/types.h>
#include <sys/queue.h>

#include <poll.h>
#include <stdint.h>

#include "proto/msg.h"
#include "proto/msgbuf.h"
#include "supervisor/child.h"
#include "supervisor/config.h"

/*
 * Test-only: when set, core children are started by exec'ing this program
 * instead of /proc/self/exe (tests/fakes/fakeproc).  Never set it in
 * production; the supervisor logs a warning when it is.
 */
#define SUP_TEST_CHILD_EXEC_ENV "LOCALAI_TEST_CHILD_EXEC"

#define LOCALAI_VERSION "0.1.0"

#define SUP_KILL_AFTER_MS 5000 /* SIGTERM -> SIGKILL */
#define SUP_MAX_BACKENDS 128

/* What a supervised process is. */
enum sup_kind {
	SUP_API, /* api.N: HTTP, shares the listening socket */
	SUP_ROUTER, /* router */
	SUP_AGENT_FE, /* the frontend's agent (NATS for the router) */
	SUP_AGENT_WK, /* the worker's agent: asks for backends */
	SUP_BACKEND, /* a backend process, for the worker agent */
	SUP_PG, /* standalone: the private PostgreSQL */
	SUP_NATS, /* standalone: the private nats-server */
};

struct sup_svc;

struct sup_child {
	TAILQ_ENTRY(sup_child) entry;
	enum sup_kind kind;
	uint32_t instance; /* api index */
	char name[160]; /* in logs: api.0, router, backend X */
	pid_t pid; /* -1 when not running */
	pid_t last_pid;
	struct msgbuf mb; /* control channel, mb.fd -1 closed */
	struct child_sm sm;
	int stopping; /* asked to stop: never respawn */
	int remove; /* backend: forget once reaped */
	int doomed; /* SIGKILLed for not answering */
	int exec_errno; /* exec failed with this errno */
	int exited; /* it exited at least once */
	int last_wstatus; /* and this was its wait status */
	int64_t kill_at; /* SIGKILL deadline, -1 none */
	int64_t stop_at; /* when it was asked to stop */
	uint64_t ping_seq;
	int64_t ping_sent; /* outstanding ping, -1 none */
	int64_t next_ping;
	uint32_t acked; /* configuration generation acked */
	struct msg_be_start be; /* backends: how to run it */
	struct sup_svc *svc; /* services: how to run and probe it */
};

TAILQ_HEAD(sup_children, sup_child);

/*
 * proc.c.  sup_main() runs the supervisor of one role until it stops and
 * returns the exit code (0 clean stop, 1 a core child failed, 78
 * configuration error).  verbose_flag is -1 when no -v/-d was given.
 */
int sup_main(enum conf_role role, const char *conf_path, int path_given,
    int verbose_flag, char *argv0);
int64_t sup_now(void);
int sup_is_stopping(void);
int sup_is_reloading(void);
enum conf_role sup_role(void);
const struct conf *sup_conf(void);
int64_t sup_started_at(void);
struct sup_children *sup_children(void);
struct sup_child *sup_child_new(
    enum sup_kind kind, uint32_t instance, const char *name);
void sup_child_free(struct sup_child *c);
void sup_spawn(struct sup_child *c, int64_t now);
/* SIGTERM to its group (and MSG_CTL_SHUTDOWN), SIGKILL 5 s later. */
void sup_child_stop(struct sup_child *c, int64_t now);
/* Queue a message to a child; a failure kills the child. */
void sup_compose(struct sup_child *c, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len);
struct sup_child *sup_worker_agent(void);
/* api, router and agents: a control channel, READY, pings. */
int sup_has_ctl(const struct sup_child *c);
/* The private PostgreSQL or nats-server of standalone mode. */
int sup_is_service(const struct sup_child *c);
/* SIGKILL the group of a child that cannot be talked to or is hung. */
void sup_child_kill(struct sup_child *c, const char *why);
/* Log READY for c and send READY=1 when every core child is ready. */
void sup_child_ready(struct sup_child *c, int64_t now);
const char *sup_role_name(enum conf_role role);

/* spawn.c */
int sup_spawn_init(char *argv0);
void sup_spawn_cleanup(void);
const char *sup_exec_path(void);
/*
 * fork + exec c.  Returns the pid (fatal on fork failure); *ctl is the
 * supervisor's end of the control socket (-1 for backends); *exec_errno
 * is set when exec failed (the child then exits 127).
 */
pid_t sup_fork_exec(const struct sup_child *c, int *ctl, int *exec_errno);
/*
 * The api processes' listening socket (only when wanted): the fd, -1
 * none, -2 bad configuration, -3 cannot open it.
 */
int sup_listen_setup(const char *listen, int wanted);
void sup_listen_close(void);

/*
 * stop.c: the shutdown order.  The worker agent goes first and gets
 * worker.drain_timeout + 5 s to drain (backends keep serving meanwhile),
 * then every other child but the services, then the services.
 */
void sup_stop_begin(
    enum conf_role role, uint32_t drain_timeout_ms, int64_t now);
/* Move to the next phase when the current one is done. */
void sup_stop_step(int64_t now);
/* A second SIGTERM/SIGINT: do not wait for the drain. */
void sup_stop_hurry(int64_t now);

/*
 * standalone.c.  sup_sa_setup() prepares standalone mode once, before
 * any child starts: the state directory, the generated secrets (created
 * on first start, printed once, reused later), the private PostgreSQL and
 * nats-server unless database_url / nats_url are configured, and the
 * local worker's settings.  sup_sa_apply() puts the results into a
 * configuration (at start and after each reload).  0, or -1 (logged).
 */
int sup_sa_setup(struct conf *cf, int listen_fd);
void sup_sa_apply(struct conf *cf);
/* The configuration the standalone's worker agent gets. */
void sup_sa_worker_conf(struct conf *cf);
/*
 * Every role that serves a frontend: when frontend.gallery_dir is the
 * default and holds no index.json, serve the gallery installed beside
 * the binary (<prefix>/share/localai/gallery, or build/gallery).
 */
void sup_gallery_default(struct conf *cf);

/*
 * svc.c: the private services.  Setup runs before the loop (initdb on
 * first start) and creates their children; the rest runs from the loop.
 */
int sup_svc_pg_setup(const char *state_dir, char *url, size_t urllen);
int sup_svc_nats_setup(const char *state_dir, const char *password,
    uint16_t port, char *url, size_t urllen);
/* In the forked child, before anything else: become the service user. */
int sup_svc_drop_privileges(const struct sup_child *c);
/* In the forked child: exec the service (returns only on failure). */
void sup_svc_exec(const struct sup_child *c);
const char *sup_svc_path(const struct sup_child *c);
/*
 * A STARTING service: check whether it accepts connections yet, without
 * blocking.  Returns the time of the next check; calls sup_child_ready()
 * when it does, and kills it when it takes too long.
 */
int64_t sup_svc_probe(struct sup_child *c, int64_t now);
/* Stop it the way it likes best (PostgreSQL: SIGINT, a fast shutdown). */
void sup_svc_stop(struct sup_child *c, int64_t now);
void sup_svc_exited(struct sup_child *c);
/* A free loopback TCP port: the one given if it is free, else any. */
uint16_t sup_svc_free_port(uint16_t want);

/*
 * ctl.c: the control socket <state_dir>/control.sock that `localai
 * status` reads (protocol in supervisor/status.h).  Never blocks, never
 * reads from a client.
 */
void sup_ctl_open(const char *state_dir);
void sup_ctl_close(void);
/* Fill pfd (room for 1 + SUP_STATUS_CLIENTS); returns the count. */
size_t sup_ctl_pollfds(struct pollfd *pfd);
void sup_ctl_handle(const struct pollfd *pfd, size_t n, int64_t now);
int64_t sup_ctl_timers(int64_t now);
/* The status document of this supervisor: its length, or -1. */
int sup_status_render(char *buf, size_t cap);

/* backend.c */
void sup_be_start(const struct msg *m, int64_t now);
void sup_be_stop(const struct msg *m, int64_t now);
void sup_be_spawned(struct sup_child *c, int64_t now);
void sup_be_exited(struct sup_child *c, int wstatus, int64_t now);
/* A (re)started worker agent learns about the backends still around. */
void sup_be_snapshot(void);

/* notify.c: the sd_notify protocol, no-ops without $NOTIFY_SOCKET. */
void sup_notify_init(void);
/* Interval at which to send WATCHDOG=1 (half systemd's), 0 when off. */
int64_t sup_notify_watchdog_ms(void);
void sup_notify_ready(void);
void sup_notify_reloading(void);
void sup_notify_stopping(void);
void sup_notify_watchdog(void);
/* STATUS=...; sent only when the text changed. */
void sup_notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
