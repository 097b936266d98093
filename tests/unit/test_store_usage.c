/*
 * Metering store tests (schema migration 3): usage deltas add up per (connection, hour) and
 * survive a reopen, invalid deltas are refused, the account scopes (connection owner vs cluster
 * owner) never leak another account's rows, the hour window and ARN filters, the connection
 * state history (last state per connection), the write-latency histogram counting writes, and
 * requests by API (schema migration 5) adding up per (connection, hour, API) in the same scopes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char dir[256];

#define CONN1 "arn:aws:kafka:us-east-1:444455556666:vpc-connection/111122223333/demo/a-1"
#define CONN2 "arn:aws:kafka:us-east-1:777788889999:vpc-connection/111122223333/demo/b-2"
#define CLUSTER "arn:aws:kafka:us-east-1:111122223333:cluster/demo/c-3"
#define H0 1795770000 /* a multiple of 3600 */

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_store_usage.XXXXXX");
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

static void
add(struct st_store *s, const char *conn, const char *scheme, const char *acct, int64_t hour,
    int64_t in, int64_t out, int64_t req)
{
    const char *err = NULL;
    struct st_store_usage u = {conn, CLUSTER, scheme, acct, "111122223333", hour, in, out, req};
    assert_int_equal(st_store_usage_add(s, &u, &err), 0);
}

static json_int_t
field(const json_t *rows, size_t i, const char *k)
{
    return json_integer_value(json_object_get(json_array_get(rows, i), k));
}

static void
test_usage_adds_up_and_scopes(void **state)
{
    struct st_store *s = open_store();
    assert_int_equal(st_store_schema_version(s), 5);
    add(s, CONN1, "SASL_IAM", "444455556666", H0, 100, 10, 1);
    add(s, CONN1, "SASL_IAM", "444455556666", H0, 50, 5, 2);
    add(s, CONN1, "SASL_IAM", "444455556666", H0 + 3600, 7, 0, 1);
    add(s, CONN2, "SASL_SCRAM", "777788889999", H0, 1000, 1, 1);
    const char *err = NULL;
    struct st_store_usage bad = {CONN1, CLUSTER, "SASL_IAM", "444455556666", "111122223333", H0 + 1,
                                 1,     1,       1};
    assert_int_equal(st_store_usage_add(s, &bad, &err), ST_STORE_ERR);
    bad.hour = H0;
    bad.bytes_in = -1;
    assert_int_equal(st_store_usage_add(s, &bad, &err), ST_STORE_ERR);
    st_store_close(s);

    s = open_store(); /* durable */
    json_t *r = st_store_usage_list(s, "444455556666", "conn", NULL, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(field(r, 0, "hour"), H0);
    assert_int_equal(field(r, 0, "bytesIn"), 150);
    assert_int_equal(field(r, 0, "bytesOut"), 15);
    assert_int_equal(field(r, 0, "requests"), 3);
    assert_int_equal(field(r, 1, "bytesIn"), 7);
    json_decref(r);
    /* the window: hours overlapping [H0 + 3600, ...) */
    r = st_store_usage_list(s, "444455556666", "conn", NULL, NULL, H0 + 3600, H0 + 7200);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    /* a client account never sees the other client's rows, even by naming them */
    r = st_store_usage_list(s, "444455556666", "conn", NULL, CONN2, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    r = st_store_usage_list(s, "444455556666", "cluster", NULL, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    /* the cluster owner sees both connections, and only as the cluster owner */
    r = st_store_usage_list(s, "111122223333", "cluster", CLUSTER, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 3);
    json_decref(r);
    r = st_store_usage_list(s, "111122223333", "conn", NULL, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    r = st_store_usage_list(s, "111122223333", "cluster", NULL, CONN2, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "authentication")),
                        "SASL_SCRAM");
    json_decref(r);
    st_store_close(s);
}

static void
test_state_history(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    struct st_store_write_stats ws0, ws1;
    st_store_write_stats(s, &ws0);
    const char *states[] = {"CREATING", "AVAILABLE", "DELETING", "DELETED"};
    for (int i = 0; i < 4; i++) {
        struct st_store_conn_state c = {CONN1,
                                        CLUSTER,
                                        "SASL_IAM",
                                        "444455556666",
                                        "111122223333",
                                        states[i],
                                        (int64_t)H0 * 1000 + i};
        assert_int_equal(st_store_conn_state_add(s, &c, &err), 0);
    }
    struct st_store_conn_state c2 = {
        CONN2, CLUSTER, "TLS", "777788889999", "111122223333", "AVAILABLE", (int64_t)H0 * 1000};
    assert_int_equal(st_store_conn_state_add(s, &c2, &err), 0);
    st_store_write_stats(s, &ws1);
    assert_int_equal(ws1.count, ws0.count + 5);
    assert_true(ws1.buckets[11] >= ws0.buckets[11]);
    st_store_close(s);

    s = open_store();
    json_t *last = st_store_conn_state_last(s);
    assert_int_equal(json_array_size(last), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(last, 0), "state")),
                        "DELETED");
    assert_string_equal(json_string_value(json_object_get(json_array_get(last, 1), "state")),
                        "AVAILABLE");
    json_decref(last);
    json_t *h = st_store_conn_state_list(s, "444455556666", "conn", NULL, NULL);
    assert_int_equal(json_array_size(h), 4);
    assert_int_equal(field(h, 1, "atMs"), (json_int_t)H0 * 1000 + 1);
    json_decref(h);
    h = st_store_conn_state_list(s, "111122223333", "cluster", NULL, NULL);
    assert_int_equal(json_array_size(h), 5);
    json_decref(h);
    h = st_store_conn_state_list(s, "777788889999", "conn", NULL, CONN1);
    assert_int_equal(json_array_size(h), 0);
    json_decref(h);
    st_store_close(s);
}

