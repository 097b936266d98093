/*
 * Store tests: migrations and schema version, idempotent puts, key conflicts, cluster policy
 * optimistic concurrency, paging, cascade on cluster delete, 0600 file mode, Kafka ACL bindings
 * (duplicates, removal, order, unknown clusters, migration 4), and that everything survives a
 * close/reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static char dir[256];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_store_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct st_store *
open_store(void)
{
    const char *err = NULL;
    struct st_store *s = st_store_open(dir, &err);
    assert_non_null(s);
    return s;
}

static json_t *
cluster(const char *arn, const char *account, const char *version)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "clusterArn", arn, "account", account,
                     "clusterName", "demo", "state", "ACTIVE", "currentVersion", version);
}

static void
test_iam_idempotent_and_durable(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    bool created = false;
    assert_int_equal(st_store_schema_version(s), 5);
    assert_int_equal(st_store_account_put(s, "111122223333", "provider", &created, &err), 0);
    assert_true(created);
    assert_int_equal(st_store_account_put(s, "111122223333", "provider", &created, &err), 0);
    assert_false(created);
    const char *u = "arn:aws:iam::111122223333:user/admin";
    assert_int_equal(
        st_store_principal_put(s, u, "111122223333", "user", "admin", NULL, &created, &err), 0);
    assert_true(created);
    assert_int_equal(st_store_key_put(s, "AKIATEST", u, "sekrit", &created, &err), 0);
    assert_true(created);
    assert_int_equal(st_store_key_put(s, "AKIATEST", u, "sekrit", &created, &err), 0);
    assert_false(created);
    assert_int_equal(st_store_key_put(s, "AKIATEST", u, "other", &created, &err),
                     ST_STORE_CONFLICT);
    assert_int_equal(st_store_attach(s, u, "AmazonMSKFullAccess", &created, &err), 0);
    assert_true(created);
    assert_int_equal(st_store_attach(s, u, "NoSuchPolicy", &created, &err), ST_STORE_NOTFOUND);
    assert_int_equal(
        st_store_inline_put(s, u, "p1", "{\"Version\":\"2012-10-17\"}", &created, &err), 0);
    /* A user of an unknown account is refused by the foreign key. */
    assert_int_equal(st_store_principal_put(s, "arn:aws:iam::999999999999:user/x", "999999999999",
                                            "user", "x", NULL, &created, &err),
                     ST_STORE_CONFLICT);
    st_store_close(s);

    struct stat stt;
    char path[300];
    snprintf(path, sizeof(path), "%s/strait.db", dir);
    assert_int_equal(stat(path, &stt), 0);
    assert_int_equal(stt.st_mode & 0777, 0600);

    s = open_store();
    json_t *keys = st_store_key_list(s);
    assert_int_equal(json_array_size(keys), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "secret")),
                        "sekrit");
    json_decref(keys);
    json_t *pols = st_store_principal_policies(s, u);
    assert_int_equal(json_array_size(pols), 2);
    json_decref(pols);
    st_store_close(s);
}

static void
test_cluster_policy_versions(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    bool created;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &created, &err), 0);
    const char *arn = "arn:aws:kafka:us-east-1:111122223333:cluster/demo/u-1";
    json_t *c = cluster(arn, "111122223333", "V1");
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    assert_null(st_store_cluster_policy_get(s, arn));
    assert_int_equal(st_store_cluster_policy_put(s, arn, "{}", "X", "P1", &err), ST_STORE_CONFLICT);
    assert_int_equal(st_store_cluster_policy_put(s, arn, "{}", NULL, "P1", &err), 0);
    assert_int_equal(st_store_cluster_policy_put(s, arn, "{}", NULL, "P2", &err),
                     ST_STORE_CONFLICT);
    assert_int_equal(st_store_cluster_policy_put(s, arn, "{\"a\":1}", "P0", "P2", &err),
                     ST_STORE_CONFLICT);
    assert_int_equal(st_store_cluster_policy_put(s, arn, "{\"a\":1}", "P1", "P2", &err), 0);
    json_t *p = st_store_cluster_policy_get(s, arn);
    assert_string_equal(json_string_value(json_object_get(p, "currentVersion")), "P2");
    assert_string_equal(json_string_value(json_object_get(p, "policy")), "{\"a\":1}");
    json_decref(p);
    /* Optimistic cluster update. */
    json_object_set_new(c, "currentVersion", json_string("V2"));
    assert_int_equal(st_store_cluster_update(s, c, "V0", &err), ST_STORE_CONFLICT);
    assert_int_equal(st_store_cluster_update(s, c, "V1", &err), 0);
    assert_int_equal(st_store_cluster_policy_delete(s, arn, &err), 0);
    assert_int_equal(st_store_cluster_policy_delete(s, arn, &err), ST_STORE_NOTFOUND);
    json_decref(c);
    st_store_close(s);
}

