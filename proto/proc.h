/*
 * proc: the child side of the supervisor's control channel, used by every
 * core process (api, router, agent).  Backends do not use it: they are
 * foreign programs started as `run --addr ADDR`.
 *
 * How a core process is started.  The supervisor runs
 *	localai -P <proc> -R frontend|worker
 * (fork + exec of its own binary, argv[0] kept; main.c calls
 * <proc>_main(role)) in a process group of its own, with default signal
 * dispositions, an empty signal mask, PR_SET_PDEATHSIG = SIGKILL, and
 * exactly these file descriptors open:
 *	0			/dev/null
 *	1, 2			the supervisor's stdout and stderr
 *	PROC_CTL_FD (3)		the control socket: an AF_UNIX SOCK_STREAM
 *				socketpair end, framed by msgbuf
 *	PROC_LISTEN_FD (4)	api only: the listening TCP socket shared by
 *				every api process, already bound and listening,
 *				non-blocking (systemd's socket when activated)
 * NOTIFY_SOCKET, LISTEN_* and WATCHDOG_* are removed from its environment:
 * only the supervisor speaks to systemd.
 *
 * The handshake on the control socket:
 *	supervisor -> child	MSG_CFG_MAIN, MSG_CFG_MODEL x n, MSG_CFG_DONE
 *	child -> supervisor	MSG_CFG_ACK {generation, n_models}
 *	supervisor -> child	MSG_PEER_FD ... (api: its router link; router:
 *				one per api process and its agent link;
 *				agent: its router link), again whenever a
 *				peer is restarted (the old socket then reads
 *				end of file)
 *	child -> supervisor	MSG_CTL_READY once initialised
 *	supervisor -> child	MSG_CTL_PING every 5 s once READY; the child
 *				answers MSG_CTL_PONG (proc_dispatch() does);
 *				no answer within 15 s -> SIGKILL
 *	supervisor -> child	MSG_CFG_* again on SIGHUP -> MSG_CFG_ACK
 *	supervisor -> child	MSG_CTL_SHUTDOWN, then SIGTERM to the group;
 *				SIGKILL 5 s later
 * The worker agent also sends MSG_BE_START / MSG_BE_STOP and receives
 * MSG_BE_STATE (through proc_send() and the message handler).
 *
 * Use, from the process's own single-threaded event loop:
 *
 *	int
 *	router_main(enum conf_role role)
 *	{
 *		if (proc_init("router") == -1)
 *			return 1;
 *		proc_set_handlers(&handlers);
 *		... initialise, using proc_conf() and proc_models() ...
 *		if (proc_ready() == -1)
 *			return 1;
 *		while (!proc_shutting_down()) {
 *			poll() on proc_fd() for POLLIN and on its own fds;
 *			if proc_fd() is readable and proc_dispatch() == -1:
 *				return 1;	(the supervisor is gone)
 *		}
 *		return 0;
 *	}
 *
 * proc_init() installs a SIGTERM/SIGINT handler that only sets the flag
 * proc_shutting_down() reports (without SA_RESTART, so the loop's poll()
 * returns EINTR), and ignores SIGPIPE and SIGHUP.  None of these
 * functions is thread-safe: call them from the loop's thread.
 */
#ifndef LOCALAI_PROC_H
#define LOCALAI_PROC_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"
#include "proto/msgbuf.h"
#include "supervisor/config.h"

#define PROC_CTL_FD 3 /* control socket to the supervisor */
#define PROC_LISTEN_FD 4 /* api: the shared listening socket */

struct proc_handlers {
	/* A socket to a peer process; the handler owns fd. */
	void (*peer_fd)(int fd, const struct msg_peer *peer, void *arg);
	/* The supervisor asked us to finish (message or signal), once. */
	void (*shutdown)(void *arg);
	/* A reloaded configuration is now in proc_conf()/proc_models(). */
	void (*reload)(void *arg);
	/*
	 * Any other message (the worker agent: MSG_BE_STATE).  Return 0, or
	 * -1 for a message the process does not accept (protocol error).
	 * m->fd, if any, is closed after the call unless the handler sets
	 * m->fd to -1 to keep it.
	 */
	int (*message)(struct msg *m, void *arg);
	void *arg;
};

/*
 * Take PROC_CTL_FD, name the process for logging, and read the
 * configuration the supervisor sends (30 s at most).  0, or -1 (logged):
 * the process should exit 1.
 */
int proc_init(const char *name);
/* Handlers for what arrives after proc_init(); NULL members are allowed. */
void proc_set_handlers(const struct proc_handlers *h);
/*
 * Tell the supervisor we are ready (MSG_CTL_READY), then handle what is
 * already buffered (a peer fd may have come with the configuration).
 */
int proc_ready(void);
/* The control socket, to poll for POLLIN. */
int proc_fd(void);
/*
 * Handle what the supervisor sent: answer pings, apply configurations,
 * hand over peer fds.  0, or -1 (logged) when the supervisor is gone or
 * sent something malformed: the process should exit.
 */
int proc_dispatch(void);
/* Send one message to the supervisor (blocking until written); 0 or -1. */
int proc_send(
    uint32_t type, uint32_t peerid, int fd, const void *data, size_t len);
/* One line for systemd's STATUS= (MSG_CTL_STATUS); 0 or -1. */
int proc_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* SIGTERM/SIGINT or MSG_CTL_SHUTDOWN arrived. */
int proc_shutting_down(void);

const struct conf *proc_conf(void);
const struct conf_models *proc_models(void);

/*
 * Entry points of the core processes (`localai -P api|router|agent`),
 * defined in their own folders; the return value is the exit code.
 * role is the side the process serves: ROLE_FRONTEND or ROLE_WORKER (the
 * agent serves either; in standalone mode one agent runs for each).
 */
int api_main(enum conf_role role);
int router_main(enum conf_role role);
int agent_main(enum conf_role role);

#endif
