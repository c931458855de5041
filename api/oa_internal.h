/*
 * Helpers shared by the files of the OpenAI layer (api/openai.c,
 * api/oa_*.c).  Not part of the API: the api process includes openai.h.
 */
#ifndef LOCALAI_OA_INTERNAL_H
#define LOCALAI_OA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/openai.h"

/* Append a string literal without strlen. */
#define OA_PUTS(b, lit) openai_buf_append((b), (lit), sizeof(lit) - 1)

void oa_puts(struct openai_buf *b, const char *s);
void oa_put_i64(struct openai_buf *b, int64_t v);
void oa_put_u64(struct openai_buf *b, uint64_t v);
/* A double as a JSON number (%.17g trimmed; non-finite as 0). */
void oa_put_double(struct openai_buf *b, double v, int digits);
/*
 * Escape len bytes into JSON string content (no quotes).  When `hold` is
 * not NULL and the text ends in the first bytes of a valid multi-byte
 * character, those bytes are not written and their count is stored in
 * *hold; otherwise (hold NULL) they become U+FFFD.
 */
void oa_escape(
    struct openai_buf *b, const unsigned char *s, size_t len, size_t *hold);
/* Copy text as it is, but with invalid UTF-8 as U+FFFD (plain-text bodies). */
void oa_put_utf8(struct openai_buf *b, const char *s, size_t len);
/* Bytes of the valid UTF-8 character at s (0 when invalid). */
size_t oa_utf8_char(const unsigned char *s, size_t len);
/* Characters in valid UTF-8 text (invalid bytes count one each). */
size_t oa_utf8_count(const char *s, size_t len);
/* The defaults merged into a (possibly NULL) limits struct. */
void oa_limits_resolve(
    struct openai_limits *out, const struct openai_limits *in);

/* ---- request fields (oa_fields.c) ---------------------------------------- */

/*
 * Parse a body into a JSON object: pre-scan, jansson, top level must be an
 * object.  NULL with *err set.
 */
json_t *oa_parse_object(const char *body, size_t len,
    const struct openai_limits *l, struct openai_error *err);

/* What a JSON value is, in OpenAI's error wording ("a string", …). */
const char *oa_json_kind(const json_t *v);

void oa_err_type(struct openai_error *err, const char *param,
    const char *expected, const json_t *got);
void oa_err_missing(struct openai_error *err, const char *param);
void oa_err_value(struct openai_error *err, const char *param, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
void oa_err_nomem(struct openai_error *err);

/*
 * Field getters.  Each looks up key in obj (a missing key or null is
 * "absent": *have = 0 and 0 returned, or the missing error when required),
 * checks the type and range, and names the field in the error.
 */
int oa_get_string(json_t *obj, const char *key, int required, char **out,
    size_t *lenp, struct openai_error *err);
int oa_get_number(json_t *obj, const char *key, double min, double max,
    int *have, double *out, struct openai_error *err);
int oa_get_int(json_t *obj, const char *key, int64_t min, int64_t max,
    int *have, int64_t *out, struct openai_error *err);
int oa_get_bool(json_t *obj, const char *key, int *have, int *out,
    struct openai_error *err);
/* The same for a nested field: param is its full name ("messages[2].name"). */
int oa_get_string_at(json_t *obj, const char *key, const char *param,
    int required, char **out, size_t *lenp, struct openai_error *err);
/* model: a required non-empty string. */
int oa_get_model(json_t *obj, char **out, struct openai_error *err);
/* The sampling fields common to chat and text completions. */
int oa_get_sampling(
    json_t *obj, struct openai_sampling *s, struct openai_error *err);
/* stream, stream_options.include_usage. */
int oa_get_stream(
    json_t *obj, int *stream, int *include_usage, struct openai_error *err);
/* n must be absent, null or 1. */
int oa_check_n(json_t *obj, struct openai_error *err);
void oa_sampling_free(struct openai_sampling *s);

#endif