static void
test_connections_paging_and_cascade(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    bool created;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &created, &err), 0);
    const char *arn = "arn:aws:kafka:us-east-1:111122223333:cluster/demo/u-1";
    json_t *c = cluster(arn, "111122223333", "V1");
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);
    for (int i = 0; i < 5; i++) {
        char carn[200];
        snprintf(carn, sizeof(carn),
                 "arn:aws:kafka:us-east-1:444455556666:vpc-connection/111122223333/demo/c%d", i);
        json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "vpcConnectionArn", carn, "owner",
                              "444455556666", "targetClusterArn", arn, "state", "CREATING");
        assert_int_equal(st_store_conn_insert(s, r, &err), 0);
        json_decref(r);
    }
    json_t *page = st_store_conn_list(s, "444455556666", NULL, NULL, 2);
    assert_int_equal(json_array_size(page), 2);
    const char *last =
        json_string_value(json_object_get(json_array_get(page, 1), "vpcConnectionArn"));
    json_t *page2 = st_store_conn_list(s, "444455556666", NULL, last, 10);
    assert_int_equal(json_array_size(page2), 3);
    json_decref(page);
    json_decref(page2);
    json_t *none = st_store_conn_list(s, "111122223333", NULL, NULL, 0);
    assert_int_equal(json_array_size(none), 0);
    json_decref(none);
    assert_int_equal(st_store_cluster_delete(s, arn, &err), 0);
    json_t *gone = st_store_conn_list(s, NULL, arn, NULL, 0);
    assert_int_equal(json_array_size(gone), 0);
    json_decref(gone);
    json_t *tags = json_pack("{s:s}", "env", "test");
    assert_int_equal(st_store_tags_merge(s, "arn:x", tags, &err), 0);
    json_decref(tags);
    json_t *t = st_store_tags_get(s, "arn:x");
    assert_string_equal(json_string_value(json_object_get(t, "env")), "test");
    json_decref(t);
    st_store_close(s);
}

/* A database left at schema 1 (before subnets had extra addresses) is migrated in place. */
static void
test_migration_from_v1(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    bool created;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &created, &err), 0);
    assert_int_equal(st_store_vpc_put(s, "vpc-1", "111122223333", "10.0.0.0/16", &created, &err),
                     0);
    assert_int_equal(
        st_store_subnet_put(s, "subnet-1", "vpc-1", "use1-az1", "127.0.1.1", NULL, &created, &err),
        0);
    st_store_close(s);
    char path[300];
    snprintf(path, sizeof(path), "%s/strait.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE subnets DROP COLUMN extra_addresses; PRAGMA "
                                  "user_version = 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    s = open_store();
    assert_int_equal(st_store_schema_version(s), 5);
    json_t *sub = st_store_subnet_get(s, "subnet-1");
    assert_non_null(sub);
    assert_string_equal(json_string_value(json_object_get(sub, "endpointAddress")), "127.0.1.1");
    assert_string_equal(json_string_value(json_object_get(sub, "extraAddresses")), "[]");
    json_decref(sub);
    assert_int_equal(st_store_subnet_put(s, "subnet-1", "vpc-1", "use1-az1", "127.0.1.1",
                                         "[\"127.0.1.2\"]", &created, &err),
                     0);
    assert_true(created);
    sub = st_store_subnet_get(s, "subnet-1");
    assert_string_equal(json_string_value(json_object_get(sub, "extraAddresses")),
                        "[\"127.0.1.2\"]");
    json_decref(sub);
    assert_int_equal(
        st_store_subnet_put(s, "subnet-1", "vpc-2", "use1-az1", "127.0.1.1", NULL, &created, &err),
        ST_STORE_CONFLICT);
    st_store_close(s);
}

static json_t *
acl(const char *rtype, const char *name, const char *ptype, const char *principal, const char *op,
    const char *perm)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resourceType", rtype, "resourceName",
                     name, "patternType", ptype, "principal", principal, "host", "*", "operation",
                     op, "permissionType", perm);
}

static const char *
field(const json_t *arr, size_t i, const char *k)
{
    return json_string_value(json_object_get(json_array_get(arr, i), k));
}

