/*
 * Kafka ACLs in the control plane: --kafka-super-users parsing, snapshots carrying each
 * cluster's ACL set (stored rows that no longer parse skipped) and super users, and
 * st_ctl_acl_create/delete: validation, unknown clusters, duplicates, one publish per change and
 * the current set following each change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "authz/acl.h"
#include "ctl/ctl.h"
#include "ctl/internal.h"
#include "ctl/snapshot.h"
#include "store/store.h"

#define ARN "arn:aws:kafka:us-east-1:111122223333:cluster/demo/u-1"

static char dir[256];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_ctl_acl_test.XXXXXX");
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

static void
test_super_users_parse(void **state)
{
    char **v = NULL;
    size_t n = 9;
    const char *err = NULL;
    assert_int_equal(st_ctl_super_users_parse(" User:admin ;User:ops;; ", &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "User:admin");
    assert_string_equal(v[1], "User:ops");
    assert_null(v[2]);
    st_ctl_super_users_free(v);
    assert_int_equal(st_ctl_super_users_parse("", &v, &n, &err), 0);
    assert_null(v);
    assert_int_equal(n, 0);
    assert_int_equal(st_ctl_super_users_parse(NULL, &v, &n, &err), 0);
    assert_int_equal(st_ctl_super_users_parse(" ; ", &v, &n, &err), 0);
    assert_null(v);
    const char *bad[] = {"admin", "User:", ":admin", "User:a;ops"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_int_equal(st_ctl_super_users_parse(bad[i], &v, &n, &err), -1);
        assert_non_null(strstr(err, "kafka-super-users"));
        assert_null(v);
    }
}

static json_t *
row(const char *op)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resourceType", "TOPIC", "resourceName",
                     "orders", "patternType", "LITERAL", "principal", "User:alice", "host", "*",
                     "operation", op, "permissionType", "ALLOW");
}

static void
add_cluster(struct st_store *s)
{
    const char *err = NULL;
    bool yes;
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &yes, &err), 0);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s}", "clusterArn", ARN, "account", "111122223333",
                          "clusterName", "demo", "state", "ACTIVE", "currentVersion", "V1");
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);
}

static void
test_snapshot_acls(void **state)
{
    const char *err = NULL;
    struct st_store *s = st_store_open(dir, &err);
    assert_non_null(s);
    add_cluster(s);
    bool yes;
    const char *ops[] = {"READ", "WRITE", "FLY" /* no longer parses: skipped */};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = row(ops[i]);
        assert_int_equal(st_store_acl_add(s, ARN, r, &yes, &err), 0);
        json_decref(r);
    }
    struct st_snapshot *snap = st_snapshot_build(s, 1, time(NULL), &err);
    assert_non_null(snap);
    const struct st_snap_cluster *c = st_snapshot_cluster(snap, ARN);
    assert_non_null(c);
    assert_non_null(c->acls);
    assert_int_equal(st_acl_set_count(c->acls), 2);
    assert_null(c->super_users);
    assert_int_equal(c->n_super_users, 0);
    const char *su[] = {"User:admin", "User:ops"};
    assert_int_equal(st_snapshot_set_super_users(snap, su, 2), 0);
    assert_int_equal(c->n_super_users, 2);
    assert_string_equal(c->super_users[1], "User:ops");
    assert_null(c->super_users[2]);
    assert_true(c->super_users[0] != su[0]); /* copied */
    assert_int_equal(st_snapshot_set_super_users(snap, su, 1), 0);
    assert_int_equal(c->n_super_users, 1);
    assert_null(c->super_users[1]);
    assert_int_equal(st_snapshot_set_super_users(snap, NULL, 0), 0);
    assert_null(c->super_users);
    st_snapshot_unref(snap);
    st_store_close(s);
}

static int publishes;

static void
on_publish(void *arg, struct st_snapshot *snap)
{
    publishes++;
    st_snapshot_unref(snap);
}

