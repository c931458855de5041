/*
 * The OpenAI layer of the api process: pure code, no sockets, no HTTP
 * library, no global state.
 *
 * It turns request bodies into C structs (with OpenAI-shaped errors that
 * name the offending field), builds every response body and SSE event the
 * OpenAI API defines for the endpoints we serve, renders chat templates for
 * the prompt, and parses multipart/form-data uploads as they stream in.
 * Everything here is reentrant: state lives in the structs the caller
 * passes, so any number of threads may use it at once on distinct structs.
 *
 * Memory: a parsed request owns its strings; free it with its _free()
 * function (safe on a zeroed or half-filled struct).  Output is appended to
 * a caller-owned struct openai_buf, which the caller reuses between chunks
 * so the streaming hot path allocates nothing in the steady state.
 *
 * Text policy for output: every string we emit is valid UTF-8 JSON.
 * Control characters are escaped (\n, \t, … or \u00XX) and every invalid
 * UTF-8 sequence (stray continuation byte, overlong form, surrogate, code
 * point above U+10FFFF, truncated sequence) becomes U+FFFD.  Streams hold
 * back a multi-byte character split across two backend tokens until it is
 * complete, so a character is never broken in two events.
 *
 * The full reference, with exact template renderings, is docs/openai.md.
 */
#ifndef LOCALAI_OPENAI_H
#define LOCALAI_OPENAI_H

#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

/* ---- output buffer ------------------------------------------------------ */

/*
 * A growable byte buffer.  Appends never fail loudly: on ENOMEM the buffer
 * sets `failed` and ignores further appends, so a builder appends freely and
 * checks once (every builder below returns -1 when `failed` is set).  data
 * is NUL-terminated whenever it is not NULL.
 */
struct openai_buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

void openai_buf_init(struct openai_buf *b);
void openai_buf_free(struct openai_buf *b);
/* Empty the buffer (and clear `failed`), keeping its memory. */
void openai_buf_reset(struct openai_buf *b);
int openai_buf_append(struct openai_buf *b, const void *data, size_t len);

/* ---- errors ------------------------------------------------------------- */

/*
 * An error as the client sees it: the HTTP status and the body
 * {"error":{"message","type","param","code"}}.  Empty param/code are sent as
 * null.  Plain fixed-size data: no allocation, safe to copy.
 */
struct openai_error {
	int status;
	char type[32];
	char code[48];
	char param[96];
	char message[512];
};