static void
test_kafka_acls(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    bool yes;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &yes, &err), 0);
    const char *arn = "arn:aws:kafka:us-east-1:111122223333:cluster/demo/u-1";
    const char *other = "arn:aws:kafka:us-east-1:111122223333:cluster/other/u-2";
    json_t *c = cluster(arn, "111122223333", "V1");
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);
    c = cluster(other, "111122223333", "V1");
    json_object_set_new(c, "clusterName", json_string("other"));
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);

    json_t *read = acl("TOPIC", "orders", "LITERAL", "User:alice", "READ", "ALLOW");
    json_t *write = acl("TOPIC", "orders", "LITERAL", "User:alice", "WRITE", "ALLOW");
    json_t *pfx = acl("TOPIC", "ord", "PREFIXED", "User:bob", "ALL", "DENY");
    json_t *grp = acl("GROUP", "g1", "LITERAL", "User:alice", "READ", "ALLOW");
    assert_int_equal(st_store_acl_add(s, arn, write, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(st_store_acl_add(s, arn, read, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(st_store_acl_add(s, arn, read, &yes, &err), 0);
    assert_false(yes); /* exact duplicate ignored */
    assert_int_equal(st_store_acl_add(s, arn, pfx, &yes, &err), 0);
    assert_int_equal(st_store_acl_add(s, arn, grp, &yes, &err), 0);
    assert_int_equal(st_store_acl_add(s, other, read, &yes, &err), 0);
    assert_true(yes); /* the same binding on another cluster is another row */
    /* A binding differing in one member only is another binding. */
    json_t *deny = acl("TOPIC", "orders", "LITERAL", "User:alice", "READ", "DENY");
    assert_int_equal(st_store_acl_add(s, arn, deny, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(
        st_store_acl_add(s, "arn:aws:kafka:us-east-1:1:cluster/nope/x", read, &yes, &err),
        ST_STORE_NOTFOUND);
    json_t *partial = json_pack("{s:s, s:s}", "resourceType", "TOPIC", "resourceName", "x");
    assert_int_equal(st_store_acl_add(s, arn, partial, &yes, &err), ST_STORE_ERR);
    assert_non_null(strstr(err, "permissionType"));

    json_t *l = st_store_acl_list(s, arn);
    assert_int_equal(json_array_size(l), 5);
    /* Ordered by type, name, pattern type, principal, host, operation, permission. */
    assert_string_equal(field(l, 0, "resourceType"), "GROUP");
    assert_string_equal(field(l, 1, "resourceName"), "ord");
    assert_string_equal(field(l, 1, "patternType"), "PREFIXED");
    assert_string_equal(field(l, 2, "operation"), "READ");
    assert_string_equal(field(l, 2, "permissionType"), "ALLOW");
    assert_string_equal(field(l, 3, "permissionType"), "DENY");
    assert_string_equal(field(l, 4, "operation"), "WRITE");
    assert_string_equal(field(l, 4, "host"), "*");
    assert_string_equal(field(l, 4, "principal"), "User:alice");
    assert_int_equal(json_object_size(json_array_get(l, 0)), 7);
    json_decref(l);

    assert_int_equal(st_store_acl_remove(s, arn, deny, &yes, &err), 0);
    assert_true(yes);
    assert_int_equal(st_store_acl_remove(s, arn, deny, &yes, &err), 0);
    assert_false(yes);
    /* Transactions group several changes. */
    assert_int_equal(st_store_begin(s, &err), 0);
    assert_int_equal(st_store_acl_remove(s, arn, write, &yes, &err), 0);
    assert_int_equal(st_store_acl_remove(s, arn, grp, &yes, &err), 0);
    st_store_rollback(s);
    l = st_store_acl_list(s, arn);
    assert_int_equal(json_array_size(l), 4);
    json_decref(l);
    st_store_close(s);

    /* Durable; deleted with the cluster. */
    s = open_store();
    l = st_store_acl_list(s, arn);
    assert_int_equal(json_array_size(l), 4);
    json_decref(l);
    l = st_store_acl_list(s, "arn:aws:kafka:us-east-1:1:cluster/nope/x");
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    assert_int_equal(st_store_cluster_delete(s, arn, &err), 0);
    l = st_store_acl_list(s, arn);
    assert_int_equal(json_array_size(l), 0);
    json_decref(l);
    l = st_store_acl_list(s, other);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    st_store_close(s);
    json_decref(read);
    json_decref(write);
    json_decref(pfx);
    json_decref(grp);
    json_decref(deny);
    json_decref(partial);
}

/* A database at schema 3 gets the ACL table. */
static void
test_migration_from_v3(void **state)
{
    struct st_store *s = open_store();
    st_store_close(s);
    char path[300];
    snprintf(path, sizeof(path), "%s/strait.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "DROP TABLE kafka_acls; PRAGMA user_version = 3;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    s = open_store();
    assert_int_equal(st_store_schema_version(s), 5);
    const char *err = NULL;
    bool yes;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &yes, &err), 0);
    const char *arn = "arn:aws:kafka:us-east-1:111122223333:cluster/demo/u-1";
    json_t *c = cluster(arn, "111122223333", "V1");
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);
    json_t *b = acl("CLUSTER", "kafka-cluster", "LITERAL", "User:ops", "DESCRIBE", "ALLOW");
    assert_int_equal(st_store_acl_add(s, arn, b, &yes, &err), 0);
    assert_true(yes);
    json_decref(b);
    json_t *l = st_store_acl_list(s, arn);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    st_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_iam_idempotent_and_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_policy_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_paging_and_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_acls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
