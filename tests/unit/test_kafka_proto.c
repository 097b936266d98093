/*
 * Unit tests of the gateway-facing codec API (src/kafka/proto.h, frame.h): headers, the supported
 * table, acks, frame checks, and response rewriting for every version of Metadata, DescribeCluster,
 * FindCoordinator, Produce/Fetch NodeEndpoints, ShareFetch/ShareAcknowledge and ApiVersions.
 *
 * Rewrite tests build a response from the schema (synthesized filler, explicit brokers with hosts
 * of different lengths, null racks and unknown tags), compute the expected bytes by editing the
 * same DOM independently, and compare byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/frame.h"
#include "kafka/proto.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

/* ---- rewrite callbacks ---- */

struct cbstate {
    char log[256];    /* "O1 O2 M1 ..." */
    int fail_observe; /* node id whose observe fails, or -1000 */
    int nobs_auth;    /* observe calls with authoritative = true */
};

static void
logf_(struct cbstate *s, char c, int32_t id)
{
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, "%c%d ", c, id);
}

static int
observe_cb(void *arg, const struct st_kbroker *b, bool authoritative)
{
    struct cbstate *s = arg;
    logf_(s, 'O', b->node_id);
    if (authoritative)
        s->nobs_auth++;
    return b->node_id == s->fail_observe ? -1 : 0;
}

static const char host1[] = "gw-a.vpc-endpoint.example.com";
static const char host2[] = "x";

static int
map_cb(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    struct cbstate *s = arg;
    logf_(s, 'M', node_id);
    if (node_id == 1) {
        *host = host1;
        *host_len = strlen(host1);
        *port = 14001;
        return 0;
    }
    if (node_id == 2) {
        *host = host2;
        *host_len = 1;
        *port = 14002;
        return 0;
    }
    return -1;
}

/* ---- DOM helpers ---- */

static const uint8_t unk_raw[] = {'z', 'z'};

static void
set_str(struct st_kval *v, const char *s)
{
    v->present = 1;
    v->is_null = s == NULL;
    v->p = (const uint8_t *)s;
    v->n = s ? strlen(s) : 0;
}

/* Fills a broker-like struct instance with all fields of the version present (zero values). */
static void
set_broker(struct st_karena *a, struct st_kobj *o, const struct st_kstruct *st, int16_t ver,
           bool flex, int32_t id, const char *host, int32_t port, const char *rack, bool unk)
{
    memset(o, 0, sizeof(*o));
    o->st = st;
    o->vals = st_karena_alloc(a, st->nfields * sizeof(*o->vals));
    for (int i = 0; i < st->nfields; i++)
        if (st_kfield_in(&st->fields[i], ver) && !st_kfield_tagged(&st->fields[i], ver))
            o->vals[i].present = 1;
    int fi = st_kstruct_find(st, "NodeId");
    if (fi < 0)
        fi = st_kstruct_find(st, "BrokerId");
    o->vals[fi].i = id;
    set_str(&o->vals[st_kstruct_find(st, "Host")], host);
    o->vals[st_kstruct_find(st, "Port")].i = port;
    int ri = st_kstruct_find(st, "Rack");
    if (ri >= 0 && st_kfield_in(&st->fields[ri], ver))
        set_str(&o->vals[ri], rack);
    if (flex && unk) {
        o->tags = st_karena_alloc(a, sizeof(*o->tags));
        o->tags[0] = (struct st_ktagged){77, -1, unk_raw, sizeof(unk_raw)};
        o->ntags = 1;
    }
}

static struct st_kval *
root_field(struct st_kdoc *d, const char *name, const struct st_kfield **f)
{
    int i = st_kstruct_find(d->root.st, name);
    assert_true(i >= 0);
    if (f)
        *f = &d->root.st->fields[i];
    return &d->root.vals[i];
}

/* Three brokers: 1 (long host), 2 (rack null), 3 (unmapped). */
static void
set_three(struct st_karena *a, struct st_kval *arr, const struct st_kfield *f, int16_t ver,
          bool flex)
{
    arr->present = 1;
    arr->is_null = 0;
    arr->count = 3;
    arr->objs = st_karena_alloc(a, 3 * sizeof(*arr->objs));
    set_broker(a, &arr->objs[0], f->sub, ver, flex, 1, "b-1.upstream.internal", 9092, "rack-a",
               false);
    set_broker(a, &arr->objs[1], f->sub, ver, flex, 2, "b-2.upstream.internal.long.name", 9093,
               NULL, true);
    set_broker(a, &arr->objs[2], f->sub, ver, flex, 3, "b3", 9094, "r", false);
}

/* Applies the expected mapping to the same array: 1 and 2 mapped, 3 dropped. */
static void
expect_three(struct st_kval *arr, const struct st_kfield *f)
{
    const struct st_kstruct *st = f->sub;
    int h = st_kstruct_find(st, "Host"), p = st_kstruct_find(st, "Port");
    set_str(&arr->objs[0].vals[h], host1);
    arr->objs[0].vals[p].i = 14001;
    set_str(&arr->objs[1].vals[h], host2);
    arr->objs[1].vals[p].i = 14002;
    arr->count = 2;
}

