/*
 * Unit tests of request resource extraction (src/kafka/resources.h): targeted requests per API
 * (Produce transactional/idempotent/topic ids, Metadata all/auto-create/ids, FindCoordinator key
 * types, config resources, OffsetFetch groups, cluster-only APIs), byte spans that match the
 * decoded DOM, and every supported (key, version) over synthesized requests incl. truncations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/proto.h"
#include "kafka/resources.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

/* ---- building requests ---- */

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
fv(struct st_kobj *o, const char *name)
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

static void
set_null(struct st_kobj *o, const char *name)
{
    fv(o, name)->is_null = 1;
}

/* Struct array of n fresh elements; returns the elements. */
static struct st_kobj *
set_arr(struct st_kobj *o, const char *name, uint32_t n, int16_t ver)
{
    int i = st_kstruct_find(o->st, name);
    assert_true(i >= 0);
    struct st_kval *v = &o->vals[i];
    v->is_null = 0;
    v->count = n;
    v->objs = st_karena_alloc(&arena, (n + 1) * sizeof(*v->objs));
    for (uint32_t k = 0; k < n; k++)
        v->objs[k] = *obj_new(o->st->fields[i].sub, ver);
    return v->objs;
}

static void
set_sarr(struct st_kobj *o, const char *name, const char *const *s, uint32_t n)
{
    struct st_kval *v = fv(o, name);
    v->count = n;
    v->elems = st_karena_alloc(&arena, (n + 1) * sizeof(*v->elems));
    for (uint32_t k = 0; k < n; k++) {
        v->elems[k].present = 1;
        v->elems[k].p = (const uint8_t *)s[k];
        v->elems[k].n = strlen(s[k]);
    }
}

struct req {
    int16_t key, ver;
    struct st_kdoc doc;
    uint8_t *body;
    size_t len;
};

static struct st_kobj *
req_new(struct req *r, int16_t key, int16_t ver)
{
    const struct st_kmsg *m = st_kschema_msg(key, false);
    assert_non_null(m);
    memset(r, 0, sizeof(*r));
    r->key = key;
    r->ver = ver;
    r->doc.msg = m;
    r->doc.ver = ver;
    r->doc.flex = st_kschema_flexible(m, ver);
    r->doc.root = *obj_new(m->root, ver);
    return &r->doc.root;
}

static void
req_encode(struct req *r)
{
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kdoc_encode(&r->doc, &b, &err) != 0)
        fail_msg("encode: %s", err);
    r->len = st_buf_used(&b);
    r->body = malloc(r->len ? r->len : 1);
    if (r->len)
        memcpy(r->body, st_buf_head(&b), r->len);
    st_buf_free(&b);
}

/* ---- collecting entries ---- */

struct got {
    int n;
    char line[32][96];    /* "TOPIC WRITE a" */
    struct st_kres e[32]; /* copies */
    const uint8_t *body;  /* request body */
    size_t len;           /* bytes */
    int stop_after;       /* stop when n reaches this (0 = never) */
};

static int
collect(void *arg, const struct st_kres *r)
{
    struct got *g = arg;
    /* Every span lies inside the body. */
    assert_true(r->value_off + r->value_len <= g->len);
    assert_true(r->elem_off + r->elem_len <= g->len);
    if (r->name)
        assert_true(r->name >= g->body && r->name + r->name_len <= g->body + g->len);
    if (r->topic_id)
        assert_true(r->topic_id >= g->body && r->topic_id + 16 <= g->body + g->len);
    if (g->n < 32) {
        char name[48] = "";
        if (r->name)
            snprintf(name, sizeof(name), " %.*s", (int)r->name_len, (const char *)r->name);
        else if (r->topic_id)
            snprintf(name, sizeof(name), " id:%02x%02x", r->topic_id[0], r->topic_id[15]);
        snprintf(g->line[g->n], sizeof(g->line[0]), "%s %s%s", st_kres_type_name(r->type),
                 st_kop_name(r->op), name);
        g->e[g->n] = *r;
    }
    g->n++;
    return g->stop_after && g->n >= g->stop_after ? -1 : 0;
}

