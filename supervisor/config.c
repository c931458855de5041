/*
 * The main configuration: its key table, defaults, loading in precedence
 * order (default < file < environment < flag), the values derived from
 * others, the checks across settings, `localai -n[v]`, and printing.
 *
 * The supervisor is the only process that loads it; children receive the
 * resulting struct conf over IPC.  conf_load_flags() builds the new
 * configuration aside and copies it out only when it is valid, so a
 * SIGHUP with a broken file keeps the running one.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/conf_impl.h"

_Static_assert(sizeof(struct conf) <= 16 * 1024,
    "struct conf must fit one IPC payload (MSG_MAX_PAYLOAD)");
_Static_assert(sizeof(struct conf_model) <= 16 * 1024,
    "struct conf_model must fit one IPC payload (MSG_MAX_PAYLOAD)");

#define KiB (1LL << 10)
#define MiB (1LL << 20)
#define GiB (1LL << 30)
#define TiB (1LL << 40)
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

#define OFF(f) offsetof(struct conf, f)
#define SZ(f) sizeof(((struct conf *)0)->f)
#define STR(p, e, f, chk, fl)                                                  \
	{                                                                      \
		.path = p, .env = e, .kind = CK_STRING, .flags = fl,           \
		.off = OFF(f), .size = SZ(f), .aux = CONF_NOAUX, .check = chk  \
	}
#define NUM(p, e, k, f, lo, hi)                                                \
	{                                                                      \
		.path = p, .env = e, .kind = k, .off = OFF(f), .size = SZ(f),  \
		.aux = CONF_NOAUX, .min = lo, .max = hi                        \
	}
#define BOOL(p, e, f)                                                          \
	{                                                                      \
		.path = p, .env = e, .kind = CK_BOOL, .off = OFF(f),           \
		.size = SZ(f), .aux = CONF_NOAUX                               \
	}

/*
 * Every setting of localai.conf, in the order -nv prints them.  The
 * environment variable is LOCALAI_ + the last component in upper case,
 * except frontend.listen (LOCALAI_ADDRESS, LocalAI's name); a unit test
 * holds the table to that rule.  Ranges and defaults are documented in
 * docs/configuration.md.
 */