static uint8_t *
encode_doc(const struct st_kdoc *d, size_t *len)
{
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kdoc_encode(d, &b, &err) != 0)
        fail_msg("encode: %s", err);
    *len = st_buf_used(&b);
    uint8_t *p = malloc(*len ? *len : 1);
    if (*len)
        memcpy(p, st_buf_head(&b), *len);
    st_buf_free(&b);
    return p;
}

/* Runs the rewrite and compares with `exp` (NULL: expect UNCHANGED). */
static void
check_rewrite(int16_t key, int16_t ver, const uint8_t *in, size_t in_len, const uint8_t *exp,
              size_t exp_len, struct cbstate *s)
{
    struct st_krewrite_ops ops = {s, observe_cb, map_cb};
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    enum st_krw_result r = st_kafka_response_rewrite(key, ver, in, in_len, &ops, &out, &err);
    if (r == ST_KRW_ERROR)
        fail_msg("%s v%d: rewrite error: %s", st_kafka_api_name(key), ver, err);
    if (!exp) {
        assert_int_equal(r, ST_KRW_UNCHANGED);
        assert_int_equal(st_buf_used(&out), 0);
    } else {
        if (r != ST_KRW_REWRITTEN)
            fail_msg("%s v%d: not rewritten", st_kafka_api_name(key), ver);
        if (st_buf_used(&out) != exp_len || memcmp(st_buf_head(&out), exp, exp_len) != 0)
            fail_msg("%s v%d: rewritten bytes differ (%zu vs %zu)", st_kafka_api_name(key), ver,
                     st_buf_used(&out), exp_len);
    }
    /* Every truncation of the input is an error, never a crash. */
    for (size_t cut = 0; cut < in_len; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, in, cut);
        struct st_buf o2 = ST_BUF_INIT;
        struct cbstate s2 = {.fail_observe = -1000};
        struct st_krewrite_ops ops2 = {&s2, observe_cb, map_cb};
        enum st_krw_result r2 = st_kafka_response_rewrite(key, ver, t, cut, &ops2, &o2, &err);
        if (key == ST_KAFKA_API_VERSIONS && cut >= 2 &&
            st_rd_i16(in) == ST_KERR_UNSUPPORTED_VERSION) {
            /* An unparsable UNSUPPORTED_VERSION body becomes strait's v0 fallback body. */
            const uint8_t fb[] = {0, 35, 0, 0, 0, 1,
                                  0, 18, 0, 0, 0, (uint8_t)(ver > 0 ? ver - 1 : 0)};
            assert_int_equal(r2, ST_KRW_REWRITTEN);
            assert_int_equal(st_buf_used(&o2), sizeof(fb));
            assert_memory_equal(st_buf_head(&o2), fb, sizeof(fb));
        } else {
            assert_int_equal(r2, ST_KRW_ERROR);
        }
        st_buf_free(&o2);
        free(t);
    }
    st_buf_free(&out);
}

/* Broker-list responses: Metadata, DescribeCluster, ShareFetch, ShareAcknowledge. */
static void
run_list(int16_t key, const char *field, bool authoritative)
{
    const struct st_kmsg *m = st_kschema_msg(key, true);
    for (int16_t ver = m->v_min; ver <= m->v_max; ver++) {
        for (uint32_t seed = 1; seed <= 3; seed++) {
            struct st_karena a;
            st_karena_init(&a, 0);
            struct st_kdoc d;
            assert_int_equal(st_kdoc_synth(&a, m, ver, seed + 100u * (uint32_t)ver, &d), 0);
            const struct st_kfield *f;
            struct st_kval *arr = root_field(&d, field, &f);
            set_three(&a, arr, f, ver, d.flex);
            /* ControllerId must name a listed broker: seed 1 names broker 3, which is dropped. */
            int ci = st_kstruct_find(d.root.st, "ControllerId");
            bool has_ctrl = ci >= 0 && st_kfield_in(&d.root.st->fields[ci], ver) &&
                            !st_kfield_tagged(&d.root.st->fields[ci], ver);
            if (has_ctrl && seed == 1)
                d.root.vals[ci].i = 3;
            size_t in_len, exp_len;
            uint8_t *in = encode_doc(&d, &in_len);
            expect_three(arr, f);
            if (has_ctrl && d.root.vals[ci].i != 1 && d.root.vals[ci].i != 2)
                d.root.vals[ci].i = 1;
            uint8_t *exp = encode_doc(&d, &exp_len);
            struct cbstate s = {.fail_observe = -1000};
            check_rewrite(key, ver, in, in_len, exp, exp_len, &s);
            assert_string_equal(s.log, "O1 O2 O3 M1 M2 M3 ");
            assert_int_equal(s.nobs_auth, authoritative ? 3 : 0);
            /* A failing observer fails the rewrite. */
            struct cbstate s3 = {.fail_observe = 2};
            struct st_krewrite_ops ops = {&s3, observe_cb, map_cb};
            struct st_buf out = ST_BUF_INIT;
            const char *err;
            assert_int_equal(st_kafka_response_rewrite(key, ver, in, in_len, &ops, &out, &err),
                             ST_KRW_ERROR);
            st_buf_free(&out);
            free(in);
            free(exp);
            st_karena_free(&a);
        }
    }
}

