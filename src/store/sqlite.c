/*
 * SQLite implementation of store.h: one database file `strait.db` (mode 0600) in the data dir,
 * WAL journal with synchronous=FULL, foreign keys on, busy timeout, SQLITE_DBCONFIG_DEFENSIVE,
 * STRICT tables, numbered migrations gated on PRAGMA user_version, and persistent prepared
 * statements cached by their (static) SQL text. Each mutation is one transaction, or part of the
 * caller's st_store_begin() transaction.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "util/clock.h"
#include "util/log.h"
#include <time.h>

#define STMT_CACHE 96

struct st_store {
    sqlite3 *db;                    /* connection */
    struct st_store_write_stats ws; /* durable-write latency histogram */
    const char *sql[STMT_CACHE];    /* cached statements' SQL (static strings, by pointer) */
    sqlite3_stmt *stmt[STMT_CACHE]; /* prepared with SQLITE_PREPARE_PERSISTENT */
    int n_stmt;                     /* cache entries in use */
    bool in_tx;                     /* inside st_store_begin() */
};

/* Numbered migrations: migration i+1 brings user_version from i to i+1. */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"
    "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL) STRICT;"
    "CREATE TABLE principals (arn TEXT PRIMARY KEY,"
    "  account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('user','role')), name TEXT NOT NULL,"
    "  trust TEXT) STRICT;"
    "CREATE TABLE access_keys (id TEXT PRIMARY KEY,"
    "  principal TEXT NOT NULL REFERENCES principals(arn) ON DELETE CASCADE,"
    "  secret TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Active', created INTEGER NOT NULL) "
    "STRICT;"
    "CREATE TABLE managed_policies (arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  document TEXT NOT NULL, builtin INTEGER NOT NULL) STRICT;"
    "CREATE TABLE attachments (principal TEXT NOT NULL REFERENCES principals(arn) ON DELETE "
    "CASCADE,"
    "  policy TEXT NOT NULL REFERENCES managed_policies(arn), PRIMARY KEY (principal, policy)) "
    "STRICT;"
    "CREATE TABLE inline_policies (principal TEXT NOT NULL REFERENCES principals(arn) ON DELETE "
    "  CASCADE, name TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (principal, name)) STRICT;"
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, secret TEXT NOT NULL, token TEXT NOT NULL,"
    "  arn TEXT NOT NULL, role TEXT NOT NULL REFERENCES principals(arn) ON DELETE CASCADE,"
    "  expires INTEGER NOT NULL) STRICT;"
    "CREATE TABLE vpcs (id TEXT PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts(id),"
    "  cidr TEXT NOT NULL) STRICT;"
    "CREATE TABLE subnets (id TEXT PRIMARY KEY, vpc TEXT NOT NULL REFERENCES vpcs(id),"
    "  az_id TEXT NOT NULL, endpoint_address TEXT NOT NULL) STRICT;"
    "CREATE TABLE security_groups (id TEXT PRIMARY KEY, vpc TEXT NOT NULL REFERENCES vpcs(id),"
    "  rules TEXT NOT NULL) STRICT;"
    "CREATE TABLE clusters (arn TEXT PRIMARY KEY, account TEXT NOT NULL REFERENCES accounts(id),"
    "  name TEXT NOT NULL, state TEXT NOT NULL, version TEXT NOT NULL, doc TEXT NOT NULL,"
    "  policy TEXT, policy_version TEXT) STRICT;"
    "CREATE INDEX clusters_account ON clusters(account, arn);"
    "CREATE TABLE vpc_connections (arn TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    "  cluster TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE, state TEXT NOT NULL,"
    "  doc TEXT NOT NULL) STRICT;"
    "CREATE INDEX conns_owner ON vpc_connections(owner, arn);"
    "CREATE INDEX conns_cluster ON vpc_connections(cluster, arn);"
    "CREATE TABLE scram_secrets (arn TEXT PRIMARY KEY, account TEXT NOT NULL, username TEXT NOT "
    "NULL,"
    "  credential TEXT NOT NULL) STRICT;"
    "CREATE TABLE cluster_scram (cluster TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,"
    "  secret TEXT NOT NULL REFERENCES scram_secrets(arn), PRIMARY KEY (cluster, secret)) STRICT;"
    "CREATE TABLE tags (arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (arn, key)) STRICT;",
    /* 2: more endpoint addresses per subnet (one VPC endpoint per cluster, like ENI IPs) */
    "ALTER TABLE subnets ADD COLUMN extra_addresses TEXT NOT NULL DEFAULT '[]';",
    /* 3: metering. Rows carry both accounts so usage outlives the connection and the cluster.
     * IF NOT EXISTS: a database rolled back to an older user_version by hand re-runs it. */
    "CREATE TABLE IF NOT EXISTS usage_hourly (conn TEXT NOT NULL, hour INTEGER NOT NULL,"
    "  cluster TEXT NOT NULL, scheme TEXT NOT NULL, conn_account TEXT NOT NULL,"
    "  cluster_account TEXT NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,"
    "  requests INTEGER NOT NULL, PRIMARY KEY (conn, hour)) STRICT;"
    "CREATE INDEX IF NOT EXISTS usage_conn_account ON usage_hourly(conn_account, hour);"
    "CREATE INDEX IF NOT EXISTS usage_cluster_account ON usage_hourly(cluster_account, hour);"
    "CREATE TABLE IF NOT EXISTS conn_states (seq INTEGER PRIMARY KEY, conn TEXT NOT NULL,"
    "  cluster TEXT NOT NULL, scheme TEXT NOT NULL, conn_account TEXT NOT NULL,"
    "  cluster_account TEXT NOT NULL, state TEXT NOT NULL, at_ms INTEGER NOT NULL) STRICT;"
    "CREATE INDEX IF NOT EXISTS conn_states_conn ON conn_states(conn, seq);",
    /* 4: Kafka ACL bindings per cluster, as Kafka's enum names (st_acl_binding_to_json()). */
    "CREATE TABLE IF NOT EXISTS kafka_acls ("
    "  cluster TEXT NOT NULL REFERENCES clusters(arn) ON DELETE CASCADE,"
    "  resource_type TEXT NOT NULL, resource_name TEXT NOT NULL, pattern_type TEXT NOT NULL,"
    "  principal TEXT NOT NULL, host TEXT NOT NULL, operation TEXT NOT NULL,"
    "  permission TEXT NOT NULL, UNIQUE (cluster, resource_type, resource_name, pattern_type,"
    "  principal, host, operation, permission)) STRICT;",
    /* 5: requests by Kafka API key per (connection, hour), beside usage_hourly (same scope
     * columns, so the report scopes it by account the same way). */
    "CREATE TABLE IF NOT EXISTS usage_api_hourly (conn TEXT NOT NULL, hour INTEGER NOT NULL,"
    "  api INTEGER NOT NULL, cluster TEXT NOT NULL, scheme TEXT NOT NULL,"
    "  conn_account TEXT NOT NULL, cluster_account TEXT NOT NULL, requests INTEGER NOT NULL,"
    "  PRIMARY KEY (conn, hour, api)) STRICT;"
    "CREATE INDEX IF NOT EXISTS usage_api_conn_account ON usage_api_hourly(conn_account, hour);"
    "CREATE INDEX IF NOT EXISTS usage_api_cluster_account ON usage_api_hourly(cluster_account,"
    "  hour);",
};

