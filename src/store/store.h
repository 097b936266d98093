/*
 * The control plane's durable state: accounts, IAM users/roles/keys/policies, STS sessions, VPCs,
 * subnets, security groups, clusters, cluster policies, VPC connections, SCRAM secrets, tags,
 * metering and the Kafka ACLs of clusters.
 *
 * The interface is narrow and backend-neutral: records cross it as jansson objects with the
 * camelCase member names documented per function, so a PostgreSQL implementation can follow
 * with the same header. The SQLite implementation (sqlite.c) keeps one file `strait.db` (0600) in
 * the data dir in WAL mode with synchronous=FULL: every mutation is durable when it returns.
 *
 * Return convention: ST_STORE_OK (0), or a negative st_store_rc with *err set to static text.
 * Context: single-threaded (the control plane's event loop). Secrets are never logged.
 */
#ifndef ST_STORE_STORE_H
#define ST_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

enum st_store_rc {
    ST_STORE_OK = 0,        /* done */
    ST_STORE_ERR = -1,      /* I/O or database failure */
    ST_STORE_NOTFOUND = -2, /* the record does not exist */
    ST_STORE_CONFLICT = -3, /* version mismatch or key owned by someone else */
};

struct st_store;

/*
 * Opens (creating if missing) the store in directory `dir`, applies pending migrations and the
 * built-in managed policies. Returns a new store (st_store_close()) or NULL with *err.
 */
struct st_store *st_store_open(const char *dir, const char **err)
    __attribute__((warn_unused_result));
void st_store_close(struct st_store *s);
/* Schema version (PRAGMA user_version) after migrations. */
int st_store_schema_version(struct st_store *s);

/* Groups several mutations into one transaction (not nestable). */
int st_store_begin(struct st_store *s, const char **err) __attribute__((warn_unused_result));
int st_store_commit(struct st_store *s, const char **err) __attribute__((warn_unused_result));
void st_store_rollback(struct st_store *s);

/* Settings such as "region". get: returns a new string (free()) or NULL when unset. */
char *st_store_meta_get(struct st_store *s, const char *key);
int st_store_meta_set(struct st_store *s, const char *key, const char *value, const char **err)
    __attribute__((warn_unused_result));

/* ---- IAM. `*created` (may be NULL) says whether a row was inserted or changed. */

int st_store_account_put(struct st_store *s, const char *id, const char *name, bool *created,
                         const char **err) __attribute__((warn_unused_result));
bool st_store_account_exists(struct st_store *s, const char *id);
/* [{id, name}] ordered by id. */
json_t *st_store_account_list(struct st_store *s);
/* Principals: kind "user" or "role"; arn arn:aws:iam::ACCT:user/NAME or .../role/NAME. Roles
 * carry their trust policy text (replaced when it differs). */
int st_store_principal_put(struct st_store *s, const char *arn, const char *account,
                           const char *kind, const char *name, const char *trust, bool *created,
                           const char **err) __attribute__((warn_unused_result));
/* {arn, account, kind, name, trustPolicy?} or NULL (NOTFOUND). */
json_t *st_store_principal_get(struct st_store *s, const char *arn);
/* Every principal as above, ordered by ARN. */
json_t *st_store_principal_list(struct st_store *s);

/* Long-term access key of a principal. CONFLICT when the key id belongs to another principal or
 * has another secret. */
int st_store_key_put(struct st_store *s, const char *akid, const char *principal_arn,
                     const char *secret, bool *created, const char **err)
    __attribute__((warn_unused_result));
/* [{accessKeyId, principal, account, secret, status}] (secrets included: control plane only). */
json_t *st_store_key_list(struct st_store *s);

/* Managed policies: {arn, name, document, builtin}. The built-ins are AmazonMSKFullAccess and
 * AmazonMSKReadOnlyAccess (arn:aws:iam::aws:policy/NAME). */
json_t *st_store_managed_list(struct st_store *s);
/* Attaches a managed policy by name or ARN. NOTFOUND if there is no such managed policy. */
int st_store_attach(struct st_store *s, const char *principal_arn, const char *policy,
                    bool *created, const char **err) __attribute__((warn_unused_result));