static void
test_rewrite_metadata(void **state)
{
    (void)state;
    run_list(ST_KAFKA_METADATA, "Brokers", true);
}

static void
test_rewrite_describe_cluster(void **state)
{
    (void)state;
    run_list(ST_KAFKA_DESCRIBE_CLUSTER, "Brokers", true);
}

static void
test_rewrite_share(void **state)
{
    (void)state;
    run_list(ST_KAFKA_SHARE_FETCH, "NodeEndpoints", false);
    run_list(ST_KAFKA_SHARE_ACKNOWLEDGE, "NodeEndpoints", false);
}

/* Produce v10+ / Fetch v16+: NodeEndpoints in top-level tag 0. */
static void
run_tagged(int16_t key, int16_t from)
{
    const struct st_kmsg *m = st_kschema_msg(key, true);
    static const uint8_t raw95[] = {1, 2, 3};
    for (int16_t ver = from; ver <= m->v_max; ver++) {
        for (uint32_t seed = 1; seed <= 3; seed++) {
            for (int present = 0; present < 2; present++) {
                struct st_karena a;
                st_karena_init(&a, 0);
                struct st_kdoc d;
                assert_int_equal(st_kdoc_synth(&a, m, ver, seed * 13u + (uint32_t)ver, &d), 0);
                const struct st_kfield *f;
                struct st_kval *arr = root_field(&d, "NodeEndpoints", &f);
                int fi = st_kstruct_find(d.root.st, "NodeEndpoints");
                memset(arr, 0, sizeof(*arr));
                d.root.tags = st_karena_alloc(&a, 2 * sizeof(*d.root.tags));
                d.root.ntags = 0;
                if (present) {
                    set_three(&a, arr, f, ver, true);
                    d.root.tags[d.root.ntags++] = (struct st_ktagged){0, fi, NULL, 0};
                }
                d.root.tags[d.root.ntags++] = (struct st_ktagged){95, -1, raw95, sizeof(raw95)};
                size_t in_len, exp_len = 0;
                uint8_t *in = encode_doc(&d, &in_len);
                uint8_t *exp = NULL;
                if (present) {
                    expect_three(arr, f);
                    exp = encode_doc(&d, &exp_len);
                }
                struct cbstate s = {.fail_observe = -1000};
                check_rewrite(key, ver, in, in_len, exp, exp_len, &s);
                assert_string_equal(s.log, present ? "O1 O2 O3 M1 M2 M3 " : "");
                free(in);
                free(exp);
                st_karena_free(&a);
            }
        }
    }
    /* Versions before NodeEndpoints need no rewrite. */
    assert_false(st_kafka_response_needs_rewrite(key, (int16_t)(from - 1)));
    assert_true(st_kafka_response_needs_rewrite(key, from));
}

static void
test_rewrite_produce_fetch(void **state)
{
    (void)state;
    run_tagged(ST_KAFKA_PRODUCE, 10);
    run_tagged(ST_KAFKA_FETCH, 16);
}

