/*
 * Kafka codec: synthesizes well-formed messages of any (key, version, direction) from the schema,
 * with deterministic pseudo-random values, nulls, tagged fields (known and unknown). Unit tests
 * and fuzz targets use it to cover every version of every message without captured vectors.
 */
#include "kafka/synth.h"

#include <string.h>

struct synth {
    struct st_karena *a; /* arena */
    uint64_t s;          /* xorshift state */
    int depth;           /* struct nesting */
};

static uint32_t
rnd(struct synth *y)
{
    y->s ^= y->s << 13;
    y->s ^= y->s >> 7;
    y->s ^= y->s << 17;
    return (uint32_t)(y->s >> 11);
}

static inline bool
in_range(int16_t lo, int16_t hi, int16_t v)
{
    return lo >= 0 && v >= lo && v <= hi;
}

static int synth_struct(struct synth *y, const struct st_kstruct *st, int16_t ver,
                        struct st_kobj *o);

static int
synth_bytes(struct synth *y, struct st_kval *v, size_t n, bool text)
{
    uint8_t *p = st_karena_alloc(y->a, n ? n : 1);
    if (!p)
        return -1;
    for (size_t i = 0; i < n; i++)
        p[i] = text ? (uint8_t)('a' + rnd(y) % 26) : (uint8_t)rnd(y);
    v->p = p;
    v->n = n;
    return 0;
}

static int
synth_scalar(struct synth *y, const struct st_kfield *f, int16_t ver, struct st_kval *v)
{
    v->present = 1;
    switch (f->type) {
    case ST_KT_BOOL:
        v->i = rnd(y) & 1;
        return 0;
    case ST_KT_INT8:
        v->i = (int8_t)rnd(y);
        return 0;
    case ST_KT_INT16:
        v->i = (int16_t)rnd(y);
        return 0;
    case ST_KT_UINT16:
        v->i = (uint16_t)rnd(y);
        return 0;
    case ST_KT_INT32:
        v->i = (int32_t)rnd(y);
        return 0;
    case ST_KT_UINT32:
        v->i = rnd(y);
        return 0;
    case ST_KT_INT64:
    case ST_KT_FLOAT64:
        v->i = (int64_t)(((uint64_t)rnd(y) << 32) ^ rnd(y));
        return 0;
    case ST_KT_UUID:
        return synth_bytes(y, v, 16, false);
    default:
        if (in_range(f->null_min, f->null_max, ver) && rnd(y) % 4 == 0) {
            v->is_null = 1;
            return 0;
        }
        return synth_bytes(y, v, rnd(y) % 9, f->type == ST_KT_STRING);
    }
}

static int
synth_value(struct synth *y, const struct st_kfield *f, int16_t ver, struct st_kval *v)
{
    bool can_null = in_range(f->null_min, f->null_max, ver);
    if (!f->is_array && f->type != ST_KT_STRUCT)
        return synth_scalar(y, f, ver, v);
    v->present = 1;
    if (can_null && rnd(y) % 4 == 0) {
        v->is_null = 1;
        return 0;
    }
    if (!f->is_array) {
        v->count = 1;
        v->objs = st_karena_alloc(y->a, sizeof(*v->objs));
        return v->objs ? synth_struct(y, f->sub, ver, v->objs) : -1;
    }
    uint32_t n = y->depth > 3 ? 0 : rnd(y) % 3;
    v->count = n;
    if (n == 0)
        return 0;
    if (f->type == ST_KT_STRUCT) {
        v->objs = st_karena_alloc(y->a, n * sizeof(*v->objs));
        if (!v->objs)
            return -1;
        for (uint32_t i = 0; i < n; i++)
            if (synth_struct(y, f->sub, ver, &v->objs[i]) < 0)
                return -1;
        return 0;
    }
    v->elems = st_karena_alloc(y->a, n * sizeof(*v->elems));
    if (!v->elems)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        /* Elements of nullable arrays are never null themselves. */
        struct st_kfield ef = *f;
        ef.null_min = ef.null_max = -1;
        if (synth_scalar(y, &ef, ver, &v->elems[i]) < 0)
            return -1;
    }
    return 0;
}

static int
synth_struct(struct synth *y, const struct st_kstruct *st, int16_t ver, struct st_kobj *o)
{
    o->st = st;
    o->vals = st_karena_alloc(y->a, (st->nfields ? st->nfields : 1) * sizeof(*o->vals));
    /* At most one entry per field plus one unknown tag. */
    o->tags = st_karena_alloc(y->a, (st->nfields + 1u) * sizeof(*o->tags));
    if (!o->vals || !o->tags)
        return -1;
    y->depth++;
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        bool tagged = f->tag >= 0 && in_range(f->tag_min, f->tag_max, ver);
        if (!tagged && !in_range(f->v_min, f->v_max, ver))
            continue;
        if (tagged && rnd(y) % 2 == 0)
            continue;
        if (synth_value(y, f, ver, &o->vals[i]) < 0) {
            y->depth--;
            return -1;
        }
    }
    /* Tagged fields in ascending tag order; an unknown tag (90+) sometimes. */
    for (int32_t tag = 0; tag < 64; tag++)
        for (int i = 0; i < st->nfields; i++)
            if (st->fields[i].tag == tag && o->vals[i].present &&
                in_range(st->fields[i].tag_min, st->fields[i].tag_max, ver))
                o->tags[o->ntags++] = (struct st_ktagged){(uint32_t)tag, i, NULL, 0};
    if (rnd(y) % 3 == 0) {
        struct st_kval raw = {0};
        if (synth_bytes(y, &raw, rnd(y) % 5, false) < 0) {
            y->depth--;
            return -1;
        }
        o->tags[o->ntags++] = (struct st_ktagged){90 + rnd(y) % 10, -1, raw.p, raw.n};
    }
    y->depth--;
    return 0;
}

int
st_kdoc_synth(struct st_karena *a, const struct st_kmsg *m, int16_t ver, uint32_t seed,
              struct st_kdoc *doc)
{
    memset(doc, 0, sizeof(*doc));
    if (!st_kschema_valid(m, ver))
        return -1;
    doc->msg = m;
    doc->ver = ver;
    doc->flex = st_kschema_flexible(m, ver);
    struct synth y = {a, 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull), 0};
    if (y.s == 0)
        y.s = 1;
    return synth_struct(&y, m->root, ver, &doc->root);
}
