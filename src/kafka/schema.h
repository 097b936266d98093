/*
 * Kafka codec: the generic schema interpreter over the generated tables (schema_gen.h).
 *
 *   - st_kschema_skip():   validate a message body and find its end, no allocation
 *   - st_kschema_walk():   same walk, calling a visitor for fields marked with an entity
 *                          (topic names/ids, group ids, transactional ids, facts); no allocation
 *   - st_kdoc_decode():    decode a body into a small DOM in an arena
 *   - st_kdoc_encode():    encode a DOM back; unknown tagged fields are kept byte-exact and all
 *                          tagged fields keep their original order
 *
 * Primitive encodings follow the Kafka protocol guide: fixed-width big-endian integers, INT16/INT32
 * length strings/bytes/arrays in non-flexible versions, unsigned-varint "length + 1" compact forms
 * in flexible versions, nullable structs with an INT8 presence marker, and a tagged-field section
 * at the end of every struct in flexible versions. Nothing is ever read past the given length.
 */
#ifndef ST_KAFKA_SCHEMA_H
#define ST_KAFKA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/schema_gen.h"
#include "util/buf.h"

/* Message schema for (key, request/response), or NULL when the key is unknown. */
const struct st_kmsg *st_kschema_msg(int16_t api_key, bool response);
/* True when `ver` is within the message's validVersions. */
bool st_kschema_valid(const struct st_kmsg *m, int16_t ver);
/* True when `ver` is a flexible version of the message. */
bool st_kschema_flexible(const struct st_kmsg *m, int16_t ver);
/* True when field `f` exists (regular or tagged) in version `ver`. */
bool st_kfield_in(const struct st_kfield *f, int16_t ver);
/* True when field `f` is carried as a tagged field in version `ver`. */
bool st_kfield_tagged(const struct st_kfield *f, int16_t ver);
/* Index of the field called `name` in `st`, or -1. */
int st_kstruct_find(const struct st_kstruct *st, const char *name);

/* Bounds-checked reader over a byte range. */
struct st_krd {
    const uint8_t *p; /* start of the range */
    size_t len;       /* bytes in the range */
    size_t pos;       /* next byte to read */
};

/* Unsigned varint (at most 5 bytes, value <= UINT32_MAX). Returns 0 or -1. */
int st_krd_uvarint(struct st_krd *r, uint32_t *v) __attribute__((warn_unused_result));

/*
 * Validates a message body of (m, ver) and sets *consumed to the number of bytes it spans
 * (trailing bytes beyond it are the caller's concern). No allocation.
 * Returns 0, or -1 with *err (static text) when the body is truncated or malformed.
 */
int st_kschema_skip(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                    size_t *consumed, const char **err) __attribute__((warn_unused_result));

/*
 * Walks the regular (untagged) top-level fields of a flexible body and sets *tags_off to the
 * offset of the top-level tagged-field section. Used by the Produce/Fetch NodeEndpoints fast path.
 * Returns 0, or -1 with *err (also when the version is not flexible).
 */
int st_kschema_skip_to_tags(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                            size_t *tags_off, const char **err) __attribute__((warn_unused_result));

/*
 * Byte span [*off, *end) of the regular top-level field with index `field` (in m->root) of a
 * body, found by skipping the fields before it. Used to splice one field (a broker list) while
 * copying the rest of the body verbatim. Returns 0, or -1 with *err.
 */
int st_kschema_field_span(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                          int field, size_t *off, size_t *end, const char **err)
    __attribute__((warn_unused_result));

/* Validates one struct instance of `st` (flexible or not) starting at r->pos; advances r. */
int st_kschema_skip_struct(const struct st_kstruct *st, int16_t ver, bool flex, struct st_krd *r,
                           const char **err) __attribute__((warn_unused_result));

/*
 * Innermost array element that encloses a visited field: a struct-array element, or, for an element
 * of a visited primitive array (a []string of group ids), that element itself.
 */
struct st_kelem {
    const struct st_kfield *array; /* the array field */
    size_t array_off;              /* offset of the array's count prefix in the body */
    uint32_t index;                /* element index */
    size_t off, len;               /* byte span of the element in the body */
};

/* One visited field (entity != ST_KENT_NONE). */
struct st_kvisit {
    const struct st_kfield *field; /* schema field */
    const struct st_kelem *elem;   /* innermost enclosing array element, NULL at top level */
    int depth;        /* enclosing arrays (struct arrays, plus 1 for a prim. element) */
    bool is_null;     /* null string/bytes/array */
    bool is_array;    /* the array itself (before its elements), not an element */
    int64_t i;        /* integer/bool value; array element count */
    const uint8_t *p; /* string/bytes/uuid/records data (points into the body) */
    size_t n;         /* bytes at p */
    size_t off, len;  /* byte span of the value encoding in the body */
};

