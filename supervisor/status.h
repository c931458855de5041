/*
 * The supervisor's control socket: what `localai status` reads.
 *
 * Protocol.  A Unix stream socket at <state_dir>/control.sock (mode 0660).
 * A client connects and sends nothing; the supervisor writes one JSON
 * document (below, at most SUP_STATUS_MAX bytes), shuts the connection
 * down and closes it.  The client reads to EOF.  The supervisor is
 * single-threaded, so its side is non-blocking and lives in its poll
 * loop (docs/DESIGN.md, "Control socket"): accept4(SOCK_NONBLOCK) on
 * POLLIN of the listener, render the snapshot at once into the client's
 * buffer, write it on POLLOUT, close when written or after
 * SUP_STATUS_TIMEOUT_MS, at most SUP_STATUS_CLIENTS at a time (more are
 * accepted and closed at once: they read an empty answer).
 *
 * Document, version 1 (null where a value does not apply):
 *	{"version":1, "role":"worker", "pid":4242, "localai_version":"0.1.0",
 *	 "node_name":"gpu-01", "state":"running", "uptime_ms":7260000,
 *	 "config_generation":3,
 *	 "children":[{"name":"agent", "kind":"agent", "state":"ready",
 *	   "pid":4250, "restarts":0, "uptime_ms":7259000,
 *	   "crashes_recent":0, "next_restart_ms":null,
 *	   "last_exit":null | {"code":1} | {"signal":"SIGKILL"},
 *	   "model":null, "backend":null, "address":null}, …]}
 * role: frontend | worker | standalone; state: running | reloading |
 * stopping; kind: api | router | agent | backend; child state: idle |
 * starting | ready | exited | backoff | failed (supervisor/child.h);
 * model, backend and address are set for backend processes only.
 *
 * sup_status_json() is pure (no I/O): the supervisor fills a struct
 * sup_status from its child table and sends what it returns.
 */
#ifndef LOCALAI_SUP_STATUS_H
#define LOCALAI_SUP_STATUS_H

#include <stddef.h>
#include <stdint.h>

#define SUP_STATUS_SOCKET "control.sock" /* under state_dir */
#define SUP_STATUS_VERSION 1
#define SUP_STATUS_MAX (256 * 1024) /* bytes of one document */
#define SUP_STATUS_TIMEOUT_MS 2000 /* a client that reads slowly */
#define SUP_STATUS_CLIENTS 4 /* served at the same time */

struct sup_status_child {
	const char *name; /* "api.0", "router", "backend llama" */
	const char *kind; /* api, router, agent, backend */
	const char *state; /* child_state_name(), any case */
	int32_t pid; /* -1: not running */
	uint32_t restarts;
	int64_t uptime_ms; /* since spawned; -1 not running */
	uint32_t crashes_recent;
	int64_t next_restart_ms; /* -1: none planned */
	int32_t last_exit_code; /* -1: none (or a signal) */
	int32_t last_signal; /* 0: none */
	const char *model; /* backends, else NULL */
	const char *backend;
	const char *address;
};

struct sup_status {
	const char *role;
	int32_t pid;
	const char *localai_version;
	const char *node_name; /* NULL: not a worker */
	const char *state; /* running, reloading, stopping */
	int64_t uptime_ms;
	uint32_t config_generation;
	size_t nchildren;
	const struct sup_status_child *children;
};

/*
 * Write the document for st into buf (cap bytes, NUL-terminated).
 * Returns its length, or -1 when it does not fit.  Strings are escaped
 * as JSON requires; bytes that are not valid UTF-8 become '?'.
 */
int sup_status_json(const struct sup_status *st, char *buf, size_t cap);

#endif
