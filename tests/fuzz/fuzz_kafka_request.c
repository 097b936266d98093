/*
 * Fuzz target: request bodies. Input = [api_key, api_version, body...]. Exercises the schema
 * skip, DOM decode/encode (re-encoding must be stable), facts and resource extraction (every
 * reported span must lie inside the body). A 3-byte input [key, version, seed] runs the same
 * checks on a message synthesized from the schema, so seeds reach every version.
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

struct span {
    const uint8_t *body;    /* body start */
    size_t len;             /* body length */
    struct st_kres drop[4]; /* entries inside arrays, for a strip attempt */
    size_t ndrop;           /* entries in drop */
};

static int
check_res(void *arg, const struct st_kres *r)
{
    struct span *s = arg;
    if (r->value_off + r->value_len > s->len || r->elem_off + r->elem_len > s->len)
        __builtin_trap();
    if (r->name && (r->name < s->body || r->name + r->name_len > s->body + s->len))
        __builtin_trap();
    if (r->topic_id && (r->topic_id < s->body || r->topic_id + 16 > s->body + s->len))
        __builtin_trap();
    if (r->array && s->ndrop < 4)
        s->drop[s->ndrop++] = *r;
    return 0;
}

static void
run(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
    const struct st_kmsg *m = st_kschema_msg(key, false);
    const char *err = NULL;
    size_t used;
    if (!m || st_kschema_skip(m, ver, body, len, &used, &err) != 0)
        return;
    if (used > len)
        __builtin_trap();
    struct st_karena a;
    st_karena_init(&a, 1 << 24);
    struct st_kdoc d;
    if (st_kdoc_decode(&a, m, ver, body, len, &d, &err) != 0)
        __builtin_trap(); /* skip accepted it */
    struct st_buf b1 = ST_BUF_INIT, b2 = ST_BUF_INIT;
    if (st_kdoc_encode(&d, &b1, &err) == 0) {
        struct st_karena a2;
        st_karena_init(&a2, 1 << 24);
        struct st_kdoc d2;
        static const uint8_t empty[1];
        const uint8_t *p1 = st_buf_used(&b1) ? st_buf_head(&b1) : empty;
        if (st_kdoc_decode(&a2, m, ver, p1, st_buf_used(&b1), &d2, &err) != 0 ||
            st_kdoc_encode(&d2, &b2, &err) != 0 || st_buf_used(&b1) != st_buf_used(&b2) ||
            (st_buf_used(&b1) && memcmp(p1, st_buf_head(&b2), st_buf_used(&b1))))
            __builtin_trap();
        st_karena_free(&a2);
    }
    st_buf_free(&b1);
    st_buf_free(&b2);
    st_karena_free(&a);
    if (st_kafka_request_supported(key, ver)) {
        struct span s = {.body = body, .len = len};
        struct st_kreq_facts f;
        if (st_kafka_request_facts(key, ver, body, len, &f, &err) == 0)
            if (st_kafka_request_resources(key, ver, body, len, &f, check_res, &s, &err) != 0)
                __builtin_trap(); /* facts succeeded on the same body */
        if (s.ndrop) {
            /* Partial denial: the stripped body must still parse (strip validates). */
            struct st_buf out = ST_BUF_INIT;
            size_t u2;
            if (st_kafka_request_strip(key, ver, body, len, s.drop, s.ndrop, &out, &err) == 0 &&
                st_buf_used(&out) &&
                st_kschema_skip(m, ver, st_buf_head(&out), st_buf_used(&out), &u2, &err) != 0)
                __builtin_trap();
            st_buf_free(&out);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int16_t key = (int16_t)(data[0] % (ST_KSCHEMA_MAX_KEY + 1));
    int16_t ver = (int16_t)(data[1] % 32);
    if (size == 3) {
        const struct st_kmsg *m = st_kschema_msg(key, false);
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
