/*
 * The worker's HTTP endpoint (LOCALAI_HTTP_ADDR, by default the gRPC base
 * port - 1, as LocalAI's):
 *   GET  /healthz            the agent process is alive
 *   GET  /readyz             registered, NATS connected, no failed replica
 *   GET  /metrics            Prometheus text (agent/wmetrics.c)
 *   POST /v1/files/temp      reserve a per-request output file → local_path
 *   PUT  /v1/files/<key>     store a per-request input file → local_path
 *   GET  /v1/files/<key>     fetch a per-request file (a TTS result)
 * /v1/files needs `Authorization: Bearer <backend token>`; files live in
 * <state_dir>/files, are limited to file_max bytes and expire after
 * file_ttl.  LocalAI's frontend uses the same routes for file staging.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "agent/bus.h"
#include "agent/util.h"
#include "agent/wmetrics.h"
#include "agent/worker.h"
#include "proto/log.h"
#include "proto/metrics.h"

struct upload {
	int marker; /* first call seen (two-pass responses) */
	int fd;
	char path[600];
	uint64_t size;
	int error; /* 401, 413, 500 once decided */
};

static struct MHD_Daemon *http_daemon;
static char files_dir[512];

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type,
    const char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(
	    strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_json_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	char body[512];

	snprintf(body, sizeof(body),
	    "{\"error\":{\"message\":\"%s\","
	    "\"type\":\"node_error\",\"code\":%u}}",
	    msg, status);
	return reply(c, status, "application/json", body);
}

static int
authorized(struct MHD_Connection *c)
{
	const char *h =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *want = wk_node.backend_token;
	size_t n = strlen(want);

	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || n == 0)
		return 0;
	h += 7;
	return strlen(h) == n && CRYPTO_memcmp(h, want, n) == 0;
}

int
wk_ready(char *why, size_t len)
{
	struct wk_replica *r;
	int ok = 1;

	why[0] = '\0';
	pthread_mutex_lock(&wk_lock);
	if (!wk_node.registered) {
		snprintf(why, len, "not registered");
		ok = 0;
	} else if (!bus_connected(wk_bus)) {
		snprintf(why, len, "NATS not connected");
		ok = 0;
	} else {
		for (r = wk_replicas; r != NULL; r = r->next)
			if (r->state == WR_FAILED) {
				snprintf(why, len, "replica %s failed: %s",
				    r->id, r->error);
				ok = 0;
				break;
			}
	}
	pthread_mutex_unlock(&wk_lock);
	return ok;
}

static enum MHD_Result
serve_readyz(struct MHD_Connection *c)
{
	char why[400], body[512];
	int ok = wk_ready(why, sizeof(why));

	snprintf(body, sizeof(body), "{\"ready\":%s,\"reason\":\"%s\"}\n",
	    ok ? "true" : "false", why);
	return reply(c, ok ? 200 : 503, "application/json", body);
}

