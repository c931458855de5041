/*
 * msgbuf: framing of internal messages over SOCK_STREAM socketpairs.
 * See msgbuf.h for the contract and msg.h for the header.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/msgbuf.h"

#define MSGBUF_READ_CHUNK (32 * 1024) /* least free space per read */
#define MSGBUF_IOV_MAX 64 /* frames per sendmsg() */
#define MSGBUF_CMSG_FDS 4 /* room to detect extra fds */

/* One queued outgoing frame: header and payload, and its fd. */
struct msgbuf_frame {
	struct msgbuf_frame *next;
	size_t len; /* header + payload */
	size_t off; /* bytes already written */
	int fd; /* our dup, sent with byte 0; -1 */
	uint8_t data[];
};

struct msgbuf_wq {
	struct msgbuf_frame *head;
	struct msgbuf_frame *tail;
};

static const uint32_t msg_large_types[] = {MSG_LARGE_TYPES};

void
msgbuf_init(struct msgbuf *mb, int fd)
{
	memset(mb, 0, sizeof(*mb));
	mb->fd = fd;
}

static void
msgbuf_frame_free(struct msgbuf_frame *f)
{
	if (f->fd != -1)
		close(f->fd);
	free(f);
}

void
msgbuf_clear(struct msgbuf *mb)
{
	struct msgbuf_frame *f, *next;
	int i;

	if (mb->wq != NULL) {
		for (f = mb->wq->head; f != NULL; f = next) {
			next = f->next;
			msgbuf_frame_free(f);
		}
		free(mb->wq);
		mb->wq = NULL;
	}
	mb->wq_bytes = 0;
	for (i = 0; i < mb->nrfds; i++)
		close(mb->rfds[i]);
	mb->nrfds = 0;
	free(mb->rbuf);
	mb->rbuf = NULL;
	mb->rlen = mb->rsize = mb->roff = 0;
}

size_t
msg_max_len(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(msg_large_types) / sizeof(msg_large_types[0]);
	     i++) {
		if (msg_large_types[i] == type && type != MSG_NONE)
			return MSG_MAX_LARGE;
	}
	return MSG_MAX_PAYLOAD;
}

static int
msg_type_valid(uint32_t type)
{
	return type > MSG_NONE && type < MSG_TYPE_MAX;
}

