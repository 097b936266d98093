/*
 * Fuzz target: response bodies. Input = [api_key, api_version, body...]. Exercises the schema
 * skip, DOM round trip and st_kafka_response_rewrite (odd node ids have no endpoint, so entries
 * are removed or emptied); a rewritten body must parse again. A 3-byte input [key, version, seed]
 * runs the checks on a synthesized message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/proto.h"
#include "kafka/resources.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
observe(void *arg, const struct st_kbroker *b, bool authoritative)
{
    (void)arg;
    (void)authoritative;
    if (b->host_len && !b->host)
        __builtin_trap();
    return 0;
}

static int
map(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    (void)arg;
    if (node_id & 1)
        return -1;
    *host = "gateway.example";
    *host_len = 15;
    *port = 14000 + (node_id & 0xff);
    return 0;
}

struct drops {
    const uint8_t *body; /* body start */
    size_t len;          /* body length */
    struct st_kres e[4]; /* entities inside arrays */
    size_t n;            /* entries in e */
};

static int
entity(void *arg, const struct st_kres *r)
{
    struct drops *d = arg;
    if (r->value_off + r->value_len > d->len || r->elem_off + r->elem_len > d->len)
        __builtin_trap();
    if (r->array && d->n < 4)
        d->e[d->n++] = *r;
    return 0;
}

/* Response filtering (authorization): strip entities; the result must parse. */
static void
filter(const struct st_kmsg *m, int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    struct drops d = {.body = body, .len = len};
    const char *err;
    if (st_kafka_response_entities(key, ver, body, len, entity, &d, &err) != 0 || d.n == 0)
        return;
    struct st_buf out = ST_BUF_INIT;
    size_t used;
    if (st_kafka_response_strip(key, ver, body, len, d.e, d.n, &out, &err) == 0 &&
        st_buf_used(&out) &&
        st_kschema_skip(m, ver, st_buf_head(&out), st_buf_used(&out), &used, &err) != 0)
        __builtin_trap();
    st_buf_free(&out);
}

static void
run(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    const struct st_kmsg *m = st_kschema_msg(key, true);
    const char *err = NULL;
    size_t used;
    if (m && st_kschema_skip(m, ver, body, len, &used, &err) == 0) {
        struct st_karena a;
        st_karena_init(&a, 1 << 24);
        struct st_kdoc d;
        if (st_kdoc_decode(&a, m, ver, body, len, &d, &err) != 0)
            __builtin_trap();
        struct st_buf b = ST_BUF_INIT;
        if (st_kdoc_encode(&d, &b, &err) == 0 && st_buf_used(&b) > 0) {
            size_t u2;
            if (st_kschema_skip(m, ver, st_buf_head(&b), st_buf_used(&b), &u2, &err) != 0)
                __builtin_trap();
        }
        st_buf_free(&b);
        st_karena_free(&a);
        filter(m, key, ver, body, len);
    }
    if (!st_kafka_response_needs_rewrite(key, ver) || !st_kafka_request_supported(key, ver))
        return;
    struct st_krewrite_ops ops = {NULL, observe, map};
    struct st_buf out = ST_BUF_INIT;
    enum st_krw_result r = st_kafka_response_rewrite(key, ver, body, len, &ops, &out, &err);
    if (r == ST_KRW_REWRITTEN && st_buf_used(&out) > 0) {
        int16_t over = ver;
        if (key == ST_KAFKA_API_VERSIONS && st_buf_used(&out) >= 2 &&
            st_rd_i16(st_buf_head(&out)) == ST_KERR_UNSUPPORTED_VERSION)
            over = 0;
        if (st_kschema_skip(m, over, st_buf_head(&out), st_buf_used(&out), &used, &err) != 0)
            __builtin_trap();
    } else if (r == ST_KRW_UNCHANGED && st_buf_used(&out) != 0) {
        __builtin_trap();
    }
    st_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int16_t key = (int16_t)(data[0] % (ST_KSCHEMA_MAX_KEY + 1));
    int16_t ver = (int16_t)(data[1] % 32);
    if (size == 3) {
        const struct st_kmsg *m = st_kschema_msg(key, true);
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        struct st_buf b = ST_BUF_INIT;
        const char *err;
        if (m && st_kdoc_synth(&a, m, ver, data[2], &d) == 0 && st_kdoc_encode(&d, &b, &err) == 0) {
            size_t n = st_buf_used(&b);
            uint8_t *copy = malloc(n ? n : 1);
            if (n)
                memcpy(copy, st_buf_head(&b), n);
            run(key, ver, copy, n);
            free(copy);
        }
        st_buf_free(&b);
        st_karena_free(&a);
        return 0;
    }
    run(key, ver, data + 2, size - 2);
    return 0;
}
