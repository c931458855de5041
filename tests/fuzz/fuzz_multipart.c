/*
 * libFuzzer target for api/multipart.c.  The input is "Content-Type\n"
 * followed by the body when it starts with 'm', else the body alone under a
 * fixed Content-Type.  The body is parsed in one feed and again in chunks
 * whose sizes come from the body itself; both runs must report the same
 * error code and exactly the same callbacks (a hash of part headers, data
 * bytes and part ends).  Small limits make the limit paths reachable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint64_t hash;
	int in_part;
};

static void
mix(struct trace *t, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		t->hash = (t->hash ^ *c++) * 1099511628211ull;
}

static int
on_begin(void *arg, const struct multipart_part *p)
{
	struct trace *t = arg;

	if (t->in_part || p->name == NULL || p->name[0] == '\0')
		abort();
	t->in_part = 1;
	mix(t, "B", 1);
	mix(t, p->name, strlen(p->name) + 1);
	if (p->filename != NULL)
		mix(t, p->filename, strlen(p->filename) + 1);
	if (p->content_type != NULL)
		mix(t, p->content_type, strlen(p->content_type) + 1);
	return 0;
}

static int
on_data(void *arg, const char *d, size_t n)
{
	struct trace *t = arg;

	if (!t->in_part || n == 0)
		abort();
	mix(t, d, n);
	return 0;
}

static int
on_end(void *arg)
{
	struct trace *t = arg;

	if (!t->in_part)
		abort();
	t->in_part = 0;
	mix(t, "E", 1);
	return 0;
}

static const struct multipart_callbacks cb = {on_begin, on_data, on_end};

static enum multipart_errcode
run(const char *ct, const char *body, size_t len, int chunked, struct trace *t)
{
	struct multipart_limits lim = {0, 6, 200};
	struct multipart *mp;
	enum multipart_errcode code;
	size_t off = 0, step;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if ((mp = multipart_new(ct, &lim, &cb, t, &code)) == NULL)
		return code;
	while (off < len && rc == 0) {
		step = chunked ? (unsigned char)body[off] % 7 + 1 : len;
		if (step > len - off)
			step = len - off;
		rc = multipart_feed(mp, body + off, step);
		off += step;
	}
	if (rc == 0)
		rc = multipart_finish(mp);
	code = multipart_error(mp);
	if ((rc == 0) != (code == MULTIPART_OK))
		abort();
	if (multipart_error_text(mp) == NULL)
		abort();
	multipart_free(mp);
	return code;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data, *nl;
	char ct[256] = "multipart/form-data; boundary=AaB03x";
	size_t len = size;
	struct trace a, b;

	if (size > 0 && data[0] == 'm' &&
	    (nl = memchr(data, '\n', size < 255 ? size : 255)) != NULL) {
		memcpy(ct, data, (size_t)(nl - body));
		ct[nl - body] = '\0';
		len = size - (size_t)(nl - body) - 1;
		body = nl + 1;
	}
	if (run(ct, body, len, 0, &a) != run(ct, body, len, 1, &b) ||
	    a.hash != b.hash)
		abort();
	return 0;
}
