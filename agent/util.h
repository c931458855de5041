/*
 * Small helpers shared by the agent's files: safe names, hex SHA-256,
 * recursive removal, JSON replies.
 */
#ifndef LOCALAI_AGENT_UTIL_H
#define LOCALAI_AGENT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A model, backend or file name that may become one path component:
 * [A-Za-z0-9._-], 1..127 bytes, not "." or "..", not starting with '.'. */
int name_ok(const char *name);
/* SHA-256 of a file as 64 lowercase hex digits; 0 or -1. */
int hex_equal(const char *a, const char *b); /* case-insensitive */
/* rm -rf path (never follows symbolic links); 0 or -1. */
int remove_tree(const char *path);
/* mkdir -p with mode; 0 or -1. */
int mkdir_p(const char *path, unsigned int mode);
/* Monotonic milliseconds. */
uint64_t now_ms(void);
/* Random bytes as hex (2*n chars + NUL into out). */
int random_hex(char *out, size_t n);

#endif
