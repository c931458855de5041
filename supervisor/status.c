/*
 * The control socket's JSON document (see status.h).  Pure: it formats
 * into a caller's buffer and never fails halfway silently.
 */
#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto/utf8.h"
#include "supervisor/status.h"

/* A bounded writer: once full, further output is dropped and err set. */
struct status_out {
	char *buf;
	size_t cap, len;
	int err;
};

static void
status_raw(struct status_out *o, const char *s, size_t n)
{
	if (o->err || o->len + n + 1 > o->cap) {
		o->err = 1;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void status_printf(struct status_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
status_printf(struct status_out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->err = 1;
		return;
	}
	status_raw(o, tmp, (size_t)n);
}

/* A JSON string, or null for NULL. */
static void
status_str(struct status_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, l;

	if (s == NULL) {
		status_raw(o, "null", 4);
		return;
	}
	n = strlen(s);
	status_raw(o, "\"", 1);
	while (n > 0) {
		if (*p == '"' || *p == '\\') {
			status_raw(o, "\\", 1);
			status_raw(o, (const char *)p, 1);
		} else if (*p < 0x20) {
			status_printf(o, "\\u%04x", *p);
		} else if (*p < 0x80) {
			status_raw(o, (const char *)p, 1);
		} else if ((l = utf8_len(p, n)) > 0) {
			status_raw(o, (const char *)p, l);
			p += l - 1, n -= l - 1;
		} else {
			status_raw(o, "?", 1);
		}
		p++, n--;
	}
	status_raw(o, "\"", 1);
}

/* The state name in lower case ("READY" -> "ready"). */
static void
status_lower(struct status_out *o, const char *s)
{
	char tmp[32];
	size_t i;

	if (s == NULL) {
		status_str(o, "unknown");
		return;
	}
	for (i = 0; s[i] != '\0' && i < sizeof(tmp) - 1; i++)
		tmp[i] = (char)tolower((unsigned char)s[i]);
	tmp[i] = '\0';
	status_str(o, tmp);
}

/* A non-negative number, or null for negative ("does not apply"). */
static void
status_num(struct status_out *o, int64_t v)
{
	if (v < 0)
		status_raw(o, "null", 4);
	else
		status_printf(o, "%" PRId64, v);
}

static void
status_last_exit(struct status_out *o, const struct sup_status_child *c)
{
	const char *abbrev;

	if (c->last_signal > 0) {
		abbrev = sigabbrev_np(c->last_signal);
		if (abbrev != NULL) {
			status_raw(o, "{\"signal\":\"SIG", 14);
			status_raw(o, abbrev, strlen(abbrev));
			status_raw(o, "\"}", 2);
		} else
			status_printf(o, "{\"signal\":\"%d\"}", c->last_signal);
	} else if (c->last_exit_code >= 0)
		status_printf(o, "{\"code\":%d}", c->last_exit_code);
	else
		status_raw(o, "null", 4);
}

static void
status_child(struct status_out *o, const struct sup_status_child *c)
{
	status_raw(o, "{\"name\":", 8);
	status_str(o, c->name);
	status_raw(o, ",\"kind\":", 8);
	status_str(o, c->kind);
	status_raw(o, ",\"state\":", 9);
	status_lower(o, c->state);
	status_raw(o, ",\"pid\":", 7);
	status_num(o, c->pid > 0 ? c->pid : -1);
	status_printf(o, ",\"restarts\":%" PRIu32, c->restarts);
	status_raw(o, ",\"uptime_ms\":", 13);
	status_num(o, c->uptime_ms);
	status_printf(o, ",\"crashes_recent\":%" PRIu32, c->crashes_recent);
	status_raw(o, ",\"next_restart_ms\":", 19);
	status_num(o, c->next_restart_ms);
	status_raw(o, ",\"last_exit\":", 13);
	status_last_exit(o, c);
	status_raw(o, ",\"model\":", 9);
	status_str(o, c->model);
	status_raw(o, ",\"backend\":", 11);
	status_str(o, c->backend);
	status_raw(o, ",\"address\":", 11);
	status_str(o, c->address);
	status_raw(o, "}", 1);
}

int
sup_status_json(const struct sup_status *st, char *buf, size_t cap)
{
	struct status_out o = {buf, cap, 0, 0};
	size_t i;

	if (cap == 0)
		return -1;
	buf[0] = '\0';
	status_printf(&o, "{\"version\":%d,\"role\":", SUP_STATUS_VERSION);
	status_str(&o, st->role);
	status_printf(&o, ",\"pid\":%" PRId32 ",\"localai_version\":", st->pid);
	status_str(&o, st->localai_version);
	status_raw(&o, ",\"node_name\":", 13);
	status_str(&o, st->node_name);
	status_raw(&o, ",\"state\":", 9);
	status_str(&o, st->state);
	status_raw(&o, ",\"uptime_ms\":", 13);
	status_num(&o, st->uptime_ms);
	status_printf(&o, ",\"config_generation\":%" PRIu32 ",\"children\":[",
	    st->config_generation);
	for (i = 0; i < st->nchildren; i++) {
		if (i > 0)
			status_raw(&o, ",", 1);
		status_child(&o, &st->children[i]);
	}
	status_raw(&o, "]}\n", 3);
	if (o.err) {
		buf[0] = '\0';
		return -1;
	}
	return (int)o.len;
}
