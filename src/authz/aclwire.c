/*
 * The wire side of Kafka ACLs (acl.h): answers CreateAcls (30), DescribeAcls (29) and DeleteAcls
 * (31) in every version the codec's schema knows, as Kafka's broker does. Requests are decoded
 * and responses built with the schema DOM (kafka/schema.h), so versions differ only in which
 * fields exist: v0 has no PatternType (LITERAL, the schema default), v2+ are flexible.
 *
 * Invalid entries are answered with their own error code and message (CreateAcls per creation,
 * DeleteAcls per filter, DescribeAcls as a whole); only an undecodable body fails the call.
 */
#include <string.h>

#include "authz/acl.h"
#include "kafka/proto.h"
#include "kafka/schema.h"

#define KEY_DESCRIBE_ACLS 29
#define KEY_CREATE_ACLS 30
#define KEY_DELETE_ACLS 31

struct wire {
    struct st_karena *req;  /* decoded request */
    struct st_karena *resp; /* response DOM and copies */
    int16_t ver;            /* API version */
    const char **err;       /* failure reason */
};

static int
oom(struct wire *w)
{
    *w->err = "out of memory answering an ACL request";
    return -1;
}

/* ---- response building ---- */

/* Initializes `o` as an empty instance of `st` whose regular fields of this version are present. */
static int
obj_init(struct wire *w, const struct st_kstruct *st, struct st_kobj *o)
{
    memset(o, 0, sizeof(*o));
    o->st = st;
    o->vals = st_karena_alloc(w->resp, (st->nfields + 1u) * sizeof(*o->vals));
    if (!o->vals)
        return oom(w);
    for (int i = 0; i < st->nfields; i++)
        o->vals[i].present =
            st_kfield_in(&st->fields[i], w->ver) && !st_kfield_tagged(&st->fields[i], w->ver);
    return 0;
}

/* Sets integer field `name` (the tables are generated: every name used here exists). */
static void
set_i(struct st_kobj *o, const char *name, int64_t i)
{
    struct st_kval *v = st_kobj_get(o, name);
    if (v)
        v->i = i;
}

/* Sets string `name` to `s` (NULL = null); `s` must outlive the encoding. */
static void
set_s(struct st_kobj *o, const char *name, const char *s)
{
    struct st_kval *v = st_kobj_get(o, name);
    if (!v)
        return;
    v->is_null = s == NULL;
    v->p = (const uint8_t *)s;
    v->n = s ? strlen(s) : 0;
}

/* Elements of struct array `name` of a decoded request (*n = 0 when null or absent). */
static const struct st_kobj *
get_arr(const struct st_kobj *o, const char *name, uint32_t *n)
{
    const struct st_kval *v = st_kobj_get(o, name);
    *n = v && v->present && !v->is_null ? v->count : 0;
    return *n ? v->objs : NULL;
}

/* Makes `name` an array of `n` fresh struct instances; returns them (NULL on OOM). */
static struct st_kobj *
set_arr(struct wire *w, struct st_kobj *o, const char *name, uint32_t n)
{
    int i = st_kstruct_find(o->st, name);
    if (i < 0) {
        *w->err = "schema has no such array";
        return NULL;
    }
    struct st_kval *v = &o->vals[i];
    v->is_null = 0;
    v->count = n;
    v->objs = st_karena_alloc(w->resp, (n ? n : 1) * sizeof(*v->objs));
    if (!v->objs) {
        oom(w);
        return NULL;
    }
    for (uint32_t k = 0; k < n; k++)
        if (obj_init(w, o->st->fields[i].sub, &v->objs[k]) < 0)
            return NULL;
    return v->objs;
}

/* Copies `s` into the response arena (the set or an ops message may go away); NULL on OOM. */
static char *
keep(struct wire *w, const char *s)
{
    size_t n = strlen(s);
    char *c = st_karena_alloc(w->resp, n + 1);
    if (c)
        memcpy(c, s, n);
    return c;
}

