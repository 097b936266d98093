/*
 * Unit tests for the gateway's per-connection authorization (src/gateway/authz.c): partial
 * denial of a multi-topic Produce (strip + merge), whole-request answers, acks=0 drops,
 * request-level denials, the decision cache and its invalidation by a new auth context, and the
 * ApiVersions filter of authorizing endpoints. The provider is a fake that allows every topic not
 * starting with "deny" and counts its calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/internal.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

static int calls;

static int
f_authorize(void *ctx, const struct st_gw_authz_req *rq, struct st_gw_authz_res *out)
{
    calls++;
    bool deny = rq->name && rq->name_len >= 4 && memcmp(rq->name, "deny", 4) == 0;
    out->allowed = !deny;
    snprintf(out->action, sizeof(out->action), "kafka-cluster:WriteData");
    snprintf(out->resource, sizeof(out->resource), "%.*s", (int)rq->name_len,
             rq->name ? (const char *)rq->name : "");
    snprintf(out->reason, sizeof(out->reason), deny ? "denied by test" : "allowed by test");
    return 0;
}

static void
f_unref(void *ctx)
{
}

static const struct st_gw_auth_provider fake = {.ctx_unref = f_unref, .authorize = f_authorize};

struct rig {
    struct st_gw_cluster cluster;
    struct st_gw_endpoint ep;
    struct st_authz_env env;
    struct st_authz_conn *a;
    struct st_buf out;
};

static void
rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    st_gw_limits_default(&r->cluster.limits);
    r->cluster.auth.cluster_arn = "arn:aws:kafka:us-east-1:111122223333:cluster/c/u";
    r->cluster.auth.ops = &fake;
    r->cluster.auth.version = 1;
    snprintf(r->ep.address, sizeof(r->ep.address), "127.0.0.9");
    r->env = (struct st_authz_env){.cluster = &r->cluster,
                                   .ep = &r->ep,
                                   .port = 14001,
                                   .conn_id = 7,
                                   .peer = "127.0.0.1:5000",
                                   .peer_ip = "127.0.0.1",
                                   .tls = true};
    r->a = st_authz_conn_new("arn:aws:iam::444455556666:user/dev", true);
    assert_non_null(r->a);
    st_buf_init(&r->out, 0);
    calls = 0;
}

static void
rig_free(struct rig *r)
{
    st_authz_conn_free(r->a);
    st_buf_free(&r->out);
}

static void
put_str(struct st_buf *b, const char *s)
{
    assert_int_equal(st_buf_append_i16(b, (int16_t)strlen(s)), 0);
    assert_int_equal(st_buf_append(b, s, strlen(s)), 0);
}

/* Produce v3 body: no transactional id, `acks`, one partition (0, empty records) per topic. */
static void
produce_v3(struct st_buf *b, int16_t acks, const char *const *topics, size_t n)
{
    assert_int_equal(st_buf_append_i16(b, -1) | st_buf_append_i16(b, acks) |
                         st_buf_append_i32(b, 30000) | st_buf_append_i32(b, (int32_t)n),
                     0);
    for (size_t i = 0; i < n; i++) {
        put_str(b, topics[i]);
        assert_int_equal(
            st_buf_append_i32(b, 1) | st_buf_append_i32(b, 0) | st_buf_append_i32(b, 0), 0);
    }
}

/* Produce v3 response body for `topics`, partition 0 each, no error, offset 42. */
static void
produce_v3_response(struct st_buf *b, const char *const *topics, size_t n)
{
    assert_int_equal(st_buf_append_i32(b, (int32_t)n), 0);
    for (size_t i = 0; i < n; i++) {
        put_str(b, topics[i]);
        assert_int_equal(st_buf_append_i32(b, 1) | st_buf_append_i32(b, 0) |
                             st_buf_append_i16(b, 0) | st_buf_append_i64(b, 42) |
                             st_buf_append_i64(b, -1),
                         0);
    }
    assert_int_equal(st_buf_append_i32(b, 0), 0);
}

