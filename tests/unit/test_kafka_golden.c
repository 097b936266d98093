/*
 * Golden-vector tests: frames captured from real clients (kcat / confluent-kafka-python on
 * librdkafka 2.0.2 and 2.12.0) and librdkafka mock brokers (2.0.2 and 2.12.0) by
 * tests/data/kafka/capture.py (see tests/data/kafka/README.md). Every frame must parse, skip to
 * exactly its end, round-trip byte-exact through the DOM, fail cleanly when truncated, extract
 * request resources, and rewrite where the gateway rewrites.
 */
#include <dirent.h>
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

#define GOLDEN_DIR ST_SOURCE_DIR "/tests/data/kafka/golden"

static uint8_t *
load(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/*
 * Captured frames that are not valid Kafka: the librdkafka 2.12 mock answers LeaveGroup v3 with
 * ThrottleTimeMs + ErrorCode only (no Members array). They must fail to parse, cleanly.
 */
static const char *const known_bad[] = {
    "13-LeaveGroup-v3-resp-mock212.bin",
};

static bool
is_known_bad(const char *name)
{
    for (size_t i = 0; i < sizeof(known_bad) / sizeof(known_bad[0]); i++)
        if (strcmp(known_bad[i], name) == 0)
            return true;
    return false;
}

static int
map_any(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    (void)arg;
    *host = "gw.example";
    *host_len = 10;
    *port = 14000 + node_id;
    return 0;
}

static int
observe_count(void *arg, const struct st_kbroker *b, bool authoritative)
{
    (void)b;
    (void)authoritative;
    (*(int *)arg)++;
    return 0;
}

static int
count_res(void *arg, const struct st_kres *r)
{
    (void)r;
    (*(int *)arg)++;
    return 0;
}

/* Skip, DOM round trip and truncations of one body. */
static void
check_body(const char *name, const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len)
{
    const char *err = NULL;
    size_t used;
    if (st_kschema_skip(m, ver, body, len, &used, &err) != 0)
        fail_msg("%s: skip: %s", name, err);
    /* The librdkafka 2.12 mock ends flexible responses with a second, empty top-level tag
     * section; Kafka clients ignore trailing bytes, and so does the codec (kept verbatim). */
    if (used != len)
        print_message("%s: %zu trailing byte(s)\n", name, len - used);
    assert_true(len - used <= 1);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d;
    if (st_kdoc_decode(&a, m, ver, body, len, &d, &err) != 0)
        fail_msg("%s: decode: %s", name, err);
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
    if (st_buf_used(&b) != len || (len && memcmp(st_buf_head(&b), body, len) != 0))
        fail_msg("%s: round trip differs", name);
    st_buf_free(&b);
    st_karena_free(&a);
    for (size_t cut = 0; cut < used; cut++) {
        uint8_t *t = malloc(cut ? cut : 1);
        memcpy(t, body, cut);
        if (st_kschema_skip(m, ver, t, cut, &used, &err) == 0)
            fail_msg("%s: truncation at %zu accepted", name, cut);
        free(t);
    }
}

static void
test_all_golden(void **state)
{
    (void)state;
    DIR *dir = opendir(GOLDEN_DIR);
    assert_non_null(dir);
    struct dirent *de;
    int nreq = 0, nresp = 0, nrewritten = 0;
    while ((de = readdir(dir))) {
        int key, ver;
        char dirn[8];
        if (sscanf(de->d_name, "%d-%*[^-]-v%d-%4[a-z]-", &key, &ver, dirn) != 3)
            continue;
        size_t len;
        uint8_t *frame = load(de->d_name, &len);
        const char *err = NULL;
        if (strcmp(dirn, "req") == 0) {
            nreq++;
            struct st_kreq_hdr h;
            if (st_kafka_req_hdr_parse(frame, len, &h, &err) != 0)
                fail_msg("%s: header: %s", de->d_name, err);
            assert_int_equal(h.api_key, key);
            assert_int_equal(h.api_version, ver);
            const uint8_t *body = frame + h.hdr_len;
            size_t blen = len - h.hdr_len;
            const struct st_kmsg *m = st_kschema_msg((int16_t)key, false);
            if (st_kschema_valid(m, (int16_t)ver))
                check_body(de->d_name, m, (int16_t)ver, body, blen);
            if (st_kafka_request_supported((int16_t)key, (int16_t)ver)) {
                int n = 0;
                if (st_kafka_request_resources((int16_t)key, (int16_t)ver, body, blen, NULL,
                                               count_res, &n, &err) != 0)
                    fail_msg("%s: resources: %s", de->d_name, err);
            }
            if (key == ST_KAFKA_PRODUCE) {
                int16_t acks;
                assert_int_equal(st_kafka_produce_acks((int16_t)ver, body, blen, &acks, &err), 0);
                assert_true(acks == -1 || acks == 0 || acks == 1);
            }
        } else {
            nresp++;
            size_t hl;
            if (st_kafka_resp_hdr_len((int16_t)key, (int16_t)ver, frame, len, &hl, &err) != 0)
                fail_msg("%s: header: %s", de->d_name, err);
            const uint8_t *body = frame + hl;
            size_t blen = len - hl;
            const struct st_kmsg *m = st_kschema_msg((int16_t)key, true);
            bool av_err = key == ST_KAFKA_API_VERSIONS && blen >= 2 &&
                          st_rd_i16(body) == ST_KERR_UNSUPPORTED_VERSION;
            if (is_known_bad(de->d_name)) {
                size_t used;
                assert_int_equal(st_kschema_skip(m, (int16_t)ver, body, blen, &used, &err), -1);
                free(frame);
                continue;
            }
            if (!av_err)
                check_body(de->d_name, m, (int16_t)ver, body, blen);
            if (st_kafka_response_needs_rewrite((int16_t)key, (int16_t)ver)) {
                struct st_buf out = ST_BUF_INIT;
                int nobs = 0;
                struct st_krewrite_ops ops = {&nobs, observe_count, map_any};
                enum st_krw_result r = st_kafka_response_rewrite((int16_t)key, (int16_t)ver, body,
                                                                 blen, &ops, &out, &err);
                if (r == ST_KRW_ERROR)
                    fail_msg("%s: rewrite: %s", de->d_name, err);
                if (r == ST_KRW_REWRITTEN) {
                    nrewritten++;
                    /* The result parses, and no upstream address is left. */
                    int16_t over = av_err ? 0 : (int16_t)ver;
                    size_t used;
                    assert_int_equal(
                        st_kschema_skip(m, over, st_buf_head(&out), st_buf_used(&out), &used, &err),
                        0);
                    assert_true(st_buf_used(&out) - used <= 1); /* trailing byte kept */
                    assert_null(memmem(st_buf_head(&out), st_buf_used(&out), "127.0.0.1", 9));
                }
                if (strstr(de->d_name, "nodeendpoints"))
                    assert_int_equal(r, ST_KRW_REWRITTEN);
                st_buf_free(&out);
            }
        }
        free(frame);
    }
    closedir(dir);
    print_message("golden: %d requests, %d responses, %d rewritten\n", nreq, nresp, nrewritten);
    assert_true(nreq >= 30);
    assert_true(nresp >= 30);
    assert_true(nrewritten >= 5);
}

/* Specific facts of captured vectors. */
static void
test_metadata_v12_mock212(void **state)
{
    (void)state;
    size_t len, hl;
    uint8_t *f = load("03-Metadata-v12-resp-mock212.bin", &len);
    const char *err;
    assert_int_equal(st_kafka_resp_hdr_len(3, 12, f, len, &hl, &err), 0);
    assert_int_equal(hl, 5);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d;
    assert_int_equal(st_kdoc_decode(&a, st_kschema_msg(3, true), 12, f + hl, len - hl, &d, &err),
                     0);
    struct st_kval *brokers = st_kobj_get(&d.root, "Brokers");
    assert_int_equal(brokers->count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        struct st_kobj *b = &brokers->objs[i];
        assert_int_equal(st_kobj_get(b, "NodeId")->i, (int64_t)i + 1);
        struct st_kval *h = st_kobj_get(b, "Host");
        assert_int_equal(h->n, 9);
        assert_memory_equal(h->p, "127.0.0.1", 9);
    }
    st_karena_free(&a);
    free(f);
}

/* KIP-951 NodeEndpoints after a leader move: only the top-level tag section changes. */
static void
check_nodeendpoints(const char *file, int16_t key, int16_t ver)
{
    size_t len, hl;
    uint8_t *f = load(file, &len);
    const char *err;
    assert_int_equal(st_kafka_resp_hdr_len(key, ver, f, len, &hl, &err), 0);
    struct st_buf out = ST_BUF_INIT;
    int nobs = 0;
    struct st_krewrite_ops ops = {&nobs, observe_count, map_any};
    assert_int_equal(st_kafka_response_rewrite(key, ver, f + hl, len - hl, &ops, &out, &err),
                     ST_KRW_REWRITTEN);
    assert_true(nobs >= 1);
    assert_non_null(memmem(st_buf_head(&out), st_buf_used(&out), "gw.example", 10));
    assert_null(memmem(st_buf_head(&out), st_buf_used(&out), "127.0.0.1", 9));
    size_t tags_off;
    assert_int_equal(
        st_kschema_skip_to_tags(st_kschema_msg(key, true), ver, f + hl, len - hl, &tags_off, &err),
        0);
    assert_memory_equal(st_buf_head(&out), f + hl, tags_off);
    st_buf_free(&out);
    free(f);
}

static void
test_nodeendpoints_mock212(void **state)
{
    (void)state;
    check_nodeendpoints("00-Produce-v10-resp-mock212-nodeendpoints.bin", 0, 10);
    check_nodeendpoints("01-Fetch-v16-resp-mock212-nodeendpoints.bin", 1, 16);
}

/* The librdkafka mock's ApiVersions v3 UNSUPPORTED_VERSION reply is in no Kafka format. */
static void
test_apiversions_mock_hybrid(void **state)
{
    (void)state;
    size_t len;
    uint8_t *f = load("18-ApiVersions-v3-resp-mock212.bin", &len);
    struct st_buf out = ST_BUF_INIT;
    const char *err;
    struct st_krewrite_ops ops = {NULL, NULL, map_any};
    assert_int_equal(st_kafka_response_rewrite(18, 3, f + 4, len - 4, &ops, &out, &err),
                     ST_KRW_REWRITTEN);
    const uint8_t exp[] = {0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 2};
    assert_int_equal(st_buf_used(&out), sizeof(exp));
    assert_memory_equal(st_buf_head(&out), exp, sizeof(exp));
    st_buf_free(&out);
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_golden),
        cmocka_unit_test(test_metadata_v12_mock212),
        cmocka_unit_test(test_nodeendpoints_mock212),
        cmocka_unit_test(test_apiversions_mock_hybrid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
