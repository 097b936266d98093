/*
 * Kafka codec: the schema interpreter. Walks message bodies field by field as described by the
 * generated tables (schema_gen.c): validation/skip and entity visiting without allocation, and a
 * DOM decoder/encoder backed by a bump arena. See schema.h for the encoding rules.
 */
#include "kafka/schema.h"

#include <stdlib.h>
#include <string.h>

/* ---- schema lookups ---- */

const struct st_kmsg *
st_kschema_msg(int16_t api_key, bool response)
{
    if (api_key < 0 || api_key > ST_KSCHEMA_MAX_KEY)
        return NULL;
    const struct st_kmsg *m =
        response ? &st_kschema_responses[api_key] : &st_kschema_requests[api_key];
    return m->name ? m : NULL;
}

bool
st_kschema_valid(const struct st_kmsg *m, int16_t ver)
{
    return m && ver >= m->v_min && ver <= m->v_max;
}

bool
st_kschema_flexible(const struct st_kmsg *m, int16_t ver)
{
    return m && m->flex_min >= 0 && ver >= m->flex_min;
}

static inline bool
in_range(int16_t lo, int16_t hi, int16_t v)
{
    return lo >= 0 && v >= lo && v <= hi;
}

bool
st_kfield_in(const struct st_kfield *f, int16_t ver)
{
    return in_range(f->v_min, f->v_max, ver) ||
           (f->tag >= 0 && in_range(f->tag_min, f->tag_max, ver));
}

bool
st_kfield_tagged(const struct st_kfield *f, int16_t ver)
{
    return f->tag >= 0 && in_range(f->tag_min, f->tag_max, ver);
}

int
st_kstruct_find(const struct st_kstruct *st, const char *name)
{
    for (int i = 0; i < st->nfields; i++)
        if (strcmp(st->fields[i].name, name) == 0)
            return i;
    return -1;
}

/* Inline twins of st_kfield_tagged() for the walkers' inner loops. */
static inline bool
is_tagged(const struct st_kfield *f, int16_t ver)
{
    return f->tag >= 0 && in_range(f->tag_min, f->tag_max, ver);
}

static inline bool
nullable(const struct st_kfield *f, int16_t ver)
{
    return in_range(f->null_min, f->null_max, ver);
}

/* ---- primitive readers ---- */

static inline size_t
rd_left(const struct st_krd *r)
{
    return r->len - r->pos;
}

int
st_krd_uvarint(struct st_krd *r, uint32_t *v)
{
    if (r->pos < r->len && !(r->p[r->pos] & 0x80)) {
        *v = r->p[r->pos++]; /* one-byte fast path */
        return 0;
    }
    uint64_t x = 0;
    for (int i = 0; i < 5; i++) {
        if (r->pos >= r->len)
            return -1;
        uint8_t b = r->p[r->pos++];
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (x > UINT32_MAX)
                return -1;
            *v = (uint32_t)x;
            return 0;
        }
    }
    return -1;
}

static int
fixed_width(uint8_t type)
{
    switch (type) {
    case ST_KT_BOOL:
    case ST_KT_INT8:
        return 1;
    case ST_KT_INT16:
    case ST_KT_UINT16:
        return 2;
    case ST_KT_INT32:
    case ST_KT_UINT32:
        return 4;
    case ST_KT_INT64:
    case ST_KT_FLOAT64:
        return 8;
    case ST_KT_UUID:
        return 16;
    default:
        return 0;
    }
}

static int64_t
rd_fixed(const uint8_t *p, uint8_t type)
{
    switch (type) {
    case ST_KT_BOOL:
        return p[0];
    case ST_KT_INT8:
        return (int8_t)p[0];
    case ST_KT_INT16:
        return st_rd_i16(p);
    case ST_KT_UINT16:
        return (uint16_t)st_rd_i16(p);
    case ST_KT_INT32:
        return st_rd_i32(p);
    case ST_KT_UINT32:
        return (uint32_t)st_rd_i32(p);
    default:
        return st_rd_i64(p);
    }
}