/* Topic name -> partition 0 error code of a Produce v3 response body, via the DOM. */
static int
produce_error_of(const uint8_t *body, size_t len, const char *topic)
{
    struct st_karena ar;
    st_karena_init(&ar, 0);
    struct st_kdoc d;
    const char *err = NULL;
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_PRODUCE, true);
    assert_int_equal(st_kdoc_decode(&ar, m, 3, body, len, &d, &err), 0);
    int rs = st_kstruct_find(d.root.st, "Responses");
    assert_true(rs >= 0);
    const struct st_kval *arr = &d.root.vals[rs];
    int found = -1000;
    for (uint32_t i = 0; i < arr->count; i++) {
        const struct st_kobj *t = &arr->objs[i];
        int ni = st_kstruct_find(t->st, "Name"), pi = st_kstruct_find(t->st, "PartitionResponses");
        if (t->vals[ni].n != strlen(topic) || memcmp(t->vals[ni].p, topic, t->vals[ni].n) != 0)
            continue;
        const struct st_kobj *p = &t->vals[pi].objs[0];
        found = (int)p->vals[st_kstruct_find(p->st, "ErrorCode")].i;
    }
    st_karena_free(&ar);
    return found;
}

static enum st_authz_verdict
run(struct rig *r, int16_t key, int16_t ver, const struct st_buf *body,
    struct st_authz_pending *pend)
{
    struct st_kreq_hdr h = {.api_key = key, .api_version = ver, .correlation_id = 1};
    const char *err = NULL;
    enum st_authz_verdict v = st_authz_request(r->a, &r->env, &h, st_buf_head(body),
                                               st_buf_used(body), &r->out, pend, &err);
    if (v == ST_AUTHZ_ERROR)
        fail_msg("authorization failed: %s", err);
    return v;
}

static void
test_partial_produce(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    static const char *const topics[] = {"orders", "deny-payments", "audit"};
    struct st_buf body = ST_BUF_INIT;
    produce_v3(&body, -1, topics, 3);
    struct st_authz_pending pend;
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &body, &pend), ST_AUTHZ_REWRITE);
    assert_int_equal(pend.n_denials, 1);
    assert_int_equal(calls, 3);
    /* The forwarded body is the request without deny-payments. */
    static const char *const kept[] = {"orders", "audit"};
    struct st_buf want = ST_BUF_INIT;
    produce_v3(&want, -1, kept, 2);
    assert_int_equal(st_buf_used(&r.out), st_buf_used(&want));
    assert_memory_equal(st_buf_head(&r.out), st_buf_head(&want), st_buf_used(&want));
    /* The broker's answer for the two gets the denied topic merged in. */
    struct st_buf up = ST_BUF_INIT, merged = ST_BUF_INIT;
    produce_v3_response(&up, kept, 2);
    bool changed = false;
    const char *err = NULL;
    assert_int_equal(st_authz_response(r.a, &r.env, ST_KAFKA_PRODUCE, 3, &pend, st_buf_head(&up),
                                       st_buf_used(&up), &merged, &changed, &err),
                     0);
    assert_true(changed);
    assert_int_equal(produce_error_of(st_buf_head(&merged), st_buf_used(&merged), "orders"), 0);
    assert_int_equal(produce_error_of(st_buf_head(&merged), st_buf_used(&merged), "audit"), 0);
    assert_int_equal(produce_error_of(st_buf_head(&merged), st_buf_used(&merged), "deny-payments"),
                     ST_KERR_TOPIC_AUTHORIZATION_FAILED);
    st_authz_pending_clear(&pend);
    /* Cached: the same request asks the provider nothing. */
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &body, &pend), ST_AUTHZ_REWRITE);
    assert_int_equal(calls, 3);
    st_authz_pending_clear(&pend);
    /* A new auth context (a published snapshot) drops the cache. */
    r.cluster.auth.version++;
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &body, &pend), ST_AUTHZ_REWRITE);
    assert_int_equal(calls, 6);
    st_authz_pending_clear(&pend);
    assert_int_equal(r.cluster.counters.authz_evaluations, 6);
    assert_int_equal(r.cluster.counters.requests_partial, 3);
    st_buf_free(&body);
    st_buf_free(&want);
    st_buf_free(&up);
    st_buf_free(&merged);
    rig_free(&r);
}

