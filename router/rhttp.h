/*
 * Internals of the router's HTTP API handling (rhttp*.c).
 */
#ifndef LOCALAI_RHTTP_H
#define LOCALAI_RHTTP_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

struct rh_req {
	uint32_t owner;
	uint32_t peerid;
	const struct msg_http_req *h;
	const char *path; /* without the query string */
	const char *query;
	const char *body;
	size_t len;
};

int rh_is_admin(const struct msg_http_req *h);
int rh_is_registrar(const struct msg_http_req *h);
int rh_is_node(const struct msg_http_req *h, uint32_t slot);
int rh_split(const char *path, const char *prefix, char *id, size_t idlen,
    const char **rest);
void rh_sha256_hex(const char *s, char hex[65]);

int rh_any_node(const struct msg_http_req *h);
void rh_node_status(struct rh_req *q, uint32_t slot, const char *action);

#include <jansson.h>
json_t *rh_node_json(uint32_t slot);
json_t *rh_node_models(uint32_t slot);

void rh_node(struct rh_req *q); /* rhttp_node.c */
void rh_admin(struct rh_req *q); /* rhttp_admin.c */
const char *rh_labels_invalid(json_t *labels);

#endif