const struct conf_key conf_main_keys[] = {
    {.path = "log_level",
        .env = "LOCALAI_LOG_LEVEL",
        .kind = CK_LOGLEVEL,
        .off = OFF(verbose),
        .size = SZ(verbose),
        .aux = CONF_NOAUX},
    BOOL("insecure", "LOCALAI_INSECURE", insecure),
    STR("state_dir", "LOCALAI_STATE_DIR", state_dir, conf_check_path, 0),
    STR("models_path", "LOCALAI_MODELS_PATH", models_path, conf_check_path, 0),
    STR("models_config_dir", "LOCALAI_MODELS_CONFIG_DIR", models_config_dir,
        conf_check_path, 0),
    STR("backends_path", "LOCALAI_BACKENDS_PATH", backends_path,
        conf_check_path, 0),
    STR("instance_id", "LOCALAI_INSTANCE_ID", instance_id, conf_check_id, 0),
    STR("nats_url", "LOCALAI_NATS_URL", nats_url, conf_check_nats_url,
        CKF_MASKURL),
    STR("registration_token", "LOCALAI_REGISTRATION_TOKEN",
        frontend.registration_token, conf_check_token, CKF_SECRET),

    STR("frontend.listen", "LOCALAI_ADDRESS", frontend.listen, conf_check_addr,
        0),
    NUM("frontend.api_workers", "LOCALAI_API_WORKERS", CK_UINT,
        frontend.api_workers, 1, 256),
    STR("frontend.database_url", "LOCALAI_DATABASE_URL", frontend.database_url,
        conf_check_db_url, CKF_MASKURL),
    BOOL("frontend.auto_approve_nodes", "LOCALAI_AUTO_APPROVE_NODES",
        frontend.auto_approve_nodes),
    {.path = "frontend.api_keys",
        .env = "LOCALAI_API_KEYS",
        .kind = CK_KEYS,
        .off = OFF(frontend.api_keys),
        .size = CONF_SHA256_LEN,
        .aux = OFF(frontend.n_api_keys),
        .max = CONF_MAX_API_KEYS},
    {.path = "frontend.admin_key",
        .env = "LOCALAI_ADMIN_KEY",
        .kind = CK_HASHED,
        .off = OFF(frontend.admin_key),
        .size = CONF_SHA256_LEN,
        .aux = OFF(frontend.have_admin_key)},
    STR("frontend.gallery_dir", "LOCALAI_GALLERY_DIR", frontend.gallery_dir,
        conf_check_path, 0),
    NUM("frontend.body_max", "LOCALAI_BODY_MAX", CK_SIZE, frontend.body_max,
        KiB, GiB),
    NUM("frontend.upload_max", "LOCALAI_UPLOAD_MAX", CK_SIZE,
        frontend.upload_max, KiB, TiB),
    NUM("frontend.json_depth_max", "LOCALAI_JSON_DEPTH_MAX", CK_UINT,
        frontend.json_depth_max, 2, 1024),
    NUM("frontend.string_max", "LOCALAI_STRING_MAX", CK_SIZE,
        frontend.string_max, 64, GiB),
    NUM("frontend.header_max", "LOCALAI_HEADER_MAX", CK_SIZE,
        frontend.header_max, KiB, MiB),
    NUM("frontend.max_concurrent", "LOCALAI_MAX_CONCURRENT", CK_UINT,
        frontend.max_concurrent, 1, 100000),
    NUM("frontend.queue_wait", "LOCALAI_QUEUE_WAIT", CK_DURATION,
        frontend.queue_wait_ms, 0, HOUR),
    NUM("frontend.first_token", "LOCALAI_FIRST_TOKEN", CK_DURATION,
        frontend.first_token_ms, SEC, HOUR),
    NUM("frontend.request_timeout", "LOCALAI_REQUEST_TIMEOUT", CK_DURATION,
        frontend.request_timeout_ms, SEC, 24 * HOUR),
    NUM("frontend.body_timeout", "LOCALAI_BODY_TIMEOUT", CK_DURATION,
        frontend.body_timeout_ms, SEC, HOUR),
    NUM("frontend.load_wait", "LOCALAI_LOAD_WAIT", CK_DURATION,
        frontend.load_wait_ms, 0, HOUR),
    NUM("frontend.offline_after", "LOCALAI_OFFLINE_AFTER", CK_DURATION,
        frontend.offline_after_ms, SEC, HOUR),
    NUM("frontend.retries", "LOCALAI_RETRIES", CK_UINT, frontend.retries, 0,
        10),
    NUM("frontend.queue_max", "LOCALAI_QUEUE_MAX", CK_UINT, frontend.queue_max,
        0, 100000),

    STR("worker.register_to", "LOCALAI_REGISTER_TO", worker.register_to,
        conf_check_http_url, CKF_MASKURL),
    STR("worker.serve_addr", "LOCALAI_SERVE_ADDR", worker.serve_addr,
        conf_check_addr, 0),
    STR("worker.advertise_addr", "LOCALAI_ADVERTISE_ADDR",
        worker.advertise_addr, conf_check_addr_opt, 0),
    STR("worker.http_addr", "LOCALAI_HTTP_ADDR", worker.http_addr,
        conf_check_addr, 0),
    STR("worker.advertise_http_addr", "LOCALAI_ADVERTISE_HTTP_ADDR",
        worker.advertise_http_addr, conf_check_addr_opt, 0),
    STR("worker.node_name", "LOCALAI_NODE_NAME", worker.node_name,
        conf_check_node_name, 0),
    NUM("worker.heartbeat_interval", "LOCALAI_HEARTBEAT_INTERVAL", CK_DURATION,
        worker.heartbeat_interval_ms, 100, 10 * MIN),
    NUM("worker.max_concurrency", "LOCALAI_MAX_CONCURRENCY", CK_UINT,
        worker.max_concurrency, 1, 100000),
    NUM("worker.port_count", "LOCALAI_PORT_COUNT", CK_UINT, worker.port_count,
        1, 10000),
    NUM("worker.drain_timeout", "LOCALAI_DRAIN_TIMEOUT", CK_DURATION,
        worker.drain_timeout_ms, 0, 24 * HOUR),
    NUM("worker.ready_timeout", "LOCALAI_READY_TIMEOUT", CK_DURATION,
        worker.ready_timeout_ms, SEC, HOUR),
    NUM("worker.file_ttl", "LOCALAI_FILE_TTL", CK_DURATION, worker.file_ttl_ms,
        SEC, 24 * HOUR),
    NUM("worker.file_max", "LOCALAI_FILE_MAX", CK_SIZE, worker.file_max, KiB,
        TiB),
    STR("worker.gallery_url", "LOCALAI_GALLERY_URL", worker.gallery_url,
        conf_check_http_url, CKF_MASKURL),
    {.path = "worker.labels",
        .env = "LOCALAI_LABELS",
        .kind = CK_LABELS,
        .off = OFF(worker.labels),
        .size = sizeof(struct conf_label),
        .aux = OFF(worker.n_labels),
        .max = CONF_MAX_LABELS},
};
const size_t conf_main_nkeys =
    sizeof(conf_main_keys) / sizeof(conf_main_keys[0]);
