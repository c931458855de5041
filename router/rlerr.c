/*
 * The last failed cold load of each model (router/rlerr.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/rlerr.h"
#include "router/router.h"

static struct rp_lerr *lerrs;

static struct rp_lerr *
lerr_find(const char *model)
{
	struct rp_lerr *e;

	for (e = lerrs; e != NULL; e = e->next)
		if (strcmp(e->model, model) == 0)
			return e;
	return NULL;
}

void
rp_lerr_set(const char *model, const char *msg, const char *node_id,
    const char *node_name, const char *why)
{
	struct rp_lerr *e = lerr_find(model);

	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return;
		snprintf(e->model, sizeof(e->model), "%s", model);
		e->next = lerrs;
		lerrs = e;
	}
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	snprintf(e->why, sizeof(e->why), "%s", why);
	snprintf(e->node_id, sizeof(e->node_id), "%s", node_id);
	snprintf(e->node_name, sizeof(e->node_name), "%s", node_name);
	e->at = r_now();
}

void
rp_lerr_clear(const char *model)
{
	struct rp_lerr **pp, *e;

	for (pp = &lerrs; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->model, model) == 0) {
			*pp = e->next;
			free(e);
			return;
		}
}

/* The model's last load failure, or NULL when none is recent. */
struct rp_lerr *
rp_lerr_recent(uint32_t model)
{
	struct rp_lerr *e = lerr_find(rt_view_model(R.view, model)->name);

	return e != NULL && r_now() - e->at < RP_LERR_KEEP_MS ? e : NULL;
}

const char *
rp_lerr_msg(uint32_t model)
{
	struct rp_lerr *e = rp_lerr_recent(model);

	return e != NULL ? e->msg : NULL;
}
