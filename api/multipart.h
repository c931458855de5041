/*
 * A streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * The caller feeds the body in chunks of any size, as they arrive; the
 * parser calls back with each part's headers once they are complete and
 * then with its data in pieces, so a file part can go to disk without the
 * body ever being held in memory.  Memory is bounded by the header limit.
 * No I/O, no global state: one parser per body, any number in parallel.
 *
 * What is accepted: a boundary of 1–70 characters (RFC 2046 bchars, or any
 * printable character but CR/LF), quoted or not, in the Content-Type; a
 * preamble before the first delimiter and an epilogue after the last (both
 * ignored); transport padding (spaces, tabs) after a delimiter; header lines
 * ending in CRLF or bare LF.  Every part must carry Content-Disposition:
 * form-data with a name.  Errors are sticky: after one, feed returns -1.
 */
#ifndef LOCALAI_MULTIPART_H
#define LOCALAI_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX 70
#define MULTIPART_NAME_MAX 256 /* field name, filename, content type */

/* The headers of one part, valid only during the part_begin callback. */
struct multipart_part {
	unsigned index; /* 0, 1, … */
	const char *name; /* Content-Disposition name */
	const char *filename; /* NULL when absent */
	const char *content_type; /* NULL when absent */
};

/*
 * Callbacks; any may be NULL.  A non-zero return aborts parsing with
 * MULTIPART_ERR_ABORTED.  part_end is called only for complete parts.
 */
struct multipart_callbacks {
	int (*part_begin)(void *arg, const struct multipart_part *part);
	int (*part_data)(void *arg, const char *data, size_t len);
	int (*part_end)(void *arg);
};

struct multipart_limits {
	uint64_t body_max; /* bytes fed in total; 0 = no limit */
	uint32_t parts_max; /* 0 = no limit */
	uint32_t header_max; /* header bytes of one part; 0 = 8 KiB */
};

enum multipart_errcode {
	MULTIPART_OK = 0,
	MULTIPART_ERR_CONTENT_TYPE, /* not multipart/form-data */
	MULTIPART_ERR_BOUNDARY, /* missing or invalid boundary */
	MULTIPART_ERR_DELIMITER, /* junk after a boundary */
	MULTIPART_ERR_HEADER, /* malformed header line */
	MULTIPART_ERR_DISPOSITION, /* no form-data disposition or name */
	MULTIPART_ERR_HEADER_SIZE, /* headers beyond header_max */
	MULTIPART_ERR_PARTS, /* more parts than parts_max */
	MULTIPART_ERR_BODY_SIZE, /* body beyond body_max */
	MULTIPART_ERR_TRUNCATED, /* body ended before the last boundary */
	MULTIPART_ERR_ABORTED, /* a callback returned non-zero */
	MULTIPART_ERR_NOMEM,
};

struct multipart;

/*
 * A parser for a body of the given Content-Type header value.  NULL with
 * *code set (MULTIPART_ERR_CONTENT_TYPE, _BOUNDARY or _NOMEM) on failure.
 */
struct multipart *multipart_new(const char *content_type,
    const struct multipart_limits *limits, const struct multipart_callbacks *cb,
    void *arg, enum multipart_errcode *code);
/* Feed the next bytes of the body.  0, or -1 (see multipart_error()). */
int multipart_feed(struct multipart *mp, const void *data, size_t len);
/* The body is complete: 0 when the closing boundary was seen, else -1. */
int multipart_finish(struct multipart *mp);
enum multipart_errcode multipart_error(const struct multipart *mp);
/* A sentence describing the error, with the byte offset where it arose. */
const char *multipart_error_text(const struct multipart *mp);
/* A sentence for an error code alone (e.g. from multipart_new()). */
const char *multipart_strerror(enum multipart_errcode code);
unsigned multipart_parts(const struct multipart *mp);
void multipart_free(struct multipart *mp);

#endif
