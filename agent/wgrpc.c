/*
 * The worker agent's calls to its own backends, on the bclient library.
 */
#include <stdio.h>
#include <string.h>

#include "agent/wgrpc.h"
#include "backends/common/bclient.h"

static int
wk_grpc_result(int rc, const struct bc_error *e, char *err, size_t errlen)
{
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", bc_strerror(e->kind), e->msg);
	return rc;
}

/* Readiness probes wait for the channel to connect (bounded). */
int
wk_grpc_health(const char *addr, const char *token, int timeout_ms, char *err,
    size_t errlen)
{
	struct bc_opts o = {
	    .token = token, .timeout_ms = timeout_ms, .wait_ready = 1};
	struct bc_error e;

	return wk_grpc_result(bc_health(addr, &o, &e), &e, err, errlen);
}

int
wk_grpc_load(const char *addr, const char *token,
    const Backend__ModelOptions *opts, int timeout_ms, char *err, size_t errlen)
{
	struct bc_opts o = {.token = token, .timeout_ms = timeout_ms};
	struct bc_error e;

	return wk_grpc_result(
	    bc_load_model(addr, &o, opts, &e), &e, err, errlen);
}

int
wk_grpc_free(const char *addr, const char *token, int timeout_ms, char *err,
    size_t errlen)
{
	struct bc_opts o = {.token = token, .timeout_ms = timeout_ms};
	struct bc_error e;

	return wk_grpc_result(bc_free_model(addr, &o, &e), &e, err, errlen);
}

int
wk_grpc_in_flight(const char *addr, const char *token, int timeout_ms,
    uint32_t *in_flight, char *err, size_t errlen)
{
	struct bc_opts o = {.token = token, .timeout_ms = timeout_ms};
	Backend__StatusResponse *st = NULL;
	struct bc_error e;
	size_t i;

	*in_flight = 0;
	if (bc_status(addr, &o, &st, &e) == -1)
		return wk_grpc_result(-1, &e, err, errlen);
	for (i = 0; st->memory != NULL && i < st->memory->n_breakdown; i++)
		if (strcmp(st->memory->breakdown[i]->key, "in_flight") == 0)
			*in_flight = (uint32_t)st->memory->breakdown[i]->value;
	bc_free(st);
	return 0;
}

void
wk_grpc_forget(const char *addr)
{
	bc_forget(addr);
}