void openai_error_set(struct openai_error *err, int status, const char *type,
    const char *code, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 404 model_not_found, OpenAI's wording. */
void openai_error_model_not_found(struct openai_error *err, const char *model);
/* 401 invalid_api_key; `given` says whether a key was presented at all. */
void openai_error_invalid_api_key(struct openai_error *err, int given);
/* 404 for an unknown path, 405 for a known path with the wrong method. */
void openai_error_not_found(
    struct openai_error *err, const char *method, const char *path);
void openai_error_method_not_allowed(
    struct openai_error *err, const char *method, const char *path);
/* 413: a body or upload larger than `max` bytes. */
void openai_error_too_large(struct openai_error *err, uint64_t max);
/* 503 server_error "overloaded" (send Retry-After alongside). */
void openai_error_overloaded(struct openai_error *err, const char *why);
/* 504 server_error "timeout": `phase` is "queue", "first token", … */
void openai_error_timeout(struct openai_error *err, const char *phase);
/* 500 server_error with the given message (no internal details, please). */
void openai_error_internal(struct openai_error *err, const char *message);
/* The JSON body of an error. */
int openai_error_json(const struct openai_error *err, struct openai_buf *out);

/* ---- limits ------------------------------------------------------------- */

/*
 * Limits enforced before and while parsing.  A zero member means "use the
 * default" (the OPENAI_DEFAULT_* values below).
 */
struct openai_limits {
	uint64_t body_max; /* JSON body bytes; 413 beyond */
	uint32_t depth_max; /* JSON nesting depth; 400 beyond */
	uint64_t string_max; /* bytes of one decoded JSON string */
	uint32_t messages_max; /* chat messages */
	uint32_t parts_max; /* content parts of one message */
	uint32_t inputs_max; /* embeddings inputs */
	uint64_t upload_max; /* the file of a multipart upload */
	uint32_t form_parts_max; /* parts of a multipart body */
	uint32_t form_header_max; /* header bytes of one part */
};

#define OPENAI_DEFAULT_BODY_MAX (8u * 1024 * 1024)
#define OPENAI_DEFAULT_DEPTH_MAX 64
#define OPENAI_DEFAULT_STRING_MAX (1024u * 1024)
#define OPENAI_DEFAULT_MESSAGES_MAX 2048
#define OPENAI_DEFAULT_PARTS_MAX 256
#define OPENAI_DEFAULT_INPUTS_MAX 2048
#define OPENAI_DEFAULT_UPLOAD_MAX (100u * 1024 * 1024)
#define OPENAI_DEFAULT_FORM_PARTS_MAX 32
#define OPENAI_DEFAULT_FORM_HEADER_MAX 8192

/* Fill *l with the defaults. */
void openai_limits_default(struct openai_limits *l);
/* Take the frontend's configured limits (zero settings keep defaults). */
void openai_limits_from_conf(
    struct openai_limits *l, const struct conf_frontend *f);

/*
 * The pre-scan that every JSON parse below runs first, exposed so the HTTP
 * glue can feed it body chunks as they arrive and refuse a body at the
 * first violation, before it is complete: 413 beyond body_max, 400 for
 * nesting deeper than depth_max or a string longer than string_max.  It
 * understands strings and escapes but does not validate JSON (jansson
 * does that afterwards, with line and column).
 */
struct openai_prescan {
	uint64_t body_max;
	uint64_t string_max;
	uint32_t depth_max;
	uint32_t depth;
	uint64_t offset; /* bytes fed so far */
	uint64_t string_len; /* decoded bytes of the current string */
	int in_string;
	int escape; /* after a backslash */
	int failed;
};

void openai_prescan_init(
    struct openai_prescan *ps, const struct openai_limits *l);
int openai_prescan_feed(struct openai_prescan *ps, const void *data, size_t len,
    struct openai_error *err);

/* ---- requests ----------------------------------------------------------- */

enum openai_role {
	OPENAI_ROLE_SYSTEM,
	OPENAI_ROLE_DEVELOPER,
	OPENAI_ROLE_USER,
	OPENAI_ROLE_ASSISTANT,
	OPENAI_ROLE_TOOL,
};

/* "system", "developer", "user", "assistant", "tool". */
const char *openai_role_name(enum openai_role role);
/*
 * The role to hand a backend's own chat template (PredictOptions.Messages):
 * as openai_role_name() but "developer" becomes "system", which every
 * tokenizer template knows.
 */
const char *openai_role_backend_name(enum openai_role role);

/*
 * One chat message.  content is never NULL: a null content (assistant
 * turns that only carry tool_calls) is "", and an array of text parts is
 * joined with "\n".
 */
struct openai_message {
	enum openai_role role;
	char *content;
	size_t content_len;
	char *name; /* NULL when absent */
	char *tool_call_id; /* NULL when absent */
	char *tool_calls; /* assistant tool_calls as compact JSON */
};

#define OPENAI_STOP_MAX 4 /* per request, as OpenAI */
#define OPENAI_TEMPLATE_STOP_MAX 2
#define OPENAI_STOPS_TOTAL                                                     \
	(OPENAI_STOP_MAX + CONF_MAX_STOP + OPENAI_TEMPLATE_STOP_MAX)

/*
 * Sampling settings of a chat or text completion.  have_* says whether the
 * request (or, after openai_sampling_apply_model(), the model config) set
 * the value; unset values are left for the backend to choose, except the
 * OpenAI defaults filled in by apply_model (temperature 1, top_p 1,
 * penalties 0).  stop holds the request's stops followed by the model's
 * and the template's, de-duplicated, none empty.
 */
struct openai_sampling {
	int have_temperature, have_top_p, have_top_k;
	int have_max_tokens, have_seed;
	int have_presence_penalty, have_frequency_penalty;
	double temperature;
	double top_p;
	int32_t top_k;
	int32_t max_tokens;
	int64_t seed;
	double presence_penalty;
	double frequency_penalty;
	size_t n_stop;
	char *stop[OPENAI_STOPS_TOTAL];
};

/* POST /v1/chat/completions */
struct openai_chat {
	char *model;
	struct openai_message *messages;
	size_t n_messages;
	struct openai_sampling sampling;
	int stream;
	int include_usage; /* stream_options */
	char *user; /* NULL when absent */
};

/* POST /v1/completions */
struct openai_completion {
	char *model;
	char *prompt;
	size_t prompt_len;
	struct openai_sampling sampling;
	int stream;
	int include_usage;
	char *user;
};

enum openai_encoding {
	OPENAI_ENCODING_FLOAT,
	OPENAI_ENCODING_BASE64,
};

/* POST /v1/embeddings */
struct openai_embeddings {
	char *model;
	char **inputs;
	size_t *input_lens;
	size_t n_inputs;
	enum openai_encoding encoding;
	char *user;
};

/* POST /v1/audio/speech (only WAV is produced). */
struct openai_speech {
	char *model;
	char *input;
	char *voice; /* "" when absent: the model's voice */
	double speed; /* 0.25 – 4.0, default 1 */
};

#define OPENAI_SPEECH_INPUT_MAX 4096 /* characters, as OpenAI */

enum openai_transcript_format {
	OPENAI_TRANSCRIPT_JSON,
	OPENAI_TRANSCRIPT_TEXT,
	OPENAI_TRANSCRIPT_VERBOSE_JSON,
	OPENAI_TRANSCRIPT_SRT,
	OPENAI_TRANSCRIPT_VTT,
};

/* POST /v1/audio/transcriptions: the form fields besides the file. */
struct openai_transcription {
	char *model;
	char *language; /* NULL when absent */
	char *prompt; /* NULL when absent */
	enum openai_transcript_format format;
	int have_temperature;
	double temperature;
	/* Filled by openai_form_finish(): */
	int have_file;
	char *filename; /* as the client named it, or NULL */
	uint64_t file_size;
};

/*
 * Parse a body.  Each runs the pre-scan, jansson, then validates every
 * field it knows (unknown fields are ignored, as OpenAI does; a null value
 * counts as absent).  Return 0 with *out filled, or -1 with *err set and
 * *out freed.  `limits` may be NULL for the defaults.
 */
int openai_chat_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_chat *out,
    struct openai_error *err);
