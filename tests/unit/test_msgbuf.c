/*
 * Unit tests for proto/msgbuf.c: framing over real socketpairs.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/log.h"
#include "proto/msgbuf.h"

struct pair {
	int fd[2];
	struct msgbuf a; /* sender */
	struct msgbuf b; /* receiver */
};

static int
setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd), 0);
	msgbuf_init(&p->a, p->fd[0]);
	msgbuf_init(&p->b, p->fd[1]);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	msgbuf_clear(&p->a);
	msgbuf_clear(&p->b);
	if (p->fd[0] != -1)
		close(p->fd[0]);
	if (p->fd[1] != -1)
		close(p->fd[1]);
	free(p);
	return 0;
}

/* Read until one message is complete (the sender flushed already). */
static int
get_one(struct msgbuf *mb, struct msg *m)
{
	int r;

	while ((r = msgbuf_get(mb, m)) == 0) {
		if (msgbuf_read(mb) <= 0)
			return -1;
	}
	return r;
}

static void
fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i * 7);
}

static void
test_round_trip(void **state)
{
	struct pair *p = *state;
	struct msg_ctl_ping ping = {.seq = 42};
	struct msg_ctl_status st;
	uint8_t big[MSG_MAX_PAYLOAD];
	struct msg m;

	memset(&st, 0, sizeof(st));
	snprintf(st.text, sizeof(st.text), "serving");
	fill_pattern(big, sizeof(big), 3);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CTL_PING, 7, -1, &ping, sizeof(ping)), 0);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CTL_READY, 0, -1, NULL, 0), 0);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CTL_STATUS, 9, -1, &st, sizeof(st)), 0);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CFG_MODEL, 1, -1, big, sizeof(big)), 0);
	assert_true(msgbuf_pending(&p->a) > sizeof(big));
	assert_int_equal(msgbuf_flush(&p->a), 0);
	assert_int_equal(msgbuf_pending(&p->a), 0);

	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, MSG_CTL_PING);
	assert_int_equal(m.hdr.peerid, 7);
	assert_int_equal(m.hdr.pid, (uint32_t)getpid());
	assert_int_equal(m.fd, -1);
	assert_int_equal(msg_check_len(&m, sizeof(ping)), 0);
	assert_int_equal(((struct msg_ctl_ping *)m.data)->seq, 42);
	msg_free(&m);

	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, MSG_CTL_READY);
	assert_int_equal(m.hdr.len, 0);
	assert_null(m.data);
	msg_free(&m);

	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, MSG_CTL_STATUS);
	assert_string_equal(((struct msg_ctl_status *)m.data)->text, "serving");
	assert_int_equal(msg_check_len(&m, sizeof(st) + 1), -1);
	assert_int_equal(errno, EBADMSG);
	msg_free(&m);

	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, MSG_CFG_MODEL);
	assert_int_equal(m.hdr.len, sizeof(big));
	assert_memory_equal(m.data, big, sizeof(big));
	msg_free(&m);
	assert_int_equal(msgbuf_get(&p->b, &m), 0);
}

/*
 * The socket buffer fills: flush reports what remains, the receiver
 * drains, and every frame arrives whole and in order.
 */