static void
test_rewrite_find_coordinator(void **state)
{
    (void)state;
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_FIND_COORDINATOR, true);
    for (int16_t ver = m->v_min; ver <= m->v_max; ver++) {
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        assert_int_equal(st_kdoc_synth(&a, m, ver, 42u + (uint32_t)ver, &d), 0);
        size_t in_len, exp_len;
        struct cbstate s = {.fail_observe = -1000};
        if (ver < 4) {
            /* Mapped node. */
            root_field(&d, "NodeId", NULL)->i = 1;
            set_str(root_field(&d, "Host", NULL), "b-1.upstream");
            root_field(&d, "Port", NULL)->i = 9092;
            root_field(&d, "ErrorCode", NULL)->i = 0;
            uint8_t *in = encode_doc(&d, &in_len);
            set_str(root_field(&d, "Host", NULL), host1);
            root_field(&d, "Port", NULL)->i = 14001;
            uint8_t *exp = encode_doc(&d, &exp_len);
            check_rewrite(ST_KAFKA_FIND_COORDINATOR, ver, in, in_len, exp, exp_len, &s);
            assert_string_equal(s.log, "O1 M1 ");
            free(in);
            free(exp);
            /* Unmapped node: host emptied, port -1, NodeId -1, COORDINATOR_NOT_AVAILABLE. */
            root_field(&d, "NodeId", NULL)->i = 7;
            set_str(root_field(&d, "Host", NULL), "b-7.upstream");
            in = encode_doc(&d, &in_len);
            root_field(&d, "NodeId", NULL)->i = -1;
            set_str(root_field(&d, "Host", NULL), "");
            root_field(&d, "Port", NULL)->i = -1;
            root_field(&d, "ErrorCode", NULL)->i = ST_KERR_COORDINATOR_NOT_AVAILABLE;
            exp = encode_doc(&d, &exp_len);
            memset(s.log, 0, sizeof(s.log));
            check_rewrite(ST_KAFKA_FIND_COORDINATOR, ver, in, in_len, exp, exp_len, &s);
            free(in);
            free(exp);
            /* NodeId -1 (error response): unchanged, no callbacks. */
            root_field(&d, "ErrorCode", NULL)->i = 15;
            in = encode_doc(&d, &in_len);
            memset(s.log, 0, sizeof(s.log));
            check_rewrite(ST_KAFKA_FIND_COORDINATOR, ver, in, in_len, NULL, 0, &s);
            assert_string_equal(s.log, "");
            free(in);
        } else {
            const struct st_kfield *f;
            struct st_kval *arr = root_field(&d, "Coordinators", &f);
            const struct st_kstruct *st = f->sub;
            arr->present = 1;
            arr->count = 3;
            arr->objs = st_karena_alloc(&a, 3 * sizeof(*arr->objs));
            set_broker(&a, &arr->objs[0], st, ver, true, 2, "b-2.up", 9092, NULL, true);
            set_broker(&a, &arr->objs[1], st, ver, true, 5, "b-5.up", 9092, NULL, false);
            set_broker(&a, &arr->objs[2], st, ver, true, -1, "", -1, NULL, false);
            int k = st_kstruct_find(st, "Key"), e = st_kstruct_find(st, "ErrorCode");
            set_str(&arr->objs[0].vals[k], "group-a");
            set_str(&arr->objs[1].vals[k], "txn-b");
            set_str(&arr->objs[2].vals[k], "group-c");
            arr->objs[2].vals[e].i = 15;
            uint8_t *in = encode_doc(&d, &in_len);
            int h = st_kstruct_find(st, "Host"), p = st_kstruct_find(st, "Port"),
                n = st_kstruct_find(st, "NodeId");
            set_str(&arr->objs[0].vals[h], host2);
            arr->objs[0].vals[p].i = 14002;
            set_str(&arr->objs[1].vals[h], "");
            arr->objs[1].vals[p].i = -1;
            arr->objs[1].vals[n].i = -1;
            arr->objs[1].vals[e].i = ST_KERR_COORDINATOR_NOT_AVAILABLE;
            uint8_t *exp = encode_doc(&d, &exp_len);
            check_rewrite(ST_KAFKA_FIND_COORDINATOR, ver, in, in_len, exp, exp_len, &s);
            assert_string_equal(s.log, "O2 O5 M2 M5 ");
            free(in);
            free(exp);
        }
        st_karena_free(&a);
    }
}

/* ---- ApiVersions ---- */

static void
set_key(struct st_karena *a, struct st_kobj *o, const struct st_kstruct *st, int16_t ver,
        int16_t key, int16_t lo, int16_t hi)
{
    memset(o, 0, sizeof(*o));
    o->st = st;
    o->vals = st_karena_alloc(a, st->nfields * sizeof(*o->vals));
    for (int i = 0; i < st->nfields; i++)
        o->vals[i].present = st_kfield_in(&st->fields[i], ver);
    o->vals[st_kstruct_find(st, "ApiKey")].i = key;
    o->vals[st_kstruct_find(st, "MinVersion")].i = lo;
    o->vals[st_kstruct_find(st, "MaxVersion")].i = hi;
}

static void
test_apiversions_filter(void **state)
{
    (void)state;
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_API_VERSIONS, true);
    for (int16_t ver = 0; ver <= m->v_max; ver++) {
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        assert_int_equal(st_kdoc_synth(&a, m, ver, 9u + (uint32_t)ver, &d), 0);
        const struct st_kfield *f;
        struct st_kval *arr = root_field(&d, "ApiKeys", &f);
        root_field(&d, "ErrorCode", NULL)->i = 0;
        arr->present = 1;
        arr->count = 7;
        arr->objs = st_karena_alloc(&a, 7 * sizeof(*arr->objs));
        set_key(&a, &arr->objs[0], f->sub, ver, 0, 0, 20);   /* Produce: clamp max */
        set_key(&a, &arr->objs[1], f->sub, ver, 4, 0, 7);    /* LeaderAndIsr: removed */
        set_key(&a, &arr->objs[2], f->sub, ver, 24, 0, 5);   /* AddPartitionsToTxn: 0-3 */
        set_key(&a, &arr->objs[3], f->sub, ver, 55, 0, 2);   /* DescribeQuorum: removed */
        set_key(&a, &arr->objs[4], f->sub, ver, 18, 0, 9);   /* ApiVersions: 0-4 */
        set_key(&a, &arr->objs[5], f->sub, ver, 1000, 0, 1); /* unknown: removed */
        set_key(&a, &arr->objs[6], f->sub, ver, 3, 1, 12);   /* Metadata: unchanged */
        size_t in_len, exp_len;
        uint8_t *in = encode_doc(&d, &in_len);
        int mx = st_kstruct_find(f->sub, "MaxVersion");
        arr->objs[0].vals[mx].i = 13;
        arr->objs[2].vals[mx].i = 3;
        arr->objs[4].vals[mx].i = 4;
        struct st_kobj keep[4] = {arr->objs[0], arr->objs[2], arr->objs[4], arr->objs[6]};
        memcpy(arr->objs, keep, sizeof(keep));
        arr->count = 4;
        uint8_t *exp = encode_doc(&d, &exp_len);
        struct cbstate s = {.fail_observe = -1000};
        check_rewrite(ST_KAFKA_API_VERSIONS, ver, in, in_len, exp, exp_len, &s);
        free(in);
        free(exp);
        st_karena_free(&a);
    }
}

