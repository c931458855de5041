/*
 * The effective configuration of one localai process tree.
 *
 * The supervisor parses /etc/localai/localai.conf (libconfig), applies
 * LOCALAI_* environment variables and command-line flags on top
 * (flag > environment > file > default), reads the model configs, and sends
 * the result down to every child over IPC (MSG_CFG_MAIN, MSG_CFG_MODEL…,
 * MSG_CFG_DONE).  The structs are therefore plain fixed-size data with no
 * pointers, so they travel as IPC payloads as they are.
 *
 * Durations are milliseconds, sizes bytes.  Secrets (API keys, admin key)
 * are kept only as SHA-256 digests except where a process must present the
 * secret itself (registration token, database URL).
 *
 * Every setting, its file key, environment variable, default and range is
 * listed in docs/configuration.md; etc/localai.conf is a commented example.
 * The environment variable of a setting is LOCALAI_ followed by the last
 * component of its key in upper case (frontend.body_max ->
 * LOCALAI_BODY_MAX), except frontend.listen, which is LOCALAI_ADDRESS
 * (LocalAI's name).  An empty variable counts as unset.
 */
#ifndef LOCALAI_CONFIG_H
#define LOCALAI_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_PATH_DEFAULT "/etc/localai/localai.conf"
#define CONF_MODELS_DIR_DEFAULT "/etc/localai/models.d"
#define CONF_STATE_DIR_DEFAULT "/var/lib/localai"
#define CONF_MAX_API_KEYS 32
#define CONF_MAX_LABELS 16
#define CONF_MAX_STOP 8
#define CONF_MAX_OPTIONS 16
#define CONF_MAX_MODELS 256
#define CONF_NAME_MAX 64 /* model, backend and label names */
#define CONF_SHA256_LEN 32
#define CONF_MAX_FLAG_SETS 16
#define CONF_EXIT_CONFIG 78 /* EX_CONFIG: bad configuration */

enum conf_role {
	ROLE_NONE = 0,
	ROLE_FRONTEND,
	ROLE_WORKER,
	ROLE_STANDALONE,
};

struct conf_label {
	char key[CONF_NAME_MAX];
	char value[CONF_NAME_MAX];
};

/* Frontend settings: api processes and router. */
struct conf_frontend {
	char listen[128]; /* LOCALAI_ADDRESS, ":8080" */
	uint32_t api_workers; /* default: number of cores */
	char database_url[512]; /* LOCALAI_DATABASE_URL */
	/*
	 * LOCALAI_REGISTRATION_TOKEN; the file key is the top-level
	 * registration_token because workers present it too.
	 */
	char registration_token[128];
	int auto_approve_nodes; /* LOCALAI_AUTO_APPROVE_NODES */
	uint32_t n_api_keys; /* 0: the API is open */
	uint8_t api_keys[CONF_MAX_API_KEYS][CONF_SHA256_LEN];
	int have_admin_key;
	uint8_t admin_key[CONF_SHA256_LEN];
	char gallery_dir[256]; /* backend packages served to nodes */
	/* limits */
	uint64_t body_max; /* JSON request body, 413 beyond */
	uint64_t upload_max; /* multipart uploads */
	uint32_t json_depth_max;
	uint64_t string_max;
	uint32_t header_max;
	uint32_t max_concurrent; /* per api process, 503 beyond */
	uint32_t queue_wait_ms;
	uint32_t first_token_ms;
	uint32_t request_timeout_ms;
	uint32_t body_timeout_ms; /* slow bodies (slowloris) */
	/* routing and health */
	uint32_t load_wait_ms; /* cold-load wait before 503 */
	uint32_t offline_after_ms;
	uint32_t retries; /* placement retries before 1st token */
	uint32_t queue_max; /* per-model wait queue, 429 beyond */
};

