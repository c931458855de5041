/*
 * Parsing of a backend's command line and listen address (LocalAI's
 * `run --addr HOST:PORT` convention).  Pure logic, no I/O: the unit test
 * links only addr.c.
 */
#ifndef LOCALAI_BE_ADDR_H
#define LOCALAI_BE_ADDR_H

#include <stddef.h>

/* What kind of socket an address names. */
enum be_addr_kind {
	BE_ADDR_TCP,		/* HOST:PORT, [V6]:PORT, :PORT */
	BE_ADDR_UNIX,		/* unix:PATH or unix://ABSOLUTE-PATH */
	BE_ADDR_ABSTRACT,	/* unix-abstract:NAME (Linux abstract socket) */
};

struct be_addr {
	enum be_addr_kind kind;
	char host[256];		/* TCP: host without brackets */
	int port;		/* TCP: 0..65535 (0 = any free port) */
	char path[108];		/* UNIX: filesystem path; ABSTRACT: name */
	char target[400];	/* the form gRPC takes: "host:port", "unix:p" */
};

/*
 * Parse s into a.  Returns 0, or -1 with a reason in err (errlen bytes)
 * for an empty host name, a missing or out-of-range port, a path too long
 * for a Unix socket, or anything else gRPC could not bind.
 */
int be_addr_parse(const char *s, struct be_addr *a, char *err,
    size_t errlen);

/* The runtime's settings (backend.h documents each flag). */
struct be_conf {
	const char *addr;	/* --addr */
	const char *port_file;	/* --port-file, NULL if none */
	long max_msg;		/* --max-msg-size, bytes */
	long grace_ms;		/* --grace-ms */
	long max_calls;		/* --max-calls */
	int verbose;		/* -v: 1, -d: 2 */
};

#define BE_DEFAULT_MAX_MSG	(50L * 1024 * 1024)
#define BE_DEFAULT_GRACE_MS	10000L
#define BE_DEFAULT_MAX_CALLS	256L

/*
 * Defaults, then the environment values given (NULL when unset):
 * LOCALAI_GRPC_MAX_MESSAGE_SIZE and LOCALAI_BACKEND_GRACE_MS.
 */
int be_conf_init(struct be_conf *conf, const char *env_max_msg,
    const char *env_grace, char *err, size_t errlen);

/*
 * Apply the command line over conf.  Returns 0, 1 when help was asked for,
 * or -1 with a reason in err (unknown option, missing or bad value, no
 * --addr, bad address).
 */
int be_conf_args(struct be_conf *conf, int argc, char **argv, char *err,
    size_t errlen);

/* A decimal number in [min, max]; 0 or -1. */
int be_parse_num(const char *s, long min, long max, long *out);

#endif