static void
test_requests_by_api(void **state)
{
    struct st_store *s = open_store();
    const char *err = NULL;
    struct st_store_usage u1 = {CONN1, CLUSTER, "SASL_IAM", "444455556666", "111122223333", H0,
                                0,     0,       0};
    struct st_store_usage u2 = {
        CONN2, CLUSTER, "SASL_SCRAM", "777788889999", "111122223333", H0 + 3600, 0, 0, 0};
    assert_int_equal(st_store_begin(s, &err), 0);
    assert_int_equal(st_store_usage_api_add(s, &u1, 0, 40, &err), 0); /* Produce */
    assert_int_equal(st_store_usage_api_add(s, &u1, 3, 2, &err), 0);  /* Metadata */
    assert_int_equal(st_store_usage_api_add(s, &u1, 0, 5, &err), 0);
    assert_int_equal(st_store_usage_api_add(s, &u2, 18, 7, &err), 0); /* ApiVersions */
    assert_int_equal(st_store_commit(s, &err), 0);
    assert_int_equal(st_store_usage_api_add(s, &u1, -1, 1, &err), ST_STORE_ERR);
    assert_int_equal(st_store_usage_api_add(s, &u1, 0, -1, &err), ST_STORE_ERR);
    u1.hour = H0 + 1;
    assert_int_equal(st_store_usage_api_add(s, &u1, 0, 1, &err), ST_STORE_ERR);
    st_store_close(s);

    s = open_store(); /* durable */
    json_t *r = st_store_usage_api_list(s, "444455556666", "conn", NULL, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 2);
    assert_int_equal(field(r, 0, "apiKey"), 0);
    assert_int_equal(field(r, 0, "requests"), 45);
    assert_int_equal(field(r, 0, "hour"), H0);
    assert_int_equal(field(r, 1, "apiKey"), 3);
    assert_int_equal(field(r, 1, "requests"), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "clusterAccount")),
                        "111122223333");
    json_decref(r);
    /* scopes: never the other client's rows, the cluster owner sees both */
    r = st_store_usage_api_list(s, "444455556666", "conn", NULL, CONN2, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    r = st_store_usage_api_list(s, "444455556666", "cluster", NULL, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 0);
    json_decref(r);
    r = st_store_usage_api_list(s, "111122223333", "cluster", CLUSTER, NULL, 0, H0 + 7200);
    assert_int_equal(json_array_size(r), 3);
    json_decref(r);
    /* the window */
    r = st_store_usage_api_list(s, "111122223333", "cluster", NULL, NULL, H0 + 3600, H0 + 7200);
    assert_int_equal(json_array_size(r), 1);
    assert_int_equal(field(r, 0, "apiKey"), 18);
    json_decref(r);
    st_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage_adds_up_and_scopes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_by_api, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
