/*
 * Internals of the configuration loader, shared by supervisor/config.c,
 * conf_apply.c, conf_model.c and conf_parse.c.  Nothing outside the conf_*
 * files includes this header; the public contract is supervisor/config.h.
 *
 * Both the main configuration and a model config are described by a table
 * of keys (struct conf_key): the key's path in the file, its environment
 * variable, its kind, where its value lives in the target struct, and its
 * range.  One generic walker applies a libconfig tree to a table, one
 * generic setter applies a string (environment, flags), and one printer
 * prints a table; unknown keys are whatever the table does not list.
 */
#ifndef LOCALAI_CONF_IMPL_H
#define LOCALAI_CONF_IMPL_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "supervisor/config.h"

/* How a key's value is read, stored, range-checked and printed. */
enum conf_kind {
	CK_STRING, /* char[size], optional check function */
	CK_BOOL, /* int, true/false */
	CK_UINT, /* uint32_t in [min, max] */
	CK_INT, /* int32_t in [min, max] */
	CK_FLOAT, /* float in [fmin, fmax]; ints accepted */
	CK_SIZE, /* uint32_t or uint64_t (by size) bytes */
	CK_DURATION, /* uint32_t milliseconds */
	CK_KEYS, /* list of secrets, stored as SHA-256; aux = count */
	CK_HASHED, /* one secret, stored as SHA-256; aux = have flag */
	CK_LABELS, /* group of label = "value"; aux = count */
	CK_STRLIST, /* list of strings, char[max][size]; aux = count */
	CK_LOGLEVEL, /* "info", "verbose", "debug" -> int 0..2 */
	CK_SHA256, /* 64 hex digits -> uint8_t[32]; aux = have flag */
};

#define CKF_SECRET 0x01 /* printed as "********" when set */
#define CKF_MASKURL 0x02 /* a password inside is printed masked */
#define CKF_REQUIRED 0x04 /* a model config must set it */
#define CKF_OPTIONAL 0x08 /* no default: printed only when set */

#define CONF_NOAUX ((size_t)-1)
#define CONF_KEYS_MAX 64
#define CONF_WHERE_MAX 300

/* Extra validation of a string value: NULL when fine, else the reason. */
typedef const char *conf_check_fn(const char *s);

struct conf_key {
	const char *path; /* "frontend.body_max" */
	const char *env; /* "LOCALAI_BODY_MAX", NULL: none */
	enum conf_kind kind;
	unsigned flags; /* CKF_* */
	size_t off; /* offset of the value in the struct */
	size_t size; /* field size (element size for lists) */
	size_t aux; /* offset of the count/have field */
	int64_t min, max; /* ranges; lists: max elements */
	double fmin, fmax; /* CK_FLOAT range */
	conf_check_fn *check;
};

/* One load: a table applied to one struct, with its errors. */
struct conf_ctx {
	const struct conf_key *keys;
	size_t nkeys;
	void *base;
	unsigned char set[CONF_KEYS_MAX]; /* value given by a source */
	unsigned char seen[CONF_KEYS_MAX]; /* in the file, valid or not */
	char where[CONF_KEYS_MAX][CONF_WHERE_MAX];
	uint32_t nerr;
	char first[512];
	/* Lines with a 32-bit overflow: their (wrapped) ints are ignored. */
	char wrapped[8][CONF_WHERE_MAX];
	unsigned nwrapped;
	conf_report_fn *report;
	void *arg;
};

extern const struct conf_key conf_main_keys[];
extern const size_t conf_main_nkeys;
extern const struct conf_key conf_model_keys[];
extern const size_t conf_model_nkeys;

/* conf_apply.c: the table machinery (conf_print.c: printing). */
void conf_ctx_init(struct conf_ctx *x, const struct conf_key *keys,
    size_t nkeys, void *base, conf_report_fn *report, void *arg);
void conf_ctx_error(struct conf_ctx *x, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int conf_key_index(const struct conf_ctx *x, const char *path);
int conf_is_set(const struct conf_ctx *x, const char *path);
const char *conf_where(const struct conf_ctx *x, const char *path);
void conf_setting_where(const config_setting_t *s, char *buf, size_t len);
void conf_walk(
    struct conf_ctx *x, const config_setting_t *group, const char *prefix);
int conf_apply_string(
    struct conf_ctx *x, size_t idx, const char *value, const char *where);
int conf_scan_sources(struct conf_ctx *x, const config_t *cfg);
int conf_read_file(struct conf_ctx *x, config_t *cfg, const char *path);
void conf_print_table(FILE *fp, const struct conf_key *keys, size_t nkeys,
    const void *base, int indent);

/* conf_model.c */
void conf_print_model(FILE *fp, const struct conf_model *mod, int indent);

/* conf_parse.c: pure helpers. */
size_t conf_scan_ints(
    const char *text, size_t len, unsigned *line, char *lit, size_t litlen);
void conf_mask_url(const char *in, char *out, size_t len);
uint32_t conf_fnv1a(const void *data, size_t len, uint32_t h);
int conf_parse_int64(const char *s, int64_t *v);
int conf_valid_label_value(const char *s);
const char *conf_check_path(const char *s);
const char *conf_check_addr(const char *s);
const char *conf_check_addr_opt(const char *s);
const char *conf_check_http_url(const char *s);
const char *conf_check_nats_url(const char *s);
const char *conf_check_db_url(const char *s);
const char *conf_check_id(const char *s);
const char *conf_check_node_name(const char *s);
const char *conf_check_token(const char *s);
const char *conf_check_name(const char *s);
const char *conf_check_name_opt(const char *s);
const char *conf_check_relpath(const char *s);

#endif
