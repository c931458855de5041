/*
 * Content-addressed model file store.  See fetch.h.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/fetch.h"
#include "agent/hclient.h"
#include "agent/util.h"
#include "proto/hash.h"
#include "agent/wmetrics.h"
#include "proto/log.h"

/* Downloads in progress, by hash, so a second request waits for the first
 * instead of fetching again. */
struct inflight {
	char sha256[65];
	int done;
	int rc;
	char err[256];
	int waiters;
	struct inflight *next;
};

/* fetch_download's "try again" (a dropped connection), apart from -1. */
#define FETCH_RETRY (-2)

static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fetch_cond = PTHREAD_COND_INITIALIZER;
static struct inflight *fetch_inflight;

static void
blob_path(char *out, size_t len, const char *models_path, const char *sha)
{
	snprintf(out, len, "%s/blobs/sha256-%s", models_path, sha);
}

int
fetch_cached(const char *models_path, const char *sha256)
{
	char p[1024];

	blob_path(p, sizeof(p), models_path, sha256);
	return access(p, R_OK) == 0;
}

struct progress {
	const char *model; /* for localai_file_fetch_bytes_total */
	fetch_progress_fn fn;
	void *arg;
	uint64_t done;
	uint64_t total;
	uint64_t last;
};

static int
fetch_progress(void *arg, const void *data, size_t len)
{
	struct progress *p = arg;

	p->done += len;
	wk_metrics_fetched(p->model, len);
	/* Report every 4 MiB, not every block. */
	if (p->fn != NULL && p->done - p->last >= 4u << 20) {
		p->last = p->done;
		p->fn(p->arg, p->done, p->total);
	}
	return 0;
}

/*
 * The partial file is written through a stdio cookie of ours so that the
 * errno of a failing write(2) is kept: libcurl reports only "Failed
 * writing received data", and a full disk must be reported as such.
 */
struct fsink {
	int fd;
	int err; /* errno of the first failed write or close; 0 if none */
};

static ssize_t
fsink_write(void *cookie, const char *buf, size_t len)
{
	struct fsink *s = cookie;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = write(s->fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			if (s->err == 0)
				s->err = errno;
			break;
		}
		off += (size_t)n;
	}
	/* A count short of len puts the stream in error (glibc). */
	return (ssize_t)off;
}

static int
fsink_close(void *cookie)
{
	struct fsink *s = cookie;

	if (close(s->fd) == -1 && s->err == 0)
		s->err = errno;
	return s->err == 0 ? 0 : -1;
}

/* Open <part> for writing at offset (appending when resuming). */
static FILE *
fsink_open(struct fsink *s, const char *part, uint64_t offset)
{
	cookie_io_functions_t io = {NULL, fsink_write, NULL, fsink_close};
	FILE *fp;

	s->err = 0;
	s->fd = open(part,
	    O_WRONLY | O_CREAT | O_CLOEXEC | (offset ? O_APPEND : O_TRUNC),
	    0644);
	if (s->fd == -1)
		return NULL;
	if ((fp = fopencookie(s, "w", io)) == NULL)
		(void)close(s->fd);
	return fp;
}

/*
 * Download into <blob>.partial (resuming), verify, rename to <blob>.
 * Returns 0; FETCH_RETRY when another attempt may succeed (a dropped
 * connection: the partial file is kept to resume from); -1 when it
 * cannot (HTTP error, bad hash, local write error such as a full disk:
 * the partial file is removed).
 */
static int
fetch_download(const char *models_path, const char *url, const char *bearer,
    const struct fetch_file *f, struct progress *pr, char *err, size_t errlen)
{
	char blob[1024], part[1100], hex[65];
	struct fsink sink;
	struct stat st;
	uint64_t offset = 0;
	FILE *fp;
	long status;

	blob_path(blob, sizeof(blob), models_path, f->sha256);
	snprintf(part, sizeof(part), "%s.partial", blob);
	if (stat(part, &st) == 0)
		offset = (uint64_t)st.st_size;
	if (f->size != 0 && offset > f->size)
		offset = 0;
	if ((fp = fsink_open(&sink, part, offset)) == NULL) {
		snprintf(err, errlen, "%s: %s", part, strerror(errno));
		return -1;
	}
	pr->done = offset;
	status = hclient_download(url, bearer, fp, offset,
	    f->size ? f->size - offset : 0, fetch_progress, pr, err, errlen);
	if (fclose(fp) != 0 && sink.err == 0 && status >= 0) {
		snprintf(err, errlen, "%s: %s", part, strerror(errno));
		status = -1;
	}
	if (sink.err != 0) {
		snprintf(err, errlen, "%s/%s: %s (writing %s)", f->model,
		    f->name, strerror(sink.err), part);
		(void)unlink(part);
		return -1;
	}
	if (status == 200 && offset > 0) {
		/* The server ignored Range and sent it all: start over. */
		unlink(part);
		snprintf(err, errlen, "server does not resume; retry");
		return FETCH_RETRY;
	}
	if (status < 0) {
		/* An HTTP error is final; a body longer than expected (a
		 * server ignoring Range) starts over; a dropped connection
		 * resumes from what arrived. */
		if (strstr(err, "HTTP") != NULL) {
			unlink(part);
			return -1;
		}
		if (strstr(err, "writing") != NULL)
			unlink(part);
		return FETCH_RETRY;
	}
	if (hash_sha256_file(part, hex) == -1 || !hex_equal(hex, f->sha256)) {
		snprintf(
		    err, errlen, "%s/%s: SHA-256 mismatch", f->model, f->name);
		unlink(part);
		return -1;
	}
	if (rename(part, blob) == -1) {
		snprintf(err, errlen, "%s: %s", blob, strerror(errno));
		unlink(part);
		return -1;
	}
	return 0;
}