_Static_assert(
    sizeof(conf_main_keys) / sizeof(conf_main_keys[0]) <= CONF_KEYS_MAX,
    "raise CONF_KEYS_MAX");

/* api_workers' default: the CPUs this process may run on. */
static uint32_t
default_api_workers(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > 256 ? 256 : (uint32_t)n;
}

static void
default_node_name(char *buf, size_t len)
{
	char host[256];

	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0' ||
	    conf_check_node_name(host) != NULL)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s", host);
}

/* Copy, or report that a derived value does not fit. */
static void
derive_str(struct conf_ctx *x, char *dst, size_t len, const char *src,
    const char *path)
{
	if (strlen(src) >= len) {
		if (x != NULL)
			conf_ctx_error(x, conf_where(x, path),
			    "setting \"%s\" "
			    "derived as \"%s\" is too long",
			    path, src);
		return;
	}
	snprintf(dst, len, "%s", src);
}

static int
given(const struct conf_ctx *x, const char *path)
{
	return x != NULL && conf_is_set(x, path);
}

/* http_addr: serve_addr's host and port - 1, LocalAI's convention. */
static void
derive_http_addr(struct conf *c, struct conf_ctx *x)
{
	char host[128], buf[160];
	uint16_t port;

	if (given(x, "worker.http_addr") ||
	    conf_addr_split(c->worker.serve_addr, host, sizeof(host), &port) ==
	        -1)
		return;
	if (port <= 1) {
		if (x != NULL)
			conf_ctx_error(x, conf_where(x, "worker.serve_addr"),
			    "worker.http_addr defaults to serve_addr's port "
			    "- 1; set it when serve_addr's port is 1");
		return;
	}
	snprintf(buf, sizeof(buf), "%s:%u", host, port - 1U);
	derive_str(x, c->worker.http_addr, sizeof(c->worker.http_addr), buf,
	    "worker.http_addr");
}

static void
derive_advertise_http(struct conf *c, struct conf_ctx *x)
{
	char host[128], h2[128], buf[300];
	uint16_t port, p2;

	if (given(x, "worker.advertise_http_addr") ||
	    c->worker.advertise_addr[0] == '\0' ||
	    conf_addr_split(
	        c->worker.advertise_addr, host, sizeof(host), &port) == -1 ||
	    conf_addr_split(c->worker.http_addr, h2, sizeof(h2), &p2) == -1)
		return;
	snprintf(buf, sizeof(buf), "%s:%u", host, p2);
	derive_str(x, c->worker.advertise_http_addr,
	    sizeof(c->worker.advertise_http_addr), buf,
	    "worker.advertise_http_addr");
}