static void
test_all_allowed_forwards(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    static const char *const topics[] = {"orders", "audit"};
    struct st_buf body = ST_BUF_INIT;
    produce_v3(&body, -1, topics, 2);
    struct st_authz_pending pend;
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &body, &pend), ST_AUTHZ_FORWARD);
    assert_int_equal(pend.n_denials, 0);
    assert_null(pend.orig);
    st_buf_free(&body);
    rig_free(&r);
}

static void
test_all_denied_answered(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    static const char *const topics[] = {"deny-a", "deny-b"};
    struct st_buf body = ST_BUF_INIT;
    produce_v3(&body, -1, topics, 2);
    struct st_authz_pending pend;
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &body, &pend), ST_AUTHZ_ANSWER);
    assert_int_equal(produce_error_of(st_buf_head(&r.out), st_buf_used(&r.out), "deny-a"),
                     ST_KERR_TOPIC_AUTHORIZATION_FAILED);
    assert_int_equal(produce_error_of(st_buf_head(&r.out), st_buf_used(&r.out), "deny-b"),
                     ST_KERR_TOPIC_AUTHORIZATION_FAILED);
    /* acks=0: nothing to answer with, the request is dropped. */
    struct st_buf b0 = ST_BUF_INIT;
    produce_v3(&b0, 0, topics, 2);
    assert_int_equal(run(&r, ST_KAFKA_PRODUCE, 3, &b0, &pend), ST_AUTHZ_DROP);
    st_buf_free(&body);
    st_buf_free(&b0);
    rig_free(&r);
}

static void
test_group_denied(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    /* JoinGroup v0: GroupId, SessionTimeoutMs, MemberId, ProtocolType, Protocols[] */
    struct st_buf body = ST_BUF_INIT;
    put_str(&body, "deny-group");
    assert_int_equal(st_buf_append_i32(&body, 10000), 0);
    put_str(&body, "");
    put_str(&body, "consumer");
    assert_int_equal(st_buf_append_i32(&body, 0), 0);
    struct st_authz_pending pend;
    assert_int_equal(run(&r, 11, 0, &body, &pend), ST_AUTHZ_ANSWER);
    assert_true(st_buf_used(&r.out) >= 2);
    assert_int_equal(st_rd_i16(st_buf_head(&r.out)), ST_KERR_GROUP_AUTHORIZATION_FAILED);
    /* The same group allowed: forwarded. */
    st_buf_reset(&body);
    put_str(&body, "billing");
    assert_int_equal(st_buf_append_i32(&body, 10000), 0);
    put_str(&body, "");
    put_str(&body, "consumer");
    assert_int_equal(st_buf_append_i32(&body, 0), 0);
    assert_int_equal(run(&r, 11, 0, &body, &pend), ST_AUTHZ_FORWARD);
    st_buf_free(&body);
    rig_free(&r);
}

