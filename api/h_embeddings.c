/*
 * POST /v1/embeddings: one placement for the whole request, then one
 * Embedding call per input on that replica (LocalAI's backends embed one
 * string per call).  A retry on another replica starts over.
 *
 * usage.prompt_tokens is an estimate (whitespace-separated words): the
 * backend protocol's EmbeddingResult carries no token count.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "proto/log.h"

struct emb_work {
	struct openai_embeddings req;
	Backend__EmbeddingResult **res;
	char model[CONF_NAME_MAX];
};

static void
emb_clear(struct emb_work *w)
{
	size_t i;

	for (i = 0; w->res != NULL && i < w->req.n_inputs; i++) {
		bc_free(w->res[i]);
		w->res[i] = NULL;
	}
}

static void
emb_free(void *arg)
{
	struct emb_work *w = arg;

	emb_clear(w);
	free(w->res);
	openai_embeddings_free(&w->req);
	free(w);
}

static uint32_t
emb_words(const char *s, size_t len)
{
	uint32_t n = 0;
	size_t i;
	int in = 0;

	for (i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i]))
			in = 0;
		else if (!in) {
			in = 1;
			n++;
		}
	}
	return n;
}

static int
emb_run(struct api_call *c, const struct msg_place_ok *ok, struct bc_error *err)
{
	struct emb_work *w = c->arg;
	Backend__PredictOptions q = BACKEND__PREDICT_OPTIONS__INIT;
	struct bc_opts o;
	size_t i;

	emb_clear(w);
	q.correlationid = c->r->request_id;
	for (i = 0; i < w->req.n_inputs; i++) {
		api_dp_opts(c->r, ok, &o);
		q.prompt = w->req.inputs[i];
		q.embeddings = w->req.inputs[i];
		if (bc_embedding(ok->address, &o, &q, &w->res[i], err) == -1)
			return -1;
		c->prompt_tokens +=
		    emb_words(w->req.inputs[i], w->req.input_lens[i]);
	}
	return 0;
}

static void
emb_reply(struct api_req *r, struct emb_work *w, uint32_t tokens)
{
	struct openai_buf out;
	size_t i;
	int rc;

	openai_buf_init(&out);
	rc = openai_embeddings_begin(&out);
	for (i = 0; rc == 0 && i < w->req.n_inputs; i++)
		rc = openai_embeddings_add(&out, i, w->res[i]->embeddings,
		    w->res[i]->n_embeddings, w->req.encoding);
	if (rc == 0)
		rc = openai_embeddings_end(&out, w->model, tokens);
	if (rc == -1) {
		openai_buf_free(&out);
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	api_reply_buf(r, 200, "application/json", &out);
}

static void
emb_work(struct api_req *r)
{
	struct emb_work *w = r->state;
	struct api_call c;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.endpoint = "embeddings";
	c.arg = w;
	c.run = emb_run;
	if (w->req.n_inputs > 0)
		c.prefix_hash =
		    api_prefix_hash(w->req.inputs[0], w->req.input_lens[0]);
	if (api_dp_call(&c) == -1) {
		api_dp_reply_error(&c);
		return;
	}
	emb_reply(r, w, c.prompt_tokens);
}

void
api_h_embeddings(struct api_req *r)
{
	const struct conf_model *cm;
	struct openai_error e;
	struct emb_work *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	r->state = w;
	r->state_free = emb_free;
	if (openai_embeddings_parse(r->body.data, r->body.len, &r->cfg->limits,
	        &w->req, &e) == -1) {
		api_reply_error(r, &e);
		return;
	}
	if ((cm = api_req_model(r, w->req.model)) == NULL)
		return;
	snprintf(w->model, sizeof(w->model), "%s", cm->name);
	if ((w->res = calloc(w->req.n_inputs + 1, sizeof(*w->res))) == NULL) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "out of memory");
		return;
	}
	(void)api_async(r, emb_work);
}
