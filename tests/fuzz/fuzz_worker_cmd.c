/*
 * libFuzzer target: what the worker agent makes of a NATS command's
 * payload before acting on it -- the JSON itself, the names it would turn
 * into paths (name_ok), and the load options it turns into a LoadModel
 * request (pbjson, ModelOptions by proto field name).  Whatever comes in,
 * a name that passes has no '/', no "..", no leading '.', and an options
 * object either fails cleanly or gives a message that packs again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/pbjson.h"
#include "agent/util.h"
#include "backend.pb-c.h"

static void
check_name(json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || !name_ok(s))
		return;
	if (strchr(s, '/') != NULL || strstr(s, "..") != NULL || s[0] == '.' ||
	    strlen(s) > 127)
		abort();
}

static void
check_options(json_t *opts)
{
	ProtobufCMessage *m;
	char err[256];
	uint8_t *buf;
	size_t n;

	err[0] = '\0';
	m = pbjson_to_message(
	    &backend__model_options__descriptor, opts, err, sizeof(err));
	if (m == NULL) {
		if (err[0] == '\0')
			abort(); /* a failure must say why */
		return;
	}
	n = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(n + 1)) != NULL) {
		if (protobuf_c_message_pack(m, buf) != n)
			abort();
		free(buf);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *req, *f;
	size_t i;

	if ((req = json_loadb((const char *)data, size, 0, &je)) == NULL)
		return 0;
	if (json_is_object(req)) {
		check_name(json_object_get(req, "backend"));
		check_name(json_object_get(req, "model_id"));
		check_name(json_object_get(req, "model_name"));
		json_array_foreach(json_object_get(req, "files"), i, f)
		    check_name(json_object_get(f, "name"));
		if (json_object_get(req, "options") != NULL)
			check_options(json_object_get(req, "options"));
	}
	json_decref(req);
	return 0;
}