int openai_completion_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_completion *out,
    struct openai_error *err);
int openai_embeddings_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_embeddings *out,
    struct openai_error *err);
int openai_speech_parse(const char *body, size_t len,
    const struct openai_limits *limits, struct openai_speech *out,
    struct openai_error *err);
void openai_chat_free(struct openai_chat *r);
void openai_completion_free(struct openai_completion *r);
void openai_embeddings_free(struct openai_embeddings *r);
void openai_speech_free(struct openai_speech *r);
void openai_transcription_free(struct openai_transcription *r);

/*
 * One transcription form field (name, value of len bytes).  Known fields
 * are validated and stored; unknown ones are ignored.  Used by
 * openai_form_*, exposed for callers with their own form parser.
 */
int openai_transcription_field(struct openai_transcription *r, const char *name,
    const char *value, size_t len, const struct openai_limits *limits,
    struct openai_error *err);
/* Required fields present?  (model, and the file when need_file.) */
int openai_transcription_check(const struct openai_transcription *r,
    int need_file, struct openai_error *err);

/* ---- model defaults and chat templates -------------------------------- */

enum openai_template {
	OPENAI_TEMPLATE_UNKNOWN = -1,
	OPENAI_TEMPLATE_PLAIN = 0, /* the fallback: "Role: text" lines */
	OPENAI_TEMPLATE_CHATML,
	OPENAI_TEMPLATE_LLAMA3,
	OPENAI_TEMPLATE_LLAMA2,
	OPENAI_TEMPLATE_MISTRAL,
	OPENAI_TEMPLATE_ZEPHYR,
	OPENAI_TEMPLATE_GEMMA,
	OPENAI_TEMPLATE_PHI3,
};

