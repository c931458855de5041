/*
 * SHA-256 as hex: see hash.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "proto/hash.h"

void
hash_hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hash_sha256(const void *data, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	hash_hex(md, 32, hex);
	return 0;
}

int
hash_sha256_file(const char *path, char hex[65])
{
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned int n;
	EVP_MD_CTX *ctx;
	ssize_t got;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
			goto out;
	if (got == 0 && EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32) {
		hash_hex(md, 32, hex);
		rc = 0;
	}
out:
	saved = errno;
	EVP_MD_CTX_free(ctx);
	close(fd);
	errno = saved;
	return rc;
}
