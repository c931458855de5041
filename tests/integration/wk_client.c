/*
 * wk_client: a command-line gRPC client for the worker tests
 * (tests/integration/worker_*.test): it talks to a backend process the
 * worker started, at the address the worker's install reply gave, with
 * the node's backend token from $WK_TOKEN.
 *
 *	wk_client health ADDR		wait (bounded) until Health answers
 *	wk_client predict ADDR PROMPT	print Predict's reply text
 *
 * The deadline of a call is $WK_TIMEOUT_MS (default 20000).  A failed
 * call prints "error KIND: MESSAGE" and exits 1; usage errors exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/common/bclient.h"
#include "proto/log.h"

static int
wk_fail(const struct bc_error *err)
{
	printf("error %s: %s\n", bc_strerror(err->kind), err->msg);
	return 1;
}

static int
wk_predict(const char *addr, const struct bc_opts *o, const char *prompt)
{
	Backend__PredictOptions req = BACKEND__PREDICT_OPTIONS__INIT;
	Backend__Reply *reply = NULL;
	struct bc_error err;

	req.prompt = (char *)(uintptr_t)prompt;
	if (bc_predict(addr, o, &req, &reply, &err) == -1)
		return wk_fail(&err);
	printf("%.*s\n", (int)reply->message.len,
	    (const char *)reply->message.data);
	bc_free(reply);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *t = getenv("WK_TIMEOUT_MS");
	struct bc_opts o = {0};
	struct bc_error err;
	int rc;

	log_init(0);
	log_procinit("wk_client");
	o.token = getenv("WK_TOKEN");
	o.timeout_ms = t != NULL ? atoll(t) : 20000;
	if (argc < 3) {
		fprintf(stderr, "usage: wk_client health ADDR | "
		                "predict ADDR PROMPT\n");
		return 2;
	}
	if (bc_init() == -1)
		return 1;
	if (strcmp(argv[1], "health") == 0) {
		o.wait_ready = 1;
		rc = bc_health(argv[2], &o, &err) == -1 ? wk_fail(&err) : 0;
	} else if (strcmp(argv[1], "predict") == 0 && argc == 4) {
		rc = wk_predict(argv[2], &o, argv[3]);
	} else {
		fprintf(stderr, "wk_client: unknown command %s\n", argv[1]);
		rc = 2;
	}
	bc_shutdown();
	return rc;
}