/*
 * Settings whose default depends on others: paths under state_dir, the
 * worker's HTTP addresses and gallery URL.  x is NULL for plain defaults.
 */
static void
derive(struct conf *c, struct conf_ctx *x)
{
	static const struct {
		const char *path;
		size_t off;
		const char *sub;
	} under_state[] = {
	    {"models_path", OFF(models_path), "models"},
	    {"backends_path", OFF(backends_path), "backends"},
	    {"frontend.gallery_dir", OFF(frontend.gallery_dir), "gallery"},
	};
	char buf[1024];
	size_t i, n;

	for (i = 0; i < 3; i++) {
		if (given(x, under_state[i].path))
			continue;
		snprintf(buf, sizeof(buf), "%s/%s", c->state_dir,
		    under_state[i].sub);
		derive_str(x, (char *)c + under_state[i].off, 256, buf,
		    under_state[i].path);
	}
	derive_http_addr(c, x);
	derive_advertise_http(c, x);
	if (!given(x, "worker.gallery_url") && c->worker.register_to[0]) {
		n = strlen(c->worker.register_to);
		while (n > 0 && c->worker.register_to[n - 1] == '/')
			n--;
		snprintf(buf, sizeof(buf), "%.*s/api/gallery", (int)n,
		    c->worker.register_to);
		derive_str(x, c->worker.gallery_url,
		    sizeof(c->worker.gallery_url), buf, "worker.gallery_url");
	}
}

void
conf_defaults(struct conf *c)
{
	struct conf_frontend *f = &c->frontend;
	struct conf_worker *w = &c->worker;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", CONF_PATH_DEFAULT);
	snprintf(
	    c->state_dir, sizeof(c->state_dir), "%s", CONF_STATE_DIR_DEFAULT);
	snprintf(c->models_config_dir, sizeof(c->models_config_dir), "%s",
	    CONF_MODELS_DIR_DEFAULT);
	snprintf(c->nats_url, sizeof(c->nats_url), "nats://127.0.0.1:4222");
	snprintf(f->listen, sizeof(f->listen), ":8080");
	f->api_workers = default_api_workers();
	f->body_max = 8 * MiB;
	f->upload_max = 100 * MiB;
	f->json_depth_max = 64;
	f->string_max = MiB;
	f->header_max = 16 * KiB;
	f->max_concurrent = 256;
	f->queue_wait_ms = 30 * SEC;
	f->first_token_ms = 120 * SEC;
	f->request_timeout_ms = 600 * SEC;
	f->body_timeout_ms = 30 * SEC;
	f->load_wait_ms = 60 * SEC;
	f->offline_after_ms = 5 * SEC;
	f->retries = 2;
	f->queue_max = 64;
	snprintf(w->serve_addr, sizeof(w->serve_addr), "0.0.0.0:50051");
	default_node_name(w->node_name, sizeof(w->node_name));
	w->heartbeat_interval_ms = 1 * SEC;
	w->max_concurrency = 64;
	w->port_count = 100;
	w->drain_timeout_ms = 30 * SEC;
	w->ready_timeout_ms = 30 * SEC;
	w->file_ttl_ms = 10 * MIN;
	w->file_max = 100 * MiB;
	derive(c, NULL);
}

/* The location to blame for a check across two settings. */
static const char *
blame(const struct conf_ctx *x, const char *a, const char *b)
{
	if (conf_is_set(x, a))
		return conf_where(x, a);
	return conf_where(x, b);
}

