/*
 * Unit tests of Kafka ACLs (src/authz/acl.h): authorization semantics as a table (literal,
 * prefixed, wildcard resource and principal, hosts, DENY over ALLOW, implied operations, ALL,
 * super users, no ACL), a large set, filter matching incl. MATCH/ANY, validation errors, the JSON
 * form, and CreateAcls/DescribeAcls/DeleteAcls round trips at v0-v3 over an in-memory store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/acl.h"
#include "kafka/proto.h"
#include "kafka/schema.h"

#define RT(x) ST_ACL_RT_##x
#define PT(x) ST_ACL_PT_##x
#define OP(x) ST_ACL_OP_##x
#define ALLOW ST_ACL_PERM_ALLOW
#define DENY ST_ACL_PERM_DENY

static struct st_acl_binding
mk(int rtype, const char *name, int ptype, const char *principal, const char *host, int op,
   int perm)
{
    struct st_acl_binding b = {(int8_t)rtype, (char *)name, (int8_t)ptype, (char *)principal,
                               (char *)host,  (int8_t)op,   (int8_t)perm};
    return b;
}

/* ---- authorization ---- */

static const struct st_acl_binding *
authz(const struct st_acl_set *s, const char *const *su, const char *principal, const char *host,
      int op, int rtype, const char *name, bool *allowed)
{
    struct st_acl_decision d;
    st_acl_authorize(s, su, principal, host, (enum st_acl_op)op, (enum st_acl_rtype)rtype,
                     (const uint8_t *)name, strlen(name), &d);
    *allowed = d.allowed;
    return d.match;
}

struct acase {
    const char *principal;
    const char *host;
    int op;
    int rtype;
    const char *name;
    bool allowed;
};

