/*
 * Model files on a worker, fetched from the frontend
 * (GET <frontend>/api/node/files/<model>/<file>, node token, Range for
 * resuming) and stored by content: <models_path>/blobs/sha256-<hex>, with
 * <models_path>/<model>/<file> a hard link to it.  A file two models share
 * is stored and fetched once; concurrent requests for one file share one
 * download; a partial download resumes; a bad hash or a full disk removes
 * the partial file and reports a clear error.
 */
#ifndef LOCALAI_FETCH_H
#define LOCALAI_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct fetch_file {
	const char *model;
	const char *name; /* file name under the model */
	uint64_t size; /* 0 when unknown */
	const char *sha256; /* 64 hex digits; required */
};

/* Called as bytes arrive (for progress events); may be NULL. */
typedef void (*fetch_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * Make f available locally, fetching it from base_url
 * (".../api/node/files") if needed.  On success path holds the local path
 * (<models_path>/<model>/<file>) and 0 is returned; -1 with err otherwise.
 */
int fetch_ensure(const char *models_path, const char *base_url,
    const char *bearer, const struct fetch_file *f, fetch_progress_fn fn,
    void *arg, char *path, size_t pathlen, char *err, size_t errlen);
/* Is the blob with this hash already stored? */
int fetch_cached(const char *models_path, const char *sha256);
/* Remove a model's directory of links (blobs no longer linked go too). */
int fetch_delete_model(
    const char *models_path, const char *model, char *err, size_t errlen);

#endif
