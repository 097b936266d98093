/*
 * Fuzz target: the ACL APIs on the wire (st_acl_wire_answer). Input = [api, version, body...]:
 * api selects DescribeAcls (29), CreateAcls (30) or DeleteAcls (31), version runs one past the
 * schema's range. Checks: a failed call appends nothing; a response decodes in its own schema
 * with no trailing bytes; every binding the store holds afterwards validates, and the set can be
 * authorized against. A 3-byte input [api, version, seed] answers a synthesized request instead.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/acl.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct store {
    struct st_acl_set *s; /* current bindings */
    int fail;             /* make create/remove fail */
};

static const struct st_acl_set *
fz_current(void *arg)
{
    return ((struct store *)arg)->s;
}

/* Replaces the set with its bindings plus `add`, minus those equal to one of `del`. */
static int
rebuild(struct store *st, const struct st_acl_binding *add, size_t nadd,
        const struct st_acl_binding *del, size_t ndel)
{
    size_t old = st_acl_set_count(st->s), k = 0;
    struct st_acl_binding *all = calloc(old + nadd + 1, sizeof(*all));
    if (!all)
        return -1;
    for (size_t i = 0; i < old; i++) {
        const struct st_acl_binding *b = st_acl_set_get(st->s, i);
        bool gone = false;
        for (size_t j = 0; j < ndel && !gone; j++)
            gone = b->rtype == del[j].rtype && b->ptype == del[j].ptype && b->op == del[j].op &&
                   b->perm == del[j].perm && !strcmp(b->name, del[j].name) &&
                   !strcmp(b->principal, del[j].principal) && !strcmp(b->host, del[j].host);
        if (!gone)
            all[k++] = *b;
    }
    if (ndel && k + ndel != old)
        __builtin_trap(); /* remove() got a binding that is not in the set, or one twice */
    if (nadd)
        memcpy(all + k, add, nadd * sizeof(*add));
    struct st_acl_set *s = st_acl_set_new(all, k + nadd);
    free(all);
    if (!s)
        return -1;
    st_acl_set_free(st->s);
    st->s = s;
    return 0;
}

static int
fz_create(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct store *st = arg;
    for (size_t i = 0; i < n; i++) {
        int16_t code;
        if (st_acl_binding_validate(&b[i], err, &code) != 0)
            __builtin_trap(); /* only validated bindings are created */
    }
    if (st->fail) {
        *err = "store failure";
        return -1;
    }
    return rebuild(st, b, n, NULL, 0);
}

static int
fz_remove(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct store *st = arg;
    if (st->fail) {
        *err = "store failure";
        return -1;
    }
    return rebuild(st, NULL, 0, b, n);
}

static const struct st_acl_store_ops ops = {fz_current, fz_create, fz_remove};

static void
run(int16_t key, int16_t ver, const uint8_t *body, size_t len, int fail)
{
    static const struct st_acl_binding seed[] = {
        {2, "orders", 3, "User:alice", "*", 3, 3},       {2, "pay-", 4, "User:*", "*", 2, 2},
        {2, "*", 3, "User:bob", "10.0.0.1", 8, 3},       {3, "g", 3, "User:alice", "*", 3, 3},
        {4, "kafka-cluster", 3, "User:ops", "*", 12, 3},
    };
    struct store st = {st_acl_set_new(seed, sizeof(seed) / sizeof(seed[0])), fail};
    if (!st.s)
        return;
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    int rc = st_acl_wire_answer(key, ver, body, len, &ops, &st, &out, &err);
    if (rc != 0 && (st_buf_used(&out) != 0 || !err))
        __builtin_trap();
    if (rc == 0) {
        const struct st_kmsg *m = st_kschema_msg(key, true);
        struct st_karena a;
        st_karena_init(&a, 0);
        struct st_kdoc d;
        static const uint8_t empty[1];
        const uint8_t *p = st_buf_used(&out) ? st_buf_head(&out) : empty;
        if (st_kdoc_decode(&a, m, ver, p, st_buf_used(&out), &d, &err) != 0 || d.trailing_len)
            __builtin_trap();
        st_karena_free(&a);
    }
    for (size_t i = 0; i < st_acl_set_count(st.s); i++) {
        const struct st_acl_binding *b = st_acl_set_get(st.s, i);
        int16_t code;
        if (st_acl_binding_validate(b, &err, &code) != 0)
            __builtin_trap();
        struct st_acl_decision dec;
        st_acl_authorize(st.s, NULL, b->principal, b->host, (enum st_acl_op)b->op,
                         (enum st_acl_rtype)b->rtype, (const uint8_t *)b->name, strlen(b->name),
                         &dec);
        /* A binding of the set always decides a lookup of its own name (ALL/ALLOW or a DENY). */
        if (!dec.match)
            __builtin_trap();
    }
    st_buf_free(&out);
    st_acl_set_free(st.s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int16_t key = (int16_t)(29 + data[0] % 3);
    int16_t ver = (int16_t)(data[1] % 5);
    int fail = (data[0] / 3) & 1;
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
            if (copy) {
                if (n)
                    memcpy(copy, st_buf_head(&b), n);
                run(key, ver, copy, n, fail);
                free(copy);
            }
        }
        st_buf_free(&b);
        st_karena_free(&a);
        return 0;
    }
    run(key, ver, data + 2, size - 2, fail);
    return 0;
}