static void
binding(struct st_acl_binding *b, const char *name, int8_t op, int8_t perm)
{
    b->rtype = ST_ACL_RT_TOPIC;
    b->name = (char *)name;
    b->ptype = ST_ACL_PT_LITERAL;
    b->principal = (char *)"User:alice";
    b->host = (char *)"*";
    b->op = op;
    b->perm = perm;
}

static void
test_ctl_create_delete(void **state)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct st_ctl_config cfg = {.base = base,
                                .data_dir = dir,
                                .price_gb = -1,
                                .price_conn_hour = -1,
                                .kafka_super_users = "User:admin"};
    const char *err = NULL;
    struct st_ctl *ctl = st_ctl_new(&cfg, &err);
    assert_non_null(ctl);
    add_cluster(ctl->store);
    st_ctl_changed(ctl);
    st_ctl_set_publisher(ctl, on_publish, NULL);
    assert_int_equal(publishes, 1);
    const struct st_snap_cluster *c = st_snapshot_cluster(st_ctl_snapshot(ctl), ARN);
    assert_int_equal(c->n_super_users, 1);
    assert_string_equal(c->super_users[0], "User:admin");
    assert_int_equal(st_acl_set_count(st_ctl_acl_current(ctl, ARN)), 0);
    assert_null(st_ctl_acl_current(ctl, "arn:nope"));

    struct st_acl_binding b[3];
    binding(&b[0], "orders", ST_ACL_OP_READ, ST_ACL_PERM_ALLOW);
    binding(&b[1], "orders", ST_ACL_OP_WRITE, ST_ACL_PERM_DENY);
    binding(&b[2], "orders", ST_ACL_OP_READ, ST_ACL_PERM_ALLOW); /* duplicate within the call */
    assert_int_equal(st_ctl_acl_create(ctl, ARN, b, 3, &err), 0);
    assert_int_equal(publishes, 2);
    assert_int_equal(st_acl_set_count(st_ctl_acl_current(ctl, ARN)), 2);
    /* Nothing new: no new snapshot. */
    assert_int_equal(st_ctl_acl_create(ctl, ARN, b, 1, &err), 0);
    assert_int_equal(publishes, 2);
    /* Unknown cluster, invalid binding: refused, nothing changes. */
    err = NULL;
    assert_int_equal(st_ctl_acl_create(ctl, "arn:nope", b, 1, &err), -1);
    assert_non_null(err);
    struct st_acl_binding bad[2];
    binding(&bad[0], "more", ST_ACL_OP_READ, ST_ACL_PERM_ALLOW);
    binding(&bad[1], "", ST_ACL_OP_READ, ST_ACL_PERM_ALLOW);
    err = NULL;
    assert_int_equal(st_ctl_acl_create(ctl, ARN, bad, 2, &err), -1);
    assert_non_null(err);
    assert_int_equal(st_acl_set_count(st_ctl_acl_current(ctl, ARN)), 2);
    assert_int_equal(publishes, 2);
    /* Delete with bindings pointing into the current set. */
    const struct st_acl_set *cur = st_ctl_acl_current(ctl, ARN);
    struct st_acl_binding del = *st_acl_set_get(cur, 0);
    assert_int_equal(st_ctl_acl_delete(ctl, ARN, &del, 1, &err), 0);
    assert_int_equal(publishes, 3);
    assert_int_equal(st_acl_set_count(st_ctl_acl_current(ctl, ARN)), 1);
    /* Already absent: no change, no snapshot. */
    assert_int_equal(st_ctl_acl_delete(ctl, ARN, &b[0], 1, &err), 0);
    assert_int_equal(publishes, 3);
    assert_int_equal(st_ctl_acl_delete(ctl, ARN, &b[1], 1, &err), 0);
    assert_int_equal(st_acl_set_count(st_ctl_acl_current(ctl, ARN)), 0);
    assert_int_equal(publishes, 4);
    st_ctl_free(ctl);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_super_users_parse),
        cmocka_unit_test_setup_teardown(test_snapshot_acls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ctl_create_delete, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
