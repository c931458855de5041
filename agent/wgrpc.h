/*
 * The worker agent's calls to its own backend processes (over loopback,
 * with the node's backend token), through the shared gRPC client library.
 */
#ifndef LOCALAI_WGRPC_H
#define LOCALAI_WGRPC_H

#include <stddef.h>
#include <stdint.h>

#include "backend.pb-c.h"

int wk_grpc_health(const char *addr, const char *token, int timeout_ms,
    char *err, size_t errlen);
int wk_grpc_load(const char *addr, const char *token,
    const Backend__ModelOptions *opts, int timeout_ms, char *err,
    size_t errlen);
int wk_grpc_free(const char *addr, const char *token, int timeout_ms, char *err,
    size_t errlen);
/* Status: the "in_flight" entry of its memory breakdown (calls running
 * or queued in the backend); 0 when the backend does not report it. */
int wk_grpc_in_flight(const char *addr, const char *token, int timeout_ms,
    uint32_t *in_flight, char *err, size_t errlen);
/* Close our cached connection to addr: a backend shutting down waits
 * (up to a second) for its clients to hang up. */
void wk_grpc_forget(const char *addr);

#endif