/* Rules that involve more than one setting. */
static void
cross_check(const struct conf *c, struct conf_ctx *x)
{
	const struct conf_frontend *f = &c->frontend;
	const struct conf_worker *w = &c->worker;
	char host[128];
	uint16_t base, http;

	if (conf_addr_split(w->serve_addr, host, sizeof(host), &base) == 0) {
		if ((uint32_t)base + w->port_count - 1 > 65535)
			conf_ctx_error(x,
			    blame(x, "worker.port_count", "worker.serve_addr"),
			    "worker.port_count: backend "
			    "ports %u-%u go beyond 65535",
			    base, base + w->port_count - 1);
		if (conf_addr_split(w->http_addr, host, sizeof(host), &http) ==
		        0 &&
		    http >= base &&
		    (uint32_t)http < (uint32_t)base + w->port_count)
			conf_ctx_error(x,
			    blame(x, "worker.http_addr", "worker.serve_addr"),
			    "worker.http_addr port %u "
			    "lies in the backend ports %u-%u",
			    http, base, base + w->port_count - 1);
	}
	if (f->string_max > f->body_max)
		conf_ctx_error(x,
		    blame(x, "frontend.string_max", "frontend.body_max"),
		    "frontend.string_max must not "
		    "exceed frontend.body_max");
	if (f->first_token_ms > f->request_timeout_ms)
		conf_ctx_error(x,
		    blame(
		        x, "frontend.first_token", "frontend.request_timeout"),
		    "frontend.first_token must "
		    "not exceed frontend.request_timeout");
}

static void
apply_env(struct conf_ctx *x)
{
	const char *v;
	size_t i;

	for (i = 0; i < x->nkeys; i++) {
		if (x->keys[i].env == NULL ||
		    (v = getenv(x->keys[i].env)) == NULL || *v == '\0')
			continue;
		conf_apply_string(x, i, v, x->keys[i].env);
	}
}

static void
apply_flags(struct conf *c, struct conf_ctx *x, const struct conf_flags *fl)
{
	char key[128], where[160];
	const char *eq;
	uint32_t i;
	int idx;

	if (fl->verbose >= 0)
		c->verbose = fl->verbose > 2 ? 2 : fl->verbose;
	for (i = 0; i < fl->n_set && i < CONF_MAX_FLAG_SETS; i++) {
		eq = strchr(fl->set[i], '=');
		snprintf(key, sizeof(key), "%.*s",
		    eq != NULL ? (int)(eq - fl->set[i])
		               : (int)strlen(fl->set[i]),
		    fl->set[i]);
		snprintf(where, sizeof(where), "flag %s", key);
		if (eq == NULL)
			conf_ctx_error(x, where, "expected key=value");
		else if ((idx = conf_key_index(x, key)) < 0)
			conf_ctx_error(x, where, "unknown setting \"%s\"", key);
		else
			conf_apply_string(x, (size_t)idx, eq + 1, where);
	}
}

