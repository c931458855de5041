/*
 * Schema migrations (embedded in the binary) and file hashing for the
 * router.  See rsql.h.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db/db.h"
#include "proto/hash.h"
#include "proto/log.h"
#include "router/rsql.h"

/* Generated from the files in db/migrations by router/module.mk. */
extern const char *const rsql_migration_files[];
extern const char *const rsql_migration_sqls[];
extern const size_t rsql_n_migrations;

/*
 * Apply the embedded migrations with db.c's migrator (its own short-lived
 * connection; every frontend may start at once: one migrates under the
 * migration lock, the others then find the work done).
 */
int
rsql_migrate(const char *url, char *err, size_t errlen)
{
	struct db *db;
	int n;

	if ((db = db_connect(url)) == NULL) {
		snprintf(err, errlen, "cannot connect to the database");
		return -1;
	}
	n = db_migrate_embedded(
	    db, rsql_migration_files, rsql_migration_sqls, rsql_n_migrations);
	if (n == -1)
		snprintf(
		    err, errlen, "migration failed: %s", db_error(db)->message);
	db_close(db);
	return n == -1 ? -1 : 0;
}

int
rsql_sha256_file(const char *path, char hex[65])
{
	if (hash_sha256_file(path, hex) == -1)
		return -1;
	rsql_sha256_remember(path, hex);
	return 0;
}

/* Hashes of model files by (path, size, mtime): hashing a multi-GB file
 * takes seconds, so it is done once per file version. */
struct hcache {
	char path[600];
	off_t size;
	time_t mtime;
	char hex[65];
	struct hcache *next;
};

static struct hcache *hcache;
static pthread_mutex_t hcache_lock = PTHREAD_MUTEX_INITIALIZER;

void
rsql_sha256_remember(const char *path, const char hex[65])
{
	struct hcache *h;
	struct stat st;

	if (stat(path, &st) == -1)
		return;
	pthread_mutex_lock(&hcache_lock);
	for (h = hcache; h != NULL; h = h->next)
		if (strcmp(h->path, path) == 0)
			break;
	if (h == NULL && (h = calloc(1, sizeof(*h))) != NULL) {
		snprintf(h->path, sizeof(h->path), "%s", path);
		h->next = hcache;
		hcache = h;
	}
	if (h != NULL) {
		h->size = st.st_size;
		h->mtime = st.st_mtime;
		memcpy(h->hex, hex, 65);
	}
	pthread_mutex_unlock(&hcache_lock);
}

void
rsql_sha256_cached(const char *path, char hex[65])
{
	struct hcache *h;
	struct stat st;

	hex[0] = '\0';
	if (stat(path, &st) == -1)
		return;
	pthread_mutex_lock(&hcache_lock);
	for (h = hcache; h != NULL; h = h->next)
		if (strcmp(h->path, path) == 0 && h->size == st.st_size &&
		    h->mtime == st.st_mtime)
			memcpy(hex, h->hex, 65);
	pthread_mutex_unlock(&hcache_lock);
}