static const char *const msk_full =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"kafka:*\","
    "\"kafka-cluster:*\"],\"Resource\":\"*\"}]}";
static const char *const msk_read =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
    "\"kafka:Describe*\",\"kafka:List*\",\"kafka:Get*\"],\"Resource\":\"*\"}]}";

static int
db_fail(struct st_store *s, const char *what, const char **err)
{
    st_error("store: %s: %s", what, sqlite3_errmsg(s->db));
    *err = "the state database failed (see the straitd log)";
    return ST_STORE_ERR;
}

/* Returns the cached prepared statement for `sql` (reset, bindings cleared), or NULL. */
static sqlite3_stmt *
stmt(struct st_store *s, const char *sql)
{
    for (int i = 0; i < s->n_stmt; i++) {
        if (s->sql[i] == sql) {
            sqlite3_reset(s->stmt[i]);
            sqlite3_clear_bindings(s->stmt[i]);
            return s->stmt[i];
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        st_error("store: prepare failed: %s", sqlite3_errmsg(s->db));
        return NULL;
    }
    if (s->n_stmt < STMT_CACHE) {
        s->sql[s->n_stmt] = sql;
        s->stmt[s->n_stmt++] = st;
    } else {
        st_error("store: statement cache full");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Binds NUL-terminated strings (NULL binds SQL NULL) to ?1..?n. */
static void
bind_texts(sqlite3_stmt *st, int n, const char *const *v)
{
    for (int i = 0; i < n; i++) {
        if (v[i])
            sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(st, i + 1);
    }
}

#define TEXTS(...)                                                                                 \
    (const char *const[]){__VA_ARGS__},                                                            \
        (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

const double st_store_write_buckets[ST_STORE_WRITE_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

/* Records one durable write (a statement outside a transaction, or a commit). */
static void
ws_observe(struct st_store *s, int64_t ns)
{
    double sec = (double)ns / 1e9;
    s->ws.count++;
    s->ws.sum_seconds += sec;
    for (int i = 0; i < ST_STORE_WRITE_BUCKETS; i++)
        if (sec <= st_store_write_buckets[i])
            s->ws.buckets[i]++;
}

void
st_store_write_stats(const struct st_store *s, struct st_store_write_stats *out)
{
    *out = s->ws;
}

/* Runs a write statement; returns the number of changed rows or -1. */
static int
exec_w(struct st_store *s, const char *sql, const char *const *v, int n, const char **err)
{
    sqlite3_stmt *st = stmt(s, sql);
    if (!st)
        return db_fail(s, "prepare", err);
    bind_texts(st, n, v);
    int64_t t0 = s->in_tx ? 0 : st_mono_ns();
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (!s->in_tx)
        ws_observe(s, st_mono_ns() - t0);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT) {
            *err = "the change conflicts with existing state (unknown reference or duplicate)";
            return ST_STORE_CONFLICT;
        }
        return db_fail(s, "write", err);
    }
    return sqlite3_changes(s->db);
}
#define EXEC(s, err, sql, ...) exec_w(s, sql, TEXTS(__VA_ARGS__), err)

static const char *
col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Runs a query; for every row, builds an object from the column names (TEXT/INTEGER/NULL
 * columns; a column named with a trailing '$' is parsed as JSON and merged into the object).
 * Returns an array (possibly empty) or NULL on failure. */
static json_t *
query_rows(struct st_store *s, const char *sql, const char *const *v, int n, int limit)
{
    sqlite3_stmt *st = stmt(s, sql);
    if (!st)
        return NULL;
    bind_texts(st, n, v);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = json_object();
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *name = sqlite3_column_name(st, c);
            size_t nl = strlen(name);
            int t = sqlite3_column_type(st, c);
            if (nl && name[nl - 1] == '$') {
                if (t == SQLITE_NULL)
                    continue;
                json_t *d = json_loads(col(st, c), 0, NULL);
                if (json_is_object(d))
                    json_object_update(o, d);
                json_decref(d);
            } else if (t == SQLITE_INTEGER) {
                json_object_set_new(o, name, json_integer(sqlite3_column_int64(st, c)));
            } else if (t != SQLITE_NULL) {
                json_object_set_new(o, name, json_string(col(st, c)));
            }
        }
        json_array_append_new(arr, o);
        if (limit > 0 && (int)json_array_size(arr) >= limit)
            break;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        st_error("store: query failed: %s", sqlite3_errmsg(s->db));
        json_decref(arr);
        return NULL;
    }
    return arr;
}
#define QUERY(s, limit, sql, ...) query_rows(s, sql, TEXTS(__VA_ARGS__), limit)

/* The first row of a query, or NULL. */
static json_t *
query_one(struct st_store *s, const char *sql, const char *const *v, int n)
{
    json_t *arr = query_rows(s, sql, v, n, 1);
    json_t *o = arr && json_array_size(arr) ? json_incref(json_array_get(arr, 0)) : NULL;
    json_decref(arr);
    return o;
}
#define ONE(s, sql, ...) query_one(s, sql, TEXTS(__VA_ARGS__))

static int
exec_plain(struct st_store *s, const char *sql, const char **err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        st_error("store: %s", msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        *err = "the state database failed (see the straitd log)";
        return ST_STORE_ERR;
    }
    return ST_STORE_OK;
}

int
st_store_begin(struct st_store *s, const char **err)
{
    if (s->in_tx) {
        *err = "a store transaction is already open";
        return ST_STORE_ERR;
    }
    if (exec_plain(s, "BEGIN IMMEDIATE", err) != 0)
        return ST_STORE_ERR;
    s->in_tx = true;
    return ST_STORE_OK;
}

int
st_store_commit(struct st_store *s, const char **err)
{
    s->in_tx = false;
    int64_t t0 = st_mono_ns();
    int crc = exec_plain(s, "COMMIT", err);
    ws_observe(s, st_mono_ns() - t0);
    if (crc != 0) {
        exec_plain(s, "ROLLBACK", err);
        return ST_STORE_ERR;
    }
    return ST_STORE_OK;
}

void
st_store_rollback(struct st_store *s)
{
    const char *err;
    if (s->in_tx)
        (void)exec_plain(s, "ROLLBACK", &err);
    s->in_tx = false;
}

int
st_store_schema_version(struct st_store *s)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int
migrate(struct st_store *s, const char **err)
{
    int v = st_store_schema_version(s);
    int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
    if (v < 0)
        return db_fail(s, "read user_version", err);
    if (v > n) {
        *err = "the state database was written by a newer strait (schema version too new)";
        return ST_STORE_ERR;
    }
    for (; v < n; v++) {
        if (exec_plain(s, "BEGIN IMMEDIATE", err) != 0)
            return ST_STORE_ERR;
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (exec_plain(s, migrations[v], err) != 0 || exec_plain(s, pragma, err) != 0 ||
            exec_plain(s, "COMMIT", err) != 0) {
            (void)exec_plain(s, "ROLLBACK", err);
            *err = "a schema migration failed (see the straitd log)";
            return ST_STORE_ERR;
        }
        st_info("store: applied schema migration %d", v + 1);
    }
    /* Built-in managed policies (refreshed on every start). */
    static const char *const upsert_managed =
        "INSERT INTO managed_policies (arn, name, document, builtin) VALUES (?1, ?2, ?3, 1) "
        "ON CONFLICT(arn) DO UPDATE SET document = excluded.document";
    if (EXEC(s, err, upsert_managed, "arn:aws:iam::aws:policy/AmazonMSKFullAccess",
             "AmazonMSKFullAccess", msk_full) < 0 ||
        EXEC(s, err, upsert_managed, "arn:aws:iam::aws:policy/AmazonMSKReadOnlyAccess",
             "AmazonMSKReadOnlyAccess", msk_read) < 0)
        return ST_STORE_ERR;
    return ST_STORE_OK;
}

struct st_store *
st_store_open(const char *dir, const char **err)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/strait.db", dir) >= (int)sizeof(path)) {
        *err = "data dir path too long";
        return NULL;
    }
    /* Create the file 0600 ourselves: SQLite gives -wal/-shm the same mode. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        *err = "cannot create the state database file";
        return NULL;
    }
    (void)fchmod(fd, 0600);
    close(fd);
    struct st_store *s = calloc(1, sizeof(*s));
    if (!s) {
        *err = "out of memory";
        return NULL;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        *err = "cannot open the state database";
        st_store_close(s);
        return NULL;
    }
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_busy_timeout(s->db, 5000);
    if (exec_plain(s, "PRAGMA journal_mode=WAL", err) != 0 ||
        exec_plain(s, "PRAGMA synchronous=FULL", err) != 0 ||
        exec_plain(s, "PRAGMA foreign_keys=ON", err) != 0 || migrate(s, err) != 0) {
        st_store_close(s);
        return NULL;
    }
    return s;
}

void
st_store_close(struct st_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_stmt; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

char *
st_store_meta_get(struct st_store *s, const char *key)
{
    json_t *o = ONE(s, "SELECT value FROM meta WHERE key = ?1", key);
    char *v = o ? strdup(json_string_value(json_object_get(o, "value"))) : NULL;
    json_decref(o);
    return v;
}

int
st_store_meta_set(struct st_store *s, const char *key, const char *value, const char **err)
{
    int n = EXEC(s, err,
                 "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET "
                 "value = excluded.value WHERE value != excluded.value",
                 key, value);
    return n < 0 ? n : ST_STORE_OK;
}

static int
put_result(int n, bool *created)
{
    if (n < 0)
        return n;
    if (created)
        *created = n > 0;
    return ST_STORE_OK;
}

int
st_store_account_put(struct st_store *s, const char *id, const char *name, bool *created,
                     const char **err)
{
    return put_result(EXEC(s, err,
                           "INSERT INTO accounts (id, name) VALUES (?1, ?2) ON CONFLICT(id) DO "
                           "UPDATE SET name = excluded.name WHERE name != excluded.name",
                           id, name),
                      created);
}

bool
st_store_account_exists(struct st_store *s, const char *id)
{
    json_t *o = ONE(s, "SELECT id FROM accounts WHERE id = ?1", id);
    json_decref(o);
    return o != NULL;
}

int
st_store_principal_put(struct st_store *s, const char *arn, const char *account, const char *kind,
                       const char *name, const char *trust, bool *created, const char **err)
{
    return put_result(EXEC(s, err,
                           "INSERT INTO principals (arn, account, kind, name, trust) VALUES (?1, "
                           "?2, ?3, ?4, ?5) ON CONFLICT(arn) DO UPDATE SET trust = excluded.trust "
                           "WHERE trust IS NOT excluded.trust",
                           arn, account, kind, name, trust),
                      created);
}

json_t *
st_store_principal_get(struct st_store *s, const char *arn)
{
    return ONE(s,
               "SELECT arn, account, kind, name, trust AS trustPolicy FROM principals WHERE arn = "
               "?1",
               arn);
}

json_t *
st_store_principal_list(struct st_store *s)
{
    return query_rows(s,
                      "SELECT arn, account, kind, name, trust AS trustPolicy FROM principals "
                      "ORDER BY arn",
                      NULL, 0, 0);
}

int
st_store_key_put(struct st_store *s, const char *akid, const char *principal_arn,
                 const char *secret, bool *created, const char **err)
{
    json_t *o = ONE(s, "SELECT principal, secret FROM access_keys WHERE id = ?1", akid);
    if (o) {
        bool same =
            strcmp(json_string_value(json_object_get(o, "principal")), principal_arn) == 0 &&
            strcmp(json_string_value(json_object_get(o, "secret")), secret) == 0;
        json_decref(o);
        if (!same) {
            *err = "the access key id is already in use with another principal or secret";
            return ST_STORE_CONFLICT;
        }
        if (created)
            *created = false;
        return ST_STORE_OK;
    }
    return put_result(EXEC(s, err,
                           "INSERT INTO access_keys (id, principal, secret, created) VALUES (?1, "
                           "?2, ?3, unixepoch())",
                           akid, principal_arn, secret),
                      created);
}

json_t *
st_store_key_list(struct st_store *s)
{
    return query_rows(s,
                      "SELECT k.id AS accessKeyId, k.principal, p.account, k.secret, k.status "
                      "FROM access_keys k JOIN principals p ON p.arn = k.principal ORDER BY k.id",
                      NULL, 0, 0);
}

json_t *
st_store_managed_list(struct st_store *s)
{
    return query_rows(s, "SELECT arn, name, document, builtin FROM managed_policies ORDER BY name",
                      NULL, 0, 0);
}

int
st_store_attach(struct st_store *s, const char *principal_arn, const char *policy, bool *created,
                const char **err)
{
    json_t *o = ONE(s, "SELECT arn FROM managed_policies WHERE name = ?1 OR arn = ?1", policy);
    if (!o) {
        *err = "no managed policy with that name (built-ins: AmazonMSKFullAccess, "
               "AmazonMSKReadOnlyAccess)";
        return ST_STORE_NOTFOUND;
    }
    int n = EXEC(s, err,
                 "INSERT INTO attachments (principal, policy) VALUES (?1, ?2) ON CONFLICT DO "
                 "NOTHING",
                 principal_arn, json_string_value(json_object_get(o, "arn")));
    json_decref(o);
    return put_result(n, created);
}

int
st_store_inline_put(struct st_store *s, const char *principal_arn, const char *name,
                    const char *document, bool *created, const char **err)
{
    return put_result(EXEC(s, err,
                           "INSERT INTO inline_policies (principal, name, document) VALUES (?1, "
                           "?2, ?3) ON CONFLICT(principal, name) DO UPDATE SET document = "
                           "excluded.document WHERE document != excluded.document",
                           principal_arn, name, document),
                      created);
}

json_t *
st_store_principal_policies(struct st_store *s, const char *principal_arn)
{
    json_t *rows = QUERY(s, 0,
                         "SELECT document FROM inline_policies WHERE principal = ?1 UNION ALL "
                         "SELECT m.document FROM attachments a JOIN managed_policies m ON m.arn "
                         "= a.policy WHERE a.principal = ?1",
                         principal_arn);
    if (!rows)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) json_array_append(out, json_object_get(r, "document"));
    json_decref(rows);
    return out;
}

int
st_store_session_put(struct st_store *s, const char *akid, const char *secret, const char *token,
                     const char *arn, const char *role_arn, int64_t expires, const char **err)
{
    char exp[24];
    snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    int n = EXEC(s, err,
                 "INSERT INTO sessions (id, secret, token, arn, role, expires) VALUES (?1, ?2, "
                 "?3, ?4, ?5, CAST(?6 AS INTEGER))",
                 akid, secret, token, arn, role_arn, exp);
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_session_list(struct st_store *s, int64_t now)
{
    char t[24];
    const char *err;
    snprintf(t, sizeof(t), "%lld", (long long)now);
    /* Keep expired sessions for a day so their use is answered "expired", not "unknown". */
    (void)EXEC(s, &err, "DELETE FROM sessions WHERE expires <= CAST(?1 AS INTEGER) - 86400", t);
    return query_rows(s,
                      "SELECT x.id AS accessKeyId, x.secret, x.token AS sessionToken, x.arn AS "
                      "principal, x.role, p.account, x.expires FROM sessions x JOIN principals "
                      "p ON p.arn = x.role ORDER BY x.id",
                      NULL, 0, 0);
}