/*
 * A template by its config name (case-insensitive; "" and "plain" are the
 * fallback).  OPENAI_TEMPLATE_UNKNOWN for anything else: the config loader
 * should refuse such a model config.
 */
enum openai_template openai_template_find(const char *name);
const char *openai_template_name(enum openai_template t);
/* The template's end-of-turn strings, NULL-terminated. */
const char *const *openai_template_stops(enum openai_template t);
/*
 * How a model's chat prompt is built: 1 when the backend renders it with
 * its tokenizer's template (send Messages, UseTokenizerTemplate), else 0
 * with *t the template to render here (an unknown name falls back to plain).
 */
int openai_template_for_model(
    const struct conf_model *m, enum openai_template *t);
/*
 * Append the prompt for `msgs`, ending with the generation prompt (the
 * opening of the assistant's turn).  Exact renderings: docs/openai.md.
 */
int openai_template_render(enum openai_template t,
    const struct openai_message *msgs, size_t n, struct openai_buf *out);

/*
 * Fill what the request left unset from the model config (parameters and
 * stop list), add the template's stops (t may be OPENAI_TEMPLATE_UNKNOWN
 * for none, e.g. with the backend's own template), then the OpenAI
 * defaults.  -1 only when out of memory.
 */
int openai_sampling_apply_model(struct openai_sampling *s,
    const struct conf_model *m, enum openai_template t);

/* ---- responses ---------------------------------------------------------- */

enum openai_finish {
	OPENAI_FINISH_STOP,
	OPENAI_FINISH_LENGTH,
};

struct openai_usage {
	uint32_t prompt_tokens;
	uint32_t completion_tokens;
};

/* "stop" or "length". */
const char *openai_finish_name(enum openai_finish f);

#define OPENAI_ID_MAX 64

/*
 * A fresh random id "<prefix><24 alphanumerics>" ("chatcmpl-", "cmpl-").
 * Uses getrandom(2).  -1 when it does not fit.
 */
int openai_new_id(char *out, size_t outsz, const char *prefix);

/* Append a JSON string literal (quotes included) under the text policy. */
void openai_json_string(struct openai_buf *out, const char *s, size_t len);

/* Whole (non-streaming) bodies. */
int openai_chat_response(struct openai_buf *out, const char *id,
    const char *model, int64_t created, const char *text, size_t len,
    enum openai_finish finish, const struct openai_usage *usage);
int openai_completion_response(struct openai_buf *out, const char *id,
    const char *model, int64_t created, const char *text, size_t len,
    enum openai_finish finish, const struct openai_usage *usage);

/*
 * Embeddings, one vector at a time (so vectors need not all be held):
 * begin, add each input's vector with index 0, 1, …, end.  base64 is the
 * little-endian float32 array, as OpenAI sends it.  Non-finite values are
 * written as 0 (JSON has no NaN).
 */
int openai_embeddings_begin(struct openai_buf *out);
int openai_embeddings_add(struct openai_buf *out, size_t index, const float *v,
    size_t dim, enum openai_encoding enc);
int openai_embeddings_end(
    struct openai_buf *out, const char *model, uint32_t prompt_tokens);

/* GET /v1/models and GET /v1/models/{id}; owned_by is "localai". */
int openai_models_list(struct openai_buf *out, const struct conf_model *models,
    size_t n, int64_t created);
int openai_model_object(
    struct openai_buf *out, const char *id, int64_t created);

/* A transcript as the backend returns it, times in seconds. */
struct openai_segment {
	int32_t id;
	double start;
	double end;
	const char *text;
};

struct openai_transcript {
	const char *text;
	const char *language; /* NULL: unknown */
	double duration; /* seconds */
	const struct openai_segment *segments;
	size_t n_segments;
};