/*
 * Reads a length/count prefix: compact (uvarint n+1, 0 = null) or fixed (`width` 2 or 4 bytes,
 * -1 = null). Sets *is_null and *n.
 */
static int
rd_len(struct st_krd *r, bool compact, int width, bool *is_null, size_t *n, const char **err)
{
    *is_null = false;
    if (compact) {
        uint32_t v;
        if (st_krd_uvarint(r, &v) < 0) {
            *err = "truncated or invalid varint length";
            return -1;
        }
        if (v == 0)
            *is_null = true;
        else
            *n = v - 1;
        return 0;
    }
    if (rd_left(r) < (size_t)width) {
        *err = "truncated length";
        return -1;
    }
    int32_t v = width == 2 ? st_rd_i16(r->p + r->pos) : st_rd_i32(r->p + r->pos);
    r->pos += (size_t)width;
    if (v == -1) {
        *is_null = true;
    } else if (v < 0) {
        *err = "negative length";
        return -1;
    } else {
        *n = (size_t)v;
    }
    return 0;
}

/* ---- validation walk (no allocation) ---- */

struct wctx {
    st_kvisit_fn fn;             /* visitor, NULL for a plain skip */
    void *arg;                   /* visitor argument */
    const char **err;            /* error out */
    const struct st_kelem *elem; /* innermost enclosing element */
    int depth;                   /* enclosing struct arrays */
};

static int walk_struct(struct wctx *c, const struct st_kstruct *st, int16_t ver, bool flex,
                       struct st_krd *r, size_t *tags_off);

static int
visit(struct wctx *c, struct st_kvisit *v)
{
    v->elem = c->elem;
    v->depth = c->depth;
    if (c->fn(c->arg, v) < 0) {
        *c->err = "stopped by visitor";
        return -1;
    }
    return 0;
}

/* One scalar (non-array, non-struct) value of type f->type. */
static int
walk_scalar(struct wctx *c, const struct st_kfield *f, int16_t ver, bool flex, bool elem,
            struct st_krd *r)
{
    int w = fixed_width(f->type);
    bool report = c->fn && f->entity != ST_KENT_NONE;
    if (w && !report) {
        /* Fast path of a plain skip: no visit record. */
        if (rd_left(r) < (size_t)w) {
            *c->err = "truncated field";
            return -1;
        }
        r->pos += (size_t)w;
        return 0;
    }
    struct st_kvisit v;
    v.field = f;
    v.off = r->pos;
    v.is_null = false;
    v.is_array = false;
    v.i = 0;
    v.p = NULL;
    v.n = 0;
    if (w) {
        if (rd_left(r) < (size_t)w) {
            *c->err = "truncated field";
            return -1;
        }
        v.p = r->p + r->pos;
        v.n = (size_t)w;
        if (w <= 8)
            v.i = rd_fixed(v.p, f->type);
        r->pos += (size_t)w;
    } else {
        bool compact = flex && !f->no_flex;
        size_t n = 0;
        if (rd_len(r, compact, f->type == ST_KT_STRING ? 2 : 4, &v.is_null, &n, c->err) < 0)
            return -1;
        if (v.is_null) {
            if (elem || !nullable(f, ver)) {
                *c->err = "null in a non-nullable field";
                return -1;
            }
        } else {
            if (rd_left(r) < n) {
                *c->err = "truncated string/bytes";
                return -1;
            }
            v.p = r->p + r->pos;
            v.n = n;
            r->pos += n;
        }
    }
    if (!report)
        return 0;
    v.len = r->pos - v.off;
    return visit(c, &v);
}