static void
test_authorize_table(void **state)
{
    (void)state;
    struct st_acl_binding b[] = {
        mk(RT(TOPIC), "orders", PT(LITERAL), "User:alice", "*", OP(READ), ALLOW),
        mk(RT(TOPIC), "orders", PT(LITERAL), "User:alice", "10.0.0.9", OP(READ), DENY),
        mk(RT(TOPIC), "pay-", PT(PREFIXED), "User:bob", "*", OP(WRITE), ALLOW),
        mk(RT(TOPIC), "pay-secret", PT(PREFIXED), "User:bob", "*", OP(ALL), DENY),
        mk(RT(TOPIC), "*", PT(LITERAL), "User:carol", "*", OP(DESCRIBE), ALLOW),
        mk(RT(TOPIC), "public", PT(LITERAL), "User:*", "*", OP(READ), ALLOW),
        mk(RT(TOPIC), "hosted", PT(LITERAL), "User:dave", "192.168.1.1", OP(WRITE), ALLOW),
        mk(RT(TOPIC), "cfg", PT(LITERAL), "User:erin", "*", OP(ALTER_CONFIGS), ALLOW),
        mk(RT(TOPIC), "everything", PT(LITERAL), "User:frank", "*", OP(ALL), ALLOW),
        mk(RT(GROUP), "g1", PT(LITERAL), "User:alice", "*", OP(READ), ALLOW),
        mk(RT(CLUSTER), "kafka-cluster", PT(LITERAL), "User:ops", "*", OP(IDEMPOTENT_WRITE), ALLOW),
        mk(RT(TRANSACTIONAL_ID), "tx", PT(PREFIXED), "User:alice", "*", OP(WRITE), ALLOW),
        mk(RT(TOPIC), "public", PT(LITERAL), "User:mallory", "*", OP(READ), DENY),
    };
    struct st_acl_set *s = st_acl_set_new(b, sizeof(b) / sizeof(b[0]));
    assert_non_null(s);
    static const struct acase cases[] = {
        /* literal */
        {"User:alice", "10.0.0.1", OP(READ), RT(TOPIC), "orders", true},
        {"User:alice", "10.0.0.1", OP(WRITE), RT(TOPIC), "orders", false},
        {"User:alice", "10.0.0.1", OP(READ), RT(TOPIC), "orders2", false},
        {"User:alice", "10.0.0.1", OP(READ), RT(TOPIC), "order", false},
        {"User:alice", "10.0.0.1", OP(READ), RT(GROUP), "orders", false},
        /* deny beats allow (host-specific DENY) */
        {"User:alice", "10.0.0.9", OP(READ), RT(TOPIC), "orders", false},
        /* READ implies DESCRIBE, but the DENY READ does not deny DESCRIBE */
        {"User:alice", "10.0.0.1", OP(DESCRIBE), RT(TOPIC), "orders", true},
        {"User:alice", "10.0.0.9", OP(DESCRIBE), RT(TOPIC), "orders", true},
        /* prefixed */
        {"User:bob", "1.1.1.1", OP(WRITE), RT(TOPIC), "pay-eu", true},
        {"User:bob", "1.1.1.1", OP(WRITE), RT(TOPIC), "pay-", true},
        {"User:bob", "1.1.1.1", OP(WRITE), RT(TOPIC), "pay", false},
        {"User:bob", "1.1.1.1", OP(DESCRIBE), RT(TOPIC), "pay-eu", true},
        {"User:bob", "1.1.1.1", OP(READ), RT(TOPIC), "pay-eu", false},
        /* DENY ALL on a longer prefix */
        {"User:bob", "1.1.1.1", OP(WRITE), RT(TOPIC), "pay-secret-1", false},
        {"User:bob", "1.1.1.1", OP(DESCRIBE), RT(TOPIC), "pay-secret", false},
        /* wildcard resource */
        {"User:carol", "1.1.1.1", OP(DESCRIBE), RT(TOPIC), "anything", true},
        {"User:carol", "1.1.1.1", OP(DESCRIBE), RT(TOPIC), "*", true},
        {"User:carol", "1.1.1.1", OP(READ), RT(TOPIC), "anything", false},
        {"User:carol", "1.1.1.1", OP(DESCRIBE), RT(GROUP), "anything", false},
        /* wildcard principal, with a DENY for one principal */
        {"User:zed", "1.1.1.1", OP(READ), RT(TOPIC), "public", true},
        {"User:mallory", "1.1.1.1", OP(READ), RT(TOPIC), "public", false},
        {"User:zed", "1.1.1.1", OP(WRITE), RT(TOPIC), "public", false},
        /* host match */
        {"User:dave", "192.168.1.1", OP(WRITE), RT(TOPIC), "hosted", true},
        {"User:dave", "192.168.1.2", OP(WRITE), RT(TOPIC), "hosted", false},
        /* ALTER_CONFIGS implies DESCRIBE_CONFIGS, not DESCRIBE */
        {"User:erin", "1.1.1.1", OP(DESCRIBE_CONFIGS), RT(TOPIC), "cfg", true},
        {"User:erin", "1.1.1.1", OP(ALTER_CONFIGS), RT(TOPIC), "cfg", true},
        {"User:erin", "1.1.1.1", OP(DESCRIBE), RT(TOPIC), "cfg", false},
        /* ALL */
        {"User:frank", "1.1.1.1", OP(DELETE), RT(TOPIC), "everything", true},
        {"User:frank", "1.1.1.1", OP(DESCRIBE_CONFIGS), RT(TOPIC), "everything", true},
        {"User:frank", "1.1.1.1", OP(READ), RT(TOPIC), "everything-else", false},
        /* other resource types; CLUSTER ignores the name */
        {"User:alice", "1.1.1.1", OP(READ), RT(GROUP), "g1", true},
        {"User:alice", "1.1.1.1", OP(DESCRIBE), RT(GROUP), "g1", true},
        {"User:ops", "1.1.1.1", OP(IDEMPOTENT_WRITE), RT(CLUSTER), "kafka-cluster", true},
        {"User:ops", "1.1.1.1", OP(IDEMPOTENT_WRITE), RT(CLUSTER), "", true},
        {"User:ops", "1.1.1.1", OP(ALTER), RT(CLUSTER), "kafka-cluster", false},
        {"User:alice", "1.1.1.1", OP(WRITE), RT(TRANSACTIONAL_ID), "tx-1", true},
        {"User:alice", "1.1.1.1", OP(WRITE), RT(TRANSACTIONAL_ID), "t", false},
        /* no ACL */
        {"User:nobody", "1.1.1.1", OP(READ), RT(TOPIC), "orders", false},
        {"User:alice", "1.1.1.1", OP(READ), RT(USER), "x", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct acase *c = &cases[i];
        bool allowed;
        const struct st_acl_binding *m =
            authz(s, NULL, c->principal, c->host, c->op, c->rtype, c->name, &allowed);
        if (allowed != c->allowed)
            fail_msg("case %zu: %s %s %s %s:%s: expected %d", i, c->principal, c->host,
                     st_acl_op_name(c->op), st_acl_rtype_name(c->rtype), c->name, c->allowed);
        if (allowed)
            assert_true(m && m->perm == ALLOW);
    }
    /* The deciding DENY is reported. */
    bool allowed;
    const struct st_acl_binding *m =
        authz(s, NULL, "User:alice", "10.0.0.9", OP(READ), RT(TOPIC), "orders", &allowed);
    assert_false(allowed);
    assert_non_null(m);
    assert_int_equal(m->perm, DENY);
    assert_string_equal(m->host, "10.0.0.9");
    assert_null(authz(s, NULL, "User:x", "1.1.1.1", OP(READ), RT(TOPIC), "orders", &allowed));

    /* Super users: allowed everything, even against a DENY; NULL set too. */
    const char *const su[] = {"User:admin", "User:alice", NULL};
    struct st_acl_decision d;
    st_acl_authorize(s, su, "User:alice", "10.0.0.9", OP(READ), RT(TOPIC),
                     (const uint8_t *)"orders", 6, &d);
    assert_true(d.allowed);
    assert_true(d.super_user);
    st_acl_authorize(NULL, su, "User:admin", "1.1.1.1", OP(ALTER), RT(CLUSTER), NULL, 0, &d);
    assert_true(d.allowed && d.super_user);
    st_acl_authorize(NULL, su, "User:bob", "1.1.1.1", OP(READ), RT(TOPIC), (const uint8_t *)"x", 1,
                     &d);
    assert_false(d.allowed);
    assert_false(d.super_user);
    assert_null(d.match);
    /* Names are byte strings: an embedded NUL never matches a C-string binding. */
    st_acl_authorize(s, NULL, "User:alice", "1.1.1.1", OP(READ), RT(TOPIC),
                     (const uint8_t *)"orders\0x", 8, &d);
    assert_false(d.allowed);
    st_acl_set_free(s);
}

static void
test_set_basics(void **state)
{
    (void)state;
    struct st_acl_binding b[] = {
        mk(RT(TOPIC), "b", PT(LITERAL), "User:a", "*", OP(READ), ALLOW),
        mk(RT(TOPIC), "a", PT(PREFIXED), "User:a", "*", OP(READ), ALLOW),
        mk(RT(GROUP), "a", PT(LITERAL), "User:a", "*", OP(READ), ALLOW),
        mk(RT(TOPIC), "b", PT(LITERAL), "User:a", "*", OP(READ), ALLOW),
        mk(RT(TOPIC), "a", PT(LITERAL), "User:a", "*", OP(READ), ALLOW),
    };
    struct st_acl_set *s = st_acl_set_new(b, 5);
    assert_non_null(s);
    assert_int_equal(st_acl_set_count(s), 4); /* the duplicate once */
    /* Sorted by (rtype, ptype, name, ...). */
    assert_string_equal(st_acl_set_get(s, 0)->name, "a");
    assert_int_equal(st_acl_set_get(s, 0)->ptype, PT(LITERAL));
    assert_string_equal(st_acl_set_get(s, 1)->name, "b");
    assert_int_equal(st_acl_set_get(s, 2)->ptype, PT(PREFIXED));
    assert_int_equal(st_acl_set_get(s, 3)->rtype, RT(GROUP));
    assert_null(st_acl_set_get(s, 4));
    /* Copies: the input may go away. */
    assert_ptr_not_equal(st_acl_set_get(s, 0)->name, b[4].name);
    st_acl_set_free(s);
    s = st_acl_set_new(NULL, 0);
    assert_non_null(s);
    assert_int_equal(st_acl_set_count(s), 0);
    bool allowed;
    authz(s, NULL, "User:a", "*", OP(READ), RT(TOPIC), "a", &allowed);
    assert_false(allowed);
    st_acl_set_free(s);
    st_acl_set_free(NULL);
}

static void
test_large_set(void **state)
{
    (void)state;
    enum { N = 4000 };
    struct st_acl_binding *b = calloc(N, sizeof(*b));
    char(*names)[32] = calloc(N, sizeof(*names));
    char(*users)[32] = calloc(N, sizeof(*users));
    assert_non_null(b);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), i % 4 == 0 ? "team%d-" : "topic-%d", i);
        snprintf(users[i], sizeof(users[i]), "User:u%d", i % 97);
        b[i] = mk(RT(TOPIC), names[i], i % 4 == 0 ? PT(PREFIXED) : PT(LITERAL), users[i], "*",
                  i % 2 ? OP(READ) : OP(WRITE), ALLOW);
    }
    struct st_acl_set *s = st_acl_set_new(b, N);
    assert_non_null(s);
    assert_int_equal(st_acl_set_count(s), N);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            char name[48];
            bool allowed;
            if (i % 4 == 0)
                snprintf(name, sizeof(name), "%sx%d", names[i], round);
            else
                snprintf(name, sizeof(name), "%s", names[i]);
            authz(s, NULL, users[i], "1.2.3.4", i % 2 ? OP(READ) : OP(WRITE), RT(TOPIC), name,
                  &allowed);
            assert_true(allowed);
            authz(s, NULL, users[i], "1.2.3.4", OP(DELETE), RT(TOPIC), name, &allowed);
            assert_false(allowed);
        }
    }
    st_acl_set_free(s);
    free(b);
    free(names);
    free(users);
}

