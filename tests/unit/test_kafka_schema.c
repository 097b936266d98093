/*
 * Unit tests of the schema interpreter (src/kafka/schema.c): for every message of every API key,
 * request and response, every version: synthesized messages round-trip byte-exact through
 * decode/encode, skip and walk agree on the length, every truncation fails cleanly; plus
 * primitive-encoding edge cases (varints, nulls, unknown tags kept verbatim).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/schema.h"
#include "kafka/synth.h"

static int
count_visit(void *arg, const struct st_kvisit *v)
{
    (void)v;
    (*(size_t *)arg)++;
    return 0;
}

/* Synthesize, encode, check skip/walk/decode/encode/truncation. Returns the encoded length. */
static size_t
check_one(const struct st_kmsg *m, int16_t ver, uint32_t seed, bool truncations)
{
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc doc;
    assert_int_equal(st_kdoc_synth(&a, m, ver, seed, &doc), 0);
    struct st_buf b1 = ST_BUF_INIT, b2 = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kdoc_encode(&doc, &b1, &err) != 0)
        fail_msg("%s v%d: encode: %s", m->name, ver, err);
    size_t len = st_buf_used(&b1);
    /* An exact-size heap copy so ASan catches any over-read. */
    uint8_t *msg = malloc(len ? len : 1);
    if (len)
        memcpy(msg, st_buf_head(&b1), len);

    size_t used = 0;
    if (st_kschema_skip(m, ver, msg, len, &used, &err) != 0)
        fail_msg("%s v%d seed %u: skip: %s", m->name, ver, seed, err);
    assert_int_equal(used, len);
    size_t visits = 0;
    assert_int_equal(st_kschema_walk(m, ver, msg, len, count_visit, &visits, &used, &err), 0);
    assert_int_equal(used, len);

    struct st_karena a2;
    st_karena_init(&a2, 0);
    struct st_kdoc d2;
    if (st_kdoc_decode(&a2, m, ver, msg, len, &d2, &err) != 0)
        fail_msg("%s v%d seed %u: decode: %s", m->name, ver, seed, err);
    assert_null(d2.trailing);
    assert_int_equal(st_kdoc_encode(&d2, &b2, &err), 0);
    assert_int_equal(st_buf_used(&b2), len);
    if (len && memcmp(st_buf_head(&b2), msg, len) != 0)
        fail_msg("%s v%d seed %u: round trip differs", m->name, ver, seed);

    if (truncations) {
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *t = malloc(cut ? cut : 1);
            memcpy(t, msg, cut);
            if (st_kschema_skip(m, ver, t, cut, &used, &err) == 0)
                fail_msg("%s v%d: truncation at %zu accepted", m->name, ver, cut);
            struct st_karena a3;
            st_karena_init(&a3, 0);
            struct st_kdoc d3;
            assert_int_equal(st_kdoc_decode(&a3, m, ver, t, cut, &d3, &err), -1);
            st_karena_free(&a3);
            free(t);
        }
    }
    free(msg);
    st_buf_free(&b1);
    st_buf_free(&b2);
    st_karena_free(&a);
    st_karena_free(&a2);
    return len;
}

static void
test_every_message_every_version(void **state)
{
    (void)state;
    size_t nmsg = 0, nvers = 0;
    for (int16_t k = 0; k <= ST_KSCHEMA_MAX_KEY; k++) {
        for (int resp = 0; resp < 2; resp++) {
            const struct st_kmsg *m = st_kschema_msg(k, resp);
            if (!m)
                continue;
            nmsg++;
            for (int16_t v = m->v_min; v <= m->v_max; v++) {
                nvers++;
                for (uint32_t seed = 1; seed <= 6; seed++)
                    check_one(m, v, seed * 7919u + (uint32_t)k * 31u + (uint32_t)v, seed == 1);
            }
        }
    }
    /* 88 API keys in the reference snapshot, request + response each. */
    assert_true(nmsg >= 170);
    printf("%zu messages, %zu (message, version) pairs\n", nmsg, nvers);
    assert_true(nvers > 500);
}

static void
test_versions_and_flex(void **state)
{
    (void)state;
    const struct st_kmsg *md = st_kschema_msg(3, true);
    assert_non_null(md);
    assert_int_equal(md->v_max, 13); /* Kafka 4.0 patch */
    assert_true(st_kschema_flexible(md, 9));
    assert_false(st_kschema_flexible(md, 8));
    assert_int_equal(st_kschema_msg(0, false)->v_max, 13);
    assert_int_equal(st_kschema_msg(1, true)->v_max, 18);
    assert_int_equal(st_kschema_msg(60, true)->v_max, 2);
    assert_int_equal(st_kschema_msg(78, true)->v_max, 2);
    assert_int_equal(st_kschema_msg(79, false)->v_max, 2);
    assert_null(st_kschema_msg(-1, false));
    assert_null(st_kschema_msg(ST_KSCHEMA_MAX_KEY + 1, false));
    /* Produce v13 names topics by id. */
    const struct st_kmsg *pr = st_kschema_msg(0, false);
    int td = st_kstruct_find(pr->root, "TopicData");
    assert_true(td >= 0);
    const struct st_kstruct *tds = pr->root->fields[td].sub;
    assert_false(st_kfield_in(&tds->fields[st_kstruct_find(tds, "Name")], 13));
    assert_true(st_kfield_in(&tds->fields[st_kstruct_find(tds, "TopicId")], 13));
    assert_true(st_kfield_in(&tds->fields[st_kstruct_find(tds, "Name")], 12));
    /* Metadata v13 ErrorCode after Topics. */
    int ec = st_kstruct_find(md->root, "ErrorCode");
    assert_int_equal(ec, st_kstruct_find(md->root, "Topics") + 1);
    assert_false(st_kfield_in(&md->root->fields[ec], 12));
}

