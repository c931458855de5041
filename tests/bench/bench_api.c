/*
 * bench_api: what one api process adds on the request path.
 *
 *	bench_api BUILDDIR [SECONDS]
 *
 * One api process (router link played by this program, see
 * tests/integration/api_tlib.h: the placement answer is immediate, as the
 * router's warm path is) in front of the fake backend (5 tokens, no
 * delay).  Prints:
 *   - latency of a small non-streaming chat completion through the api vs
 *     the same Predict called directly with bclient, p50 and p99, with 1
 *     and with 64 concurrent clients (keep-alive connections), and the
 *     requests per second each way (64 clients: saturation);
 *   - time to first token of a stream, through the api (first body byte
 *     of the SSE response) vs direct (first PredictStream message);
 *   - resident memory of the api process idle and under the 64-client load.
 * Clients, api and backend share the machine's cores: read the numbers
 * as orders of magnitude.
 */
#include <sys/types.h>

#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api_tlib.h"
#include "backends/common/bclient.h"

#define BENCH_CLIENTS_MAX 64
#define BENCH_CHAT                                                             \
	"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\","                \
	"\"content\":\"hello\"}]}"
#define BENCH_STREAM                                                           \
	"{\"model\":\"fake\",\"messages\":[{\"role\":\"user\","                \
	"\"content\":\"hello\"}],\"stream\":true}"

static struct tl_api A;
static struct tl_proc F;
static int bench_seconds = 5;

struct lat {
	int64_t *v;
	size_t n, cap;
};

struct client {
	pthread_t t;
	int direct;
	int64_t until;
	struct lat lat;
	int errors;
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
lat_add(struct lat *l, int64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		if ((l->v = realloc(l->v, l->cap * sizeof(*l->v))) == NULL)
			exit(2);
	}
	l->v[l->n++] = us;
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t
discard(char *d, size_t s, size_t n, void *arg)
{
	return s * n;
}

static CURL *
http_handle(const char *path, const char *body, struct curl_slist *h)
{
	char url[256]; /* curl copies it */
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", A.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	return c;
}

static struct curl_slist *
http_headers(void)
{
	struct curl_slist *h = NULL;

	h = curl_slist_append(h, "Authorization: Bearer " TL_KEY);
	return curl_slist_append(h, "Content-Type: application/json");
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	Backend__PredictOptions q = BACKEND__PREDICT_OPTIONS__INIT;
	struct bc_opts o = {TL_TOKEN, 10000, 0, NULL};
	struct curl_slist *h = http_headers();
	CURL *cu = http_handle("/v1/chat/completions", BENCH_CHAT, h);
	Backend__Reply *rp;
	struct bc_error e;
	CURLcode cc = CURLE_OK;
	long st = 0;
	int64_t t0;

	q.prompt = "User: hello\nAssistant:";
	while (mono_us() < c->until) {
		t0 = mono_us();
		if (c->direct) {
			if (bc_predict(F.addr, &o, &q, &rp, &e) == 0)
				bc_free(rp);
			else
				c->errors++;
		} else if ((cc = curl_easy_perform(cu)) != CURLE_OK ||
		           curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &st) !=
		               CURLE_OK ||
		           st != 200) {
			if (c->errors++ == 0)
				fprintf(stderr, "first error: %s, HTTP %ld\n",
				    curl_easy_strerror(cc), st);
		}
		lat_add(&c->lat, mono_us() - t0);
	}
	curl_easy_cleanup(cu);
	curl_slist_free_all(h);
	return NULL;
}

static long
rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* n clients for bench_seconds; prints a line; returns peak RSS seen. */
static long
phase(const char *what, int direct, int n)
{
	struct client c[BENCH_CLIENTS_MAX];
	struct lat all = {0};
	int i, errors = 0;
	long rss, peak = 0;
	int64_t until = mono_us() + bench_seconds * 1000000LL;

	for (i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].direct = direct;
		c[i].until = until;
		pthread_create(&c[i].t, NULL, client_main, &c[i]);
	}
	while (mono_us() < until) {
		if ((rss = rss_kib(A.proc.pid)) > peak)
			peak = rss;
		tl_sleep_ms(200);
	}
	for (i = 0; i < n; i++) {
		pthread_join(c[i].t, NULL);
		errors += c[i].errors;
		for (size_t k = 0; k < c[i].lat.n; k++)
			lat_add(&all, c[i].lat.v[k]);
		free(c[i].lat.v);
	}
	qsort(all.v, all.n, sizeof(*all.v), cmp64);
	printf("%-26s %2d clients: %8.0f req/s  p50 %7.0f us  p99 %7.0f us"
	       "%s\n",
	    what, n, (double)all.n / bench_seconds,
	    all.n ? (double)all.v[all.n / 2] : 0.0,
	    all.n ? (double)all.v[all.n * 99 / 100] : 0.0,
	    errors ? "  (errors!)" : "");
	if (errors)
		printf("    %d errors\n", errors);
	free(all.v);
	return peak;
}

