/*
 * Unit tests for db/db_names.c: which file names are migrations (and their
 * versions), and what each SQLSTATE means to the router.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "db/db.h"

static void
test_migration_names(void **state)
{
	assert_int_equal(db_migration_version("001_init.sql"), 1);
	assert_int_equal(db_migration_version("002_node_labels.sql"), 2);
	assert_int_equal(db_migration_version("0042_x.sql"), 42);
	assert_int_equal(db_migration_version("120_a1_b2.sql"), 120);
}

static void
test_not_migrations(void **state)
{
	static const char *bad[] = {
	    "",
	    "init.sql",
	    "01_init.sql",
	    "000_zero.sql",
	    "001init.sql",
	    "001_.sql",
	    "001_init",
	    "001_init.sql~",
	    "001_init.SQL",
	    "001_Init.sql",
	    "001_in-it.sql",
	    "001_in it.sql",
	    ".001_init.sql",
	    "001_init.sql.orig",
	    "README",
	    "99999999999_overflow.sql",
	    "001_init.sqlx",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (db_migration_version(bad[i]) != -1)
			fail_msg("'%s' taken for a migration", bad[i]);
	}
	assert_int_equal(db_migration_version(NULL), -1);
}

static void
test_sqlstate_classes(void **state)
{
	/* Connection gone or server unavailable: 503 and reconnect. */
	assert_int_equal(db_classify_sqlstate("08006"), DB_ECONN);
	assert_int_equal(db_classify_sqlstate("08001"), DB_ECONN);
	assert_int_equal(db_classify_sqlstate("57P01"), DB_ECONN);
	assert_int_equal(db_classify_sqlstate("57P02"), DB_ECONN);
	assert_int_equal(db_classify_sqlstate("57P03"), DB_ECONN);
	assert_int_equal(db_classify_sqlstate("53300"), DB_ECONN);
	/* The caller's data broke a rule. */
	assert_int_equal(db_classify_sqlstate("23505"), DB_ECONSTRAINT);
	assert_int_equal(db_classify_sqlstate("23514"), DB_ECONSTRAINT);
	assert_int_equal(db_classify_sqlstate("23503"), DB_ECONSTRAINT);
	assert_int_equal(db_classify_sqlstate("23502"), DB_ECONSTRAINT);
	/* Retry the transaction. */
	assert_int_equal(db_classify_sqlstate("40001"), DB_ERETRY);
	assert_int_equal(db_classify_sqlstate("40P01"), DB_ERETRY);
	/* Everything else is a bug to log. */
	assert_int_equal(db_classify_sqlstate("42601"), DB_EOTHER);
	assert_int_equal(db_classify_sqlstate("57014"), DB_EOTHER);
	assert_int_equal(db_classify_sqlstate("22P02"), DB_EOTHER);
	assert_int_equal(db_classify_sqlstate(""), DB_EOTHER);
	assert_int_equal(db_classify_sqlstate(NULL), DB_EOTHER);
	assert_int_equal(db_classify_sqlstate("08"), DB_EOTHER);
}

static void
test_error_names(void **state)
{
	assert_string_equal(db_error_name(DB_OK), "ok");
	assert_string_equal(db_error_name(DB_ECONN), "connection");
	assert_string_equal(db_error_name(DB_ECONSTRAINT), "constraint");
	assert_string_equal(db_error_name(DB_ERETRY), "retry");
	assert_string_equal(db_error_name(DB_EOTHER), "other");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migration_names),
	    cmocka_unit_test(test_not_migrations),
	    cmocka_unit_test(test_sqlstate_classes),
	    cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
