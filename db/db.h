/*
 * PostgreSQL helpers for the router process (libpq): connections with
 * notices routed to our logger, schema migrations, parameterised queries
 * through per-connection prepared statements, error classification, the
 * events table, and advisory locks.
 *
 * One struct db wraps one PGconn and is used by one thread.  Every call
 * returns 0/-1 (or a result/NULL); after a failure db_error() tells what
 * kind it was, so the caller can answer 503 and reconnect (DB_ECONN), 409
 * or 400 (DB_ECONSTRAINT), retry the transaction (DB_ERETRY), or log a bug
 * (DB_EOTHER).
 */
#ifndef LOCALAI_DB_H
#define LOCALAI_DB_H

#include <stdint.h>

#include <libpq-fe.h>

/*
 * Session advisory lock keys.  All of ours share the high bytes "localai"
 * (0x6c6f63616c6169) so they cannot collide with another application's
 * small integer keys on a shared server; the low byte names the purpose.
 * 0x01 is migrations; the router allocates 0x02 and up (leader election,
 * …); per-model cold-load locks should hash the model name into keys
 * that do not start with these bytes.
 */
#define DB_LOCK_BASE INT64_C(0x6c6f63616c616900)
#define DB_LOCK_MIGRATE (DB_LOCK_BASE | 0x01)

/* Default libpq connect timeout, seconds (a dead host must not hang us). */
#define DB_CONNECT_TIMEOUT 5

/* What kind of failure the last call met. */
enum db_error {
	DB_OK = 0,
	DB_ECONN, /* connection lost or server unavailable:
				   answer 503, db_reconnect() later */
	DB_ECONSTRAINT, /* integrity constraint (SQLSTATE class 23) */
	DB_ERETRY, /* serialization failure or deadlock: retry */
	DB_EOTHER, /* anything else: bad SQL, a bug */
};

struct db_errinfo {
	enum db_error kind;
	char sqlstate[6]; /* "" when libpq made the error */
	char constraint[64]; /* violated constraint, if known */
	char message[256]; /* first line of the server's text */
};

struct db;

/*
 * A handle for url (a libpq URI or keyword/value string), not yet
 * connected; NULL only when out of memory.
 */
struct db *db_new(const char *url);
/* db_new + db_reconnect; NULL (logged) if the server cannot be reached. */
struct db *db_connect(const char *url);
/*
 * Drop any connection and open a new one (prepared statements are
 * forgotten and re-prepared on use).  0, or -1 with db_error() DB_ECONN.
 */
int db_reconnect(struct db *db);
void db_close(struct db *db);
/* 1 if the connection is believed healthy. */
int db_connected(const struct db *db);
/* The underlying connection, for what this API does not cover. */
PGconn *db_pgconn(struct db *db);
/* The last failure (kind DB_OK after a success). */
const struct db_errinfo *db_error(const struct db *db);

/*
 * Run sql with nparams text parameters (NULL entries are SQL NULL).  With
 * a name, the statement is prepared once per connection under that name
 * and executed by name afterwards; the same name must always carry the
 * same sql.  Without a name it is sent unprepared.
 * db_exec returns the number of rows affected (0 for utility commands) or
 * -1; db_query returns a result holding rows (PQclear it) or NULL.
 */
int db_exec(struct db *db, const char *name, const char *sql, int nparams,
    const char *const *params);
PGresult *db_query(struct db *db, const char *name, const char *sql,
    int nparams, const char *const *params);
/* The value at (row, column name); NULL for SQL NULL or no such column. */
const char *db_value(const PGresult *res, int row, const char *column);

int db_begin(struct db *db);
int db_commit(struct db *db);
/* Never fails on a broken connection: there is nothing to roll back. */
int db_rollback(struct db *db);

/* Session advisory locks (released by db_unlock or a lost connection). */
int db_lock(struct db *db, int64_t key);
/* 1 taken, 0 held by another session, -1 error. */
int db_trylock(struct db *db, int64_t key);
int db_unlock(struct db *db, int64_t key);

/*
 * Apply every dir/NNN_name.sql not yet recorded in schema_version, in
 * order, each in its own transaction, under the DB_LOCK_MIGRATE session
 * lock so that frontends starting together apply each migration exactly
 * once.  Returns the number applied (0 when up to date) or -1 (the failed
 * migration is rolled back; earlier ones stay).
 */
int db_migrate(struct db *db, const char *dir);
/*
 * The same for migrations compiled into the program: files[i] is the
 * file name ("001_init.sql"), sqls[i] its text.  Same result.
 */
int db_migrate_embedded(
    struct db *db, const char *const *files, const char *const *sqls, size_t n);

/*
 * Append to the events table.  node_id, model and actor may be NULL;
 * detail_json is a JSON object as text, or NULL for {}.  0 or -1.
 */
int db_event(struct db *db, const char *kind, const char *node_id,
    const char *model, const char *actor, const char *detail_json);

/* ---- pure helpers (db/db_names.c), no I/O --------------------------------- */

/*
 * The version of a migration file name "NNN_name.sql" (digits, '_', then
 * [a-z0-9_]+, ".sql"), or -1 if name is not one.
 */
int db_migration_version(const char *name);
/* The kind of failure a SQLSTATE stands for (NULL or "" → DB_EOTHER). */
enum db_error db_classify_sqlstate(const char *sqlstate);
const char *db_error_name(enum db_error kind);

#endif
