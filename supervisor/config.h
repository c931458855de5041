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
 * secret itself (registration token, node token, database URL).
 */
#ifndef LOCALAI_CONFIG_H
#define LOCALAI_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONF_PATH_DEFAULT	"/etc/localai/localai.conf"
#define CONF_MAX_API_KEYS	32
#define CONF_MAX_LABELS		16
#define CONF_MAX_STOP		8
#define CONF_MAX_MODELS		256
#define CONF_NAME_MAX		64	/* model, backend and label names */
#define CONF_SHA256_LEN		32

enum conf_role {
	ROLE_NONE = 0,
	ROLE_FRONTEND,
	ROLE_WORKER,
	ROLE_STANDALONE,
};

struct conf_label {
	char	key[CONF_NAME_MAX];
	char	value[CONF_NAME_MAX];
};

/* Frontend settings: api processes and router. */
struct conf_frontend {
	char		listen[128];		/* LOCALAI_ADDRESS, ":8080" */
	uint32_t	api_workers;		/* default: number of cores */
	char		database_url[512];	/* LOCALAI_DATABASE_URL */
	char		registration_token[128]; /* LOCALAI_REGISTRATION_TOKEN */
	int		auto_approve_nodes;	/* LOCALAI_AUTO_APPROVE_NODES */
	uint32_t	n_api_keys;
	uint8_t		api_keys[CONF_MAX_API_KEYS][CONF_SHA256_LEN];
	int		have_admin_key;
	uint8_t		admin_key[CONF_SHA256_LEN];
	char		gallery_dir[256];	/* backend packages served to nodes */
	/* limits */
	uint64_t	body_max;		/* JSON request body, 413 beyond */
	uint64_t	upload_max;		/* multipart uploads */
	uint32_t	json_depth_max;
	uint64_t	string_max;
	uint32_t	header_max;
	uint32_t	max_concurrent;		/* per api process, 503 beyond */
	uint32_t	queue_wait_ms;
	uint32_t	first_token_ms;
	uint32_t	request_timeout_ms;
	uint32_t	body_timeout_ms;	/* slow bodies (slowloris) */
	/* routing and health */
	uint32_t	load_wait_ms;		/* cold-load wait before 503 */
	uint32_t	offline_after_ms;
	uint32_t	retries;		/* placement retries before 1st token */
	uint32_t	queue_max;		/* per-model wait queue, 429 beyond */
};

/* Worker settings: the worker agent and its backend processes. */
struct conf_worker {
	char		register_to[512];	/* LOCALAI_REGISTER_TO */
	char		serve_addr[128];	/* LOCALAI_SERVE_ADDR 0.0.0.0:50051 */
	char		advertise_addr[128];	/* LOCALAI_ADVERTISE_ADDR */
	char		http_addr[128];		/* LOCALAI_HTTP_ADDR, base port - 1 */
	char		advertise_http_addr[128]; /* LOCALAI_ADVERTISE_HTTP_ADDR */
	char		node_name[256];		/* LOCALAI_NODE_NAME, hostname */
	uint32_t	heartbeat_interval_ms;	/* LOCALAI_HEARTBEAT_INTERVAL, 1 s */
	uint32_t	max_concurrency;
	uint32_t	port_count;		/* ports from serve_addr's port up */
	uint32_t	drain_timeout_ms;
	uint32_t	file_ttl_ms;		/* per-request staged files */
	uint64_t	file_max;		/* per-request staged file size */
	char		gallery_url[512];	/* default <register_to>/api/gallery */
	uint32_t	n_labels;
	struct conf_label labels[CONF_MAX_LABELS];
};

/* Everything but the models: the MSG_CFG_MAIN payload. */
struct conf {
	char		path[256];		/* the file it came from */
	uint32_t	generation;		/* bumped on every reload */
	int		verbose;
	int		insecure;		/* allow no registration token */
	char		state_dir[256];		/* LOCALAI_STATE_DIR */
	char		models_path[256];	/* LOCALAI_MODELS_PATH */
	char		models_config_dir[256];	/* model configs (*.conf) */
	char		backends_path[256];	/* LOCALAI_BACKENDS_PATH */
	char		instance_id[64];	/* LOCALAI_INSTANCE_ID */
	char		nats_url[512];		/* LOCALAI_NATS_URL */
	struct conf_frontend frontend;
	struct conf_worker   worker;
};

/* One model: the MSG_CFG_MODEL payload.  Keys fixed by issue 5. */
struct conf_model {
	char		name[CONF_NAME_MAX];
	char		backend[CONF_NAME_MAX];
	char		model[256];		/* file under models_path, or voice */
	char		source[256];		/* file:line it was defined at */
	int		have_sha256;
	uint8_t		sha256[CONF_SHA256_LEN];
	char		url[512];
	uint32_t	context_size;
	uint32_t	threads;
	char		template[CONF_NAME_MAX];	/* chat template name */
	int		use_tokenizer_template;
	uint32_t	n_stop;
	char		stop[CONF_MAX_STOP][64];
	/* parameters = { … } defaults applied to requests */
	int		have_temperature, have_top_p, have_top_k;
	int		have_max_tokens, have_seed;
	float		temperature;
	float		top_p;
	int32_t		top_k;
	int32_t		max_tokens;
	int32_t		seed;
	/* resources = { ram; vram; } (bytes; default from the file size) */
	uint64_t	ram;
	uint64_t	vram;
	uint32_t	replicas_min;
	uint32_t	replicas_max;
	uint32_t	n_selector;
	struct conf_label selector[CONF_MAX_LABELS];
	uint32_t	max_concurrency;
	uint32_t	revision;		/* hash of the config, for replicas */
};

/* The models of one configuration, held by whoever owns the conf. */
struct conf_models {
	uint32_t	 n;
	struct conf_model *models;	/* n entries, malloc'd */
};

/*
 * Error text of a failed load: "FILE:LINE: reason" (or "FILE: reason").
 */
struct conf_error {
	char	text[512];
};

/* Defaults for every setting. */
void	conf_defaults(struct conf *c);
/*
 * Load a configuration: defaults, then FILE (must exist unless it is the
 * default path and missing), then the environment, then the flags already
 * recorded in *flags (NULL for none).  Returns 0, or -1 with *err set.
 */
int	conf_load(const char *path, int path_given, struct conf *c,
	    struct conf_error *err);
/* Read every model config; a bad one is logged with file:line and skipped. */
int	conf_load_models(const struct conf *c, struct conf_models *m);
void	conf_models_free(struct conf_models *m);
const struct conf_model *conf_model_find(const struct conf_models *m,
	    const char *name);
/* Print the normalised configuration (secrets masked): `localai -nv`. */
void	conf_print(FILE *fp, const struct conf *c, const struct conf_models *m);

#endif
