/*
 * Growable byte buffer with a read cursor: the one buffer type shared by the codec (encoders append
 * to it) and the connection layer (socket reads append, writes consume from `rpos`).
 *
 *   data ... [rpos ........ len) ........ cap
 *            ^ unconsumed bytes ^ free space
 *
 * Ownership: a struct st_buf owns `data`; st_buf_free() releases it. Growth is bounded by `max`
 * (0 = unbounded) so a peer can never make a buffer exceed its configured limit.
 */
#ifndef ST_UTIL_BUF_H
#define ST_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct st_buf {
    uint8_t *data; /* owned storage, NULL until first growth */
    size_t rpos;   /* first unconsumed byte */
    size_t len;    /* end of valid bytes */
    size_t cap;    /* allocated size of data */
    size_t max;    /* hard cap on cap, 0 = none */
};

#define ST_BUF_INIT {NULL, 0, 0, 0, 0}

void st_buf_init(struct st_buf *b, size_t max);
void st_buf_free(struct st_buf *b);
/* Empties the buffer, keeping its storage. */
void st_buf_reset(struct st_buf *b);

/* Ensures room for `n` more bytes after `len` (compacting first). Returns 0, or -1 past `max`/OOM. */
int st_buf_reserve(struct st_buf *b, size_t n) __attribute__((warn_unused_result));
/* Moves unconsumed bytes to the front of storage. */
void st_buf_compact(struct st_buf *b);

static inline size_t
st_buf_used(const struct st_buf *b)
{
    return b->len - b->rpos;
}
static inline uint8_t *
st_buf_head(const struct st_buf *b)
{
    /* Never NULL + 0: an untouched buffer has no storage yet. */
    return b->data ? b->data + b->rpos : NULL;
}
static inline size_t
st_buf_room(const struct st_buf *b)
{
    return b->cap - b->len;
}

int st_buf_append(struct st_buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int st_buf_append_u8(struct st_buf *b, uint8_t v) __attribute__((warn_unused_result));
int st_buf_append_i16(struct st_buf *b, int16_t v) __attribute__((warn_unused_result));
int st_buf_append_i32(struct st_buf *b, int32_t v) __attribute__((warn_unused_result));
int st_buf_append_i64(struct st_buf *b, int64_t v) __attribute__((warn_unused_result));
/* Unsigned LEB128 varint (Kafka flexible versions). */
int st_buf_append_uvarint(struct st_buf *b, uint64_t v) __attribute__((warn_unused_result));
/* Zig-zag signed varint (record batches). */
int st_buf_append_varint(struct st_buf *b, int64_t v) __attribute__((warn_unused_result));
/*
 * Overwrites 4 bytes at offset `off` from the first unconsumed byte (st_buf_head) with big-endian
 * `v` (length patching). Offsets relative to the head stay valid when appends compact the buffer.
 */
void st_buf_put_i32_at(struct st_buf *b, size_t off, int32_t v);

/*
 * Replaces bytes [off, off+old_len) with `n` bytes of `p`, shifting the tail (in-place splice).
 * Offsets are absolute into data. Returns 0 or -1 (limit/OOM; buffer unchanged).
 */
int st_buf_splice(struct st_buf *b, size_t off, size_t old_len, const void *p, size_t n)
    __attribute__((warn_unused_result));

/* Marks `n` bytes consumed; resets to empty when everything is consumed. */
void st_buf_consume(struct st_buf *b, size_t n);

/* Big-endian readers on raw memory (caller checked bounds). */
static inline int16_t
st_rd_i16(const uint8_t *p)
{
    return (int16_t)(((uint16_t)p[0] << 8) | p[1]);
}
static inline int32_t
st_rd_i32(const uint8_t *p)
{
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]);
}
static inline int64_t
st_rd_i64(const uint8_t *p)
{
    return (int64_t)(((uint64_t)(uint32_t)st_rd_i32(p) << 32) | (uint32_t)st_rd_i32(p + 4));
}
static inline void
st_wr_i32(uint8_t *p, int32_t v)
{
    p[0] = (uint8_t)((uint32_t)v >> 24);
    p[1] = (uint8_t)((uint32_t)v >> 16);
    p[2] = (uint8_t)((uint32_t)v >> 8);
    p[3] = (uint8_t)v;
}
static inline void
st_wr_i16(uint8_t *p, int16_t v)
{
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}

#endif
