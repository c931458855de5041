/*
 * Response bodies and SSE events, written by hand into a caller-owned
 * buffer.  No JSON library on this path: a streamed token costs one memcpy
 * of the precomputed event prefix and one escape of its text (see
 * tests/bench/bench_openai.c for the figures).  Every body is checked
 * against the OpenAI shapes by parsing it back in tests/unit.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/oa_internal.h"

/* ---- shared pieces ------------------------------------------------------ */

static void
put_string(struct openai_buf *b, const char *s)
{
	openai_json_string(b, s, strlen(s));
}

static void
put_usage(struct openai_buf *b, const struct openai_usage *u)
{
	static const struct openai_usage zero;

	if (u == NULL)
		u = &zero;
	OA_PUTS(b, "\"usage\":{\"prompt_tokens\":");
	oa_put_u64(b, u->prompt_tokens);
	OA_PUTS(b, ",\"completion_tokens\":");
	oa_put_u64(b, u->completion_tokens);
	OA_PUTS(b, ",\"total_tokens\":");
	oa_put_u64(b, (uint64_t)u->prompt_tokens + u->completion_tokens);
	OA_PUTS(b, "}");
}

/* {"id":…,"object":…,"created":…,"model":…, — every completion body. */
static void
put_head(struct openai_buf *b, const char *id, const char *object,
    int64_t created, const char *model)
{
	OA_PUTS(b, "{\"id\":");
	put_string(b, id);
	OA_PUTS(b, ",\"object\":\"");
	oa_puts(b, object);
	OA_PUTS(b, "\",\"created\":");
	oa_put_i64(b, created);
	OA_PUTS(b, ",\"model\":");
	put_string(b, model);
	OA_PUTS(b, ",");
}

static int
done(const struct openai_buf *b)
{
	return b->failed ? -1 : 0;
}

/* ---- whole completions -------------------------------------------------- */

int
openai_chat_response(struct openai_buf *out, const char *id, const char *model,
    int64_t created, const char *text, size_t len, enum openai_finish finish,
    const struct openai_usage *usage)
{
	put_head(out, id, "chat.completion", created, model);
	OA_PUTS(out, "\"choices\":[{\"index\":0,\"message\":{\"role\":"
	             "\"assistant\",\"content\":");
	openai_json_string(out, text, len);
	OA_PUTS(out, ",\"refusal\":null},\"logprobs\":null,"
	             "\"finish_reason\":\"");
	oa_puts(out, openai_finish_name(finish));
	OA_PUTS(out, "\"}],");
	put_usage(out, usage);
	OA_PUTS(out, "}");
	return done(out);
}

