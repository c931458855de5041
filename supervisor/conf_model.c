/*
 * Model configs: one libconfig file per model, found as *.conf in
 * models_config_dir and then in models_path.  Each file is checked on its
 * own; a bad one is reported with file:line and skipped so that one typo
 * does not take every model down, and a name defined twice is an error
 * for the second definition.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/log.h"
#include "supervisor/conf_impl.h"

#define MOFF(f) offsetof(struct conf_model, f)
#define MSZ(f) sizeof(((struct conf_model *)0)->f)
#define MSTR(p, f, chk, fl)                                                    \
	{                                                                      \
		.path = p, .kind = CK_STRING, .flags = fl, .off = MOFF(f),     \
		.size = MSZ(f), .aux = CONF_NOAUX, .check = chk                \
	}
#define MNUM(p, k, f, fl, have, lo, hi)                                        \
	{                                                                      \
		.path = p, .kind = k, .flags = fl, .off = MOFF(f),             \
		.size = MSZ(f), .aux = have, .min = lo, .max = hi              \
	}
#define MFLT(p, f, have, lo, hi)                                               \
	{                                                                      \
		.path = p, .kind = CK_FLOAT, .flags = CKF_OPTIONAL,            \
		.off = MOFF(f), .size = MSZ(f), .aux = MOFF(have), .fmin = lo, \
		.fmax = hi                                                     \
	}

/* The fixed keys of a model config (issue 5), in the order -nv prints. */
const struct conf_key conf_model_keys[] = {
    MSTR("name", name, conf_check_name, CKF_REQUIRED),
    MSTR("backend", backend, conf_check_name, CKF_REQUIRED),
    MSTR("model", model, conf_check_relpath, CKF_REQUIRED),
    {.path = "sha256",
        .kind = CK_SHA256,
        .flags = CKF_OPTIONAL,
        .off = MOFF(sha256),
        .size = MSZ(sha256),
        .aux = MOFF(have_sha256)},
    MSTR("url", url, conf_check_http_url, CKF_MASKURL),
    MNUM("context_size", CK_UINT, context_size, 0, CONF_NOAUX, 0, 1 << 24),
    MNUM("threads", CK_UINT, threads, 0, CONF_NOAUX, 0, 1024),
    MSTR("template", template, conf_check_name_opt, 0),
    {.path = "use_tokenizer_template",
        .kind = CK_BOOL,
        .off = MOFF(use_tokenizer_template),
        .size = MSZ(use_tokenizer_template),
        .aux = CONF_NOAUX},
    {.path = "stop",
        .kind = CK_STRLIST,
        .off = MOFF(stop),
        .size = sizeof(((struct conf_model *)0)->stop[0]),
        .aux = MOFF(n_stop),
        .max = CONF_MAX_STOP},
    MFLT("parameters.temperature", temperature, have_temperature, 0, 2),
    MFLT("parameters.top_p", top_p, have_top_p, 0, 1),
    MNUM("parameters.top_k", CK_INT, top_k, CKF_OPTIONAL, MOFF(have_top_k), 0,
        1000000),
    MNUM("parameters.max_tokens", CK_INT, max_tokens, CKF_OPTIONAL,
        MOFF(have_max_tokens), 1, INT32_MAX),
    MNUM("parameters.seed", CK_INT, seed, CKF_OPTIONAL, MOFF(have_seed),
        INT32_MIN, INT32_MAX),
    MNUM("resources.ram", CK_SIZE, ram, 0, CONF_NOAUX, 0, 1LL << 50),
    MNUM("resources.vram", CK_SIZE, vram, 0, CONF_NOAUX, 0, 1LL << 50),
    MNUM("replicas.min", CK_UINT, replicas_min, 0, CONF_NOAUX, 0, 64),
    MNUM("replicas.max", CK_UINT, replicas_max, 0, CONF_NOAUX, 1, 64),
    {.path = "selector",
        .kind = CK_LABELS,
        .off = MOFF(selector),
        .size = sizeof(struct conf_label),
        .aux = MOFF(n_selector),
        .max = CONF_MAX_LABELS},
    MNUM("max_concurrency", CK_UINT, max_concurrency, 0, CONF_NOAUX, 1, 1024),
    {.path = "options",
        .kind = CK_STRLIST,
        .off = MOFF(options),
        .size = sizeof(((struct conf_model *)0)->options[0]),
        .aux = MOFF(n_options),
        .max = CONF_MAX_OPTIONS},
};
const size_t conf_model_nkeys =
    sizeof(conf_model_keys) / sizeof(conf_model_keys[0]);