/* The catalogue's worker metrics (agent/wmetrics.c). */
static enum MHD_Result
serve_metrics(struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = 0;
	char *text;

	if ((text = wk_metrics_render(&len)) == NULL)
		return reply_json_error(c, 500, "out of memory");
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", METRICS_CONTENT_TYPE);
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* The key of /v1/files/<key>: one safe path component. */
static const char *
file_key(const char *url)
{
	const char *k = url + strlen("/v1/files/");

	return name_ok(k) ? k : NULL;
}

static enum MHD_Result
serve_file(struct MHD_Connection *c, const char *key)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char path[700];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", files_dir, key);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return reply_json_error(c, 404, "no such file");
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reply_json_error(c, 404, "no such file");
	}
	if ((r = MHD_create_response_from_fd((uint64_t)st.st_size, fd)) ==
	    NULL) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reserve_temp(struct MHD_Connection *c)
{
	char key[64], hex[33], body[900];
	int fd;

	if (random_hex(hex, 16) == -1)
		return reply_json_error(c, 500, "no randomness");
	snprintf(key, sizeof(key), "tmp-%s", hex);
	snprintf(body, sizeof(body), "%s/%s", files_dir, key);
	if ((fd = open(body, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1)
		return reply_json_error(c, 500, "cannot create the file");
	close(fd);
	snprintf(body, sizeof(body),
	    "{\"key\":\"%s\",\"local_path\":\"%s/%s\"}", key, files_dir, key);
	return reply(c, 200, "application/json", body);
}

/* A failed or aborted upload leaves nothing behind: at once, not when the
 * connection ends, so the client never sees its refused file. */
static void
upload_discard(struct upload *u)
{
	if (u->fd == -1)
		return;
	close(u->fd);
	u->fd = -1;
	(void)unlink(u->path);
}

/* PUT: stream the body into the file, then answer on the last call. */
static enum MHD_Result
upload(struct MHD_Connection *c, struct upload *u, const char *key,
    const char *data, size_t *size)
{
	char body[900];

	if (*size != 0) {
		if (u->error == 0 && u->fd == -1) {
			snprintf(
			    u->path, sizeof(u->path), "%s/%s", files_dir, key);
			u->fd = open(u->path,
			    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (u->fd == -1)
				u->error = 500;
		}
		if (u->error == 0 &&
		    u->size + *size > wk_conf()->worker.file_max)
			u->error = 413;
		if (u->error == 0 &&
		    write(u->fd, data, *size) != (ssize_t)*size)
			u->error = 500;
		if (u->error != 0)
			upload_discard(u);
		u->size += *size;
		*size = 0;
		return MHD_YES;
	}
	if (u->error == 0 && u->fd == -1) { /* empty body */
		snprintf(u->path, sizeof(u->path), "%s/%s", files_dir, key);
		if ((u->fd = open(u->path,
		         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
			u->error = 500;
	}
	if (u->error == 413)
		return reply_json_error(c, 413, "file too large");
	if (u->error != 0)
		return reply_json_error(c, 500, "cannot store the file");
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"local_path\":\"%s\"}",
	    key, u->path);
	return reply(c, 201, "application/json", body);
}

/*
 * The first call of a /v1/files request, headers read, body not yet:
 * refusals (token, key, method, a declared size beyond file_max) are
 * answered now.  MHD can queue a response at this point and then never
 * reads the body, but not while a body is arriving (the connection would
 * close with no answer at all).  MHD_YES with nothing queued: go on.
 */
static enum MHD_Result
files_first(struct MHD_Connection *c, const char *url, const char *method)
{
	const char *cl;
	char *end;
	unsigned long long n;

	if (!authorized(c))
		return reply_json_error(c, 401, "missing or wrong token");
	if (strcmp(url, "/v1/files/temp") == 0 && strcmp(method, "POST") == 0)
		return MHD_YES;
	if (file_key(url) == NULL)
		return reply_json_error(c, 400, "invalid file key");
	if (strcmp(method, "GET") == 0)
		return MHD_YES;
	if (strcmp(method, "PUT") != 0)
		return reply_json_error(c, 405, "method not allowed");
	cl = MHD_lookup_connection_value(
	    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		n = strtoull(cl, &end, 10);
		if (*end == '\0' && n > wk_conf()->worker.file_max)
			return reply_json_error(c, 413, "file too large");
	}
	return MHD_YES;
}

/* Later calls: the body of a PUT, then the answer. */
static enum MHD_Result
handle_files(struct MHD_Connection *c, struct upload *u, const char *url,
    const char *method, const char *data, size_t *size)
{
	if (strcmp(url, "/v1/files/temp") == 0 && strcmp(method, "POST") == 0) {
		if (*size != 0) {
			*size = 0;
			return MHD_YES;
		}
		return reserve_temp(c);
	}
	if (strcmp(method, "PUT") == 0)
		return upload(c, u, file_key(url), data, size);
	return serve_file(c, file_key(url));
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
	struct upload *u = *con_cls;
	int files = strncmp(url, "/v1/files/", 10) == 0;

	/* Answer on the second call or later, never the first, or MHD
	 * closes the connection after the response (no keep-alive); only
	 * refused uploads are answered at once, their body unread. */
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return MHD_NO;
		u->fd = -1;
		*con_cls = u;
		return files ? files_first(c, url, method) : MHD_YES;
	}
	if (files)
		return handle_files(c, u, url, method, data, size);
	if (*size != 0) { /* bodies of other routes are ignored */
		*size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0)
		return reply_json_error(c, 405, "method not allowed");
	if (strcmp(url, "/healthz") == 0)
		return reply(c, 200, "text/plain", "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return serve_readyz(c);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(c);
	return reply_json_error(c, 404, "not found");
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	if (u == NULL)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		upload_discard(u); /* the client went away mid-upload */
	else if (u->fd != -1)
		close(u->fd);
	free(u);
	*con_cls = NULL;
}

static void
http_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_debug("http: %s", msg);
}

/* Parse "host:port" (host may be empty or 0.0.0.0) into sa. */
static int
http_sockaddr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *res;
	char host[256];
	const char *colon = strrchr(addr, ':');
	int rc;

	if (colon == NULL || colon - addr >= (long)sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (rc != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Remove per-request files older than file_ttl. */
void
wk_files_expire(void)
{
	time_t cutoff =
	    time(NULL) - (time_t)(wk_conf()->worker.file_ttl_ms / 1000);
	char p[800];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(files_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", files_dir, de->d_name);
		if (stat(p, &st) == 0 && st.st_mtime < cutoff)
			(void)unlink(p);
	}
	closedir(d);
}

int
wk_http_start(void)
{
	const struct conf *c = wk_conf();
	struct sockaddr_storage ss;
	socklen_t sl;

	snprintf(files_dir, sizeof(files_dir), "%s/files", c->state_dir);
	if (mkdir_p(files_dir, 0700) == -1) {
		log_warn("%s", files_dir);
		return -1;
	}
	if (http_sockaddr(c->worker.http_addr, &ss, &sl) == -1) {
		log_warnx("http_addr %s: not host:port", c->worker.http_addr);
		return -1;
	}
	http_daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, 2,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_NOTIFY_COMPLETED,
	    completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_END);
	if (http_daemon == NULL) {
		log_warnx("http: cannot listen on %s", c->worker.http_addr);
		return -1;
	}
	log_info("http: listening on %s", c->worker.http_addr);
	return 0;
}

void
wk_http_stop(void)
{
	if (http_daemon != NULL)
		MHD_stop_daemon(http_daemon);
	http_daemon = NULL;
}
