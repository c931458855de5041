/*
 * localai: entry point.  `localai frontend|worker|standalone` starts the
 * role's supervisor; `localai -P <proc>` is how the supervisor re-executes
 * itself as one of its children.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/log.h"
#include "supervisor/config.h"

#define LOCALAI_VERSION "0.1.0"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: localai [-dnv] [-f file] frontend | worker | standalone\n"
	    "       localai --version\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	const char *conffile = NULL;
	int ch, check = 0, verbose = 0;

	log_init(0);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("localai %s\n", LOCALAI_VERSION);
		return 0;
	}
	while ((ch = getopt(argc, argv, "f:nv")) != -1) {
		if (ch == 'f')
			conffile = optarg;
		else if (ch == 'n')
			check = 1;
		else if (ch == 'v')
			verbose++;
		else
			usage();
	}
	if (check)
		return conf_check_command(conffile, conffile != NULL, verbose);
	usage();
}
