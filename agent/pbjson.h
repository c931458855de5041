/*
 * pbjson: fill a protobuf-c message from a JSON object whose keys are the
 * message's proto field names (LocalAI's ModelOptions: "Model",
 * "ContextSize", "Options"…).  Used by the frontend to describe how a model
 * is loaded and by the worker to call LoadModel, and to keep those options
 * to replay after a backend crash.
 */
#ifndef LOCALAI_PBJSON_H
#define LOCALAI_PBJSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

/*
 * Unpack JSON `obj` into a new message of type `desc`.  Scalars (string,
 * bool, int32/64, uint32/64, float, double, enum as number) and repeated
 * scalars are supported; nested messages and maps are refused.  Unknown
 * keys are an error (a typo must not be silently ignored).  Returns the
 * message (free with protobuf_c_message_free_unpacked(m, NULL)), or NULL
 * with err set.
 */
ProtobufCMessage *pbjson_to_message(const ProtobufCMessageDescriptor *desc,
    json_t *obj, char *err, size_t errlen);

#endif