/* Median time to first token over n streams, through the api or direct. */
static double
ttft(int direct, int n)
{
	Backend__PredictOptions q = BACKEND__PREDICT_OPTIONS__INIT;
	struct bc_opts o = {TL_TOKEN, 10000, 0, NULL};
	struct curl_slist *h = http_headers();
	CURL *cu = http_handle("/v1/chat/completions", BENCH_STREAM, h);
	struct lat l = {0};
	Backend__Reply *rp;
	struct bc_stream *s;
	struct bc_error e;
	double first, med;
	int64_t t0;
	int i;

	q.prompt = "User: hello\nAssistant:";
	for (i = 0; i < n; i++) {
		t0 = mono_us();
		if (direct) {
			s = bc_predict_stream(F.addr, &o, &q, &e);
			if (s != NULL &&
			    bc_predict_stream_next(s, &rp, &e) == 1) {
				lat_add(&l, mono_us() - t0);
				bc_free(rp);
			}
			while (s != NULL &&
			       bc_predict_stream_next(s, &rp, &e) == 1)
				bc_free(rp);
			bc_stream_close(s);
		} else if (curl_easy_perform(cu) == CURLE_OK &&
		           curl_easy_getinfo(cu, CURLINFO_STARTTRANSFER_TIME,
		               &first) == CURLE_OK) {
			lat_add(&l, (int64_t)(first * 1e6));
		}
	}
	curl_easy_cleanup(cu);
	curl_slist_free_all(h);
	qsort(l.v, l.n, sizeof(*l.v), cmp64);
	med = l.n ? (double)l.v[l.n / 2] : -1;
	free(l.v);
	return med;
}

int
main(int argc, char **argv)
{
	char fakebin[512], localai[512];
	char *env[] = {"FAKE_BACKEND_OPTIONS=tokens=5,parallel=64", NULL};
	struct conf_model m;
	struct conf c;
	long idle, busy;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_api BUILDDIR [SECONDS]\n");
		return 2;
	}
	if (argc > 2)
		bench_seconds = atoi(argv[2]);
	snprintf(
	    fakebin, sizeof(fakebin), "%s/tests/fakes/fakebackend", argv[1]);
	snprintf(localai, sizeof(localai), "%s/bin/localai", argv[1]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (bc_init() == -1)
		return 1;
	tl_router_start();
	tl_conf(&c);
	c.verbose = 0;
	c.frontend.max_concurrent = 1024;
	tl_model(&m, "fake");
	if (tl_backend(&F, fakebin, env) == -1 ||
	    tl_api_start(&A, localai, &c, &m, 1) == -1)
		return 1;
	tl_router_reset(F.addr);
	tl_sleep_ms(500);
	idle = rss_kib(A.proc.pid);
	(void)phase("warm-up (api)", 0, 4);
	printf("bench_api: one api process, fake backend, %d s per phase\n",
	    bench_seconds);
	phase("direct gRPC Predict", 1, 1);
	phase("through the api", 0, 1);
	phase("direct gRPC Predict", 1, 64);
	busy = phase("through the api", 0, 64);
	printf("time to first token (median of 500): direct %.0f us, through "
	       "the api %.0f us\n",
	    ttft(1, 500), ttft(0, 500));
	printf("api process RSS: idle %ld KiB, under 64 clients %ld KiB\n",
	    idle, busy);
	CHECK(tl_router_idle(5000) == 0 && TR.bad == 0, "DONE accounting");
	tl_api_stop(&A);
	tl_proc_stop(&F);
	bc_shutdown();
	return tl_failures ? 1 : 0;
}
