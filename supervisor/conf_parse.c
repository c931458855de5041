/*
 * Pure helpers of the configuration loader: durations, sizes, booleans,
 * names, addresses, URL masking, the integer-overflow scan, and key
 * hashing.  No file or process I/O here, so the unit tests exercise every
 * branch directly.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "supervisor/conf_impl.h"

/*
 * One <number>[.<fraction>] at *sp, times unit (the value of 1 counted in
 * the smallest unit we keep).  The result is exact: a fraction that does
 * not give a whole count of the smallest unit fails.
 */
static int
parse_scaled(const char **sp, uint64_t unit, uint64_t *out)
{
	const char *s = *sp;
	uint64_t ip = 0, frac = 0, scale = 1, v;
	int digits = 0;

	while (isdigit((unsigned char)*s)) {
		if (__builtin_mul_overflow(ip, 10, &ip) ||
		    __builtin_add_overflow(ip, (uint64_t)(*s - '0'), &ip))
			return -1;
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (scale >= 1000000000000ULL)
				return -1; /* absurd precision */
			frac = frac * 10 + (uint64_t)(*s - '0');
			scale *= 10;
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return -1;
	if (__builtin_mul_overflow(ip, unit, &v))
		return -1;
	/* frac/scale of a unit must be a whole count of the smallest unit. */
	if (frac != 0) {
		unsigned __int128 f = (unsigned __int128)frac * unit;

		if (f % scale != 0)
			return -1;
		if (__builtin_add_overflow(v, (uint64_t)(f / scale), &v))
			return -1;
	}
	*sp = s;
	*out = v;
	return 0;
}

/* Digits only: the plain integer form shared by sizes and durations. */
static int
parse_plain(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (__builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, (uint64_t)(*s - '0'), &n))
			return -1;
	}
	*v = n;
	return 0;
}

int
conf_parse_int64(const char *s, int64_t *v)
{
	char *end;
	long long n;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = n;
	return 0;
}

/*
 * Go-style durations as LocalAI's variables use them ("10s", "1m30s",
 * "1.5s", "500ms"), or a bare number of milliseconds.  Sub-millisecond
 * units are refused: nothing here is that precise.
 */
int
conf_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t total = 0, part, unit;

	if (parse_plain(s, ms) == 0)
		return 0;
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		const char *u = s;

		/* Count microseconds so that "1.5ms" can be refused. */
		while (isdigit((unsigned char)*u) || *u == '.')
			u++;
		if (strncmp(u, "ms", 2) == 0)
			unit = 1000ULL;
		else if (*u == 's')
			unit = 1000000ULL;
		else if (*u == 'm')
			unit = 60000000ULL;
		else if (*u == 'h')
			unit = 3600000000ULL;
		else
			return -1;
		if (parse_scaled(&s, unit, &part) == -1 || s != u)
			return -1;
		s += unit == 1000ULL ? 2 : 1;
		if (__builtin_add_overflow(total, part, &total))
			return -1;
	}
	if (total % 1000 != 0)
		return -1;
	*ms = total / 1000;
	return 0;
}

static const struct {
	const char *name;
	uint64_t mult;
} size_units[] = {
    {"TiB", 1ULL << 40},
    {"GiB", 1ULL << 30},
    {"MiB", 1ULL << 20},
    {"KiB", 1ULL << 10},
    {"B", 1},
};

/* Bytes, or <number>[ ]<unit> with binary units ("8MiB", "1.5 GiB"). */
int
conf_parse_size(const char *s, uint64_t *bytes)
{
	const char *p = s, *u;
	uint64_t v;
	size_t i;

	if (parse_plain(s, bytes) == 0)
		return 0;
	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	u = *p == ' ' ? p + 1 : p;
	for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(u, size_units[i].name) != 0)
			continue;
		/* parse_scaled stops at the unit; check it consumed the number. */
		if (parse_scaled(&s, size_units[i].mult, &v) == -1 || s != p)
			return -1;
		*bytes = v;
		return 0;
	}
	return -1;
}

