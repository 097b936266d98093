/*
 * Live interop test of the codec against librdkafka's in-process mock cluster (Debian
 * librdkafka 2.0.2): strait-built requests (ApiVersions, st_kafka_build_metadata_request,
 * FindCoordinator from the DOM) are answered by a real Kafka protocol implementation, and the
 * responses parse, round-trip and rewrite. Socket reads have a timeout so the test never hangs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/proto.h"
#include "kafka/schema.h"

struct mock {
    rd_kafka_t *rk;              /* owner of the mock cluster */
    rd_kafka_mock_cluster_t *mc; /* 3 brokers */
    int fd;                      /* connection to the first broker */
};

static int
mock_setup(void **state)
{
    struct mock *m = calloc(1, sizeof(*m));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return -1;
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!m->rk)
        return -1;
    m->mc = rd_kafka_mock_cluster_new(m->rk, 3);
    if (!m->mc)
        return -1;
    if (rd_kafka_mock_topic_create(m->mc, "codec-topic", 4, 3) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    const char *bs = rd_kafka_mock_cluster_bootstraps(m->mc);
    const char *colon = strchr(bs, ':');
    if (!colon)
        return -1;
    int port = atoi(colon + 1);
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(m->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    *state = m;
    return 0;
}

static int
mock_teardown(void **state)
{
    struct mock *m = *state;
    close(m->fd);
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
    free(m);
    return 0;
}

static void
send_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static void
recv_all(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        assert_true(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* Sends a frame (size prefix included) and returns the response frame (no prefix). */
static uint8_t *
roundtrip(struct mock *m, const uint8_t *frame, size_t n, size_t *rlen)
{
    send_all(m->fd, frame, n);
    uint8_t sz[4];
    recv_all(m->fd, sz, 4);
    int32_t len = st_rd_i32(sz);
    assert_true(len >= 4 && len < (1 << 24));
    uint8_t *r = malloc((size_t)len);
    recv_all(m->fd, r, (size_t)len);
    *rlen = (size_t)len;
    return r;
}

static int
map_even(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    (void)arg;
    if (node_id == 3)
        return -1; /* one node without an endpoint */
    *host = "vpce-1.strait.example";
    *host_len = strlen(*host);
    *port = 14000 + node_id;
    return 0;
}

static void
check_body_roundtrip(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    const struct st_kmsg *m = st_kschema_msg(key, true);
    struct st_karena a;
    st_karena_init(&a, 0);
    struct st_kdoc d;
    const char *err;
    if (st_kdoc_decode(&a, m, ver, body, len, &d, &err) != 0)
        fail_msg("%s v%d: %s", m->name, ver, err);
    assert_null(d.trailing);
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_kdoc_encode(&d, &b, &err), 0);
    assert_int_equal(st_buf_used(&b), len);
    assert_memory_equal(st_buf_head(&b), body, len);
    st_buf_free(&b);
    st_karena_free(&a);
}

static void
test_apiversions(void **state)
{
    struct mock *m = *state;
    /* ApiVersions v0: size, key 18, version 0, correlation 7, client id "t". */
    const uint8_t req[] = {0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 7, 0, 1, 't'};
    size_t len;
    uint8_t *resp = roundtrip(m, req, sizeof(req), &len);
    assert_int_equal(st_rd_i32(resp), 7);
    check_body_roundtrip(18, 0, resp + 4, len - 4);
    struct st_buf out = ST_BUF_INIT;
    struct st_krewrite_ops ops = {NULL, NULL, map_even};
    const char *err;
    enum st_krw_result r = st_kafka_response_rewrite(18, 0, resp + 4, len - 4, &ops, &out, &err);
    assert_int_not_equal(r, ST_KRW_ERROR);
    const uint8_t *body = r == ST_KRW_REWRITTEN ? st_buf_head(&out) : resp + 4;
    /* Every advertised (key, range) is inside strait's table; Metadata is 0-2 (the mock's). */
    int32_t n = st_rd_i32(body + 2);
    bool meta = false;
    for (int32_t i = 0; i < n; i++) {
        const uint8_t *e = body + 6 + 6 * i;
        int16_t k = st_rd_i16(e), lo = st_rd_i16(e + 2), hi = st_rd_i16(e + 4);
        assert_true(st_kafka_request_supported(k, lo));
        assert_true(st_kafka_request_supported(k, hi));
        if (k == 3) {
            meta = true;
            assert_int_equal(hi, 2);
        }
    }
    assert_true(meta);
    st_buf_free(&out);
    free(resp);
}

static void
test_metadata(void **state)
{
    struct mock *m = *state;
    for (int16_t ver = 0; ver <= 2; ver++) {
        for (int none = 0; none < 2; none++) {
            if (ver == 0 && none)
                continue;
            struct st_buf req = ST_BUF_INIT;
            assert_int_equal(st_kafka_build_metadata_request(&req, ver, 100 + ver, "strait", none),
                             0);
            size_t len;
            uint8_t *resp = roundtrip(m, st_buf_head(&req), st_buf_used(&req), &len);
            assert_int_equal(st_rd_i32(resp), 100 + ver);
            size_t hl;
            const char *err;
            assert_int_equal(st_kafka_resp_hdr_len(3, ver, resp, len, &hl, &err), 0);
            check_body_roundtrip(3, ver, resp + hl, len - hl);
            struct st_karena a;
            st_karena_init(&a, 0);
            struct st_kdoc d;
            assert_int_equal(
                st_kdoc_decode(&a, st_kschema_msg(3, true), ver, resp + hl, len - hl, &d, &err), 0);
            assert_int_equal(st_kobj_get(&d.root, "Brokers")->count, 3);
            assert_int_equal(st_kobj_get(&d.root, "Topics")->count, none ? 0 : 1);
            st_karena_free(&a);
            /* Rewrite: nodes 1, 2 mapped, 3 removed. */
            struct st_buf out = ST_BUF_INIT;
            struct st_krewrite_ops ops = {NULL, NULL, map_even};
            assert_int_equal(
                st_kafka_response_rewrite(3, ver, resp + hl, len - hl, &ops, &out, &err),
                ST_KRW_REWRITTEN);
            st_karena_init(&a, 0);
            assert_int_equal(st_kdoc_decode(&a, st_kschema_msg(3, true), ver, st_buf_head(&out),
                                            st_buf_used(&out), &d, &err),
                             0);
            struct st_kval *b = st_kobj_get(&d.root, "Brokers");
            assert_int_equal(b->count, 2);
            for (uint32_t i = 0; i < 2; i++) {
                struct st_kval *h = st_kobj_get(&b->objs[i], "Host");
                assert_int_equal(h->n, strlen("vpce-1.strait.example"));
                assert_int_equal(st_kobj_get(&b->objs[i], "Port")->i,
                                 14000 + st_kobj_get(&b->objs[i], "NodeId")->i);
            }
            assert_null(memmem(st_buf_head(&out), st_buf_used(&out), "127.0.0.1", 9));
            st_karena_free(&a);
            st_buf_free(&out);
            st_buf_free(&req);
            free(resp);
        }
    }
}

static void
test_find_coordinator(void **state)
{
    struct mock *m = *state;
    const struct st_kmsg *rq = st_kschema_msg(ST_KAFKA_FIND_COORDINATOR, false);
    for (int16_t ver = 0; ver <= 2; ver++) {
        /* Request from the DOM: header v1 + Key "grp" (+ KeyType 0). */
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d = {.msg = rq, .ver = ver};
        d.root.st = rq->root;
        d.root.vals = st_karena_alloc(&a, rq->root->nfields * sizeof(*d.root.vals));
        struct st_kval *k = st_kobj_get(&d.root, "Key");
        k->p = (const uint8_t *)"grp";
        k->n = 3;
        struct st_buf req = ST_BUF_INIT;
        const char *err;
        assert_int_equal(st_buf_append_i32(&req, 0), 0);
        assert_int_equal(st_buf_append_i16(&req, 10), 0);
        assert_int_equal(st_buf_append_i16(&req, ver), 0);
        assert_int_equal(st_buf_append_i32(&req, 200 + ver), 0);
        assert_int_equal(st_buf_append_i16(&req, -1), 0);
        assert_int_equal(st_kdoc_encode(&d, &req, &err), 0);
        st_buf_put_i32_at(&req, 0, (int32_t)st_buf_used(&req) - 4);
        size_t len;
        uint8_t *resp = roundtrip(m, st_buf_head(&req), st_buf_used(&req), &len);
        assert_int_equal(st_rd_i32(resp), 200 + ver);
        check_body_roundtrip(10, ver, resp + 4, len - 4);
        struct st_buf out = ST_BUF_INIT;
        struct st_krewrite_ops ops = {NULL, NULL, map_even};
        enum st_krw_result r =
            st_kafka_response_rewrite(10, ver, resp + 4, len - 4, &ops, &out, &err);
        assert_int_equal(r, ST_KRW_REWRITTEN);
        assert_null(memmem(st_buf_head(&out), st_buf_used(&out), "127.0.0.1", 9));
        st_buf_free(&out);
        st_buf_free(&req);
        st_karena_free(&a);
        free(resp);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apiversions),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_find_coordinator),
    };
    return cmocka_run_group_tests(tests, mock_setup, mock_teardown);
}