/* ---- filters ---- */

static struct st_acl_filter
fl(int rtype, const char *name, int ptype)
{
    struct st_acl_filter f = {(int8_t)rtype, name,    (int8_t)ptype,  NULL,
                              NULL,          OP(ANY), ST_ACL_PERM_ANY};
    return f;
}

static void
test_filter_matches(void **state)
{
    (void)state;
    struct st_acl_binding lit =
        mk(RT(TOPIC), "orders", PT(LITERAL), "User:a", "*", OP(READ), ALLOW);
    struct st_acl_binding star = mk(RT(TOPIC), "*", PT(LITERAL), "User:a", "*", OP(READ), ALLOW);
    struct st_acl_binding pre = mk(RT(TOPIC), "ord", PT(PREFIXED), "User:a", "*", OP(READ), DENY);
    struct st_acl_binding other = mk(RT(TOPIC), "x", PT(PREFIXED), "User:a", "*", OP(READ), DENY);
    struct st_acl_binding grp =
        mk(RT(GROUP), "orders", PT(LITERAL), "User:a", "*", OP(READ), ALLOW);
    struct st_acl_filter f;

    f = fl(RT(ANY), NULL, PT(ANY));
    assert_true(st_acl_filter_matches(&f, &lit) && st_acl_filter_matches(&f, &pre) &&
                st_acl_filter_matches(&f, &grp));
    /* ANY: names compared exactly, any pattern type */
    f = fl(RT(TOPIC), "orders", PT(ANY));
    assert_true(st_acl_filter_matches(&f, &lit));
    assert_false(st_acl_filter_matches(&f, &star));
    assert_false(st_acl_filter_matches(&f, &pre));
    assert_false(st_acl_filter_matches(&f, &grp));
    f = fl(RT(TOPIC), "ord", PT(ANY));
    assert_true(st_acl_filter_matches(&f, &pre));
    /* MATCH: literal equal, literal "*", prefixes of the name */
    f = fl(RT(TOPIC), "orders", PT(MATCH));
    assert_true(st_acl_filter_matches(&f, &lit));
    assert_true(st_acl_filter_matches(&f, &star));
    assert_true(st_acl_filter_matches(&f, &pre));
    assert_false(st_acl_filter_matches(&f, &other));
    assert_false(st_acl_filter_matches(&f, &grp));
    f = fl(RT(ANY), "orders", PT(MATCH));
    assert_true(st_acl_filter_matches(&f, &grp));
    f = fl(RT(TOPIC), "or", PT(MATCH));
    assert_false(st_acl_filter_matches(&f, &pre));
    assert_true(st_acl_filter_matches(&f, &star));
    f = fl(RT(TOPIC), NULL, PT(MATCH));
    assert_true(st_acl_filter_matches(&f, &other));
    /* LITERAL / PREFIXED: that pattern type, exact names ("*" is not expanded) */
    f = fl(RT(TOPIC), "orders", PT(LITERAL));
    assert_true(st_acl_filter_matches(&f, &lit));
    assert_false(st_acl_filter_matches(&f, &star));
    assert_false(st_acl_filter_matches(&f, &pre));
    f = fl(RT(TOPIC), "*", PT(LITERAL));
    assert_true(st_acl_filter_matches(&f, &star));
    assert_false(st_acl_filter_matches(&f, &lit));
    f = fl(RT(TOPIC), "ord", PT(PREFIXED));
    assert_true(st_acl_filter_matches(&f, &pre));
    assert_false(st_acl_filter_matches(&f, &lit));
    f = fl(RT(TOPIC), NULL, PT(PREFIXED));
    assert_true(st_acl_filter_matches(&f, &other));
    assert_false(st_acl_filter_matches(&f, &star));
    /* Entry filter: exact principal/host, op, perm */
    f = fl(RT(ANY), NULL, PT(ANY));
    f.principal = "User:a";
    f.host = "*";
    f.op = OP(READ);
    f.perm = DENY;
    assert_true(st_acl_filter_matches(&f, &pre));
    assert_false(st_acl_filter_matches(&f, &lit));
    f.principal = "User:*";
    assert_false(st_acl_filter_matches(&f, &pre));
    f.principal = NULL;
    f.host = "1.1.1.1";
    assert_false(st_acl_filter_matches(&f, &pre));
    f.host = NULL;
    f.op = OP(WRITE);
    assert_false(st_acl_filter_matches(&f, &pre));

    /* Validation */
    const char *err = NULL;
    f = fl(RT(ANY), NULL, PT(MATCH));
    assert_int_equal(st_acl_filter_validate(&f, &err), 0);
    f.rtype = RT(UNKNOWN);
    assert_int_equal(st_acl_filter_validate(&f, &err), -1);
    assert_non_null(strstr(err, "ResourceType"));
    f = fl(RT(TOPIC), NULL, 9);
    assert_int_equal(st_acl_filter_validate(&f, &err), -1);
    f = fl(RT(TOPIC), NULL, PT(ANY));
    f.op = OP(UNKNOWN);
    assert_int_equal(st_acl_filter_validate(&f, &err), -1);
    f.op = OP(ANY);
    f.perm = ST_ACL_PERM_UNKNOWN;
    assert_int_equal(st_acl_filter_validate(&f, &err), -1);
    assert_non_null(strstr(err, "PermissionType"));
}