int
st_store_vpc_put(struct st_store *s, const char *id, const char *account, const char *cidr,
                 bool *created, const char **err)
{
    json_t *o = ONE(s, "SELECT account FROM vpcs WHERE id = ?1", id);
    if (o) {
        bool other = strcmp(json_string_value(json_object_get(o, "account")), account) != 0;
        json_decref(o);
        if (other) {
            *err = "the VPC id is already used by another account";
            return ST_STORE_CONFLICT;
        }
    }
    return put_result(EXEC(s, err,
                           "INSERT INTO vpcs (id, account, cidr) VALUES (?1, ?2, ?3) ON "
                           "CONFLICT(id) DO UPDATE SET cidr = excluded.cidr WHERE cidr != "
                           "excluded.cidr",
                           id, account, cidr),
                      created);
}

json_t *
st_store_account_list(struct st_store *s)
{
    return query_rows(s, "SELECT id, name FROM accounts ORDER BY id", NULL, 0, 0);
}

json_t *
st_store_vpc_list(struct st_store *s)
{
    json_t *vpcs = query_rows(s, "SELECT id, account, cidr FROM vpcs ORDER BY id", NULL, 0, 0);
    size_t i;
    json_t *v;
    json_array_foreach(vpcs, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        json_t *subnets = QUERY(s, 0,
                                "SELECT id, az_id AS azId, endpoint_address AS endpointAddress, "
                                "extra_addresses AS extraAddresses FROM subnets WHERE vpc = ?1 "
                                "ORDER BY id",
                                id);
        json_t *sgs = QUERY(s, 0,
                            "SELECT id, rules AS rules$ FROM security_groups WHERE vpc = ?1 ORDER "
                            "BY id",
                            id);
        json_object_set_new(v, "subnets", subnets ? subnets : json_array());
        json_object_set_new(v, "securityGroups", sgs ? sgs : json_array());
    }
    return vpcs;
}

