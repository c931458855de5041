/*
 * Printing a key table back in libconfig syntax, for `localai -nv` and the
 * model revision hash: values normalised (durations and sizes with the
 * largest exact unit), secrets masked, optional unset values left out.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "supervisor/conf_impl.h"

/* A string in libconfig syntax, escaped. */
static void
print_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else if (*s == '\t')
			fputs("\\t", fp);
		else if (*s == '\r')
			fputs("\\r", fp);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(fp, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
print_float(FILE *fp, float f)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6g", (double)f);
	if (strpbrk(buf, ".en") == NULL)
		strncat(buf, ".0", sizeof(buf) - strlen(buf) - 1);
	fputs(buf, fp);
}

/* Sizes as "8MiB" when a unit divides them, else plain (L beyond 32 bits). */
static void
print_measure(FILE *fp, const struct conf_key *k, uint64_t v)
{
	char buf[64];

	if (k->kind == CK_DURATION) {
		conf_format_duration(v, buf, sizeof(buf));
		print_quoted(fp, buf);
	} else if (v != 0 && v % 1024 == 0) {
		conf_format_size(v, buf, sizeof(buf));
		print_quoted(fp, buf);
	} else
		fprintf(fp, "%" PRIu64 "%s", v, v > INT32_MAX ? "L" : "");
}

static void
print_list(FILE *fp, const struct conf_key *k, const void *base)
{
	uint32_t n = *(const uint32_t *)((const char *)base + k->aux), i;

	fputs("[", fp);
	for (i = 0; i < n; i++) {
		fputs(i == 0 ? " " : ", ", fp);
		if (k->kind == CK_KEYS)
			print_quoted(fp, "********");
		else
			print_quoted(
			    fp, (const char *)base + k->off + i * k->size);
	}
	fputs(n > 0 ? " ]" : "]", fp);
}

static void
print_labels(FILE *fp, const struct conf_key *k, const void *base, int indent)
{
	uint32_t n = *(const uint32_t *)((const char *)base + k->aux), i;
	const struct conf_label *l =
	    (const void *)((const char *)base + k->off);

	fputs("{", fp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "\n%*s%s = ", (indent + 1) * 4, "", l[i].key);
		print_quoted(fp, l[i].value);
		fputs(";", fp);
	}
	if (n > 0)
		fprintf(fp, "\n%*s", indent * 4, "");
	fputs("}", fp);
}

static void
print_string(FILE *fp, const struct conf_key *k, const char *v)
{
	char masked[1024];

	if ((k->flags & CKF_SECRET) && *v != '\0')
		print_quoted(fp, "********");
	else if (k->flags & CKF_MASKURL) {
		conf_mask_url(v, masked, sizeof(masked));
		print_quoted(fp, masked);
	} else
		print_quoted(fp, v);
}

static void
print_sha256(FILE *fp, const uint8_t *h)
{
	int i;

	fputc('"', fp);
	for (i = 0; i < CONF_SHA256_LEN; i++)
		fprintf(fp, "%02x", h[i]);
	fputc('"', fp);
}

static void
print_value(FILE *fp, const struct conf_key *k, const void *base, int indent)
{
	static const char *levels[] = {"info", "verbose", "debug"};
	const char *p = (const char *)base + k->off;

	switch (k->kind) {
	case CK_BOOL:
		fputs(*(const int *)p ? "true" : "false", fp);
		break;
	case CK_UINT:
		fprintf(fp, "%" PRIu32, *(const uint32_t *)p);
		break;
	case CK_INT:
		fprintf(fp, "%" PRId32, *(const int32_t *)p);
		break;
	case CK_FLOAT:
		print_float(fp, *(const float *)p);
		break;
	case CK_SIZE:
	case CK_DURATION:
		print_measure(fp, k,
		    k->size == sizeof(uint64_t) ? *(const uint64_t *)p
		                                : *(const uint32_t *)p);
		break;
	case CK_KEYS:
	case CK_STRLIST:
		print_list(fp, k, base);
		break;
	case CK_LABELS:
		print_labels(fp, k, base, indent);
		break;
	case CK_HASHED:
		print_quoted(fp, *(const int *)((const char *)base + k->aux)
		                     ? "********"
		                     : "");
		break;
	case CK_LOGLEVEL:
		print_quoted(
		    fp, levels[*(const int *)p >= 0 && *(const int *)p <= 2
		                   ? *(const int *)p
		                   : 0]);
		break;
	case CK_SHA256:
		print_sha256(fp, (const uint8_t *)p);
		break;
	default:
		print_string(fp, k, p);
		break;
	}
}

static int
is_shown(const struct conf_key *k, const void *base)
{
	if (!(k->flags & CKF_OPTIONAL) || k->aux == CONF_NOAUX)
		return 1;
	return *(const int *)((const char *)base + k->aux) != 0;
}

/*
 * Print a table in libconfig syntax, in table order; members of a group
 * ("frontend.listen") go inside "frontend = { ... };", and a group whose
 * members are all unset optional values is left out.
 */
void
conf_print_table(FILE *fp, const struct conf_key *keys, size_t nkeys,
    const void *base, int indent)
{
	char group[64] = "";
	int open = 0;
	size_t i, glen;

	for (i = 0; i < nkeys; i++) {
		const struct conf_key *k = &keys[i];
		const char *dot = strrchr(k->path, '.');

		glen = dot != NULL ? (size_t)(dot - k->path) : 0;
		if (strlen(group) != glen ||
		    strncmp(group, k->path, glen) != 0) {
			if (open)
				fprintf(fp, "%*s};\n", indent * 4, "");
			open = 0;
			snprintf(
			    group, sizeof(group), "%.*s", (int)glen, k->path);
		}
		if (!is_shown(k, base))
			continue;
		if (glen > 0 && !open) {
			fprintf(fp, "%*s%s = {\n", indent * 4, "", group);
			open = 1;
		}
		fprintf(fp, "%*s%s = ", (indent + open) * 4, "",
		    dot != NULL ? dot + 1 : k->path);
		print_value(fp, k, base, indent + open);
		fputs(";\n", fp);
	}
	if (open)
		fprintf(fp, "%*s};\n", indent * 4, "");
}
