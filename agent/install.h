/*
 * Backend installation on a worker: backends live in
 * <backends_path>/<name>/ with an executable `run` (ours) or `run.sh`
 * (LocalAI's packages) and a metadata.json.  A missing backend is fetched
 * from the gallery (index.json + <name>.tar.gz), verified by SHA-256,
 * unpacked into a temporary directory and renamed into place, so a backend
 * is either wholly installed or absent.
 */
#ifndef LOCALAI_INSTALL_H
#define LOCALAI_INSTALL_H

#include <stddef.h>

#include <jansson.h>

/* Path of the backend's entry point if installed: 0, or -1 (absent). */
int install_find(
    const char *backends_path, const char *name, char *run, size_t runlen);
/*
 * Make sure backend `name` is installed, fetching it from gallery_url when
 * it is not.  bearer authenticates to the gallery (the node token).
 * Returns 0, or -1 with err set.  Concurrent calls for one name share one
 * download.  *fetched: 1 when this call installed it from the gallery, -1
 * when it tried and failed, 0 when no download was tried.
 */
int install_ensure(const char *backends_path, const char *gallery_url,
    const char *bearer, const char *name, char *run, size_t runlen,
    int *fetched, char *err, size_t errlen);
/* Install from a local package file whose SHA-256 must be sha256. */
int install_package(const char *backends_path, const char *name,
    const char *tarball, const char *sha256, char *err, size_t errlen);
/* Remove an installed backend; 0, or -1 with err. */
int install_remove(
    const char *backends_path, const char *name, char *err, size_t errlen);
/* LocalAI's backend.list reply entries: [{name,is_system,is_meta,
 * installed_at,gallery_url}]. */
json_t *install_list(const char *backends_path, const char *gallery_url);

#endif