/* The environment's booleans: 1/0, true/false, yes/no, on/off. */
int
conf_parse_bool(const char *s, int *v)
{
	static const char *yes[] = {"1", "true", "yes", "on"};
	static const char *no[] = {"0", "false", "no", "off"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

/* The largest unit that divides exactly: 90000 -> "90s", 1500 -> "1500ms". */
void
conf_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* The largest binary unit that divides exactly, else plain bytes. */
void
conf_format_size(uint64_t bytes, char *buf, size_t len)
{
	size_t i;

	for (i = 0; bytes != 0 && i < 4; i++) {
		if (bytes % size_units[i].mult == 0) {
			snprintf(buf, len, "%" PRIu64 "%s",
			    bytes / size_units[i].mult, size_units[i].name);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, bytes);
}

/*
 * Model, backend, template and label names: they become file names, NATS
 * subject parts and URL segments, so only [A-Za-z0-9._-], and never "."
 * or anything containing "..".
 */
int
conf_valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= CONF_NAME_MAX || strstr(s, "..") != NULL ||
	    strcmp(s, ".") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	}
	return 1;
}

/* A label value: printable, no ',' or '=' (the environment's separators). */
int
conf_valid_label_value(const char *s)
{
	size_t n = strlen(s);

	if (n >= CONF_NAME_MAX)
		return 0;
	for (; *s != '\0'; s++) {
		if (!isprint((unsigned char)*s) || *s == ',' || *s == '=')
			return 0;
	}
	return 1;
}

static int
valid_host(const char *h, size_t n)
{
	size_t i;

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		for (i = 1; i < n - 1; i++) {
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' &&
			    h[i] != '.')
				return 0;
		}
		return n > 2;
	}
	for (i = 0; i < n; i++) {
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_')
			return 0;
	}
	return 1;
}

int
conf_addr_split(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(addr, ':');
	uint64_t p;
	size_t hn;

	if (colon == NULL || parse_plain(colon + 1, &p) == -1 || p == 0 ||
	    p > 65535)
		return -1;
	hn = (size_t)(colon - addr);
	if (!valid_host(addr, hn) || hn >= hostlen)
		return -1;
	memcpy(host, addr, hn);
	host[hn] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* Append n bytes of s to out (length *o, size len), always terminated. */
static void
append(char *out, size_t len, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= len)
		return;
	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

/*
 * Mask every password in a URL or a list of URLs ("scheme://user:pass@
 * host", "?password=...") or in a libpq conninfo ("password=..."), so -nv
 * can show where a service is without showing how to log in.
 */
void
conf_mask_url(const char *in, char *out, size_t len)
{
	const char *p = in, *scheme, *at, *colon, *key = "password=";
	size_t o = 0, alen, klen = strlen(key);

	if (len == 0)
		return;
	out[0] = '\0';
	while (*p != '\0') {
		scheme = strstr(p, "://");
		if (scheme == NULL) {
			append(out, len, &o, p, strlen(p));
			break;
		}
		append(out, len, &o, p, (size_t)(scheme + 3 - p));
		p = scheme + 3;
		alen = strcspn(p, "/?#,");
		at = memrchr(p, '@', alen);
		colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon != NULL) {
			append(out, len, &o, p, (size_t)(colon + 1 - p));
			append(out, len, &o, "********", 8);
			p = at;
		}
	}
	/* Then every "password=value" (conninfo or query string). */
	for (p = out; (p = strstr(p, key)) != NULL;) {
		char tmp[1024];
		size_t vlen;

		size_t start;

		p += klen;
		vlen = strcspn(p, " &");
		snprintf(tmp, sizeof(tmp), "%s", p + vlen);
		o = start = (size_t)(p - out);
		out[o] = '\0';
		append(out, len, &o, "********", 8);
		append(out, len, &o, tmp, strlen(tmp));
		p = start + 8 <= o ? out + start + 8 : out + o;
	}
}

/* Skip a comment or a string at p, counting the newlines inside. */
static const char *
skip_text(const char *p, const char *e, unsigned *ln)
{
	if (*p == '#' || (*p == '/' && p + 1 < e && p[1] == '/')) {
		while (p < e && *p != '\n')
			p++;
	} else if (*p == '/' && p + 1 < e && p[1] == '*') {
		for (p += 2; p < e && !(*p == '*' && p + 1 < e && p[1] == '/');
		     p++)
			*ln += *p == '\n';
		p += 2;
	} else if (*p == '"') {
		for (p++; p < e && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < e)
				p++;
			*ln += *p == '\n';
		}
		p++;
	}
	return p < e ? p : e;
}