static void
test_partial_writes(void **state)
{
	struct pair *p = *state;
	uint8_t buf[MSG_MAX_PAYLOAD];
	int sndbuf = 4096, i, r, got = 0, queued = 64, partial = 0;
	struct msg m;

	assert_int_equal(setsockopt(p->fd[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	                     sizeof(sndbuf)),
	    0);
	for (i = 0; i < queued; i++) {
		fill_pattern(buf, sizeof(buf), (unsigned)i);
		assert_int_equal(
		    msgbuf_compose(&p->a, MSG_CFG_MODEL, (uint32_t)i, -1, buf,
		        sizeof(buf) - (size_t)i),
		    0);
	}
	while (got < queued) {
		r = msgbuf_flush(&p->a);
		assert_int_not_equal(r, -1);
		if (r == 1)
			partial++;
		if (msgbuf_read(&p->b) == -1)
			assert_int_equal(errno, EAGAIN);
		while ((r = msgbuf_get(&p->b, &m)) == 1) {
			fill_pattern(buf, sizeof(buf), (unsigned)got);
			assert_int_equal(m.hdr.peerid, got);
			assert_int_equal(m.hdr.len, sizeof(buf) - (size_t)got);
			assert_memory_equal(m.data, buf, m.hdr.len);
			msg_free(&m);
			got++;
		}
		assert_int_equal(r, 0);
	}
	assert_true(partial > 0); /* the buffer really was full */
	assert_int_equal(msgbuf_pending(&p->a), 0);
}

/* Bytes that trickle in one at a time make exactly one message. */
static void
test_partial_reads(void **state)
{
	struct pair *p = *state;
	struct msg_cfg_done done = {.generation = 3, .n_models = 2};
	uint8_t wire[MSG_HDR_LEN + sizeof(done)];
	struct msg_hdr hdr = {MSG_CFG_DONE, sizeof(done), 5, 99};
	struct msg m;
	size_t i;

	memcpy(wire, &hdr, MSG_HDR_LEN);
	memcpy(wire + MSG_HDR_LEN, &done, sizeof(done));
	for (i = 0; i < sizeof(wire) - 1; i++) {
		assert_int_equal(msgbuf_feed(&p->b, wire + i, 1), 0);
		assert_int_equal(msgbuf_get(&p->b, &m), 0);
	}
	assert_int_equal(msgbuf_feed(&p->b, wire + i, 1), 0);
	assert_int_equal(msgbuf_get(&p->b, &m), 1);
	assert_int_equal(m.hdr.type, MSG_CFG_DONE);
	assert_int_equal(m.hdr.pid, 99);
	assert_int_equal(((struct msg_cfg_done *)m.data)->n_models, 2);
	msg_free(&m);
	/* The same over the socket, one byte per write. */
	for (i = 0; i < sizeof(wire); i++) {
		assert_int_equal(write(p->fd[0], wire + i, 1), 1);
		assert_int_equal(msgbuf_read(&p->b), 1);
		assert_int_equal(
		    msgbuf_get(&p->b, &m), i == sizeof(wire) - 1 ? 1 : 0);
	}
	msg_free(&m);
}

/* Identify a received fd by the bytes waiting in the pipe behind it. */
static char
pipe_mark(int fd)
{
	char c = 0;

	assert_int_equal(read(fd, &c, 1), 1);
	return c;
}

/*
 * Frames with and without fds, queued together and read in one go: each
 * fd reaches the frame it was sent with.
 */
static void
test_fd_passing(void **state)
{
	struct pair *p = *state;
	struct msg_peer peer = {PEER_ROUTER, 0};
	int pipes[3][2], i, flags;
	struct msg m;

	for (i = 0; i < 3; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		assert_int_equal(write(pipes[i][1], "ABC" + i, 1), 1);
	}
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CTL_READY, 0, -1, NULL, 0), 0);
	for (i = 0; i < 3; i++) {
		peer.instance = (uint32_t)i;
		assert_int_equal(msgbuf_compose(&p->a, MSG_PEER_FD, 0,
		                     pipes[i][0], &peer, sizeof(peer)),
		    0);
		close(pipes[i][0]); /* msgbuf holds its own copy */
		assert_int_equal(
		    msgbuf_compose(&p->a, MSG_CTL_READY, 0, -1, NULL, 0), 0);
	}
	assert_int_equal(msgbuf_flush(&p->a), 0);
	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.fd, -1);
	msg_free(&m);
	for (i = 0; i < 3; i++) {
		assert_int_equal(get_one(&p->b, &m), 1);
		assert_int_equal(m.hdr.type, MSG_PEER_FD);
		assert_int_not_equal(m.fd, -1);
		assert_int_equal(((struct msg_peer *)m.data)->instance, i);
		assert_int_equal(pipe_mark(m.fd), "ABC"[i]);
		flags = fcntl(m.fd, F_GETFD);
		assert_true(flags & FD_CLOEXEC);
		msg_free(&m);
		assert_int_equal(get_one(&p->b, &m), 1);
		assert_int_equal(m.hdr.type, MSG_CTL_READY);
		assert_int_equal(m.fd, -1);
		msg_free(&m);
	}
	for (i = 0; i < 3; i++)
		close(pipes[i][1]);
}