/* Worker settings: the worker agent and its backend processes. */
struct conf_worker {
	char register_to[512]; /* LOCALAI_REGISTER_TO */
	char serve_addr[128]; /* LOCALAI_SERVE_ADDR 0.0.0.0:50051 */
	char advertise_addr[128]; /* LOCALAI_ADVERTISE_ADDR */
	char http_addr[128]; /* LOCALAI_HTTP_ADDR, base port - 1 */
	char advertise_http_addr[128]; /* LOCALAI_ADVERTISE_HTTP_ADDR */
	char node_name[256]; /* LOCALAI_NODE_NAME, hostname */
	uint32_t heartbeat_interval_ms; /* LOCALAI_HEARTBEAT_INTERVAL, 1 s */
	uint32_t max_concurrency; /* requests in flight on the node */
	uint32_t port_count; /* ports from serve_addr's port up */
	uint32_t drain_timeout_ms;
	uint32_t ready_timeout_ms; /* backend start to gRPC Health, 30 s */
	uint32_t file_ttl_ms; /* per-request staged files */
	uint64_t file_max; /* per-request staged file size */
	char gallery_url[512]; /* default <register_to>/api/gallery */
	uint32_t n_labels;
	struct conf_label labels[CONF_MAX_LABELS];
};

/* Everything but the models: the MSG_CFG_MAIN payload. */
struct conf {
	char path[256]; /* the file it came from */
	int have_file; /* 0: the default path was absent */
	uint32_t generation; /* bumped on every reload */
	int verbose; /* log_level: 0 info, 1 verbose, 2 debug */
	int insecure; /* allow no registration token */
	char state_dir[256]; /* LOCALAI_STATE_DIR */
	char models_path[256]; /* LOCALAI_MODELS_PATH */
	char models_config_dir[256]; /* model configs (*.conf) */
	char backends_path[256]; /* LOCALAI_BACKENDS_PATH */
	/*
	 * LOCALAI_INSTANCE_ID; empty means "choose one at start": the
	 * supervisor fills it once with conf_random_uuid() and keeps it
	 * across reloads.
	 */
	char instance_id[64];
	char nats_url[512]; /* LOCALAI_NATS_URL */
	struct conf_frontend frontend;
	struct conf_worker worker;
};

/* One model: the MSG_CFG_MODEL payload.  Keys fixed by issue 5. */
struct conf_model {
	char name[CONF_NAME_MAX];
	char backend[CONF_NAME_MAX];
	char model[256]; /* file under models_path, or voice */
	char source[256]; /* file:line it was defined at */
	int have_sha256;
	uint8_t sha256[CONF_SHA256_LEN];
	char url[512];
	uint32_t context_size; /* 0: the backend's default */
	uint32_t threads; /* 0: the backend's default */
	char template[CONF_NAME_MAX]; /* chat template name */
	int use_tokenizer_template;
	uint32_t n_stop;
	char stop[CONF_MAX_STOP][64];
	/* parameters = { … } defaults applied to requests */
	int have_temperature, have_top_p, have_top_k;
	int have_max_tokens, have_seed;
	float temperature;
	float top_p;
	int32_t top_k;
	int32_t max_tokens;
	int32_t seed;
	/* resources = { ram; vram; } (bytes; default from the file size) */
	uint64_t ram;
	uint64_t vram;
	uint32_t replicas_min;
	uint32_t replicas_max;
	uint32_t n_selector;
	struct conf_label selector[CONF_MAX_LABELS];
	uint32_t max_concurrency; /* requests per replica */
	uint32_t revision; /* hash of the config, for replicas */
	/* options = [ "key:value", ... ]: backend-specific load options,
	 * passed as ModelOptions.Options (LocalAI's `options:`). */
	uint32_t n_options;
	char options[CONF_MAX_OPTIONS][128];
};

/* The models of one configuration, held by whoever owns the conf. */
struct conf_models {
	uint32_t n;
	struct conf_model *models; /* n entries, malloc'd */
};

/*
 * Error text of a failed load: "FILE:LINE: reason" (or "FILE: reason", or
 * "LOCALAI_VAR: reason" for the environment, "flag KEY: reason" for
 * flags).  count is the number of errors found; text is the first.
 */
struct conf_error {
	char text[512];
	uint32_t count;
};

/*
 * Command-line overrides, the highest precedence.  verbose is -1 when no
 * -v/-d was given, else 0..2 and replaces log_level.  set[] holds
 * "key=value" strings, key as in the file ("frontend.listen",
 * "worker.serve_addr", "insecure"), value as in the environment; the
 * strings are not copied and must outlive the conf_load_flags() call.
 */
