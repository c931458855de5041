/*
 * The pure parts of the database layer: migration file names and the
 * meaning of SQLSTATE codes.  No I/O, so tests/unit/test_db.c links only
 * this file.
 */
#include <limits.h>
#include <string.h>

#include "db/db.h"

int
db_migration_version(const char *name)
{
	const char *p = name;
	long version = 0;
	size_t len;

	if (name == NULL)
		return -1;
	while (*p >= '0' && *p <= '9') {
		version = version * 10 + (*p - '0');
		if (version > INT_MAX / 10)
			return -1;
		p++;
	}
	/* At least three digits, as in 001_init.sql; 0 is not a version. */
	if (p - name < 3 || version == 0 || *p++ != '_')
		return -1;
	len = strlen(p);
	if (len <= 4 || strcmp(p + len - 4, ".sql") != 0)
		return -1;
	for (; len > 4; len--, p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		        *p == '_'))
			return -1;
	return (int)version;
}

/*
 * SQLSTATE classes (PostgreSQL manual, appendix A):
 * 08 connection exception, 57P01-57P03 the server is shutting down or
 * starting, 53 insufficient resources (too many connections, disk full) —
 * the server is unusable right now; 23 integrity constraint;
 * 40001 serialization failure and 40P01 deadlock — retry the transaction.
 */
enum db_error
db_classify_sqlstate(const char *s)
{
	if (s == NULL || strlen(s) != 5)
		return DB_EOTHER;
	if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0)
		return DB_ECONN;
	if (strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
	    strcmp(s, "57P03") == 0)
		return DB_ECONN;
	if (strncmp(s, "23", 2) == 0)
		return DB_ECONSTRAINT;
	if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
		return DB_ERETRY;
	return DB_EOTHER;
}

const char *
db_error_name(enum db_error kind)
{
	switch (kind) {
	case DB_OK:
		return "ok";
	case DB_ECONN:
		return "connection";
	case DB_ECONSTRAINT:
		return "constraint";
	case DB_ERETRY:
		return "retry";
	case DB_EOTHER:
		break;
	}
	return "other";
}