int
openai_completion_response(struct openai_buf *out, const char *id,
    const char *model, int64_t created, const char *text, size_t len,
    enum openai_finish finish, const struct openai_usage *usage)
{
	put_head(out, id, "text_completion", created, model);
	OA_PUTS(out, "\"choices\":[{\"text\":");
	openai_json_string(out, text, len);
	OA_PUTS(out, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
	oa_puts(out, openai_finish_name(finish));
	OA_PUTS(out, "\"}],");
	put_usage(out, usage);
	OA_PUTS(out, "}");
	return done(out);
}

/* ---- streams ------------------------------------------------------------ */

int
openai_stream_init(struct openai_stream *st, enum openai_stream_kind kind,
    const char *id, const char *model, int64_t created, int include_usage)
{
	struct openai_buf b;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	st->kind = kind;
	st->include_usage = include_usage;
	openai_buf_init(&b);
	OA_PUTS(&b, "data: ");
	put_head(&b, id,
	    kind == OPENAI_STREAM_CHAT ? "chat.completion.chunk"
	                               : "text_completion",
	    created, model);
	OA_PUTS(&b, "\"choices\":[");
	if (!b.failed && b.len <= sizeof(st->prefix)) {
		memcpy(st->prefix, b.data, b.len);
		st->prefix_len = b.len;
		rc = 0;
	}
	openai_buf_free(&b);
	return rc;
}

/* The end of a chunk that carries a choice. */
static void
chunk_close(struct openai_stream *st, struct openai_buf *out)
{
	if (st->include_usage)
		OA_PUTS(out, "],\"usage\":null}\n\n");
	else
		OA_PUTS(out, "]}\n\n");
}

int
openai_stream_begin(struct openai_stream *st, struct openai_buf *out)
{
	if (st->begun)
		return done(out);
	st->begun = 1;
	if (st->kind != OPENAI_STREAM_CHAT)
		return done(out);
	openai_buf_append(out, st->prefix, st->prefix_len);
	OA_PUTS(out,
	    "{\"index\":0,\"delta\":{\"role\":\"assistant\","
	    "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}");
	chunk_close(st, out);
	return done(out);
}

/* A chunk up to the opening quote of its text. */
static void
delta_open(struct openai_stream *st, struct openai_buf *out)
{
	openai_buf_append(out, st->prefix, st->prefix_len);
	if (st->kind == OPENAI_STREAM_CHAT)
		OA_PUTS(out, "{\"index\":0,\"delta\":{\"content\":\"");
	else
		OA_PUTS(out, "{\"text\":\"");
}

static void
delta_close(struct openai_stream *st, struct openai_buf *out)
{
	if (st->kind == OPENAI_STREAM_CHAT)
		OA_PUTS(out, "\"},\"logprobs\":null,\"finish_reason\":null}");
	else
		OA_PUTS(out, "\",\"index\":0,\"logprobs\":null,"
		             "\"finish_reason\":null}");
	chunk_close(st, out);
}

/*
 * Complete the character held back from the previous delta with the
 * continuation bytes at the head of this one, and escape it (as U+FFFD
 * when it turns out invalid).  Returns how many bytes of text it used, or
 * len with the bytes still pending when the text ends before the
 * character does.
 */
static size_t
pending_complete(struct openai_stream *st, struct openai_buf *out,
    const unsigned char *text, size_t len)
{
	unsigned char tmp[4];
	size_t n = st->npending, need = 1, take = 0;

	/* pending[0] is a valid lead byte: oa_escape() held it back. */
	memcpy(tmp, st->pending, n);
	if ((tmp[0] & 0xE0) == 0xC0)
		need = 2;
	else if ((tmp[0] & 0xF0) == 0xE0)
		need = 3;
	else if ((tmp[0] & 0xF8) == 0xF0)
		need = 4;
	while (n < need && take < len && (text[take] & 0xC0) == 0x80)
		tmp[n++] = text[take++];
	if (n < need && take == len) {
		memcpy(st->pending, tmp, n);
		st->npending = n;
		return len;
	}
	oa_escape(out, tmp, n, NULL);
	st->npending = 0;
	return take;
}

int
openai_stream_delta(struct openai_stream *st, struct openai_buf *out,
    const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t mark, body, used = 0, hold = 0;

	if (st->ended)
		return -1;
	if (openai_stream_begin(st, out) == -1)
		return -1;
	mark = out->len;
	delta_open(st, out);
	body = out->len;
	if (st->npending > 0)
		used = pending_complete(st, out, p, len);
	if (used < len) {
		oa_escape(out, p + used, len - used, &hold);
		if (hold > 0)
			memcpy(st->pending, p + len - hold, hold);
		st->npending = hold;
	}
	if (out->failed)
		return -1;
	if (out->len == body) {
		/* All held back: no event (OpenAI never sends empty deltas). */
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
		return 0;
	}
	delta_close(st, out);
	return done(out);
}

int
openai_stream_finish(struct openai_stream *st, struct openai_buf *out,
    enum openai_finish finish, const struct openai_usage *usage)
{
	if (st->ended)
		return -1;
	openai_stream_begin(st, out);
	if (st->npending > 0) {
		delta_open(st, out);
		oa_escape(out, st->pending, st->npending, NULL);
		st->npending = 0;
		delta_close(st, out);
	}
	openai_buf_append(out, st->prefix, st->prefix_len);
	if (st->kind == OPENAI_STREAM_CHAT)
		OA_PUTS(out, "{\"index\":0,\"delta\":{},\"logprobs\":null,"
		             "\"finish_reason\":\"");
	else
		OA_PUTS(out, "{\"text\":\"\",\"index\":0,\"logprobs\":null,"
		             "\"finish_reason\":\"");
	oa_puts(out, openai_finish_name(finish));
	OA_PUTS(out, "\"}");
	chunk_close(st, out);
	if (st->include_usage) {
		openai_buf_append(out, st->prefix, st->prefix_len);
		OA_PUTS(out, "],");
		put_usage(out, usage);
		OA_PUTS(out, "}\n\n");
	}
	OA_PUTS(out, "data: [DONE]\n\n");
	st->ended = 1;
	return done(out);
}

/* ---- embeddings --------------------------------------------------------- */

int
openai_embeddings_begin(struct openai_buf *out)
{
	OA_PUTS(out, "{\"object\":\"list\",\"data\":[");
	return done(out);
}

/* The vector as base64 of its little-endian float32 bytes. */
static void
put_base64(struct openai_buf *b, const float *v, size_t dim)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char in[3];
	char enc[4];
	size_t total = dim * 4, i, k, n = 0;
	uint32_t bits = 0;

