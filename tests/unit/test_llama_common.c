/*
 * Generated test models are cached under $BUILD/tests/models/ by a name
 * derived from the mkgguf arguments; mkgguf writes through a temporary file
 * and rename, so concurrent test binaries never see half a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/test_llama_common.h"

const char *
tl_model(const char *args)
{
	static char path[1024];
	char name[256], cmd[2048];
	const char *top = getenv("TOP"), *build = getenv("BUILD");
	size_t i, j;

	if (top == NULL)
		top = ".";
	if (build == NULL)
		build = "build";
	for (i = j = 0; args[i] != '\0' && j + 1 < sizeof(name); i++)
		name[j++] = (args[i] == ' ' || args[i] == '/') ? '_' : args[i];
	name[j] = '\0';
	snprintf(path, sizeof(path), "%s/tests/models/%s.gguf", build, name);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(cmd, sizeof(cmd),
	    "mkdir -p %s/tests/models && python3 "
	    "%s/tests/tools/mkgguf.py %s -o %s",
	    build, top, args, path);
	if (system(cmd) != 0 || access(path, R_OK) != 0)
		return NULL;
	return path;
}
