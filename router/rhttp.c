/*
 * The node and admin HTTP API, served by the api processes and handled
 * here (MSG_HTTP_REQ -> MSG_HTTP_RESP): the router holds the registry and
 * the database, the api holds neither.
 *
 * Worker routes (LocalAI's), node token unless noted:
 *	POST /api/node/register            registration token
 *	POST /api/node/:id/heartbeat
 *	POST /api/node/:id/drain           (or admin key)
 *	POST /api/node/:id/deregister      (or admin key)
 *	GET  /api/node/:id/models          (or admin key)
 *	GET  /api/node/files/:model/:file  answered "sendfile": the api
 *	                                   streams the file with Range support
 *	GET  /api/gallery/index.json, /api/gallery/:package   likewise
 * Admin routes (admin key):
 *	GET /api/nodes, GET /api/nodes/:id, GET /api/nodes/:id/models,
 *	POST /api/nodes/:id/approve|drain|resume, DELETE /api/nodes/:id,
 *	GET /api/nodes/:id/backends, POST /api/nodes/:id/backends/install,
 *	POST /api/nodes/:id/backends/delete, POST /api/nodes/:id/models/unload,
 *	PUT /api/nodes/:id/labels, GET /api/events, GET /api/models
 * Errors: {"error":{"code","message","type":"node_error"}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "agent/bus.h"
#include "proto/hash.h"
#include "proto/log.h"
#include "router/rdb.h"
#include "router/rhttp.h"
#include "router/rsql.h"
#include "router/router.h"

void
rh_reply(uint32_t owner, uint32_t peerid, unsigned status,
    const char *content_type, const char *body, size_t len)
{
	struct msg_http_resp h;

	memset(&h, 0, sizeof(h));
	h.status = status;
	snprintf(h.content_type, sizeof(h.content_type), "%s", content_type);
	h.body_len = (uint32_t)len;
	r_send2(owner, MSG_HTTP_RESP, peerid, &h, sizeof(h), body, len);
}

void
rh_reply_json(uint32_t owner, uint32_t peerid, unsigned status, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	if (s == NULL) {
		rh_reply(owner, peerid, 500, "application/json", "{}", 2);
	} else {
		rh_reply(
		    owner, peerid, status, "application/json", s, strlen(s));
		free(s);
	}
	json_decref(o);
}

void
rh_error(uint32_t owner, uint32_t peerid, unsigned status, const char *code,
    const char *msg)
{
	rh_reply_json(owner, peerid, status,
	    json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message",
	        msg, "type", "node_error"));
}

/* SHA-256 of s as hex. */
void
rh_sha256_hex(const char *s, char hex[65])
{
	if (hash_sha256(s, strlen(s), hex) == -1)
		hex[0] = '\0'; /* matches no stored hash */
}

/* The bearer token of an Authorization header, or NULL. */
static const char *
rh_bearer(const struct msg_http_req *h)
{
	if (strncmp(h->authorization, "Bearer ", 7) != 0)
		return NULL;
	return h->authorization + 7;
}

static int
rh_ct_equal(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

int
rh_is_admin(const struct msg_http_req *h)
{
	const char *t = rh_bearer(h);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (t == NULL || !R.cf.frontend.have_admin_key)
		return 0;
	EVP_Digest(t, strlen(t), md, &n, EVP_sha256(), NULL);
	return CRYPTO_memcmp(md, R.cf.frontend.admin_key, 32) == 0;
}

int
rh_is_registrar(const struct msg_http_req *h)
{
	const char *t = rh_bearer(h);
	const char *want = R.cf.frontend.registration_token;

	if (want[0] == '\0')
		return R.cf.insecure; /* refused at start otherwise */
	return t != NULL && rh_ct_equal(t, want);
}

/* Does the bearer token belong to node `slot`? */
int
rh_is_node(const struct msg_http_req *h, uint32_t slot)
{
	const char *t = rh_bearer(h);
	struct rnode *rn;
	char hex[65];

	if (t == NULL || slot == RT_NONE || (rn = rn_get(slot)) == NULL ||
	    rn->token_hash[0] == '\0')
		return 0;
	rh_sha256_hex(t, hex);
	return rh_ct_equal(hex, rn->token_hash);
}

/*
 * GET /readyz: the frontend can serve inference when at least one node is
 * healthy and routable (standalone: its local worker has registered).
 */
static void
rh_readyz(uint32_t owner, uint32_t peerid)
{
	uint64_t now = r_now();
	uint32_t i, n = 0;

	for (i = 0; i < R.view->nodes.n; i++) {
		struct rt_node *nd = rt_view_node(R.view, i);

		if (nd != NULL &&
		    rt_nodestate_routable(&nd->state, &R.view->health, now))
			n++;
	}
	if (n > 0)
		rh_reply_json(owner, peerid, 200,
		    json_pack("{s:s,s:i,s:b}", "status", "ready",
		        "healthy_nodes", (int)n, "database", rdb_up()));
	else
		rh_reply_json(owner, peerid, 503,
		    json_pack("{s:s,s:s}", "status", "not ready", "reason",
		        "no healthy node"));
}

/* Does the bearer token belong to any node (file and gallery fetches)? */
int
rh_any_node(const struct msg_http_req *h)
{
	const char *t = rh_bearer(h);
	struct rnode *rn;
	char hex[65];
	uint32_t i;
	int found = 0;

	if (t == NULL)
		return 0;
	rh_sha256_hex(t, hex);
	for (i = 0; i < R.view->nodes.n; i++)
		if (rt_view_node(R.view, i) != NULL &&
		    (rn = rn_get(i)) != NULL && rn->token_hash[0] != '\0')
			found |= rh_ct_equal(hex, rn->token_hash);
	return found;
}

/* Split "/api/nodes/ID/rest" into ID and rest; 0 or -1. */
int
rh_split(const char *path, const char *prefix, char *id, size_t idlen,
    const char **rest)
{
	size_t n = strlen(prefix);
	const char *p, *slash;

	if (strncmp(path, prefix, n) != 0)
		return -1;
	p = path + n;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (slash == p || (size_t)(slash - p) >= idlen)
		return -1;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	*rest = slash;
	return 0;
}

void
rh_request(uint32_t owner, uint32_t peerid, const struct msg_http_req *h,
    const char *body, size_t len)
{
	struct rh_req q;
	char path[512], *qs;

	memset(&q, 0, sizeof(q));
	q.owner = owner;
	q.peerid = peerid;
	q.h = h;
	q.body = body;
	q.len = len;
	snprintf(path, sizeof(path), "%s", h->path);
	if ((qs = strchr(path, '?')) != NULL) {
		*qs++ = '\0';
		q.query = qs;
	}
	q.path = path;
	if (strcmp(path, "/metrics") == 0) {
		rm_scrape(owner, peerid);
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		rh_readyz(owner, peerid);
		return;
	}
	if (strncmp(path, "/api/nodes", 10) == 0 ||
	    strcmp(path, "/api/events") == 0 ||
	    strcmp(path, "/api/models") == 0 ||
	    strncmp(path, "/api/models/", 12) == 0 ||
	    strcmp(path, "/api/cluster") == 0) {
		if (!rh_is_admin(h)) {
			rh_error(owner, peerid, 401, "unauthorized",
			    "an admin key is required");
			return;
		}
		rh_admin(&q);
		return;
	}
	if (strncmp(path, "/api/node/", 10) == 0 ||
	    strncmp(path, "/api/gallery/", 13) == 0) {
		rh_node(&q);
		return;
	}
	rh_error(owner, peerid, 404, "not_found", "no such route");
}