/* An ops failure message that outlives the ops call. */
static const char *
keep_msg(struct wire *w, const char *s, const char *def)
{
    const char *c = keep(w, s ? s : def);
    return c ? c : def;
}

/* ---- request reading ---- */

/* Integer field, or `def` when the field does not exist in this version. */
static int
get_i(const struct st_kobj *o, const char *name, int def)
{
    struct st_kval *v = st_kobj_get(o, name);
    return v && v->present ? (int)v->i : def;
}

/*
 * String field as a NUL-terminated copy in the request arena: *out = NULL for null. Sets *bad
 * when the string holds a NUL byte or is not UTF-8 (no valid name, principal or host is, and the
 * store keeps bindings as JSON). Returns 0 or -1 (OOM).
 */
static int
get_s(struct wire *w, const struct st_kobj *o, const char *name, char **out, bool *bad)
{
    struct st_kval *v = st_kobj_get(o, name);
    *out = NULL;
    if (!v || !v->present || v->is_null)
        return 0;
    if (v->n && memchr(v->p, 0, v->n))
        *bad = true;
    json_t *utf8 = *bad ? NULL : json_stringn((const char *)v->p, v->n);
    if (!utf8)
        *bad = true;
    json_decref(utf8);
    char *c = st_karena_alloc(w->req, v->n + 1);
    if (!c)
        return oom(w);
    if (v->n)
        memcpy(c, v->p, v->n);
    *out = c;
    return 0;
}

/* Reads a filter (DescribeAclsRequest root or DeleteAclsFilter). v0 has no PatternTypeFilter:
 * the schema default LITERAL applies, as in Kafka. */
static int
read_filter(struct wire *w, const struct st_kobj *o, struct st_acl_filter *f, bool *bad)
{
    char *name, *principal, *host;
    if (get_s(w, o, "ResourceNameFilter", &name, bad) < 0 ||
        get_s(w, o, "PrincipalFilter", &principal, bad) < 0 ||
        get_s(w, o, "HostFilter", &host, bad) < 0)
        return -1;
    f->rtype = (int8_t)get_i(o, "ResourceTypeFilter", ST_ACL_RT_UNKNOWN);
    f->name = name;
    f->ptype = (int8_t)get_i(o, "PatternTypeFilter", ST_ACL_PT_LITERAL);
    f->principal = principal;
    f->host = host;
    f->op = (int8_t)get_i(o, "Operation", ST_ACL_OP_UNKNOWN);
    f->perm = (int8_t)get_i(o, "PermissionType", ST_ACL_PERM_UNKNOWN);
    return 0;
}

/* ---- CreateAcls ---- */

