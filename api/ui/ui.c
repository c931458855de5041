/*
 * URL lookup of the embedded Nodes page files; see ui.h.  A table
 * lookup by exact name, so no URL can reach anything but the embedded
 * files ("..", "%2e", slashes inside names simply match nothing).
 */
#include <string.h>

#include "api/ui/ui.h"

#define UI_STATIC_PREFIX "/app/static/"

const struct ui_file *
ui_file_named(const char *name)
{
	size_t i;

	for (i = 0; i < ui_files_count; i++)
		if (strcmp(ui_files[i].path, name) == 0)
			return &ui_files[i];
	return NULL;
}

const struct ui_file *
ui_file_find(const char *path)
{
	static const char *page[] = {
	    "/app", "/app/", "/app/nodes", "/app/nodes/", NULL};
	const char *name;
	size_t i;

	if (path == NULL)
		return NULL;
	for (i = 0; page[i] != NULL; i++)
		if (strcmp(path, page[i]) == 0)
			return ui_file_named("nodes.html");
	if (strncmp(path, UI_STATIC_PREFIX, strlen(UI_STATIC_PREFIX)) != 0)
		return NULL;
	name = path + strlen(UI_STATIC_PREFIX);
	if (*name == '\0' || strchr(name, '/') != NULL)
		return NULL;
	return ui_file_named(name);
}
