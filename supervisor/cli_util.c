/*
 * The admin CLI's output: errors, aligned tables, JSON, and formatting of
 * the admin API's values.  Whatever came from the network is printed
 * with control characters replaced, so a node name cannot move the
 * cursor or forge lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli.h"
#include "supervisor/cli_impl.h"

const char cli_usage_text[] =
    "usage: localai nodes list | show NODE | approve NODE | drain NODE |\n"
    "                     resume NODE | remove NODE |\n"
    "                     labels NODE [KEY=VALUE | KEY-]...\n"
    "       localai models list | load MODEL | unload MODEL [--node NODE]\n"
    "       localai events [--limit N]\n"
    "       localai status [-f FILE | --socket PATH]\n"
    "options:\n"
    "  --url URL        frontend (default $LOCALAI_URL, else " CLI_URL_DEFAULT
    ")\n"
    "  --admin-key KEY  admin key (default $LOCALAI_ADMIN_KEY)\n"
    "  --json           the API's JSON instead of a table\n"
    "  --timeout SECS   give up after this long (default 30)\n"
    "NODE is a node's name or id.  Exit codes: 0 ok, 1 API error, "
    "2 usage,\n"
    "3 unreachable, 4 unauthorized, 5 not found.\n";

void
cli_err(const char *fmt, ...)
{
	va_list ap;
	char *s, *p;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		fputs("localai: out of memory\n", stderr);
		return;
	}
	/* Messages quote what the frontend said: keep them one line. */
	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "localai: %s\n", s);
	free(s);
}

int
cli_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fputs("localai: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(cli_usage_text, stderr);
	return CLI_EXIT_USAGE;
}

void
cli_out(const char *fmt, ...)
{
	va_list ap;
	char *s, *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cli_check_alloc(n < 0 ? NULL : s);
	for (p = s; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f)
			*p = '?';
	fputs(s, stdout);
	free(s);
}

/* Out of memory in a command-line tool: nothing sensible is left to do. */
void *
cli_check_alloc(void *p)
{
	if (p == NULL) {
		cli_err("out of memory");
		exit(CLI_EXIT_API);
	}
	return p;
}

char *
cli_strdup(const char *s)
{
	return cli_check_alloc(strdup(s));
}

char *
cli_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return cli_check_alloc(n < 0 ? NULL : s);
}

/* ---- tables ------------------------------------------------------------- */

void
cli_table_init(struct cli_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/*
 * A copy of s for a table cell: control characters (a newline in a node
 * name, a terminal escape sequence in a label) become '?', so a cell is
 * one line and cannot drive the terminal.
 */
static char *
cli_table_cell(const char *s)
{
	char *c = cli_strdup(s && *s ? s : "-"), *p;

	for (p = c; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

/* Add one row of ncols strings (NULL prints as "-"); copies them. */
void
cli_table_row(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = cli_check_alloc(
		    reallocarray(t->cells, t->cap * t->ncols, sizeof(char *)));
	}
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * t->ncols + i] =
		    cli_table_cell(va_arg(ap, const char *));
	}
	va_end(ap);
	t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t
cli_table_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
cli_table_print(const struct cli_table *t)
{
	size_t w[16] = {0}, r, i, x;
	const char *s;

	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols && i < 16; i++)
			if ((x = cli_table_width(t->cells[r * t->ncols + i])) >
			    w[i])
				w[i] = x;
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			s = t->cells[r * t->ncols + i];
			fputs(s, stdout);
			if (i + 1 == t->ncols)
				break;
			for (x = cli_table_width(s); x < w[i] + 2; x++)
				fputc(' ', stdout);
		}
		fputc('\n', stdout);
	}
}

void
cli_table_free(struct cli_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- formatting --------------------------------------------------------- */

const char *
cli_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

double
cli_jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* "12.3" (GiB) into buf. */
const char *
cli_fmt_gib(double bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f", bytes / (1024.0 * 1024 * 1024));
	return buf;
}

/* "28.0/64.0 GiB" used (reserved included) over total, "-" for none. */
const char *
cli_fmt_memory(json_t *n, const char *kind, char *buf, size_t len)
{
	char k[32], a[32], used[32], total[32];
	double t, av, res;

	snprintf(k, sizeof(k), "total_%s", kind);
	t = cli_jnum(n, k);
	if (t <= 0)
		return "-";
	snprintf(a, sizeof(a), "available_%s", kind);
	av = cli_jnum(n, a);
	snprintf(a, sizeof(a), "reserved_%s", kind);
	res = cli_jnum(n, a);
	snprintf(buf, len, "%s/%s GiB",
	    cli_fmt_gib(t - av + res, used, sizeof(used)),
	    cli_fmt_gib(t, total, sizeof(total)));
	return buf;
}

/* Milliseconds ago as "0.8s", "42s", "5m", "3h", "2d"; "never". */
const char *
cli_fmt_ago(json_t *v, char *buf, size_t len)
{
	double ms;

	if (!json_is_number(v) || (ms = json_number_value(v)) < 0)
		return "never";
	if (ms < 10000)
		snprintf(buf, len, "%.1fs", ms / 1000);
	else if (ms < 120000)
		snprintf(buf, len, "%.0fs", ms / 1000);
	else if (ms < 7200000)
		snprintf(buf, len, "%.0fm", ms / 60000);
	else if (ms < 172800000)
		snprintf(buf, len, "%.0fh", ms / 3600000);
	else
		snprintf(buf, len, "%.0fd", ms / 86400000);
	return buf;
}

const char *
cli_node_status(json_t *n)
{
	const char *s = cli_jstr(n, "status");

	if (s != NULL && strcmp(s, "healthy") == 0 &&
	    json_is_true(json_object_get(n, "suspect")))
		return "suspect";
	return s ? s : "unknown";
}

/* "k=v k2=v2" of an object of strings (labels, event details). */
char *
cli_fmt_pairs(json_t *o, const char *sep)
{
	const char *k;
	json_t *v;
	char *out = cli_strdup(""), *val, *next;

	json_object_foreach(o, k, v)
	{
		val = json_is_string(v) ? cli_strdup(json_string_value(v))
		                        : cli_check_alloc(json_dumps(v,
		                              JSON_ENCODE_ANY | JSON_COMPACT));
		next = cli_asprintf("%s%s%s=%s", out, *out ? sep : "", k, val);
		free(val);
		free(out);
		out = next;
	}
	return out;
}

/* The strings of an array joined by sep. */
char *
cli_fmt_list(json_t *a, const char *sep)
{
	char *out = cli_strdup(""), *next;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			continue;
		next = cli_asprintf(
		    "%s%s%s", out, *out ? sep : "", json_string_value(v));
		free(out);
		out = next;
	}
	return out;
}

/* j pretty-printed; NULL (an empty answer) prints as {}. */
void
cli_print_json(json_t *j)
{
	char *s;

	if (j == NULL) {
		puts("{}");
		return;
	}
	s = cli_check_alloc(json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY));
	puts(s);
	free(s);
}