/* The model block of -nv, also what the revision hashes. */
void
conf_print_model(FILE *fp, const struct conf_model *mod, int indent)
{
	fprintf(fp, "%*s{\n%*s# %s, revision %08x\n", indent * 4, "",
	    (indent + 1) * 4, "", mod->source, mod->revision);
	conf_print_table(
	    fp, conf_model_keys, conf_model_nkeys, mod, indent + 1);
	fprintf(fp, "%*s}", indent * 4, "");
}

/*
 * A stable hash of the effective settings: FNV-1a of the printed form
 * (which leaves out where the file was), so replicas started from an
 * older config can be told apart from current ones.
 */
static uint32_t
model_revision(const struct conf_model *mod)
{
	char *buf = NULL;
	size_t len = 0;
	uint32_t h;
	FILE *fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return conf_fnv1a(
		    mod, offsetof(struct conf_model, source), 2166136261U);
	conf_print_table(fp, conf_model_keys, conf_model_nkeys, mod, 0);
	fclose(fp);
	h = conf_fnv1a(buf, len, 2166136261U);
	free(buf);
	return h;
}

/* resources default to the model file's size when the file exists. */
static void
default_resources(
    const struct conf *c, struct conf_model *mod, const struct conf_ctx *x)
{
	char path[PATH_MAX];
	struct stat st;

	if (conf_is_set(x, "resources.ram") && conf_is_set(x, "resources.vram"))
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->models_path,
	        mod->model) >= sizeof(path) ||
	    stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return;
	if (!conf_is_set(x, "resources.ram"))
		mod->ram = (uint64_t)st.st_size;
	if (!conf_is_set(x, "resources.vram"))
		mod->vram = (uint64_t)st.st_size;
}

static void
model_checks(const char *path, struct conf_model *mod, struct conf_ctx *x)
{
	size_t i;

	for (i = 0; i < x->nkeys; i++) {
		if ((x->keys[i].flags & CKF_REQUIRED) && !x->seen[i])
			conf_ctx_error(
			    x, path, "missing setting \"%s\"", x->keys[i].path);
	}
	if (mod->replicas_min > mod->replicas_max)
		conf_ctx_error(x, conf_where(x, "replicas.min"),
		    "replicas.min (%u) must not exceed replicas.max (%u)",
		    mod->replicas_min, mod->replicas_max);
}

/* Append a good model, unless its name is taken or the table is full. */
static int
model_add(struct conf_models *m, size_t *cap, struct conf_model *mod,
    struct conf_ctx *x)
{
	const struct conf_model *dup = conf_model_find(m, mod->name);
	struct conf_model *p;

	if (dup != NULL) {
		conf_ctx_error(x, conf_where(x, "name"),
		    "duplicate model "
		    "\"%s\" (first defined at %s)",
		    mod->name, dup->source);
		return 0;
	}
	if (m->n >= CONF_MAX_MODELS) {
		conf_ctx_error(x, conf_where(x, "name"),
		    "too many models "
		    "(at most %d)",
		    CONF_MAX_MODELS);
		return 0;
	}
	if (m->n == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		if ((p = reallocarray(m->models, *cap, sizeof(*p))) == NULL)
			return -1;
		m->models = p;
	}
	m->models[m->n++] = *mod;
	return 0;
}

