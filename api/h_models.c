/*
 * GET /v1/models and GET /v1/models/{id}: the configured models (the
 * snapshot the request runs with), not what happens to be loaded.
 */
#include <string.h>
#include <time.h>

#include "api/api.h"

/* A stable "created" for every model: when this process started. */
static int64_t
models_created(void)
{
	static int64_t created;
	int64_t zero = 0, now = (int64_t)time(NULL);

	(void)__atomic_compare_exchange_n(
	    &created, &zero, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return __atomic_load_n(&created, __ATOMIC_RELAXED);
}

void
api_h_models(struct api_req *r)
{
	struct openai_buf out;

	openai_buf_init(&out);
	if (openai_models_list(&out, r->cfg->models.models, r->cfg->models.n,
	        models_created()) == -1) {
		openai_buf_free(&out);
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	api_reply_buf(r, 200, "application/json", &out);
}

void
api_h_model(struct api_req *r)
{
	const char *id = r->uri + strlen("/v1/models/");
	struct openai_error e;
	struct openai_buf out;
	char name[CONF_NAME_MAX];
	size_t n = strcspn(id, "?");

	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, id, n);
	name[n] = '\0';
	if (api_cfg_model(r->cfg, name) == NULL) {
		openai_error_model_not_found(&e, name);
		api_reply_error(r, &e);
		return;
	}
	openai_buf_init(&out);
	if (openai_model_object(&out, name, models_created()) == -1) {
		openai_buf_free(&out);
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	api_reply_buf(r, 200, "application/json", &out);
}