static int
answer_create(struct wire *w, const struct st_kdoc *req, struct st_kobj *resp,
              const struct st_acl_store_ops *ops, void *arg)
{
    uint32_t n;
    const struct st_kobj *creations = get_arr(&req->root, "Creations", &n);
    set_i(resp, "ThrottleTimeMs", 0);
    struct st_kobj *res = set_arr(w, resp, "Results", n);
    struct st_acl_binding *ok = st_karena_alloc(w->req, (n ? n : 1) * sizeof(*ok));
    uint32_t *ok_idx = st_karena_alloc(w->req, (n ? n : 1) * sizeof(*ok_idx));
    if (!res || !ok || !ok_idx)
        return res ? oom(w) : -1;
    size_t nok = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct st_kobj *c = &creations[i];
        struct st_acl_binding b = {0};
        bool bad = false;
        if (get_s(w, c, "ResourceName", &b.name, &bad) < 0 ||
            get_s(w, c, "Principal", &b.principal, &bad) < 0 ||
            get_s(w, c, "Host", &b.host, &bad) < 0)
            return -1;
        b.rtype = (int8_t)get_i(c, "ResourceType", ST_ACL_RT_UNKNOWN);
        b.ptype = (int8_t)get_i(c, "ResourcePatternType", ST_ACL_PT_LITERAL);
        b.op = (int8_t)get_i(c, "Operation", ST_ACL_OP_UNKNOWN);
        b.perm = (int8_t)get_i(c, "PermissionType", ST_ACL_PERM_UNKNOWN);
        const char *msg = NULL;
        int16_t code = ST_KERR_NONE;
        if (bad) {
            code = ST_KERR_INVALID_REQUEST;
            msg = "ResourceName, Principal and Host must be UTF-8 without NUL bytes";
        } else if (st_acl_binding_validate(&b, &msg, &code) < 0) {
            if (code == ST_KERR_NONE)
                code = ST_KERR_INVALID_REQUEST;
        } else {
            ok[nok] = b;
            ok_idx[nok++] = i;
        }
        set_i(&res[i], "ErrorCode", code);
        set_s(&res[i], "ErrorMessage", msg);
    }
    const char *cerr = NULL;
    if (nok && ops->create(arg, ok, nok, &cerr) < 0) {
        const char *m = keep_msg(w, cerr, "creating the ACLs failed");
        for (size_t k = 0; k < nok; k++) {
            set_i(&res[ok_idx[k]], "ErrorCode", ST_KERR_UNKNOWN_SERVER_ERROR);
            set_s(&res[ok_idx[k]], "ErrorMessage", m);
        }
    }
    return 0;
}

/* ---- DescribeAcls ---- */

static bool
same_resource(const struct st_acl_binding *a, const struct st_acl_binding *b)
{
    return a->rtype == b->rtype && a->ptype == b->ptype && strcmp(a->name, b->name) == 0;
}

static int
answer_describe(struct wire *w, const struct st_kdoc *req, struct st_kobj *resp,
                const struct st_acl_store_ops *ops, void *arg)
{
    struct st_acl_filter f;
    bool bad = false;
    if (read_filter(w, &req->root, &f, &bad) < 0)
        return -1;
    set_i(resp, "ThrottleTimeMs", 0);
    const char *msg = NULL;
    if (bad)
        msg = "ResourceNameFilter, PrincipalFilter and HostFilter must be UTF-8 without NUL bytes";
    else if (st_acl_filter_validate(&f, &msg) == 0)
        msg = NULL;
    if (msg) {
        set_i(resp, "ErrorCode", ST_KERR_INVALID_REQUEST);
        set_s(resp, "ErrorMessage", msg);
        return set_arr(w, resp, "Resources", 0) ? 0 : -1;
    }
    set_i(resp, "ErrorCode", ST_KERR_NONE);
    set_s(resp, "ErrorMessage", NULL);
    const struct st_acl_set *s = ops->current(arg);
    size_t n = st_acl_set_count(s);
    /* The set is sorted by (rtype, ptype, name, ...): a resource's bindings are contiguous. */
    uint32_t ngroups = 0;
    const struct st_acl_binding *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct st_acl_binding *b = st_acl_set_get(s, i);
        if (!st_acl_filter_matches(&f, b))
            continue;
        if (!last || !same_resource(last, b))
            ngroups++;
        last = b;
    }
    struct st_kobj *groups = set_arr(w, resp, "Resources", ngroups);
    if (!groups)
        return -1;
    /* Second pass: count each group's bindings, then fill. */
    uint32_t *counts = st_karena_alloc(w->resp, (ngroups ? ngroups : 1) * sizeof(*counts));
    if (!counts)
        return oom(w);
    int64_t g = -1;
    last = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct st_acl_binding *b = st_acl_set_get(s, i);
        if (!st_acl_filter_matches(&f, b))
            continue;
        if (!last || !same_resource(last, b))
            g++;
        counts[g]++;
        last = b;
    }
    g = -1;
    last = NULL;
    struct st_kobj *acls = NULL;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct st_acl_binding *b = st_acl_set_get(s, i);
        if (!st_acl_filter_matches(&f, b))
            continue;
        if (!last || !same_resource(last, b)) {
            g++;
            set_i(&groups[g], "ResourceType", b->rtype);
            set_s(&groups[g], "ResourceName", b->name);
            set_i(&groups[g], "PatternType", b->ptype);
            acls = set_arr(w, &groups[g], "Acls", counts[g]);
            if (!acls)
                return -1;
            k = 0;
        }
        set_s(&acls[k], "Principal", b->principal);
        set_s(&acls[k], "Host", b->host);
        set_i(&acls[k], "Operation", b->op);
        set_i(&acls[k], "PermissionType", b->perm);
        k++;
        last = b;
    }
    return 0;
}

