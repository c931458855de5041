/*
 * The OpenAI layer's foundations: the output buffer, the JSON string
 * escaper (the hot path of every SSE chunk), errors, limits and the
 * incremental JSON pre-scan.  Pure code: the only system call is
 * getrandom(2) for response ids.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api/oa_internal.h"

/* ---- buffer ------------------------------------------------------------- */

void
openai_buf_init(struct openai_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
openai_buf_free(struct openai_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
openai_buf_reset(struct openai_buf *b)
{
	b->len = 0;
	b->failed = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for `more` bytes plus the terminating NUL. */
static int
buf_grow(struct openai_buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return -1;
	if (more > SIZE_MAX - b->len - 1)
		goto fail;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if ((p = realloc(b->data, cap)) == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

int
openai_buf_append(struct openai_buf *b, const void *data, size_t len)
{
	if (buf_grow(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void
oa_puts(struct openai_buf *b, const char *s)
{
	openai_buf_append(b, s, strlen(s));
}

void
oa_put_i64(struct openai_buf *b, int64_t v)
{
	char tmp[24];
	int n;

	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	openai_buf_append(b, tmp, (size_t)n);
}

void
oa_put_u64(struct openai_buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	/* Hand-rolled: this runs for every "created" of every chunk. */
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	openai_buf_append(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/*
 * The process never calls setlocale(), so printf's decimal point is '.',
 * which JSON requires.
 */
void
oa_put_double(struct openai_buf *b, double v, int digits)
{
	char tmp[40];
	int n;

	if (!isfinite(v))
		v = 0;
	n = snprintf(tmp, sizeof(tmp), "%.*g", digits, v);
	openai_buf_append(b, tmp, (size_t)n);
}

/* ---- UTF-8 and JSON escaping -------------------------------------------- */

/*
 * The length of the valid prefix of the UTF-8 character starting at s (0
 * when s[0] cannot start one), and in *need the length its lead byte
 * announces.  The character is complete and valid when both are equal.
 * Second-byte ranges exclude overlong forms, surrogates and code points
 * above U+10FFFF (RFC 3629 table).
 */
static size_t
utf8_scan(const unsigned char *s, size_t len, size_t *need)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (c < 0x80) {
		*need = 1;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*need = 1;
		return 0;
	}
	*need = n;
	if (len < 2)
		return 1;
	if (s[1] < lo || s[1] > hi)
		return 1;
	for (i = 2; i < n && i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return i;
	return i;
}

size_t
oa_utf8_char(const unsigned char *s, size_t len)
{
	size_t need, got;

	if (len == 0)
		return 0;
	got = utf8_scan(s, len, &need);
	return got == need ? got : 0;
}

size_t
oa_utf8_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0, c;

	while (i < len) {
		c = oa_utf8_char(p + i, len - i);
		i += c > 0 ? c : 1;
		n++;
	}
	return n;
}

void
oa_put_utf8(struct openai_buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, need, got;

	if (len == 0)
		return;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		got = utf8_scan(p + i, len - i, &need);
		if (got == need) {
			i += got;
			continue;
		}
		openai_buf_append(b, p + run, i - run);
		OA_PUTS(b, "\xEF\xBF\xBD");
		i += got > 0 ? got : 1;
		run = i;
	}
	openai_buf_append(b, p + run, i - run);
}

static const char hexdigits[] = "0123456789abcdef";

/* The escape of one ASCII byte that JSON does not allow raw. */
static void
escape_ascii(struct openai_buf *b, unsigned char c)
{
	char e[6] = {'\\', 'u', '0', '0', 0, 0};

	switch (c) {
	case '"':
		OA_PUTS(b, "\\\"");
		return;
	case '\\':
		OA_PUTS(b, "\\\\");
		return;
	case '\b':
		OA_PUTS(b, "\\b");
		return;
	case '\f':
		OA_PUTS(b, "\\f");
		return;
	case '\n':
		OA_PUTS(b, "\\n");
		return;
	case '\r':
		OA_PUTS(b, "\\r");
		return;
	case '\t':
		OA_PUTS(b, "\\t");
		return;
	}
	e[4] = hexdigits[c >> 4];
	e[5] = hexdigits[c & 15];
	openai_buf_append(b, e, sizeof(e));
}

/*
 * Runs of plain ASCII and valid UTF-8 are copied in one append; only the
 * bytes that need escaping, and invalid sequences (one U+FFFD per maximal
 * invalid subpart, as the Unicode standard recommends), break a run.
 */
void
oa_escape(
    struct openai_buf *b, const unsigned char *s, size_t len, size_t *hold)
{
	size_t i = 0, run = 0, need, got;

	if (hold != NULL)
		*hold = 0;
	if (len == 0)
		return;
	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c < 0x80) {
			openai_buf_append(b, s + run, i - run);
			escape_ascii(b, c);
			run = ++i;
			continue;
		}
		got = utf8_scan(s + i, len - i, &need);
		if (got == need) {
			i += got;
			continue;
		}
		openai_buf_append(b, s + run, i - run);
		if (hold != NULL && got > 0 && i + got == len) {
			*hold = got;
			return;
		}
		OA_PUTS(b, "\xEF\xBF\xBD");
		i += got > 0 ? got : 1;
		run = i;
	}
	openai_buf_append(b, s + run, i - run);
}

void
openai_json_string(struct openai_buf *out, const char *s, size_t len)
{
	OA_PUTS(out, "\"");
	oa_escape(out, (const unsigned char *)s, len, NULL);
	OA_PUTS(out, "\"");
}

/* ---- ids and names ------------------------------------------------------ */

int
openai_new_id(char *out, size_t outsz, const char *prefix)
{
	static const char alnum[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[24];
	size_t plen = strlen(prefix), i;
	ssize_t n;

	if (plen + sizeof(rnd) + 1 > outsz)
		return -1;
	do
		n = getrandom(rnd, sizeof(rnd), 0);
	while (n == -1 && errno == EINTR);
	if (n != (ssize_t)sizeof(rnd))
		return -1;
	memcpy(out, prefix, plen);
	for (i = 0; i < sizeof(rnd); i++)
		out[plen + i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	out[plen + sizeof(rnd)] = '\0';
	return 0;
}

const char *
openai_role_name(enum openai_role role)
{
	switch (role) {
	case OPENAI_ROLE_SYSTEM:
		return "system";
	case OPENAI_ROLE_DEVELOPER:
		return "developer";
	case OPENAI_ROLE_USER:
		return "user";
	case OPENAI_ROLE_ASSISTANT:
		return "assistant";
	case OPENAI_ROLE_TOOL:
		return "tool";
	}
	return "user";
}

const char *
openai_role_backend_name(enum openai_role role)
{
	if (role == OPENAI_ROLE_DEVELOPER)
		return "system";
	return openai_role_name(role);
}

const char *
openai_finish_name(enum openai_finish f)
{
	return f == OPENAI_FINISH_LENGTH ? "length" : "stop";
}

/* ---- errors ------------------------------------------------------------- */

void
openai_error_set(struct openai_error *err, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	snprintf(err->type, sizeof(err->type), "%s", type);
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	snprintf(err->param, sizeof(err->param), "%s", param ? param : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

void
openai_error_model_not_found(struct openai_error *err, const char *model)
{
	openai_error_set(err, 404, "invalid_request_error", "model_not_found",
	    NULL,
	    "The model `%s` does not exist or you do not have access "
	    "to it.",
	    model);
}

void
openai_error_invalid_api_key(struct openai_error *err, int given)
{
	if (given)
		openai_error_set(err, 401, "invalid_request_error",
		    "invalid_api_key", NULL, "Incorrect API key provided.");
	else
		openai_error_set(err, 401, "invalid_request_error",
		    "invalid_api_key", NULL,
		    "You didn't provide an API key. "
		    "You need to provide your API key in an Authorization "
		    "header using Bearer auth (i.e. Authorization: Bearer "
		    "YOUR_KEY).");
}

void
openai_error_not_found(
    struct openai_error *err, const char *method, const char *path)
{
	openai_error_set(err, 404, "invalid_request_error", NULL, NULL,
	    "Invalid URL (%s %s)", method, path);
}

void
openai_error_method_not_allowed(
    struct openai_error *err, const char *method, const char *path)
{
	openai_error_set(err, 405, "invalid_request_error",
	    "method_not_allowed", NULL, "Method %s is not allowed for %s.",
	    method, path);
}

void
openai_error_too_large(struct openai_error *err, uint64_t max)
{
	openai_error_set(err, 413, "invalid_request_error", "request_too_large",
	    NULL, "Request too large: the limit is %llu bytes.",
	    (unsigned long long)max);
}

void
openai_error_overloaded(struct openai_error *err, const char *why)
{
	openai_error_set(err, 503, "server_error", "overloaded", NULL,
	    "The server is currently overloaded (%s), please try again "
	    "later.",
	    why);
}

void
openai_error_timeout(struct openai_error *err, const char *phase)
{
	openai_error_set(err, 504, "server_error", "timeout", NULL,
	    "The request timed out waiting for the %s.", phase);
}

void
openai_error_internal(struct openai_error *err, const char *message)
{
	openai_error_set(err, 500, "server_error", NULL, NULL, "%s", message);
}

/* A JSON string, or null when s is empty. */
static void
string_or_null(struct openai_buf *b, const char *s)
{
	if (s[0] == '\0')
		OA_PUTS(b, "null");
	else
		openai_json_string(b, s, strlen(s));
}

/* The {"message",…} object, shared by bodies and SSE error events. */
static void
error_object(struct openai_buf *b, const struct openai_error *err)
{
	OA_PUTS(b, "{\"error\":{\"message\":");
	openai_json_string(b, err->message, strlen(err->message));
	OA_PUTS(b, ",\"type\":");
	openai_json_string(b, err->type, strlen(err->type));
	OA_PUTS(b, ",\"param\":");
	string_or_null(b, err->param);
	OA_PUTS(b, ",\"code\":");
	string_or_null(b, err->code);
	OA_PUTS(b, "}}");
}

int
openai_error_json(const struct openai_error *err, struct openai_buf *out)
{
	error_object(out, err);
	return out->failed ? -1 : 0;
}

int
openai_stream_error(struct openai_stream *st, struct openai_buf *out,
    const struct openai_error *err)
{
	OA_PUTS(out, "data: ");
	error_object(out, err);
	OA_PUTS(out, "\n\n");
	st->ended = 1;
	return out->failed ? -1 : 0;
}

int
openai_sse_keepalive(struct openai_buf *out)
{
	OA_PUTS(out, ": keep-alive\n\n");
	return out->failed ? -1 : 0;
}

/* ---- limits and the pre-scan -------------------------------------------- */

void
openai_limits_default(struct openai_limits *l)
{
	l->body_max = OPENAI_DEFAULT_BODY_MAX;
	l->depth_max = OPENAI_DEFAULT_DEPTH_MAX;
	l->string_max = OPENAI_DEFAULT_STRING_MAX;
	l->messages_max = OPENAI_DEFAULT_MESSAGES_MAX;
	l->parts_max = OPENAI_DEFAULT_PARTS_MAX;
	l->inputs_max = OPENAI_DEFAULT_INPUTS_MAX;
	l->upload_max = OPENAI_DEFAULT_UPLOAD_MAX;
	l->form_parts_max = OPENAI_DEFAULT_FORM_PARTS_MAX;
	l->form_header_max = OPENAI_DEFAULT_FORM_HEADER_MAX;
}

void
oa_limits_resolve(struct openai_limits *out, const struct openai_limits *in)
{
	openai_limits_default(out);
	if (in == NULL)
		return;
#define TAKE(f)                                                                \
	do {                                                                   \
		if (in->f != 0)                                                \
			out->f = in->f;                                        \
	} while (0)
	TAKE(body_max);
	TAKE(depth_max);
	TAKE(string_max);
	TAKE(messages_max);
	TAKE(parts_max);
	TAKE(inputs_max);
	TAKE(upload_max);
	TAKE(form_parts_max);
	TAKE(form_header_max);
#undef TAKE
}

void
openai_limits_from_conf(struct openai_limits *l, const struct conf_frontend *f)
{
	struct openai_limits in;

	memset(&in, 0, sizeof(in));
	in.body_max = f->body_max;
	in.depth_max = f->json_depth_max;
	in.string_max = f->string_max;
	in.upload_max = f->upload_max;
	in.form_header_max = f->header_max;
	oa_limits_resolve(l, &in);
}

void
openai_prescan_init(struct openai_prescan *ps, const struct openai_limits *l)
{
	struct openai_limits r;

	oa_limits_resolve(&r, l);
	memset(ps, 0, sizeof(*ps));
	ps->body_max = r.body_max;
	ps->string_max = r.string_max;
	ps->depth_max = r.depth_max;
}

/*
 * Inside a string: count decoded bytes up to the closing quote.  An escape
 * counts as the bytes it can decode to (\uXXXX as 3, the UTF-8 length of a
 * BMP character), so the count never underestimates.  Returns the bytes
 * consumed.
 */
static size_t
prescan_string(struct openai_prescan *ps, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (ps->escape > 0) {
			/* 1: the char after '\'; 2..5: the hex digits. */
			if (ps->escape == 1 && p[i] == 'u') {
				ps->string_len += 3;
				ps->escape = 2;
			} else if (ps->escape == 1) {
				ps->string_len += 1;
				ps->escape = 0;
			} else if (++ps->escape == 6)
				ps->escape = 0;
		} else if (p[i] == '\\')
			ps->escape = 1;
		else if (p[i] == '"') {
			ps->in_string = 0;
			return i + 1;
		} else
			ps->string_len++;
		if (ps->string_len > ps->string_max)
			return i + 1;
	}
	return len;
}

static int
prescan_fail(
    struct openai_prescan *ps, struct openai_error *err, uint64_t at, int deep)
{
	ps->failed = 1;
	if (deep)
		openai_error_set(err, 400, "invalid_request_error",
		    "json_too_deep", NULL,
		    "The JSON body is nested deeper "
		    "than %u levels (at byte offset %llu).",
		    ps->depth_max, (unsigned long long)at);
	else
		openai_error_set(err, 400, "invalid_request_error",
		    "string_above_max_length", NULL,
		    "A string in the JSON "
		    "body is longer than %llu bytes (at byte offset %llu).",
		    (unsigned long long)ps->string_max, (unsigned long long)at);
	return -1;
}

int
openai_prescan_feed(struct openai_prescan *ps, const void *data, size_t len,
    struct openai_error *err)
{
	const unsigned char *p = data;
	size_t i = 0;

	if (ps->failed)
		return -1;
	if (len > ps->body_max || ps->offset > ps->body_max - len) {
		ps->failed = 1;
		openai_error_too_large(err, ps->body_max);
		return -1;
	}
	while (i < len) {
		if (ps->in_string) {
			i += prescan_string(ps, p + i, len - i);
			if (ps->string_len > ps->string_max)
				return prescan_fail(
				    ps, err, ps->offset + i - 1, 0);
			continue;
		}
		switch (p[i]) {
		case '"':
			ps->in_string = 1;
			ps->string_len = 0;
			break;
		case '{':
		case '[':
			if (++ps->depth > ps->depth_max)
				return prescan_fail(ps, err, ps->offset + i, 1);
			break;
		case '}':
		case ']':
			if (ps->depth > 0)
				ps->depth--;
			break;
		}
		i++;
	}
	ps->offset += len;
	return 0;
}