static int
digit_value(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/*
 * Scan the number at p (optional sign, decimal or 0x hex, a float's
 * fraction and exponent, the L suffix) and return its end; *bad is set
 * when it is a plain integer outside the int32 range.
 */
static const char *
scan_number(const char *p, const char *e, int *bad)
{
	int neg = *p == '-', hex, big = 0;
	uint64_t v = 0;

	if (*p == '-' || *p == '+')
		p++;
	hex = p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
	if (hex)
		p += 2;
	for (; p < e &&
	       (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p));
	     p++) {
		if (v > (UINT64_MAX >> 4))
			big = 1;
		else
			v = v * (hex ? 16 : 10) +
			    (uint64_t)digit_value((unsigned char)*p);
	}
	*bad = 0;
	if (!hex && p < e && (*p == '.' || *p == 'e' || *p == 'E')) {
		/* A float: skip its fraction and exponent. */
		while (p < e && (isdigit((unsigned char)*p) || *p == '.' ||
		                    *p == 'e' || *p == 'E' ||
		                    ((*p == '-' || *p == '+') &&
		                        (p[-1] == 'e' || p[-1] == 'E'))))
			p++;
		return p;
	}
	if (p < e && *p == 'L')
		return p;
	*bad = big || (hex && v > 0x7fffffffULL) || (!neg && v > INT32_MAX) ||
	       (neg && v > (uint64_t)INT32_MAX + 1);
	return p;
}

static int
starts_name(int c)
{
	return isalpha(c) || c == '*' || c == '_' || c == '@';
}

static int
in_name(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '*' || c == '@';
}

/*
 * Find the first integer literal without the L suffix that does not fit
 * in 32 bits.  libconfig 1.5 reads such a literal modulo 2^32 without a
 * word (5000000000 becomes 705032704), so a size written in bytes would be
 * silently wrong.  The scan follows libconfig's lexical rules closely
 * enough: comments, strings and names are skipped, floats are not ints.
 * Returns the offset just past it, with *line (counted from 1 at text)
 * and lit set, or 0 when there is none.
 */
size_t
conf_scan_ints(
    const char *text, size_t len, unsigned *line, char *lit, size_t litlen)
{
	const char *p = text, *e = text + len, *start;
	unsigned ln = 1;
	int bad;

	while (p < e) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n') {
			ln++;
			p++;
		} else if (c == '#' || c == '/' || c == '"') {
			start = p;
			p = skip_text(p, e, &ln);
			if (p == start)
				p++; /* a lone '/' */
		} else if (starts_name(c)) {
			while (p < e && in_name((unsigned char)*p))
				p++;
		} else if (isdigit(c) || ((c == '-' || c == '+') && p + 1 < e &&
		                             isdigit((unsigned char)p[1]))) {
			start = p;
			p = scan_number(p, e, &bad);
			if (bad) {
				*line = ln;
				snprintf(lit, litlen, "%.*s",
				    (int)(p - start < 40 ? p - start : 40),
				    start);
				return (size_t)(p - text);
			}
		} else
			p++;
	}
	return 0;
}

uint32_t
conf_fnv1a(const void *data, size_t len, uint32_t h)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619U;
	}
	return h;
}

void
conf_hash_key(const char *key, size_t len, uint8_t out[CONF_SHA256_LEN])
{
	unsigned int n = CONF_SHA256_LEN;

	/* EVP_Digest with SHA-256 fails only when OpenSSL is broken. */
	if (EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != CONF_SHA256_LEN)
		abort();
}

/*
 * Hash the presented key and compare it with every configured digest,
 * always all of them and in constant time, so neither the timing nor the
 * position of a match tells anything about the keys.
 */
int
conf_api_key_ok(const struct conf_frontend *f, const char *key, size_t len)
{
	uint8_t h[CONF_SHA256_LEN];
	int ok = 0;
	uint32_t i;

	conf_hash_key(key, len, h);
	for (i = 0; i < f->n_api_keys && i < CONF_MAX_API_KEYS; i++)
		ok |= CRYPTO_memcmp(h, f->api_keys[i], sizeof(h)) == 0;
	return ok;
}

int
conf_admin_key_ok(const struct conf_frontend *f, const char *key, size_t len)
{
	uint8_t h[CONF_SHA256_LEN];

	if (!f->have_admin_key)
		return 0;
	conf_hash_key(key, len, h);
	return CRYPTO_memcmp(h, f->admin_key, sizeof(h)) == 0;
}