/* Link <models_path>/<model>/<file> to the blob. */
static int
fetch_link(const char *models_path, const struct fetch_file *f, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	char dir[1024], blob[1024];

	snprintf(dir, sizeof(dir), "%s/%s", models_path, f->model);
	blob_path(blob, sizeof(blob), models_path, f->sha256);
	snprintf(path, pathlen, "%s/%s", dir, f->name);
	if (mkdir_p(dir, 0755) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	(void)unlink(path);
	if (link(blob, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static struct inflight *
inflight_find(const char *sha)
{
	struct inflight *i;

	for (i = fetch_inflight; i != NULL; i = i->next)
		if (hex_equal(i->sha256, sha))
			return i;
	return NULL;
}

static void
inflight_remove(struct inflight *x)
{
	struct inflight **pp;

	for (pp = &fetch_inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			return;
		}
}

/* Wait for another thread's download of the same blob; its result. */
static int
fetch_wait(struct inflight *i, char *err, size_t errlen)
{
	int rc;

	i->waiters++;
	while (!i->done)
		pthread_cond_wait(&fetch_cond, &fetch_lock);
	rc = i->rc;
	snprintf(err, errlen, "%s", i->err);
	if (--i->waiters == 0)
		free(i);
	return rc;
}

static int
fetch_blob(const char *models_path, const char *base_url, const char *bearer,
    const struct fetch_file *f, struct progress *pr, char *err, size_t errlen)
{
	struct inflight *i;
	char url[2048], dir[1024];
	int rc;

	pthread_mutex_lock(&fetch_lock);
	if (fetch_cached(models_path, f->sha256)) {
		pthread_mutex_unlock(&fetch_lock);
		return 0;
	}
	if ((i = inflight_find(f->sha256)) != NULL) {
		rc = fetch_wait(i, err, errlen);
		pthread_mutex_unlock(&fetch_lock);
		return rc;
	}
	if ((i = calloc(1, sizeof(*i))) == NULL) {
		pthread_mutex_unlock(&fetch_lock);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(i->sha256, sizeof(i->sha256), "%s", f->sha256);
	i->waiters = 1;
	i->next = fetch_inflight;
	fetch_inflight = i;
	pthread_mutex_unlock(&fetch_lock);

	snprintf(dir, sizeof(dir), "%s/blobs", models_path);
	snprintf(url, sizeof(url), "%s/%s/%s", base_url, f->model, f->name);
	if (mkdir_p(dir, 0755) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		rc = -1;
	} else {
		rc = fetch_download(
		    models_path, url, bearer, f, pr, err, errlen);
	}

	pthread_mutex_lock(&fetch_lock);
	inflight_remove(i);
	i->done = 1;
	i->rc = rc;
	snprintf(i->err, sizeof(i->err), "%s", err);
	pthread_cond_broadcast(&fetch_cond);
	if (--i->waiters == 0)
		free(i);
	pthread_mutex_unlock(&fetch_lock);
	return rc;
}

int
fetch_ensure(const char *models_path, const char *base_url, const char *bearer,
    const struct fetch_file *f, fetch_progress_fn fn, void *arg, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	struct progress pr = {f->model, fn, arg, 0, f->size, 0};
	int attempt, rc;

	err[0] = '\0';
	if (!name_ok(f->model) || !name_ok(f->name)) {
		snprintf(err, errlen, "invalid model or file name");
		return -1;
	}
	if (strlen(f->sha256) != 64 ||
	    strspn(f->sha256, "0123456789abcdefABCDEF") != 64) {
		snprintf(
		    err, errlen, "%s/%s: invalid sha256", f->model, f->name);
		return -1;
	}
	/* A dropped connection resumes where it stopped, three times;
	 * other errors (HTTP, bad hash, full disk) are final. */
	for (attempt = 0; attempt < 3; attempt++) {
		if ((rc = fetch_blob(models_path, base_url, bearer, f, &pr, err,
		         errlen)) == 0)
			break;
		if (rc != FETCH_RETRY)
			return -1;
		log_warnx("fetch %s/%s: %s (attempt %d)", f->model, f->name,
		    err, attempt + 1);
	}
	if (attempt == 3)
		return -1;
	if (fn != NULL)
		fn(arg, f->size, f->size);
	return fetch_link(models_path, f, path, pathlen, err, errlen);
}

/* Remove blobs with no remaining link (link count 1). */
static void
fetch_gc(const char *models_path)
{
	char dir[1024], p[1400];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/blobs", models_path);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "sha256-", 7) != 0 ||
		    strchr(de->d_name, '.') != NULL)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && st.st_nlink == 1)
			(void)unlink(p);
	}
	closedir(d);
}

int
fetch_delete_model(
    const char *models_path, const char *model, char *err, size_t errlen)
{
	char dir[1024];

	if (!name_ok(model)) {
		snprintf(err, errlen, "invalid model name");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", models_path, model);
	if (access(dir, F_OK) == -1) {
		snprintf(err, errlen, "model %s has no files here", model);
		return -1;
	}
	pthread_mutex_lock(&fetch_lock);
	if (remove_tree(dir) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		pthread_mutex_unlock(&fetch_lock);
		return -1;
	}
	fetch_gc(models_path);
	pthread_mutex_unlock(&fetch_lock);
	return 0;
}
