/*
 * libFuzzer target for the IPC decoder (proto/msgbuf.c): arbitrary bytes,
 * fed in chunks of arbitrary sizes, with some fds already received, must
 * yield only well-formed messages or a clean EBADMSG, and leak nothing.
 *
 * Input layout: byte 0 = number of fds to pretend were received (0..3),
 * byte 1 = chunk size (1..256), the rest = the byte stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/msgbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Take every complete message; 0 to continue, -1 after a protocol error. */
static int
fuzz_drain(struct msgbuf *mb)
{
	struct msg m;
	int r;

	while ((r = msgbuf_get(mb, &m)) == 1) {
		if (m.hdr.type == MSG_NONE || m.hdr.type >= MSG_TYPE_MAX ||
		    m.hdr.len > msg_max_len(m.hdr.type) ||
		    (m.hdr.len > 0) != (m.data != NULL))
			abort();
		msg_free(&m);
	}
	if (r == -1 && errno != EBADMSG && errno != ENOMEM)
		abort();
	return r == -1 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msgbuf mb;
	int fds[3], nfds, i;
	size_t chunk, off, n;

	if (size < 2)
		return 0;
	nfds = data[0] % 4;
	chunk = (size_t)data[1] + 1;
	msgbuf_init(&mb, -1);
	for (i = 0; i < nfds; i++) {
		if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
			abort();
		mb.rfds[mb.nrfds++] = fds[i];
	}
	for (off = 2; off < size; off += n) {
		n = size - off < chunk ? size - off : chunk;
		if (msgbuf_feed(&mb, data + off, n) == -1)
			abort();
		if (fuzz_drain(&mb) == -1)
			break;
	}
	msgbuf_clear(&mb);
	/* Every fd, claimed or not, is closed by now. */
	for (i = 0; i < nfds; i++) {
		if (fcntl(fds[i], F_GETFD) != -1)
			abort();
	}
	return 0;
}
