/*
 * A small hash map from byte-string keys to uint32_t values, for the
 * router's in-memory indexes (node ids, model names, label tags, request
 * ids).  Open addressing with linear probing and backward-shift deletion,
 * so there are no tombstones and lookups stay short however many inserts
 * and deletes happen.  Keys are copied; values are usually slots in an
 * array owned by the caller.  Pure: no I/O.
 */
#ifndef LOCALAI_ROUTER_MAP_H
#define LOCALAI_ROUTER_MAP_H

#include <stddef.h>
#include <stdint.h>

/* "No such slot": the value returned by lookups that find nothing. */
#define RT_NONE UINT32_MAX

struct rt_map_entry {
	uint64_t hash; /* 0 = empty bucket */
	char *key;
	uint32_t klen;
	uint32_t value;
};

struct rt_map {
	struct rt_map_entry *tab;
	uint32_t size; /* buckets, a power of two (0 before first insert) */
	uint32_t count;
};

void rt_map_init(struct rt_map *m);
void rt_map_free(struct rt_map *m);
/* The value stored under key, or RT_NONE. */
uint32_t rt_map_get(const struct rt_map *m, const void *key, size_t klen);
/* Insert or replace.  Returns 0, or -1 when out of memory (map unchanged). */
int rt_map_put(struct rt_map *m, const void *key, size_t klen, uint32_t value);
/* Remove key.  Returns 0, or -1 when it was not there. */
int rt_map_del(struct rt_map *m, const void *key, size_t klen);

/* The same for NUL-terminated strings. */
uint32_t rt_map_gets(const struct rt_map *m, const char *key);
int rt_map_puts(struct rt_map *m, const char *key, uint32_t value);
int rt_map_dels(struct rt_map *m, const char *key);

#endif
