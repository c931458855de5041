/*
 * db_migrate_tool URL DIR: connect and run db_migrate once, as a frontend
 * does at start.  Prints "applied=N" and exits 0, or exits 1.  Used by
 * db_concurrent to run several migrating processes at once.
 */
#include <stdio.h>

#include "db/db.h"
#include "proto/log.h"

int
main(int argc, char **argv)
{
	struct db *db;
	int n;

	log_init(0);
	log_procinit("db_migrate_tool");
	if (argc != 3) {
		fprintf(stderr, "usage: db_migrate_tool URL DIR\n");
		return 2;
	}
	if ((db = db_connect(argv[1])) == NULL)
		return 1;
	n = db_migrate(db, argv[2]);
	if (n == -1)
		log_warnx("migrate: %s (%s)", db_error(db)->message,
		    db_error_name(db_error(db)->kind));
	else
		printf("applied=%d\n", n);
	db_close(db);
	return n == -1;
}