/* The file stage: a missing default file means defaults. */
static void
apply_file(struct conf *c, struct conf_ctx *x, const char *path, int path_given)
{
	struct stat st;
	config_t cfg;

	if (strlen(path) >= sizeof(c->path)) {
		conf_ctx_error(x, path, "path too long");
		return;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	if (!path_given && stat(path, &st) == -1 && errno == ENOENT)
		return;
	config_init(&cfg);
	if (conf_read_file(x, &cfg, path) == 0) {
		c->have_file = 1;
		conf_walk(x, config_root_setting(&cfg), "");
	}
	config_destroy(&cfg);
}

int
conf_load_flags(const char *path, int path_given,
    const struct conf_flags *flags, struct conf *c, struct conf_error *err,
    conf_report_fn *report, void *arg)
{
	struct conf_ctx *x;
	struct conf *t;
	int rc = 0;

	if (path == NULL) {
		path = CONF_PATH_DEFAULT;
		path_given = 0;
	}
	x = malloc(sizeof(*x));
	t = malloc(sizeof(*t));
	if (x == NULL || t == NULL) {
		snprintf(err->text, sizeof(err->text), "%s: %s", path,
		    strerror(errno));
		err->count = 1;
		free(x);
		free(t);
		return -1;
	}
	conf_defaults(t);
	conf_ctx_init(x, conf_main_keys, conf_main_nkeys, t, report, arg);
	apply_file(t, x, path, path_given);
	apply_env(x);
	if (flags != NULL)
		apply_flags(t, x, flags);
	derive(t, x);
	if (x->nerr == 0)
		cross_check(t, x);
	err->count = x->nerr;
	snprintf(err->text, sizeof(err->text), "%s", x->first);
	if (x->nerr == 0)
		memcpy(c, t, sizeof(*c));
	else
		rc = -1;
	free(x);
	free(t);
	return rc;
}

int
conf_load(
    const char *path, int path_given, struct conf *c, struct conf_error *err)
{
	return conf_load_flags(path, path_given, NULL, c, err, NULL, NULL);
}

void
conf_flags_init(struct conf_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->verbose = -1;
}

int
conf_flags_add(struct conf_flags *f, const char *keyvalue)
{
	if (f->n_set >= CONF_MAX_FLAG_SETS)
		return -1;
	f->set[f->n_set++] = keyvalue;
	return 0;
}

int
conf_check_role(
    const struct conf *c, enum conf_role role, struct conf_error *err)
{
	const char *missing = NULL;

	if (role == ROLE_FRONTEND && c->frontend.database_url[0] == '\0')
		missing = "the frontend role needs frontend.database_url "
		          "(LOCALAI_DATABASE_URL)";
	else if (role == ROLE_WORKER && c->worker.register_to[0] == '\0')
		missing = "the worker role needs worker.register_to "
		          "(LOCALAI_REGISTER_TO)";
	else if ((role == ROLE_FRONTEND || role == ROLE_WORKER) &&
	         c->frontend.registration_token[0] == '\0' && !c->insecure)
		missing = "distributed mode needs registration_token "
		          "(LOCALAI_REGISTRATION_TOKEN), or insecure = true";
	if (missing == NULL)
		return 0;
	snprintf(err->text, sizeof(err->text), "%s: %s", c->path, missing);
	err->count = 1;
	return -1;
}

/* Version 4 UUID from the kernel's random pool. */
int
conf_random_uuid(char *buf, size_t len)
{
	uint8_t r[16];

	if (len < 37 || getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40);
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
	snprintf(buf, len,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
	    r[11], r[12], r[13], r[14], r[15]);
	return 0;
}

void
conf_print(FILE *fp, const struct conf *c, const struct conf_models *m)
{
	uint32_t i;

	if (c->have_file)
		fprintf(fp, "# localai configuration from %s\n", c->path);
	else
		fprintf(fp, "# localai configuration: defaults (%s absent)\n",
		    c->path);
	conf_print_table(fp, conf_main_keys, conf_main_nkeys, c, 0);
	if (m == NULL)
		return;
	fprintf(fp, "models = (%s", m->n == 0 ? "" : "\n");
	for (i = 0; i < m->n; i++) {
		conf_print_model(fp, &m->models[i], 1);
		fputs(i + 1 < m->n ? ",\n" : "\n", fp);
	}
	fputs(");\n", fp);
}

static void
report_stderr(const char *text, void *arg)
{
	fprintf(stderr, "%s\n", text);
}

int
conf_check_command(const char *path, int path_given, int print)
{
	struct conf c;
	struct conf_error err;
	struct conf_models m = {0, NULL};
	int bad;

	if (conf_load_flags(
	        path, path_given, NULL, &c, &err, report_stderr, NULL) == -1)
		return CONF_EXIT_CONFIG;
	bad = conf_load_models_report(&c, &m, report_stderr, NULL);
	if (bad == -1) {
		fprintf(stderr, "%s: out of memory\n", c.path);
		return 1;
	}
	if (print) {
		conf_print(stdout, &c, &m);
		fflush(stdout);
	}
	conf_models_free(&m);
	if (bad > 0)
		return CONF_EXIT_CONFIG;
	fprintf(stderr, "configuration OK\n");
	return 0;
}
