/*
 * Streaming multipart/form-data parser; see multipart.h for the contract.
 *
 * The body is a sequence of parts separated by the delimiter
 * CRLF "--" boundary.  Part data is passed on as it arrives, except for the
 * bytes that might be the start of a delimiter: those are held back until
 * the match fails or completes.  They need no buffer, because they are by
 * construction a prefix of the delimiter.  The delimiter's first byte (CR)
 * never occurs again in it (boundaries may not contain CR), so when a
 * partial match fails, no suffix of it can start another match and the
 * search simply resumes at the failing byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/multipart.h"

#define HEADER_MAX_DEFAULT 8192

/*
 * Parser states, in body order.  After a delimiter come either "--" (the
 * closing delimiter), or optional padding and the line end, then headers.
 */
enum mp_state {
	MP_PREAMBLE, /* before the first delimiter: discarded */
	MP_AFTER_DELIM, /* just after "--boundary" */
	MP_AFTER_DASH, /* one '-' of the closing "--" seen */
	MP_PADDING, /* transport padding before the line end */
	MP_PADDING_CR, /* CR of the line end seen */
	MP_HEADERS, /* header lines of a part, up to a blank line */
	MP_DATA, /* part data, looking for the next delimiter */
	MP_EPILOGUE, /* after the closing delimiter: discarded */
	MP_ERROR, /* sticky */
};

struct multipart {
	enum mp_state state;
	struct multipart_callbacks cb;
	void *arg;
	struct multipart_limits lim;
	char delim[4 + MULTIPART_BOUNDARY_MAX + 1];
	size_t dlen;
	size_t matched; /* delimiter bytes matched */
	uint64_t offset; /* body bytes before this feed */
	uint64_t pos; /* where the current step is */
	unsigned parts;
	char *hdr; /* header bytes of this part */
	size_t hlen;
	size_t hline; /* start of the current line */
	enum multipart_errcode err;
	char errtext[192];
};

const char *
multipart_strerror(enum multipart_errcode code)
{
	switch (code) {
	case MULTIPART_OK:
		return "no error";
	case MULTIPART_ERR_CONTENT_TYPE:
		return "the Content-Type is not multipart/form-data";
	case MULTIPART_ERR_BOUNDARY:
		return "the Content-Type has no valid boundary parameter";
	case MULTIPART_ERR_DELIMITER:
		return "a boundary line is followed by unexpected bytes";
	case MULTIPART_ERR_HEADER:
		return "a part header is malformed";
	case MULTIPART_ERR_DISPOSITION:
		return "a part lacks Content-Disposition: form-data with a "
		       "name";
	case MULTIPART_ERR_HEADER_SIZE:
		return "a part's headers are too large";
	case MULTIPART_ERR_PARTS:
		return "too many parts";
	case MULTIPART_ERR_BODY_SIZE:
		return "the body is too large";
	case MULTIPART_ERR_TRUNCATED:
		return "the body ended before the closing boundary";
	case MULTIPART_ERR_ABORTED:
		return "the upload was aborted";
	case MULTIPART_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

static int
fail(struct multipart *mp, enum multipart_errcode code, const char *detail)
{
	mp->state = MP_ERROR;
	mp->err = code;
	snprintf(mp->errtext, sizeof(mp->errtext), "%s%s%s (at byte %llu)",
	    multipart_strerror(code), detail ? ": " : "", detail ? detail : "",
	    (unsigned long long)mp->pos);
	return -1;
}

/* ---- Content-Type ------------------------------------------------------- */

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

/*
 * Read one parameter value at *pp: a token or a quoted string (with
 * backslash escapes).  -1 when malformed or longer than outsz - 1.
 */
static int
param_value(const char **pp, char *out, size_t outsz)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return -1;
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *p;
		}
		p++;
	} else {
		while (is_tchar((unsigned char)*p)) {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *p++;
		}
		if (n == 0)
			return -1;
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/*
 * Walk "; name=value" parameters from p, calling fn for each.  -1 when
 * the list is malformed or fn refuses.
 */
static int
params_walk(
    const char *p, int (*fn)(void *, const char *, const char *), void *arg)
{
	char name[64], value[MULTIPART_NAME_MAX];
	size_t n;

	for (;;) {
		while (is_ows(*p))
			p++;
		if (*p == '\0')
			return 0;
		if (*p++ != ';')
			return -1;
		while (is_ows(*p))
			p++;
		if (*p == '\0') /* a trailing ';' */
			return 0;
		for (n = 0; is_tchar((unsigned char)*p) && *p != '='; p++)
			if (n + 1 < sizeof(name))
				name[n++] = *p;
		name[n] = '\0';
		while (is_ows(*p))
			p++;
		if (n == 0 || *p++ != '=')
			return -1;
		while (is_ows(*p))
			p++;
		if (param_value(&p, value, sizeof(value)) == -1)
			return -1;
		if (fn(arg, name, value) == -1)
			return -1;
	}
}

static int
boundary_param(void *arg, const char *name, const char *value)
{
	struct multipart *mp = arg;
	size_t i, n = strlen(value);

	if (strcasecmp(name, "boundary") != 0)
		return 0;
	if (n == 0 || n > MULTIPART_BOUNDARY_MAX || value[n - 1] == ' ')
		return -1;
	for (i = 0; i < n; i++)
		if (value[i] < 0x20 || value[i] > 0x7e)
			return -1;
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, value, n + 1);
	mp->dlen = 4 + n;
	return 0;
}

