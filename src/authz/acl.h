/*
 * Kafka ACLs with Kafka's own semantics (StandardAuthorizer / AclAuthorizer), for principals that
 * authenticate with SASL/SCRAM or mutual TLS: bindings (resource pattern + access control entry),
 * an immutable sorted set the data plane authorizes against, binding filters for DescribeAcls /
 * DeleteAcls, validation as Kafka's CreateAcls does it, a JSON form for the store, and the wire
 * side of CreateAcls (30), DescribeAcls (29) and DeleteAcls (31).
 *
 * Semantics: LITERAL names match exactly, "*" LITERAL matches every name of the type, PREFIXED
 * matches names starting with the pattern; principal "User:*" and host "*" match anyone; DENY
 * beats ALLOW; ALL covers every operation; READ, WRITE, DELETE and ALTER imply DESCRIBE;
 * ALTER_CONFIGS implies DESCRIBE_CONFIGS; super users are allowed everything; no matching ALLOW
 * means denied (allow.everyone.if.no.acl.found=false, as MSK sets it).
 *
 * Context: pure library. A set is immutable once built and may be read from any thread.
 */
#ifndef ST_AUTHZ_ACL_H
#define ST_AUTHZ_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

/* Kafka's ResourceType codes. */
enum st_acl_rtype {
    ST_ACL_RT_UNKNOWN = 0,
    ST_ACL_RT_ANY = 1, /* filters only */
    ST_ACL_RT_TOPIC = 2,
    ST_ACL_RT_GROUP = 3,
    ST_ACL_RT_CLUSTER = 4, /* name is always "kafka-cluster" */
    ST_ACL_RT_TRANSACTIONAL_ID = 5,
    ST_ACL_RT_DELEGATION_TOKEN = 6,
    ST_ACL_RT_USER = 7,
};

/* Kafka's PatternType codes. */
enum st_acl_ptype {
    ST_ACL_PT_UNKNOWN = 0,
    ST_ACL_PT_ANY = 1,   /* filters only: any pattern type, names compared exactly */
    ST_ACL_PT_MATCH = 2, /* filters only: patterns that would match the given name */
    ST_ACL_PT_LITERAL = 3,
    ST_ACL_PT_PREFIXED = 4,
};

/* Kafka's AclOperation codes. */
enum st_acl_op {
    ST_ACL_OP_UNKNOWN = 0,
    ST_ACL_OP_ANY = 1, /* filters only */
    ST_ACL_OP_ALL = 2,
    ST_ACL_OP_READ = 3,
    ST_ACL_OP_WRITE = 4,
    ST_ACL_OP_CREATE = 5,
    ST_ACL_OP_DELETE = 6,
    ST_ACL_OP_ALTER = 7,
    ST_ACL_OP_DESCRIBE = 8,
    ST_ACL_OP_CLUSTER_ACTION = 9,
    ST_ACL_OP_DESCRIBE_CONFIGS = 10,
    ST_ACL_OP_ALTER_CONFIGS = 11,
    ST_ACL_OP_IDEMPOTENT_WRITE = 12,
    ST_ACL_OP_CREATE_TOKENS = 13,
    ST_ACL_OP_DESCRIBE_TOKENS = 14,
};

/* Kafka's AclPermissionType codes. */
enum st_acl_perm {
    ST_ACL_PERM_UNKNOWN = 0,
    ST_ACL_PERM_ANY = 1, /* filters only */
    ST_ACL_PERM_DENY = 2,
    ST_ACL_PERM_ALLOW = 3,
};

/* One ACL binding. Strings are NUL-terminated. */
struct st_acl_binding {
    int8_t rtype;     /* enum st_acl_rtype (never ANY/UNKNOWN in a stored binding) */
    char *name;       /* resource name (pattern) */
    int8_t ptype;     /* enum st_acl_ptype: LITERAL or PREFIXED in a stored binding */
    char *principal;  /* "User:alice", "User:*" */
    char *host;       /* "*" or an IP literal */
    int8_t op;        /* enum st_acl_op */
    int8_t perm;      /* enum st_acl_perm: ALLOW or DENY */
};

/* A binding filter (DescribeAcls, DeleteAcls): NULL strings match anything. */
struct st_acl_filter {
    int8_t rtype;          /* ANY or a type */
    const char *name;      /* NULL = any */
    int8_t ptype;          /* ANY, MATCH, LITERAL or PREFIXED */
    const char *principal; /* NULL = any */
    const char *host;      /* NULL = any */
    int8_t op;             /* ANY or an operation */
    int8_t perm;           /* ANY, ALLOW or DENY */
};

/* Frees the strings of a binding (not the struct). */
void st_acl_binding_clear(struct st_acl_binding *b);

/*
 * Checks a binding as Kafka's CreateAcls does: a known resource type other than ANY, LITERAL or
 * PREFIXED pattern, non-empty name ("kafka-cluster" for CLUSTER), principal "<Type>:<name>",
 * a host, a concrete operation valid for the resource type, ALLOW or DENY.
 * Returns 0, or -1 with *err (static text naming what to fix) and *kafka_error set to the Kafka
 * error code to answer with (INVALID_REQUEST 42 or the like).
 */
int st_acl_binding_validate(const struct st_acl_binding *b, const char **err, int16_t *kafka_error);

/* True when `f` matches stored binding `b` (Kafka's AclBindingFilter.matches()). */
bool st_acl_filter_matches(const struct st_acl_filter *f, const struct st_acl_binding *b);

