/*
 * bench_grpc: the backend protocol's cost, C client (bclient) to C server
 * (the runtime, via the fake backend), over TCP loopback and a Unix socket.
 *
 *	bench_grpc [-n CALLS] [-m MESSAGES] FAKEBACKEND
 *
 * Prints, per transport: sequential unary Health round trips per second
 * with median and p99 latency; Health with 4 client threads in parallel;
 * and PredictStream messages per second (one stream of tiny tokens).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/common/bclient.h"
#include "proto/log.h"

#define BENCH_THREADS 4

extern char **environ;

static const char *fakebin;
static int ncalls = 10000;
static int nmsgs = 100000;
static const struct bc_opts opts = { NULL, 10000, 0, NULL };

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Start the fake backend on addr; its address to call goes in out. */
static pid_t
spawn_backend(const char *dir, int tcp, char *out, size_t outlen)
{
	char addr[128], portfile[128], *argv[8], env[64], **envp;
	struct bc_opts o = { NULL, 10000, 1, NULL };
	pid_t pid;
	size_t n = 0, i;
	FILE *f;
	int port = -1, tries;

	snprintf(addr, sizeof(addr), tcp ? "127.0.0.1:0" : "unix:%s/b.sock",
	    dir);
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	unlink(portfile);
	argv[0] = (char *)(uintptr_t)fakebin;
	argv[1] = (char *)(uintptr_t)"--addr";
	argv[2] = addr;
	argv[3] = (char *)(uintptr_t)"--port-file";
	argv[4] = portfile;
	argv[5] = NULL;
	snprintf(env, sizeof(env), "FAKE_BACKEND_OPTIONS=tokens=%d", nmsgs);
	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + 2, sizeof(*envp))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	envp[n] = env;
	if (posix_spawn(&pid, fakebin, NULL, NULL, argv, envp) != 0) {
		free(envp);
		return -1;
	}
	free(envp);
	for (tries = 0; tries < 1000 && port < 0; tries++) {
		if ((f = fopen(portfile, "r")) != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = -1;
			fclose(f);
		}
		usleep(10000);
	}
	if (tcp)
		snprintf(out, outlen, "127.0.0.1:%d", port);
	else
		snprintf(out, outlen, "%s", addr);
	if (port < 0 || bc_health(out, &o, NULL) == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void
bench_unary(const char *name, const char *addr)
{
	int64_t *lat, t0, t1, start;
	struct bc_error err;
	int i;

	if ((lat = calloc((size_t)ncalls, sizeof(*lat))) == NULL)
		fatal("calloc");
	for (i = 0; i < 500; i++)	/* warm up */
		(void)bc_health(addr, &opts, NULL);
	start = now_us();
	for (i = 0; i < ncalls; i++) {
		t0 = now_us();
		if (bc_health(addr, &opts, &err) == -1)
			fatalx("Health: %s", err.msg);
		t1 = now_us();
		lat[i] = t1 - t0;
	}
	t1 = now_us();
	qsort(lat, (size_t)ncalls, sizeof(*lat), cmp64);
	printf("%-6s unary Health, 1 client thread: %8.0f calls/s  "
	    "median %4lld us  p90 %4lld us  p99 %4lld us  (%d calls)\n",
	    name, ncalls * 1e6 / (double)(t1 - start),
	    (long long)lat[ncalls / 2], (long long)lat[ncalls * 90 / 100],
	    (long long)lat[ncalls * 99 / 100], ncalls);
	free(lat);
}

static void *
bench_thread(void *arg)
{
	const char *addr = arg;
	int i;

	for (i = 0; i < ncalls / BENCH_THREADS; i++)
		if (bc_health(addr, &opts, NULL) == -1)
			fatalx("Health failed");
	return NULL;
}

static void
bench_parallel(const char *name, const char *addr)
{
	pthread_t t[BENCH_THREADS];
	int64_t start;
	int i;

	start = now_us();
	for (i = 0; i < BENCH_THREADS; i++)
		if (pthread_create(&t[i], NULL, bench_thread,
		    (void *)(uintptr_t)addr) != 0)
			fatalx("pthread_create");
	for (i = 0; i < BENCH_THREADS; i++)
		pthread_join(t[i], NULL);
	printf("%-6s unary Health, %d client threads: %7.0f calls/s\n", name,
	    BENCH_THREADS, (ncalls / BENCH_THREADS) * BENCH_THREADS * 1e6 /
	    (double)(now_us() - start));
}

static void
bench_stream(const char *name, const char *addr)
{
	Backend__PredictOptions req = BACKEND__PREDICT_OPTIONS__INIT;
	struct bc_stream *s;
	struct bc_error err;
	Backend__Reply *r;
	int64_t start, first = 0;
	int n = 0, rc;

	req.prompt = (char *)(uintptr_t)"bench";
	start = now_us();
	if ((s = bc_predict_stream(addr, &opts, &req, &err)) == NULL)
		fatalx("PredictStream: %s", err.msg);
	while ((rc = bc_predict_stream_next(s, &r, &err)) == 1) {
		if (n++ == 0)
			first = now_us() - start;
		bc_free(r);
	}
	if (rc == -1)
		fatalx("PredictStream: %s", err.msg);
	bc_stream_close(s);
	printf("%-6s PredictStream: %8.0f messages/s  (%d messages, first "
	    "after %lld us)\n", name, n * 1e6 / (double)(now_us() - start), n,
	    (long long)first);
}

static void
bench_transport(const char *name, int tcp)
{
	char dir[] = "/tmp/bench_grpc.XXXXXX", addr[160], cmd[64];
	pid_t pid;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	if ((pid = spawn_backend(dir, tcp, addr, sizeof(addr))) == -1)
		fatalx("cannot start %s", fakebin);
	bench_unary(name, addr);
	bench_parallel(name, addr);
	bench_stream(name, addr);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	bc_forget(addr);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)system(cmd);
}

int
main(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "n:m:")) != -1) {
		if (ch == 'n')
			ncalls = atoi(optarg);
		else if (ch == 'm')
			nmsgs = atoi(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc || ncalls < 100 || nmsgs < 1)
		goto usage;
	fakebin = argv[optind];
	log_init(0);
	log_procinit("bench_grpc");
	bc_init();
	bench_transport("tcp", 1);
	bench_transport("unix", 0);
	bc_shutdown();
	return 0;
usage:
	fprintf(stderr, "usage: bench_grpc [-n calls] [-m messages] "
	    "FAKEBACKEND\n");
	return 2;
}