static enum multipart_errcode
parse_content_type(struct multipart *mp, const char *ct)
{
	static const char type[] = "multipart/form-data";

	if (ct == NULL)
		return MULTIPART_ERR_CONTENT_TYPE;
	while (is_ows(*ct))
		ct++;
	if (strncasecmp(ct, type, sizeof(type) - 1) != 0 ||
	    is_tchar((unsigned char)ct[sizeof(type) - 1]))
		return MULTIPART_ERR_CONTENT_TYPE;
	if (params_walk(ct + sizeof(type) - 1, boundary_param, mp) == -1 ||
	    mp->dlen == 0)
		return MULTIPART_ERR_BOUNDARY;
	return MULTIPART_OK;
}

struct multipart *
multipart_new(const char *content_type, const struct multipart_limits *limits,
    const struct multipart_callbacks *cb, void *arg,
    enum multipart_errcode *code)
{
	struct multipart *mp;

	if ((mp = calloc(1, sizeof(*mp))) == NULL) {
		*code = MULTIPART_ERR_NOMEM;
		return NULL;
	}
	if ((*code = parse_content_type(mp, content_type)) != MULTIPART_OK) {
		free(mp);
		return NULL;
	}
	if (limits != NULL)
		mp->lim = *limits;
	if (mp->lim.header_max == 0)
		mp->lim.header_max = HEADER_MAX_DEFAULT;
	if ((mp->hdr = malloc(mp->lim.header_max + 1)) == NULL) {
		free(mp);
		*code = MULTIPART_ERR_NOMEM;
		return NULL;
	}
	if (cb != NULL)
		mp->cb = *cb;
	mp->arg = arg;
	/* As if the body began with CRLF, so "--boundary" can open it. */
	mp->matched = 2;
	return mp;
}

void
multipart_free(struct multipart *mp)
{
	if (mp == NULL)
		return;
	free(mp->hdr);
	free(mp);
}

/* ---- part data and delimiters --------------------------------------------- */

static int
emit(struct multipart *mp, const char *data, size_t len)
{
	if (len == 0 || mp->state != MP_DATA || mp->cb.part_data == NULL)
		return 0;
	if (mp->cb.part_data(mp->arg, data, len) != 0)
		return fail(mp, MULTIPART_ERR_ABORTED, NULL);
	return 0;
}

/*
 * Look for the delimiter in p[0..len), passing on the data before it
 * (preamble data is dropped by emit()).  Sets *used and *found.  The
 * `carried` bytes matched in earlier feeds are the delimiter's own prefix:
 * when the match fails they are emitted from mp->delim.
 */
static int
scan_delimiter(
    struct multipart *mp, const char *p, size_t len, size_t *used, int *found)
{
	const char *cr;
	size_t i = 0, ms = 0, carried = mp->matched;

	*found = 0;
	while (i < len) {
		if (mp->matched == 0) {
			if ((cr = memchr(p + i, '\r', len - i)) == NULL) {
				i = len;
				break;
			}
			ms = (size_t)(cr - p);
			i = ms + 1;
			mp->matched = 1;
			continue;
		}
		if (p[i] == mp->delim[mp->matched]) {
			i++;
			if (++mp->matched < mp->dlen)
				continue;
			mp->matched = 0;
			*found = 1;
			*used = i;
			return carried > 0 ? 0 : emit(mp, p, ms);
		}
		/* A failed match: what it covered is data after all. */
		if (carried > 0 && emit(mp, mp->delim, carried) == -1)
			return -1;
		carried = 0;
		mp->matched = 0;
	}
	*used = len;
	if (mp->matched == 0)
		return emit(mp, p, len);
	return carried > 0 ? 0 : emit(mp, p, ms);
}

