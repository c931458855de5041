/*
 * Supervisor internals shared by its files:
 *	main.c		flags, roles, `-P <proc>` dispatch
 *	proc.c		the loop: core children, peers, pings, reload, stop
 *	spawn.c		fork + exec of a child, its fds and environment;
 *			the listening socket the api processes share
 *	backend.c	backend processes run for the worker agent
 *	child.c		the child state machine (pure)
 *	notify.c	systemd's notify protocol
 */
#ifndef LOCALAI_SUP_H
#define LOCALAI_SUP_H

#include <sys/types.h>
#include <sys/queue.h>

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
#define SUP_TEST_CHILD_EXEC_ENV	"LOCALAI_TEST_CHILD_EXEC"

#define SUP_KILL_AFTER_MS	5000	/* SIGTERM -> SIGKILL */
#define SUP_MAX_BACKENDS	128

/* What a supervised process is. */
enum sup_kind {
	SUP_API,		/* api.N: HTTP, shares the listening socket */
	SUP_ROUTER,		/* router */
	SUP_AGENT_FE,		/* the frontend's agent (NATS for the router) */
	SUP_AGENT_WK,		/* the worker's agent: asks for backends */
	SUP_BACKEND,		/* a backend process, for the worker agent */
};

struct sup_child {
	TAILQ_ENTRY(sup_child) entry;
	enum sup_kind	 kind;
	uint32_t	 instance;	/* api index */
	char		 name[160];	/* in logs: api.0, router, backend X */
	pid_t		 pid;		/* -1 when not running */
	pid_t		 last_pid;
	struct msgbuf	 mb;		/* control channel, mb.fd -1 closed */
	struct child_sm	 sm;
	int		 stopping;	/* asked to stop: never respawn */
	int		 remove;	/* backend: forget once reaped */
	int		 doomed;	/* SIGKILLed for not answering */
	int		 exec_errno;	/* exec failed with this errno */
	int64_t		 kill_at;	/* SIGKILL deadline, -1 none */
	uint64_t	 ping_seq;
	int64_t		 ping_sent;	/* outstanding ping, -1 none */
	int64_t		 next_ping;
	uint32_t	 acked;		/* configuration generation acked */
	struct msg_be_start be;		/* backends: how to run it */
};

TAILQ_HEAD(sup_children, sup_child);

/*
 * proc.c.  sup_main() runs the supervisor of one role until it stops and
 * returns the exit code (0 clean stop, 1 a core child failed, 78
 * configuration error).  verbose_flag is -1 when no -v/-d was given.
 */
int	sup_main(enum conf_role role, const char *conf_path, int path_given,
	    int verbose_flag, char *argv0);
int64_t	sup_now(void);
int	sup_is_stopping(void);
struct sup_children *sup_children(void);
struct sup_child *sup_child_new(enum sup_kind kind, uint32_t instance,
	    const char *name);
void	sup_child_free(struct sup_child *c);
void	sup_spawn(struct sup_child *c, int64_t now);
/* SIGTERM to its group (and MSG_CTL_SHUTDOWN), SIGKILL 5 s later. */
void	sup_child_stop(struct sup_child *c, int64_t now);
/* Queue a message to a child; a failure kills the child. */
void	sup_compose(struct sup_child *c, uint32_t type, uint32_t peerid,
	    int fd, const void *data, size_t len);
struct sup_child *sup_worker_agent(void);

/* spawn.c */
int	sup_spawn_init(char *argv0);
void	sup_spawn_cleanup(void);
const char *sup_exec_path(void);
/*
 * fork + exec c.  Returns the pid (fatal on fork failure); *ctl is the
 * supervisor's end of the control socket (-1 for backends); *exec_errno
 * is set when exec failed (the child then exits 127).
 */
pid_t	sup_fork_exec(const struct sup_child *c, int *ctl, int *exec_errno);
/*
 * The api processes' listening socket (only when wanted): the fd, -1
 * none, -2 bad configuration, -3 cannot open it.
 */
int	sup_listen_setup(const char *listen, int wanted);
void	sup_listen_close(void);

/* backend.c */
void	sup_be_start(const struct msg *m, int64_t now);
void	sup_be_stop(const struct msg *m, int64_t now);
void	sup_be_spawned(struct sup_child *c, int64_t now);
void	sup_be_exited(struct sup_child *c, int wstatus, int64_t now);
/* A (re)started worker agent learns about the backends still around. */
void	sup_be_snapshot(void);

/* notify.c: the sd_notify protocol, no-ops without $NOTIFY_SOCKET. */
void	sup_notify_init(void);
/* Interval at which to send WATCHDOG=1 (half systemd's), 0 when off. */
int64_t	sup_notify_watchdog_ms(void);
void	sup_notify_ready(void);
void	sup_notify_reloading(void);
void	sup_notify_stopping(void);
void	sup_notify_watchdog(void);
/* STATUS=...; sent only when the text changed. */
void	sup_notify_status(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