int
msgbuf_compose(struct msgbuf *mb, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct msgbuf_frame *f;
	struct msg_hdr hdr;

	if (!msg_type_valid(type) || (len > 0 && data == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (len > msg_max_len(type)) {
		errno = EMSGSIZE;
		return -1;
	}
	if (mb->wq == NULL && (mb->wq = calloc(1, sizeof(*mb->wq))) == NULL)
		return -1;
	if ((f = malloc(sizeof(*f) + MSG_HDR_LEN + len)) == NULL)
		return -1;
	f->fd = -1;
	if (fd >= 0 && (f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		free(f);
		return -1;
	}
	hdr.type = type | (fd >= 0 ? MSG_FLAG_FD : 0);
	hdr.len = (uint32_t)len;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)getpid();
	memcpy(f->data, &hdr, MSG_HDR_LEN);
	if (len > 0)
		memcpy(f->data + MSG_HDR_LEN, data, len);
	f->len = MSG_HDR_LEN + len;
	f->off = 0;
	f->next = NULL;
	if (mb->wq->tail == NULL)
		mb->wq->head = f;
	else
		mb->wq->tail->next = f;
	mb->wq->tail = f;
	mb->wq_bytes += f->len;
	return 0;
}

size_t
msgbuf_pending(const struct msgbuf *mb)
{
	return mb->wq_bytes;
}

/*
 * Gather the head frame and the frames after it into one sendmsg(); a
 * frame with an unsent fd may only be the first, so that its fd rides on
 * its own first byte.  Returns the number of iovecs filled.
 */
static int
msgbuf_gather(struct msgbuf_wq *wq, struct iovec *iov, int *fd)
{
	struct msgbuf_frame *f;
	int n = 0;

	*fd = wq->head->fd;
	for (f = wq->head; f != NULL && n < MSGBUF_IOV_MAX; f = f->next) {
		if (n > 0 && f->fd != -1)
			break;
		iov[n].iov_base = f->data + f->off;
		iov[n].iov_len = f->len - f->off;
		n++;
	}
	return n;
}

/* Drop the frames sendmsg() wrote completely and advance a partial one. */
static void
msgbuf_advance(struct msgbuf *mb, size_t done)
{
	struct msgbuf_wq *wq = mb->wq;
	struct msgbuf_frame *f;
	size_t left;

	mb->wq_bytes -= done;
	while ((f = wq->head) != NULL && done > 0) {
		if (f->fd != -1) { /* it went with the first byte */
			close(f->fd);
			f->fd = -1;
		}
		left = f->len - f->off;
		if (done < left) {
			f->off += done;
			return;
		}
		done -= left;
		wq->head = f->next;
		if (wq->head == NULL)
			wq->tail = NULL;
		free(f);
	}
}

int
msgbuf_flush(struct msgbuf *mb)
{
	struct iovec iov[MSGBUF_IOV_MAX];
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *cmsg;
	ssize_t n;
	int fd;

	while (mb->wq != NULL && mb->wq->head != NULL) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = msgbuf_gather(mb->wq, iov, &fd);
		if (fd != -1) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cmsg = CMSG_FIRSTHDR(&msg);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
		}
		n = sendmsg(mb->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		msgbuf_advance(mb, (size_t)n);
	}
	return 0;
}

int
msgbuf_send(struct msgbuf *mb, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	struct pollfd pfd;
	int r;

	if (msgbuf_compose(mb, type, peerid, fd, data, len) == -1)
		return -1;
	while ((r = msgbuf_flush(mb)) == 1) {
		pfd.fd = mb->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return r;
}

/*
 * Make room for the next read: at least MSGBUF_READ_CHUNK bytes, or the
 * rest of a frame whose header announced more.
 */
static int
msgbuf_reserve(struct msgbuf *mb, size_t want)
{
	uint8_t *p;
	size_t unread = mb->rlen - mb->roff, size;

	if (mb->rsize - mb->rlen >= want)
		return 0;
	if (mb->roff > 0) {
		memmove(mb->rbuf, mb->rbuf + mb->roff, unread);
		mb->rlen = unread;
		mb->roff = 0;
		if (mb->rsize - mb->rlen >= want)
			return 0;
	}
	size = mb->rlen + want;
	if ((p = realloc(mb->rbuf, size)) == NULL)
		return -1;
	mb->rbuf = p;
	mb->rsize = size;
	return 0;
}

/* A header is acceptable: known type, known flags, length in bounds. */
static int
msgbuf_hdr_valid(const struct msg_hdr *hdr)
{
	uint32_t type = hdr->type & ~MSG_FLAG_FD;

	return msg_type_valid(type) && hdr->len <= msg_max_len(type);
}

/* Bytes still missing from the frame whose header is buffered. */
static size_t
msgbuf_frame_missing(const struct msgbuf *mb)
{
	struct msg_hdr hdr;
	size_t unread = mb->rlen - mb->roff, total;

	if (unread < MSG_HDR_LEN)
		return 0;
	memcpy(&hdr, mb->rbuf + mb->roff, MSG_HDR_LEN);
	total = MSG_HDR_LEN + (size_t)hdr.len;
	if (!msgbuf_hdr_valid(&hdr) || unread >= total)
		return 0; /* msgbuf_get() rejects or returns it */
	return total - unread;
}

/* Take the fds of one received SCM_RIGHTS message; -1 if one is lost. */
static int
msgbuf_take_fds(struct msgbuf *mb, struct msghdr *msg)
{
	struct cmsghdr *cmsg;
	size_t i, nfds;
	int fd, lost = 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	     cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof(int));
			if (mb->nrfds < MSGBUF_MAX_FDS)
				mb->rfds[mb->nrfds++] = fd;
			else {
				close(fd);
				lost = 1;
			}
		}
	}
	if (lost || (msg->msg_flags & MSG_CTRUNC)) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