static int
walk_value(struct wctx *c, const struct st_kfield *f, int16_t ver, bool flex, struct st_krd *r)
{
    if (!f->is_array) {
        if (f->type != ST_KT_STRUCT)
            return walk_scalar(c, f, ver, flex, false, r);
        if (nullable(f, ver)) {
            if (rd_left(r) < 1) {
                *c->err = "truncated struct marker";
                return -1;
            }
            int8_t mark = (int8_t)r->p[r->pos++];
            if (mark < 0)
                return 0;
        }
        return walk_struct(c, f->sub, ver, flex, r, NULL);
    }
    struct st_kvisit av = {.field = f, .is_array = true, .off = r->pos};
    size_t count = 0;
    if (rd_len(r, flex && !f->no_flex, 4, &av.is_null, &count, c->err) < 0)
        return -1;
    if (av.is_null && !nullable(f, ver)) {
        *c->err = "null in a non-nullable array";
        return -1;
    }
    if (count > rd_left(r)) {
        *c->err = "array count exceeds the frame";
        return -1;
    }
    av.i = (int64_t)count;
    av.len = r->pos - av.off;
    if (c->fn && f->entity != ST_KENT_NONE && visit(c, &av) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (f->type != ST_KT_STRUCT) {
            if (!c->fn || f->entity == ST_KENT_NONE) {
                if (walk_scalar(c, f, ver, flex, true, r) < 0)
                    return -1;
                continue;
            }
            /* Visited primitive element: its own span is the element (one extra level). */
            struct st_kelem e = {
                .array = f, .array_off = av.off, .index = (uint32_t)i, .off = r->pos};
            struct st_krd pre = *r;
            struct wctx skip = {.err = c->err};
            if (walk_scalar(&skip, f, ver, flex, true, &pre) < 0)
                return -1;
            e.len = pre.pos - e.off;
            const struct st_kelem *saved = c->elem;
            c->elem = &e;
            c->depth++;
            int rc = walk_scalar(c, f, ver, flex, true, r);
            c->depth--;
            c->elem = saved;
            if (rc < 0)
                return -1;
            continue;
        }
        if (!c->fn) {
            if (walk_struct(c, f->sub, ver, flex, r, NULL) < 0)
                return -1;
            continue;
        }
        /* Visiting: find the element's extent first so visited fields know their element. */
        struct st_kelem e = {.array = f, .array_off = av.off, .index = (uint32_t)i, .off = r->pos};
        struct st_krd pre = *r;
        struct wctx skip = {.err = c->err};
        if (walk_struct(&skip, f->sub, ver, flex, &pre, NULL) < 0)
            return -1;
        e.len = pre.pos - e.off;
        const struct st_kelem *saved = c->elem;
        c->elem = &e;
        c->depth++;
        int rc = walk_struct(c, f->sub, ver, flex, r, NULL);
        c->depth--;
        c->elem = saved;
        if (rc < 0)
            return -1;
    }
    return 0;
}

static const struct st_kfield *
find_tag(const struct st_kstruct *st, int16_t ver, uint32_t tag, int *idx)
{
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        if (f->tag >= 0 && (uint32_t)f->tag == tag && is_tagged(f, ver)) {
            *idx = i;
            return f;
        }
    }
    return NULL;
}

/* Reads the header of one tagged field; sets *tag and *size and checks size against the frame. */
static int
rd_tag_hdr(struct st_krd *r, uint32_t *tag, uint32_t *size, const char **err)
{
    if (st_krd_uvarint(r, tag) < 0 || st_krd_uvarint(r, size) < 0) {
        *err = "truncated tagged field header";
        return -1;
    }
    if (*size > rd_left(r)) {
        *err = "tagged field exceeds the frame";
        return -1;
    }
    return 0;
}

static int
walk_struct(struct wctx *c, const struct st_kstruct *st, int16_t ver, bool flex, struct st_krd *r,
            size_t *tags_off)
{
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        if (!in_range(f->v_min, f->v_max, ver) || is_tagged(f, ver))
            continue;
        if (walk_value(c, f, ver, flex, r) < 0)
            return -1;
    }
    if (!flex)
        return 0;
    if (tags_off) {
        *tags_off = r->pos;
        return 0;
    }
    uint32_t ntags;
    if (st_krd_uvarint(r, &ntags) < 0) {
        *c->err = "truncated tagged fields";
        return -1;
    }
    if (ntags > rd_left(r)) {
        *c->err = "tagged field count exceeds the frame";
        return -1;
    }
    for (uint32_t t = 0; t < ntags; t++) {
        uint32_t tag, size;
        if (rd_tag_hdr(r, &tag, &size, c->err) < 0)
            return -1;
        int idx;
        const struct st_kfield *f = find_tag(st, ver, tag, &idx);
        if (f) {
            struct st_krd sub = {r->p, r->pos + size, r->pos};
            if (walk_value(c, f, ver, true, &sub) < 0)
                return -1;
            if (sub.pos != sub.len) {
                *c->err = "tagged field size mismatch";
                return -1;
            }
        }
        r->pos += size;
    }
    return 0;
}

