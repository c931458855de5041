/*
 * Unit tests for supervisor/status.c, the control socket's document:
 * it parses as JSON (jansson), carries every field with null where a
 * value does not apply, escapes names, replaces invalid UTF-8, names
 * signals, lower-cases states, and refuses a buffer that is too small.
 */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "supervisor/status.h"

static const struct sup_status_child kids[] = {
    {"api.0", "api", "READY", 11, 0, 5000, 0, -1, -1, 0, NULL, NULL, NULL},
    {"backend \"x\\y\"\n\x01", "backend", "BACKOFF", -1, 3, -1, 2, 4000, -1,
        SIGSEGV, "m\xff\xc3\xa9", "llama-cpp", "127.0.0.1:50061"},
    {"router", "router", "EXITED", -1, 1, -1, 1, -1, 78, 0, NULL, NULL, NULL},
};

static const struct sup_status st = {
    "frontend", 42, "0.1.0", NULL, "running", 9000, 7, 3, kids};

static json_t *
render(void)
{
	static char buf[4096];
	json_error_t err;
	json_t *j;
	int n;

	n = sup_status_json(&st, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(strlen(buf), (size_t)n);
	assert_int_equal(buf[n - 1], '\n');
	j = json_loads(buf, 0, &err);
	if (j == NULL)
		fail_msg("%s: %s", err.text, buf);
	return j;
}

static void
test_top(void **state)
{
	json_t *j = render();

	(void)state;
	assert_int_equal(json_integer_value(json_object_get(j, "version")),
	    SUP_STATUS_VERSION);
	assert_string_equal(
	    json_string_value(json_object_get(j, "role")), "frontend");
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 42);
	assert_true(json_is_null(json_object_get(j, "node_name")));
	assert_int_equal(
	    json_integer_value(json_object_get(j, "config_generation")), 7);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "uptime_ms")), 9000);
	assert_int_equal(json_array_size(json_object_get(j, "children")), 3);
	json_decref(j);
}

static void
test_children(void **state)
{
	json_t *j = render(), *a, *b, *r;

	(void)state;
	a = json_array_get(json_object_get(j, "children"), 0);
	b = json_array_get(json_object_get(j, "children"), 1);
	r = json_array_get(json_object_get(j, "children"), 2);
	assert_string_equal(
	    json_string_value(json_object_get(a, "state")), "ready");
	assert_int_equal(json_integer_value(json_object_get(a, "pid")), 11);
	assert_true(json_is_null(json_object_get(a, "last_exit")));
	assert_true(json_is_null(json_object_get(a, "next_restart_ms")));
	assert_true(json_is_null(json_object_get(a, "model")));
	/* Escapes, control characters and bad UTF-8 in names. */
	assert_string_equal(json_string_value(json_object_get(b, "name")),
	    "backend \"x\\y\"\n\x01");
	assert_string_equal(
	    json_string_value(json_object_get(b, "model")), "m?\xc3\xa9");
	assert_string_equal(
	    json_string_value(json_object_get(b, "state")), "backoff");
	assert_true(json_is_null(json_object_get(b, "pid")));
	assert_true(json_is_null(json_object_get(b, "uptime_ms")));
	assert_int_equal(
	    json_integer_value(json_object_get(b, "next_restart_ms")), 4000);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(b, "last_exit"), "signal")),
	    "SIGSEGV");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(r, "last_exit"), "code")),
	    78);
	json_decref(j);
}

static void
test_too_small(void **state)
{
	char buf[64];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(sup_status_json(&st, buf, sizeof(buf)), -1);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(sup_status_json(&st, buf, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_top),
	    cmocka_unit_test(test_children),
	    cmocka_unit_test(test_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