/* A broker answering a too-new ApiVersions request replies in the v0 format with error 35. */
static void
test_apiversions_v0_error_body(void **state)
{
    (void)state;
    const uint8_t in[] = {0, 35, 0, 0, 0, 3, 0, 0, 0, 0, 0, 20, /* Produce 0-20 */
                          0, 4,  0, 0, 0, 7,                    /* LeaderAndIsr */
                          0, 3,  0, 0, 0, 12};                  /* Metadata 0-12 */
    const uint8_t exp[] = {0, 35, 0, 0, 0, 2, 0, 0, 0, 0, 0, 13, 0, 3, 0, 0, 0, 12};
    struct cbstate s = {.fail_observe = -1000};
    check_rewrite(ST_KAFKA_API_VERSIONS, 4, in, sizeof(in), exp, sizeof(exp), &s);
    /* Already within the table: unchanged. */
    check_rewrite(ST_KAFKA_API_VERSIONS, 4, exp, sizeof(exp), NULL, 0, &s);
}

static void
test_build_apiversions_error(void **state)
{
    (void)state;
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_kafka_build_apiversions_error(&b, 77, ST_KERR_UNSUPPORTED_VERSION), 0);
    const uint8_t *p = st_buf_head(&b);
    assert_int_equal(st_rd_i32(p), (int32_t)st_buf_used(&b) - 4);
    assert_int_equal(st_rd_i32(p + 4), 77);
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_API_VERSIONS, true);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d;
    const char *err;
    assert_int_equal(st_kdoc_decode(&a, m, 0, p + 8, st_buf_used(&b) - 8, &d, &err), 0);
    assert_null(d.trailing);
    assert_int_equal(root_field(&d, "ErrorCode", NULL)->i, 35);
    struct st_kval *keys = root_field(&d, "ApiKeys", NULL);
    assert_true(keys->count > 40);
    bool saw_meta = false;
    for (uint32_t i = 0; i < keys->count; i++) {
        int16_t k = (int16_t)st_kobj_get(&keys->objs[i], "ApiKey")->i;
        assert_true(
            st_kafka_request_supported(k, (int16_t)st_kobj_get(&keys->objs[i], "MaxVersion")->i));
        if (k == 3)
            saw_meta = st_kobj_get(&keys->objs[i], "MaxVersion")->i == 13;
    }
    assert_true(saw_meta);
    /* Filtering strait's own answer changes nothing. */
    struct cbstate s = {.fail_observe = -1000};
    check_rewrite(ST_KAFKA_API_VERSIONS, 0, p + 8, st_buf_used(&b) - 8, NULL, 0, &s);
    st_karena_free(&a);
    st_buf_free(&b);
}

/* ---- headers, table, acks, frames ---- */