static void
extract(struct req *r, struct got *g)
{
    memset(g, 0, sizeof(*g));
    g->body = r->body;
    g->len = r->len;
    const char *err = NULL;
    if (st_kafka_request_resources(r->key, r->ver, r->body, r->len, NULL, collect, g, &err) != 0)
        fail_msg("%s v%d: %s", st_kafka_api_name(r->key), r->ver, err);
}

static void
expect(struct got *g, const char *const *lines, int n)
{
    if (g->n != n) {
        for (int i = 0; i < g->n && i < 32; i++)
            print_message("got: %s\n", g->line[i]);
        fail_msg("expected %d entries, got %d", n, g->n);
    }
    for (int i = 0; i < n; i++)
        assert_string_equal(g->line[i], lines[i]);
}

/* ---- tests ---- */

/* A v2 record batch header (61 bytes) with the given producer id. */
static uint8_t *
batch(int64_t producer_id)
{
    uint8_t *b = st_karena_alloc(&arena, 61);
    st_wr_i32(b + 8, 49);
    b[16] = 2;
    st_wr_i32(b + 43, (int32_t)(producer_id >> 32));
    st_wr_i32(b + 47, (int32_t)producer_id);
    return b;
}

static void
set_records(struct st_kobj *topic, int16_t ver, int64_t producer_id)
{
    struct st_kobj *p = set_arr(topic, "PartitionData", 1, ver);
    struct st_kval *rec = fv(p, "Records");
    rec->p = batch(producer_id);
    rec->n = 61;
}

static void
test_produce(void **state)
{
    (void)state;
    struct req r;
    struct got g;
    for (int16_t ver = 3; ver <= 12; ver++) {
        struct st_kobj *o = req_new(&r, ST_KAFKA_PRODUCE, ver);
        set_s(o, "TransactionalId", "tx-1");
        set_i(o, "Acks", -1);
        struct st_kobj *t = set_arr(o, "TopicData", 2, ver);
        set_s(&t[0], "Name", "orders");
        set_s(&t[1], "Name", "audit");
        set_records(&t[0], ver, 7);
        set_records(&t[1], ver, 7);
        req_encode(&r);
        extract(&r, &g);
        static const char *const exp[] = {"TRANSACTIONAL_ID WRITE tx-1", "TOPIC WRITE orders",
                                          "TOPIC WRITE audit"};
        expect(&g, exp, 3);
        assert_true(g.e[1].flags & ST_KRES_F_TRANSACTIONAL);
        assert_true(g.e[1].flags & ST_KRES_F_IDEMPOTENT);
        /* Spans: the topic element span equals the decoded element. */
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        const char *err;
        assert_int_equal(st_kdoc_decode(&a, r.doc.msg, ver, r.body, r.len, &d, &err), 0);
        struct st_kval *td = st_kobj_get(&d.root, "TopicData");
        assert_string_equal(g.e[2].array, "TopicData");
        assert_int_equal(g.e[2].index, 1);
        assert_int_equal(g.e[2].elem_off, td->objs[1].off);
        assert_int_equal(g.e[2].elem_len, td->objs[1].len);
        assert_int_equal(g.e[1].elem_off, td->objs[0].off);
        assert_string_equal(g.e[0].field, "TransactionalId");
        assert_null(g.e[0].array);
        struct st_kreq_facts f;
        assert_int_equal(st_kafka_request_facts(0, ver, r.body, r.len, &f, &err), 0);
        assert_int_equal(f.acks, -1);
        assert_int_equal(f.txn_id_len, 4);
        assert_memory_equal(f.txn_id, "tx-1", 4);
        st_karena_free(&a);
        free(r.body);

        /* Idempotent, not transactional: IdempotentWrite on the cluster. */
        o = req_new(&r, ST_KAFKA_PRODUCE, ver);
        set_null(o, "TransactionalId");
        t = set_arr(o, "TopicData", 1, ver);
        set_s(&t[0], "Name", "orders");
        set_records(&t[0], ver, 9);
        req_encode(&r);
        extract(&r, &g);
        static const char *const exp2[] = {"TOPIC WRITE orders", "CLUSTER IDEMPOTENT_WRITE"};
        expect(&g, exp2, 2);
        free(r.body);

        /* Plain producer (producer id -1). */
        o = req_new(&r, ST_KAFKA_PRODUCE, ver);
        set_null(o, "TransactionalId");
        t = set_arr(o, "TopicData", 1, ver);
        set_s(&t[0], "Name", "orders");
        set_records(&t[0], ver, -1);
        req_encode(&r);
        extract(&r, &g);
        expect(&g, exp2, 1);
        assert_false(g.e[0].flags & (ST_KRES_F_IDEMPOTENT | ST_KRES_F_TRANSACTIONAL));
        free(r.body);
    }
    /* v13: topics by id. */
    static const uint8_t id[16] = {0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xcd};
    struct st_kobj *o = req_new(&r, ST_KAFKA_PRODUCE, 13);
    set_null(o, "TransactionalId");
    struct st_kobj *t = set_arr(o, "TopicData", 1, 13);
    fv(&t[0], "TopicId")->p = id;
    fv(&t[0], "TopicId")->n = 16;
    req_encode(&r);
    extract(&r, &g);
    static const char *const exp3[] = {"TOPIC WRITE id:abcd"};
    expect(&g, exp3, 1);
    assert_string_equal(g.e[0].field, "TopicId");
    free(r.body);
}

