# The database layer (db/db.h): libpq helpers and schema migrations for the
# router process.  The router's module.mk adds $(DB_SRCS) to LOCALAI_SRCS
# and $(DB_LIBS) to LOCALAI_LIBS; migrations are read from db/migrations
# (installed to the share directory later).
DB_SRCS := db/db.c db/db_names.c proto/hash.c
DB_LIBS := $(call libs,libpq libcrypto)

# Pure helpers: file names and SQLSTATE classes.
$(eval $(call unit_test,test_db,tests/unit/test_db.c db/db_names.c,))

# Integration tests against a real PostgreSQL (tests/integration/db_*.test).
$(eval $(call program,tests/integration/db_schema,tests/integration/db_schema.c $(DB_SRCS) proto/log.c $(BUILD)/tests/harness/libharness.a,$(DB_LIBS) $(call libs,libpq libcurl libsystemd) -lcmocka))
$(eval $(call program,tests/integration/db_migrate_tool,tests/integration/db_migrate_tool.c $(DB_SRCS) proto/log.c,$(DB_LIBS) $(call libs,libsystemd)))
$(eval $(call program,tests/integration/db_concurrent,tests/integration/db_concurrent.c $(BUILD)/tests/harness/libharness.a,$(call libs,libpq libcurl) -lcmocka))
