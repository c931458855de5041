/*
 * Files the router tells us to send (model files for workers, gallery
 * packages): straight from disk by the kernel (MHD sends the fd), with
 * Content-Length, and a single byte range when asked (206 with
 * Content-Range; 416 with "bytes *\/SIZE" for a range beyond the end), so
 * a worker can resume a broken download.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "api/api.h"
#include "proto/log.h"

static const char *
files_type(const char *path)
{
	size_t n = strlen(path);

	if (n > 5 && strcmp(path + n - 5, ".json") == 0)
		return "application/json";
	if ((n > 7 && strcmp(path + n - 7, ".tar.gz") == 0) ||
	    (n > 3 && strcmp(path + n - 3, ".gz") == 0))
		return "application/gzip";
	return "application/octet-stream";
}

static int
files_open(struct api_req *r, const char *path, uint64_t *size)
{
	struct stat st;
	int fd;

	if (path == NULL || path[0] != '/' || strstr(path, "/../") != NULL) {
		log_fields(LOG_WARNING,
		    &(struct log_fields){.request_id = r->request_id},
		    "router asked to send \"%s\": not an "
		    "absolute path",
		    path != NULL ? path : "");
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "cannot send the file");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		log_fields(LOG_WARNING,
		    &(struct log_fields){.request_id = r->request_id},
		    "cannot send %s: %s", path,
		    fd == -1 ? strerror(errno) : "not a regular file");
		api_error(r, 404, "invalid_request_error", "not_found", NULL,
		    "no such file");
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

void
api_h_sendfile(struct api_req *r, const char *path)
{
	struct api_reply *y = &r->reply;
	uint64_t size = 0, off = 0, len;
	int fd;

	if ((fd = files_open(r, path, &size)) == -1)
		return;
	len = size;
	switch (api_range_parse(
	    api_header(r, MHD_HTTP_HEADER_RANGE), size, &off, &len)) {
	case API_RANGE_UNSAT:
		close(fd);
		api_error(r, 416, "invalid_request_error",
		    "range_not_"
		    "satisfiable",
		    NULL, "the range is beyond the file's %" PRIu64 " bytes",
		    size);
		snprintf(y->content_range, sizeof(y->content_range),
		    "bytes */%" PRIu64, size);
		return;
	case API_RANGE_PART:
		api_reply_data(r, 206, files_type(path), NULL, 0);
		snprintf(y->content_range, sizeof(y->content_range),
		    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
		    off + len - 1, size);
		break;
	default:
		api_reply_data(r, 200, files_type(path), NULL, 0);
		break;
	}
	y->fd = fd;
	y->offset = off;
	y->length = len;
	y->accept_ranges = 1;
}