static void
test_req_hdr(void **state)
{
    (void)state;
    struct st_kreq_hdr h;
    const char *err;
    /* Metadata v1, client id "ab". */
    const uint8_t v1[] = {0, 3, 0, 1, 0, 0, 0, 9, 0, 2, 'a', 'b', 0xff};
    assert_int_equal(st_kafka_req_hdr_parse(v1, sizeof(v1), &h, &err), 0);
    assert_int_equal(h.api_key, 3);
    assert_int_equal(h.api_version, 1);
    assert_int_equal(h.correlation_id, 9);
    assert_int_equal(h.hdr_version, 1);
    assert_int_equal(h.client_id_len, 2);
    assert_memory_equal(h.client_id, "ab", 2);
    assert_int_equal(h.hdr_len, 12);
    /* Metadata v12 (flexible): header v2 with one tagged field. */
    const uint8_t v2[] = {0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 1, 5, 2, 'x', 'y', 0x77};
    assert_int_equal(st_kafka_req_hdr_parse(v2, sizeof(v2), &h, &err), 0);
    assert_int_equal(h.hdr_version, 2);
    assert_null(h.client_id);
    assert_int_equal(h.hdr_len, 15);
    for (size_t cut = 0; cut < 15; cut++)
        assert_int_equal(st_kafka_req_hdr_parse(v2, cut, &h, &err), -1);
    for (size_t cut = 0; cut < 12; cut++)
        assert_int_equal(st_kafka_req_hdr_parse(v1, cut, &h, &err), -1);
    /* ApiVersions v3+ requests use header v2. */
    const uint8_t av[] = {0, 18, 0, 3, 0, 0, 0, 1, 0, 0, 0};
    assert_int_equal(st_kafka_req_hdr_parse(av, sizeof(av), &h, &err), 0);
    assert_int_equal(h.hdr_version, 2);
    /* Unknown key: parsed as v1, refused by the table. */
    const uint8_t unk[] = {0x30, 0x39, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(st_kafka_req_hdr_parse(unk, sizeof(unk), &h, &err), 0);
    assert_int_equal(h.hdr_version, 1);
    assert_false(st_kafka_request_supported(h.api_key, h.api_version));
    /* Negative client id length. */
    const uint8_t bad[] = {0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xfe};
    assert_int_equal(st_kafka_req_hdr_parse(bad, sizeof(bad), &h, &err), -1);
}

static void
test_resp_hdr(void **state)
{
    (void)state;
    assert_int_equal(st_kafka_resp_hdr_version(ST_KAFKA_API_VERSIONS, 3), 0);
    assert_int_equal(st_kafka_resp_hdr_version(ST_KAFKA_METADATA, 9), 1);
    assert_int_equal(st_kafka_resp_hdr_version(ST_KAFKA_METADATA, 8), 0);
    assert_int_equal(st_kafka_resp_hdr_version(ST_KAFKA_DESCRIBE_CLUSTER, 0), 1);
    size_t hl;
    const char *err;
    const uint8_t f[] = {0, 0, 0, 5, 1, 3, 1, 0xaa, 0xbb};
    assert_int_equal(st_kafka_resp_hdr_len(ST_KAFKA_METADATA, 9, f, sizeof(f), &hl, &err), 0);
    assert_int_equal(hl, 8);
    assert_int_equal(st_kafka_resp_hdr_len(ST_KAFKA_METADATA, 8, f, sizeof(f), &hl, &err), 0);
    assert_int_equal(hl, 4);
    assert_int_equal(st_kafka_resp_hdr_len(ST_KAFKA_METADATA, 9, f, 7, &hl, &err), -1);
    assert_int_equal(st_kafka_resp_hdr_len(ST_KAFKA_METADATA, 9, f, 3, &hl, &err), -1);
}

static void
test_supported_table(void **state)
{
    (void)state;
    int16_t lo, hi;
    assert_true(st_kafka_supported_range(ST_KAFKA_PRODUCE, &lo, &hi));
    assert_int_equal(hi, 13);
    assert_true(st_kafka_supported_range(ST_KAFKA_FETCH, &lo, &hi));
    assert_int_equal(hi, 17); /* v18 parses (schema) but is not advertised */
    assert_true(st_kafka_supported_range(ST_KAFKA_METADATA, &lo, &hi));
    assert_int_equal(hi, 13);
    assert_true(st_kafka_supported_range(ST_KAFKA_API_VERSIONS, &lo, &hi));
    assert_int_equal(lo, 0);
    assert_int_equal(hi, 4);
    assert_true(st_kafka_supported_range(24, &lo, &hi));
    assert_int_equal(hi, 3);
    assert_false(st_kafka_request_supported(24, 4));
    assert_true(st_kafka_request_supported(24, 3));
    assert_true(st_kafka_supported_range(ST_KAFKA_DESCRIBE_CLUSTER, &lo, &hi));
    assert_int_equal(hi, 2);
    assert_true(st_kafka_supported_range(ST_KAFKA_SHARE_FETCH, &lo, &hi));
    assert_int_equal(hi, 2);
    /* Never: inter-broker, controller, DescribeQuorum, delegation tokens, unknown. */
    static const int16_t never[] = {4,  5,  6,  7,  38, 39, 40, 41, 52, 53, 54, 55, 56, 58, 59,
                                    62, 63, 67, 70, 73, 80, 81, 82, 83, 84, 85, 86, 87, -1, 999};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        assert_false(st_kafka_supported_range(never[i], NULL, NULL));
        assert_false(st_kafka_request_supported(never[i], 0));
    }
    assert_false(st_kafka_request_supported(ST_KAFKA_METADATA, 14));
    assert_false(st_kafka_request_supported(ST_KAFKA_METADATA, -1));
    assert_string_equal(st_kafka_api_name(3), "Metadata");
    assert_string_equal(st_kafka_api_name(0), "Produce");
    assert_null(st_kafka_api_name(999));
    assert_null(st_kafka_api_name(-3));
}

