/*
 * The Nodes page's files (api/ui/nodes.html, nodes.js, nodes.css),
 * embedded in the binary at build time by tools/embed-files.sh into
 * $(BUILD)/gen/ui_files.c, so the api process serves them without any
 * file or network access.
 *
 * URL space, all answered by ui_file_find():
 *	/app, /app/, /app/nodes, /app/nodes/	nodes.html
 *	/app/static/<name>			the file <name>
 * The page itself needs no key; it asks for the admin key and sends it
 * as `Authorization: Bearer <key>` on every /api/… call.
 */
#ifndef LOCALAI_API_UI_H
#define LOCALAI_API_UI_H

#include <stddef.h>

struct ui_file {
	const char *path; /* "nodes.js", relative to api/ui */
	const char *content_type; /* "text/javascript; …" */
	const unsigned char *bytes; /* len bytes, then a NUL */
	size_t len;
	const char *etag; /* quoted: "\"0123abcd…\"" */
};

extern const struct ui_file ui_files[];
extern const size_t ui_files_count;

/* The file a URL path (no query string) names, or NULL: answer 404. */
const struct ui_file *ui_file_find(const char *path);
/* The file at path ("nodes.css", relative to api/ui), or NULL. */
const struct ui_file *ui_file_named(const char *path);

#endif
