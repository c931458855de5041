/*
 * Unit tests for proto/log.c: records reach stderr as one line each, with
 * the process name, the "<N>" priority prefix when stderr is not a
 * terminal, the structured fields, and debug records only at -d.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "proto/log.h"

/* Run fn with stderr redirected to a pipe and return what it wrote. */
static char *
capture(void (*fn)(void))
{
	static char buf[8192];
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	unsetenv("JOURNAL_STREAM");
	log_init(0);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
emit_info(void)
{
	log_procinit("router");
	log_info("hello %d", 42);
}

static void
test_info_line(void **state)
{
	char *out = capture(emit_info);

	assert_non_null(strstr(out, "<6>"));
	assert_non_null(strstr(out, " router["));
	assert_non_null(strstr(out, "]: hello 42\n"));
}

static void
emit_fields(void)
{
	struct log_fields f = {
	    .model = "voice", .request_id = "req-1", .event = "replica_ready"};

	log_fields(LOG_WARNING, &f, "loaded");
}

static void
test_fields(void **state)
{
	char *out = capture(emit_fields);

	assert_non_null(strstr(out, "<4>"));
	assert_non_null(strstr(out, "loaded event=replica_ready"));
	assert_non_null(strstr(out, "model=voice request_id=req-1\n"));
}

static void
emit_debug(void)
{
	log_debug("hidden");
	log_setverbose(LOG_VERBOSE_DEBUG);
	log_debug("shown");
	log_setverbose(0);
}

static void
test_debug_only_when_verbose(void **state)
{
	char *out = capture(emit_debug);

	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "shown"));
	assert_non_null(strstr(out, "<7>"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_info_line),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_debug_only_when_verbose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