static int
start_headers(struct multipart *mp)
{
	if (mp->lim.parts_max != 0 && mp->parts >= mp->lim.parts_max)
		return fail(mp, MULTIPART_ERR_PARTS, NULL);
	mp->parts++;
	mp->hlen = 0;
	mp->hline = 0;
	mp->state = MP_HEADERS;
	return 0;
}

/* One byte of what follows a delimiter: "--", or padding and CRLF. */
static int
after_delimiter(struct multipart *mp, char c)
{
	switch (mp->state) {
	case MP_AFTER_DELIM:
		if (c == '-') {
			mp->state = MP_AFTER_DASH;
			return 0;
		}
		/* FALLTHROUGH */
	case MP_PADDING:
		if (is_ows(c))
			mp->state = MP_PADDING;
		else if (c == '\r')
			mp->state = MP_PADDING_CR;
		else if (c == '\n')
			return start_headers(mp);
		else
			return fail(mp, MULTIPART_ERR_DELIMITER, NULL);
		return 0;
	case MP_AFTER_DASH:
		if (c != '-')
			return fail(mp, MULTIPART_ERR_DELIMITER, NULL);
		mp->state = MP_EPILOGUE;
		return 0;
	case MP_PADDING_CR:
		if (c != '\n')
			return fail(mp, MULTIPART_ERR_DELIMITER, NULL);
		return start_headers(mp);
	default:
		return fail(mp, MULTIPART_ERR_DELIMITER, NULL);
	}
}

/* ---- part headers --------------------------------------------------------- */

struct disposition {
	char name[MULTIPART_NAME_MAX];
	char filename[MULTIPART_NAME_MAX];
	int have_name, have_filename;
};

static int
disposition_param(void *arg, const char *name, const char *value)
{
	struct disposition *d = arg;

	if (strcasecmp(name, "name") == 0) {
		snprintf(d->name, sizeof(d->name), "%s", value);
		d->have_name = 1;
	} else if (strcasecmp(name, "filename") == 0) {
		snprintf(d->filename, sizeof(d->filename), "%s", value);
		d->have_filename = 1;
	}
	return 0;
}

/* Content-Disposition: form-data; name="…"[; filename="…"] */
static int
parse_disposition(struct multipart *mp, const char *v, struct disposition *d)
{
	static const char fd[] = "form-data";

	memset(d, 0, sizeof(*d));
	if (strncasecmp(v, fd, sizeof(fd) - 1) != 0 ||
	    is_tchar((unsigned char)v[sizeof(fd) - 1]))
		return fail(mp, MULTIPART_ERR_DISPOSITION, "not form-data");
	if (params_walk(v + sizeof(fd) - 1, disposition_param, d) == -1)
		return fail(mp, MULTIPART_ERR_HEADER,
		    "bad Content-Disposition parameters");
	if (!d->have_name || d->name[0] == '\0')
		return fail(mp, MULTIPART_ERR_DISPOSITION, "no name");
	return 0;
}

/*
 * Split one header line (NUL-terminated, no line end) into name and value.
 * Control characters other than HT, and obsolete folded lines, are
 * refused: they have no business in a form-data part.
 */
static int
header_line(struct multipart *mp, char *line, char **value)
{
	char *colon, *p, *end;

	for (p = line; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return fail(
			    mp, MULTIPART_ERR_HEADER, "control character");
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		return fail(mp, MULTIPART_ERR_HEADER, "no header name");
	for (p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p))
			return fail(
			    mp, MULTIPART_ERR_HEADER, "bad header name");
	*colon = '\0';
	for (p = colon + 1; is_ows(*p); p++)
		;
	end = p + strlen(p);
	while (end > p && is_ows(end[-1]))
		*--end = '\0';
	*value = p;
	return 0;
}

/* All header lines of a part are in mp->hdr, NUL-separated: interpret. */
static int
headers_done(struct multipart *mp)
{
	struct multipart_part part;
	struct disposition d;
	char ctype[MULTIPART_NAME_MAX], *line, *value;
	size_t off = 0;
	int have_d = 0, have_ct = 0;

	while (off < mp->hlen) {
		line = mp->hdr + off;
		off += strlen(line) + 1;
		if (header_line(mp, line, &value) == -1)
			return -1;
		if (strcasecmp(line, "Content-Disposition") == 0) {
			if (parse_disposition(mp, value, &d) == -1)
				return -1;
			have_d = 1;
		} else if (strcasecmp(line, "Content-Type") == 0) {
			if (strlen(value) >= sizeof(ctype))
				return fail(mp, MULTIPART_ERR_HEADER,
				    "Content-Type too long");
			memcpy(ctype, value, strlen(value) + 1);
			have_ct = 1;
		}
	}
	if (!have_d)
		return fail(
		    mp, MULTIPART_ERR_DISPOSITION, "no Content-Disposition");
	part.index = mp->parts - 1;
	part.name = d.name;
	part.filename = d.have_filename ? d.filename : NULL;
	part.content_type = have_ct ? ctype : NULL;
	mp->state = MP_DATA;
	mp->matched = 0;
	if (mp->cb.part_begin != NULL && mp->cb.part_begin(mp->arg, &part))
		return fail(mp, MULTIPART_ERR_ABORTED, NULL);
	return 0;
}

