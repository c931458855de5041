/*
 * msgbuf: framing of internal messages (msg.h) over a SOCK_STREAM
 * socketpair, with at most one file descriptor per message (SCM_RIGHTS).
 *
 * Reads and writes are non-blocking (MSG_DONTWAIT, whatever the fd's own
 * flags): msgbuf_read() takes what the socket has, msgbuf_get() returns
 * whole messages one at a time, msgbuf_compose() queues a message and msgbuf_flush() writes as much of the queue as the
 * socket accepts, keeping the rest for the next POLLOUT.  The blocking
 * variants serve threads that want a simple request/answer.
 *
 * A frame that carries an fd has MSG_FLAG_FD set in its type on the wire
 * and starts its own sendmsg(), so the fd arrives with the frame's first
 * byte; received fds wait in rfds[] (close-on-exec) until msgbuf_get()
 * hands each to the flagged frame it belongs to.  An fd that no frame
 * claims, a flagged frame without an fd, an unknown type, unknown flags or
 * an oversized length are protocol errors (EBADMSG): the caller drops the
 * connection.  No call raises SIGPIPE (MSG_NOSIGNAL).
 */
#ifndef LOCALAI_MSGBUF_H
#define LOCALAI_MSGBUF_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define MSGBUF_MAX_FDS 16 /* received fds held before they are claimed */

struct msgbuf_wq; /* queued outgoing frames (opaque) */

struct msgbuf {
	int fd;
	uint8_t *rbuf; /* received bytes not yet consumed */
	size_t rlen;
	size_t rsize;
	size_t roff; /* rbuf[roff..rlen) is unconsumed */
	int rfds[MSGBUF_MAX_FDS]; /* received, not yet claimed */
	int nrfds;
	struct msgbuf_wq *wq;
	size_t wq_bytes; /* bytes queued for writing */
};

/* One received message; data and fd belong to the caller until msg_free. */
struct msg {
	struct msg_hdr hdr;
	uint8_t *data; /* hdr.len bytes, NULL when 0 */
	int fd; /* -1 when none was passed */
};

void msgbuf_init(struct msgbuf *mb, int fd);
/* Free every buffer and close every received fd; does not close mb->fd. */
void msgbuf_clear(struct msgbuf *mb);

/* Largest payload a message of this type may carry. */
size_t msg_max_len(uint32_t type);

/*
 * Queue one message.  fd >= 0 is passed with it (the caller keeps its own
 * copy and may close it after the call).  Returns 0, or -1 (EMSGSIZE,
 * EINVAL for an unknown type, ENOMEM, or the error of dup()).
 */
int msgbuf_compose(struct msgbuf *mb, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len);
/* Write queued bytes: 0 all written, 1 some remain (EAGAIN), -1 error. */
int msgbuf_flush(struct msgbuf *mb);
/* Queue and write, blocking with poll() until written; 0 or -1. */
int msgbuf_send(struct msgbuf *mb, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len);
/* Pending outgoing bytes (for POLLOUT interest). */
size_t msgbuf_pending(const struct msgbuf *mb);

/*
 * Read what the socket has: bytes read (> 0), 0 at end of file, -1 on error
 * (errno EAGAIN when nothing was ready).
 */
ssize_t msgbuf_read(struct msgbuf *mb);
/*
 * Take the next whole message: 1 one returned in *m, 0 none complete yet,
 * -1 protocol error (unknown type, oversized frame; errno EBADMSG).
 */
int msgbuf_get(struct msgbuf *mb, struct msg *m);
/*
 * Wait (poll, timeout_ms, -1 = forever) for one message, flushing queued
 * writes meanwhile: 1, 0 timeout, -1 (ECONNRESET at end of file).
 */
int msgbuf_recv(struct msgbuf *mb, struct msg *m, int timeout_ms);
void msg_free(struct msg *m);

/*
 * Append bytes to the receive buffer as if msgbuf_read() had read them
 * (tests and the fuzz target drive the decoder this way).  0 or -1.
 */
int msgbuf_feed(struct msgbuf *mb, const void *data, size_t len);

/*
 * A received payload must be exactly sizeof(T) for its type: returns 0, or
 * -1 after logging the protocol error.
 */
int msg_check_len(const struct msg *m, size_t want);

#endif
