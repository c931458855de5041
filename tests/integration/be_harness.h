/*
 * Harness of the backend conformance tests (be_conform.c): start a
 * fakebackend child on a Unix socket or TCP, wait for it, stop it and check
 * its exit status, read its stream events, count its sockets.
 */
#ifndef LOCALAI_BE_HARNESS_H
#define LOCALAI_BE_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "backends/common/bclient.h"

extern const char *fakebin; /* path of the fakebackend binary */
extern int failures; /* failed checks so far */
extern const struct bc_opts opts5s; /* no token, 5 s deadline */

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__,          \
			    __LINE__, #cond);                                  \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		}                                                              \
	} while (0)

/* A fakebackend child. */
struct srv {
	pid_t pid;
	char dir[64];
	char addr[300];
	char events[128];
	char log[128];
};

int64_t now_ms(void);
void sleep_ms(int ms);
/* posix_spawn argv with extra "K=V" env; stderr to s->log. */
int srv_spawn(struct srv *s, char **argv, char *const *env);
/*
 * Start a fakebackend (tcp 0: unix:DIR/be.sock, 1: 127.0.0.1:0) with extra
 * env and args; 0 once Health answers.
 */
int srv_start(struct srv *s, int tcp, char *const *env, char *const *args);
/* The child's wait status within ms, or -1 if still running. */
int srv_wait(struct srv *s, int ms);
/* SIGTERM; check it exits 0 within ms; remove its directory. */
void srv_stop(struct srv *s, int ms);
/* N of the last "stream WHAT N" event within wait_ms, or -1. */
int srv_event(const struct srv *s, const char *what, int wait_ms);
/* Does the child's log contain text, within wait_ms?  1 or 0. */
int srv_logged(const struct srv *s, const char *text, int wait_ms);
/* Sockets the child holds (listener + connections). */
int srv_sockets(const struct srv *s);
/* LoadModel "fake-model" with these Options strings. */
int load(
    const char *addr, const char **options, size_t n, struct bc_error *err);

#endif