int st_store_inline_put(struct st_store *s, const char *principal_arn, const char *name,
                        const char *document, bool *created, const char **err)
    __attribute__((warn_unused_result));
/* Every identity policy document (strings) of a principal: inline then attached managed. */
json_t *st_store_principal_policies(struct st_store *s, const char *principal_arn);

/* STS session: temporary key `akid` with `secret` and `token` for the assumed-role principal
 * `arn` (role `role_arn`), valid until `expires` (epoch seconds). */
int st_store_session_put(struct st_store *s, const char *akid, const char *secret,
                         const char *token, const char *arn, const char *role_arn, int64_t expires,
                         const char **err) __attribute__((warn_unused_result));
/* [{accessKeyId, secret, sessionToken, principal, role, account, expires}]: every session,
 * including those expired less than a day before `now` (older ones are deleted). */
json_t *st_store_session_list(struct st_store *s, int64_t now);

/* ---- networks */

int st_store_vpc_put(struct st_store *s, const char *id, const char *account, const char *cidr,
                     bool *created, const char **err) __attribute__((warn_unused_result));
/* {id, account, cidr} or NULL */
json_t *st_store_vpc_get(struct st_store *s, const char *id);
/* Every VPC with its subnets and security groups:
 * [{id, account, cidr, subnets: [{id, azId, endpointAddress, extraAddresses}],
 *   securityGroups: [{id, ingress, egress}]}] ordered by id. */
json_t *st_store_vpc_list(struct st_store *s);
/* Names of a principal's policies: {"inline": [...], "managed": [...]}. */
json_t *st_store_principal_policy_names(struct st_store *s, const char *principal_arn);
/* `extra` is a JSON array text of further endpoint addresses (NULL = none). */
int st_store_subnet_put(struct st_store *s, const char *id, const char *vpc, const char *az_id,
                        const char *endpoint_address, const char *extra, bool *created,
                        const char **err) __attribute__((warn_unused_result));
/* {id, vpcId, account, azId, endpointAddress, extraAddresses (JSON array text)} or NULL */
json_t *st_store_subnet_get(struct st_store *s, const char *id);
/* `rules` is a JSON object text {"ingress":[...],"egress":[...]}. */
int st_store_sg_put(struct st_store *s, const char *id, const char *vpc, const char *rules,
                    bool *created, const char **err) __attribute__((warn_unused_result));
/* {id, vpcId, account, ingress, egress} or NULL */
json_t *st_store_sg_get(struct st_store *s, const char *id);

/* ---- clusters. A cluster record is the JSON object the control plane keeps ({clusterArn,
 * clusterName, account, state, currentVersion, ...}); the store indexes arn, account, name,
 * state and currentVersion and keeps the rest opaque. */

int st_store_cluster_insert(struct st_store *s, const json_t *rec, const char **err)
    __attribute__((warn_unused_result));
/* Returns a new reference or NULL when absent. */
json_t *st_store_cluster_get(struct st_store *s, const char *arn);
/* Replaces a record if its stored currentVersion equals `expected` (NULL: unconditional);
 * CONFLICT otherwise. */
int st_store_cluster_update(struct st_store *s, const json_t *rec, const char *expected,
                            const char **err) __attribute__((warn_unused_result));
int st_store_cluster_delete(struct st_store *s, const char *arn, const char **err)
    __attribute__((warn_unused_result));
/* Clusters of `account` (NULL: all) whose name starts with `name_filter` (NULL: any), ARN > `after`
 * (NULL: from the start), at most `limit` (0: all), ordered by ARN. */
json_t *st_store_cluster_list(struct st_store *s, const char *account, const char *name_filter,
                              const char *after, int limit);

/* Cluster policy with optimistic concurrency: `expected` NULL creates (CONFLICT if one exists),
 * otherwise it must equal the stored version (CONFLICT if not, NOTFOUND if none). */
