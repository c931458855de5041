/*
 * Byte-string hash map for the router's indexes; see map.h.
 */
#include <stdlib.h>
#include <string.h>

#include "router/map.h"

/*
 * FNV-1a, 64 bits, with a final mix so that keys differing only in their
 * last bytes (request ids "req-1", "req-2"…) still spread over buckets.
 * Never returns 0, which marks an empty bucket.
 */
static uint64_t
map_hash(const void *key, size_t klen)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < klen; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

void
rt_map_init(struct rt_map *m)
{
	memset(m, 0, sizeof(*m));
}

void
rt_map_free(struct rt_map *m)
{
	uint32_t i;

	for (i = 0; i < m->size; i++)
		free(m->tab[i].key);
	free(m->tab);
	memset(m, 0, sizeof(*m));
}

/* The bucket holding key, or RT_NONE. */
static uint32_t
map_find(const struct rt_map *m, const void *key, size_t klen, uint64_t h)
{
	uint32_t mask, i;
	const struct rt_map_entry *e;

	if (m->size == 0)
		return RT_NONE;
	mask = m->size - 1;
	for (i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		e = &m->tab[i];
		if (e->hash == 0)
			return RT_NONE;
		if (e->hash == h && e->klen == klen &&
		    memcmp(e->key, key, klen) == 0)
			return i;
	}
}

uint32_t
rt_map_get(const struct rt_map *m, const void *key, size_t klen)
{
	uint32_t i;

	i = map_find(m, key, klen, map_hash(key, klen));
	return i == RT_NONE ? RT_NONE : m->tab[i].value;
}

/* Place an entry whose key is not in the table yet (no growth). */
static void
map_place(struct rt_map *m, const struct rt_map_entry *src)
{
	uint32_t mask = m->size - 1, i;

	for (i = (uint32_t)src->hash & mask; m->tab[i].hash != 0;
	     i = (i + 1) & mask)
		;
	m->tab[i] = *src;
}

/* Keep the load factor at or below 1/2. */
static int
map_grow(struct rt_map *m)
{
	struct rt_map_entry *old = m->tab;
	uint32_t oldsize = m->size, i, size;

	if (m->size != 0 && (m->count + 1) * 2 <= m->size)
		return 0;
	size = m->size == 0 ? 16 : m->size * 2;
	if (size == 0)
		return -1;
	if ((m->tab = calloc(size, sizeof(*m->tab))) == NULL) {
		m->tab = old;
		return -1;
	}
	m->size = size;
	for (i = 0; i < oldsize; i++)
		if (old[i].hash != 0)
			map_place(m, &old[i]);
	free(old);
	return 0;
}

int
rt_map_put(struct rt_map *m, const void *key, size_t klen, uint32_t value)
{
	struct rt_map_entry e;
	uint64_t h = map_hash(key, klen);
	uint32_t i;

	if (klen > UINT32_MAX)
		return -1;
	if ((i = map_find(m, key, klen, h)) != RT_NONE) {
		m->tab[i].value = value;
		return 0;
	}
	if (map_grow(m) == -1)
		return -1;
	/* One extra byte so string keys stay NUL-terminated. */
	if ((e.key = malloc(klen + 1)) == NULL)
		return -1;
	memcpy(e.key, key, klen);
	e.key[klen] = '\0';
	e.klen = (uint32_t)klen;
	e.hash = h;
	e.value = value;
	map_place(m, &e);
	m->count++;
	return 0;
}

/*
 * Backward-shift deletion: after emptying bucket i, move later entries of
 * the same probe run back so that no lookup stops early at the hole.
 */
int
rt_map_del(struct rt_map *m, const void *key, size_t klen)
{
	uint32_t mask, i, j, home;

	if ((i = map_find(m, key, klen, map_hash(key, klen))) == RT_NONE)
		return -1;
	mask = m->size - 1;
	free(m->tab[i].key);
	m->tab[i].hash = 0;
	m->tab[i].key = NULL;
	m->count--;
	for (j = (i + 1) & mask; m->tab[j].hash != 0; j = (j + 1) & mask) {
		home = (uint32_t)m->tab[j].hash & mask;
		/* Entry j may move to i only if i lies on its probe path. */
		if (((j - home) & mask) < ((j - i) & mask))
			continue;
		m->tab[i] = m->tab[j];
		m->tab[j].hash = 0;
		m->tab[j].key = NULL;
		i = j;
	}
	return 0;
}

uint32_t
rt_map_gets(const struct rt_map *m, const char *key)
{
	return rt_map_get(m, key, strlen(key));
}

int
rt_map_puts(struct rt_map *m, const char *key, uint32_t value)
{
	return rt_map_put(m, key, strlen(key), value);
}

int
rt_map_dels(struct rt_map *m, const char *key)
{
	return rt_map_del(m, key, strlen(key));
}