static void
test_uvarint(void **state)
{
    (void)state;
    uint32_t v;
    const uint8_t ok[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    struct st_krd r = {ok, sizeof(ok), 0};
    assert_int_equal(st_krd_uvarint(&r, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    r = (struct st_krd){big, sizeof(big), 0};
    assert_int_equal(st_krd_uvarint(&r, &v), -1);
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    r = (struct st_krd){six, sizeof(six), 0};
    assert_int_equal(st_krd_uvarint(&r, &v), -1);
    const uint8_t trunc[] = {0x80};
    r = (struct st_krd){trunc, sizeof(trunc), 0};
    assert_int_equal(st_krd_uvarint(&r, &v), -1);
}

/* FindCoordinator v3 response with an unknown top-level tag: kept byte-exact. */
static void
test_unknown_tags_preserved(void **state)
{
    (void)state;
    const uint8_t body[] = {
        0, 0,   0,    0,    /* ThrottleTimeMs */
        0, 0,               /* ErrorCode */
        0,                  /* ErrorMessage null */
        0, 0,   0,    1,    /* NodeId */
        3, 'a', 'b',        /* Host "ab" */
        0, 0,   0x23, 0x84, /* Port 9092 */
        2,                  /* 2 tags */
        7, 2,   0xde, 0xad, /* tag 7, 2 bytes */
        9, 0,               /* tag 9, empty */
    };
    const struct st_kmsg *m = st_kschema_msg(10, true);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d;
    const char *err;
    assert_int_equal(st_kdoc_decode(&a, m, 3, body, sizeof(body), &d, &err), 0);
    assert_int_equal(d.root.ntags, 2);
    assert_int_equal(d.root.tags[0].tag, 7);
    assert_int_equal(d.root.tags[0].field, -1);
    assert_int_equal(st_kobj_get(&d.root, "Port")->i, 9092);
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
    assert_int_equal(st_buf_used(&b), sizeof(body));
    assert_memory_equal(st_buf_head(&b), body, sizeof(body));
    st_buf_free(&b);
    st_karena_free(&a);
}

static void
test_malformed(void **state)
{
    (void)state;
    const char *err;
    size_t used;
    const struct st_kmsg *m = st_kschema_msg(3, true);
    /* Metadata v1: Brokers count says 1e9. */
    const uint8_t huge[] = {0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0};
    assert_int_equal(st_kschema_skip(m, 1, huge, sizeof(huge), &used, &err), -1);
    /* Metadata v1: Host length -2. */
    const uint8_t neg[] = {0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xfe};
    assert_int_equal(st_kschema_skip(m, 1, neg, sizeof(neg), &used, &err), -1);
    /* Metadata v1: Host null (not nullable). */
    const uint8_t nul[] = {0, 0, 0,    1,    0, 0, 0, 1, 0xff, 0xff, 0, 0,
                           0, 1, 0xff, 0xff, 0, 0, 0, 0, 0,    0,    0, 0};
    assert_int_equal(st_kschema_skip(m, 1, nul, sizeof(nul), &used, &err), -1);
    assert_non_null(strstr(err, "null"));
    /* Out-of-range version. */
    assert_int_equal(st_kschema_skip(m, 99, nul, sizeof(nul), &used, &err), -1);
    /* Tagged field size larger than the rest of the frame (FindCoordinator v3). */
    const uint8_t tag[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 5, 9, 1};
    assert_int_equal(st_kschema_skip(st_kschema_msg(10, true), 3, tag, sizeof(tag), &used, &err),
                     -1);
}

static void
test_arena_limit(void **state)
{
    (void)state;
    struct st_karena a;
    st_karena_init(&a, 1024);
    assert_non_null(st_karena_alloc(&a, 1000));
    assert_null(st_karena_alloc(&a, 100));
    st_karena_free(&a);
    st_karena_init(&a, 1 << 20);
    /* A decode that needs more than the limit fails cleanly. */
    struct st_kdoc d;
    struct st_karena big;
    st_karena_init(&big, 0);
    const struct st_kmsg *m = st_kschema_msg(3, true);
    assert_int_equal(st_kdoc_synth(&big, m, 12, 5, &d), 0);
    struct st_buf b = ST_BUF_INIT;
    const char *err;
    assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
    struct st_karena tiny;
    st_karena_init(&tiny, 64);
    struct st_kdoc d2;
    assert_int_equal(st_kdoc_decode(&tiny, m, 12, st_buf_head(&b), st_buf_used(&b), &d2, &err), -1);
    st_karena_free(&tiny);
    st_karena_free(&big);
    st_karena_free(&a);
    st_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_and_flex),
        cmocka_unit_test(test_uvarint),
        cmocka_unit_test(test_unknown_tags_preserved),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_arena_limit),
        cmocka_unit_test(test_every_message_every_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
