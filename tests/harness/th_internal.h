/*
 * Shared between the harness's own files; tests use harness.h only.
 */
#ifndef TH_INTERNAL_H
#define TH_INTERNAL_H

#include <sys/types.h>

#include "tests/harness/harness.h"

/* How to start one process (th__spawn). */
struct th_spawn {
	char *const *argv;
	char *const *env; /* overrides, as in th_proc_spawn */
	const char *log; /* NULL: inherit stdout/stderr */
	const char *cwd; /* NULL: inherit */
	int drop; /* switch to uid/gid/groups before exec */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	int internal; /* a server the harness stops itself */
};

/* "th: …" on stderr, one write per line. */
void th__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 0 after th_init, else -1 with a message naming the caller. */
int th__need_init(const char *caller);
struct th_proc *th__spawn(const struct th_spawn *sp);
/*
 * Live (non-zombie) descendants of root, from /proc, into a malloc'd
 * array (*out, free it); returns the count or -1.
 */
int th__descendants(pid_t root, pid_t **out);
/* 1 if pid exists and is not a zombie. */
int th__pid_running(pid_t pid);
/* Wait until none of pids[0..n) is running: 0, or -1 after timeout_ms. */
int th__wait_gone(const pid_t *pids, int n, int timeout_ms);
/* rm -rf path (never follows symlinks). 0 or -1. */
int th__rmtree(const char *path);
/* A fresh directory "<root>/<prefix>-N" into buf (mode 0711). 0 or -1. */
int th__mkinstance(const char *prefix, char *buf, size_t len);
/* snprintf that reports truncation: 0 or -1. */
int th__fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Last lines of a log file to stderr, to explain a failed start. */
void th__log_tail(const char *path, int lines);

/* Stop every registered object of each kind (th_cleanup). */
void th__proc_cleanup(void);
void th__pg_cleanup(void);
void th__nats_cleanup(void);

#endif
