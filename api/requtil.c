/*
 * Pure helpers of the api process: see requtil.h.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "api/requtil.h"

int
api_rid_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n] != '\0'; n++) {
		if (n >= API_RID_MAX - 1)
			return 0;
		if (!isalnum((unsigned char)s[n]) &&
		    strchr("._:-", s[n]) == NULL)
			return 0;
	}
	return n > 0;
}

void
api_rid_format(char out[API_RID_MAX], const uint8_t rnd[16])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	memcpy(out, "req-", 4);
	for (i = 0; i < 16; i++) {
		out[4 + 2 * i] = hex[rnd[i] >> 4];
		out[5 + 2 * i] = hex[rnd[i] & 0xf];
	}
	out[36] = '\0';
}

/*
 * A decimal number of at most 19 digits at *p (no sign, no spaces);
 * advances *p.  0, or -1 when there is none or it overflows.
 */
static int
api_range_num(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		if (s - *p >= 19)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*p = s;
	*v = n;
	return 0;
}

enum api_range
api_range_parse(const char *hdr, uint64_t size, uint64_t *off, uint64_t *len)
{
	const char *p = hdr;
	uint64_t a, b;

	if (p == NULL)
		return API_RANGE_FULL;
	p += strspn(p, " \t");
	if (strncasecmp(p, "bytes=", 6) != 0)
		return API_RANGE_FULL;
	p += 6;
	p += strspn(p, " \t");
	if (*p == '-') { /* suffix: the last N bytes */
		p++;
		if (api_range_num(&p, &b) == -1)
			return API_RANGE_FULL;
		p += strspn(p, " \t");
		if (*p != '\0')
			return API_RANGE_FULL;
		if (b == 0 || size == 0)
			return API_RANGE_UNSAT;
		if (b > size)
			b = size;
		*off = size - b;
		*len = b;
		return API_RANGE_PART;
	}
	if (api_range_num(&p, &a) == -1 || *p++ != '-')
		return API_RANGE_FULL;
	b = UINT64_MAX;
	if (isdigit((unsigned char)*p) && api_range_num(&p, &b) == -1)
		return API_RANGE_FULL;
	p += strspn(p, " \t");
	if (*p != '\0' || b < a)
		return API_RANGE_FULL; /* several ranges, junk, or B < A */
	if (a >= size)
		return API_RANGE_UNSAT;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return API_RANGE_PART;
}

uint32_t
api_backoff_ms(uint32_t attempt, uint32_t rnd)
{
	uint32_t base = 50, span;

	if (attempt == 0)
		return 0;
	while (--attempt > 0 && base < 1000)
		base *= 2;
	if (base > 1000)
		base = 1000;
	/* base - 25 % .. base + 25 % */
	span = 2 * (base / 4);
	return base - base / 4 + rnd % (span + 1);
}

uint64_t
api_prefix_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	if (len > API_PREFIX_BYTES)
		len = API_PREFIX_BYTES;
	for (i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

char *
api_continuation_prompt(const char *prompt, size_t plen, const char *generated,
    size_t glen, size_t *outlen)
{
	char *out;

	if (plen > SIZE_MAX - glen - 1) {
		errno = ENOMEM;
		return NULL;
	}
	if ((out = malloc(plen + glen + 1)) == NULL)
		return NULL;
	if (plen > 0)
		memcpy(out, prompt, plen);
	if (glen > 0)
		memcpy(out + plen, generated, glen);
	out[plen + glen] = '\0';
	*outlen = plen + glen;
	return out;
}

int32_t
api_tokens_left(int32_t max_tokens, int have_max, uint32_t used)
{
	if (!have_max || max_tokens <= 0)
		return 0;
	if (used >= (uint32_t)max_tokens)
		return -1;
	return max_tokens - (int32_t)used;
}
