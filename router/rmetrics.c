/*
 * The frontend's /metrics: one scrape shows the whole frontend.  The api
 * processes send their counters (MSG_METRICS_SNAP) about once a second;
 * the router sums them with its own routing metrics, keeps the counters
 * of api processes that went away (so totals never go backwards), and
 * sets the cluster gauges from its view at scrape time.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "router/router.h"

void
rm_init(void)
{
	if ((R.metrics = metrics_new()) == NULL ||
	    (R.retired = metrics_new()) == NULL ||
	    (R.scrape = metrics_new()) == NULL)
		fatalx("out of memory");
	(void)metrics_set(
	    R.metrics, MET_BUILD_INFO, METRICS_L("0.1.0", "frontend"), 1);
}

void
rm_api_snapshot(struct rlink *l, const void *data, size_t len)
{
	if (len != sizeof(struct metrics_snap))
		fatalx("bad MSG_METRICS_SNAP size %zu", len);
	if (l->snap == NULL && (l->snap = malloc(sizeof(*l->snap))) == NULL)
		return;
	memcpy(l->snap, data, len);
	if (!metrics_snap_valid(l->snap)) {
		log_warnx(
		    "api %u sent an invalid metrics snapshot", l->instance);
		free(l->snap);
		l->snap = NULL;
	}
}

void
rm_link_gone(struct rlink *l)
{
	if (l->snap != NULL)
		(void)metrics_merge(
		    R.retired, l->snap, METRICS_MERGE_NO_GAUGES);
	free(l->snap);
	l->snap = NULL;
}

/*
 * One node's memory as three states that add up to its total, the way the
 * Nodes page draws its bars: used (total - free), reserved (loads under
 * way, still inside free) and free (the rest).
 */
static void
rm_node_memory(struct metrics *m, const struct rt_node *n)
{
	static const char *kinds[RT_MEM_KINDS] = {"ram", "vram"};
	uint64_t total, avail, res;
	uint32_t k;

	for (k = 0; k < RT_MEM_KINDS; k++) {
		if ((total = n->total[k]) == 0)
			continue;
		avail = n->free[k] < total ? n->free[k] : total;
		res = n->reserved[k] < avail ? n->reserved[k] : avail;
		(void)metrics_set(m, MET_NODE_MEMORY,
		    METRICS_L(n->name, kinds[k], METRICS_MEM_USED),
		    (double)(total - avail));
		(void)metrics_set(m, MET_NODE_MEMORY,
		    METRICS_L(n->name, kinds[k], METRICS_MEM_RESERVED),
		    (double)res);
		(void)metrics_set(m, MET_NODE_MEMORY,
		    METRICS_L(n->name, kinds[k], METRICS_MEM_FREE),
		    (double)(avail - res));
	}
}

/*
 * The node gauges.  A healthy node that is suspect counts as suspect only
 * (the catalogue's promise: the statuses add up to the nodes known).
 */
static void
rm_nodes(struct metrics *m, uint64_t now)
{
	enum rt_node_status st;
	double by_status[4] = {0};
	double suspect = 0;
	uint32_t i, k;

	for (i = 0; i < R.view->nodes.n; i++) {
		struct rt_node *n = rt_view_node(R.view, i);

		if (n == NULL)
			continue;
		st = rt_nodestate_status(&n->state);
		if (st == RT_NODE_HEALTHY &&
		    rt_nodestate_suspect(&n->state, &R.view->health, now))
			suspect++;
		else
			by_status[st]++;
		(void)metrics_set(
		    m, MET_NODE_IN_FLIGHT, METRICS_L(n->name), n->inflight);
		(void)metrics_set(m, MET_HEARTBEAT_AGE, METRICS_L(n->name),
		    n->state.last_heartbeat
		        ? (now - n->state.last_heartbeat) / 1000.0
		        : -1);
		rm_node_memory(m, n);
	}
	for (k = 0; k < 4; k++)
		(void)metrics_set(m, MET_NODES,
		    METRICS_L(rt_node_status_name(k)), by_status[k]);
	(void)metrics_set(
	    m, MET_NODES, METRICS_L(METRICS_NODE_SUSPECT), suspect);
}

static void
rm_models(struct metrics *m)
{
	uint32_t i, k;

	for (i = 0; i < R.view->models.n; i++) {
		struct rt_model *md = rt_view_model(R.view, i);
		double st[4] = {0};

		if (md == NULL)
			continue;
		for (k = 0; k < md->replicas.n; k++)
			st[rt_view_replica(R.view, md->replicas.v[k])->state]++;
		for (k = 0; k < 4; k++)
			(void)metrics_set(m, MET_REPLICAS,
			    METRICS_L(md->name, rt_replica_state_name(k)),
			    st[k]);
		(void)metrics_set(m, MET_QUEUE_LENGTH, METRICS_L(md->name),
		    rt_admit_length(R.admit, i));
	}
}

void
rm_scrape(uint32_t owner, uint32_t peerid)
{
	struct metrics *m = R.scrape;
	size_t len;
	char *text;
	int i;

	metrics_reset(m);
	(void)metrics_merge_registry(m, R.metrics, 0);
	(void)metrics_merge_registry(m, R.retired, 0);
	for (i = 0; i < RT_MAX_LINKS; i++)
		if (R.links[i].used && R.links[i].snap != NULL)
			(void)metrics_merge(m, R.links[i].snap, 0);
	rm_nodes(m, r_now());
	rm_models(m);
	if ((text = metrics_render(m, &len)) == NULL) {
		rh_error(owner, peerid, 500, "internal_error", "out of memory");
		return;
	}
	rh_reply(owner, peerid, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}
