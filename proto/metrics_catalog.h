/*
 * The catalogue of every Prometheus metric localai exposes: names, help
 * text, label keys, histogram buckets and the cardinality bound of each.
 * Code updates metrics by constant (MET_REQUESTS_TOTAL), never by name, so
 * a metric cannot be misspelt and docs/operations.md can list them all.
 *
 * Who updates what:
 *	api	  requests, durations, time to first token, tokens, in-flight,
 *		  retries, failovers (sent to the router as snapshots)
 *	router	  queue length, placement, cold loads, evictions and the
 *		  cluster gauges (nodes, memory, replicas, heartbeats)
 *	worker	  backend restarts, crash loops, installs, file fetches,
 *		  per-replica in-flight, replicas by state (the worker's own
 *		  /metrics; gauges read from its replica table at scrape)
 *
 * Label values come from bounded sets: configured model names, node
 * names, and the fixed values below (METRICS_ENDPOINT_*, …).  Never a
 * request id.  Beyond max_series label combinations, further ones are
 * counted in one overflow series whose every label is METRICS_OVERFLOW.
 *
 * The table itself is instantiated once, in proto/metrics.c, which
 * defines METRICS_CATALOG_TABLE before including this header.
 */
#ifndef LOCALAI_METRICS_CATALOG_H
#define LOCALAI_METRICS_CATALOG_H

#include <stdint.h>

#define METRICS_MAX_LABELS 3 /* label keys per metric */
#define METRICS_MAX_BOUNDS 16 /* histogram bounds, +Inf not counted */
#define METRICS_OVERFLOW "_other"
/* The model label of requests for a model that is not configured. */
#define METRICS_MODEL_UNKNOWN "_unknown"