	OA_PUTS(b, "\"");
	for (i = 0; i < total; i += 3) {
		for (k = 0; k < 3; k++) {
			if (i + k >= total) {
				in[k] = 0;
				continue;
			}
			if ((i + k) % 4 == 0)
				memcpy(&bits, &v[(i + k) / 4], 4);
			in[k] = (unsigned char)(bits >> (8 * ((i + k) % 4)));
		}
		n = total - i < 3 ? total - i : 3;
		enc[0] = tab[in[0] >> 2];
		enc[1] = tab[((in[0] & 3) << 4) | (in[1] >> 4)];
		enc[2] = n > 1 ? tab[((in[1] & 15) << 2) | (in[2] >> 6)] : '=';
		enc[3] = n > 2 ? tab[in[2] & 63] : '=';
		openai_buf_append(b, enc, 4);
	}
	OA_PUTS(b, "\"");
}

int
openai_embeddings_add(struct openai_buf *out, size_t index, const float *v,
    size_t dim, enum openai_encoding enc)
{
	size_t i;

	if (index > 0)
		OA_PUTS(out, ",");
	OA_PUTS(out, "{\"object\":\"embedding\",\"index\":");
	oa_put_u64(out, index);
	OA_PUTS(out, ",\"embedding\":");
	if (enc == OPENAI_ENCODING_BASE64)
		put_base64(out, v, dim);
	else {
		OA_PUTS(out, "[");
		for (i = 0; i < dim; i++) {
			if (i > 0)
				OA_PUTS(out, ",");
			/* 9 significant digits round-trip a float32. */
			oa_put_double(out, v[i], 9);
		}
		OA_PUTS(out, "]");
	}
	OA_PUTS(out, "}");
	return done(out);
}

int
openai_embeddings_end(
    struct openai_buf *out, const char *model, uint32_t prompt_tokens)
{
	OA_PUTS(out, "],\"model\":");
	put_string(out, model);
	OA_PUTS(out, ",\"usage\":{\"prompt_tokens\":");
	oa_put_u64(out, prompt_tokens);
	OA_PUTS(out, ",\"total_tokens\":");
	oa_put_u64(out, prompt_tokens);
	OA_PUTS(out, "}}");
	return done(out);
}

/* ---- models ------------------------------------------------------------- */

static void
put_model(struct openai_buf *b, const char *id, size_t len, int64_t created)
{
	OA_PUTS(b, "{\"id\":");
	openai_json_string(b, id, len);
	OA_PUTS(b, ",\"object\":\"model\",\"created\":");
	oa_put_i64(b, created);
	OA_PUTS(b, ",\"owned_by\":\"localai\"}");
}

int
openai_models_list(struct openai_buf *out, const struct conf_model *models,
    size_t n, int64_t created)
{
	size_t i;

	OA_PUTS(out, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			OA_PUTS(out, ",");
		put_model(out, models[i].name,
		    strnlen(models[i].name, sizeof(models[i].name)), created);
	}
	OA_PUTS(out, "]}");
	return done(out);
}

int
openai_model_object(struct openai_buf *out, const char *id, int64_t created)
{
	put_model(out, id, strlen(id), created);
	return done(out);
}

/* ---- transcriptions ----------------------------------------------------- */

const char *
openai_transcript_content_type(enum openai_transcript_format f)
{
	switch (f) {
	case OPENAI_TRANSCRIPT_JSON:
	case OPENAI_TRANSCRIPT_VERBOSE_JSON:
		return "application/json";
	case OPENAI_TRANSCRIPT_VTT:
		return "text/vtt; charset=utf-8";
	case OPENAI_TRANSCRIPT_TEXT:
	case OPENAI_TRANSCRIPT_SRT:
		break;
	}
	return "text/plain; charset=utf-8";
}

const char *
openai_speech_content_type(void)
{
	return "audio/wav";
}

static void
put_segment(struct openai_buf *b, const struct openai_segment *s, size_t i)
{
	if (i > 0)
		OA_PUTS(b, ",");
	OA_PUTS(b, "{\"id\":");
	oa_put_i64(b, s->id);
	OA_PUTS(b, ",\"seek\":0,\"start\":");
	oa_put_double(b, s->start, 10);
	OA_PUTS(b, ",\"end\":");
	oa_put_double(b, s->end, 10);
	OA_PUTS(b, ",\"text\":");
	put_string(b, s->text != NULL ? s->text : "");
	OA_PUTS(b, ",\"tokens\":[],\"temperature\":0,\"avg_logprob\":0,"
	           "\"compression_ratio\":0,\"no_speech_prob\":0}");
}

