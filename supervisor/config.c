/*
 * TEMPORARY minimal configuration loader, only so that the supervisor
 * branch builds and its tests run.  The configuration engineer's
 * supervisor/config.c replaces this file at merge: it parses every key,
 * the environment and the models.  This one checks the file's syntax,
 * honours LOCALAI_ADDRESS and LOCALAI_API_WORKERS, and knows no models.
 */
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/config.h"

void
conf_defaults(struct conf *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", CONF_PATH_DEFAULT);
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/localai");
	snprintf(c->frontend.listen, sizeof(c->frontend.listen), ":8080");
	c->frontend.api_workers = n > 0 ? (uint32_t)n : 1;
}

static int
conf_env(struct conf *c, struct conf_error *err)
{
	const char *v;
	char *end;
	long n;

	if ((v = getenv("LOCALAI_ADDRESS")) != NULL && *v != '\0')
		snprintf(c->frontend.listen, sizeof(c->frontend.listen), "%s",
		    v);
	if ((v = getenv("LOCALAI_API_WORKERS")) != NULL && *v != '\0') {
		n = strtol(v, &end, 10);
		if (*end != '\0' || n < 1 || n > 256) {
			snprintf(err->text, sizeof(err->text),
			    "LOCALAI_API_WORKERS: not a number in 1..256");
			return -1;
		}
		c->frontend.api_workers = (uint32_t)n;
	}
	return 0;
}

int
conf_load(const char *path, int path_given, struct conf *c,
    struct conf_error *err)
{
	struct conf nc;
	config_t cfg;

	conf_defaults(&nc);
	snprintf(nc.path, sizeof(nc.path), "%s", path);
	if (path_given || access(path, F_OK) == 0) {
		config_init(&cfg);
		if (config_read_file(&cfg, path) != CONFIG_TRUE) {
			if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
				snprintf(err->text, sizeof(err->text),
				    "%s: %s", path, strerror(errno));
			else
				snprintf(err->text, sizeof(err->text),
				    "%s:%d: %s", config_error_file(&cfg) ?
				    config_error_file(&cfg) : path,
				    config_error_line(&cfg),
				    config_error_text(&cfg));
			config_destroy(&cfg);
			return -1;
		}
		config_destroy(&cfg);
	}
	if (conf_env(&nc, err) == -1)
		return -1;
	*c = nc;
	return 0;
}

int
conf_load_models(const struct conf *c, struct conf_models *m)
{
	(void)c;
	m->n = 0;
	m->models = NULL;
	return 0;
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

void
conf_print(FILE *fp, const struct conf *c, const struct conf_models *m)
{
	fprintf(fp, "# %s\nfrontend = {\n  listen = \"%s\";\n"
	    "  api_workers = %u;\n};\n# %u models\n", c->path,
	    c->frontend.listen, c->frontend.api_workers, m->n);
}
