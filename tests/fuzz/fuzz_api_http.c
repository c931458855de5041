/*
 * libFuzzer target for what the api process parses from HTTP headers
 * itself (api/requtil.c): the Range header of file downloads and the
 * X-Request-Id a client may send.  The OpenAI bodies and multipart forms
 * have their own targets (fuzz_openai, fuzz_multipart).
 *
 * Input layout: 8 bytes of file size (little endian), then the header
 * value.  Checks: a satisfiable range lies within the file and is not
 * empty; an accepted request id is 1-63 safe characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/requtil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t fsize = 0, off = 0, len = 0;
	enum api_range rr;
	char *s;
	size_t i;

	if (size < 8)
		return 0;
	for (i = 0; i < 8; i++)
		fsize |= (uint64_t)data[i] << (8 * i);
	if ((s = malloc(size - 8 + 1)) == NULL)
		return 0;
	memcpy(s, data + 8, size - 8);
	s[size - 8] = '\0';
	rr = api_range_parse(s, fsize, &off, &len);
	if (rr == API_RANGE_PART &&
	    (len == 0 || off >= fsize || len > fsize - off))
		abort();
	if (api_rid_valid(s)) {
		if (strlen(s) == 0 || strlen(s) >= API_RID_MAX ||
		    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
		              "VWXYZ0123456789._:-") != strlen(s))
			abort();
	}
	free(s);
	return 0;
}
