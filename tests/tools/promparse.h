/*
 * A strict parser of the Prometheus text exposition format 0.0.4, for
 * tests: it rejects whatever the format does not allow (and a little
 * more: separators must be single spaces, every line ends in '\n'), and
 * checks the rules a scraper relies on:
 *	- metric and label names are well-formed, label values valid UTF-8
 *	  with only the \\ \" \n escapes;
 *	- at most one HELP and one TYPE line per family, before its samples;
 *	- a family's lines are contiguous; no sample appears twice;
 *	- counters are not negative;
 *	- histograms: _bucket samples carry le, bounds ascend to +Inf, counts
 *	  are cumulative, _count equals the +Inf bucket and _sum is present.
 * Used by tests/unit/test_metrics.c and by the promcheck program
 * (integration tests scrape /metrics and pipe the text through it).
 */
#ifndef LOCALAI_TESTS_PROMPARSE_H
#define LOCALAI_TESTS_PROMPARSE_H

#include <stddef.h>

#define PROM_MAX_LABELS 16

struct prom_label {
	char *name;
	char *value; /* unescaped */
};

struct prom_sample {
	char *name; /* as written: foo_bucket, foo_sum, … */
	char *family; /* the family it belongs to: foo */
	size_t nlabels;
	struct prom_label labels[PROM_MAX_LABELS];
	double value;
	int line;
};

struct prom_family {
	char *name;
	char *type; /* counter, gauge, histogram, summary, untyped */
	char *help; /* unescaped, NULL when absent */
	int typed; /* a TYPE line was read */
};

struct prom_doc {
	struct prom_sample *samples;
	size_t nsamples;
	struct prom_family *families;
	size_t nfamilies;
	char error[256]; /* "line N: reason" when parsing failed */
};

/*
 * Parse text (len bytes).  0, or -1 with doc->error set; prom_free()
 * the document either way.
 */
int prom_parse(const char *text, size_t len, struct prom_doc *doc);
void prom_free(struct prom_doc *doc);

/*
 * The sample named name whose labels are exactly the NULL-terminated
 * name/value pairs given (in any order), or NULL.
 *	prom_find(doc, "localai_requests_total", "model", "m", "code",
 *	    "200", "endpoint", "chat", NULL)
 */
const struct prom_sample *prom_find(
    const struct prom_doc *doc, const char *name, ...);
/* The sum of every sample named name (0 when there is none). */
double prom_sum(const struct prom_doc *doc, const char *name);
const struct prom_family *prom_family(
    const struct prom_doc *doc, const char *name);

#endif
