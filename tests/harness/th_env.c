/*
 * th-env: run a command with throwaway servers, for shell and Node tests.
 *
 *	th-env [--pg] [--pg-tcp] [--nats] [--js] -- COMMAND [ARG…]
 *
 * Starts what is asked for, exports
 *	TH_PG_URL, TH_PG_CONNINFO, TH_PG_TCP_URL (with --pg-tcp), PGHOST,
 *	PGPORT, PGUSER, PGDATABASE, TH_NATS_URL, TH_ROOT (the run's directory,
 *	removed at exit),
 * runs COMMAND in the same process group (so Ctrl-C reaches it), stops the
 * servers and exits with COMMAND's status (128+N if killed by signal N).
 * Processes COMMAND leaves running in the background are killed at exit
 * by the harness guardian.  Exit 125 if the environment could not be set
 * up, 127 if COMMAND could not be run.
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness/harness.h"

#define TH_ENV_SETUP_FAILED 125

struct th_env_opts {
	int pg;
	int pg_tcp;
	int nats;
	int js;
	char **argv;
};

static void __attribute__((noreturn)) th_env_usage(void)
{
	fprintf(stderr, "usage: th-env [--pg] [--pg-tcp] [--nats] [--js]"
	                " -- COMMAND [ARG...]\n");
	exit(2);
}

static void
th_env_parse(int argc, char **argv, struct th_env_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--pg") == 0)
			o->pg = 1;
		else if (strcmp(argv[i], "--pg-tcp") == 0)
			o->pg = o->pg_tcp = 1;
		else if (strcmp(argv[i], "--nats") == 0)
			o->nats = 1;
		else if (strcmp(argv[i], "--js") == 0)
			o->nats = o->js = 1;
		else
			th_env_usage();
	}
	if (i >= argc)
		th_env_usage();
	o->argv = argv + i;
}

static int
th_env_export_pg(struct th_pg *pg)
{
	char port[16];

	snprintf(port, sizeof(port), "%d", pg->port);
	if (setenv("TH_PG_URL", pg->url, 1) == -1 ||
	    setenv("TH_PG_CONNINFO", pg->conninfo, 1) == -1 ||
	    setenv("PGHOST", pg->sockdir, 1) == -1 ||
	    setenv("PGPORT", port, 1) == -1 ||
	    setenv("PGUSER", "postgres", 1) == -1 ||
	    setenv("PGDATABASE", "postgres", 1) == -1)
		return -1;
	if (pg->tcp && setenv("TH_PG_TCP_URL", pg->tcp_url, 1) == -1)
		return -1;
	return 0;
}

static int
th_env_start(const struct th_env_opts *o)
{
	struct th_pg_opts pgo = {.tcp = o->pg_tcp};
	struct th_nats_opts no = {.jetstream = o->js};
	struct th_nats *n;
	struct th_pg *pg;

	if (o->pg) {
		if ((pg = th_pg_start(&pgo)) == NULL ||
		    th_env_export_pg(pg) == -1)
			return -1;
		fprintf(stderr,
		    "th-env: postgres ready in %.0f ms (+%.0f ms"
		    " data dir) at %s\n",
		    pg->start_ms, pg->initdb_ms, pg->url);
	}
	if (o->nats) {
		if ((n = th_nats_start(&no)) == NULL ||
		    setenv("TH_NATS_URL", n->url, 1) == -1)
			return -1;
		fprintf(stderr, "th-env: nats-server ready in %.0f ms at %s\n",
		    n->start_ms, n->url);
	}
	return 0;
}

/* Run the command as a plain child (same process group) and wait. */
static int
th_env_run(char **argv)
{
	pid_t pid, r;
	int st;

	fflush(NULL);
	/* Ctrl-C is for the command; we stop the servers once it is gone. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if ((pid = fork()) == -1)
		return 127;
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "th-env: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	if (r == -1)
		return 127;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int
main(int argc, char **argv)
{
	struct th_env_opts o;
	int rc;

	th_env_parse(argc, argv, &o);
	if (th_init() == -1)
		return TH_ENV_SETUP_FAILED;
	if (th_env_start(&o) == -1) {
		fprintf(stderr, "th-env: could not start the servers\n");
		return TH_ENV_SETUP_FAILED;
	}
	rc = th_env_run(o.argv);
	th_cleanup();
	return rc;
}