static void
test_metadata(void **state)
{
    (void)state;
    struct req r;
    struct got g;
    /* v0: empty = all topics. */
    struct st_kobj *o = req_new(&r, ST_KAFKA_METADATA, 0);
    set_arr(o, "Topics", 0, 0);
    req_encode(&r);
    extract(&r, &g);
    static const char *const all[] = {"TOPIC DESCRIBE"};
    expect(&g, all, 1);
    assert_true(g.e[0].flags & ST_KRES_F_ALL_TOPICS);
    assert_true(g.e[0].flags & ST_KRES_F_AUTO_CREATE);
    free(r.body);
    for (int16_t ver = 1; ver <= 13; ver++) {
        o = req_new(&r, ST_KAFKA_METADATA, ver);
        set_null(o, "Topics");
        req_encode(&r);
        extract(&r, &g);
        expect(&g, all, 1);
        assert_true(g.e[0].flags & ST_KRES_F_ALL_TOPICS);
        free(r.body);

        o = req_new(&r, ST_KAFKA_METADATA, ver);
        struct st_kobj *t = set_arr(o, "Topics", 2, ver);
        set_s(&t[0], "Name", "a");
        if (ver >= 12)
            set_null(&t[1], "Name");
        else
            set_s(&t[1], "Name", "bb");
        static const uint8_t id[16] = {0x11, [15] = 0x22};
        if (ver >= 10) {
            fv(&t[1], "TopicId")->p = id;
            fv(&t[1], "TopicId")->n = 16;
        }
        if (ver >= 4)
            set_i(o, "AllowAutoTopicCreation", ver % 2);
        req_encode(&r);
        extract(&r, &g);
        assert_string_equal(g.line[0], "TOPIC DESCRIBE a");
        assert_false(g.e[0].flags & ST_KRES_F_ALL_TOPICS);
        bool auto_create = ver < 4 || ver % 2;
        assert_int_equal(!!(g.e[0].flags & ST_KRES_F_AUTO_CREATE), auto_create);
        if (ver >= 12) {
            assert_int_equal(g.n, 2);
            assert_string_equal(g.line[1], "TOPIC DESCRIBE id:1122");
        } else if (ver >= 10) {
            /* MetadataRequestTopic: TopicId precedes Name. */
            assert_int_equal(g.n, 3);
            assert_string_equal(g.line[1], "TOPIC DESCRIBE id:1122");
            assert_string_equal(g.line[2], "TOPIC DESCRIBE bb");
        } else {
            assert_int_equal(g.n, 2);
            assert_string_equal(g.line[1], "TOPIC DESCRIBE bb");
        }
        free(r.body);
    }
}

