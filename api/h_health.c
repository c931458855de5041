/*
 * GET /healthz: the api process is alive and serving.
 * GET /readyz: it can place requests, i.e. its router link is up.  (The
 * router itself answers PLACE with 503 when no node can take a model;
 * readiness here is about this frontend process, so a load balancer
 * stops sending to a frontend whose router is down or restarting.)
 */
#include <string.h>

#include "api/api.h"

void
api_h_healthz(struct api_req *r)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	api_reply_data(r, 200, "application/json", ok, sizeof(ok) - 1);
}

void
api_h_readyz(struct api_req *r)
{
	static const char ready[] = "{\"status\":\"ready\"}";
	static const char down[] = "{\"status\":\"not ready\","
	                           "\"reason\":\"the router is unavailable\"}";
	static const char stopping[] = "{\"status\":\"not ready\","
	                               "\"reason\":\"shutting down\"}";

	if (api_shutting_down()) {
		api_reply_data(
		    r, 503, "application/json", stopping, sizeof(stopping) - 1);
		r->reply.retry_after = 1;
	} else if (!api_rlink_up()) {
		api_reply_data(
		    r, 503, "application/json", down, sizeof(down) - 1);
		r->reply.retry_after = 1;
	} else {
		/* The router knows the cluster: ready means a healthy node. */
		(void)ready;
		api_h_relay(r);
	}
}