static void
verbose_json(struct openai_buf *b, const struct openai_transcript *t)
{
	size_t i;

	OA_PUTS(b, "{\"task\":\"transcribe\",\"language\":");
	put_string(b, t->language != NULL ? t->language : "");
	OA_PUTS(b, ",\"duration\":");
	oa_put_double(b, t->duration, 10);
	OA_PUTS(b, ",\"text\":");
	put_string(b, t->text != NULL ? t->text : "");
	OA_PUTS(b, ",\"segments\":[");
	for (i = 0; i < t->n_segments; i++)
		put_segment(b, &t->segments[i], i);
	OA_PUTS(b, "]}");
}

/* HH:MM:SS,mmm (SRT) or HH:MM:SS.mmm (WebVTT). */
static void
put_timestamp(struct openai_buf *b, double seconds, char sep)
{
	char tmp[40];
	long long ms;
	int n;

	ms = isfinite(seconds) && seconds > 0 ? llround(seconds * 1000) : 0;
	n = snprintf(tmp, sizeof(tmp), "%02lld:%02lld:%02lld%c%03lld",
	    ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep, ms % 1000);
	openai_buf_append(b, tmp, (size_t)n);
}

static int
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

/*
 * A cue's text on one line: outer whitespace trimmed, line breaks turned
 * into spaces (a blank line would end the cue), invalid UTF-8 as U+FFFD,
 * and for WebVTT "-->" written as "->" (it may not appear in a cue).
 * Returns 0 when nothing is left.
 */
static int
put_cue_text(struct openai_buf *b, const char *text, int vtt)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), i, n;

	while (len > 0 && is_space(s[len - 1]))
		len--;
	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	if (len == 0)
		return 0;
	for (i = 0; i < len; i += n) {
		n = oa_utf8_char(s + i, len - i);
		if (n == 0) {
			OA_PUTS(b, "\xEF\xBF\xBD");
			n = 1;
		} else if (s[i] == '\r' || s[i] == '\n')
			OA_PUTS(b, " ");
		else if (vtt && len - i >= 3 && memcmp(s + i, "-->", 3) == 0) {
			OA_PUTS(b, "->");
			n = 3;
		} else
			openai_buf_append(b, s + i, n);
	}
	return 1;
}

/* One cue; numbered (SRT) or not (WebVTT). */
static void
put_cue(struct openai_buf *b, unsigned number, double start, double end,
    const char *text, int vtt)
{
	size_t mark = b->len;

	if (!vtt) {
		oa_put_u64(b, number);
		OA_PUTS(b, "\n");
	}
	put_timestamp(b, start, vtt ? '.' : ',');
	OA_PUTS(b, " --> ");
	put_timestamp(b, end, vtt ? '.' : ',');
	OA_PUTS(b, "\n");
	if (!put_cue_text(b, text, vtt)) {
		/* An empty cue would read as the end of the cue list. */
		b->len = mark;
		if (b->data != NULL)
			b->data[mark] = '\0';
		return;
	}
	OA_PUTS(b, "\n\n");
}

/*
 * Subtitles.  Segments with no text are skipped (numbering stays
 * consecutive); a transcript without segments becomes one cue spanning
 * 0 → duration.
 */
static void
subtitles(struct openai_buf *b, const struct openai_transcript *t, int vtt)
{
	size_t i, before;
	unsigned number = 1;

	if (vtt)
		OA_PUTS(b, "WEBVTT\n\n");
	if (t->n_segments == 0) {
		put_cue(b, 1, 0, t->duration, t->text ? t->text : "", vtt);
		return;
	}
	for (i = 0; i < t->n_segments; i++) {
		before = b->len;
		put_cue(b, number, t->segments[i].start, t->segments[i].end,
		    t->segments[i].text ? t->segments[i].text : "", vtt);
		if (b->len != before)
			number++;
	}
}

int
openai_transcript_response(struct openai_buf *out,
    enum openai_transcript_format f, const struct openai_transcript *t)
{
	const char *text = t->text != NULL ? t->text : "";

	switch (f) {
	case OPENAI_TRANSCRIPT_JSON:
		OA_PUTS(out, "{\"text\":");
		put_string(out, text);
		OA_PUTS(out, "}");
		break;
	case OPENAI_TRANSCRIPT_TEXT:
		oa_put_utf8(out, text, strlen(text));
		OA_PUTS(out, "\n");
		break;
	case OPENAI_TRANSCRIPT_VERBOSE_JSON:
		verbose_json(out, t);
		break;
	case OPENAI_TRANSCRIPT_SRT:
	case OPENAI_TRANSCRIPT_VTT:
		subtitles(out, t, f == OPENAI_TRANSCRIPT_VTT);
		break;
	}
	return done(out);
}