static void
test_find_coordinator(void **state)
{
    (void)state;
    struct req r;
    struct got g;
    struct st_kobj *o = req_new(&r, ST_KAFKA_FIND_COORDINATOR, 0);
    set_s(o, "Key", "grp");
    req_encode(&r);
    extract(&r, &g);
    static const char *const g0[] = {"GROUP DESCRIBE grp"};
    expect(&g, g0, 1);
    assert_int_equal(g.e[0].key_type, 0);
    free(r.body);
    for (int16_t ver = 1; ver <= 3; ver++) {
        o = req_new(&r, ST_KAFKA_FIND_COORDINATOR, ver);
        set_s(o, "Key", "tx");
        set_i(o, "KeyType", 1);
        req_encode(&r);
        extract(&r, &g);
        static const char *const t1[] = {"TRANSACTIONAL_ID DESCRIBE tx"};
        expect(&g, t1, 1);
        free(r.body);
    }
    for (int16_t ver = 4; ver <= 6; ver++) {
        for (int kt = 0; kt <= 2; kt++) {
            o = req_new(&r, ST_KAFKA_FIND_COORDINATOR, ver);
            set_i(o, "KeyType", kt);
            static const char *const keys[] = {"k1", "k2"};
            set_sarr(o, "CoordinatorKeys", keys, 2);
            req_encode(&r);
            extract(&r, &g);
            static const char *const e0[] = {"GROUP DESCRIBE k1", "GROUP DESCRIBE k2"};
            static const char *const e1[] = {"TRANSACTIONAL_ID DESCRIBE k1",
                                             "TRANSACTIONAL_ID DESCRIBE k2"};
            static const char *const e2[] = {"COORDINATOR_KEY DESCRIBE k1",
                                             "COORDINATOR_KEY DESCRIBE k2"};
            expect(&g, kt == 0 ? e0 : kt == 1 ? e1 : e2, 2);
            assert_int_equal(g.e[1].key_type, kt);
            free(r.body);
        }
    }
}

static void
test_configs(void **state)
{
    (void)state;
    static const int16_t keys[] = {32, 33, 44};
    for (size_t k = 0; k < 3; k++) {
        const struct st_kmsg *m = st_kschema_msg(keys[k], false);
        for (int16_t ver = m->v_min; ver <= m->v_max; ver++) {
            struct req r;
            struct got g;
            struct st_kobj *o = req_new(&r, keys[k], ver);
            struct st_kobj *res = set_arr(o, "Resources", 3, ver);
            set_i(&res[0], "ResourceType", 2);
            set_s(&res[0], "ResourceName", "topic-x");
            set_i(&res[1], "ResourceType", 4);
            set_s(&res[1], "ResourceName", "1");
            set_i(&res[2], "ResourceType", 16);
            set_s(&res[2], "ResourceName", "metrics");
            req_encode(&r);
            extract(&r, &g);
            const char *op = keys[k] == 32 ? "DESCRIBE_CONFIGS" : "ALTER_CONFIGS";
            char l0[64], l1[64], l2[64];
            snprintf(l0, sizeof(l0), "TOPIC %s topic-x", op);
            snprintf(l1, sizeof(l1), "CLUSTER %s 1", op);
            snprintf(l2, sizeof(l2), "CONFIG %s metrics", op);
            const char *const exp[] = {l0, l1, l2};
            expect(&g, exp, 3);
            assert_int_equal(g.e[2].resource_type, 16);
            free(r.body);
        }
    }
}