/* ---- validation ---- */

static void
test_validate(void **state)
{
    (void)state;
    struct vcase {
        struct st_acl_binding b;
        const char *needle; /* NULL: valid */
    } cases[] = {
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(READ), ALLOW), NULL},
        {mk(RT(TOPIC), "t", PT(PREFIXED), "User:*", "10.0.0.1", OP(ALL), DENY), NULL},
        {mk(RT(CLUSTER), "kafka-cluster", PT(LITERAL), "User:a", "*", OP(ALTER), ALLOW), NULL},
        {mk(RT(USER), "User:x", PT(LITERAL), "User:a", "*", OP(CREATE_TOKENS), ALLOW), NULL},
        {mk(RT(ANY), "t", PT(LITERAL), "User:a", "*", OP(READ), ALLOW), "ResourceType ANY"},
        {mk(RT(UNKNOWN), "t", PT(LITERAL), "User:a", "*", OP(READ), ALLOW), "ResourceType"},
        {mk(9, "t", PT(LITERAL), "User:a", "*", OP(READ), ALLOW), "ResourceType"},
        {mk(RT(TOPIC), "t", PT(MATCH), "User:a", "*", OP(READ), ALLOW),
         "PatternType MATCH is only valid in filters"},
        {mk(RT(TOPIC), "t", PT(ANY), "User:a", "*", OP(READ), ALLOW), "PatternType ANY"},
        {mk(RT(TOPIC), "", PT(LITERAL), "User:a", "*", OP(READ), ALLOW), "ResourceName"},
        {mk(RT(TOPIC), NULL, PT(LITERAL), "User:a", "*", OP(READ), ALLOW), "ResourceName"},
        {mk(RT(CLUSTER), "c", PT(LITERAL), "User:a", "*", OP(ALTER), ALLOW), "kafka-cluster"},
        {mk(RT(CLUSTER), "kafka-cluster", PT(PREFIXED), "User:a", "*", OP(ALTER), ALLOW), NULL},
        {mk(RT(CLUSTER), "kafka-cluster", PT(LITERAL), "User:a", "*", OP(READ), ALLOW),
         "not valid for"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "alice", "*", OP(READ), ALLOW), "Principal"},
        {mk(RT(TOPIC), "t", PT(LITERAL), ":alice", "*", OP(READ), ALLOW), "Principal"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "", OP(READ), ALLOW), "Host"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(ANY), ALLOW), "Operation ANY"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(UNKNOWN), ALLOW), "Operation"},
        {mk(RT(GROUP), "g", PT(LITERAL), "User:a", "*", OP(WRITE), ALLOW), "not valid for"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(READ), ST_ACL_PERM_ANY),
         "PermissionType ANY"},
        {mk(RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(READ), 7), "PermissionType"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err = NULL;
        int16_t code = -99;
        int rc = st_acl_binding_validate(&cases[i].b, &err, &code);
        if (!cases[i].needle) {
            if (rc != 0)
                fail_msg("case %zu: %s", i, err);
            assert_int_equal(code, 0);
            continue;
        }
        if (rc != -1 || !err || !strstr(err, cases[i].needle))
            fail_msg("case %zu: rc %d err %s, expected %s", i, rc, err ? err : "-",
                     cases[i].needle);
        assert_int_equal(code, ST_KERR_INVALID_REQUEST);
    }
}

/* ---- JSON ---- */