int st_store_cluster_policy_put(struct st_store *s, const char *arn, const char *document,
                                const char *expected, const char *new_version, const char **err)
    __attribute__((warn_unused_result));
/* Returns {policy, currentVersion} or NULL when the cluster has none. */
json_t *st_store_cluster_policy_get(struct st_store *s, const char *arn);
int st_store_cluster_policy_delete(struct st_store *s, const char *arn, const char **err)
    __attribute__((warn_unused_result));

/* ---- VPC connections: record {vpcConnectionArn, owner, targetClusterArn, state, ...} */

int st_store_conn_insert(struct st_store *s, const json_t *rec, const char **err)
    __attribute__((warn_unused_result));
json_t *st_store_conn_get(struct st_store *s, const char *arn);
/* Replaces the record (state included). NOTFOUND when absent. */
int st_store_conn_update(struct st_store *s, const json_t *rec, const char **err)
    __attribute__((warn_unused_result));
int st_store_conn_delete(struct st_store *s, const char *arn, const char **err)
    __attribute__((warn_unused_result));
/* Connections owned by `owner` and/or made to `cluster` (NULL: any), paged like clusters. */
json_t *st_store_conn_list(struct st_store *s, const char *owner, const char *cluster,
                           const char *after, int limit);

/* ---- SCRAM secrets: `cred` is st_scram_cred_format() text (salted, never the password). */

int st_store_scram_put(struct st_store *s, const char *arn, const char *account,
                       const char *username, const char *cred, bool *created, const char **err)
    __attribute__((warn_unused_result));
/* {arn, account, username, credential} or NULL */
json_t *st_store_scram_get(struct st_store *s, const char *arn);
int st_store_cluster_scram_set(struct st_store *s, const char *cluster, const char *secret,
                               bool associate, const char **err)
    __attribute__((warn_unused_result));
/* Secret ARNs associated with `cluster` (strings), paged. */
json_t *st_store_cluster_scram_list(struct st_store *s, const char *cluster, const char *after,
                                    int limit);

/* ---- tags on any ARN */

int st_store_tags_merge(struct st_store *s, const char *arn, const json_t *tags, const char **err)
    __attribute__((warn_unused_result));
int st_store_tags_remove(struct st_store *s, const char *arn, const json_t *keys, const char **err)
    __attribute__((warn_unused_result));
/* {key: value} (empty object when none). */
json_t *st_store_tags_get(struct st_store *s, const char *arn);

/* ---- metering (schema migration 3). Rows keep both accounts so that usage outlives the
 * connection and the cluster it was measured on. */

/* Traffic of one VPC connection in one hour. */
struct st_store_usage {
    const char *conn_arn;        /* vpc-connection ARN */
    const char *cluster_arn;     /* its target cluster */
    const char *scheme;          /* SASL_IAM, SASL_SCRAM or TLS */
    const char *conn_account;    /* the connection's (client) account */
    const char *cluster_account; /* the cluster owner's account */
    int64_t hour;                /* epoch seconds of the hour's start (multiple of 3600) */
    int64_t bytes_in;            /* bytes received from clients */
    int64_t bytes_out;           /* bytes sent to clients */
    int64_t requests;            /* Kafka requests */
};
/* Adds the deltas to the (connection, hour) row, creating it. Rejects negative deltas and hours
 * not on the hour. */
int st_store_usage_add(struct st_store *s, const struct st_store_usage *u, const char **err)
    __attribute__((warn_unused_result));

/*
 * Adds `requests` requests of Kafka API `api_key` to the (connection, hour, API) row of
 * `u`'s connection and hour (schema migration 5; u's byte and request counts are ignored).
 * Rejects negative deltas, keys outside 0..32767 and hours not on the hour. Meant to run in the
 * same transaction as the st_store_usage_add() of the same deltas.
 */
int st_store_usage_api_add(struct st_store *s, const struct st_store_usage *u, int api_key,
                           int64_t requests, const char **err) __attribute__((warn_unused_result));