enum metric_type {
	METRIC_COUNTER = 1,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

enum metric_id {
	/* Requests (api processes, summed by the router). */
	MET_REQUESTS_TOTAL,
	MET_REQUEST_DURATION,
	MET_TIME_TO_FIRST_TOKEN,
	MET_TOKENS_GENERATED,
	MET_REQUESTS_IN_FLIGHT,
	MET_RETRIES,
	MET_FAILOVERS,
	/* Routing (router). */
	MET_QUEUE_LENGTH,
	MET_PLACEMENT_DURATION,
	MET_COLD_LOADS,
	MET_LOAD_DURATION,
	MET_EVICTIONS,
	/* Cluster (router, set from its view at scrape time). */
	MET_NODES,
	MET_NODE_IN_FLIGHT,
	MET_NODE_MEMORY,
	MET_REPLICAS,
	MET_HEARTBEAT_AGE,
	/* Worker (the worker's own /metrics). */
	MET_BACKEND_RESTARTS,
	MET_BACKEND_CRASH_LOOPS,
	MET_BACKEND_INSTALL_DURATION,
	MET_FILE_FETCH_BYTES,
	MET_REPLICA_IN_FLIGHT,
	MET_WORKER_REPLICAS,
	/* Every process. */
	MET_BUILD_INFO,
	METRIC_COUNT
};

struct metric_def {
	const char *name;
	enum metric_type type;
	const char *help;
	uint32_t nlabels;
	const char *labels[METRICS_MAX_LABELS];
	uint32_t nbounds; /* histograms: upper bounds, ascending */
	const double *bounds;
	uint32_t max_series; /* label combinations kept, then overflow */
};

/* Values of the `endpoint` label of localai_requests_total. */
#define METRICS_ENDPOINT_CHAT "chat"
#define METRICS_ENDPOINT_COMPLETIONS "completions"
#define METRICS_ENDPOINT_EMBEDDINGS "embeddings"
#define METRICS_ENDPOINT_SPEECH "speech"
#define METRICS_ENDPOINT_TRANSCRIPTIONS "transcriptions"
#define METRICS_ENDPOINT_MODELS "models"
#define METRICS_ENDPOINT_OTHER "other"

/* Values of the `reason` label of localai_retries_total. */
#define METRICS_RETRY_CONNECT "connect" /* connection refused */
#define METRICS_RETRY_UNAVAILABLE "unavailable" /* gRPC UNAVAILABLE */
#define METRICS_RETRY_TIMEOUT "timeout" /* deadline exceeded */
#define METRICS_RETRY_LOADING "loading" /* replica not ready */
#define METRICS_RETRY_OTHER "other"

/* Values of the `outcome` label of localai_cold_loads_total. */
#define METRICS_LOAD_OK "ok"
#define METRICS_LOAD_FAILED "failed"
#define METRICS_LOAD_TIMEOUT "timeout"
#define METRICS_LOAD_CANCELLED "cancelled"

/* Values of the `status` label of localai_nodes (suspect nodes count
 * once, as suspect, not also as healthy). */
#define METRICS_NODE_HEALTHY "healthy"
#define METRICS_NODE_SUSPECT "suspect"
#define METRICS_NODE_DRAINING "draining"
#define METRICS_NODE_PENDING "pending"
#define METRICS_NODE_OFFLINE "offline"

/* `kind` and `state` of localai_node_memory_bytes: used + reserved + free
 * = total, so a sum over state gives the node's memory. */
#define METRICS_MEM_RAM "ram"
#define METRICS_MEM_VRAM "vram"
#define METRICS_MEM_USED "used"
#define METRICS_MEM_RESERVED "reserved"
#define METRICS_MEM_FREE "free"

/* `state` of localai_replicas. */
#define METRICS_REPLICA_LOADING "loading"
#define METRICS_REPLICA_READY "ready"
#define METRICS_REPLICA_FAILED "failed"
#define METRICS_REPLICA_STOPPING "stopping"

#ifdef METRICS_CATALOG_TABLE

/* Whole requests: from 10 ms (an embedding) to 5 min (a long generation). */
static const double metrics_bounds_request[] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
/* Time to first token: prompt processing plus any queueing. */
static const double metrics_bounds_ttft[] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
/* Placement is in-memory work: microseconds unless it waits. */
static const double metrics_bounds_placement[] = {0.00001, 0.000025, 0.00005,
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
/* Cold loads and backend installs: seconds to tens of minutes. */
static const double metrics_bounds_load[] = {
    0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};

#define METRICS_COUNT_OF(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static const struct metric_def metric_defs[METRIC_COUNT] = {
    [MET_REQUESTS_TOTAL] =
        {
            .name = "localai_requests_total",
            .type = METRIC_COUNTER,
            .help = "Requests answered, by model, endpoint and HTTP status "
                    "code.",
            .nlabels = 3,
            .labels = {"model", "endpoint", "code"},
            .max_series = 1024,
        },
    [MET_REQUEST_DURATION] =
        {
            .name = "localai_request_duration_seconds",
            .type = METRIC_HISTOGRAM,
            .help = "Time from request received to last byte sent, by model.",
            .nlabels = 1,
            .labels = {"model"},
            .nbounds = METRICS_COUNT_OF(metrics_bounds_request),
            .bounds = metrics_bounds_request,
            .max_series = 64,
        },
    [MET_TIME_TO_FIRST_TOKEN] =
        {
            .name = "localai_time_to_first_token_seconds",
            .type = METRIC_HISTOGRAM,
            .help = "Time from request received to the first generated token, "
                    "by model (streaming and not).",
            .nlabels = 1,
            .labels = {"model"},
            .nbounds = METRICS_COUNT_OF(metrics_bounds_ttft),
            .bounds = metrics_bounds_ttft,
            .max_series = 64,
        },
    [MET_TOKENS_GENERATED] =
        {
            .name = "localai_tokens_generated_total",
            .type = METRIC_COUNTER,
            .help = "Tokens generated, by model.",
            .nlabels = 1,
            .labels = {"model"},
            .max_series = 256,
        },
    [MET_REQUESTS_IN_FLIGHT] =
        {
            .name = "localai_requests_in_flight",
            .type = METRIC_GAUGE,
            .help = "Requests being answered now, by model.",
            .nlabels = 1,
            .labels = {"model"},
            .max_series = 256,
        },
    [MET_RETRIES] =
        {
            .name = "localai_retries_total",
            .type = METRIC_COUNTER,
            .help = "Requests retried on another replica before the first "
                    "token, by reason.",
            .nlabels = 1,
            .labels = {"reason"},
            .max_series = 16,
        },
    [MET_FAILOVERS] =
        {
            .name = "localai_failovers_total",
            .type = METRIC_COUNTER,
            .help = "Streams continued on another replica after the first "
                    "token.",
            .max_series = 1,
        },
    [MET_QUEUE_LENGTH] =
        {
            .name = "localai_queue_length",
            .type = METRIC_GAUGE,
            .help = "Requests waiting for a replica, by model.",
            .nlabels = 1,
            .labels = {"model"},
            .max_series = 256,
        },
    [MET_PLACEMENT_DURATION] =
        {
            .name = "localai_placement_duration_seconds",
            .type = METRIC_HISTOGRAM,
            .help = "Time the router took to choose a replica (warm or cold).",
            .nbounds = METRICS_COUNT_OF(metrics_bounds_placement),
            .bounds = metrics_bounds_placement,
            .max_series = 1,
        },
    [MET_COLD_LOADS] =
        {
            .name = "localai_cold_loads_total",
            .type = METRIC_COUNTER,
            .help = "Model loads started on a node for a request, by model "
                    "and outcome.",
            .nlabels = 2,
            .labels = {"model", "outcome"},
            .max_series = 1024,
        },
    [MET_LOAD_DURATION] =
        {
            .name = "localai_load_duration_seconds",
            .type = METRIC_HISTOGRAM,
            .help = "Time from placing a cold load to the replica being "
                    "ready.",
            .nbounds = METRICS_COUNT_OF(metrics_bounds_load),
            .bounds = metrics_bounds_load,
            .max_series = 1,
        },
    [MET_EVICTIONS] =
        {
            .name = "localai_evictions_total",
            .type = METRIC_COUNTER,
            .help = "Replicas unloaded to make room for another model.",
            .max_series = 1,
        },
    [MET_NODES] =
        {
            .name = "localai_nodes",
            .type = METRIC_GAUGE,
            .help = "Nodes known to this frontend, by status (suspect nodes "
                    "are counted as suspect only).",
            .nlabels = 1,
            .labels = {"status"},
            .max_series = 8,
        },
    [MET_NODE_IN_FLIGHT] =
        {
            .name = "localai_node_in_flight",
            .type = METRIC_GAUGE,
            .help = "Requests in flight on each node, from every frontend.",
            .nlabels = 1,
            .labels = {"node"},
            .max_series = 1024,
        },
    [MET_NODE_MEMORY] =
        {
            .name = "localai_node_memory_bytes",
            .type = METRIC_GAUGE,
            .help = "Memory of each node by kind (ram, vram) and state (used, "
                    "reserved, free); the states add up to the total.",
            .nlabels = 3,
            .labels = {"node", "kind", "state"},
            .max_series = 6144,
        },
    [MET_REPLICAS] =
        {
            .name = "localai_replicas",
            .type = METRIC_GAUGE,
            .help = "Replicas of each model by state.",
            .nlabels = 2,
            .labels = {"model", "state"},
            .max_series = 1024,
        },
    [MET_HEARTBEAT_AGE] =
        {
            .name = "localai_heartbeat_age_seconds",
            .type = METRIC_GAUGE,
            .help = "Seconds since each node's last heartbeat was received.",
            .nlabels = 1,
            .labels = {"node"},
            .max_series = 1024,
        },
    [MET_BACKEND_RESTARTS] =
        {
            .name = "localai_backend_restarts_total",
            .type = METRIC_COUNTER,
            .help = "Backend processes restarted after they exited, by model "
                    "and backend.",
            .nlabels = 2,
            .labels = {"model", "backend"},
            .max_series = 256,
        },
    [MET_BACKEND_CRASH_LOOPS] =
        {
            .name = "localai_backend_crash_loops_total",
            .type = METRIC_COUNTER,
            .help = "Backends marked failed for crashing 5 times in 120 s, by "
                    "model and backend.",
            .nlabels = 2,
            .labels = {"model", "backend"},
            .max_series = 256,
        },
    [MET_BACKEND_INSTALL_DURATION] =
        {
            .name = "localai_backend_install_duration_seconds",
            .type = METRIC_HISTOGRAM,
            .help = "Time from a backend.install request to a new ready "
                    "replica: backend package, process start, model files "
                    "and LoadModel.",
            .nbounds = METRICS_COUNT_OF(metrics_bounds_load),
            .bounds = metrics_bounds_load,
            .max_series = 1,
        },
    [MET_FILE_FETCH_BYTES] =
        {
            .name = "localai_file_fetch_bytes_total",
            .type = METRIC_COUNTER,
            .help = "Bytes of model files fetched from the frontend, by "
                    "model.",
            .nlabels = 1,
            .labels = {"model"},
            .max_series = 256,
        },
    [MET_REPLICA_IN_FLIGHT] =
        {
            .name = "localai_replica_in_flight",
            .type = METRIC_GAUGE,
            .help = "Requests in flight on each replica of this worker, by "
                    "model.",
            .nlabels = 1,
            .labels = {"model"},
            .max_series = 256,
        },
    [MET_WORKER_REPLICAS] =
        {
            .name = "localai_worker_replicas",
            .type = METRIC_GAUGE,
            .help = "Replicas on this worker by state (starting, loading, "
                    "ready, failed, stopping).",
            .nlabels = 1,
            .labels = {"state"},
            .max_series = 8,
        },
    [MET_BUILD_INFO] =
        {
            .name = "localai_build_info",
            .type = METRIC_GAUGE,
            .help = "Always 1; the labels say which build and role is "
                    "running.",
            .nlabels = 2,
            .labels = {"version", "role"},
            .max_series = 4,
        },
};

#undef METRICS_COUNT_OF

#endif /* METRICS_CATALOG_TABLE */

#endif
