/*
 * Logging: journal entries under systemd, "<N>"-prefixed lines otherwise.
 * See log.h for the contract.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "proto/log.h"

static int log_verbose;
static int log_journal; /* stderr is the journal stream */
static int log_prefix; /* stderr is not a terminal: "<N>" prefix */
static char log_proc[32] = "localai";
static char log_node[64];

/*
 * systemd's documented test: $JOURNAL_STREAM holds "dev:ino" of the stream
 * stderr is connected to.  Only then do records go to sd_journal_send(); a
 * merely present libsystemd without journald would drop them silently.
 */
static int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_init(int verbose)
{
	log_verbose = verbose;
	log_journal = log_stderr_is_journal();
	log_prefix = !isatty(STDERR_FILENO);
}

void
log_procinit(const char *procname)
{
	snprintf(log_proc, sizeof(log_proc), "%s", procname);
}

const char *
log_procname(void)
{
	return log_proc;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_setnode(const char *node_id)
{
	snprintf(log_node, sizeof(log_node), "%s", node_id ? node_id : "");
}

static int
log_wanted(int prio)
{
	if (prio == LOG_DEBUG)
		return log_verbose >= LOG_VERBOSE_DEBUG;
	return 1;
}

static const char *
nz(const char *s)
{
	return (s != NULL && *s != '\0') ? s : NULL;
}

/* Add "NAME=value" to a journal record when value is set. */
static int
log_iov_add(struct iovec *iov, int n, char *buf, size_t size, const char *name,
    const char *value)
{
	int len;

	if (value == NULL || *value == '\0')
		return n;
	len = snprintf(buf, size, "%s=%s", name, value);
	if (len < 0)
		return n;
	iov[n].iov_base = buf;
	iov[n].iov_len = (size_t)len < size ? (size_t)len : size - 1;
	return n + 1;
}

static void
log_journal_send(int prio, const struct log_fields *f, const char *msg)
{
	static const char ident[] = "SYSLOG_IDENTIFIER=localai";
	char b_msg[3200], b_prio[24], b_proc[48], b_node[96], b_model[192];
	char b_req[128], b_event[96], prio_s[8];
	struct iovec iov[8];
	const char *node = f && nz(f->node_id) ? f->node_id : nz(log_node);
	int n = 0;

	snprintf(prio_s, sizeof(prio_s), "%d", prio);
	n = log_iov_add(iov, n, b_msg, sizeof(b_msg), "MESSAGE", msg);
	n = log_iov_add(iov, n, b_prio, sizeof(b_prio), "PRIORITY", prio_s);
	iov[n].iov_base = (void *)(uintptr_t)ident;
	iov[n++].iov_len = sizeof(ident) - 1;
	n = log_iov_add(
	    iov, n, b_proc, sizeof(b_proc), "LOCALAI_PROC", log_proc);
	n = log_iov_add(iov, n, b_node, sizeof(b_node), "NODE_ID", node);
	if (f != NULL) {
		n = log_iov_add(
		    iov, n, b_model, sizeof(b_model), "MODEL", f->model);
		n = log_iov_add(
		    iov, n, b_req, sizeof(b_req), "REQUEST_ID", f->request_id);
		n = log_iov_add(iov, n, b_event, sizeof(b_event),
		    "LOCALAI_EVENT", f->event);
	}
	(void)sd_journal_sendv(iov, n);
}

static size_t
log_append(char *buf, size_t off, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= size)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, size - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return off;
	return (size_t)n >= size - off ? size - 1 : off + (size_t)n;
}

static void
log_stderr_line(int prio, const struct log_fields *f, const char *msg)
{
	char line[4096];
	struct timespec ts;
	struct tm tm;
	size_t off = 0;
	const char *node = f && nz(f->node_id) ? f->node_id : nz(log_node);
	int saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (log_prefix)
		off = log_append(line, off, sizeof(line), "<%d>", prio);
	off +=
	    strftime(line + off, sizeof(line) - off, "%Y-%m-%dT%H:%M:%S", &tm);
	off = log_append(line, off, sizeof(line), ".%03ldZ %s[%d]: %s",
	    ts.tv_nsec / 1000000, log_proc, (int)getpid(), msg);
	if (f && nz(f->event))
		off =
		    log_append(line, off, sizeof(line), " event=%s", f->event);
	if (node)
		off = log_append(line, off, sizeof(line), " node=%s", node);
	if (f && nz(f->model))
		off =
		    log_append(line, off, sizeof(line), " model=%s", f->model);
	if (f && nz(f->request_id))
		off = log_append(
		    line, off, sizeof(line), " request_id=%s", f->request_id);
	if (off > sizeof(line) - 2)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per record keeps lines from different threads whole. */
	(void)write(STDERR_FILENO, line, off);
	errno = saved;
}

void
log_vfields(int prio, const struct log_fields *f, const char *fmt, va_list ap)
{
	char msg[3072];

	if (!log_wanted(prio))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal)
		log_journal_send(prio, f, msg);
	else
		log_stderr_line(prio, f, msg);
}

void
log_fields(int prio, const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(prio, f, fmt, ap);
	va_end(ap);
}

/* Like log_vfields() but appends ": strerror(errno)". */
static void
log_verr(int prio, const char *fmt, va_list ap)
{
	char msg[3072];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_fields(prio, NULL, "%s: %s", msg, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verr(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verr(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vfields(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
