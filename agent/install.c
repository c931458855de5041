/*
 * Backend installation from the gallery.  See install.h.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "agent/hclient.h"
#include "agent/install.h"
#include "agent/util.h"
#include "proto/hash.h"
#include "proto/log.h"

/* One install at a time per worker: installs are rare and serialising
 * them makes "two requests for one backend share a download" trivial. */
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

int
install_find(
    const char *backends_path, const char *name, char *run, size_t runlen)
{
	static const char *entry[] = {"run", "run.sh"};
	size_t i;

	if (!name_ok(name))
		return -1;
	for (i = 0; i < sizeof(entry) / sizeof(entry[0]); i++) {
		snprintf(
		    run, runlen, "%s/%s/%s", backends_path, name, entry[i]);
		if (access(run, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* Copy the archive's data blocks to the entry opened in `out`. */
static int
install_copy_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(in, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return -1;
		if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK)
			return -1;
	}
}

/*
 * A package member we accept: a regular file or directory whose relative
 * path has no ".." component.  Links and devices are refused, so a hostile
 * package cannot point outside its directory.
 */
static int
install_member_ok(struct archive_entry *e)
{
	const char *p = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	const char *c;

	if (p == NULL || *p == '\0' || *p == '/')
		return 0;
	if (type != AE_IFREG && type != AE_IFDIR)
		return 0;
	for (c = p; c != NULL; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return 0;
	}
	return 1;
}

/*
 * Unpack a gzip'd tar into dir.  Every member is checked first
 * (install_member_ok), and libarchive's secure flags refuse writes through
 * symbolic links and ".." in the final path as a second line of defence.
 */
static int
install_extract(const char *tarball, const char *dir, char *err, size_t errlen)
{
	struct archive *in = archive_read_new(),
	               *out = archive_write_disk_new();
	struct archive_entry *e;
	char path[1024];
	int r, rc = -1;

	archive_read_support_filter_gzip(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(
	    out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
	             ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (archive_read_open_filename(in, tarball, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "package: %s", archive_error_string(in));
		goto out;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		if (!install_member_ok(e)) {
			snprintf(err, errlen, "package member \"%s\" refused",
			    archive_entry_pathname(e));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", dir,
		    archive_entry_pathname(e));
		archive_entry_set_pathname(e, path);
		if (archive_write_header(out, e) != ARCHIVE_OK ||
		    install_copy_data(in, out) == -1) {
			snprintf(err, errlen, "package: %s",
			    archive_error_string(out)
			        ? archive_error_string(out)
			        : archive_error_string(in));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "package: %s", archive_error_string(in));
		goto out;
	}
	rc = 0;
out:
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

int
install_package(const char *backends_path, const char *name,
    const char *tarball, const char *sha256, char *err, size_t errlen)
{
	char hex[65], tmp[1024], dst[1024], old[1024], run[1100];

	if (!name_ok(name)) {
		snprintf(err, errlen, "invalid backend name");
		return -1;
	}
	if (hash_sha256_file(tarball, hex) == -1) {
		snprintf(err, errlen, "package: %s", strerror(errno));
		return -1;
	}
	if (!hex_equal(hex, sha256)) {
		snprintf(err, errlen, "package %s: SHA-256 mismatch (got %s)",
		    name, hex);
		return -1;
	}
	snprintf(
	    tmp, sizeof(tmp), "%s/.install-%s-XXXXXX", backends_path, name);
	if (mkdir_p(backends_path, 0755) == -1 || mkdtemp(tmp) == NULL) {
		snprintf(err, errlen, "%s: %s", backends_path, strerror(errno));
		return -1;
	}
	if (install_extract(tarball, tmp, err, errlen) == -1)
		goto fail;
	snprintf(run, sizeof(run), "%s/run", tmp);
	if (access(run, X_OK) == -1) {
		snprintf(run, sizeof(run), "%s/run.sh", tmp);
		if (access(run, X_OK) == -1) {
			snprintf(err, errlen,
			    "package %s has no executable run", name);
			goto fail;
		}
	}
	snprintf(dst, sizeof(dst), "%s/%s", backends_path, name);
	snprintf(old, sizeof(old), "%s/.old-%s-%ld", backends_path, name,
	    (long)getpid());
	/* Replace atomically: the old tree moves aside, the new one in. */
	if (rename(dst, old) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		goto fail;
	}
	if (rename(tmp, dst) == -1) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		(void)rename(old, dst);
		goto fail;
	}
	(void)remove_tree(old);
	log_info("backend %s installed", name);
	return 0;
fail:
	(void)remove_tree(tmp);
	return -1;
}

/* Find `name` in a gallery index: a JSON array of packages, or an object
 * with a "backends" array. */
static json_t *
install_index_entry(json_t *index, const char *name)
{
	json_t *list =
	    json_is_array(index) ? index : json_object_get(index, "backends");
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return NULL;
}

static int
install_fetch(const char *backends_path, const char *gallery_url,
    const char *bearer, const char *name, char *err, size_t errlen)
{
	char url[1024], tarball[1024], pkg[300];
	const char *sha, *file;
	json_t *index = NULL, *e;
	struct hresp r;
	json_error_t je;
	FILE *fp;
	int fd, rc = -1;

	snprintf(url, sizeof(url), "%s/index.json", gallery_url);
	if (hclient_json("GET", url, bearer, NULL, 30000, &r) == -1 ||
	    r.status != 200) {
		snprintf(err, errlen, "gallery %s: %s", url,
		    r.status ? "bad status" : r.error);
		hresp_free(&r);
		return -1;
	}
	index = json_loads(r.body, 0, &je);
	hresp_free(&r);
	if (index == NULL || (e = install_index_entry(index, name)) == NULL) {
		snprintf(err, errlen, "backend %s not in the gallery", name);
		goto out;
	}
	sha = json_string_value(json_object_get(e, "sha256"));
	file = json_string_value(json_object_get(e, "file"));
	snprintf(pkg, sizeof(pkg), "%s.tar.gz", name);
	if (file == NULL || !name_ok(file))
		file = pkg;
	if (sha == NULL) {
		snprintf(err, errlen, "gallery entry %s has no sha256", name);
		goto out;
	}
	snprintf(
	    tarball, sizeof(tarball), "%s/.pkg-%s-XXXXXX", backends_path, name);
	if (mkdir_p(backends_path, 0755) == -1 ||
	    (fd = mkstemp(tarball)) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", backends_path, strerror(errno));
		goto out;
	}
	snprintf(url, sizeof(url), "%s/%s", gallery_url, file);
	if (hclient_download(url, bearer, fp, 0, 0, NULL, NULL, err, errlen) <
	    0)
		fclose(fp);
	else if (fclose(fp) != 0)
		snprintf(err, errlen, "%s: %s", tarball, strerror(errno));
	else
		rc = install_package(
		    backends_path, name, tarball, sha, err, errlen);
	unlink(tarball);
out:
	json_decref(index);
	return rc;
}

int
install_ensure(const char *backends_path, const char *gallery_url,
    const char *bearer, const char *name, char *run, size_t runlen,
    int *fetched, char *err, size_t errlen)
{
	int rc;

	*fetched = 0;
	if (!name_ok(name)) {
		snprintf(err, errlen, "invalid backend name \"%s\"", name);
		return -1;
	}
	pthread_mutex_lock(&install_lock);
	rc = install_find(backends_path, name, run, runlen);
	if (rc == -1) {
		if (gallery_url == NULL || *gallery_url == '\0')
			snprintf(err, errlen,
			    "backend %s is not installed and "
			    "no gallery is configured",
			    name);
		else if (install_fetch(backends_path, gallery_url, bearer, name,
		             err, errlen) == 0 &&
		         (rc = install_find(
		              backends_path, name, run, runlen)) == 0)
			*fetched = 1;
		else
			*fetched = -1;
	}
	pthread_mutex_unlock(&install_lock);
	return rc;
}

int
install_remove(
    const char *backends_path, const char *name, char *err, size_t errlen)
{
	char dir[1024];
	struct stat st;

	if (!name_ok(name)) {
		snprintf(err, errlen, "invalid backend name");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/%s", backends_path, name);
	if (lstat(dir, &st) == -1) {
		snprintf(err, errlen, "backend %s is not installed", name);
		return -1;
	}
	pthread_mutex_lock(&install_lock);
	if (remove_tree(dir) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		pthread_mutex_unlock(&install_lock);
		return -1;
	}
	pthread_mutex_unlock(&install_lock);
	return 0;
}

json_t *
install_list(const char *backends_path, const char *gallery_url)
{
	json_t *list = json_array();
	char run[1100], meta[1100], when[32];
	struct dirent *de;
	struct stat st;
	struct tm tm;
	DIR *d;

	if ((d = opendir(backends_path)) == NULL)
		return list;
	while ((de = readdir(d)) != NULL) {
		if (!name_ok(de->d_name) ||
		    install_find(backends_path, de->d_name, run, sizeof(run)) ==
		        -1)
			continue;
		snprintf(
		    meta, sizeof(meta), "%s/%s", backends_path, de->d_name);
		when[0] = '\0';
		if (stat(meta, &st) == 0 && gmtime_r(&st.st_mtime, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_array_append_new(list,
		    json_pack("{s:s,s:b,s:b,s:s,s:s}", "name", de->d_name,
		        "is_system", 0, "is_meta", 0, "installed_at", when,
		        "gallery_url", gallery_url ? gallery_url : ""));
	}
	closedir(d);
	return list;
}