/*
 * String validators of the key tables: NULL when the value is fine, else
 * the reason, which the caller prefixes with the setting's name.
 */
static int
has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if (iscntrl((unsigned char)*s))
			return 1;
	}
	return 0;
}

const char *
conf_check_path(const char *s)
{
	if (*s == '\0')
		return "must not be empty";
	if (has_control(s))
		return "must not contain control characters";
	return NULL;
}

const char *
conf_check_addr(const char *s)
{
	char host[256];
	uint16_t port;

	if (conf_addr_split(s, host, sizeof(host), &port) == -1)
		return "must be \"host:port\" with a port between 1 and 65535";
	return NULL;
}

/* An address that may be empty (then derived or unused). */
const char *
conf_check_addr_opt(const char *s)
{
	return *s == '\0' ? NULL : conf_check_addr(s);
}

/* "scheme://host..." with a non-empty host, the scheme one of schemes. */
static int
url_has_scheme(const char *s, const char *const *schemes)
{
	size_t n;

	for (; *schemes != NULL; schemes++) {
		n = strlen(*schemes);
		if (strncmp(s, *schemes, n) == 0 && s[n] != '\0' &&
		    s[n] != '/' && !has_control(s) && strchr(s, ' ') == NULL)
			return 1;
	}
	return 0;
}

const char *
conf_check_http_url(const char *s)
{
	static const char *const schemes[] = {"http://", "https://", NULL};

	if (*s == '\0' || url_has_scheme(s, schemes))
		return NULL;
	return "must be an http:// or https:// URL";
}

/* nats.c accepts a comma-separated list of servers. */
const char *
conf_check_nats_url(const char *s)
{
	static const char *const schemes[] = {"nats://", "tls://", NULL};
	char buf[512], *p, *tok, *save = NULL;

	if (*s == '\0')
		return NULL;
	snprintf(buf, sizeof(buf), "%s", s);
	for (p = buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		if (!url_has_scheme(tok, schemes))
			return "must be nats:// or tls:// URLs, "
			       "separated by commas";
	}
	return NULL;
}

/* A postgres:// URL or a libpq "key=value" conninfo string. */
const char *
conf_check_db_url(const char *s)
{
	static const char *const schemes[] = {
	    "postgres://", "postgresql://", NULL};

	if (*s == '\0' || url_has_scheme(s, schemes) ||
	    (strchr(s, '=') != NULL && !has_control(s)))
		return NULL;
	return "must be a postgresql:// URL or a \"key=value\" conninfo";
}

const char *
conf_check_id(const char *s)
{
	if (*s != '\0' && !conf_valid_name(s))
		return "must be 1 to 63 characters of A-Z a-z 0-9 . _ -";
	return NULL;
}

const char *
conf_check_node_name(const char *s)
{
	const char *p;

	if (*s == '\0')
		return "must not be empty";
	/* The frontend accepts printable names without white space. */
	for (p = s; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p) || *p == '/')
			return "must be printable characters without spaces or "
			       "'/'";
	return NULL;
}

/* Tokens travel in HTTP headers: printable and no spaces. */
const char *
conf_check_token(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!isgraph((unsigned char)*s))
			return "must contain only printable characters "
			       "without spaces";
	}
	return NULL;
}

const char *
conf_check_name(const char *s)
{
	if (!conf_valid_name(s))
		return "must be 1 to 63 characters of A-Z a-z 0-9 . _ - "
		       "and must not contain \"..\"";
	return NULL;
}

const char *
conf_check_name_opt(const char *s)
{
	return *s == '\0' ? NULL : conf_check_name(s);
}

/*
 * A model file relative to models_path (or a voice name): no absolute
 * path, no ".." component, nothing a shell or a URL would mangle.
 */
const char *
conf_check_relpath(const char *s)
{
	const char *c;

	if (*s == '\0')
		return "must not be empty";
	if (*s == '/')
		return "must be relative to models_path";
	for (c = s; *c != '\0'; c++) {
		if (!isalnum((unsigned char)*c) &&
		    strchr("._-/+@=", *c) == NULL)
			return "must contain only A-Z a-z 0-9 and . _ - / + @ "
			       "=";
	}
	if (strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
	    strstr(s, "/../") != NULL ||
	    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0))
		return "must not contain \"..\" components";
	return NULL;
}