/* Visitor: return 0 to continue, -1 to stop the walk (which then fails with "stopped"). */
typedef int (*st_kvisit_fn)(void *arg, const struct st_kvisit *v);

/*
 * Like st_kschema_skip(), calling `fn` for each field whose entity is not ST_KENT_NONE, in wire
 * order (primitive array elements are visited one by one after the array itself, each with an
 * st_kelem of its own and one more level of depth). No allocation.
 */
int st_kschema_walk(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                    st_kvisit_fn fn, void *arg, size_t *consumed, const char **err)
    __attribute__((warn_unused_result));

/* ---- DOM ---- */

/* Bump allocator: chunks freed all at once. `limit` bounds the total bytes (0 = 64 MiB). */
struct st_karena {
    struct st_karena_chunk *head; /* newest chunk */
    size_t used;                  /* bytes handed out */
    size_t limit;                 /* maximum of used */
};

/* Initializes an empty arena (allocates nothing yet). */
void st_karena_init(struct st_karena *a, size_t limit);
/* Zeroed memory of n bytes, or NULL past the limit/OOM. Valid until st_karena_free(). */
void *st_karena_alloc(struct st_karena *a, size_t n);
/* Frees every chunk; the arena can be reused after st_karena_init(). */
void st_karena_free(struct st_karena *a);

struct st_kobj;

/* A field value. Strings/bytes point into the decoded input (or caller memory when rewritten). */
struct st_kval {
    uint8_t present;       /* field present in this version (tagged: was sent / will be sent) */
    uint8_t is_null;       /* null string/bytes/records/array/struct */
    int64_t i;             /* integers and bool as read (float64 and uint32 as raw bits) */
    const uint8_t *p;      /* string/bytes/records/uuid bytes */
    size_t n;              /* bytes at p */
    uint32_t count;        /* array element count */
    struct st_kval *elems; /* primitive array elements (count) */
    struct st_kobj *objs;  /* struct value (1) or struct array elements (count) */
};

/* A tagged field in wire order: known (field >= 0, value in vals[field]) or unknown (raw). */
struct st_ktagged {
    uint32_t tag;       /* tag number */
    int32_t field;      /* index into the struct's fields, -1 for unknown tags */
    const uint8_t *raw; /* unknown tag: its value bytes */
    size_t raw_len;     /* bytes at raw */
};

/* A struct instance. */
struct st_kobj {
    const struct st_kstruct *st; /* schema */
    struct st_kval *vals;        /* st->nfields values */
    struct st_ktagged *tags;     /* tagged fields in wire order */
    uint32_t ntags;              /* entries in tags */
    size_t off, len;             /* byte span in the decoded input */
};

/* A decoded message. */
struct st_kdoc {
    const struct st_kmsg *msg; /* schema */
    int16_t ver;               /* version */
    bool flex;                 /* flexible version */
    struct st_kobj root;       /* top-level struct */
    const uint8_t *trailing;   /* bytes after the message (kept verbatim), NULL when none */
    size_t trailing_len;       /* bytes at trailing */
};

/*
 * Decodes a body into `doc`; all memory comes from `a` and the DOM points into `body`, which must
 * outlive it. Returns 0, or -1 with *err.
 */
int st_kdoc_decode(struct st_karena *a, const struct st_kmsg *m, int16_t ver, const uint8_t *body,
                   size_t len, struct st_kdoc *doc, const char **err)
    __attribute__((warn_unused_result));
/* Appends the encoding of `doc` to `out`. Returns 0, or -1 with *err. */
int st_kdoc_encode(const struct st_kdoc *doc, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

/* Decodes one struct instance at r->pos (advancing r). */
int st_kobj_decode(struct st_karena *a, const struct st_kstruct *st, int16_t ver, bool flex,
                   struct st_krd *r, struct st_kobj *o, const char **err)
    __attribute__((warn_unused_result));
/* Decodes one value of field f at r->pos (advancing r). */
int st_kval_decode(struct st_karena *a, const struct st_kfield *f, int16_t ver, bool flex,
                   struct st_krd *r, struct st_kval *v, const char **err)
    __attribute__((warn_unused_result));
/* Appends one struct instance. */
int st_kobj_encode(const struct st_kobj *o, int16_t ver, bool flex, struct st_buf *out,
                   const char **err) __attribute__((warn_unused_result));
/* Encodes one value of field f (as it appears regularly or inside a tag). */
int st_kval_encode(const struct st_kfield *f, const struct st_kval *v, int16_t ver, bool flex,
                   struct st_buf *out, const char **err) __attribute__((warn_unused_result));

/* Value of the field called `name`, or NULL when the struct has no such field. */
struct st_kval *st_kobj_get(const struct st_kobj *o, const char *name);

#endif