static void
test_json(void **state)
{
    (void)state;
    struct st_acl_binding b = mk(RT(TRANSACTIONAL_ID), "tx-", PT(PREFIXED), "User:alice",
                                 "10.1.2.3", OP(DESCRIBE_CONFIGS), DENY);
    json_t *j = st_acl_binding_to_json(&b);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "resourceType")), "TRANSACTIONAL_ID");
    assert_string_equal(json_string_value(json_object_get(j, "operation")), "DESCRIBE_CONFIGS");
    struct st_acl_binding r;
    const char *err = NULL;
    assert_int_equal(st_acl_binding_from_json(j, &r, &err), 0);
    assert_int_equal(r.rtype, b.rtype);
    assert_string_equal(r.name, b.name);
    assert_int_equal(r.ptype, b.ptype);
    assert_string_equal(r.principal, b.principal);
    assert_string_equal(r.host, b.host);
    assert_int_equal(r.op, b.op);
    assert_int_equal(r.perm, b.perm);
    st_acl_binding_clear(&r);
    json_decref(j);

    /* Defaults, case-insensitive names. */
    json_error_t je;
    j = json_loads("{\"resourceType\":\"topic\",\"resourceName\":\"t\",\"principal\":\"User:a\","
                   "\"operation\":\"Read\",\"permissionType\":\"allow\"}",
                   0, &je);
    assert_non_null(j);
    assert_int_equal(st_acl_binding_from_json(j, &r, &err), 0);
    assert_int_equal(r.rtype, RT(TOPIC));
    assert_int_equal(r.ptype, PT(LITERAL));
    assert_string_equal(r.host, "*");
    assert_int_equal(r.op, OP(READ));
    assert_int_equal(r.perm, ALLOW);
    st_acl_binding_clear(&r);
    json_decref(j);

    static const char *const bad[] = {
        "[]",
        "{\"resourceName\":\"t\",\"principal\":\"User:a\",\"operation\":\"READ\","
        "\"permissionType\":\"ALLOW\"}",
        "{\"resourceType\":\"TOPICS\",\"resourceName\":\"t\",\"principal\":\"User:a\","
        "\"operation\":\"READ\",\"permissionType\":\"ALLOW\"}",
        "{\"resourceType\":\"TOPIC\",\"resourceName\":1,\"principal\":\"User:a\","
        "\"operation\":\"READ\",\"permissionType\":\"ALLOW\"}",
        "{\"resourceType\":\"TOPIC\",\"resourceName\":\"t\",\"principal\":\"User:a\","
        "\"operation\":\"READ\",\"permissionType\":\"ALLOW\",\"extra\":1}",
        "{\"resourceType\":\"TOPIC\",\"resourceName\":\"t\",\"principal\":\"User:a\","
        "\"operation\":\"READ\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = json_loads(bad[i], 0, &je);
        assert_non_null(j);
        err = NULL;
        if (st_acl_binding_from_json(j, &r, &err) != -1 || !err)
            fail_msg("bad %zu accepted", i);
        json_decref(j);
    }

    /* Filters: missing = ANY/any; strings point into the JSON. */
    struct st_acl_filter f;
    j = json_loads("{\"resourceName\":\"orders\",\"patternType\":\"match\",\"host\":null}", 0, &je);
    assert_int_equal(st_acl_filter_from_json(j, &f, &err), 0);
    assert_int_equal(f.rtype, RT(ANY));
    assert_string_equal(f.name, "orders");
    assert_int_equal(f.ptype, PT(MATCH));
    assert_null(f.principal);
    assert_null(f.host);
    assert_int_equal(f.op, OP(ANY));
    assert_int_equal(f.perm, ST_ACL_PERM_ANY);
    json_decref(j);
    j = json_loads("{\"operation\":\"NOPE\"}", 0, &je);
    assert_int_equal(st_acl_filter_from_json(j, &f, &err), -1);
    json_decref(j);

    assert_string_equal(st_acl_rtype_name(99), "UNKNOWN");
    assert_string_equal(st_acl_ptype_name(PT(PREFIXED)), "PREFIXED");
    assert_string_equal(st_acl_op_name(-1), "UNKNOWN");
    assert_string_equal(st_acl_perm_name(DENY), "DENY");
}

/* ---- wire ---- */

/* In-memory store: the set is rebuilt on every change. */
struct mem {
    struct st_acl_set *s; /* current bindings */
    int fail;             /* make create/remove fail */
    size_t removed;       /* bindings passed to the last remove() */
};

static const struct st_acl_set *
mem_current(void *arg)
{
    return ((struct mem *)arg)->s;
}

static int
mem_create(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct mem *m = arg;
    if (m->fail) {
        *err = "store is read-only";
        return -1;
    }
    size_t old = st_acl_set_count(m->s);
    struct st_acl_binding *all = calloc(old + n + 1, sizeof(*all));
    for (size_t i = 0; i < old; i++)
        all[i] = *st_acl_set_get(m->s, i);
    memcpy(all + old, b, n * sizeof(*b));
    struct st_acl_set *s = st_acl_set_new(all, old + n);
    free(all);
    st_acl_set_free(m->s);
    m->s = s;
    return 0;
}

static bool
same_binding(const struct st_acl_binding *a, const struct st_acl_binding *b)
{
    return a->rtype == b->rtype && a->ptype == b->ptype && a->op == b->op && a->perm == b->perm &&
           !strcmp(a->name, b->name) && !strcmp(a->principal, b->principal) &&
           !strcmp(a->host, b->host);
}

static int
mem_remove(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct mem *m = arg;
    if (m->fail) {
        *err = "store is read-only";
        return -1;
    }
    m->removed = n;
    size_t old = st_acl_set_count(m->s), k = 0;
    struct st_acl_binding *keep = calloc(old + 1, sizeof(*keep));
    for (size_t i = 0; i < old; i++) {
        const struct st_acl_binding *x = st_acl_set_get(m->s, i);
        bool gone = false;
        for (size_t j = 0; j < n; j++)
            gone |= same_binding(x, &b[j]);
        if (!gone)
            keep[k++] = *x;
    }
    struct st_acl_set *s = st_acl_set_new(keep, k);
    free(keep);
    st_acl_set_free(m->s);
    m->s = s;
    return 0;
}

static const struct st_acl_store_ops mem_ops = {mem_current, mem_create, mem_remove};

static struct st_karena arena;

static struct st_kobj *
obj_new(const struct st_kstruct *st, int16_t ver)
{
    struct st_kobj *o = st_karena_alloc(&arena, sizeof(*o));
    o->st = st;
    o->vals = st_karena_alloc(&arena, (st->nfields + 1u) * sizeof(*o->vals));
    for (int i = 0; i < st->nfields; i++)
        o->vals[i].present =
            st_kfield_in(&st->fields[i], ver) && !st_kfield_tagged(&st->fields[i], ver);
    return o;
}

static struct st_kval *
fv(const struct st_kobj *o, const char *name)
{
    struct st_kval *v = st_kobj_get(o, name);
    if (!v)
        fail_msg("no field %s in %s", name, o->st->name);
    return v;
}

static void
set_s(struct st_kobj *o, const char *name, const char *s)
{
    struct st_kval *v = fv(o, name);
    v->is_null = s == NULL;
    v->p = (const uint8_t *)s;
    v->n = s ? strlen(s) : 0;
}

static void
set_i(struct st_kobj *o, const char *name, int64_t i)
{
    fv(o, name)->i = i;
}

static struct st_kobj *
set_arr(struct st_kobj *o, const char *name, uint32_t n, int16_t ver)
{
    int i = st_kstruct_find(o->st, name);
    assert_true(i >= 0);
    struct st_kval *v = &o->vals[i];
    v->count = n;
    v->objs = st_karena_alloc(&arena, (n + 1) * sizeof(*v->objs));
    for (uint32_t k = 0; k < n; k++)
        v->objs[k] = *obj_new(o->st->fields[i].sub, ver);
    return v->objs;
}

static const char *
get_s(const struct st_kobj *o, const char *name)
{
    struct st_kval *v = fv(o, name);
    if (v->is_null)
        return NULL;
    char *c = st_karena_alloc(&arena, v->n + 1);
    memcpy(c, v->p, v->n);
    return c;
}

