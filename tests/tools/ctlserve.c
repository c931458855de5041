/*
 * ctlserve [-m MODE] [-n COUNT] PATH: a stand-in for the supervisor's
 * control socket (supervisor/status.h), for tests of `localai status`.
 * It listens on PATH, prints "ready", and answers COUNT connections
 * (default 1) the way MODE says:
 *	doc	the real document (supervisor/status.c) of a made-up worker
 *		with an agent, a ready backend and a crash-looping one
 *	empty	close at once (a supervisor with every client slot busy)
 *	garbage	"not json"
 *	silent	keep the connection open without writing (a hung one)
 * Test-only: the real server lives in the supervisor's poll loop.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/status.h"

static const struct sup_status_child children[] = {
    {"agent", "agent", "READY", 4250, 0, 7259000, 0, -1, -1, 0, NULL, NULL,
        NULL},
    {"backend llama-3-8b", "backend", "READY", 4301, 1, 60000, 1, -1, -1, 9,
        "llama-3-8b", "llama-cpp", "127.0.0.1:50061"},
    {"backend \"phi\\2\"\n", "backend", "FAILED", -1, 5, -1, 5, 298000, 1, 0,
        "phi-2", "llama-cpp", "127.0.0.1:50062"},
};

static const struct sup_status status = {"worker", 4242, "0.1.0", "gpu-01",
    "running", 7260000, 3, sizeof(children) / sizeof(children[0]), children};

static int
serve(int fd, const char *mode)
{
	static char buf[SUP_STATUS_MAX];
	int n;

	if (strcmp(mode, "doc") == 0) {
		if ((n = sup_status_json(&status, buf, sizeof(buf))) < 0)
			return -1;
		return write(fd, buf, n) == n ? 0 : -1;
	}
	if (strcmp(mode, "garbage") == 0)
		return write(fd, "not json\n", 9) == 9 ? 0 : -1;
	if (strcmp(mode, "silent") == 0)
		pause();
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un sun;
	const char *mode = "doc";
	int ch, count = 1, lfd, fd;

	while ((ch = getopt(argc, argv, "m:n:")) != -1) {
		if (ch == 'm')
			mode = optarg;
		else if (ch == 'n')
			count = atoi(optarg);
		else
			return 2;
	}
	if (optind + 1 != argc)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[optind]) >= sizeof(sun.sun_path))
		return 2;
	strcpy(sun.sun_path, argv[optind]);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 8) == -1) {
		perror("ctlserve");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (count-- > 0) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			perror("accept");
			return 1;
		}
		if (serve(fd, mode) == -1)
			perror("write");
		close(fd);
	}
	close(lfd);
	unlink(argv[optind]);
	return 0;
}