/*
 * Checks a filter as DescribeAcls/DeleteAcls do (UNKNOWN values are invalid).
 * Returns 0, or -1 with *err.
 */
int st_acl_filter_validate(const struct st_acl_filter *f, const char **err);

/* An immutable, sorted set of bindings of one cluster. */
struct st_acl_set;

/*
 * Builds a set from `n` bindings (copied). Returns a new set (release with st_acl_set_free()),
 * or NULL on out of memory. Duplicates are kept once. st_acl_set_get() enumerates the bindings
 * sorted by (rtype, ptype, name, principal, host, op, perm), so the bindings of one resource
 * pattern are contiguous (DescribeAcls groups them that way).
 */
struct st_acl_set *st_acl_set_new(const struct st_acl_binding *b, size_t n);
void st_acl_set_free(struct st_acl_set *s);
size_t st_acl_set_count(const struct st_acl_set *s);
const struct st_acl_binding *st_acl_set_get(const struct st_acl_set *s, size_t i);

/* Result of one authorization. */
struct st_acl_decision {
    bool allowed;                       /* the operation is allowed */
    bool super_user;                    /* allowed because the principal is a super user */
    const struct st_acl_binding *match; /* the deciding binding (DENY that denied, or ALLOW that
                                         * allowed), NULL when nothing matched */
};

/*
 * Authorizes `principal` ("User:alice") from `host` (IP literal) to perform `op` on resource
 * (`rtype`, `name` of `name_len` bytes; for CLUSTER the name is ignored) with Kafka's semantics
 * (see the top of this file). `super_users` is a NULL-terminated list of principals or NULL.
 * Never allocates. `s` may be NULL (no ACLs: denied unless super user).
 */
void st_acl_authorize(const struct st_acl_set *s, const char *const *super_users,
                      const char *principal, const char *host, enum st_acl_op op,
                      enum st_acl_rtype rtype, const uint8_t *name, size_t name_len,
                      struct st_acl_decision *out);

/* JSON form used by the store and the CLI:
 * {"resourceType":"TOPIC","resourceName":"orders","patternType":"LITERAL",
 *  "principal":"User:alice","host":"*","operation":"READ","permissionType":"ALLOW"}.
 * Enum values use Kafka's names (case-insensitive on input).
 * st_acl_binding_to_json() returns a new reference, NULL when a string is not UTF-8 or on OOM. */
json_t *st_acl_binding_to_json(const struct st_acl_binding *b);
/* Parses that form into `out` (strings allocated; clear with st_acl_binding_clear()); missing
 * host = "*", missing patternType = LITERAL. Unknown keys and unknown enum names are rejected.
 * Returns 0, or -1 with *err. Does not validate beyond types: call st_acl_binding_validate(). */
int st_acl_binding_from_json(const json_t *j, struct st_acl_binding *out, const char **err);
/* Same for a filter (missing or null fields = ANY / any); strings point into `j`. */
int st_acl_filter_from_json(const json_t *j, struct st_acl_filter *out, const char **err);

/* Kafka names of the enums ("TOPIC", "PREFIXED", "DESCRIBE_CONFIGS", "ALLOW"); "UNKNOWN" else. */
const char *st_acl_rtype_name(int rtype);
const char *st_acl_ptype_name(int ptype);
const char *st_acl_op_name(int op);
const char *st_acl_perm_name(int perm);

/* ---- wire: CreateAcls (30), DescribeAcls (29), DeleteAcls (31) ---- */

/*
 * What the ACL APIs need from the owner of the ACLs (the control plane), called synchronously
 * while a request is answered.
 */
struct st_acl_store_ops {
    /* The current bindings (borrowed until the next call of create/delete). */
    const struct st_acl_set *(*current)(void *arg);
    /*
     * Adds bindings (already validated); returns 0, or -1 with *err (then every valid creation
     * of the request fails with UNKNOWN_SERVER_ERROR and this message; invalid ones keep their
     * own error).
     */
    int (*create)(void *arg, const struct st_acl_binding *b, size_t n, const char **err);
    /*
     * Removes bindings (exact copies of bindings of current(), each once even when several
     * filters matched it); 0, or -1 with *err (then every valid filter of the request fails with
     * UNKNOWN_SERVER_ERROR and this message, and lists no MatchingAcls).
     */
    int (*remove)(void *arg, const struct st_acl_binding *b, size_t n, const char **err);
};

/*
 * Answers one CreateAcls, DescribeAcls or DeleteAcls request body (`api_key`, `api_version`,
 * `body` after the request header) by reading and changing bindings through `ops`, and appends
 * the response body (same version, no header) to `out`. Invalid entries get their own error
 * codes and messages as Kafka answers them (CreateAcls per creation, DeleteAcls per filter,
 * DescribeAcls as a whole). Version 0 has no PatternType: creations are LITERAL and filters
 * LITERAL (the schema default, as Kafka reads v0). Strings with NUL bytes or invalid UTF-8 make
 * their entry invalid (INVALID_REQUEST). Returns 0, or -1 with *err when the body is malformed
 * (truncated, trailing bytes, unknown key or version); nothing is appended to `out` then (the
 * connection is then closed).
 */
int st_acl_wire_answer(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                       const struct st_acl_store_ops *ops, void *arg, struct st_buf *out,
                       const char **err) __attribute__((warn_unused_result));

#endif
