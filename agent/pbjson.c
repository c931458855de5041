/*
 * JSON to protobuf-c messages by field name.  See pbjson.h.
 *
 * The message is built the way protobuf-c's own unpacker builds one, by
 * packing it to the wire format and unpacking, so the result can be freed
 * with protobuf_c_message_free_unpacked() like any received message: we
 * write each field in protobuf wire format from the JSON value.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pbjson.h"

struct wbuf {
	uint8_t *p;
	size_t len, cap;
};

static int
wb_put(struct wbuf *b, const void *data, size_t n)
{
	uint8_t *np;

	if (b->len + n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256) + n;

		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int
wb_varint(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			tmp[n] |= 0x80;
		n++;
	} while (v != 0);
	return wb_put(b, tmp, n);
}

static int
wb_tag(struct wbuf *b, unsigned id, unsigned wiretype)
{
	return wb_varint(b, ((uint64_t)id << 3) | wiretype);
}

/* Write one scalar value of field f from JSON v. */
static int
pbjson_scalar(struct wbuf *b, const ProtobufCFieldDescriptor *f, json_t *v,
    char *err, size_t errlen)
{
	double d;
	float fl;
	const char *s;

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
		if ((s = json_string_value(v)) == NULL)
			break;
		return wb_tag(b, f->id, 2) ||
		               wb_varint(b, json_string_length(v)) ||
		               wb_put(b, s, json_string_length(v))
		           ? -1
		           : 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			break;
		return wb_tag(b, f->id, 0) || wb_varint(b, json_is_true(v)) ? -1
		                                                            : 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_ENUM:
		if (!json_is_integer(v))
			break;
		return wb_tag(b, f->id, 0) ||
		               wb_varint(b, (uint64_t)json_integer_value(v))
		           ? -1
		           : 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if (!json_is_number(v))
			break;
		fl = (float)json_number_value(v);
		return wb_tag(b, f->id, 5) || wb_put(b, &fl, 4) ? -1 : 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_is_number(v))
			break;
		d = json_number_value(v);
		return wb_tag(b, f->id, 1) || wb_put(b, &d, 8) ? -1 : 0;
	default:
		snprintf(
		    err, errlen, "field \"%s\": type not supported", f->name);
		return -1;
	}
	snprintf(err, errlen, "field \"%s\" has the wrong type", f->name);
	return -1;
}

static int
pbjson_field(struct wbuf *b, const ProtobufCFieldDescriptor *f, json_t *v,
    char *err, size_t errlen)
{
	json_t *e;
	size_t i;

	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		snprintf(err, errlen, "field \"%s\": messages not supported",
		    f->name);
		return -1;
	}
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return pbjson_scalar(b, f, v, err, errlen);
	if (!json_is_array(v)) {
		snprintf(err, errlen, "field \"%s\" must be an array", f->name);
		return -1;
	}
	/* Unpacked encoding: every decoder accepts it for any scalar. */
	json_array_foreach(
	    v, i, e) if (pbjson_scalar(b, f, e, err, errlen) == -1) return -1;
	return 0;
}

ProtobufCMessage *
pbjson_to_message(const ProtobufCMessageDescriptor *desc, json_t *obj,
    char *err, size_t errlen)
{
	const ProtobufCFieldDescriptor *f;
	struct wbuf b = {NULL, 0, 0};
	ProtobufCMessage *m = NULL;
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		snprintf(err, errlen, "options must be a JSON object");
		return NULL;
	}
	json_object_foreach(obj, key, v)
	{
		if ((f = protobuf_c_message_descriptor_get_field_by_name(
		         desc, key)) == NULL) {
			snprintf(err, errlen, "unknown field \"%s\"", key);
			goto out;
		}
		if (json_is_null(v))
			continue;
		if (pbjson_field(&b, f, v, err, errlen) == -1)
			goto out;
	}
	m = protobuf_c_message_unpack(
	    desc, NULL, b.len, b.p ? b.p : (const uint8_t *)"");
	if (m == NULL)
		snprintf(err, errlen, "options do not form a valid message");
out:
	free(b.p);
	return m;
}