static void
test_apiversions_filter(void **state)
{
    (void)state;
    /* v0 body: Produce 0-7, ApiVersions 0-2, UnregisterBroker 0-0 (not authorizable), SASL. */
    static const int16_t keys[][3] = {{0, 0, 7}, {18, 0, 2}, {64, 0, 0}, {17, 0, 1}};
    struct st_buf in = ST_BUF_INIT, out = ST_BUF_INIT;
    assert_int_equal(st_buf_append_i16(&in, 0) | st_buf_append_i32(&in, 4), 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(st_buf_append_i16(&in, keys[i][0]) | st_buf_append_i16(&in, keys[i][1]) |
                             st_buf_append_i16(&in, keys[i][2]),
                         0);
    assert_int_equal(st_authz_patch_apiversions(0, st_buf_head(&in), st_buf_used(&in), &out), 0);
    const uint8_t *p = st_buf_head(&out);
    int32_t n = st_rd_i32(p + 2);
    bool seen[100] = {false};
    for (int32_t i = 0; i < n; i++)
        seen[st_rd_i16(p + 6 + 6 * i)] = true;
    assert_true(seen[0] && seen[18] && seen[17]);
    assert_false(seen[64]);
    assert_true(seen[29] && seen[30] && seen[31]); /* the ACL APIs strait answers itself */
    assert_int_equal(n, 6);
    /* Malformed: a count past the body. */
    st_buf_reset(&out);
    assert_int_equal(st_authz_patch_apiversions(0, st_buf_head(&in), 8, &out), -1);
    st_buf_free(&in);
    st_buf_free(&out);
}

/* DescribeCluster: the broker's ClusterAuthorizedOperations are replaced by the principal's. */
static void
test_authorized_operations(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_DESCRIBE_CLUSTER, true);
    struct st_karena ar;
    st_karena_init(&ar, 0);
    struct st_kdoc d;
    assert_int_equal(st_kdoc_synth(&ar, m, 0, 7, &d), 0);
    int fi = st_kstruct_find(d.root.st, "ClusterAuthorizedOperations");
    assert_true(fi >= 0);
    d.root.vals[fi].present = 1;
    d.root.vals[fi].i = 0x7fffffff; /* what a broker computes for its own super user */
    struct st_buf in = ST_BUF_INIT, out = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_kdoc_encode(&d, &in, &err), 0);
    struct st_authz_pending pend = {.ops_fix = true};
    bool changed = false;
    assert_int_equal(st_authz_response(r.a, &r.env, ST_KAFKA_DESCRIBE_CLUSTER, 0, &pend,
                                       st_buf_head(&in), st_buf_used(&in), &out, &changed, &err),
                     0);
    assert_true(changed);
    struct st_kdoc o;
    assert_int_equal(st_kdoc_decode(&ar, m, 0, st_buf_head(&out), st_buf_used(&out), &o, &err), 0);
    /* The fake allows everything without a "deny" name: CREATE, ALTER, DESCRIBE,
     * DESCRIBE_CONFIGS, ALTER_CONFIGS and IDEMPOTENT_WRITE, Kafka's cluster operations. */
    int32_t want = (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 5);
    assert_int_equal((int32_t)o.root.vals[fi].i, want);
    /* Recomputed only when the request asks for them (DescribeCluster v0 body: the flag, no
     * tags). */
    for (int ask = 0; ask < 2; ask++) {
        struct st_buf rq = ST_BUF_INIT;
        assert_int_equal(st_buf_append_u8(&rq, (uint8_t)ask) | st_buf_append_u8(&rq, 0), 0);
        struct st_authz_pending p2;
        enum st_authz_verdict v = run(&r, ST_KAFKA_DESCRIBE_CLUSTER, 0, &rq, &p2);
        assert_int_equal(p2.ops_fix, ask == 1);
        assert_int_equal(v, ask ? ST_AUTHZ_FORWARD_FILTER : ST_AUTHZ_FORWARD);
        st_buf_free(&rq);
    }
    /* Not asked for (INT32_MIN): left alone. */
    d.root.vals[fi].i = INT32_MIN;
    st_buf_reset(&in);
    st_buf_reset(&out);
    assert_int_equal(st_kdoc_encode(&d, &in, &err), 0);
    assert_int_equal(st_authz_response(r.a, &r.env, ST_KAFKA_DESCRIBE_CLUSTER, 0, &pend,
                                       st_buf_head(&in), st_buf_used(&in), &out, &changed, &err),
                     0);
    assert_false(changed);
    st_buf_free(&in);
    st_buf_free(&out);
    st_karena_free(&ar);
    rig_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_produce),     cmocka_unit_test(test_all_allowed_forwards),
        cmocka_unit_test(test_all_denied_answered), cmocka_unit_test(test_group_denied),
        cmocka_unit_test(test_apiversions_filter),  cmocka_unit_test(test_authorized_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