json_t *
st_store_principal_policy_names(struct st_store *s, const char *principal_arn)
{
    json_t *in = QUERY(s, 0, "SELECT name FROM inline_policies WHERE principal = ?1 ORDER BY name",
                       principal_arn);
    json_t *mg = QUERY(s, 0,
                       "SELECT m.name FROM attachments a JOIN managed_policies m ON m.arn = "
                       "a.policy WHERE a.principal = ?1 ORDER BY m.name",
                       principal_arn);
    json_t *out = json_pack("{s:[], s:[]}", "inline", "managed");
    size_t i;
    json_t *r;
    json_array_foreach(in, i, r)
        json_array_append(json_object_get(out, "inline"), json_object_get(r, "name"));
    json_array_foreach(mg, i, r)
        json_array_append(json_object_get(out, "managed"), json_object_get(r, "name"));
    json_decref(in);
    json_decref(mg);
    return out;
}

json_t *
st_store_vpc_get(struct st_store *s, const char *id)
{
    return ONE(s, "SELECT id, account, cidr FROM vpcs WHERE id = ?1", id);
}

int
st_store_subnet_put(struct st_store *s, const char *id, const char *vpc, const char *az_id,
                    const char *endpoint_address, const char *extra, bool *created,
                    const char **err)
{
    json_t *o = ONE(s, "SELECT vpc FROM subnets WHERE id = ?1", id);
    if (o) {
        bool other = strcmp(json_string_value(json_object_get(o, "vpc")), vpc) != 0;
        json_decref(o);
        if (other) {
            *err = "the subnet id is already used in another VPC";
            return ST_STORE_CONFLICT;
        }
    }
    return put_result(EXEC(s, err,
                           "INSERT INTO subnets (id, vpc, az_id, endpoint_address, "
                           "extra_addresses) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO "
                           "UPDATE SET az_id = excluded.az_id, endpoint_address = "
                           "excluded.endpoint_address, extra_addresses = excluded.extra_addresses "
                           "WHERE az_id != excluded.az_id OR endpoint_address != "
                           "excluded.endpoint_address OR extra_addresses != "
                           "excluded.extra_addresses",
                           id, vpc, az_id, endpoint_address, extra ? extra : "[]"),
                      created);
}

