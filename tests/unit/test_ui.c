/*
 * Unit tests for the embedded Nodes page (api/ui/ui.c and the table
 * tools/embed-files.sh generates): every source file is embedded byte for
 * byte with its content type and ETag, URLs map to files and nothing
 * else, and the page refers to no resource outside the binary (the
 * machines are offline).  Run from the repository root (tests/run.sh).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/ui/ui.h"

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
test_sources_embedded(void **state)
{
	const struct ui_file *f;
	struct dirent *de;
	char path[512], *text;
	const char *ext;
	size_t len, n = 0, i;
	DIR *d;

	(void)state;
	d = opendir("api/ui");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		ext = strrchr(de->d_name, '.');
		if (ext == NULL ||
		    (strcmp(ext, ".html") && strcmp(ext, ".js") &&
		        strcmp(ext, ".css") && strcmp(ext, ".svg")))
			continue;
		snprintf(path, sizeof(path), "api/ui/%s", de->d_name);
		text = slurp(path, &len);
		f = ui_file_named(de->d_name);
		if (f == NULL)
			fail_msg("%s is not embedded (rebuild?)", path);
		assert_int_equal(f->len, len);
		assert_memory_equal(f->bytes, text, len);
		assert_int_equal(f->bytes[f->len], '\0');
		assert_int_equal(strlen(f->etag), 18);
		assert_true(f->etag[0] == '"' && f->etag[17] == '"');
		assert_int_equal(strspn(f->etag + 1, "0123456789abcdef"), 16);
		free(text);
		n++;
	}
	closedir(d);
	assert_int_equal(n, ui_files_count);
	assert_true(n >= 3);
	for (i = 0; i < ui_files_count; i++)
		assert_ptr_equal(ui_file_named(ui_files[i].path), &ui_files[i]);
}

static void
test_content_types(void **state)
{
	(void)state;
	assert_string_equal(ui_file_named("nodes.html")->content_type,
	    "text/html; charset=utf-8");
	assert_string_equal(ui_file_named("nodes.js")->content_type,
	    "text/javascript; charset=utf-8");
	assert_string_equal(ui_file_named("nodes.css")->content_type,
	    "text/css; charset=utf-8");
}

static void
test_urls(void **state)
{
	static const char *none[] = {"/", "/app/nodesx", "/app/static/",
	    "/app/static/../nodes.html", "/app/static//nodes.js",
	    "/app/static/x/nodes.js", "/app/static/nodes.js?v=1", "/APP/nodes",
	    "/app/static/nodes.JS", "/app/static/%6eodes.js", "app/nodes",
	    "/app/staticnodes.js", "/api/nodes", "", NULL};
	const struct ui_file *html = ui_file_named("nodes.html");
	size_t i;

	(void)state;
	assert_ptr_equal(ui_file_find("/app/nodes"), html);
	assert_ptr_equal(ui_file_find("/app/nodes/"), html);
	assert_ptr_equal(ui_file_find("/app"), html);
	assert_ptr_equal(ui_file_find("/app/"), html);
	assert_ptr_equal(
	    ui_file_find("/app/static/nodes.js"), ui_file_named("nodes.js"));
	assert_ptr_equal(
	    ui_file_find("/app/static/nodes.css"), ui_file_named("nodes.css"));
	for (i = 0; none[i] != NULL; i++)
		if (ui_file_find(none[i]) != NULL)
			fail_msg("%s should not map to a file", none[i]);
	assert_null(ui_file_find(NULL));
	assert_null(ui_file_named("missing.js"));
}

/* The page loads what it names from /app/static/, nothing from outside. */
static void
test_offline(void **state)
{
	const char *html = (const char *)ui_file_named("nodes.html")->bytes;
	const char *p, *q;
	char name[128];
	size_t i, n = 0;

	(void)state;
	for (p = html; (p = strstr(p, "/app/static/")) != NULL; p = q) {
		p += strlen("/app/static/");
		q = strchr(p, '"');
		assert_non_null(q);
		assert_true((size_t)(q - p) < sizeof(name));
		memcpy(name, p, q - p);
		name[q - p] = '\0';
		if (ui_file_named(name) == NULL)
			fail_msg(
			    "nodes.html loads %s, which is not embedded", name);
		n++;
	}
	assert_int_equal(n, 2);
	for (i = 0; i < ui_files_count; i++) {
		p = (const char *)ui_files[i].bytes;
		assert_null(strstr(p, "https://"));
		assert_null(strstr(p, "src=\"http"));
		assert_null(strstr(p, "href=\"http"));
		assert_null(strstr(p, "@import"));
		/* Only the SVG namespace name, which is never fetched. */
		q = p;
		while ((q = strstr(q, "http://")) != NULL) {
			assert_int_equal(
			    strncmp(q, "http://www.w3.org/2000/svg", 26), 0);
			q++;
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sources_embedded),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_urls),
	    cmocka_unit_test(test_offline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