/*
 * Collect header bytes up to the blank line.  Each completed line is
 * stored NUL-terminated without its CR/LF; an empty line ends the headers.
 */
static int
scan_headers(struct multipart *mp, const char *p, size_t len, size_t *used)
{
	const char *nl;
	size_t n, line_len;

	nl = memchr(p, '\n', len);
	n = nl != NULL ? (size_t)(nl - p) : len;
	if (mp->hlen + n > mp->lim.header_max)
		return fail(mp, MULTIPART_ERR_HEADER_SIZE, NULL);
	memcpy(mp->hdr + mp->hlen, p, n);
	mp->hlen += n;
	*used = n;
	if (nl == NULL)
		return 0;
	*used = n + 1;
	if (mp->hlen > mp->hline && mp->hdr[mp->hlen - 1] == '\r')
		mp->hlen--;
	line_len = mp->hlen - mp->hline;
	if (line_len == 0) {
		mp->hlen = mp->hline; /* drop the blank line */
		return headers_done(mp);
	}
	if (mp->hlen + 1 > mp->lim.header_max)
		return fail(mp, MULTIPART_ERR_HEADER_SIZE, NULL);
	if (memchr(mp->hdr + mp->hline, '\0', line_len) != NULL)
		return fail(mp, MULTIPART_ERR_HEADER, "NUL byte");
	if (is_ows(mp->hdr[mp->hline]))
		return fail(mp, MULTIPART_ERR_HEADER, "folded header line");
	mp->hdr[mp->hlen++] = '\0';
	mp->hline = mp->hlen;
	return 0;
}

/* ---- feeding -------------------------------------------------------------- */

/* A delimiter was found: close the part it ends, if any. */
static int
delimiter_found(struct multipart *mp)
{
	int in_part = mp->state == MP_DATA;

	mp->state = MP_AFTER_DELIM;
	if (in_part && mp->cb.part_end != NULL && mp->cb.part_end(mp->arg))
		return fail(mp, MULTIPART_ERR_ABORTED, NULL);
	return 0;
}

static int
step(struct multipart *mp, const char *p, size_t len, size_t *used)
{
	int found;

	*used = 1;
	switch (mp->state) {
	case MP_PREAMBLE:
	case MP_DATA:
		if (scan_delimiter(mp, p, len, used, &found) == -1)
			return -1;
		return found ? delimiter_found(mp) : 0;
	case MP_AFTER_DELIM:
	case MP_AFTER_DASH:
	case MP_PADDING:
	case MP_PADDING_CR:
		return after_delimiter(mp, p[0]);
	case MP_HEADERS:
		return scan_headers(mp, p, len, used);
	case MP_EPILOGUE:
		*used = len;
		return 0;
	case MP_ERROR:
		break;
	}
	return -1;
}

int
multipart_feed(struct multipart *mp, const void *data, size_t len)
{
	const char *p = data;
	size_t i = 0, used;

	if (mp->state == MP_ERROR)
		return -1;
	mp->pos = mp->offset;
	if (mp->lim.body_max != 0 &&
	    (len > mp->lim.body_max || mp->offset > mp->lim.body_max - len))
		return fail(mp, MULTIPART_ERR_BODY_SIZE, NULL);
	while (i < len) {
		mp->pos = mp->offset + i;
		if (step(mp, p + i, len - i, &used) == -1)
			return -1;
		i += used;
	}
	mp->offset += len;
	return 0;
}

int
multipart_finish(struct multipart *mp)
{
	if (mp->state == MP_ERROR)
		return -1;
	if (mp->state != MP_EPILOGUE) {
		mp->pos = mp->offset;
		return fail(mp, MULTIPART_ERR_TRUNCATED, NULL);
	}
	return 0;
}

enum multipart_errcode
multipart_error(const struct multipart *mp)
{
	return mp->err;
}

const char *
multipart_error_text(const struct multipart *mp)
{
	return mp->err == MULTIPART_OK ? "no error" : mp->errtext;
}

unsigned
multipart_parts(const struct multipart *mp)
{
	return mp->parts;
}
