/*
 * Internal messages between localai processes: THE one enum of message types
 * and their fixed payload structs.
 *
 * Every message is a 16-byte header {type, len, peerid, pid} followed by
 * len bytes of payload, optionally with one file descriptor (SCM_RIGHTS).
 * A receiver checks the exact payload size of every type it accepts; an
 * unknown type or a bad size is a protocol bug and fatal for that
 * connection (msg_check_len()).  Payloads are at most MSG_MAX_PAYLOAD bytes
 * unless msg_max_len() says otherwise for a type.
 *
 * Structs here are plain data: fixed-size strings are NUL-terminated and a
 * receiver forces termination before use (MSG_TERMINATE).
 */
#ifndef LOCALAI_MSG_H
#define LOCALAI_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

#define MSG_HDR_LEN 16
#define MSG_MAX_PAYLOAD (16 * 1024)
#define MSG_MAX_LARGE (8 * 1024 * 1024) /* relayed HTTP bodies */

struct msg_hdr {
	uint32_t type; /* enum msg_type, | MSG_FLAG_FD on the wire */
	uint32_t len; /* payload bytes after the header */
	uint32_t peerid; /* request or child id, per type */
	uint32_t pid; /* sender's pid */
};

/*
 * Set in hdr.type on the wire when one fd travels with the frame (msgbuf
 * sets and strips it).  A stream socket may deliver the tail of one frame
 * and the head of the next in one recvmsg(); the flag says which frame
 * the fd belongs to, as OpenBSD's imsg does.
 */
#define MSG_FLAG_FD 0x80000000u

/*
 * The types whose payload may reach MSG_MAX_LARGE (relayed HTTP bodies):
 * a comma-separated list that starts with MSG_NONE (never valid on the
 * wire, so harmless).  Every other type is limited to MSG_MAX_PAYLOAD.
 */
#define MSG_LARGE_TYPES                                                        \
	MSG_NONE, MSG_HTTP_REQ, MSG_HTTP_RESP, MSG_BUS_PUB, MSG_BUS_REQ,       \
	    MSG_BUS_REPLY, MSG_BUS_MSG

enum msg_type {
	MSG_NONE = 0,

	/* Control: supervisor <-> every child. */
	MSG_CTL_READY, /* child: initialised and serving */
	MSG_CTL_PING, /* supervisor: are you alive? */
	MSG_CTL_PONG, /* child: yes (same seq) */
	MSG_CTL_STATUS, /* child: one line for systemd STATUS= */
	MSG_CTL_SHUTDOWN, /* supervisor: finish and exit 0 */
	MSG_CTL_VERBOSE, /* supervisor: new log verbosity */

	/* Configuration: supervisor -> child, on start and on SIGHUP. */
	MSG_CFG_MAIN, /* struct conf */
	MSG_CFG_MODEL, /* struct conf_model, one per model */
	MSG_CFG_DONE, /* struct msg_cfg_done: the set is complete */
	MSG_CFG_ACK, /* child: applied generation N */

	/* Supervisor -> router/agent: a socket to a peer process (fd). */
	MSG_PEER_FD, /* struct msg_peer */

	/* Worker: agent <-> supervisor, backend processes. */
	MSG_BE_START, /* struct msg_be_start */
	MSG_BE_STOP, /* struct msg_be_id */
	MSG_BE_STATE, /* struct msg_be_state */

	/* Data plane: api <-> router (peerid = the api's request slot). */
	MSG_PLACE, /* api: where do I send this? struct msg_place */
	MSG_PLACE_OK, /* router: this replica. struct msg_place_ok */
	MSG_PLACE_WAIT, /* router: queued / loading. msg_place_wait */
	MSG_PLACE_REJECT, /* router: give up. struct msg_place_reject */
	MSG_DONE, /* api: request ended. struct msg_done */
	MSG_REPLICA_FAIL, /* api: replica failed a call. msg_replica_fail */

	/* Node/admin HTTP API relayed by the api to the router (large). */
	MSG_HTTP_REQ, /* struct msg_http_req + body */
	MSG_HTTP_RESP, /* struct msg_http_resp + body */

	/* NATS through the frontend agent: router <-> agent (large). */
	MSG_BUS_PUB, /* router: publish. struct msg_bus + payload */
	MSG_BUS_REQ, /* router: request. struct msg_bus + payload */
	MSG_BUS_REPLY, /* agent: reply to MSG_BUS_REQ (same id) */
	MSG_BUS_MSG, /* agent: a message on a subscribed subject */
	MSG_BUS_STATE, /* agent: NATS link up/down. msg_bus_state */

	/* Metrics: api -> router, about once a second (proto/metrics.h). */
	MSG_METRICS_SNAP, /* struct metrics_snap (exactly 16 KiB) */

	MSG_TYPE_MAX
};

/* MSG_CTL_PING / MSG_CTL_PONG */
struct msg_ctl_ping {
	uint64_t seq;
};

/* MSG_CTL_STATUS */
struct msg_ctl_status {
	char text[240];
};

/* MSG_CTL_VERBOSE */
struct msg_ctl_verbose {
	int32_t verbose;
};

/* MSG_CFG_DONE / MSG_CFG_ACK */
struct msg_cfg_done {
	uint32_t generation;
	uint32_t n_models;
};