/* ---- DeleteAcls ---- */

/* Copies a binding into the response arena (the set may go away in remove()). */
static int
copy_binding(struct wire *w, const struct st_acl_binding *b, struct st_acl_binding *d)
{
    *d = *b;
    d->name = keep(w, b->name);
    d->principal = keep(w, b->principal);
    d->host = keep(w, b->host);
    return d->name && d->principal && d->host ? 0 : oom(w);
}

static int
answer_delete(struct wire *w, const struct st_kdoc *req, struct st_kobj *resp,
              const struct st_acl_store_ops *ops, void *arg)
{
    uint32_t nf;
    const struct st_kobj *fobjs = get_arr(&req->root, "Filters", &nf);
    set_i(resp, "ThrottleTimeMs", 0);
    struct st_kobj *res = set_arr(w, resp, "FilterResults", nf);
    if (!res)
        return -1;
    const struct st_acl_set *s = ops->current(arg);
    size_t n = st_acl_set_count(s);
    /* copy_of[i]: index into `gone` of set binding i plus one, 0 when no filter matched it. */
    size_t *copy_of = st_karena_alloc(w->req, (n ? n : 1) * sizeof(*copy_of));
    struct st_acl_binding *gone = st_karena_alloc(w->resp, (n ? n : 1) * sizeof(*gone));
    struct st_acl_filter *filters = st_karena_alloc(w->req, (nf ? nf : 1) * sizeof(*filters));
    const char **ferr = st_karena_alloc(w->req, (nf ? nf : 1) * sizeof(*ferr));
    if (!copy_of || !gone || !filters || !ferr)
        return oom(w);
    size_t ngone = 0;
    for (uint32_t i = 0; i < nf; i++) {
        bool bad = false;
        if (read_filter(w, &fobjs[i], &filters[i], &bad) < 0)
            return -1;
        if (bad)
            ferr[i] = "ResourceNameFilter, PrincipalFilter and HostFilter must be UTF-8 without "
                      "NUL bytes";
        else if (st_acl_filter_validate(&filters[i], &ferr[i]) == 0)
            ferr[i] = NULL;
        if (ferr[i])
            continue;
        for (size_t k = 0; k < n; k++) {
            const struct st_acl_binding *b = st_acl_set_get(s, k);
            if (copy_of[k] || !st_acl_filter_matches(&filters[i], b))
                continue;
            if (copy_binding(w, b, &gone[ngone]) < 0)
                return -1;
            copy_of[k] = ++ngone;
        }
    }
    /* Results are listed before remove() (the set is borrowed until then). */
    for (uint32_t i = 0; i < nf; i++) {
        if (ferr[i]) {
            set_i(&res[i], "ErrorCode", ST_KERR_INVALID_REQUEST);
            set_s(&res[i], "ErrorMessage", ferr[i]);
            if (!set_arr(w, &res[i], "MatchingAcls", 0))
                return -1;
            continue;
        }
        set_i(&res[i], "ErrorCode", ST_KERR_NONE);
        set_s(&res[i], "ErrorMessage", NULL);
        uint32_t cnt = 0;
        for (size_t k = 0; k < n; k++)
            cnt += st_acl_filter_matches(&filters[i], st_acl_set_get(s, k));
        struct st_kobj *m = set_arr(w, &res[i], "MatchingAcls", cnt);
        if (!m)
            return -1;
        uint32_t j = 0;
        for (size_t k = 0; k < n && j < cnt; k++) {
            if (!st_acl_filter_matches(&filters[i], st_acl_set_get(s, k)))
                continue;
            const struct st_acl_binding *b = &gone[copy_of[k] - 1];
            set_i(&m[j], "ErrorCode", ST_KERR_NONE);
            set_s(&m[j], "ErrorMessage", NULL);
            set_i(&m[j], "ResourceType", b->rtype);
            set_s(&m[j], "ResourceName", b->name);
            set_i(&m[j], "PatternType", b->ptype);
            set_s(&m[j], "Principal", b->principal);
            set_s(&m[j], "Host", b->host);
            set_i(&m[j], "Operation", b->op);
            set_i(&m[j], "PermissionType", b->perm);
            j++;
        }
    }
    const char *rerr = NULL;
    if (ngone && ops->remove(arg, gone, ngone, &rerr) < 0) {
        const char *m = keep_msg(w, rerr, "deleting the ACLs failed");
        for (uint32_t i = 0; i < nf; i++) {
            if (ferr[i])
                continue;
            set_i(&res[i], "ErrorCode", ST_KERR_UNKNOWN_SERVER_ERROR);
            set_s(&res[i], "ErrorMessage", m);
            if (!set_arr(w, &res[i], "MatchingAcls", 0))
                return -1;
        }
    }
    return 0;
}

