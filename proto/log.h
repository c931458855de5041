/*
 * The one logging module every localai process uses.
 *
 * Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) each
 * record is a structured journal entry with the fields SYSLOG_IDENTIFIER,
 * LOCALAI_PROC, NODE_ID, MODEL, REQUEST_ID, LOCALAI_EVENT and PRIORITY, so
 * `journalctl REQUEST_ID=…` finds a request.  Otherwise each record is one
 * line on stderr, prefixed with "<N>" (sd-daemon priority) when stderr is
 * not a terminal.  Every call is thread-safe: a record is written with one
 * write(2) or one sd_journal_send().
 */
#ifndef LOCALAI_LOG_H
#define LOCALAI_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

/* Verbosity: 0 = info and above, 1 = -v (more info), 2 = -d (debug). */
#define LOG_VERBOSE_INFO 0
#define LOG_VERBOSE_MORE 1
#define LOG_VERBOSE_DEBUG 2

/* Optional fields attached to one record; NULL or "" members are omitted. */
struct log_fields {
	const char *node_id;
	const char *model;
	const char *request_id;
	const char *event; /* LOCALAI_EVENT: node_offline, replica_ready, … */
};

void log_init(int verbose);
void log_procinit(const char *procname);
const char *log_procname(void);
void log_setverbose(int verbose);
int log_getverbose(void);
/* The node id of this process (worker processes), added to every record. */
void log_setnode(const char *node_id);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * A record with structured fields; prio is a syslog priority (LOG_INFO…).
 * Used for request lines (request_id, model) and cluster events (event).
 */
void log_fields(int prio, const struct log_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vfields(
    int prio, const struct log_fields *f, const char *fmt, va_list ap);

#endif
