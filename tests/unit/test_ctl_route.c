/*
 * Routing and request parsing: the route table equals the MSK model's paths and methods
 * (tests/data/ctl/msk-routes.json, generated from botocore's service-2.json), captured SDK paths
 * route with their percent-encoded ARN labels decoded only after matching, singular/plural
 * look-alike paths, method and label errors, query decoding, maxResults and page tokens; plus
 * snapshot building and lookups over a temporary store.
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
#include <jansson.h>

#include "ctl/route.h"
#include "ctl/snapshot.h"
#include "policy/policy.h"
#include "store/store.h"

#define CLUSTER                                                                                    \
    "arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/"                                   \
    "6f2a1c3e-1111-4c3a-9d0b-0123456789ab-25"
#define CLUSTER_ENC                                                                                \
    "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fdemo-cluster%2F6f2a1c3e-1111-4c3a-"  \
    "9d0b-0123456789ab-25"
#define CONN                                                                                       \
    "arn:aws:kafka:us-east-1:123456789012:vpc-connection/123456789012/demo-cluster/"               \
    "9a8b7c6d-2222-4e5f-8a9b-abcdefabcdef-3"
#define CONN_ENC                                                                                   \
    "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Avpc-connection%2F123456789012%2Fdemo-cluster%" \
    "2F9a8b7c6d-2222-4e5f-8a9b-abcdefabcdef-3"

static void
test_table_matches_model(void **state)
{
    json_error_t jerr;
    json_t *m = json_load_file(ST_SOURCE_DIR "/tests/data/ctl/msk-routes.json", 0, &jerr);
    assert_non_null(m);
    json_t *ops = json_object_get(m, "operations");
    size_t n = 0;
    for (const struct st_route *r = st_routes; r->method; r++, n++) {
        json_t *op = json_object_get(ops, r->name);
        if (!op)
            fail_msg("route %s is not in the model", r->name);
        assert_string_equal(json_string_value(json_object_get(op, "method")), r->method);
        assert_string_equal(json_string_value(json_object_get(op, "requestUri")), r->tmpl);
        char action[128];
        snprintf(action, sizeof(action), "kafka:%s", r->name);
        assert_string_equal(r->action, action);
        for (const struct st_route *q = st_routes; q != r; q++)
            assert_int_not_equal(q->op, r->op);
    }
    assert_int_equal(n, json_object_size(ops));
    assert_int_equal(n, ST_OP__COUNT);
    json_decref(m);
}

static void
expect_route(const char *method, const char *path, enum st_op op, const char *label,
             const char *value)
{
    struct st_route_match m;
    const char *err = NULL;
    int rc = st_route_find(method, path, strlen(path), &m, &err);
    if (rc != ST_ROUTE_OK)
        fail_msg("%s %s: %s", method, path, err);
    assert_int_equal(m.route->op, op);
    if (label)
        assert_string_equal(st_route_label(&m, label), value);
    st_route_match_clear(&m);
}

static void
test_captured_paths(void **state)
{
    expect_route("GET", "/v1/clusters/" CLUSTER_ENC "/policy", ST_OP_GET_CLUSTER_POLICY,
                 "clusterArn", CLUSTER);
    expect_route("PUT", "/v1/clusters/" CLUSTER_ENC "/policy", ST_OP_PUT_CLUSTER_POLICY,
                 "clusterArn", CLUSTER);
    expect_route("DELETE", "/v1/clusters/" CLUSTER_ENC "/policy", ST_OP_DELETE_CLUSTER_POLICY,
                 "clusterArn", CLUSTER);
    expect_route("PUT", "/v1/clusters/" CLUSTER_ENC "/connectivity", ST_OP_UPDATE_CONNECTIVITY,
                 "clusterArn", CLUSTER);
    expect_route("PUT", "/v1/clusters/" CLUSTER_ENC "/client-vpc-connection",
                 ST_OP_REJECT_CLIENT_VPC_CONNECTION, "clusterArn", CLUSTER);
    expect_route("GET", "/v1/clusters/" CLUSTER_ENC "/client-vpc-connections",
                 ST_OP_LIST_CLIENT_VPC_CONNECTIONS, "clusterArn", CLUSTER);
    expect_route("GET", "/v1/clusters/" CLUSTER_ENC "/bootstrap-brokers",
                 ST_OP_GET_BOOTSTRAP_BROKERS, "clusterArn", CLUSTER);
    expect_route("GET", "/api/v2/clusters/" CLUSTER_ENC, ST_OP_DESCRIBE_CLUSTER_V2, "clusterArn",
                 CLUSTER);
    expect_route("GET", "/v1/clusters/" CLUSTER_ENC, ST_OP_DESCRIBE_CLUSTER, "clusterArn", CLUSTER);
    expect_route("DELETE", "/v1/vpc-connection/" CONN_ENC, ST_OP_DELETE_VPC_CONNECTION, "arn",
                 CONN);
    expect_route("GET", "/v1/vpc-connection/" CONN_ENC, ST_OP_DESCRIBE_VPC_CONNECTION, "arn", CONN);
    expect_route("POST", "/v1/vpc-connection", ST_OP_CREATE_VPC_CONNECTION, NULL, NULL);
    expect_route("GET", "/v1/vpc-connections", ST_OP_LIST_VPC_CONNECTIONS, NULL, NULL);
    expect_route("POST", "/api/v2/clusters", ST_OP_CREATE_CLUSTER_V2, NULL, NULL);
    expect_route("GET", "/api/v2/clusters", ST_OP_LIST_CLUSTERS_V2, NULL, NULL);
    expect_route("PATCH", "/v1/clusters/" CLUSTER_ENC "/scram-secrets",
                 ST_OP_BATCH_DISASSOCIATE_SCRAM_SECRET, "clusterArn", CLUSTER);
    expect_route("GET", "/v1/tags/" CLUSTER_ENC, ST_OP_LIST_TAGS_FOR_RESOURCE, "resourceArn",
                 CLUSTER);
}

static void
expect_rc(const char *method, const char *path, int want)
{
    struct st_route_match m;
    const char *err = NULL;
    assert_int_equal(st_route_find(method, path, strlen(path), &m, &err), want);
    assert_non_null(err);
    assert_null(m.route);
}

static void
test_route_errors(void **state)
{
    /* Decoding first would split the ARN at its %2F: must not match anything. */
    expect_rc("GET", "/v1/clusters/arn:aws:kafka:us-east-1:1:cluster/demo/x/policy",
              ST_ROUTE_NO_PATH);
    expect_rc("POST", "/v1/clusters/" CLUSTER_ENC "/policy", ST_ROUTE_NO_METHOD);
    expect_rc("GET", "/v1/vpc-connection", ST_ROUTE_NO_METHOD);
    expect_rc("GET", "/v1/clusters//policy", ST_ROUTE_NO_PATH);
    expect_rc("GET", "/v1/clusters/abc%2/policy", ST_ROUTE_BAD_LABEL);
    expect_rc("GET", "/v1/clusters/abc%00def/policy", ST_ROUTE_BAD_LABEL);
    expect_rc("GET", "", ST_ROUTE_NO_PATH);
    expect_rc("GET", "v1/vpc-connections", ST_ROUTE_NO_PATH);
    expect_rc("GET", "/a/b/c/d/e/f/g/h/i/j", ST_ROUTE_NO_PATH);
    expect_rc("GET", "/v1/vpc-connections/", ST_ROUTE_NO_PATH);
}