/* A length beyond the type's limit is refused before its payload. */
static void
test_oversized(void **state)
{
	struct pair *p = *state;
	struct msg_hdr hdr = {MSG_CTL_STATUS, MSG_MAX_PAYLOAD + 1, 0, 1};
	static uint8_t big[MSG_MAX_PAYLOAD + 1];
	struct msg m;

	assert_int_equal(msg_max_len(MSG_CTL_STATUS), MSG_MAX_PAYLOAD);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_CTL_STATUS, 0, -1, big, sizeof(big)), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(msgbuf_pending(&p->a), 0);
	assert_int_equal(msgbuf_feed(&p->b, &hdr, sizeof(hdr)), 0);
	assert_int_equal(msgbuf_get(&p->b, &m), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_bad_headers(void **state)
{
	struct pair *p = *state;
	struct msg_hdr bad[] = {
	    {MSG_NONE, 0, 0, 1}, {MSG_TYPE_MAX, 0, 0, 1}, {0x7fffffff, 0, 0, 1},
	    {MSG_CTL_READY | 0x40000000u, 0, 0, 1},
	    {MSG_CTL_READY | MSG_FLAG_FD, 0, 0, 1}, /* no fd came */
	};
	struct msgbuf mb;
	struct msg m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msgbuf_init(&mb, -1);
		assert_int_equal(msgbuf_feed(&mb, &bad[i], sizeof(bad[i])), 0);
		assert_int_equal(msgbuf_get(&mb, &m), -1);
		assert_int_equal(errno, EBADMSG);
		msgbuf_clear(&mb);
	}
	assert_int_equal(msgbuf_compose(&p->a, MSG_NONE, 0, -1, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_TYPE_MAX, 0, -1, NULL, 0), -1);
}

/* An fd sent with a frame that does not claim it is a protocol error. */
static void
test_stray_fd(void **state)
{
	struct pair *p = *state;
	struct msg_hdr hdr = {MSG_CTL_READY, 0, 0, 1};
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr msg;
	struct cmsghdr *cmsg;
	struct iovec iov = {&hdr, sizeof(hdr)};
	struct msg m;
	int fd = STDIN_FILENO;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	assert_int_equal(sendmsg(p->fd[0], &msg, 0), (ssize_t)sizeof(hdr));
	assert_int_equal(get_one(&p->b, &m), 1);
	assert_int_equal(m.fd, -1);
	msg_free(&m);
	assert_int_equal(msgbuf_get(&p->b, &m), -1);
	assert_int_equal(errno, EBADMSG);
}

/* A frame cut short by the peer's exit never becomes a message. */
static void
test_truncated_eof(void **state)
{
	struct pair *p = *state;
	struct msg_hdr hdr = {MSG_CTL_STATUS, 100, 0, 1};
	uint8_t half[50] = {0};
	struct msg m;

	assert_int_equal(write(p->fd[0], &hdr, sizeof(hdr)), sizeof(hdr));
	assert_int_equal(write(p->fd[0], half, sizeof(half)), sizeof(half));
	close(p->fd[0]);
	p->fd[0] = -1;
	assert_int_equal(msgbuf_read(&p->b), sizeof(hdr) + sizeof(half));
	assert_int_equal(msgbuf_get(&p->b, &m), 0);
	assert_int_equal(msgbuf_read(&p->b), 0); /* end of file */
	assert_int_equal(msgbuf_get(&p->b, &m), 0);
	assert_int_equal(msgbuf_recv(&p->b, &m, 1000), -1);
	assert_int_equal(errno, ECONNRESET);
}

static void
test_blocking_send_recv(void **state)
{
	struct pair *p = *state;
	struct msg_ctl_ping ping = {.seq = 1};
	struct msg m;

	assert_int_equal(msgbuf_read(&p->b), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(msgbuf_recv(&p->b, &m, 20), 0); /* timeout */
	assert_int_equal(
	    msgbuf_send(&p->a, MSG_CTL_PONG, 0, -1, &ping, sizeof(ping)), 0);
	assert_int_equal(msgbuf_recv(&p->b, &m, 1000), 1);
	assert_int_equal(m.hdr.type, MSG_CTL_PONG);
	msg_free(&m);
	/* A send to a closed peer fails without SIGPIPE. */
	close(p->fd[1]);
	p->fd[1] = -1;
	assert_int_equal(
	    msgbuf_send(&p->a, MSG_CTL_PONG, 0, -1, &ping, sizeof(ping)), -1);
	assert_int_equal(errno, EPIPE);
}

/* Queued frames and their fds are released by msgbuf_clear(). */
static void
test_clear_releases(void **state)
{
	struct pair *p = *state;
	struct msg_peer peer = {PEER_API, 1};
	struct stat st;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(
	    msgbuf_compose(&p->a, MSG_PEER_FD, 0, fds[0], &peer, sizeof(peer)),
	    0);
	close(fds[0]);
	msgbuf_clear(&p->a);
	assert_int_equal(msgbuf_pending(&p->a), 0);
	/* The write end sees no reader left: the dup was closed. */
	assert_int_equal(fstat(fds[1], &st), 0);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(fds[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(fds[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_partial_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_partial_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_passing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stray_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_truncated_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_blocking_send_recv, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_clear_releases, setup, teardown),
	};

	log_init(0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