/* MSG_PEER_FD: which process the passed socket leads to. */
enum msg_peer_kind {
	PEER_API = 1,
	PEER_ROUTER,
	PEER_AGENT,
};

struct msg_peer {
	uint32_t kind; /* enum msg_peer_kind */
	uint32_t instance; /* api process index */
};

/* MSG_BE_START: run <run_path> --addr <addr> as backend process <id>. */
struct msg_be_start {
	char id[128]; /* model id (or backend name) */
	char backend[CONF_NAME_MAX];
	char run_path[512];
	char addr[128]; /* host:port or unix:path */
	char token[128]; /* LOCALAI_GRPC_AUTH_TOKEN */
	char workdir[256];
};

/* MSG_BE_STOP */
struct msg_be_id {
	char id[128];
};

/* Backend process states, as the supervisor's child state machine. */
enum msg_be_phase {
	BE_STARTING = 1, /* spawned, pid known */
	BE_EXITED, /* died; exit status or signal given */
	BE_BACKOFF, /* waiting next_retry_ms before respawn */
	BE_FAILED, /* crash loop or exit 78; retried every 300 s */
	BE_STOPPED, /* stopped on request; gone for good */
};

/* MSG_BE_STATE: supervisor -> agent on every transition. */
struct msg_be_state {
	char id[128];
	int32_t phase; /* enum msg_be_phase */
	int32_t pid;
	int32_t exit_status; /* -1 when killed by a signal */
	int32_t signal;
	uint32_t restarts;
	uint32_t next_retry_ms;
};

/* MSG_PLACE: the api asks for a replica for one request. */
struct msg_place {
	char request_id[64];
	char model[CONF_NAME_MAX];
	char endpoint[32]; /* chat, completions, embeddings, … */
	uint64_t prefix_hash; /* hash of the prompt's first bytes */
	uint32_t attempt; /* 0 first, then retries */
	uint32_t wait_ms; /* how long the api is willing to wait */
	char exclude_node[64]; /* retry: avoid this node */
};

/* MSG_PLACE_OK: send the request to this replica. */
struct msg_place_ok {
	char request_id[64];
	uint64_t replica_id;
	char node_id[64];
	char node_name[64];
	char address[128]; /* backend gRPC host:port */
	char http_address[128]; /* node's file endpoint */
	char token[128]; /* node token: gRPC Bearer metadata */
	char backend[CONF_NAME_MAX];
};

/* MSG_PLACE_WAIT: still waiting (queued or cold load in progress). */
struct msg_place_wait {
	char request_id[64];
	uint32_t queue_position;
	uint32_t progress_pct; /* of the cold load, 0–100 */
	char state[32]; /* "queued", "loading", "staging" */
};

/* MSG_PLACE_REJECT: answer the client with this status. */
struct msg_place_reject {
	char request_id[64];
	uint32_t http_status; /* 404, 429, 503 … */
	uint32_t retry_after_s; /* 0 = no Retry-After header */
	char code[48]; /* OpenAI error code */
	char message[256];
};

/* Outcome of one request, for MSG_DONE. */
enum msg_outcome {
	OUTCOME_OK = 1,
	OUTCOME_ERROR, /* backend answered with an error */
	OUTCOME_UNAVAILABLE, /* replica unreachable / died */
	OUTCOME_TIMEOUT,
	OUTCOME_CANCELLED, /* client went away */
};

/* MSG_DONE: exactly once per MSG_PLACE_OK. */
struct msg_done {
	char request_id[64];
	uint64_t replica_id;
	uint32_t outcome; /* enum msg_outcome */
	uint32_t prompt_tokens;
	uint32_t completion_tokens;
	uint32_t http_status;
	uint64_t ttft_us; /* time to first token, 0 if none */
	uint64_t duration_us;
};

/* MSG_REPLICA_FAIL: a call failed before the first token. */
struct msg_replica_fail {
	char request_id[64];
	uint64_t replica_id;
	char node_id[64];
	int32_t grpc_status;
	char reason[128];
};

/* MSG_HTTP_REQ: a node/admin API request; `body_len` bytes follow. */
struct msg_http_req {
	char method[8];
	char path[512]; /* with query string */
	char authorization[256]; /* the Authorization header */
	char request_id[64];
	char remote[64]; /* client address */
	uint32_t body_len;
};

/* MSG_HTTP_RESP: the answer; `body_len` bytes follow. */
struct msg_http_resp {
	uint32_t status;
	char content_type[64];
	uint32_t body_len;
};

/* MSG_BUS_*: a NATS message; `payload_len` bytes follow. */
struct msg_bus {
	uint64_t id; /* matches MSG_BUS_REQ and its reply */
	char subject[128];
	uint32_t timeout_ms; /* MSG_BUS_REQ only */
	int32_t status; /* MSG_BUS_REPLY: 0 or a NATS error */
	uint32_t payload_len;
};

/* MSG_BUS_STATE */
struct msg_bus_state {
	int32_t connected;
	char server[128];
};

/* Force NUL termination of a received fixed-size string field. */
#define MSG_TERMINATE(field) ((field)[sizeof(field) - 1] = '\0')

#endif