static int64_t
get_i(const struct st_kobj *o, const char *name)
{
    return fv(o, name)->i;
}

static struct st_kobj *
req_new(struct st_kdoc *d, int16_t key, int16_t ver)
{
    const struct st_kmsg *m = st_kschema_msg(key, false);
    assert_non_null(m);
    memset(d, 0, sizeof(*d));
    d->msg = m;
    d->ver = ver;
    d->flex = st_kschema_flexible(m, ver);
    d->root = *obj_new(m->root, ver);
    return &d->root;
}

/* Encodes the request, answers it and decodes the response into *resp (root returned). */
static struct st_kobj *
answer(struct st_kdoc *req, struct mem *m, struct st_kdoc *resp)
{
    struct st_buf b = ST_BUF_INIT, out = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_kdoc_encode(req, &b, &err), 0);
    int rc = st_acl_wire_answer(req->msg->api_key, req->ver, st_buf_head(&b), st_buf_used(&b),
                                &mem_ops, m, &out, &err);
    if (rc != 0)
        fail_msg("answer: %s", err);
    /* Keep the response bytes alive in the arena: the DOM points into them. */
    size_t n = st_buf_used(&out);
    uint8_t *copy = st_karena_alloc(&arena, n + 1);
    memcpy(copy, st_buf_head(&out), n);
    const struct st_kmsg *rm = st_kschema_msg(req->msg->api_key, true);
    if (st_kdoc_decode(&arena, rm, req->ver, copy, n, resp, &err) != 0)
        fail_msg("response decode: %s", err);
    assert_null(resp->trailing);
    /* Truncated bodies are malformed, never a crash. */
    for (size_t cut = 0; cut < st_buf_used(&b); cut++) {
        struct st_buf o2 = ST_BUF_INIT;
        struct mem dummy = {st_acl_set_new(NULL, 0), 1, 0};
        int r2 = st_acl_wire_answer(req->msg->api_key, req->ver, st_buf_head(&b), cut, &mem_ops,
                                    &dummy, &o2, &err);
        assert_int_equal(r2, -1);
        assert_int_equal(st_buf_used(&o2), 0);
        st_buf_free(&o2);
        st_acl_set_free(dummy.s);
    }
    st_buf_free(&b);
    st_buf_free(&out);
    return &resp->root;
}

static void
add_creation(struct st_kobj *c, int rtype, const char *name, int ptype, const char *principal,
             const char *host, int op, int perm)
{
    set_i(c, "ResourceType", rtype);
    set_s(c, "ResourceName", name);
    if (fv(c, "ResourcePatternType")->present)
        set_i(c, "ResourcePatternType", ptype);
    set_s(c, "Principal", principal);
    set_s(c, "Host", host);
    set_i(c, "Operation", op);
    set_i(c, "PermissionType", perm);
}

static void
set_filter(struct st_kobj *f, int rtype, const char *name, int ptype, const char *principal,
           const char *host, int op, int perm)
{
    set_i(f, "ResourceTypeFilter", rtype);
    set_s(f, "ResourceNameFilter", name);
    if (fv(f, "PatternTypeFilter")->present)
        set_i(f, "PatternTypeFilter", ptype);
    set_s(f, "PrincipalFilter", principal);
    set_s(f, "HostFilter", host);
    set_i(f, "Operation", op);
    set_i(f, "PermissionType", perm);
}

