/*
 * libpq helpers for the router: see db.h for the contract.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "proto/hash.h"
#include "proto/log.h"

#define DB_MIGRATION_MAX (1024 * 1024) /* bytes of SQL per file */
#define DB_MIGRATIONS_MAX 1000

/* A statement prepared on the current connection. */
struct db_stmt {
	struct db_stmt *next;
	char *name;
	char *sql;
};

struct db {
	PGconn *conn;
	char *url;
	struct db_stmt *stmts;
	struct db_errinfo err;
};

/* One migration file found in the directory. */
struct db_migration {
	int version;
	char file[NAME_MAX + 1];
	const char *sql; /* embedded text, or NULL: read dir/file */
};

/* ---- errors -------------------------------------------------------------- */

static void
db_clear_error(struct db *db)
{
	memset(&db->err, 0, sizeof(db->err));
}

static void
db_copy(char *dst, size_t len, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = strcspn(src, "\n");
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * Record why res (or, with res NULL, the connection) failed.  A broken
 * connection makes any failure DB_ECONN, whatever the SQLSTATE says.
 */
static void
db_fail(struct db *db, const PGresult *res)
{
	const char *state = NULL, *msg = NULL;

	db_clear_error(db);
	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		db_copy(db->err.constraint, sizeof(db->err.constraint),
		    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME));
	}
	if (msg == NULL && db->conn != NULL)
		msg = PQerrorMessage(db->conn);
	db_copy(db->err.sqlstate, sizeof(db->err.sqlstate), state);
	db_copy(db->err.message, sizeof(db->err.message),
	    msg != NULL && *msg != '\0' ? msg : "not connected");
	db->err.kind = db_classify_sqlstate(state);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		db->err.kind = DB_ECONN;
}

const struct db_errinfo *
db_error(const struct db *db)
{
	return &db->err;
}

/* ---- connections ----------------------------------------------------------- */

/* Server notices and warnings go to our log, not to libpq's stderr. */
static void
db_notice(void *arg, const PGresult *res)
{
	const char *sev, *msg;

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQresultErrorMessage(res);
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		log_warnx("postgres: %s", msg);
	else if (sev != NULL &&
	         (strcmp(sev, "NOTICE") == 0 || strcmp(sev, "INFO") == 0))
		log_info("postgres: %s", msg);
	else
		log_debug("postgres: %s", msg);
}

static void
db_forget_statements(struct db *db)
{
	struct db_stmt *s;

	while ((s = db->stmts) != NULL) {
		db->stmts = s->next;
		free(s->name);
		free(s->sql);
		free(s);
	}
}

struct db *
db_new(const char *url)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	if ((db->url = strdup(url)) == NULL) {
		free(db);
		return NULL;
	}
	return db;
}

int
db_reconnect(struct db *db)
{
	char timeout[16];
	/* Later entries win: the URL may override both defaults. */
	const char *keys[] = {
	    "connect_timeout", "fallback_application_name", "dbname", NULL};
	const char *values[] = {timeout, "localai", db->url, NULL};

	PQfinish(db->conn);
	db_forget_statements(db);
	snprintf(timeout, sizeof(timeout), "%d", DB_CONNECT_TIMEOUT);
	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		db_fail(db, NULL);
		db->err.kind = DB_ECONN;
		return -1;
	}
	PQsetNoticeReceiver(db->conn, db_notice, db);
	db_clear_error(db);
	return 0;
}

struct db *
db_connect(const char *url)
{
	struct db *db;

	if ((db = db_new(url)) == NULL)
		return NULL;
	if (db_reconnect(db) == -1) {
		log_warnx("db: cannot connect: %s", db->err.message);
		db_close(db);
		return NULL;
	}
	return db;
}

void
db_close(struct db *db)
{
	if (db == NULL)
		return;
	PQfinish(db->conn);
	db_forget_statements(db);
	free(db->url);
	free(db);
}

int
db_connected(const struct db *db)
{
	return db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK;
}

PGconn *
db_pgconn(struct db *db)
{
	return db->conn;
}

/* ---- statements ------------------------------------------------------------ */