json_t *
st_store_subnet_get(struct st_store *s, const char *id)
{
    return ONE(s,
               "SELECT s.id, s.vpc AS vpcId, v.account, s.az_id AS azId, s.endpoint_address AS "
               "endpointAddress, s.extra_addresses AS extraAddresses FROM subnets s JOIN vpcs v "
               "ON v.id = s.vpc WHERE s.id = ?1",
               id);
}

int
st_store_sg_put(struct st_store *s, const char *id, const char *vpc, const char *rules,
                bool *created, const char **err)
{
    json_t *o = ONE(s, "SELECT vpc FROM security_groups WHERE id = ?1", id);
    if (o) {
        bool other = strcmp(json_string_value(json_object_get(o, "vpc")), vpc) != 0;
        json_decref(o);
        if (other) {
            *err = "the security group id is already used in another VPC";
            return ST_STORE_CONFLICT;
        }
    }
    return put_result(EXEC(s, err,
                           "INSERT INTO security_groups (id, vpc, rules) VALUES (?1, ?2, ?3) ON "
                           "CONFLICT(id) DO UPDATE SET rules = excluded.rules WHERE rules != "
                           "excluded.rules",
                           id, vpc, rules),
                      created);
}

json_t *
st_store_sg_get(struct st_store *s, const char *id)
{
    return ONE(s,
               "SELECT g.id, g.vpc AS vpcId, v.account, g.rules AS rules$ FROM security_groups g "
               "JOIN vpcs v ON v.id = g.vpc WHERE g.id = ?1",
               id);
}

static const char *
jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

int
st_store_cluster_insert(struct st_store *s, const json_t *rec, const char **err)
{
    char *doc = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!doc) {
        *err = "out of memory";
        return ST_STORE_ERR;
    }
    int n = EXEC(s, err,
                 "INSERT INTO clusters (arn, account, name, state, version, doc) VALUES (?1, ?2, "
                 "?3, ?4, ?5, ?6)",
                 jstr(rec, "clusterArn"), jstr(rec, "account"), jstr(rec, "clusterName"),
                 jstr(rec, "state"), jstr(rec, "currentVersion"), doc);
    free(doc);
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_cluster_get(struct st_store *s, const char *arn)
{
    return ONE(s, "SELECT doc AS doc$ FROM clusters WHERE arn = ?1", arn);
}

int
st_store_cluster_update(struct st_store *s, const json_t *rec, const char *expected,
                        const char **err)
{
    char *doc = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!doc) {
        *err = "out of memory";
        return ST_STORE_ERR;
    }
    int n = EXEC(s, err,
                 "UPDATE clusters SET state = ?2, version = ?3, doc = ?4 WHERE arn = ?1 AND (?5 "
                 "IS NULL OR version = ?5)",
                 jstr(rec, "clusterArn"), jstr(rec, "state"), jstr(rec, "currentVersion"), doc,
                 expected);
    free(doc);
    if (n == 0) {
        *err = "the cluster changed since its currentVersion was read";
        return ST_STORE_CONFLICT;
    }
    return n < 0 ? n : ST_STORE_OK;
}