/* One model config file: 1 when skipped, 0 when added, -1 on ENOMEM. */
static int
model_load_one(const struct conf *c, const char *path, struct conf_models *m,
    size_t *cap, conf_report_fn *report, void *arg)
{
	struct conf_model mod;
	struct conf_ctx *x;
	config_t cfg;
	int rc = 0;

	if ((x = malloc(sizeof(*x))) == NULL)
		return -1;
	memset(&mod, 0, sizeof(mod));
	mod.replicas_max = 1;
	mod.max_concurrency = 1;
	conf_ctx_init(x, conf_model_keys, conf_model_nkeys, &mod, report, arg);
	config_init(&cfg);
	if (conf_read_file(x, &cfg, path) == 0) {
		conf_walk(x, config_root_setting(&cfg), "");
		model_checks(path, &mod, x);
	}
	config_destroy(&cfg);
	if (x->nerr == 0) {
		default_resources(c, &mod, x);
		snprintf(mod.source, sizeof(mod.source), "%s",
		    conf_where(x, "name"));
		mod.revision = model_revision(&mod);
		rc = model_add(m, cap, &mod, x);
	}
	if (rc == 0 && x->nerr > 0)
		rc = 1;
	free(x);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_conf_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

/* The *.conf files of dir, sorted; a missing dir has none. */
static int
list_dir(
    const char *dir, char ***out, size_t *n, conf_report_fn *report, void *arg)
{
	char **names = NULL, **p, buf[600];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(buf, sizeof(buf), "%s: %s", dir, strerror(errno));
		report(buf, arg);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_conf_name(de->d_name))
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			if ((p = reallocarray(names, cap, sizeof(*p))) == NULL)
				goto nomem;
			names = p;
		}
		if (asprintf(&names[*n], "%s/%s", dir, de->d_name) == -1)
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(names, *n, sizeof(*names), cmp_names);
	*out = names;
	return 0;
nomem:
	closedir(d);
	while (*n > 0)
		free(names[--*n]);
	free(names);
	return -1;
}

static void
report_log(const char *text, void *arg)
{
	log_warnx("%s (model config skipped)", text);
}

/* Load the *.conf files of one directory; returns skipped count or -1. */
static int
load_dir(const struct conf *c, const char *dir, struct conf_models *m,
    size_t *cap, conf_report_fn *report, void *arg)
{
	char **names = NULL;
	size_t n, i;
	int bad = 0, rc;

	if ((rc = list_dir(dir, &names, &n, report, arg)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (bad >= 0 && (rc = model_load_one(
		                     c, names[i], m, cap, report, arg)) == -1)
			bad = -1;
		else if (bad >= 0)
			bad += rc;
		free(names[i]);
	}
	free(names);
	return bad;
}

static int
same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (strcmp(a, b) == 0)
		return 1;
	return realpath(a, ra) != NULL && realpath(b, rb) != NULL &&
	       strcmp(ra, rb) == 0;
}

int
conf_load_models_report(const struct conf *c, struct conf_models *m,
    conf_report_fn *report, void *arg)
{
	size_t cap = 0;
	int bad, more = 0;

	m->n = 0;
	m->models = NULL;
	bad = load_dir(c, c->models_config_dir, m, &cap, report, arg);
	if (bad >= 0 && !same_dir(c->models_config_dir, c->models_path))
		more = load_dir(c, c->models_path, m, &cap, report, arg);
	if (bad == -1 || more == -1) {
		conf_models_free(m);
		return -1;
	}
	return bad + more;
}

int
conf_load_models(const struct conf *c, struct conf_models *m)
{
	return conf_load_models_report(c, m, report_log, NULL);
}

void
conf_models_free(struct conf_models *m)
{
	free(m->models);
	m->models = NULL;
	m->n = 0;
}

const struct conf_model *
conf_model_find(const struct conf_models *m, const char *name)
{
	uint32_t i;

	for (i = 0; i < m->n; i++) {
		if (strcmp(m->models[i].name, name) == 0)
			return &m->models[i];
	}
	return NULL;
}
