/*
 * Pure helpers of the api process (no I/O, no global state), so that unit
 * tests link this file alone: request ids, the HTTP Range header, the
 * retry backoff, the prompt prefix hash and the continuation of a broken
 * stream.
 */
#ifndef LOCALAI_API_REQUTIL_H
#define LOCALAI_API_REQUTIL_H

#include <stddef.h>
#include <stdint.h>

#define API_RID_MAX 64 /* request id with its NUL (msg.h's size) */

/*
 * Is s acceptable as a request id taken from a client's X-Request-Id:
 * 1 to 63 bytes of [A-Za-z0-9._:-]?  Anything else is replaced by a
 * generated id (it ends up in logs and journal fields).
 */
int api_rid_valid(const char *s);
/* "req-" + 32 lowercase hex digits of the 16 random bytes in rnd. */
void api_rid_format(char out[API_RID_MAX], const uint8_t rnd[16]);

/* What a Range header asks of a file of `size` bytes. */
enum api_range {
	API_RANGE_FULL = 0, /* absent, malformed or multi-range: 200 */
	API_RANGE_PART = 1, /* one satisfiable range: 206 */
	API_RANGE_UNSAT = -1, /* a valid range beyond the file: 416 */
};

/*
 * Parse a Range header value (NULL when absent) for a file of size bytes:
 * "bytes=A-B", "bytes=A-" or "bytes=-N" (the last N bytes).  On
 * API_RANGE_PART, *off and *len give the bytes to send.  A syntactically
 * invalid header, another unit, or several ranges are ignored (RFC 9110
 * lets a server serve the whole representation instead).
 */
enum api_range api_range_parse(
    const char *hdr, uint64_t size, uint64_t *off, uint64_t *len);

/*
 * The pause before retry number `attempt` (1, 2, …) of a failed placement:
 * 50 ms doubling per attempt, at most 1 s, then ±25 % jitter from rnd (any
 * 32-bit random value), so that api processes retrying the same dead
 * replica do not come back in lockstep.
 */
uint32_t api_backoff_ms(uint32_t attempt, uint32_t rnd);

/*
 * FNV-1a 64 of the first API_PREFIX_BYTES bytes of the prompt: what the
 * router uses to prefer a replica that recently saw the same prefix.
 */
#define API_PREFIX_BYTES 512
uint64_t api_prefix_hash(const char *s, size_t len);

/*
 * The prompt that continues a stream broken after its first token on
 * another replica: the original prompt followed by every byte generated
 * so far, completion-style.  malloc'd, NUL-terminated (*outlen without
 * the NUL); NULL when out of memory.
 */
char *api_continuation_prompt(const char *prompt, size_t plen,
    const char *generated, size_t glen, size_t *outlen);
/*
 * Tokens the continuing replica may still generate: max_tokens minus the
 * tokens already produced.  0 means "unlimited" (max_tokens was not set);
 * -1 means the budget is spent (the stream ends with finish "length").
 */
int32_t api_tokens_left(int32_t max_tokens, int have_max, uint32_t used);

#endif
