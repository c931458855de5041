/*
 * The supervisor's side of systemd's notify protocol.  Only the
 * supervisor talks to systemd (NotifyAccess=main); children lose
 * $NOTIFY_SOCKET when they are spawned.  Without $NOTIFY_SOCKET every call
 * is a cheap no-op, so the same code runs under systemd and in a shell.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "proto/log.h"
#include "supervisor/sup.h"

static uint64_t notify_watchdog_usec;
static char notify_last_status[256];

static void
notify_send(const char *state)
{
	int r;

	if ((r = sd_notify(0, state)) < 0)
		log_warnx("sd_notify %s: %s", state, strerror(-r));
	else if (r > 0)
		log_debug("notify: %s", state);
}

void
sup_notify_init(void)
{
	uint64_t usec = 0;
	int r;

	/*
	 * Unset WATCHDOG_USEC/WATCHDOG_PID so that no child inherits them;
	 * the interval is kept here.
	 */
	if ((r = sd_watchdog_enabled(1, &usec)) < 0)
		log_warnx("watchdog settings: %s", strerror(-r));
	else if (r > 0) {
		notify_watchdog_usec = usec;
		log_info("systemd watchdog every %llu ms",
		    (unsigned long long)(usec / 1000));
	}
}

int64_t
sup_notify_watchdog_ms(void)
{
	int64_t ms = (int64_t)(notify_watchdog_usec / 2000);

	return notify_watchdog_usec > 0 && ms == 0 ? 1 : ms;
}

void
sup_notify_ready(void)
{
	notify_send("READY=1");
}

void
sup_notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void
sup_notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
sup_notify_watchdog(void)
{
	notify_send("WATCHDOG=1");
}

void
sup_notify_status(const char *fmt, ...)
{
	char text[sizeof(notify_last_status)], state[sizeof(text) + 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (strcmp(text, notify_last_status) == 0)
		return;
	memcpy(notify_last_status, text, sizeof(text));
	snprintf(state, sizeof(state), "STATUS=%s", text);
	notify_send(state);
}

/*
 * STATUS= for the whole tree: the role, core processes ready (the private
 * servers count as core), backends, and the last status line a child sent.
 */
void
sup_notify_summary(enum conf_role role, int stopping, const char *child_status)
{
	struct sup_child *c;
	unsigned core = 0, ready = 0, be = 0, be_up = 0, be_failed = 0;
	char text[160];

	TAILQ_FOREACH(c, sup_children(), entry)
	{
		if (c->kind != SUP_BACKEND) {
			core++;
			ready += c->sm.state == CHILD_READY;
			continue;
		}
		be++;
		be_up += c->pid != -1;
		be_failed += c->sm.state == CHILD_FAILED;
	}
	if (stopping) {
		sup_notify_status("stopping");
		return;
	}
	if (be == 0)
		snprintf(text, sizeof(text), "%s: %u/%u core processes ready",
		    sup_role_name(role), ready, core);
	else
		snprintf(text, sizeof(text),
		    "%s: %u/%u core processes ready; "
		    "backends: %u running, %u failed, %u total",
		    sup_role_name(role), ready, core, be_up, be_failed, be);
	if (child_status[0] != '\0')
		sup_notify_status("%s; %s", text, child_status);
	else
		sup_notify_status("%s", text);
}