static void
wire_version(int16_t ver)
{
    struct mem m = {st_acl_set_new(NULL, 0), 0, 0};
    struct st_kdoc req, resp;
    st_karena_init(&arena, 0);

    /* CreateAcls: three good, three bad (in v0 a PREFIXED binding cannot even be asked for). */
    struct st_kobj *root = req_new(&req, 30, ver);
    struct st_kobj *c = set_arr(root, "Creations", 6, ver);
    add_creation(&c[0], RT(TOPIC), "orders", PT(LITERAL), "User:alice", "*", OP(READ), ALLOW);
    add_creation(&c[1], RT(TOPIC), "pay-", PT(PREFIXED), "User:bob", "*", OP(WRITE), ALLOW);
    add_creation(&c[2], RT(TOPIC), "pay-", PT(MATCH), "User:bob", "*", OP(WRITE), ALLOW);
    add_creation(&c[3], RT(GROUP), "g", PT(LITERAL), "bob", "*", OP(READ), ALLOW);
    add_creation(&c[4], RT(CLUSTER), "kafka-cluster", PT(LITERAL), "User:ops", "*", OP(ALTER),
                 DENY);
    add_creation(&c[5], RT(TOPIC), "orders", PT(LITERAL), "User:alice", "*", OP(ANY), ALLOW);
    struct st_kobj *r = answer(&req, &m, &resp);
    struct st_kval *res = fv(r, "Results");
    assert_int_equal(res->count, 6);
    assert_int_equal(get_i(&res->objs[0], "ErrorCode"), 0);
    assert_null(get_s(&res->objs[0], "ErrorMessage"));
    if (ver >= 1) {
        assert_int_equal(get_i(&res->objs[1], "ErrorCode"), 0);
        assert_int_equal(get_i(&res->objs[2], "ErrorCode"), ST_KERR_INVALID_REQUEST);
        assert_string_equal(get_s(&res->objs[2], "ErrorMessage"),
                            "PatternType MATCH is only valid in filters");
    } else {
        /* v0: every creation is LITERAL */
        assert_int_equal(get_i(&res->objs[1], "ErrorCode"), 0);
        assert_int_equal(get_i(&res->objs[2], "ErrorCode"), 0);
    }
    assert_int_equal(get_i(&res->objs[3], "ErrorCode"), ST_KERR_INVALID_REQUEST);
    assert_non_null(strstr(get_s(&res->objs[3], "ErrorMessage"), "Principal"));
    assert_int_equal(get_i(&res->objs[4], "ErrorCode"), 0);
    assert_int_equal(get_i(&res->objs[5], "ErrorCode"), ST_KERR_INVALID_REQUEST);
    /* v0 created "pay-" LITERAL twice (deduplicated). */
    assert_int_equal(st_acl_set_count(m.s), 3);
    bool allowed;
    authz(m.s, NULL, "User:bob", "1.1.1.1", OP(WRITE), RT(TOPIC), "pay-eu", &allowed);
    assert_int_equal(allowed, ver >= 1);

    /* DescribeAcls: everything (v0 filters are LITERAL: only literal bindings). */
    root = req_new(&req, 29, ver);
    set_filter(root, RT(ANY), NULL, PT(ANY), NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
    r = answer(&req, &m, &resp);
    assert_int_equal(get_i(r, "ErrorCode"), 0);
    assert_null(get_s(r, "ErrorMessage"));
    struct st_kval *rs = fv(r, "Resources");
    assert_int_equal(rs->count, ver >= 1 ? 3 : 3);
    /* Sorted: TOPIC LITERAL orders, (TOPIC LITERAL pay- in v0 | TOPIC PREFIXED pay-), CLUSTER. */
    assert_int_equal(get_i(&rs->objs[0], "ResourceType"), RT(TOPIC));
    assert_string_equal(get_s(&rs->objs[0], "ResourceName"), "orders");
    if (ver >= 1)
        assert_int_equal(get_i(&rs->objs[0], "PatternType"), PT(LITERAL));
    struct st_kval *acls = fv(&rs->objs[0], "Acls");
    assert_int_equal(acls->count, 1);
    assert_string_equal(get_s(&acls->objs[0], "Principal"), "User:alice");
    assert_string_equal(get_s(&acls->objs[0], "Host"), "*");
    assert_int_equal(get_i(&acls->objs[0], "Operation"), OP(READ));
    assert_int_equal(get_i(&acls->objs[0], "PermissionType"), ALLOW);
    assert_string_equal(get_s(&rs->objs[1], "ResourceName"), "pay-");
    if (ver >= 1)
        assert_int_equal(get_i(&rs->objs[1], "PatternType"), PT(PREFIXED));
    assert_int_equal(get_i(&rs->objs[2], "ResourceType"), RT(CLUSTER));

    if (ver >= 1) {
        /* MATCH: what applies to topic "pay-eu" */
        root = req_new(&req, 29, ver);
        set_filter(root, RT(TOPIC), "pay-eu", PT(MATCH), NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
        r = answer(&req, &m, &resp);
        rs = fv(r, "Resources");
        assert_int_equal(rs->count, 1);
        assert_string_equal(get_s(&rs->objs[0], "ResourceName"), "pay-");
        /* An invalid filter is a top-level error. */
        root = req_new(&req, 29, ver);
        set_filter(root, RT(TOPIC), NULL, 0, NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
        r = answer(&req, &m, &resp);
        assert_int_equal(get_i(r, "ErrorCode"), ST_KERR_INVALID_REQUEST);
        assert_non_null(strstr(get_s(r, "ErrorMessage"), "PatternTypeFilter"));
        assert_int_equal(fv(r, "Resources")->count, 0);
    }
    /* Describe by principal (exact). */
    root = req_new(&req, 29, ver);
    set_filter(root, RT(ANY), NULL, PT(ANY), "User:ops", NULL, OP(ANY), ST_ACL_PERM_ANY);
    r = answer(&req, &m, &resp);
    rs = fv(r, "Resources");
    assert_int_equal(rs->count, 1);
    assert_string_equal(get_s(&rs->objs[0], "ResourceName"), "kafka-cluster");

    /* DeleteAcls: a failing store leaves everything. */
    root = req_new(&req, 31, ver);
    struct st_kobj *f = set_arr(root, "Filters", 1, ver);
    set_filter(&f[0], RT(ANY), NULL, PT(ANY), NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
    m.fail = 1;
    r = answer(&req, &m, &resp);
    m.fail = 0;
    struct st_kval *fr = fv(r, "FilterResults");
    assert_int_equal(fr->count, 1);
    assert_int_equal(get_i(&fr->objs[0], "ErrorCode"), ST_KERR_UNKNOWN_SERVER_ERROR);
    assert_string_equal(get_s(&fr->objs[0], "ErrorMessage"), "store is read-only");
    assert_int_equal(st_acl_set_count(m.s), 3);

    /* DeleteAcls: three filters: topics (overlapping twice), an invalid one, nothing. */
    root = req_new(&req, 31, ver);
    f = set_arr(root, "Filters", 4, ver);
    set_filter(&f[0], RT(TOPIC), NULL, PT(ANY), NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
    set_filter(&f[1], RT(TOPIC), "orders", PT(LITERAL), "User:alice", NULL, OP(READ), ALLOW);
    set_filter(&f[2], RT(TOPIC), NULL, PT(ANY), NULL, NULL, OP(UNKNOWN), ST_ACL_PERM_ANY);
    set_filter(&f[3], RT(GROUP), NULL, PT(ANY), NULL, NULL, OP(ANY), ST_ACL_PERM_ANY);
    r = answer(&req, &m, &resp);
    fr = fv(r, "FilterResults");
    assert_int_equal(fr->count, 4);
    assert_int_equal(get_i(&fr->objs[0], "ErrorCode"), 0);
    struct st_kval *ma = fv(&fr->objs[0], "MatchingAcls");
    /* v0 filter is LITERAL: "pay-" PREFIXED is not matched, but v0 created it LITERAL. */
    assert_int_equal(ma->count, 2);
    assert_string_equal(get_s(&ma->objs[0], "ResourceName"), "orders");
    assert_string_equal(get_s(&ma->objs[0], "Principal"), "User:alice");
    assert_int_equal(get_i(&ma->objs[0], "ErrorCode"), 0);
    assert_int_equal(get_i(&ma->objs[0], "Operation"), OP(READ));
    assert_int_equal(get_i(&ma->objs[0], "PermissionType"), ALLOW);
    assert_string_equal(get_s(&ma->objs[1], "ResourceName"), "pay-");
    if (ver >= 1)
        assert_int_equal(get_i(&ma->objs[1], "PatternType"), PT(PREFIXED));
    assert_int_equal(fv(&fr->objs[1], "MatchingAcls")->count, 1);
    assert_int_equal(get_i(&fr->objs[2], "ErrorCode"), ST_KERR_INVALID_REQUEST);
    assert_non_null(strstr(get_s(&fr->objs[2], "ErrorMessage"), "Operation"));
    assert_int_equal(fv(&fr->objs[3], "MatchingAcls")->count, 0);
    assert_int_equal(m.removed, 2); /* each binding once */
    assert_int_equal(st_acl_set_count(m.s), 1);
    assert_int_equal(st_acl_set_get(m.s, 0)->rtype, RT(CLUSTER));

    /* CreateAcls on a failing store: valid creations get UNKNOWN_SERVER_ERROR. */
    root = req_new(&req, 30, ver);
    c = set_arr(root, "Creations", 2, ver);
    add_creation(&c[0], RT(TOPIC), "t", PT(LITERAL), "User:a", "*", OP(READ), ALLOW);
    add_creation(&c[1], RT(TOPIC), "", PT(LITERAL), "User:a", "*", OP(READ), ALLOW);
    m.fail = 1;
    r = answer(&req, &m, &resp);
    m.fail = 0;
    res = fv(r, "Results");
    assert_int_equal(get_i(&res->objs[0], "ErrorCode"), ST_KERR_UNKNOWN_SERVER_ERROR);
    assert_string_equal(get_s(&res->objs[0], "ErrorMessage"), "store is read-only");
    assert_int_equal(get_i(&res->objs[1], "ErrorCode"), ST_KERR_INVALID_REQUEST);

    st_acl_set_free(m.s);
    st_karena_free(&arena);
}

static void
test_wire_v0(void **state)
{
    (void)state;
    wire_version(0);
}

static void
test_wire_v1(void **state)
{
    (void)state;
    wire_version(1);
}

static void
test_wire_v2(void **state)
{
    (void)state;
    wire_version(2);
}

static void
test_wire_v3(void **state)
{
    (void)state;
    wire_version(3);
}

static void
test_wire_malformed(void **state)
{
    (void)state;
    struct mem m = {NULL, 0, 0};
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x7f, 1, 2};
    assert_int_equal(st_acl_wire_answer(30, 1, junk, sizeof(junk), &mem_ops, &m, &out, &err), -1);
    assert_non_null(err);
    assert_int_equal(st_acl_wire_answer(3, 0, junk, 0, &mem_ops, &m, &out, &err), -1);
    assert_int_equal(st_acl_wire_answer(29, 99, junk, 0, &mem_ops, &m, &out, &err), -1);
    /* CreateAcls v1 with zero creations plus a trailing byte. */
    static const uint8_t trailing[] = {0, 0, 0, 0, 9};
    assert_int_equal(st_acl_wire_answer(30, 1, trailing, 5, &mem_ops, &m, &out, &err), -1);
    assert_int_equal(st_acl_wire_answer(30, 1, trailing, 4, &mem_ops, &m, &out, &err), 0);
    /* ThrottleTimeMs 0, Results [] */
    assert_int_equal(st_buf_used(&out), 8);
    /* An embedded NUL in a name is an invalid creation, not a malformed body. */
    static const uint8_t nul[] = {0, 0,   0,   1,   2,   0,   3,   'a', 0, 'b', 3, 0,
                                  6, 'U', 's', 'e', 'r', ':', 'a', 0,   1, '*', 3, 3};
    st_buf_reset(&out);
    m.s = st_acl_set_new(NULL, 0);
    assert_int_equal(st_acl_wire_answer(30, 1, nul, sizeof(nul), &mem_ops, &m, &out, &err), 0);
    const uint8_t *p = st_buf_head(&out);
    assert_int_equal(
        st_buf_used(&out),
        8 + 2 + 2 + strlen("ResourceName, Principal and Host must be UTF-8 without NUL bytes"));
    assert_int_equal(p[8] << 8 | p[9], ST_KERR_INVALID_REQUEST);
    assert_int_equal(st_acl_set_count(m.s), 0);
    /* Invalid UTF-8 likewise. */
    uint8_t latin1[sizeof(nul)];
    memcpy(latin1, nul, sizeof(nul));
    latin1[8] = 0xe9;
    st_buf_reset(&out);
    assert_int_equal(st_acl_wire_answer(30, 1, latin1, sizeof(latin1), &mem_ops, &m, &out, &err),
                     0);
    p = st_buf_head(&out);
    assert_int_equal(p[8] << 8 | p[9], ST_KERR_INVALID_REQUEST);
    assert_int_equal(st_acl_set_count(m.s), 0);
    st_acl_set_free(m.s);
    st_buf_free(&out);
}

/* A large request of minimal creations stays within the arenas. */
static void
test_wire_many(void **state)
{
    (void)state;
    enum { N = 20000 };
    static const uint8_t one[] = {2, 2, 't', 3, 7, 'U', 's', 'e', 'r', ':', 'a', 2, '*', 3, 3, 0};
    struct st_buf body = ST_BUF_INIT, out = ST_BUF_INIT;
    assert_int_equal(st_buf_append_uvarint(&body, N + 1), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(st_buf_append(&body, one, sizeof(one)), 0);
    assert_int_equal(st_buf_append_u8(&body, 0), 0);
    struct mem m = {st_acl_set_new(NULL, 0), 0, 0};
    const char *err = NULL;
    assert_int_equal(
        st_acl_wire_answer(30, 2, st_buf_head(&body), st_buf_used(&body), &mem_ops, &m, &out, &err),
        0);
    assert_int_equal(st_acl_set_count(m.s), 1);
    /* ThrottleTimeMs, N+1, N x (ErrorCode, null message, tags), tags */
    assert_int_equal(st_buf_used(&out), 4 + 3 + (size_t)N * 4 + 1);
    st_acl_set_free(m.s);
    st_buf_free(&body);
    st_buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize_table), cmocka_unit_test(test_set_basics),
        cmocka_unit_test(test_large_set),       cmocka_unit_test(test_filter_matches),
        cmocka_unit_test(test_validate),        cmocka_unit_test(test_json),
        cmocka_unit_test(test_wire_v0),         cmocka_unit_test(test_wire_v1),
        cmocka_unit_test(test_wire_v2),         cmocka_unit_test(test_wire_v3),
        cmocka_unit_test(test_wire_malformed),  cmocka_unit_test(test_wire_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
