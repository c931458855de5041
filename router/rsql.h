/*
 * The router's SQL, in one place, against db/migrations.
 *
 * RSQL_NODE_COLUMNS order (rnodes.c reads by index):
 *  0 id, 1 name, 2 node_type, 3 address, 4 http_address, 5 status,
 *  6 labels (json text), 7 total_ram, 8 available_ram, 9 total_vram,
 * 10 max_concurrency, 11 token_hash, 12 gpu_vendor, 13 approved,
 * 14 draining, 15 heartbeat_interval_ms, 16 backend_token, 17 created_at,
 * 18 backends (json array text), 19 available_vram, 20 last_heartbeat
 */
#ifndef LOCALAI_RSQL_H
#define LOCALAI_RSQL_H

#include <libpq-fe.h>

#include "router/rdb.h"

#define RSQL_NODE_COLUMNS                                                      \
	"n.id, n.name, n.node_type, n.address, n.http_address, n.status, "     \
	"n.labels::text, n.total_ram, n.available_ram, n.total_vram, "         \
	"n.max_concurrency, n.token_hash, n.gpu_vendor, n.approved, "          \
	"n.draining, n.heartbeat_interval_ms, n.backend_token, "               \
	"to_char(n.created_at AT TIME ZONE 'UTC', "                            \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "                                  \
	"COALESCE((SELECT json_agg(b.name ORDER BY b.name) "                   \
	"FROM node_backends b WHERE b.node_id = n.id), '[]')::text, "          \
	"n.available_vram, "                                                   \
	"COALESCE(to_char(n.last_heartbeat AT TIME ZONE 'UTC', "               \
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

#define RSQL_NODE_SELECT_ALL                                                   \
	"SELECT " RSQL_NODE_COLUMNS " FROM nodes n ORDER BY n.name"
#define RSQL_NODE_SELECT_ONE                                                   \
	"SELECT " RSQL_NODE_COLUMNS " FROM nodes n WHERE n.id = $1"

#define RSQL_REPLICA_SELECT_ALL                                                \
	"SELECT model, node_id, address, state FROM replicas"
#define RSQL_REPLICA_SELECT_NODE                                               \
	"SELECT model, node_id, address, state FROM replicas WHERE node_id = " \
	"$1"

/* $1 id, $2 status */
#define RSQL_NODE_SET_STATUS                                                   \
	"UPDATE nodes SET status = $2, updated_at = now() WHERE id = $1"
#define RSQL_REPLICA_DELETE_NODE "DELETE FROM replicas WHERE node_id = $1"

/* $1 kind, $2 node_id, $3 model, $4 actor, $5 detail json */
#define RSQL_EVENT_INSERT                                                      \
	"INSERT INTO events (kind, node_id, model, actor, detail) "            \
	"VALUES ($1, $2, $3, $4, $5::jsonb)"

/* $1 model: a job left in progress by a frontend that died (we hold the
 * model's load lock, so no live frontend is loading it). */
#define RSQL_LOADJOB_ABANDON                                                   \
	"UPDATE load_jobs SET state = 'failed', finished_at = now(), "         \
	"error = 'abandoned: its frontend stopped' WHERE model = $1 AND "      \
	"state IN ('pending', 'staging', 'loading')"
/* $1 model, $2 node_id, $3 owner -> id */
#define RSQL_LOADJOB_INSERT                                                    \
	"INSERT INTO load_jobs (model, node_id, owner, state, started_at) "    \
	"VALUES ($1, $2, $3, 'loading', now()) RETURNING id"
/* $1 id, $2 state, $3 error */
#define RSQL_LOADJOB_FINISH                                                    \
	"UPDATE load_jobs SET state = CASE WHEN $2 = 'ready' THEN 'done' "     \
	"ELSE 'failed' END, progress = CASE WHEN $2 = 'ready' THEN 1 "         \
	"ELSE progress END, error = NULLIF($3, ''), finished_at = now() "      \
	"WHERE id = $1::bigint"
/* $1 model, $2 node_id */
#define RSQL_REPLICA_UPSERT_LOADING                                            \
	"INSERT INTO replicas (model, node_id, state) VALUES ($1, $2, "        \
	"'loading') ON CONFLICT (model, node_id, replica_index) DO UPDATE "    \
	"SET "                                                                 \
	"state = 'loading', error = NULL, updated_at = now()"
/* $1 model, $2 node_id, $3 state, $4 error, $5 address ('': unchanged) */
#define RSQL_REPLICA_SET_STATE                                                 \
	"UPDATE replicas SET state = $3, error = NULLIF($4, ''), "             \
	"address = COALESCE(NULLIF($5, ''), address), "                        \
	"updated_at = now() WHERE model = $1 AND node_id = $2"

/* Apply db/migrations (embedded in the binary) under the migration lock. */
int rsql_migrate(const char *url, char *err, size_t errlen);
/* SHA-256 of a file as hex; 0 or -1.  The cached variant returns "" when
 * it has not been computed yet (the database thread computes it). */
int rsql_sha256_file(const char *path, char hex[65]);
void rsql_sha256_cached(const char *path, char hex[65]);
void rsql_sha256_remember(const char *path, const char hex[65]);

#endif

/* Registration: $1 id, $2 name, $3 node_type, $4 address, $5 http_address,
 * $6 labels, $7 total_ram, $8 available_ram, $9 total_vram,
 * $10 available_vram, $11 max_concurrency, $12 token_hash, $13 gpu_vendor,
 * $14 auto-approve, $15 backend_token, $16 heartbeat_interval_ms.
 * A known name keeps its id and its approval: a pending node stays
 * pending (LocalAI's approval bypass cannot happen).  -> id, existed */
#define RSQL_NODE_REGISTER                                                     \
	"INSERT INTO nodes (id, name, node_type, address, http_address, "      \
	"status, labels, total_ram, available_ram, total_vram, "               \
	"available_vram, max_concurrency, token_hash, gpu_vendor, approved, "  \
	"backend_token, heartbeat_interval_ms, draining, last_heartbeat) "     \
	"VALUES ($1, $2, $3, $4, $5, CASE WHEN $14::boolean THEN 'healthy' "   \
	"ELSE 'pending' END, $6::jsonb, $7::bigint, $8::bigint, $9::bigint, "  \
	"$10::bigint, $11::integer, $12, $13, $14::boolean, $15, "             \
	"$16::integer, false, now()) "                                         \
	"ON CONFLICT (name) DO UPDATE SET node_type = EXCLUDED.node_type, "    \
	"address = EXCLUDED.address, http_address = EXCLUDED.http_address, "   \
	"labels = EXCLUDED.labels, total_ram = EXCLUDED.total_ram, "           \
	"available_ram = EXCLUDED.available_ram, "                             \
	"total_vram = EXCLUDED.total_vram, "                                   \
	"available_vram = EXCLUDED.available_vram, "                           \
	"max_concurrency = EXCLUDED.max_concurrency, "                         \
	"token_hash = EXCLUDED.token_hash, gpu_vendor = EXCLUDED.gpu_vendor, " \
	"backend_token = EXCLUDED.backend_token, "                             \
	"heartbeat_interval_ms = EXCLUDED.heartbeat_interval_ms, "             \
	"last_heartbeat = now(), updated_at = now(), "                         \
	"status = CASE WHEN NOT nodes.approved THEN 'pending' "                \
	"WHEN nodes.draining THEN 'draining' ELSE 'healthy' END "              \
	"RETURNING id, (xmax <> 0) AS existed"
#define RSQL_BACKENDS_CLEAR "DELETE FROM node_backends WHERE node_id = $1"
#define RSQL_BACKEND_ADD                                                       \
	"INSERT INTO node_backends (node_id, name) VALUES ($1, $2) "           \
	"ON CONFLICT DO NOTHING"
/* $1 id, $2 available_ram, $3 available_vram */
#define RSQL_NODE_HEARTBEAT                                                    \
	"UPDATE nodes SET last_heartbeat = now(), available_ram = "            \
	"$2::bigint, "                                                         \
	"available_vram = $3::bigint WHERE id = $1"
/* Operator and worker status changes: $1 id -> status */
#define RSQL_NODE_DRAIN                                                        \
	"UPDATE nodes SET draining = true, updated_at = now(), status = "      \
	"CASE WHEN NOT approved THEN 'pending' WHEN status = 'offline' THEN "  \
	"'offline' ELSE 'draining' END WHERE id = $1 RETURNING status"
#define RSQL_NODE_RESUME                                                       \
	"UPDATE nodes SET draining = false, updated_at = now(), status = "     \
	"CASE WHEN NOT approved THEN 'pending' WHEN status = 'offline' THEN "  \
	"'offline' ELSE 'healthy' END WHERE id = $1 RETURNING status"
#define RSQL_NODE_APPROVE                                                      \
	"UPDATE nodes SET approved = true, updated_at = now(), status = "      \
	"CASE WHEN status = 'offline' THEN 'offline' WHEN draining THEN "      \
	"'draining' ELSE 'healthy' END WHERE id = $1 RETURNING status"
/* A deregistration ends the worker's own shutdown drain too: the node
 * comes back healthy when it registers again. */
#define RSQL_NODE_DEREGISTER                                                   \
	"UPDATE nodes SET updated_at = now(), draining = false, "              \
	"status = CASE WHEN NOT approved "                                     \
	"THEN 'pending' ELSE 'offline' END WHERE id = $1 RETURNING status"
#define RSQL_NODE_DELETE "DELETE FROM nodes WHERE id = $1 RETURNING 'removed'"
/* $1 id, $2 labels json */
#define RSQL_NODE_SET_LABELS                                                   \
	"UPDATE nodes SET labels = $2::jsonb, updated_at = now() "             \
	"WHERE id = $1 RETURNING id"
/* $1 limit */
#define RSQL_EVENTS_LATEST                                                     \
	"SELECT id, to_char(at AT TIME ZONE 'UTC', "                           \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), kind, COALESCE(node_id, ''), "  \
	"COALESCE(model, ''), COALESCE(actor, ''), COALESCE(detail::text, "    \
	"'{}') FROM events ORDER BY id DESC LIMIT $1::integer"