struct conf_flags {
	int verbose;
	uint32_t n_set;
	const char *set[CONF_MAX_FLAG_SETS];
};

/* Receives one "FILE:LINE: reason" line per error found. */
typedef void conf_report_fn(const char *text, void *arg);

/* Defaults for every setting (derived ones included). */
void conf_defaults(struct conf *c);
void conf_flags_init(struct conf_flags *f);
/* Record "key=value"; -1 when the table is full. */
int conf_flags_add(struct conf_flags *f, const char *keyvalue);
/*
 * Load a configuration: defaults, then FILE (must exist unless it is the
 * default path and missing), then the environment.  Returns 0, or -1 with
 * *err set; *c is written only on success, so a failed reload leaves the
 * running configuration untouched.
 */
int conf_load(
    const char *path, int path_given, struct conf *c, struct conf_error *err);
/*
 * The same, then the flags in *flags (NULL for none).  report, when not
 * NULL, receives every error found, not only the first.
 */
int conf_load_flags(const char *path, int path_given,
    const struct conf_flags *flags, struct conf *c, struct conf_error *err,
    conf_report_fn *report, void *arg);
/*
 * What a role needs beyond a valid file: frontend/standalone a database
 * URL (frontend only), workers a register_to URL, and distributed roles a
 * registration token unless insecure = true.  0 or -1 with *err set.
 */
int conf_check_role(
    const struct conf *c, enum conf_role role, struct conf_error *err);
/*
 * Read every model config (the *.conf files of models_config_dir, then
 * of models_path, each in name order).  A bad one is logged with
 * file:line and skipped; a duplicate name is an error for the second.
 * Returns the number of configs skipped (0: all good), or -1 when memory
 * ran out (*m empty).  conf_load_models_report() sends each error to
 * report instead of the log.
 */
int conf_load_models(const struct conf *c, struct conf_models *m);
int conf_load_models_report(const struct conf *c, struct conf_models *m,
    conf_report_fn *report, void *arg);
void conf_models_free(struct conf_models *m);
const struct conf_model *conf_model_find(
    const struct conf_models *m, const char *name);
/* Print the normalised configuration (secrets masked): `localai -nv`. */
void conf_print(FILE *fp, const struct conf *c, const struct conf_models *m);
/*
 * `localai -n [-f FILE]` (print 0) and `localai -nv` (print 1): load,
 * print every error to stderr, the normalised configuration to stdout
 * when print is set, "configuration OK" to stderr on success.  Returns
 * the exit code: 0, or 78 when the configuration or a model config is bad.
 */
int conf_check_command(const char *path, int path_given, int print);

/* Secrets: SHA-256 of a key, and constant-time checks of a presented key. */
void conf_hash_key(const char *key, size_t len, uint8_t out[CONF_SHA256_LEN]);
int conf_api_key_ok(const struct conf_frontend *f, const char *key, size_t len);
int conf_admin_key_ok(
    const struct conf_frontend *f, const char *key, size_t len);
/* A random RFC 4122 version 4 UUID (37 bytes with the NUL); 0 or -1. */
int conf_random_uuid(char *buf, size_t len);

/*
 * Pure parsers and formatters (conf_parse.c), shared with the API for
 * its own inputs.  Parsers return 0, or -1 for a malformed or overflowing
 * value.  A duration is a number of milliseconds or a sequence of
 * <number><unit> with units ms, s, m, h ("1m30s", "1.5s"); a size is a
 * number of bytes or <number><unit> with units B, KiB, MiB, GiB, TiB.
 */
int conf_parse_duration(const char *s, uint64_t *ms);
int conf_parse_size(const char *s, uint64_t *bytes);
int conf_parse_bool(const char *s, int *v);
void conf_format_duration(uint64_t ms, char *buf, size_t len);
void conf_format_size(uint64_t bytes, char *buf, size_t len);
/* [A-Za-z0-9._-]{1,63}, not "." or "..", no "..": 1 when valid. */
int conf_valid_name(const char *s);
/* "host:port" ("[v6]:port", ":port"): 0, or -1 when malformed. */
int conf_addr_split(
    const char *addr, char *host, size_t hostlen, uint16_t *port);

#endif