int
st_kschema_skip_struct(const struct st_kstruct *st, int16_t ver, bool flex, struct st_krd *r,
                       const char **err)
{
    struct wctx c = {.err = err};
    return walk_struct(&c, st, ver, flex, r, NULL);
}

int
st_kschema_walk(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                st_kvisit_fn fn, void *arg, size_t *consumed, const char **err)
{
    if (!st_kschema_valid(m, ver)) {
        *err = "unsupported message version";
        return -1;
    }
    struct wctx c = {.fn = fn, .arg = arg, .err = err};
    struct st_krd r = {body, len, 0};
    if (walk_struct(&c, m->root, ver, st_kschema_flexible(m, ver), &r, NULL) < 0)
        return -1;
    if (consumed)
        *consumed = r.pos;
    return 0;
}

int
st_kschema_skip(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                size_t *consumed, const char **err)
{
    return st_kschema_walk(m, ver, body, len, NULL, NULL, consumed, err);
}

int
st_kschema_skip_to_tags(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                        size_t *tags_off, const char **err)
{
    if (!st_kschema_valid(m, ver) || !st_kschema_flexible(m, ver)) {
        *err = "not a flexible message version";
        return -1;
    }
    struct wctx c = {.err = err};
    struct st_krd r = {body, len, 0};
    return walk_struct(&c, m->root, ver, true, &r, tags_off);
}

int
st_kschema_field_span(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                      int field, size_t *off, size_t *end, const char **err)
{
    if (!st_kschema_valid(m, ver) || field < 0 || field >= m->root->nfields) {
        *err = "unsupported message version";
        return -1;
    }
    const struct st_kfield *target = &m->root->fields[field];
    if (!in_range(target->v_min, target->v_max, ver) || is_tagged(target, ver)) {
        *err = "field not present in this version";
        return -1;
    }
    bool flex = st_kschema_flexible(m, ver);
    struct wctx c = {.err = err};
    struct st_krd r = {body, len, 0};
    for (int i = 0; i <= field; i++) {
        const struct st_kfield *f = &m->root->fields[i];
        if (!in_range(f->v_min, f->v_max, ver) || is_tagged(f, ver))
            continue;
        if (i == field)
            *off = r.pos;
        if (walk_value(&c, f, ver, flex, &r) < 0)
            return -1;
    }
    *end = r.pos;
    return 0;
}

/* ---- arena ---- */

struct st_karena_chunk {
    struct st_karena_chunk *next; /* older chunk */
    size_t size;                  /* usable bytes in data */
    size_t used;                  /* bytes handed out from data */
    max_align_t data[];           /* storage */
};

void
st_karena_init(struct st_karena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit ? limit : (size_t)64 << 20;
}

void *
st_karena_alloc(struct st_karena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (n > a->limit - a->used || a->used > a->limit)
        return NULL;
    struct st_karena_chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 16384 ? n : 16384;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->next = a->head;
        c->size = size;
        c->used = 0;
        a->head = c;
    }
    void *p = (uint8_t *)c->data + c->used;
    c->used += n;
    a->used += n;
    memset(p, 0, n);
    return p;
}