static void
test_query(void **state)
{
    struct st_query q;
    const char *err = NULL;
    const char *raw = "maxResults=10&nextToken=tok%2Fen%2B1%3D&tagKeys=a&tagKeys=b+c&flag";
    assert_int_equal(st_query_parse(raw, strlen(raw), &q, &err), 0);
    assert_string_equal(st_query_get(&q, "maxResults"), "10");
    assert_string_equal(st_query_get(&q, "nextToken"), "tok/en+1=");
    assert_string_equal(st_query_get(&q, "tagKeys"), "a");
    assert_string_equal(q.values[3], "b c");
    assert_string_equal(st_query_get(&q, "flag"), "");
    assert_null(st_query_get(&q, "other"));
    st_query_clear(&q);
    assert_int_equal(st_query_parse("a=%zz", 5, &q, &err), -1);
    assert_int_equal(st_query_parse("a=%00", 5, &q, &err), -1);
    assert_int_equal(st_query_parse("", 0, &q, &err), 0);
    assert_int_equal(q.n, 0);
    char many[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "x=1&");
    assert_int_equal(st_query_parse(many, strlen(many), &q, &err), -1);
    int v;
    assert_int_equal(st_parse_max_results(NULL, 100, &v), 0);
    assert_int_equal(v, 100);
    assert_int_equal(st_parse_max_results("7", 100, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(st_parse_max_results("0", 100, &v), -1);
    assert_int_equal(st_parse_max_results("101", 100, &v), -1);
    assert_int_equal(st_parse_max_results("1x", 100, &v), -1);
    assert_int_equal(st_parse_max_results("99999999999999", 100, &v), -1);
}

static void
test_page_tokens(void **state)
{
    char *t = st_page_token_encode(CLUSTER);
    assert_non_null(t);
    char *k = st_page_token_decode(t);
    assert_string_equal(k, CLUSTER);
    free(k);
    free(t);
    assert_null(st_page_token_decode("garbage"));
    assert_null(st_page_token_decode("st1."));
    assert_null(st_page_token_decode("st1.!!!"));
}

static void
test_snapshot(void **state)
{
    char dir[] = "/tmp/st_ctl_snap.XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *err = NULL;
    struct st_store *s = st_store_open(dir, &err);
    assert_non_null(s);
    bool created;
    const char *user = "arn:aws:iam::111122223333:user/admin";
    const char *role = "arn:aws:iam::111122223333:role/r";
    assert_int_equal(st_store_account_put(s, "111122223333", "p", &created, &err), 0);
    assert_int_equal(
        st_store_principal_put(s, user, "111122223333", "user", "admin", NULL, &created, &err), 0);
    assert_int_equal(
        st_store_principal_put(s, role, "111122223333", "role", "r", NULL, &created, &err), 0);
    assert_int_equal(st_store_key_put(s, "AKIAB", user, "secretB", &created, &err), 0);
    assert_int_equal(st_store_key_put(s, "AKIAA", user, "secretA", &created, &err), 0);
    assert_int_equal(st_store_attach(s, user, "AmazonMSKReadOnlyAccess", &created, &err), 0);
    assert_int_equal(
        st_store_inline_put(s, role, "p",
                            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                            "\"Allow\",\"Action\":\"kafka:List*\",\"Resource\":\"*\"}]}",
                            &created, &err),
        0);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(st_store_session_put(s, "ASIALIVE", "s1", "tok1",
                                          "arn:aws:sts::111122223333:assumed-role/r/x", role,
                                          now + 600, &err),
                     0);
    assert_int_equal(st_store_session_put(s, "ASIADEAD", "s2", "tok2",
                                          "arn:aws:sts::111122223333:assumed-role/r/y", role,
                                          now - 1, &err),
                     0);
    const char *carn = "arn:aws:kafka:us-east-1:111122223333:cluster/c/u-1";
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:{s:{s:{s:{s:b}}}}}}", "clusterArn", carn,
                          "account", "111122223333", "clusterName", "c", "state", "ACTIVE",
                          "currentVersion", "V", "connectivityInfo", "vpcConnectivity",
                          "clientAuthentication", "sasl", "iam", "enabled", 1);
    assert_int_equal(st_store_cluster_insert(s, c, &err), 0);
    json_decref(c);
    assert_int_equal(
        st_store_cluster_policy_put(s, carn,
                                    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                                    "\"Allow\",\"Principal\":{\"AWS\":\"444455556666\"},\"Action\":"
                                    "\"kafka:DescribeCluster\",\"Resource\":\"*\"}]}",
                                    NULL, "P1", &err),
        0);
    assert_int_equal(st_store_vpc_put(s, "vpc-1", "111122223333", "10.0.0.0/16", &created, &err),
                     0);
    assert_int_equal(
        st_store_sg_put(s, "sg-1", "vpc-1",
                        "{\"ingress\":[{\"protocol\":\"tcp\",\"ports\":\"14001-14100\","
                        "\"cidr\":\"10.1.0.0/16\"},{\"protocol\":\"udp\",\"ports\":"
                        "\"53\"}],\"egress\":[]}",
                        &created, &err),
        0);
    const char *conn = "arn:aws:kafka:us-east-1:111122223333:vpc-connection/111122223333/c/v-1";
    json_t *cr =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s], s:[s]}", "vpcConnectionArn", conn, "owner",
                  "111122223333", "targetClusterArn", carn, "state", "AVAILABLE", "authentication",
                  "SASL_IAM", "securityGroups", "sg-1", "endpointAddresses", "127.0.1.1");
    assert_int_equal(st_store_conn_insert(s, cr, &err), 0);
    json_decref(cr);
    struct st_snapshot *snap = st_snapshot_build(s, 7, now, &err);
    const struct st_snap_conn *sc = st_snapshot_conn(snap, conn);
    assert_non_null(sc);
    assert_int_equal(sc->n_addresses, 1);
    assert_string_equal(sc->addresses[0], "127.0.1.1");
    assert_int_equal(sc->n_ingress, 1); /* the UDP rule is not TCP */
    assert_string_equal(sc->ingress[0].cidr, "10.1.0.0/16");
    assert_int_equal(sc->ingress[0].port_lo, 14001);
    assert_int_equal(sc->ingress[0].port_hi, 14100);
    assert_non_null(snap);
    assert_int_equal(snap->generation, 7);
    assert_int_equal(snap->n_creds, 4); /* two keys + both sessions (expired ones for a day) */
    const struct st_snap_cred *dead = st_snapshot_cred(snap, "ASIADEAD");
    assert_non_null(dead);
    assert_true(dead->expires <= now);
    const struct st_snap_cred *live = st_snapshot_cred(snap, "ASIALIVE");
    assert_non_null(live);
    assert_string_equal(live->session_token, "tok1");
    const struct st_snap_principal *lp = &snap->principals[live->principal];
    assert_string_equal(lp->role_arn, role);
    assert_int_equal(lp->n_policies, 1);
    const struct st_snap_cred *a = st_snapshot_cred(snap, "AKIAA");
    assert_string_equal(snap->principals[a->principal].arn, user);
    assert_int_equal(snap->principals[a->principal].n_policies, 1);
    assert_null(st_snapshot_cred(snap, "AKIAZ"));
    const struct st_snap_cluster *cl = st_snapshot_cluster(snap, carn);
    assert_non_null(cl);
    assert_non_null(cl->policy);
    assert_true(cl->vpc_iam);
    assert_false(cl->vpc_scram);
    struct st_snapshot *ref = st_snapshot_ref(snap);
    st_snapshot_unref(snap);
    assert_non_null(st_snapshot_principal(ref, user));
    st_snapshot_unref(ref);
    st_store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_model), cmocka_unit_test(test_captured_paths),
        cmocka_unit_test(test_route_errors),        cmocka_unit_test(test_query),
        cmocka_unit_test(test_page_tokens),         cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
