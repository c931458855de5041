/*
 * POST /v1/completions: the prompt goes to the backend as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "proto/log.h"

void
api_h_completions(struct api_req *r)
{
	struct api_genwork *w;
	const struct conf_model *cm;
	struct openai_error e;

	if ((w = api_genwork_new(r)) == NULL)
		return;
	if (openai_completion_parse(r->body.data, r->body.len, &r->cfg->limits,
	        &w->comp, &e) == -1) {
		api_reply_error(r, &e);
		return;
	}
	if ((cm = api_req_model(r, w->comp.model)) == NULL)
		return;
	if (openai_buf_append(&w->prompt, w->comp.prompt, w->comp.prompt_len) ==
	        -1 ||
	    openai_new_id(w->g.id, sizeof(w->g.id), "cmpl-") == -1) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	w->g.kind = OPENAI_STREAM_COMPLETION;
	w->g.stream = w->comp.stream;
	w->g.include_usage = w->comp.include_usage;
	api_genwork_start(r, w, cm, &w->comp.sampling, OPENAI_TEMPLATE_UNKNOWN);
}
