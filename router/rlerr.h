#ifndef LOCALAI_RLERR_H
#define LOCALAI_RLERR_H

#include <stdint.h>

#include "router/view.h"
#include "supervisor/config.h"

/*
 * The last failed cold load of each model, until one of its replicas is
 * ready or RP_LERR_KEEP_MS passed: a request that finds no node to try
 * is told why the model failed to load (the backend's words), not only
 * that no node can run it.  Few entries (models that fail), so a list.
 */
#define RP_LERR_KEEP_MS (5 * 60 * 1000)

struct rp_lerr {
	char model[CONF_NAME_MAX];
	char msg[400]; /* what requests are told */
	char why[256]; /* the backend's (or worker's) own words */
	char node_id[RT_ID_MAX];
	char node_name[RT_NAME_MAX];
	uint64_t at; /* r_now() */
	struct rp_lerr *next;
};

void rp_lerr_set(const char *model, const char *msg, const char *node_id,
    const char *node_name, const char *why);
void rp_lerr_clear(const char *model);
/* The model's last load failure, or NULL when none is recent. */
struct rp_lerr *rp_lerr_recent(uint32_t model);
/* What requests are told of it, or NULL. */
const char *rp_lerr_msg(uint32_t model);

#endif
