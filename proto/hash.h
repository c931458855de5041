/*
 * SHA-256 as lower-case hex, for whoever needs it: package and model file
 * checks (worker), model files served and node tokens stored hashed
 * (router), migration checksums (db).  OpenSSL's EVP underneath.
 */
#ifndef LOCALAI_HASH_H
#define LOCALAI_HASH_H

#include <stddef.h>

/* n bytes as 2n hex digits and a NUL. */
void hash_hex(const unsigned char *d, size_t n, char *out);
/* SHA-256 of len bytes at data; -1 only if OpenSSL fails. */
int hash_sha256(const void *data, size_t len, char hex[65]);
/* SHA-256 of a whole file; -1 with errno when it cannot be read. */
int hash_sha256_file(const char *path, char hex[65]);

#endif
