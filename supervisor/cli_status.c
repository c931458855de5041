/*
 * `localai status`: one JSON document read from the local supervisor's
 * control socket (supervisor/status.h), shown as a table or as JSON.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/cli.h"
#include "supervisor/cli_impl.h"
#include "supervisor/config.h"
#include "supervisor/status.h"

/* ---- status (the control socket) ---------------------------------------- */

/* <state_dir>/control.sock, the state dir from the configuration. */
static int
status_socket_path(struct cli *c, char *buf, size_t len)
{
	struct conf_error err;
	struct conf *cf;
	const char *dir = getenv("LOCALAI_STATE_DIR");

	if (c->socket != NULL) {
		snprintf(buf, len, "%s", c->socket);
		return 0;
	}
	cf = cli_check_alloc(calloc(1, sizeof(*cf)));
	if (conf_load(c->conf ? c->conf : CONF_PATH_DEFAULT, c->conf != NULL,
	        cf, &err) == 0)
		dir = cf->state_dir;
	else if (c->conf != NULL) {
		cli_err("%s", err.text);
		free(cf);
		return CLI_EXIT_USAGE;
	}
	snprintf(buf, len, "%s/%s", dir && *dir ? dir : CONF_STATE_DIR_DEFAULT,
	    SUP_STATUS_SOCKET);
	free(cf);
	return 0;
}

static int
status_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		cli_err("socket path too long: %s", path);
		return -CLI_EXIT_USAGE;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		cli_err("socket: %s", strerror(errno));
		return -CLI_EXIT_API;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	close(fd);
	if (e == EACCES || e == EPERM) {
		cli_err("%s: %s (run as root or as the localai user)", path,
		    strerror(e));
		return -CLI_EXIT_UNAUTHORIZED;
	}
	cli_err("no supervisor answers on %s: %s (is localai running on this "
	        "machine? see --socket, -f)",
	    path, strerror(e));
	return -CLI_EXIT_UNREACHABLE;
}

/* Read the whole document (to EOF), at most SUP_STATUS_MAX bytes. */
static char *
status_read(int fd, long timeout_s, size_t *len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char *buf = cli_check_alloc(malloc(SUP_STATUS_MAX + 1));
	ssize_t n;
	int r;

	*len = 0;
	for (;;) {
		if ((r = poll(&pfd, 1, (int)(timeout_s * 1000))) == -1 &&
		    errno == EINTR)
			continue;
		if (r == 0) {
			cli_err("the supervisor did not answer in time");
			break;
		}
		if (r == -1) {
			cli_err("poll: %s", strerror(errno));
			break;
		}
		n = read(fd, buf + *len, SUP_STATUS_MAX - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0) {
			buf[*len] = '\0';
			return buf;
		}
		if (n == -1) {
			cli_err("read: %s", strerror(errno));
			break;
		}
		if ((*len += (size_t)n) == SUP_STATUS_MAX) {
			cli_err("the status document is too large");
			break;
		}
	}
	free(buf);
	return NULL;
}

static const char *
cli_fmt_ms(json_t *v, char *buf, size_t len)
{
	return json_is_number(v) ? cli_fmt_ago(v, buf, len) : "-";
}

static void
status_table(json_t *st)
{
	char pid[24], restarts[24], up[24], next[24], crashes[24], exit_[48];
	json_t *ch, *le;
	struct cli_table t;
	size_t i;

	cli_out("localai %s (%s), pid %.0f, up %s, %s, configuration %.0f\n",
	    cli_jstr(st, "role") ? cli_jstr(st, "role") : "?",
	    cli_jstr(st, "localai_version") ? cli_jstr(st, "localai_version")
	                                    : "?",
	    cli_jnum(st, "pid"),
	    cli_fmt_ms(json_object_get(st, "uptime_ms"), up, sizeof(up)),
	    cli_jstr(st, "state") ? cli_jstr(st, "state") : "?",
	    cli_jnum(st, "config_generation"));
	if (cli_jstr(st, "node_name") != NULL)
		cli_out("node %s\n", cli_jstr(st, "node_name"));
	cli_table_init(&t, 9);
	cli_table_row(&t, "NAME", "KIND", "STATE", "PID", "UPTIME", "RESTARTS",
	    "CRASHES", "LAST-EXIT", "NEXT-TRY");
	json_array_foreach(json_object_get(st, "children"), i, ch)
	{
		snprintf(pid, sizeof(pid), "%.0f", cli_jnum(ch, "pid"));
		snprintf(restarts, sizeof(restarts), "%.0f",
		    cli_jnum(ch, "restarts"));
		snprintf(crashes, sizeof(crashes), "%.0f",
		    cli_jnum(ch, "crashes_recent"));
		le = json_object_get(ch, "last_exit");
		if (cli_jstr(le, "signal") != NULL)
			snprintf(
			    exit_, sizeof(exit_), "%s", cli_jstr(le, "signal"));
		else if (json_is_number(json_object_get(le, "code")))
			snprintf(exit_, sizeof(exit_), "exit %.0f",
			    cli_jnum(le, "code"));
		else
			snprintf(exit_, sizeof(exit_), "-");
		cli_table_row(&t, cli_jstr(ch, "name"), cli_jstr(ch, "kind"),
		    cli_jstr(ch, "state"),
		    json_is_number(json_object_get(ch, "pid")) ? pid : "-",
		    cli_fmt_ms(
		        json_object_get(ch, "uptime_ms"), up, sizeof(up)),
		    restarts, crashes, exit_,
		    cli_fmt_ms(json_object_get(ch, "next_restart_ms"), next,
		        sizeof(next)));
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

int
cli_status(struct cli *c)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64], *text;
	json_error_t jerr;
	json_t *st;
	size_t len;
	int fd, ret;

	if (c->npos != 0)
		return cli_usage("status takes no argument");
	if ((ret = status_socket_path(c, path, sizeof(path))) != 0)
		return ret;
	if ((fd = status_connect(path)) < 0)
		return -fd;
	text = status_read(fd, c->timeout_s, &len);
	close(fd);
	if (text == NULL)
		return CLI_EXIT_UNREACHABLE;
	if (len == 0) {
		cli_err("the supervisor closed the connection without an "
		        "answer (too many clients?)");
		free(text);
		return CLI_EXIT_API;
	}
	st = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_object(st) ||
	    !json_is_array(json_object_get(st, "children"))) {
		cli_err("the supervisor's answer is not a status document "
		        "(%s)",
		    st == NULL ? jerr.text : "bad shape");
		json_decref(st);
		return CLI_EXIT_API;
	}
	if (c->json)
		cli_print_json(st);
	else
		status_table(st);
	json_decref(st);
	return 0;
}