void
st_karena_free(struct st_karena *a)
{
    struct st_karena_chunk *c = a->head;
    while (c) {
        struct st_karena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

/* ---- DOM decode ---- */

static int dec_struct(struct st_karena *a, const struct st_kstruct *st, int16_t ver, bool flex,
                      struct st_krd *r, struct st_kobj *o, const char **err);

static int
dec_scalar(const struct st_kfield *f, int16_t ver, bool flex, bool elem, struct st_krd *r,
           struct st_kval *v, const char **err)
{
    int w = fixed_width(f->type);
    v->present = 1;
    if (w) {
        if (rd_left(r) < (size_t)w) {
            *err = "truncated field";
            return -1;
        }
        v->p = r->p + r->pos;
        v->n = (size_t)w;
        if (w <= 8)
            v->i = f->type == ST_KT_FLOAT64 ? st_rd_i64(v->p) : rd_fixed(v->p, f->type);
        r->pos += (size_t)w;
        return 0;
    }
    bool is_null;
    size_t n = 0;
    if (rd_len(r, flex && !f->no_flex, f->type == ST_KT_STRING ? 2 : 4, &is_null, &n, err) < 0)
        return -1;
    if (is_null) {
        if (elem || !nullable(f, ver)) {
            *err = "null in a non-nullable field";
            return -1;
        }
        v->is_null = 1;
        return 0;
    }
    if (rd_left(r) < n) {
        *err = "truncated string/bytes";
        return -1;
    }
    v->p = r->p + r->pos;
    v->n = n;
    r->pos += n;
    return 0;
}

static int
dec_value(struct st_karena *a, const struct st_kfield *f, int16_t ver, bool flex, struct st_krd *r,
          struct st_kval *v, const char **err)
{
    if (!f->is_array) {
        if (f->type != ST_KT_STRUCT)
            return dec_scalar(f, ver, flex, false, r, v, err);
        v->present = 1;
        if (nullable(f, ver)) {
            if (rd_left(r) < 1) {
                *err = "truncated struct marker";
                return -1;
            }
            int8_t mark = (int8_t)r->p[r->pos++];
            if (mark < 0) {
                v->is_null = 1;
                return 0;
            }
        }
        v->count = 1;
        v->objs = st_karena_alloc(a, sizeof(*v->objs));
        if (!v->objs) {
            *err = "decode arena limit";
            return -1;
        }
        return dec_struct(a, f->sub, ver, flex, r, v->objs, err);
    }
    v->present = 1;
    bool is_null;
    size_t count = 0;
    if (rd_len(r, flex && !f->no_flex, 4, &is_null, &count, err) < 0)
        return -1;
    if (is_null) {
        if (!nullable(f, ver)) {
            *err = "null in a non-nullable array";
            return -1;
        }
        v->is_null = 1;
        return 0;
    }
    if (count > rd_left(r)) {
        *err = "array count exceeds the frame";
        return -1;
    }
    v->count = (uint32_t)count;
    if (count == 0)
        return 0;
    if (f->type == ST_KT_STRUCT) {
        v->objs = st_karena_alloc(a, count * sizeof(*v->objs));
        if (!v->objs) {
            *err = "decode arena limit";
            return -1;
        }
        for (size_t i = 0; i < count; i++)
            if (dec_struct(a, f->sub, ver, flex, r, &v->objs[i], err) < 0)
                return -1;
        return 0;
    }
    v->elems = st_karena_alloc(a, count * sizeof(*v->elems));
    if (!v->elems) {
        *err = "decode arena limit";
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (dec_scalar(f, ver, flex, true, r, &v->elems[i], err) < 0)
            return -1;
    return 0;
}

static int
dec_struct(struct st_karena *a, const struct st_kstruct *st, int16_t ver, bool flex,
           struct st_krd *r, struct st_kobj *o, const char **err)
{
    o->st = st;
    o->off = r->pos;
    o->vals = st_karena_alloc(a, (st->nfields ? st->nfields : 1) * sizeof(*o->vals));
    if (!o->vals) {
        *err = "decode arena limit";
        return -1;
    }
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        if (!in_range(f->v_min, f->v_max, ver) || is_tagged(f, ver))
            continue;
        if (dec_value(a, f, ver, flex, r, &o->vals[i], err) < 0)
            return -1;
    }
    if (flex) {
        uint32_t ntags;
        if (st_krd_uvarint(r, &ntags) < 0) {
            *err = "truncated tagged fields";
            return -1;
        }
        if (ntags > rd_left(r)) {
            *err = "tagged field count exceeds the frame";
            return -1;
        }
        if (ntags) {
            o->tags = st_karena_alloc(a, ntags * sizeof(*o->tags));
            if (!o->tags) {
                *err = "decode arena limit";
                return -1;
            }
        }
        for (uint32_t t = 0; t < ntags; t++) {
            uint32_t tag, size;
            if (rd_tag_hdr(r, &tag, &size, err) < 0)
                return -1;
            struct st_ktagged *tg = &o->tags[o->ntags++];
            tg->tag = tag;
            tg->field = -1;
            int idx;
            const struct st_kfield *f = find_tag(st, ver, tag, &idx);
            if (f && !o->vals[idx].present) {
                struct st_krd sub = {r->p, r->pos + size, r->pos};
                if (dec_value(a, f, ver, true, &sub, &o->vals[idx], err) < 0)
                    return -1;
                if (sub.pos != sub.len) {
                    *err = "tagged field size mismatch";
                    return -1;
                }
                tg->field = idx;
            } else {
                /* Unknown tag, or a repeated known tag: kept verbatim. */
                tg->raw = r->p + r->pos;
                tg->raw_len = size;
            }
            r->pos += size;
        }
    }
    o->len = r->pos - o->off;
    return 0;
}

int
st_kval_decode(struct st_karena *a, const struct st_kfield *f, int16_t ver, bool flex,
               struct st_krd *r, struct st_kval *v, const char **err)
{
    memset(v, 0, sizeof(*v));
    return dec_value(a, f, ver, flex, r, v, err);
}

int
st_kobj_decode(struct st_karena *a, const struct st_kstruct *st, int16_t ver, bool flex,
               struct st_krd *r, struct st_kobj *o, const char **err)
{
    memset(o, 0, sizeof(*o));
    return dec_struct(a, st, ver, flex, r, o, err);
}

int
st_kdoc_decode(struct st_karena *a, const struct st_kmsg *m, int16_t ver, const uint8_t *body,
               size_t len, struct st_kdoc *doc, const char **err)
{
    memset(doc, 0, sizeof(*doc));
    if (!st_kschema_valid(m, ver)) {
        *err = "unsupported message version";
        return -1;
    }
    doc->msg = m;
    doc->ver = ver;
    doc->flex = st_kschema_flexible(m, ver);
    struct st_krd r = {body, len, 0};
    if (dec_struct(a, m->root, ver, doc->flex, &r, &doc->root, err) < 0)
        return -1;
    if (r.pos < len) {
        doc->trailing = body + r.pos;
        doc->trailing_len = len - r.pos;
    }
    return 0;
}

struct st_kval *
st_kobj_get(const struct st_kobj *o, const char *name)
{
    int i = st_kstruct_find(o->st, name);
    return i < 0 ? NULL : &o->vals[i];
}

/* ---- DOM encode ---- */

static int
oom(const char **err)
{
    *err = "output buffer limit";
    return -1;
}

static int
enc_len(struct st_buf *out, bool compact, int width, bool is_null, size_t n, const char **err)
{
    int rc;
    if (compact)
        rc = st_buf_append_uvarint(out, is_null ? 0 : (uint64_t)n + 1);
    else if (width == 2) {
        if (!is_null && n > INT16_MAX) {
            *err = "string too long";
            return -1;
        }
        rc = st_buf_append_i16(out, is_null ? -1 : (int16_t)n);
    } else {
        if (!is_null && n > INT32_MAX) {
            *err = "bytes too long";
            return -1;
        }
        rc = st_buf_append_i32(out, is_null ? -1 : (int32_t)n);
    }
    return rc < 0 ? oom(err) : 0;
}

static int
enc_scalar(const struct st_kfield *f, const struct st_kval *v, bool flex, struct st_buf *out,
           const char **err)
{
    int rc;
    switch (f->type) {
    case ST_KT_BOOL:
    case ST_KT_INT8:
        rc = st_buf_append_u8(out, (uint8_t)v->i);
        break;
    case ST_KT_INT16:
    case ST_KT_UINT16:
        rc = st_buf_append_i16(out, (int16_t)(uint16_t)v->i);
        break;
    case ST_KT_INT32:
    case ST_KT_UINT32:
        rc = st_buf_append_i32(out, (int32_t)(uint32_t)v->i);
        break;
    case ST_KT_INT64:
    case ST_KT_FLOAT64:
        rc = st_buf_append_i64(out, v->i);
        break;
    case ST_KT_UUID: {
        static const uint8_t zero[16];
        rc = st_buf_append(out, v->p && v->n == 16 ? v->p : zero, 16);
        break;
    }
    default:
        if (enc_len(out, flex && !f->no_flex, f->type == ST_KT_STRING ? 2 : 4, v->is_null, v->n,
                    err) < 0)
            return -1;
        rc = v->is_null || v->n == 0 ? 0 : st_buf_append(out, v->p, v->n);
        break;
    }
    return rc < 0 ? oom(err) : 0;
}

int
st_kval_encode(const struct st_kfield *f, const struct st_kval *v, int16_t ver, bool flex,
               struct st_buf *out, const char **err)
{
    if (!f->is_array) {
        if (f->type != ST_KT_STRUCT)
            return enc_scalar(f, v, flex, out, err);
        if (nullable(f, ver)) {
            if (st_buf_append_u8(out, v->is_null || !v->objs ? 0xff : 1) < 0)
                return oom(err);
            if (v->is_null || !v->objs)
                return 0;
        } else if (v->is_null || !v->objs) {
            *err = "null struct in a non-nullable field";
            return -1;
        }
        return st_kobj_encode(v->objs, ver, flex, out, err);
    }
    if (v->is_null && !nullable(f, ver)) {
        *err = "null in a non-nullable array";
        return -1;
    }
    if (enc_len(out, flex && !f->no_flex, 4, v->is_null, v->count, err) < 0)
        return -1;
    if (v->is_null)
        return 0;
    for (uint32_t i = 0; i < v->count; i++) {
        int rc = f->type == ST_KT_STRUCT ? st_kobj_encode(&v->objs[i], ver, flex, out, err)
                                         : enc_scalar(f, &v->elems[i], flex, out, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int
st_kobj_encode(const struct st_kobj *o, int16_t ver, bool flex, struct st_buf *out,
               const char **err)
{
    const struct st_kstruct *st = o->st;
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        if (!in_range(f->v_min, f->v_max, ver) || is_tagged(f, ver))
            continue;
        if (st_kval_encode(f, &o->vals[i], ver, flex, out, err) < 0)
            return -1;
    }
    if (!flex)
        return 0;
    uint32_t n = 0;
    for (uint32_t t = 0; t < o->ntags; t++)
        if (o->tags[t].field < 0 || o->vals[o->tags[t].field].present)
            n++;
    if (st_buf_append_uvarint(out, n) < 0)
        return oom(err);
    for (uint32_t t = 0; t < o->ntags; t++) {
        const struct st_ktagged *tg = &o->tags[t];
        if (tg->field < 0) {
            if (st_buf_append_uvarint(out, tg->tag) < 0 ||
                st_buf_append_uvarint(out, tg->raw_len) < 0 ||
                (tg->raw_len && st_buf_append(out, tg->raw, tg->raw_len) < 0))
                return oom(err);
            continue;
        }
        const struct st_kval *v = &o->vals[tg->field];
        if (!v->present)
            continue;
        struct st_buf tmp = ST_BUF_INIT;
        tmp.max = out->max;
        int rc = st_kval_encode(&st->fields[tg->field], v, ver, true, &tmp, err);
        if (rc == 0 &&
            (st_buf_append_uvarint(out, tg->tag) < 0 ||
             st_buf_append_uvarint(out, st_buf_used(&tmp)) < 0 ||
             (st_buf_used(&tmp) && st_buf_append(out, st_buf_head(&tmp), st_buf_used(&tmp)) < 0)))
            rc = oom(err);
        st_buf_free(&tmp);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int
st_kdoc_encode(const struct st_kdoc *doc, struct st_buf *out, const char **err)
{
    if (st_kobj_encode(&doc->root, doc->ver, doc->flex, out, err) < 0)
        return -1;
    if (doc->trailing_len && st_buf_append(out, doc->trailing, doc->trailing_len) < 0)
        return oom(err);
    return 0;
}