/* One recorded state of a VPC connection (connection-hours are derived from these). */
struct st_store_conn_state {
    const char *conn_arn;        /* vpc-connection ARN */
    const char *cluster_arn;     /* target cluster */
    const char *scheme;          /* SASL_IAM, SASL_SCRAM or TLS */
    const char *conn_account;    /* client account */
    const char *cluster_account; /* cluster owner */
    const char *state;           /* VpcConnectionState, or "DELETED" */
    int64_t at_ms;               /* when it was entered, epoch milliseconds */
};
int st_store_conn_state_add(struct st_store *s, const struct st_store_conn_state *c,
                            const char **err) __attribute__((warn_unused_result));
/* The last recorded state of every connection ever recorded: [{vpcConnectionArn, clusterArn,
 * authentication, clientAccount, clusterAccount, state, atMs}]. */
json_t *st_store_conn_state_last(struct st_store *s);

/*
 * Usage rows visible to `account`: side "conn" = the connections it owns, "cluster" = the
 * connections to the clusters it owns. cluster_arn/conn_arn (NULL = any) narrow it; rows of the
 * hours overlapping [from, to) (epoch seconds). Returns [{vpcConnectionArn, hour, clusterArn,
 * authentication, clientAccount, clusterAccount, bytesIn, bytesOut, requests}] ordered by
 * connection and hour, or NULL on failure.
 */
json_t *st_store_usage_list(struct st_store *s, const char *account, const char *side,
                            const char *cluster_arn, const char *conn_arn, int64_t from,
                            int64_t to);
/* Requests by API in the same scope and window: [{vpcConnectionArn, hour, apiKey, clusterArn,
 * authentication, clientAccount, clusterAccount, requests}] ordered by connection, hour and API
 * key, or NULL on failure. */
json_t *st_store_usage_api_list(struct st_store *s, const char *account, const char *side,
                                const char *cluster_arn, const char *conn_arn, int64_t from,
                                int64_t to);
/* State history in the same scope: [{vpcConnectionArn, clusterArn, authentication,
 * clientAccount, clusterAccount, state, atMs}] ordered by connection and time. */
json_t *st_store_conn_state_list(struct st_store *s, const char *account, const char *side,
                                 const char *cluster_arn, const char *conn_arn);

/* ---- Kafka ACLs of a cluster (schema migration 4). A binding crosses this interface in the JSON
 * form of st_acl_binding_to_json() (authz/acl.h): {resourceType, resourceName, patternType,
 * principal, host, operation, permissionType}, all strings, enums as Kafka's names. The store
 * keeps the strings as given (the control plane canonicalises and validates them) and does not
 * interpret them. Bindings are deleted with their cluster. */

/* Adds a binding to `cluster`; an exact duplicate is ignored (*created false). NOTFOUND when the
 * cluster does not exist, ERR when a member is missing. */
int st_store_acl_add(struct st_store *s, const char *cluster, const json_t *binding, bool *created,
                     const char **err) __attribute__((warn_unused_result));
/* Removes the binding equal to `binding` in every member; *removed (may be NULL) says whether
 * one existed (absent is not an error). */
int st_store_acl_remove(struct st_store *s, const char *cluster, const json_t *binding,
                        bool *removed, const char **err) __attribute__((warn_unused_result));
/* The bindings of `cluster` as above, ordered by resourceType, resourceName, patternType,
 * principal, host, operation, permissionType (an empty array for an unknown cluster), or NULL
 * on failure. */
json_t *st_store_acl_list(struct st_store *s, const char *cluster);

/* Latency of durable writes (statements outside a transaction, and commits). */
#define ST_STORE_WRITE_BUCKETS 12
extern const double st_store_write_buckets[ST_STORE_WRITE_BUCKETS]; /* upper bounds, seconds */
struct st_store_write_stats {
    uint64_t buckets[ST_STORE_WRITE_BUCKETS]; /* cumulative: writes <= bound */
    uint64_t count;                           /* writes */
    double sum_seconds;                       /* total time */
};
void st_store_write_stats(const struct st_store *s, struct st_store_write_stats *out);

#endif