int openai_transcript_response(struct openai_buf *out,
    enum openai_transcript_format f, const struct openai_transcript *t);
/* Content-Type of the transcription body in that format. */
const char *openai_transcript_content_type(enum openai_transcript_format f);
/* Content-Type of /v1/audio/speech bodies: "audio/wav". */
const char *openai_speech_content_type(void);

/* ---- streaming (SSE) ---------------------------------------------------- */

enum openai_stream_kind {
	OPENAI_STREAM_CHAT, /* chat.completion.chunk */
	OPENAI_STREAM_COMPLETION, /* text_completion */
};

/*
 * One SSE stream.  The event prefix (id, object, created, model) is built
 * once at init, so a chunk costs one escape of the token text.
 * State: begin (role chunk sent) → deltas → finish, or error at any time.
 */
struct openai_stream {
	enum openai_stream_kind kind;
	int include_usage;
	int begun;
	int ended;
	unsigned char pending[4]; /* an incomplete UTF-8 character */
	size_t npending;
	size_t prefix_len;
	char prefix[768];
};

/* -1 when id or model do not fit the prefix. */
int openai_stream_init(struct openai_stream *st, enum openai_stream_kind kind,
    const char *id, const char *model, int64_t created, int include_usage);
/*
 * Chat streams: the first chunk, delta {"role":"assistant","content":""}.
 * Called implicitly by the first delta; nothing for completions.
 */
int openai_stream_begin(struct openai_stream *st, struct openai_buf *out);
/*
 * Append the event for `len` bytes of generated text.  Appends nothing
 * when all of it is held back (an incomplete UTF-8 character).
 */
int openai_stream_delta(struct openai_stream *st, struct openai_buf *out,
    const char *text, size_t len);
/*
 * The end: the chunk with finish_reason, the usage chunk (choices [])
 * when include_usage, then "data: [DONE]".  usage may be NULL (zeros).
 */
int openai_stream_finish(struct openai_stream *st, struct openai_buf *out,
    enum openai_finish finish, const struct openai_usage *usage);
/*
 * A failure after the stream started: one event data: {"error":{…}} and
 * no [DONE], so clients (the official SDKs raise on it) see a failure,
 * never a silent end.
 */
int openai_stream_error(struct openai_stream *st, struct openai_buf *out,
    const struct openai_error *err);
/* ": keep-alive" comment, for long waits (cold loads) before the output. */
int openai_sse_keepalive(struct openai_buf *out);

/* ---- multipart transcription form -------------------------------------- */

/*
 * Where the file part goes: begin once with the client's filename (may be
 * NULL; never use it as a path) and Content-Type (NULL when absent), data
 * as it arrives, end once when the part is complete.  After any error end
 * is not called: the caller discards what begin created.  A callback
 * returning non-zero aborts the upload with 500 "The upload could not be
 * stored."
 */
struct openai_file_sink {
	int (*begin)(void *arg, const char *filename, const char *content_type);
	int (*data)(void *arg, const void *data, size_t len);
	int (*end)(void *arg);
};

struct openai_form;

/*
 * A transcription upload: the multipart parser plus the form fields.  The
 * part named "file" streams to the sink (at most upload_max bytes, 413
 * beyond); other parts are fields of at most min(string_max, 64 KiB) bytes;
 * unknown fields, and other parts with a filename, are ignored.  sink may
 * be NULL (the file is counted, not kept).
 */
struct openai_form *openai_form_new(const char *content_type,
    const struct openai_limits *limits, const struct openai_file_sink *sink,
    void *arg, struct openai_error *err);
/* Feed body bytes as they arrive.  -1 with *err; the error is sticky. */
int openai_form_feed(struct openai_form *f, const void *data, size_t len,
    struct openai_error *err);
/*
 * At the end of the body: 0 with *out (moved out of the form; free it with
 * openai_transcription_free), or -1 with *err.
 */
int openai_form_finish(struct openai_form *f, struct openai_transcription *out,
    struct openai_error *err);
void openai_form_free(struct openai_form *f);

#endif