/* ---- entry point ---- */

int
st_acl_wire_answer(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                   const struct st_acl_store_ops *ops, void *arg, struct st_buf *out,
                   const char **err)
{
    if (api_key != KEY_DESCRIBE_ACLS && api_key != KEY_CREATE_ACLS && api_key != KEY_DELETE_ACLS) {
        *err = "not an ACL API (CreateAcls, DescribeAcls, DeleteAcls)";
        return -1;
    }
    const struct st_kmsg *mreq = st_kschema_msg(api_key, false);
    const struct st_kmsg *mresp = st_kschema_msg(api_key, true);
    if (!mreq || !mresp || !st_kschema_valid(mreq, api_version) ||
        !st_kschema_valid(mresp, api_version)) {
        *err = "unsupported ACL API version";
        return -1;
    }
    static const uint8_t empty[1];
    if (!body)
        body = empty, len = 0;
    struct st_karena ra, sa;
    /* The request DOM plus string copies take at most ~70 bytes per body byte; the response
     * is bounded by the bindings the control plane holds (about 400 bytes of DOM each). */
    st_karena_init(&ra, 128 * len + 65536);
    st_karena_init(&sa, (size_t)256 << 20);
    struct wire w = {&ra, &sa, api_version, err};
    struct st_kdoc req,
        resp = {.msg = mresp, .ver = api_version, .flex = st_kschema_flexible(mresp, api_version)};
    size_t start = st_buf_used(out);
    int rc = -1;
    if (st_kdoc_decode(&ra, mreq, api_version, body, len, &req, err) < 0)
        goto done;
    if (req.trailing_len) {
        *err = "trailing bytes after the ACL request body";
        goto done;
    }
    if (obj_init(&w, mresp->root, &resp.root) < 0)
        goto done;
    switch (api_key) {
    case KEY_CREATE_ACLS:
        rc = answer_create(&w, &req, &resp.root, ops, arg);
        break;
    case KEY_DESCRIBE_ACLS:
        rc = answer_describe(&w, &req, &resp.root, ops, arg);
        break;
    default:
        rc = answer_delete(&w, &req, &resp.root, ops, arg);
        break;
    }
    if (rc == 0)
        rc = st_kdoc_encode(&resp, out, err);
    if (rc < 0 && st_buf_used(out) > start)
        out->len = out->rpos + start;
done:
    st_karena_free(&ra);
    st_karena_free(&sa);
    return rc;
}