static void
test_produce_acks(void **state)
{
    (void)state;
    int16_t acks;
    const char *err;
    const uint8_t v0[] = {0xff, 0xff, 0, 0, 0x75, 0x30};
    assert_int_equal(st_kafka_produce_acks(0, v0, sizeof(v0), &acks, &err), 0);
    assert_int_equal(acks, -1);
    const uint8_t v3[] = {0, 3, 't', 'x', 'n', 0, 0};
    assert_int_equal(st_kafka_produce_acks(3, v3, sizeof(v3), &acks, &err), 0);
    assert_int_equal(acks, 0);
    const uint8_t v3null[] = {0xff, 0xff, 0, 1};
    assert_int_equal(st_kafka_produce_acks(7, v3null, sizeof(v3null), &acks, &err), 0);
    assert_int_equal(acks, 1);
    const uint8_t v9[] = {4, 't', 'x', 'n', 0, 0};
    assert_int_equal(st_kafka_produce_acks(9, v9, sizeof(v9), &acks, &err), 0);
    assert_int_equal(acks, 0);
    const uint8_t v9null[] = {0, 0xff, 0xff};
    assert_int_equal(st_kafka_produce_acks(11, v9null, sizeof(v9null), &acks, &err), 0);
    assert_int_equal(acks, -1);
    for (size_t cut = 0; cut < sizeof(v3); cut++)
        assert_int_equal(st_kafka_produce_acks(3, v3, cut, &acks, &err), -1);
    for (size_t cut = 0; cut < sizeof(v9); cut++)
        assert_int_equal(st_kafka_produce_acks(9, v9, cut, &acks, &err), -1);
    const uint8_t bad[] = {0xff, 0xfe, 0, 0};
    assert_int_equal(st_kafka_produce_acks(3, bad, sizeof(bad), &acks, &err), -1);
}

static void
test_frame_check(void **state)
{
    (void)state;
    uint32_t n;
    const char *err;
    const uint8_t ok[] = {0, 0, 0x10, 0};
    assert_int_equal(st_kafka_frame_check(ok, false, NULL, &n, &err), 0);
    assert_int_equal(n, 4096);
    const uint8_t big[] = {0, 0x10, 0, 0}; /* 1 MiB */
    assert_int_equal(st_kafka_frame_check(big, false, NULL, &n, &err), -1);
    assert_int_equal(st_kafka_frame_check(big, true, NULL, &n, &err), 0);
    struct st_kframe_limits lim = {.max_preauth = 2 << 20, .max_postauth = 1000};
    assert_int_equal(st_kafka_frame_check(big, false, &lim, &n, &err), 0);
    assert_int_equal(st_kafka_frame_check(big, true, &lim, &n, &err), -1);
    const uint8_t neg[] = {0x80, 0, 0, 0};
    assert_int_equal(st_kafka_frame_check(neg, true, NULL, &n, &err), -1);
    const uint8_t tiny[] = {0, 0, 0, 3};
    assert_int_equal(st_kafka_frame_check(tiny, true, NULL, &n, &err), -1);
    const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02};
    assert_int_equal(st_kafka_frame_check(tls, false, NULL, &n, &err), -1);
    assert_non_null(strstr(err, "TLS"));
    assert_int_equal(st_kafka_frame_check((const uint8_t *)"GET ", false, NULL, &n, &err), -1);
    assert_non_null(strstr(err, "HTTP"));
}

/* A self-built error response: header v1 for flexible versions, body from the DOM. */
static void
test_resp_frame_builder(void **state)
{
    (void)state;
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_buf_append(&b, "pq", 2), 0);
    st_buf_consume(&b, 1);
    size_t mark;
    assert_int_equal(st_kafka_resp_frame_begin(&b, ST_KAFKA_DESCRIBE_CLUSTER, 1, 99, &mark), 0);
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_DESCRIBE_CLUSTER, true);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d = {.msg = m, .ver = 1, .flex = true};
    d.root.st = m->root;
    d.root.vals = st_karena_alloc(&a, m->root->nfields * sizeof(*d.root.vals));
    st_kobj_get(&d.root, "ErrorCode")->i = ST_KERR_CLUSTER_AUTHORIZATION_FAILED;
    st_kobj_get(&d.root, "ErrorMessage")->is_null = 1;
    const char *err;
    assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
    st_kafka_frame_finish(&b, mark);
    const uint8_t *p = st_buf_head(&b) + 1;
    size_t len = st_buf_used(&b) - 1;
    assert_int_equal(st_rd_i32(p), (int32_t)len - 4);
    assert_int_equal(st_rd_i32(p + 4), 99);
    size_t hl;
    assert_int_equal(st_kafka_resp_hdr_len(60, 1, p + 4, len - 4, &hl, &err), 0);
    assert_int_equal(hl, 5);
    struct st_kdoc d2;
    assert_int_equal(st_kdoc_decode(&a, m, 1, p + 4 + hl, len - 4 - hl, &d2, &err), 0);
    assert_int_equal(st_kobj_get(&d2.root, "ErrorCode")->i, 31);
    /* ApiVersions: header v0 even for v3. */
    st_buf_reset(&b);
    assert_int_equal(st_kafka_resp_frame_begin(&b, ST_KAFKA_API_VERSIONS, 3, 1, &mark), 0);
    st_kafka_frame_finish(&b, mark);
    assert_int_equal(st_buf_used(&b), 8);
    assert_int_equal(st_rd_i32(st_buf_head(&b)), 4);
    st_karena_free(&a);
    st_buf_free(&b);
}

