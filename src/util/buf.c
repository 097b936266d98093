/*
 * Growable byte buffer (see buf.h). Growth doubles up to `max`; compaction moves unconsumed bytes to
 * the front before growing so a long-lived connection buffer does not creep.
 */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

void
st_buf_init(struct st_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
st_buf_free(struct st_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->rpos = b->len = b->cap = 0;
}

void
st_buf_reset(struct st_buf *b)
{
    b->rpos = b->len = 0;
}

void
st_buf_compact(struct st_buf *b)
{
    if (b->rpos == 0)
        return;
    size_t used = b->len - b->rpos;
    if (used)
        memmove(b->data, b->data + b->rpos, used);
    b->rpos = 0;
    b->len = used;
}

int
st_buf_reserve(struct st_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    if (b->rpos && b->cap - (b->len - b->rpos) >= n) {
        st_buf_compact(b);
        return 0;
    }
    st_buf_compact(b);
    size_t need = b->len + n;
    if (need < b->len)
        return -1;
    if (b->max && need > b->max)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (b->max && cap > b->max)
        cap = b->max;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
st_buf_append(struct st_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (st_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
st_buf_append_u8(struct st_buf *b, uint8_t v)
{
    return st_buf_append(b, &v, 1);
}

int
st_buf_append_i16(struct st_buf *b, int16_t v)
{
    uint8_t x[2];
    st_wr_i16(x, v);
    return st_buf_append(b, x, 2);
}

int
st_buf_append_i32(struct st_buf *b, int32_t v)
{
    uint8_t x[4];
    st_wr_i32(x, v);
    return st_buf_append(b, x, 4);
}

int
st_buf_append_i64(struct st_buf *b, int64_t v)
{
    uint8_t x[8];
    st_wr_i32(x, (int32_t)((uint64_t)v >> 32));
    st_wr_i32(x + 4, (int32_t)(uint32_t)v);
    return st_buf_append(b, x, 8);
}

int
st_buf_append_uvarint(struct st_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    while (v >= 0x80) {
        x[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    x[n++] = (uint8_t)v;
    return st_buf_append(b, x, n);
}

int
st_buf_append_varint(struct st_buf *b, int64_t v)
{
    return st_buf_append_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void
st_buf_put_i32_at(struct st_buf *b, size_t off, int32_t v)
{
    st_wr_i32(b->data + b->rpos + off, v);
}

int
st_buf_splice(struct st_buf *b, size_t off, size_t old_len, const void *p, size_t n)
{
    if (n > old_len) {
        size_t grow = n - old_len;
        /* Reserve without compaction moving `off`: compute relative to rpos. */
        size_t rel = off - b->rpos;
        if (st_buf_reserve(b, grow) != 0)
            return -1;
        off = b->rpos + rel;
    }
    size_t tail = b->len - (off + old_len);
    memmove(b->data + off + n, b->data + off + old_len, tail);
    if (n)
        memcpy(b->data + off, p, n);
    b->len = off + n + tail;
    return 0;
}

void
st_buf_consume(struct st_buf *b, size_t n)
{
    b->rpos += n;
    if (b->rpos >= b->len)
        b->rpos = b->len = 0;
}
