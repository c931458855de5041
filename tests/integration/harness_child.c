/*
 * A test program that harness_cleanup runs and then ends in various ways.
 *
 *	harness_child MODE INFOFILE
 *
 * Starts PostgreSQL, nats-server and a `sleep` program through the
 * harness, writes what it started to INFOFILE (key=value lines, written
 * atomically), then according to MODE:
 *	ok	exits 0 (the orderly path)
 *	hold	waits for a signal forever
 *	assert	fails a cmocka assertion
 *	abort	calls abort()
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "tests/harness/harness.h"

static int
write_info(
    const char *path, struct th_pg *pg, struct th_nats *n, struct th_proc *p)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "test_pid=%d\nguardian_pid=%d\nroot=%s\n", (int)getpid(),
	    (int)getppid(), th_root());
	fprintf(f, "pg_pid=%d\npg_port=%d\npg_conninfo=%s\n",
	    (int)pg->proc->pid, pg->port, pg->conninfo);
	fprintf(f, "nats_pid=%d\nnats_port=%d\nnats_url=%s\n",
	    (int)n->proc->pid, n->port, n->url);
	fprintf(f, "proc_pid=%d\n", (int)p->pid);
	if (fclose(f) == EOF)
		return -1;
	return rename(tmp, path);
}

static void
failing_test(void **state)
{
	assert_int_equal(1, 2);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(failing_test),
	};
	char *sleeper[] = {"sleep", "1000", NULL};
	struct th_nats *n;
	struct th_proc *p;
	struct th_pg *pg;

	if (argc != 3 || th_init() == -1)
		return 2;
	if ((pg = th_pg_start(NULL)) == NULL ||
	    (n = th_nats_start(NULL)) == NULL ||
	    (p = th_proc_spawn(sleeper, NULL, NULL)) == NULL ||
	    PQping(pg->conninfo) != PQPING_OK ||
	    write_info(argv[2], pg, n, p) == -1)
		return 3;
	if (strcmp(argv[1], "ok") == 0)
		return 0;
	if (strcmp(argv[1], "hold") == 0)
		for (;;)
			pause();
	if (strcmp(argv[1], "assert") == 0)
		return cmocka_run_group_tests(tests, NULL, NULL);
	if (strcmp(argv[1], "abort") == 0)
		abort();
	return 2;
}