static void
test_groups_and_cluster(void **state)
{
    (void)state;
    struct req r;
    struct got g;
    /* OffsetFetch v8+: groups with topics. */
    for (int16_t ver = 8; ver <= st_kschema_msg(9, false)->v_max; ver++) {
        struct st_kobj *o = req_new(&r, 9, ver);
        struct st_kobj *gr = set_arr(o, "Groups", 2, ver);
        set_s(&gr[0], "GroupId", "g1");
        set_null(&gr[1], "Topics");
        set_s(&gr[1], "GroupId", "g2");
        struct st_kobj *t = set_arr(&gr[0], "Topics", 1, ver);
        set_s(&t[0], "Name", "t1");
        req_encode(&r);
        extract(&r, &g);
        static const char *const exp[] = {"GROUP DESCRIBE g1", "TOPIC DESCRIBE t1",
                                          "GROUP DESCRIBE g2"};
        expect(&g, exp, 3);
        assert_int_equal(g.e[1].depth, 2);
        assert_string_equal(g.e[1].array, "Topics");
        free(r.body);
    }
    /* DescribeGroups: primitive array of group ids. */
    struct st_kobj *o = req_new(&r, 15, 5);
    static const char *const gs[] = {"a", "b"};
    set_sarr(o, "Groups", gs, 2);
    req_encode(&r);
    extract(&r, &g);
    static const char *const dg[] = {"GROUP DESCRIBE a", "GROUP DESCRIBE b"};
    expect(&g, dg, 2);
    free(r.body);
    /* Cluster-only APIs. */
    req_new(&r, 29, 3);
    req_encode(&r);
    extract(&r, &g);
    static const char *const da[] = {"CLUSTER DESCRIBE"};
    expect(&g, da, 1);
    free(r.body);
    req_new(&r, 16, 4);
    req_encode(&r);
    extract(&r, &g);
    expect(&g, da, 1);
    assert_true(g.e[0].flags & ST_KRES_F_FILTER_RESPONSE);
    free(r.body);
    /* InitProducerId without a transactional id: IdempotentWrite. */
    o = req_new(&r, 22, 4);
    set_null(o, "TransactionalId");
    req_encode(&r);
    extract(&r, &g);
    static const char *const ip[] = {"CLUSTER IDEMPOTENT_WRITE"};
    expect(&g, ip, 1);
    free(r.body);
    o = req_new(&r, 22, 4);
    set_s(o, "TransactionalId", "t");
    req_encode(&r);
    extract(&r, &g);
    static const char *const ip2[] = {"TRANSACTIONAL_ID WRITE t"};
    expect(&g, ip2, 1);
    free(r.body);
    /* Stop after the first entry. */
    o = req_new(&r, 15, 5);
    set_sarr(o, "Groups", gs, 2);
    req_encode(&r);
    memset(&g, 0, sizeof(g));
    g.body = r.body;
    g.len = r.len;
    g.stop_after = 1;
    const char *err;
    assert_int_equal(st_kafka_request_resources(15, 5, r.body, r.len, NULL, collect, &g, &err), -1);
    assert_int_equal(g.n, 1);
    free(r.body);
    /* Keys without extraction (inter-broker) are refused. */
    assert_int_equal(st_kafka_request_resources(4, 0, r.body, 0, NULL, collect, &g, &err), -1);
}

/* Every supported (key, version): synthesized requests extract cleanly; truncations fail. */
static void
test_every_supported_version(void **state)
{
    (void)state;
    int pairs = 0;
    for (int16_t k = 0; k <= ST_KSCHEMA_MAX_KEY; k++) {
        int16_t lo, hi;
        if (!st_kafka_supported_range(k, &lo, &hi))
            continue;
        const struct st_kmsg *m = st_kschema_msg(k, false);
        for (int16_t v = lo; v <= hi; v++) {
            pairs++;
            for (uint32_t seed = 1; seed <= 4; seed++) {
                struct st_karena a;
                st_karena_init(&a, 0);
                struct st_kdoc d;
                assert_int_equal(st_kdoc_synth(&a, m, v, seed * 101u + (uint32_t)v, &d), 0);
                struct st_buf b = ST_BUF_INIT;
                const char *err;
                assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
                size_t len = st_buf_used(&b);
                uint8_t *body = malloc(len ? len : 1);
                if (len)
                    memcpy(body, st_buf_head(&b), len);
                struct got g = {.body = body, .len = len};
                if (st_kafka_request_resources(k, v, body, len, NULL, collect, &g, &err) != 0)
                    fail_msg("%s v%d: %s", st_kafka_api_name(k), v, err);
                if (seed == 1) {
                    for (size_t cut = 0; cut < len; cut++) {
                        struct got g2 = {.body = body, .len = cut};
                        assert_int_equal(
                            st_kafka_request_resources(k, v, body, cut, NULL, collect, &g2, &err),
                            -1);
                    }
                }
                free(body);
                st_buf_free(&b);
                st_karena_free(&a);
            }
        }
    }
    print_message("%d supported (key, version) pairs\n", pairs);
    assert_true(pairs > 250);
}