static void
test_describe_cluster_check(void **state)
{
    (void)state;
    const char *err;
    const uint8_t v0[] = {1, 0};
    assert_int_equal(st_kafka_describe_cluster_check(0, v0, sizeof(v0), &err), 0);
    const uint8_t brokers[] = {0, 1, 0};
    assert_int_equal(st_kafka_describe_cluster_check(1, brokers, sizeof(brokers), &err), 0);
    const uint8_t ctl[] = {0, 2, 0};
    assert_int_equal(st_kafka_describe_cluster_check(1, ctl, sizeof(ctl), &err), -1);
    assert_non_null(strstr(err, "EndpointType"));
    const uint8_t ctl2[] = {1, 2, 1, 0};
    assert_int_equal(st_kafka_describe_cluster_check(2, ctl2, sizeof(ctl2), &err), -1);
    assert_int_equal(st_kafka_describe_cluster_check(1, ctl, 1, &err), -1);
    assert_int_equal(st_kafka_describe_cluster_check(3, brokers, sizeof(brokers), &err), -1);
}

static void
test_build_metadata_request(void **state)
{
    (void)state;
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_METADATA, false);
    for (int16_t ver = 0; ver <= m->v_max; ver++) {
        for (int none = 0; none < 2; none++) {
            struct st_buf b = ST_BUF_INIT;
            int rc = st_kafka_build_metadata_request(&b, ver, 1234, "strait", none);
            if (ver == 0 && none) {
                assert_int_equal(rc, -1);
                assert_int_equal(st_buf_used(&b), 0);
                continue;
            }
            assert_int_equal(rc, 0);
            const uint8_t *p = st_buf_head(&b);
            size_t len = st_buf_used(&b);
            assert_int_equal(st_rd_i32(p), (int32_t)len - 4);
            struct st_kreq_hdr h;
            const char *err;
            assert_int_equal(st_kafka_req_hdr_parse(p + 4, len - 4, &h, &err), 0);
            assert_int_equal(h.api_key, 3);
            assert_int_equal(h.api_version, ver);
            assert_int_equal(h.correlation_id, 1234);
            assert_memory_equal(h.client_id, "strait", 6);
            struct st_karena a;
            st_karena_init(&a, 0);
            struct st_kdoc d;
            assert_int_equal(
                st_kdoc_decode(&a, m, ver, p + 4 + h.hdr_len, len - 4 - h.hdr_len, &d, &err), 0);
            assert_null(d.trailing);
            struct st_kval *t = st_kobj_get(&d.root, "Topics");
            if (none)
                assert_true(!t->is_null && t->count == 0);
            else if (ver > 0)
                assert_true(t->is_null);
            struct st_kval *ac = st_kobj_get(&d.root, "AllowAutoTopicCreation");
            if (ver >= 4)
                assert_int_equal(ac->i, 0);
            st_karena_free(&a);
            st_buf_free(&b);
        }
    }
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_kafka_build_metadata_request(&b, 14, 1, NULL, false), -1);
    /* Appending to a partly consumed buffer (appends may compact it). */
    assert_int_equal(st_buf_append(&b, "abcd", 4), 0);
    st_buf_consume(&b, 3);
    assert_int_equal(st_kafka_build_metadata_request(&b, 12, 5, "c", false), 0);
    assert_int_equal(st_buf_head(&b)[0], 'd');
    assert_int_equal(st_rd_i32(st_buf_head(&b) + 1), (int32_t)st_buf_used(&b) - 5);
    assert_int_equal(st_kafka_build_apiversions_error(&b, 6, 35), 0);
    st_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_hdr),
        cmocka_unit_test(test_resp_hdr),
        cmocka_unit_test(test_supported_table),
        cmocka_unit_test(test_produce_acks),
        cmocka_unit_test(test_frame_check),
        cmocka_unit_test(test_describe_cluster_check),
        cmocka_unit_test(test_resp_frame_builder),
        cmocka_unit_test(test_build_metadata_request),
        cmocka_unit_test(test_build_apiversions_error),
        cmocka_unit_test(test_apiversions_filter),
        cmocka_unit_test(test_apiversions_v0_error_body),
        cmocka_unit_test(test_rewrite_metadata),
        cmocka_unit_test(test_rewrite_describe_cluster),
        cmocka_unit_test(test_rewrite_share),
        cmocka_unit_test(test_rewrite_find_coordinator),
        cmocka_unit_test(test_rewrite_produce_fetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
