/*
 * Fuzz target: denial responses (kafka/deny.h). Input = [api_key, api_version, select, len_hi,
 * len_lo, request body (len bytes), upstream response body...]; a 4-byte input [key, version,
 * select, seed] synthesizes both bodies from the schema instead. The request's resource entries
 * picked by the `select` bits are denied: whole-request errors, synthesized responses and merges
 * into the upstream body must either fail with a reason or produce a body that decodes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/deny.h"
#include "kafka/proto.h"
#include "kafka/resources.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pick {
    uint8_t select;          /* bit i: deny entry i */
    size_t seen;             /* entries reported */
    struct st_kdenial d[16]; /* denials */
    size_t n;                /* count */
};

static int
pick_cb(void *arg, const struct st_kres *r)
{
    struct pick *p = arg;
    static const int16_t errs[] = {29, 30, 31, 53, 100};
    if (p->seen < 8 && (p->select >> p->seen & 1) && p->n < 16) {
        p->d[p->n].res = *r;
        p->d[p->n].error = errs[(p->seen + p->select) % 5];
        p->n++;
    }
    p->seen++;
    return 0;
}

/* A successful result must decode as a response of (key, ver). */
static void
check_out(int16_t key, int16_t ver, struct st_buf *out, int rc, const char *err)
{
    if (rc != 0) {
        if (!err || st_buf_used(out) != 0)
            __builtin_trap();
        return;
    }
    struct st_karena a;
    st_karena_init(&a, 1 << 24);
    struct st_kdoc d;
    const char *e2;
    static const uint8_t empty[1];
    const uint8_t *p = st_buf_used(out) ? st_buf_head(out) : empty;
    if (st_kdoc_decode(&a, st_kschema_msg(key, true), ver, p, st_buf_used(out), &d, &e2) != 0)
        __builtin_trap();
    st_karena_free(&a);
}

static void
run(int16_t key, int16_t ver, uint8_t select, const uint8_t *req, size_t req_len, const uint8_t *up,
    size_t up_len)
{
    const char *err = NULL;
    struct st_buf out = ST_BUF_INIT;
    int rc = st_kafka_deny_error(key, ver, req, req_len, (int16_t)(29 + select % 3), &out, &err);
    if (rc == 0 && !st_kafka_deny_supported(key, ver))
        __builtin_trap();
    check_out(key, ver, &out, rc, err);
    st_buf_free(&out);
    if (!st_kafka_deny_supported(key, ver))
        return;
    struct pick p = {.select = select};
    if (st_kafka_request_resources(key, ver, req, req_len, NULL, pick_cb, &p, &err) != 0)
        return;
    out = (struct st_buf)ST_BUF_INIT;
    err = NULL;
    rc = st_kafka_deny_response(key, ver, req, req_len, p.d, p.n, NULL, 0, &out, &err);
    check_out(key, ver, &out, rc, err);
    st_buf_free(&out);
    /* Merge: array entries only (request-level ones are refused). */
    struct st_kdenial arr[16];
    size_t na = 0;
    for (size_t i = 0; i < p.n; i++)
        if (p.d[i].res.array || (select & 0x80))
            arr[na++] = p.d[i];
    if (select & 0x40 && na) /* a denial that names nothing of this request */
        arr[0].res.elem_off += select & 7;
    out = (struct st_buf)ST_BUF_INIT;
    err = NULL;
    static const uint8_t empty[1];
    rc = st_kafka_deny_response(key, ver, req, req_len, arr, na, up ? up : empty, up_len, &out,
                                &err);
    check_out(key, ver, &out, rc, err);
    st_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    int16_t key = (int16_t)(data[0] % (ST_KSCHEMA_MAX_KEY + 1));
    int16_t ver = (int16_t)(data[1] % 32);
    uint8_t select = data[2];
    if (size == 4) {
        const struct st_kmsg *mq = st_kschema_msg(key, false), *ms = st_kschema_msg(key, true);
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d, u;
        struct st_buf b = ST_BUF_INIT, ub = ST_BUF_INIT;
        const char *err;
        if (mq && ms && st_kdoc_synth(&a, mq, ver, data[3], &d) == 0 &&
            st_kdoc_encode(&d, &b, &err) == 0 && st_kdoc_synth(&a, ms, ver, data[3], &u) == 0 &&
            st_kdoc_encode(&u, &ub, &err) == 0) {
            size_t n = st_buf_used(&b), un = st_buf_used(&ub);
            uint8_t *rq = malloc(n ? n : 1), *up = malloc(un ? un : 1);
            if (n)
                memcpy(rq, st_buf_head(&b), n);
            if (un)
                memcpy(up, st_buf_head(&ub), un);
            run(key, ver, select, rq, n, up, un);
            free(rq);
            free(up);
        }
        st_buf_free(&b);
        st_buf_free(&ub);
        st_karena_free(&a);
        return 0;
    }
    if (size < 5)
        return 0;
    size_t len = (size_t)data[3] << 8 | data[4];
    if (len > size - 5)
        len = size - 5;
    /* Copies so that reads past either body are caught. */
    uint8_t *rq = malloc(len ? len : 1), *up = malloc(size - 5 - len + 1);
    memcpy(rq, data + 5, len);
    memcpy(up, data + 5 + len, size - 5 - len);
    run(key, ver, select, rq, len, up, size - 5 - len);
    free(rq);
    free(up);
    return 0;
}