/* Collects entries of one type whose name is in `names` (for strip tests). */
struct pick {
    const char *const *names; /* names to drop */
    size_t n;                 /* entries in names */
    struct st_kres e[16];     /* picked entries */
    size_t ne;                /* picked count */
};

static int
pick_cb(void *arg, const struct st_kres *r)
{
    struct pick *p = arg;
    for (size_t i = 0; i < p->n && r->name; i++)
        if (strlen(p->names[i]) == r->name_len && memcmp(p->names[i], r->name, r->name_len) == 0 &&
            p->ne < 16)
            p->e[p->ne++] = *r;
    return 0;
}

/* Strips the elements holding `names` and returns the names left, space-separated. */
static void
strip_names(struct req *r, const char *const *names, size_t n, char *left, size_t left_len)
{
    struct pick p = {names, n, {{0}}, 0};
    const char *err = NULL;
    assert_int_equal(
        st_kafka_request_resources(r->key, r->ver, r->body, r->len, NULL, pick_cb, &p, &err), 0);
    struct st_buf out = ST_BUF_INIT;
    /* A partly consumed output buffer: offsets must survive compaction. */
    assert_int_equal(st_buf_append(&out, "xyz", 3), 0);
    st_buf_consume(&out, 2);
    if (st_kafka_request_strip(r->key, r->ver, r->body, r->len, p.e, p.ne, &out, &err) != 0)
        fail_msg("strip: %s", err);
    assert_int_equal(st_buf_head(&out)[0], 'z');
    struct got g;
    memset(&g, 0, sizeof(g));
    g.body = st_buf_head(&out) + 1;
    g.len = st_buf_used(&out) - 1;
    assert_int_equal(
        st_kafka_request_resources(r->key, r->ver, g.body, g.len, NULL, collect, &g, &err), 0);
    left[0] = 0;
    for (int i = 0; i < g.n && i < 32; i++) {
        if (!g.e[i].name)
            continue;
        size_t l = strlen(left);
        snprintf(left + l, left_len - l, "%s%.*s", l ? " " : "", (int)g.e[i].name_len,
                 (const char *)g.e[i].name);
    }
    st_buf_free(&out);
}