int
st_store_cluster_delete(struct st_store *s, const char *arn, const char **err)
{
    int n = EXEC(s, err, "DELETE FROM clusters WHERE arn = ?1", arn);
    if (n >= 0)
        n = EXEC(s, err, "DELETE FROM tags WHERE arn = ?1", arn);
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_cluster_list(struct st_store *s, const char *account, const char *name_filter,
                      const char *after, int limit)
{
    return QUERY(
        s, limit,
        "SELECT doc AS doc$ FROM clusters WHERE (?1 IS NULL OR account = ?1) AND (?2 IS "
        "NULL OR substr(name, 1, length(?2)) = ?2) AND (?3 IS NULL OR arn > ?3) ORDER BY arn",
        account, name_filter, after);
}

int
st_store_cluster_policy_put(struct st_store *s, const char *arn, const char *document,
                            const char *expected, const char *new_version, const char **err)
{
    json_t *o = ONE(s, "SELECT policy_version FROM clusters WHERE arn = ?1", arn);
    if (!o) {
        *err = "no such cluster";
        return ST_STORE_NOTFOUND;
    }
    const char *cur = json_string_value(json_object_get(o, "policy_version"));
    int rc = ST_STORE_OK;
    if (!expected && cur) {
        *err = "the cluster already has a policy: pass its currentVersion (from "
               "GetClusterPolicy) to replace it";
        rc = ST_STORE_CONFLICT;
    } else if (expected && !cur) {
        *err = "the cluster has no policy yet: omit currentVersion to create one";
        rc = ST_STORE_CONFLICT;
    } else if (expected && strcmp(expected, cur) != 0) {
        *err = "currentVersion does not match the cluster policy's current version: read it "
               "again with GetClusterPolicy";
        rc = ST_STORE_CONFLICT;
    }
    json_decref(o);
    if (rc != ST_STORE_OK)
        return rc;
    int n = EXEC(s, err,
                 "UPDATE clusters SET policy = ?2, policy_version = ?3 WHERE arn = ?1 AND "
                 "policy_version IS ?4",
                 arn, document, new_version, expected);
    if (n == 0) {
        *err = "the cluster policy changed concurrently: read it again with GetClusterPolicy";
        return ST_STORE_CONFLICT;
    }
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_cluster_policy_get(struct st_store *s, const char *arn)
{
    return ONE(s,
               "SELECT policy, policy_version AS currentVersion FROM clusters WHERE arn = ?1 AND "
               "policy IS NOT NULL",
               arn);
}

int
st_store_cluster_policy_delete(struct st_store *s, const char *arn, const char **err)
{
    int n = EXEC(s, err,
                 "UPDATE clusters SET policy = NULL, policy_version = NULL WHERE arn = ?1 AND "
                 "policy IS NOT NULL",
                 arn);
    if (n == 0) {
        *err = "the cluster has no policy";
        return ST_STORE_NOTFOUND;
    }
    return n < 0 ? n : ST_STORE_OK;
}

int
st_store_conn_insert(struct st_store *s, const json_t *rec, const char **err)
{
    char *doc = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!doc) {
        *err = "out of memory";
        return ST_STORE_ERR;
    }
    int n = EXEC(s, err,
                 "INSERT INTO vpc_connections (arn, owner, cluster, state, doc) VALUES (?1, ?2, "
                 "?3, ?4, ?5)",
                 jstr(rec, "vpcConnectionArn"), jstr(rec, "owner"), jstr(rec, "targetClusterArn"),
                 jstr(rec, "state"), doc);
    free(doc);
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_conn_get(struct st_store *s, const char *arn)
{
    return ONE(s, "SELECT doc AS doc$ FROM vpc_connections WHERE arn = ?1", arn);
}

int
st_store_conn_update(struct st_store *s, const json_t *rec, const char **err)
{
    char *doc = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    if (!doc) {
        *err = "out of memory";
        return ST_STORE_ERR;
    }
    int n = EXEC(s, err, "UPDATE vpc_connections SET state = ?2, doc = ?3 WHERE arn = ?1",
                 jstr(rec, "vpcConnectionArn"), jstr(rec, "state"), doc);
    free(doc);
    if (n == 0) {
        *err = "no such VPC connection";
        return ST_STORE_NOTFOUND;
    }
    return n < 0 ? n : ST_STORE_OK;
}

int
st_store_conn_delete(struct st_store *s, const char *arn, const char **err)
{
    int n = EXEC(s, err, "DELETE FROM vpc_connections WHERE arn = ?1", arn);
    if (n >= 0)
        n = EXEC(s, err, "DELETE FROM tags WHERE arn = ?1", arn);
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_conn_list(struct st_store *s, const char *owner, const char *cluster, const char *after,
                   int limit)
{
    return QUERY(s, limit,
                 "SELECT doc AS doc$ FROM vpc_connections WHERE (?1 IS NULL OR owner = ?1) AND "
                 "(?2 IS NULL OR cluster = ?2) AND (?3 IS NULL OR arn > ?3) ORDER BY arn",
                 owner, cluster, after);
}

int
st_store_scram_put(struct st_store *s, const char *arn, const char *account, const char *username,
                   const char *cred, bool *created, const char **err)
{
    return put_result(EXEC(s, err,
                           "INSERT INTO scram_secrets (arn, account, username, credential) VALUES "
                           "(?1, ?2, ?3, ?4) ON CONFLICT(arn) DO UPDATE SET username = "
                           "excluded.username, credential = excluded.credential",
                           arn, account, username, cred),
                      created);
}

json_t *
st_store_scram_get(struct st_store *s, const char *arn)
{
    return ONE(s, "SELECT arn, account, username, credential FROM scram_secrets WHERE arn = ?1",
               arn);
}

int
st_store_cluster_scram_set(struct st_store *s, const char *cluster, const char *secret,
                           bool associate, const char **err)
{
    int n = associate ? EXEC(s, err,
                             "INSERT INTO cluster_scram (cluster, secret) VALUES (?1, ?2) ON "
                             "CONFLICT DO NOTHING",
                             cluster, secret)
                      : EXEC(s, err, "DELETE FROM cluster_scram WHERE cluster = ?1 AND secret = ?2",
                             cluster, secret);
    if (n == 0 && !associate) {
        *err = "the secret is not associated with the cluster";
        return ST_STORE_NOTFOUND;
    }
    return n < 0 ? n : ST_STORE_OK;
}

json_t *
st_store_cluster_scram_list(struct st_store *s, const char *cluster, const char *after, int limit)
{
    json_t *rows = QUERY(s, limit,
                         "SELECT c.secret, x.username, x.credential FROM cluster_scram c JOIN "
                         "scram_secrets x ON x.arn = c.secret WHERE c.cluster = ?1 AND (?2 IS "
                         "NULL OR c.secret > ?2) ORDER BY c.secret",
                         cluster, after);
    return rows;
}

int
st_store_tags_merge(struct st_store *s, const char *arn, const json_t *tags, const char **err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v)
    {
        if (!json_is_string(v)) {
            *err = "tag values must be strings";
            return ST_STORE_ERR;
        }
        int n = EXEC(s, err,
                     "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(arn, "
                     "key) DO UPDATE SET value = excluded.value",
                     arn, k, json_string_value(v));
        if (n < 0)
            return n;
    }
    return ST_STORE_OK;
}

int
st_store_tags_remove(struct st_store *s, const char *arn, const json_t *keys, const char **err)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)keys, i, v)
    {
        int n =
            EXEC(s, err, "DELETE FROM tags WHERE arn = ?1 AND key = ?2", arn, json_string_value(v));
        if (n < 0)
            return n;
    }
    return ST_STORE_OK;
}