ssize_t
msgbuf_read(struct msgbuf *mb)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * MSGBUF_CMSG_FDS)];
	} cmsgbuf;
	struct msghdr msg;
	struct iovec iov;
	size_t want = msgbuf_frame_missing(mb);
	ssize_t n;

	if (mb->nrfds >= MSGBUF_MAX_FDS) {
		errno = EBADMSG; /* the peer sends fds nobody claims */
		return -1;
	}
	if (msgbuf_reserve(
	        mb, want > MSGBUF_READ_CHUNK ? want : MSGBUF_READ_CHUNK) == -1)
		return -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = mb->rbuf + mb->rlen;
	iov.iov_len = mb->rsize - mb->rlen;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	n = recvmsg(mb->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == -1)
		return -1;
	if (msgbuf_take_fds(mb, &msg) == -1)
		return -1;
	mb->rlen += (size_t)n;
	return n;
}

int
msgbuf_feed(struct msgbuf *mb, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (msgbuf_reserve(mb, len) == -1)
		return -1;
	memcpy(mb->rbuf + mb->rlen, data, len);
	mb->rlen += len;
	return 0;
}

int
msgbuf_get(struct msgbuf *mb, struct msg *m)
{
	struct msg_hdr hdr;
	size_t unread = mb->rlen - mb->roff;
	uint8_t *data = NULL;

	if (unread < MSG_HDR_LEN) {
		if (unread == 0 && mb->nrfds > 0)
			goto bad; /* an fd no frame claims */
		return 0;
	}
	memcpy(&hdr, mb->rbuf + mb->roff, MSG_HDR_LEN);
	if (!msgbuf_hdr_valid(&hdr))
		goto bad;
	if (unread < MSG_HDR_LEN + (size_t)hdr.len)
		return 0;
	if ((hdr.type & MSG_FLAG_FD) && mb->nrfds == 0)
		goto bad;
	if (hdr.len > 0) {
		if ((data = malloc(hdr.len)) == NULL)
			return -1;
		memcpy(data, mb->rbuf + mb->roff + MSG_HDR_LEN, hdr.len);
	}
	m->fd = -1;
	if (hdr.type & MSG_FLAG_FD) {
		m->fd = mb->rfds[0];
		memmove(mb->rfds, mb->rfds + 1,
		    (size_t)(mb->nrfds - 1) * sizeof(int));
		mb->nrfds--;
	}
	mb->roff += MSG_HDR_LEN + (size_t)hdr.len;
	if (mb->roff == mb->rlen)
		mb->roff = mb->rlen = 0;
	hdr.type &= ~MSG_FLAG_FD;
	m->hdr = hdr;
	m->data = data;
	return 1;
bad:
	errno = EBADMSG;
	return -1;
}

static int64_t
msgbuf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One poll() round of msgbuf_recv(): 1 progress, 0 timeout, -1 error. */
static int
msgbuf_wait(struct msgbuf *mb, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	pfd.fd = mb->fd;
	pfd.events = POLLIN | (msgbuf_pending(mb) > 0 ? POLLOUT : 0);
	if ((r = poll(&pfd, 1, timeout_ms)) == -1)
		return errno == EINTR ? 1 : -1;
	if (r == 0)
		return 0;
	if ((pfd.revents & POLLOUT) && msgbuf_flush(mb) == -1)
		return -1;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
		n = msgbuf_read(mb);
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
	}
	return 1;
}

int
msgbuf_recv(struct msgbuf *mb, struct msg *m, int timeout_ms)
{
	int64_t deadline = msgbuf_now_ms() + timeout_ms, left;
	int r;

	for (;;) {
		if ((r = msgbuf_get(mb, m)) != 0)
			return r;
		left = -1;
		if (timeout_ms >= 0) {
			left = deadline - msgbuf_now_ms();
			if (left < 0)
				left = 0;
		}
		if ((r = msgbuf_wait(mb, (int)left)) <= 0)
			return r;
	}
}

void
msg_free(struct msg *m)
{
	free(m->data);
	m->data = NULL;
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
}

int
msg_check_len(const struct msg *m, size_t want)
{
	if (m->hdr.len == want)
		return 0;
	log_warnx("protocol error: message type %u from pid %u has %u bytes, "
	          "want %zu",
	    m->hdr.type, m->hdr.pid, m->hdr.len, want);
	errno = EBADMSG;
	return -1;
}