/* Prepare name on this connection unless it already is. 0 or -1. */
static int
db_prepare(struct db *db, const char *name, const char *sql, int nparams)
{
	struct db_stmt *s;
	PGresult *res;

	for (s = db->stmts; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0) {
			if (strcmp(s->sql, sql) == 0)
				return 0;
			db_clear_error(db);
			db->err.kind = DB_EOTHER;
			snprintf(db->err.message, sizeof(db->err.message),
			    "statement %s reused with different SQL", name);
			log_warnx("db: %s", db->err.message);
			return -1;
		}
	res = PQprepare(db->conn, name, sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_fail(db, res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (s->sql = strdup(sql)) == NULL) {
		if (s != NULL)
			free(s->name);
		free(s);
		return 0; /* prepared, merely not remembered */
	}
	s->next = db->stmts;
	db->stmts = s;
	return 0;
}

/* Run one statement; the result on success, NULL (db->err set) on failure. */
static PGresult *
db_run(struct db *db, const char *name, const char *sql, int nparams,
    const char *const *params)
{
	ExecStatusType st;
	PGresult *res;

	if (!db_connected(db)) {
		db_fail(db, NULL);
		return NULL;
	}
	if (name != NULL) {
		if (db_prepare(db, name, sql, nparams) == -1)
			return NULL;
		res = PQexecPrepared(
		    db->conn, name, nparams, params, NULL, NULL, 0);
	} else
		res = PQexecParams(
		    db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		db_clear_error(db);
		return res;
	}
	db_fail(db, res);
	PQclear(res);
	if (db->err.kind == DB_EOTHER)
		log_warnx("db: %s: %s (SQLSTATE %s)", name ? name : sql,
		    db->err.message, db->err.sqlstate);
	return NULL;
}

int
db_exec(struct db *db, const char *name, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *res;
	int n;

	if ((res = db_run(db, name, sql, nparams, params)) == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

PGresult *
db_query(struct db *db, const char *name, const char *sql, int nparams,
    const char *const *params)
{
	return db_run(db, name, sql, nparams, params);
}

const char *
db_value(const PGresult *res, int row, const char *column)
{
	int col;

	if (res == NULL || (col = PQfnumber(res, column)) < 0 || row < 0 ||
	    row >= PQntuples(res) || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

int
db_begin(struct db *db)
{
	return db_exec(db, NULL, "BEGIN", 0, NULL) == -1 ? -1 : 0;
}

int
db_commit(struct db *db)
{
	return db_exec(db, NULL, "COMMIT", 0, NULL) == -1 ? -1 : 0;
}

int
db_rollback(struct db *db)
{
	if (!db_connected(db))
		return 0;
	return db_exec(db, NULL, "ROLLBACK", 0, NULL) == -1 ? -1 : 0;
}

/* Roll back after a failure, keeping that failure as db_error(). */
static void
db_abort(struct db *db)
{
	struct db_errinfo err = db->err;

	(void)db_rollback(db);
	db->err = err;
}

/* ---- advisory locks ------------------------------------------------------- */

static PGresult *
db_lock_call(struct db *db, const char *name, const char *sql, int64_t key)
{
	char k[24];
	const char *params[] = {k};

	snprintf(k, sizeof(k), "%" PRId64, key);
	return db_query(db, name, sql, 1, params);
}

int
db_lock(struct db *db, int64_t key)
{
	PGresult *res;

	res = db_lock_call(
	    db, "db_lock", "SELECT pg_advisory_lock($1::bigint)", key);
	PQclear(res);
	return res == NULL ? -1 : 0;
}

int
db_trylock(struct db *db, int64_t key)
{
	PGresult *res;
	const char *v;
	int got;

	res = db_lock_call(db, "db_trylock",
	    "SELECT pg_try_advisory_lock($1::bigint) AS got", key);
	if (res == NULL)
		return -1;
	v = db_value(res, 0, "got");
	got = v != NULL && strcmp(v, "t") == 0;
	PQclear(res);
	return got;
}

int
db_unlock(struct db *db, int64_t key)
{
	PGresult *res;
	const char *v;
	int ok;

	res = db_lock_call(db, "db_unlock",
	    "SELECT pg_advisory_unlock($1::bigint) AS ok", key);
	if (res == NULL)
		return -1;
	v = db_value(res, 0, "ok");
	ok = v != NULL && strcmp(v, "t") == 0;
	PQclear(res);
	return ok ? 0 : -1;
}

/* ---- events ---------------------------------------------------------------- */

int
db_event(struct db *db, const char *kind, const char *node_id,
    const char *model, const char *actor, const char *detail_json)
{
	const char *params[] = {kind, node_id, model, actor, detail_json};

	return db_exec(db, "db_event",
	           "INSERT INTO events (kind, node_id, model, actor, detail) "
	           "VALUES ($1, $2, $3, $4, COALESCE($5::jsonb, '{}'::jsonb))",
	           5, params) == 1
	           ? 0
	           : -1;
}

/* ---- migrations ------------------------------------------------------------- */

static int
db_migration_cmp(const void *a, const void *b)
{
	const struct db_migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* The migration files of dir, sorted by version; count or -1. */
static int
db_migrations_list(const char *dir, struct db_migration **out)
{
	struct db_migration *list;
	struct dirent *de;
	int n = 0, i, v;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		log_warn("db: migrations directory %s", dir);
		return -1;
	}
	if ((list = calloc(DB_MIGRATIONS_MAX, sizeof(*list))) == NULL) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < DB_MIGRATIONS_MAX) {
		if ((v = db_migration_version(de->d_name)) == -1)
			continue;
		list[n].version = v;
		snprintf(list[n].file, sizeof(list[n].file), "%s", de->d_name);
		n++;
	}
	closedir(d);
	qsort(list, n, sizeof(*list), db_migration_cmp);
	for (i = 1; i < n; i++)
		if (list[i].version == list[i - 1].version) {
			log_warnx("db: %s and %s have the same version",
			    list[i - 1].file, list[i].file);
			free(list);
			return -1;
		}
	*out = list;
	return n;
}

/* The whole file, NUL-terminated, at most DB_MIGRATION_MAX bytes. */
static char *
db_read_file(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("db: %s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1 || st.st_size > DB_MIGRATION_MAX ||
	    (buf = malloc(st.st_size + 1)) == NULL) {
		log_warnx("db: %s: unreadable or larger than %d bytes", path,
		    DB_MIGRATION_MAX);
		close(fd);
		return NULL;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		log_warnx("db: %s: short read", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

/* "init" for "001_init.sql". */
static void
db_migration_name(const struct db_migration *m, char *buf, size_t len)
{
	const char *p = strchr(m->file, '_') + 1;

	snprintf(buf, len, "%.*s", (int)(strlen(p) - 4), p);
}

/*
 * schema_version is created here rather than by a migration, because it
 * must exist before we can know which migrations have run.
 */
static int
db_schema_version_table(struct db *db)
{
	PGresult *res;
	const char *v;
	int exists;

	res = db_query(db, NULL,
	    "SELECT to_regclass('schema_version') "
	    "IS NOT NULL AS present",
	    0, NULL);
	if (res == NULL)
		return -1;
	v = db_value(res, 0, "present");
	exists = v != NULL && strcmp(v, "t") == 0;
	PQclear(res);
	if (exists)
		return 0;
	return db_exec(db, NULL,
	           "CREATE TABLE schema_version ("
	           "version integer PRIMARY KEY CHECK (version > 0), "
	           "name text NOT NULL, "
	           "checksum text NOT NULL CHECK (checksum ~ "
	           "'^[0-9a-f]{64}$'), "
	           "applied_at timestamptz NOT NULL DEFAULT now())",
	           0, NULL) == -1
	           ? -1
	           : 0;
}

/* Run one migration and record it, in one transaction. 0 or -1. */
static int
db_apply(struct db *db, const struct db_migration *m, const char *dir,
    const char *sql, const char *sum)
{
	char version[16], name[NAME_MAX + 1];
	const char *params[] = {version, name, sum};
	struct timespec t0, t1;
	PGresult *res;
	ExecStatusType st;

	snprintf(version, sizeof(version), "%d", m->version);
	db_migration_name(m, name, sizeof(name));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (db_begin(db) == -1)
		return -1;
	/* Simple query protocol: a file may hold many statements. */
	res = PQexec(db->conn, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		db_fail(db, res);
		PQclear(res);
		log_warnx("db: migration %s/%s failed: %s", dir, m->file,
		    db->err.message);
		db_abort(db);
		return -1;
	}
	PQclear(res);
	if (db_exec(db, NULL,
	        "INSERT INTO schema_version (version, name, "
	        "checksum) VALUES ($1, $2, $3)",
	        3, params) != 1 ||
	    db_commit(db) == -1) {
		db_abort(db);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("db: applied migration %s (%.0f ms)", m->file,
	    (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	return 0;
}

/* The checksum recorded for version, or NULL if it has not run. */
static const char *
db_applied_sum(const PGresult *applied, int version)
{
	int i;

	for (i = 0; i < PQntuples(applied); i++)
		if (atoi(db_value(applied, i, "version")) == version)
			return db_value(applied, i, "checksum");
	return NULL;
}

/* Apply one file unless recorded; warn when a recorded file changed. */
static int
db_migrate_one(struct db *db, const char *dir, const struct db_migration *m,
    const PGresult *applied)
{
	char path[PATH_MAX], sum[65];
	const char *recorded;
	char *sql = NULL;
	size_t len;
	int rc = 0;

	if (m->sql != NULL) {
		len = strlen(m->sql);
		sql = strdup(m->sql);
	} else if (snprintf(path, sizeof(path), "%s/%s", dir, m->file) <
	           (int)sizeof(path))
		sql = db_read_file(path, &len);
	if (sql == NULL || hash_sha256(sql, len, sum) == -1) {
		free(sql);
		db_clear_error(db);
		db->err.kind = DB_EOTHER;
		snprintf(db->err.message, sizeof(db->err.message),
		    "cannot read %s", m->file);
		return -1;
	}
	if ((recorded = db_applied_sum(applied, m->version)) == NULL)
		rc = db_apply(db, m, dir, sql, sum) == 0 ? 1 : -1;
	else if (strcmp(recorded, sum) != 0)
		log_warnx("db: %s was changed after it was applied; the "
		          "database keeps the old version",
		    m->file);
	free(sql);
	return rc;
}

static int
db_migrate_locked(
    struct db *db, const char *dir, const struct db_migration *list, int n)
{
	PGresult *applied;
	int i, r, count = 0, newest = 0;

	if (db_schema_version_table(db) == -1 ||
	    (applied = db_query(db, NULL,
	         "SELECT version, checksum FROM schema_version", 0, NULL)) ==
	        NULL)
		return -1;
	for (i = 0; i < n && count >= 0; i++) {
		if ((r = db_migrate_one(db, dir, &list[i], applied)) == -1)
			count = -1;
		else
			count += r;
	}
	for (i = 0; i < PQntuples(applied); i++)
		if (atoi(db_value(applied, i, "version")) > newest)
			newest = atoi(db_value(applied, i, "version"));
	if (n > 0 && newest > list[n - 1].version)
		log_warnx("db: the database has schema version %d, newer than "
		          "this program's %d",
		    newest, list[n - 1].version);
	PQclear(applied);
	return count;
}

/* Apply list (sorted by version) under the migration lock. */
static int
db_migrate_list(
    struct db *db, const char *dir, struct db_migration *list, int n)
{
	struct db_errinfo err;
	int count;

	/* Blocks while another frontend migrates; they then find no work. */
	if (db_lock(db, DB_LOCK_MIGRATE) == -1) {
		free(list);
		return -1;
	}
	count = db_migrate_locked(db, dir, list, n);
	err = db->err;
	if (db_connected(db))
		(void)db_unlock(db, DB_LOCK_MIGRATE);
	db->err = err; /* report the migration's failure, not the unlock's */
	free(list);
	return count;
}

int
db_migrate(struct db *db, const char *dir)
{
	struct db_migration *list;
	int n;

	if ((n = db_migrations_list(dir, &list)) == -1) {
		db_clear_error(db);
		db->err.kind = DB_EOTHER;
		snprintf(db->err.message, sizeof(db->err.message),
		    "no usable migrations in %s", dir);
		return -1;
	}
	return db_migrate_list(db, dir, list, n);
}

int
db_migrate_embedded(
    struct db *db, const char *const *files, const char *const *sqls, size_t n)
{
	struct db_migration *list;
	size_t i;

	if ((list = calloc(n ? n : 1, sizeof(*list))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((list[i].version = db_migration_version(files[i])) < 1) {
			log_warnx(
			    "db: embedded migration %s: bad name", files[i]);
			free(list);
			return -1;
		}
		snprintf(list[i].file, sizeof(list[i].file), "%s", files[i]);
		list[i].sql = sqls[i];
	}
	qsort(list, n, sizeof(*list), db_migration_cmp);
	return db_migrate_list(db, "(embedded)", list, (int)n);
}
