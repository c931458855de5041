/*
 * Internals of the admin CLI (supervisor/cli*.c), shared by its files:
 *	cli.c		options, dispatch, HTTP, nodes / models / events
 *	cli_util.c	errors, output (tables, JSON), formatting
 *	cli_status.c	`localai status`: the supervisor's control socket
 */
#ifndef LOCALAI_SUP_CLI_IMPL_H
#define LOCALAI_SUP_CLI_IMPL_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

#define CLI_URL_DEFAULT "http://127.0.0.1:8080"
#define CLI_TIMEOUT_DEFAULT 30 /* seconds, whole request */
#define CLI_CONNECT_TIMEOUT_MS 5000
#define CLI_BODY_MAX (32 * 1024 * 1024)
#define CLI_MAX_ARGS 64
#define CLI_HELP (-1) /* --help was printed */

struct cli {
	char url[512]; /* no trailing slash */
	const char *key; /* admin key or NULL */
	int json;
	long timeout_s;
	long limit;
	const char *node; /* models unload --node */
	const char *socket; /* status --socket */
	const char *conf; /* status -f */
	int npos;
	char *pos[CLI_MAX_ARGS];
	CURL *curl;
};

/* Rows of strings printed in aligned columns; row 0 is the header. */
struct cli_table {
	size_t ncols, nrows, cap;
	char **cells;
};

extern const char cli_usage_text[];

/* cli_util.c */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Say what is wrong (fmt may be NULL), print the usage; CLI_EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print to stdout with control characters (but '\n') made '?'. */
void cli_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *cli_check_alloc(void *p);
char *cli_strdup(const char *s);
char *cli_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_table_init(struct cli_table *t, size_t ncols);
void cli_table_row(struct cli_table *t, ...);
void cli_table_print(const struct cli_table *t);
void cli_table_free(struct cli_table *t);
const char *cli_jstr(json_t *o, const char *key);
double cli_jnum(json_t *o, const char *key);
const char *cli_fmt_gib(double bytes, char *buf, size_t len);
const char *cli_fmt_memory(json_t *n, const char *kind, char *buf, size_t len);
const char *cli_fmt_ago(json_t *v, char *buf, size_t len);
const char *cli_node_status(json_t *n);
char *cli_fmt_pairs(json_t *o, const char *sep);
char *cli_fmt_list(json_t *a, const char *sep);
void cli_print_json(json_t *j);

/* cli_status.c */
int cli_status(struct cli *c);

#endif
