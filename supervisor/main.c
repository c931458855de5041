/*
 * localai: entry point.  `localai frontend|worker|standalone` starts the
 * role's supervisor (proc.c); `localai -n [-v]` checks (and prints) the
 * configuration; `localai -P <proc> -R <side>` is how the supervisor
 * re-executes itself as one of its core children (see proto/proc.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/proc.h"
#include "supervisor/cli.h"
#include "supervisor/config.h"
#include "supervisor/sup.h"

/* The core processes; each folder (api/, router/, agent/) defines its
 * <proc>_main(). */
static const struct {
	const char *name;
	int (*main)(enum conf_role);
} main_procs[] = {
    {"api", api_main},
    {"router", router_main},
    {"agent", agent_main},
};

static noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: localai [-dnv] [-f file] frontend | worker | standalone\n"
	    "       localai --version\n");
	exit(64);
}

/* `-P <proc> -R frontend|worker`: run one core process. */
static int
main_proc(const char *name, const char *side)
{
	enum conf_role role;
	size_t i;

	if (side != NULL && strcmp(side, "frontend") == 0)
		role = ROLE_FRONTEND;
	else if (side != NULL && strcmp(side, "worker") == 0)
		role = ROLE_WORKER;
	else
		usage();
	for (i = 0; i < sizeof(main_procs) / sizeof(main_procs[0]); i++) {
		if (strcmp(main_procs[i].name, name) != 0)
			continue;
		log_procinit(name);
		return main_procs[i].main(role);
	}
	fprintf(stderr, "localai: unknown process \"%s\"\n", name);
	return 64;
}

static enum conf_role
main_role(const char *s)
{
	if (strcmp(s, "frontend") == 0)
		return ROLE_FRONTEND;
	if (strcmp(s, "worker") == 0)
		return ROLE_WORKER;
	if (strcmp(s, "standalone") == 0)
		return ROLE_STANDALONE;
	usage();
}

int
main(int argc, char *argv[])
{
	const char *path = CONF_PATH_DEFAULT, *proc = NULL, *side = NULL;
	char *argv0 = argv[0];
	int ch, check = 0, verbose = -1, path_given = 0;

	log_init(0);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("localai %s\n", LOCALAI_VERSION);
		return 0;
	}
	if (argc >= 2 && cli_is_command(argv[1]))
		return cli_main(argc - 1, argv + 1);
	while ((ch = getopt(argc, argv, "df:nP:R:v")) != -1) {
		switch (ch) {
		case 'd':
			verbose = LOG_VERBOSE_DEBUG;
			break;
		case 'f':
			path = optarg;
			path_given = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'P':
			proc = optarg;
			break;
		case 'R':
			side = optarg;
			break;
		case 'v':
			if (verbose < LOG_VERBOSE_MORE)
				verbose = LOG_VERBOSE_MORE;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (verbose >= 0)
		log_setverbose(verbose);
	if (proc != NULL)
		return main_proc(proc, side);
	if (check)
		return conf_check_command(
		    path_given ? path : NULL, path_given, verbose > 0);
	if (argc != 1)
		usage();
	return sup_main(main_role(argv[0]), path, path_given, verbose, argv0);
}