static void
test_strip(void **state)
{
    (void)state;
    char left[256];
    /* Produce, every version with names: drop one of three topics (and the txn id entry is not
     * an array element: rejected). */
    for (int16_t ver = 0; ver <= 12; ver++) {
        struct req r;
        struct st_kobj *o = req_new(&r, ST_KAFKA_PRODUCE, ver);
        if (ver >= 3)
            set_null(o, "TransactionalId");
        struct st_kobj *t = set_arr(o, "TopicData", 3, ver);
        set_s(&t[0], "Name", "a");
        set_s(&t[1], "Name", "bb");
        set_s(&t[2], "Name", "ccc");
        set_records(&t[1], ver, -1);
        req_encode(&r);
        static const char *const d1[] = {"bb"};
        strip_names(&r, d1, 1, left, sizeof(left));
        assert_string_equal(left, "a ccc");
        static const char *const d2[] = {"a", "ccc", "bb"};
        strip_names(&r, d2, 3, left, sizeof(left));
        assert_string_equal(left, "");
        free(r.body);
    }
    /* OffsetFetch v8+: a topic inside a group, and a whole group. */
    for (int16_t ver = 8; ver <= st_kschema_msg(9, false)->v_max; ver++) {
        struct req r;
        struct st_kobj *o = req_new(&r, 9, ver);
        struct st_kobj *gr = set_arr(o, "Groups", 2, ver);
        set_s(&gr[0], "GroupId", "g1");
        set_s(&gr[1], "GroupId", "g2");
        struct st_kobj *t = set_arr(&gr[0], "Topics", 2, ver);
        set_s(&t[0], "Name", "t1");
        set_s(&t[1], "Name", "t2");
        set_null(&gr[1], "Topics");
        req_encode(&r);
        static const char *const d1[] = {"t1"};
        strip_names(&r, d1, 1, left, sizeof(left));
        assert_string_equal(left, "g1 t2 g2");
        static const char *const d2[] = {"g1", "t2"};
        strip_names(&r, d2, 2, left, sizeof(left));
        assert_string_equal(left, "g2");
        free(r.body);
    }
    /* Flexible array counts crossing a varint boundary: 128 topics -> 127. */
    struct req r;
    struct st_kobj *o = req_new(&r, ST_KAFKA_METADATA, 12);
    struct st_kobj *t = set_arr(o, "Topics", 128, 12);
    static char names[128][8];
    for (int i = 0; i < 128; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        set_s(&t[i], "Name", names[i]);
    }
    req_encode(&r);
    static const char *const d3[] = {"t5"};
    strip_names(&r, d3, 1, left, sizeof(left));
    assert_null(strstr(left, "t5 "));
    assert_non_null(strstr(left, "t4 t6"));
    /* Entries without an array element are refused. */
    struct st_kres bad = {.api_key = 3, .api_version = 12};
    struct st_buf out = ST_BUF_INIT;
    const char *err;
    assert_int_equal(st_kafka_request_strip(3, 12, r.body, r.len, &bad, 1, &out, &err), -1);
    /* A span that is not an element fails validation and leaves out unchanged. */
    bad.array = "Topics";
    bad.array_off = 0;
    bad.elem_off = 2;
    bad.elem_len = 3;
    assert_int_equal(st_kafka_request_strip(3, 12, r.body, r.len, &bad, 1, &out, &err), -1);
    assert_int_equal(st_buf_used(&out), 0);
    st_buf_free(&out);
    free(r.body);
}

/* Metadata "all topics" filtering: drop topics from every Metadata response version. */
static void
test_response_filter(void **state)
{
    (void)state;
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_METADATA, true);
    for (int16_t ver = 0; ver <= m->v_max; ver++) {
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        assert_int_equal(st_kdoc_synth(&a, m, ver, 77u + (uint32_t)ver, &d), 0);
        struct st_kval *tv = st_kobj_get(&d.root, "Topics");
        const struct st_kstruct *ts = m->root->fields[st_kstruct_find(m->root, "Topics")].sub;
        static const char *const names[] = {"keep-1", "secret", "keep-2"};
        tv->is_null = 0;
        tv->count = 3;
        tv->objs = st_karena_alloc(&a, 3 * sizeof(*tv->objs));
        for (int i = 0; i < 3; i++) {
            struct st_kobj *o = &tv->objs[i];
            o->st = ts;
            o->vals = st_karena_alloc(&a, ts->nfields * sizeof(*o->vals));
            struct st_kval *n = st_kobj_get(o, "Name");
            n->p = (const uint8_t *)names[i];
            n->n = strlen(names[i]);
        }
        struct st_buf b = ST_BUF_INIT, out = ST_BUF_INIT;
        const char *err;
        assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
        static const char *const drop[] = {"secret"};
        struct pick p = {drop, 1, {{0}}, 0};
        assert_int_equal(
            st_kafka_response_entities(3, ver, st_buf_head(&b), st_buf_used(&b), pick_cb, &p, &err),
            0);
        assert_int_equal(p.ne, 1);
        assert_string_equal(p.e[0].array, "Topics");
        assert_int_equal(st_kafka_response_strip(3, ver, st_buf_head(&b), st_buf_used(&b), p.e,
                                                 p.ne, &out, &err),
                         0);
        /* Expected: the same DOM without the middle topic. */
        tv->objs[1] = tv->objs[2];
        tv->count = 2;
        struct st_buf exp = ST_BUF_INIT;
        assert_int_equal(st_kdoc_encode(&d, &exp, &err), 0);
        assert_int_equal(st_buf_used(&out), st_buf_used(&exp));
        assert_memory_equal(st_buf_head(&out), st_buf_head(&exp), st_buf_used(&exp));
        st_buf_free(&b);
        st_buf_free(&out);
        st_buf_free(&exp);
        st_karena_free(&a);
    }
}

