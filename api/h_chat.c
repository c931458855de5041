/*
 * POST /v1/chat/completions: parse, build the prompt with the model's chat
 * template (or hand the messages to the backend's own template when the
 * model config says use_tokenizer_template, as LocalAI's
 * UseTokenizerTemplate + Messages), and generate (generate.c).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "proto/log.h"

/* The messages for the backend's own template; 0 or -1. */
static int
chat_messages(struct api_genwork *w)
{
	const struct openai_chat *c = &w->chat;
	Backend__Message *m;
	size_t i;

	if ((w->msgs = calloc(c->n_messages + 1, sizeof(*w->msgs))) == NULL ||
	    (w->msgp = calloc(c->n_messages + 1, sizeof(*w->msgp))) == NULL)
		return -1;
	for (i = 0; i < c->n_messages; i++) {
		m = &w->msgs[i];
		backend__message__init(m);
		m->role = (char *)(uintptr_t)openai_role_backend_name(
		    c->messages[i].role);
		m->content = c->messages[i].content;
		if (c->messages[i].name != NULL)
			m->name = c->messages[i].name;
		if (c->messages[i].tool_call_id != NULL)
			m->tool_call_id = c->messages[i].tool_call_id;
		if (c->messages[i].tool_calls != NULL)
			m->tool_calls = c->messages[i].tool_calls;
		w->msgp[i] = m;
	}
	w->req.n_messages = c->n_messages;
	w->req.messages = w->msgp;
	w->req.usetokenizertemplate = 1;
	return 0;
}

/* A routing hash of the conversation's start, for the router. */
static uint64_t
chat_prefix_hash(const struct openai_chat *c)
{
	if (c->n_messages == 0)
		return 0;
	return api_prefix_hash(
	    c->messages[0].content, c->messages[0].content_len);
}

void
api_h_chat(struct api_req *r)
{
	struct api_genwork *w;
	const struct conf_model *cm;
	struct openai_error e;
	enum openai_template t = OPENAI_TEMPLATE_PLAIN;
	int own;

	if ((w = api_genwork_new(r)) == NULL)
		return;
	if (openai_chat_parse(r->body.data, r->body.len, &r->cfg->limits,
	        &w->chat, &e) == -1) {
		api_reply_error(r, &e);
		return;
	}
	if ((cm = api_req_model(r, w->chat.model)) == NULL)
		return;
	own = openai_template_for_model(cm, &t);
	if (own ? chat_messages(w) == -1
	        : openai_template_render(t, w->chat.messages,
	              w->chat.n_messages, &w->prompt) == -1) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "cannot build the prompt");
		return;
	}
	w->g.kind = OPENAI_STREAM_CHAT;
	w->g.stream = w->chat.stream;
	w->g.include_usage = w->chat.include_usage;
	w->g.prefix_hash = chat_prefix_hash(&w->chat);
	if (openai_new_id(w->g.id, sizeof(w->g.id), "chatcmpl-") == -1) {
		api_error(r, 500, "server_error", "internal_error", NULL,
		    "cannot make an id");
		return;
	}
	api_genwork_start(
	    r, w, cm, &w->chat.sampling, own ? OPENAI_TEMPLATE_UNKNOWN : t);
}