json_t *
st_store_tags_get(struct st_store *s, const char *arn)
{
    json_t *rows = QUERY(s, 0, "SELECT key, value FROM tags WHERE arn = ?1 ORDER BY key", arn);
    json_t *o = json_object();
    size_t i;
    json_t *r;
    if (rows)
        json_array_foreach(rows, i, r)
            json_object_set(o, jstr(r, "key"), json_object_get(r, "value"));
    json_decref(rows);
    return o;
}

/* ---- metering */

int
st_store_usage_add(struct st_store *s, const struct st_store_usage *u, const char **err)
{
    static const char *const sql =
        "INSERT INTO usage_hourly (conn, hour, cluster, scheme, conn_account, cluster_account,"
        " bytes_in, bytes_out, requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT(conn, hour) DO UPDATE SET bytes_in = bytes_in + excluded.bytes_in,"
        " bytes_out = bytes_out + excluded.bytes_out, requests = requests + excluded.requests";
    if (u->bytes_in < 0 || u->bytes_out < 0 || u->requests < 0 || u->hour % 3600 != 0) {
        *err = "usage deltas are non-negative and hours start on the hour";
        return ST_STORE_ERR;
    }
    sqlite3_stmt *st = stmt(s, sql);
    if (!st)
        return db_fail(s, "prepare", err);
    bind_texts(st, 1, (const char *const[]){u->conn_arn});
    sqlite3_bind_int64(st, 2, u->hour);
    sqlite3_bind_text(st, 3, u->cluster_arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, u->scheme, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, u->conn_account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, u->cluster_account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, u->bytes_in);
    sqlite3_bind_int64(st, 8, u->bytes_out);
    sqlite3_bind_int64(st, 9, u->requests);
    int64_t t0 = s->in_tx ? 0 : st_mono_ns();
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (!s->in_tx)
        ws_observe(s, st_mono_ns() - t0);
    return rc == SQLITE_DONE ? ST_STORE_OK : db_fail(s, "usage write", err);
}

int
st_store_usage_api_add(struct st_store *s, const struct st_store_usage *u, int api_key,
                       int64_t requests, const char **err)
{
    static const char *const sql =
        "INSERT INTO usage_api_hourly (conn, hour, api, cluster, scheme, conn_account,"
        " cluster_account, requests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(conn, hour, api) DO UPDATE SET requests = requests + excluded.requests";
    if (requests < 0 || api_key < 0 || api_key > INT16_MAX || u->hour % 3600 != 0) {
        *err = "API request deltas are non-negative, API keys 0..32767 and hours start on the hour";
        return ST_STORE_ERR;
    }
    sqlite3_stmt *st = stmt(s, sql);
    if (!st)
        return db_fail(s, "prepare", err);
    sqlite3_bind_text(st, 1, u->conn_arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, u->hour);
    sqlite3_bind_int(st, 3, api_key);
    sqlite3_bind_text(st, 4, u->cluster_arn, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, u->scheme, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, u->conn_account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, u->cluster_account, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, requests);
    int64_t t0 = s->in_tx ? 0 : st_mono_ns();
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (!s->in_tx)
        ws_observe(s, st_mono_ns() - t0);
    return rc == SQLITE_DONE ? ST_STORE_OK : db_fail(s, "usage by API write", err);
}

int
st_store_conn_state_add(struct st_store *s, const struct st_store_conn_state *c, const char **err)
{
    static const char *const sql =
        "INSERT INTO conn_states (conn, cluster, scheme, conn_account, cluster_account, state,"
        " at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
    sqlite3_stmt *st = stmt(s, sql);
    if (!st)
        return db_fail(s, "prepare", err);
    bind_texts(st, 6,
               (const char *const[]){c->conn_arn, c->cluster_arn, c->scheme, c->conn_account,
                                     c->cluster_account, c->state});
    sqlite3_bind_int64(st, 7, c->at_ms);
    int64_t t0 = s->in_tx ? 0 : st_mono_ns();
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (!s->in_tx)
        ws_observe(s, st_mono_ns() - t0);
    return rc == SQLITE_DONE ? ST_STORE_OK : db_fail(s, "connection state write", err);
}