static int
setup(void **state)
{
    (void)state;
    st_karena_init(&arena, 0);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    st_karena_free(&arena);
    return 0;
}

/* Elements of primitive string arrays are entries of their own and can be stripped. */
static void
test_strip_string_arrays(void **state)
{
    (void)state;
    char left[256];
    static const char *const three[] = {"a", "bb", "ccc"};
    static const struct {
        int16_t key;
        const char *field;
    } arrs[] = {{20, "TopicNames"},      {15, "Groups"},           {42, "GroupsNames"},
                {10, "CoordinatorKeys"}, {65, "TransactionalIds"}, {69, "GroupIds"}};
    for (size_t k = 0; k < sizeof(arrs) / sizeof(arrs[0]); k++) {
        const struct st_kmsg *m = st_kschema_msg(arrs[k].key, false);
        for (int16_t ver = m->v_min; ver <= m->v_max; ver++) {
            if (!st_kafka_request_supported(arrs[k].key, ver))
                continue;
            int fi = st_kstruct_find(m->root, arrs[k].field);
            assert_true(fi >= 0);
            if (!st_kfield_in(&m->root->fields[fi], ver))
                continue;
            struct req r;
            struct st_kobj *o = req_new(&r, arrs[k].key, ver);
            set_sarr(o, arrs[k].field, three, 3);
            if (arrs[k].key == 10)
                set_i(o, "KeyType", 0);
            req_encode(&r);
            struct got g;
            extract(&r, &g);
            assert_true(g.n >= 3);
            for (int i = 0; i < 3; i++) {
                assert_string_equal(g.e[i].array, arrs[k].field);
                assert_int_equal(g.e[i].depth, 1);
                assert_int_equal(g.e[i].index, (uint32_t)i);
                assert_int_equal(g.e[i].elem_off, g.e[i].value_off);
                assert_int_equal(g.e[i].elem_len, g.e[i].value_len);
                assert_true(g.e[i].array_off < g.e[i].elem_off);
                assert_true(g.e[i].name ==
                            r.body + g.e[i].elem_off + (g.e[i].elem_len - g.e[i].name_len));
            }
            static const char *const d1[] = {"bb"};
            strip_names(&r, d1, 1, left, sizeof(left));
            assert_string_equal(left, "a ccc");
            static const char *const d2[] = {"a", "ccc"};
            strip_names(&r, d2, 2, left, sizeof(left));
            assert_string_equal(left, "bb");
            strip_names(&r, three, 3, left, sizeof(left));
            assert_string_equal(left, "");
            free(r.body);
        }
    }
    /* DescribeTransactions ids are not the request's own transactional id. */
    struct req r;
    struct st_kobj *o = req_new(&r, 65, 0);
    set_sarr(o, "TransactionalIds", three, 3);
    req_encode(&r);
    struct st_kreq_facts f;
    const char *err;
    assert_int_equal(st_kafka_request_facts(65, 0, r.body, r.len, &f, &err), 0);
    assert_false(f.flags & ST_KRES_F_TRANSACTIONAL);
    free(r.body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_find_coordinator),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_groups_and_cluster),
        cmocka_unit_test(test_strip),
        cmocka_unit_test(test_strip_string_arrays),
        cmocka_unit_test(test_response_filter),
        cmocka_unit_test(test_every_supported_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
