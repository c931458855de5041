/*
 * promcheck [-q] [FILE]: read Prometheus exposition text (format 0.0.4)
 * from FILE or stdin, check it with the strict parser of
 * tests/tools/promparse.c and print every sample as one line
 *	name{label="value",…} value
 * (labels as written, values unescaped), so shell tests can grep for
 * series after scraping /metrics.  Exit 0 when valid, 1 with the reason
 * on stderr when not, 2 on usage or read errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tools/promparse.h"

static char *
read_all(FILE *fp, size_t *len)
{
	char *buf = NULL, *nb;
	size_t cap = 0, n;

	*len = 0;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		*len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
print_sample(const struct prom_sample *s)
{
	size_t i;

	printf("%s", s->name);
	for (i = 0; i < s->nlabels; i++)
		printf("%s%s=\"%s\"", i ? "," : "{", s->labels[i].name,
		    s->labels[i].value);
	printf("%s %.17g\n", s->nlabels ? "}" : "", s->value);
}

int
main(int argc, char *argv[])
{
	struct prom_doc doc;
	FILE *fp = stdin;
	size_t len, i;
	char *text;
	int ch, quiet = 0, rc;

	while ((ch = getopt(argc, argv, "q")) != -1) {
		if (ch != 'q') {
			fprintf(stderr, "usage: promcheck [-q] [file]\n");
			return 2;
		}
		quiet = 1;
	}
	if (optind < argc && (fp = fopen(argv[optind], "r")) == NULL) {
		perror(argv[optind]);
		return 2;
	}
	if ((text = read_all(fp, &len)) == NULL) {
		perror("read");
		return 2;
	}
	if ((rc = prom_parse(text, len, &doc)) == -1)
		fprintf(stderr, "promcheck: %s\n", doc.error);
	else if (!quiet)
		for (i = 0; i < doc.nsamples; i++)
			print_sample(&doc.samples[i]);
	prom_free(&doc);
	free(text);
	if (fp != stdin)
		fclose(fp);
	return rc == -1 ? 1 : 0;
}