json_t *
st_store_conn_state_last(struct st_store *s)
{
    return QUERY(s, 0,
                 "SELECT conn AS vpcConnectionArn, cluster AS clusterArn, scheme AS authentication,"
                 " conn_account AS clientAccount, cluster_account AS clusterAccount, state, at_ms"
                 " AS atMs FROM conn_states c WHERE seq = "
                 "(SELECT MAX(seq) FROM conn_states d WHERE d.conn = c.conn) ORDER BY conn");
}

/* Account scope: ?1 = account, ?2 = 'conn' or 'cluster'; ?3/?4 optional ARN filters. */
#define USAGE_SCOPE                                                                                \
    " WHERE ((?2 = 'conn' AND conn_account = ?1) OR (?2 = 'cluster' AND cluster_account = ?1))"    \
    " AND (?3 IS NULL OR cluster = ?3) AND (?4 IS NULL OR conn = ?4)"

json_t *
st_store_usage_list(struct st_store *s, const char *account, const char *side,
                    const char *cluster_arn, const char *conn_arn, int64_t from, int64_t to)
{
    char f[32], t[32];
    snprintf(f, sizeof(f), "%lld", (long long)from);
    snprintf(t, sizeof(t), "%lld", (long long)to);
    return QUERY(
        s, 0,
        "SELECT conn AS vpcConnectionArn, hour, cluster AS clusterArn, scheme AS "
        "authentication, conn_account AS clientAccount, cluster_account AS clusterAccount,"
        " bytes_in AS bytesIn, bytes_out AS bytesOut, requests FROM usage_hourly" USAGE_SCOPE
        " AND hour + 3600 > CAST(?5 AS INTEGER) AND hour < CAST(?6 AS INTEGER)"
        " ORDER BY conn, hour",
        account, side, cluster_arn, conn_arn, f, t);
}

json_t *
st_store_usage_api_list(struct st_store *s, const char *account, const char *side,
                        const char *cluster_arn, const char *conn_arn, int64_t from, int64_t to)
{
    char f[32], t[32];
    snprintf(f, sizeof(f), "%lld", (long long)from);
    snprintf(t, sizeof(t), "%lld", (long long)to);
    return QUERY(s, 0,
                 "SELECT conn AS vpcConnectionArn, hour, api AS apiKey, cluster AS clusterArn,"
                 " scheme AS authentication, conn_account AS clientAccount, cluster_account AS"
                 " clusterAccount, requests FROM usage_api_hourly" USAGE_SCOPE
                 " AND hour + 3600 > CAST(?5 AS INTEGER) AND hour < CAST(?6 AS INTEGER)"
                 " ORDER BY conn, hour, api",
                 account, side, cluster_arn, conn_arn, f, t);
}

json_t *
st_store_conn_state_list(struct st_store *s, const char *account, const char *side,
                         const char *cluster_arn, const char *conn_arn)
{
    return QUERY(s, 0,
                 "SELECT conn AS vpcConnectionArn, cluster AS clusterArn, scheme AS authentication,"
                 " conn_account AS clientAccount, cluster_account AS clusterAccount, state, at_ms"
                 " AS atMs FROM conn_states" USAGE_SCOPE " ORDER BY conn, seq",
                 account, side, cluster_arn, conn_arn);
}

/* ---- Kafka ACLs (schema migration 4) */

/* The binding's seven strings in column order, or -1 with *err when one is missing. */
static int
acl_columns(const json_t *b, const char *v[7], const char **err)
{
    static const char *const keys[7] = {"resourceType",  "resourceName", "patternType",
                                        "principal",     "host",         "operation",
                                        "permissionType"};
    for (int i = 0; i < 7; i++) {
        v[i] = json_string_value(json_object_get(b, keys[i]));
        if (!v[i]) {
            *err = "an ACL binding needs resourceType, resourceName, patternType, principal, "
                   "host, operation and permissionType as strings";
            return -1;
        }
    }
    return 0;
}

int
st_store_acl_add(struct st_store *s, const char *cluster, const json_t *binding, bool *created,
                 const char **err)
{
    const char *v[7];
    if (acl_columns(binding, v, err) != 0)
        return ST_STORE_ERR;
    json_t *o = ONE(s, "SELECT arn FROM clusters WHERE arn = ?1", cluster);
    json_decref(o);
    if (!o) {
        *err = "no such cluster";
        return ST_STORE_NOTFOUND;
    }
    return put_result(EXEC(s, err,
                           "INSERT INTO kafka_acls (cluster, resource_type, resource_name, "
                           "pattern_type, principal, host, operation, permission) VALUES (?1, ?2, "
                           "?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                           cluster, v[0], v[1], v[2], v[3], v[4], v[5], v[6]),
                      created);
}

int
st_store_acl_remove(struct st_store *s, const char *cluster, const json_t *binding, bool *removed,
                    const char **err)
{
    const char *v[7];
    if (acl_columns(binding, v, err) != 0)
        return ST_STORE_ERR;
    return put_result(EXEC(s, err,
                           "DELETE FROM kafka_acls WHERE cluster = ?1 AND resource_type = ?2 AND "
                           "resource_name = ?3 AND pattern_type = ?4 AND principal = ?5 AND host "
                           "= ?6 AND operation = ?7 AND permission = ?8",
                           cluster, v[0], v[1], v[2], v[3], v[4], v[5], v[6]),
                      removed);
}

json_t *
st_store_acl_list(struct st_store *s, const char *cluster)
{
    return QUERY(s, 0,
                 "SELECT resource_type AS resourceType, resource_name AS resourceName, "
                 "pattern_type AS patternType, principal, host, operation, permission AS "
                 "permissionType FROM kafka_acls WHERE cluster = ?1 ORDER BY resource_type, "
                 "resource_name, pattern_type, principal, host, operation, permission",
                 cluster);
}
