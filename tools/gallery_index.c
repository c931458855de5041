/*
 * gallery_index: write the backend gallery's index.json.
 *
 *	gallery_index OUT.json [NAME=PACKAGE.tar.gz=METADATA.json ...]
 *
 * For each shipped backend it checks the backend's metadata.json (an object
 * with "name" equal to NAME, a non-empty "version" string and a non-empty
 * "capabilities" array of strings) and records the package's file name,
 * size and SHA-256:
 *
 *	{"backends": [{"name": "espeak", "version": "1.0.0",
 *	  "capabilities": ["tts"], "file": "espeak.tar.gz",
 *	  "size": 123456, "sha256": "…"}, …]}
 *
 * sorted by name.  The worker's install step trusts a package only when
 * its size and digest match.  Invalid metadata fails the build (exit 1).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

static int
idx_fail(const char *what, const char *why)
{
	fprintf(stderr, "gallery_index: %s: %s\n", what, why);
	return -1;
}

/* Hex SHA-256 and size of the file at path. */
static int
idx_digest(const char *path, char hex[65], long long *size)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	size_t n;
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "rb")) == NULL)
		return idx_fail(path, strerror(errno));
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		rc = idx_fail(path, "cannot start SHA-256");
	*size = 0;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		*size += (long long)n;
		if (EVP_DigestUpdate(ctx, buf, n) != 1)
			rc = idx_fail(path, "SHA-256 failed");
	}
	if (rc == 0 && ferror(f))
		rc = idx_fail(path, strerror(errno));
	if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		rc = idx_fail(path, "SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	fclose(f);
	for (i = 0; rc == 0 && i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return rc;
}

/* The checked metadata of backend name (a new reference), or NULL. */
static json_t *
idx_metadata(const char *name, const char *path)
{
	json_error_t je;
	json_t *m, *v, *caps;
	size_t i;
	char why[300];

	if ((m = json_load_file(path, 0, &je)) == NULL) {
		snprintf(why, sizeof(why), "line %d: %s", je.line, je.text);
		idx_fail(path, why);
		return NULL;
	}
	v = json_object_get(m, "name");
	caps = json_object_get(m, "capabilities");
	if (!json_is_object(m) || !json_is_string(v) ||
	    strcmp(json_string_value(v), name) != 0)
		idx_fail(path, "\"name\" must be the backend's name");
	else if (!json_is_string(json_object_get(m, "version")) ||
	    json_string_length(json_object_get(m, "version")) == 0)
		idx_fail(path, "\"version\" must be a non-empty string");
	else if (!json_is_array(caps) || json_array_size(caps) == 0)
		idx_fail(path, "\"capabilities\" must be a non-empty array");
	else {
		json_array_foreach(caps, i, v)
			if (!json_is_string(v) || json_string_length(v) == 0)
				break;
		if (i == json_array_size(caps))
			return m;
		idx_fail(path, "\"capabilities\" must hold strings");
	}
	json_decref(m);
	return NULL;
}

/* One NAME=PACKAGE=METADATA argument → an index entry. */
static json_t *
idx_entry(char *arg)
{
	char *name = arg, *pkg, *meta, hex[65];
	const char *file;
	long long size;
	json_t *m, *e;

	if ((pkg = strchr(name, '=')) == NULL ||
	    (meta = strchr(pkg + 1, '=')) == NULL) {
		idx_fail(arg, "expected NAME=PACKAGE=METADATA");
		return NULL;
	}
	*pkg++ = '\0';
	*meta++ = '\0';
	if ((m = idx_metadata(name, meta)) == NULL)
		return NULL;
	if (idx_digest(pkg, hex, &size) == -1) {
		json_decref(m);
		return NULL;
	}
	file = strrchr(pkg, '/') != NULL ? strrchr(pkg, '/') + 1 : pkg;
	e = json_pack("{s:O, s:O, s:O, s:s, s:I, s:s}",
	    "name", json_object_get(m, "name"),
	    "version", json_object_get(m, "version"),
	    "capabilities", json_object_get(m, "capabilities"),
	    "file", file, "size", (json_int_t)size, "sha256", hex);
	json_decref(m);
	return e;
}

static int
idx_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	json_t *list, *e, *root;
	char tmp[4096];
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: gallery_index OUT.json "
		    "[NAME=PACKAGE=METADATA ...]\n");
		return 2;
	}
	qsort(argv + 2, (size_t)argc - 2, sizeof(*argv), idx_cmp);
	list = json_array();
	for (i = 2; i < argc; i++) {
		if ((e = idx_entry(argv[i])) == NULL)
			return 1;
		json_array_append_new(list, e);
	}
	root = json_pack("{s:o}", "backends", list);
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	if (root == NULL || json_dump_file(root, tmp, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER) == -1 || rename(tmp, argv[1]) == -1) {
		idx_fail(argv[1], "cannot write");
		return 1;
	}
	json_decref(root);
	return 0;
}
