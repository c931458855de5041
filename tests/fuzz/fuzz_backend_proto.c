/*
 * libFuzzer target for the backend protocol's decoding: the bytes a
 * backend receives from the network (every request type the runtime
 * decodes) and those the client receives (every response type).  The
 * first byte picks the message type; the rest is decoded with the
 * generated descriptors.  A message that decodes is re-encoded and decoded
 * again, and whatever decodes twice must encode to the same bytes.
 *
 * Byte equality of the first re-encoding with the input is not required:
 * protobuf keeps the last of repeated scalar fields and protobuf-c 1.4.1
 * accepts a non-canonical tag for field number 0 as an unknown field whose
 * canonical re-encoding it then rejects (found by this target; harmless
 * for us, as the runtime never re-encodes a request).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const fuzz_types[] = {
    &backend__health_message__descriptor,
    &backend__model_options__descriptor,
    &backend__predict_options__descriptor,
    &backend__ttsrequest__descriptor,
    &backend__transcript_request__descriptor,
    &backend__reply__descriptor,
    &backend__result__descriptor,
    &backend__status_response__descriptor,
    &backend__embedding_result__descriptor,
    &backend__tokenization_response__descriptor,
    &backend__transcript_result__descriptor,
    &backend__rerank_request__descriptor,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m, *m2;
	uint8_t *a, *b;
	size_t na, nb;

	if (size < 1)
		return 0;
	d = fuzz_types[data[0] % (sizeof(fuzz_types) / sizeof(fuzz_types[0]))];
	if ((m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1)) ==
	    NULL)
		return 0;
	na = protobuf_c_message_get_packed_size(m);
	if ((a = malloc(na + 1)) == NULL)
		abort();
	if (protobuf_c_message_pack(m, a) != na)
		abort();
	if ((m2 = protobuf_c_message_unpack(d, NULL, na, a)) == NULL) {
		free(a);
		protobuf_c_message_free_unpacked(m, NULL);
		return 0;
	}
	nb = protobuf_c_message_get_packed_size(m2);
	if ((b = malloc(nb + 1)) == NULL)
		abort();
	if (protobuf_c_message_pack(m2, b) != nb)
		abort();
	/* a was canonical: decoding and encoding it again changes nothing. */
	if (m2->n_unknown_fields == 0 && (nb != na || memcmp(a, b, na) != 0))
		abort();
	free(a);
	free(b);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
