/*
 * Kafka ACLs (acl.h): binding validation as CreateAcls does it, AclBindingFilter matching, the
 * immutable sorted set with its allocation-free authorizer (StandardAuthorizer semantics) and the
 * JSON form of bindings and filters.
 *
 * The set keeps its bindings sorted by (rtype, ptype, name, principal, host, op, perm), so for each
 * resource type the LITERAL and the PREFIXED bindings are two contiguous runs sorted by name. A
 * lookup binary-searches the literal run for the name and for "*", and the prefixed run once per
 * distinct prefixed-pattern length (names of that length that equal the start of the resource).
 */
#include "authz/acl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kafka/proto.h"

#define NRTYPES 8 /* enum st_acl_rtype codes 0..7 */

/* ---- enum names ---- */

static const char *const rtype_names[] = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
static const char *const ptype_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const op_names[] = {"UNKNOWN",
                                       "ANY",
                                       "ALL",
                                       "READ",
                                       "WRITE",
                                       "CREATE",
                                       "DELETE",
                                       "ALTER",
                                       "DESCRIBE",
                                       "CLUSTER_ACTION",
                                       "DESCRIBE_CONFIGS",
                                       "ALTER_CONFIGS",
                                       "IDEMPOTENT_WRITE",
                                       "CREATE_TOKENS",
                                       "DESCRIBE_TOKENS"};
static const char *const perm_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *
enum_name(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "UNKNOWN";
}

const char *
st_acl_rtype_name(int rtype)
{
    return enum_name(rtype_names, NELEMS(rtype_names), rtype);
}

const char *
st_acl_ptype_name(int ptype)
{
    return enum_name(ptype_names, NELEMS(ptype_names), ptype);
}

const char *
st_acl_op_name(int op)
{
    return enum_name(op_names, NELEMS(op_names), op);
}

const char *
st_acl_perm_name(int perm)
{
    return enum_name(perm_names, NELEMS(perm_names), perm);
}

/* Code of a Kafka enum name (case-insensitive), or -1. */
static int
enum_code(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* ---- bindings ---- */

void
st_acl_binding_clear(struct st_acl_binding *b)
{
    free(b->name);
    free(b->principal);
    free(b->host);
    b->name = b->principal = b->host = NULL;
}

/* Bit set of the operations a resource type supports (Kafka's AclEntry.supportedOperations). */
static uint32_t
supported_ops(int rtype)
{
#define B(op) (1u << ST_ACL_OP_##op)
    switch (rtype) {
    case ST_ACL_RT_TOPIC:
        return B(READ) | B(WRITE) | B(CREATE) | B(DESCRIBE) | B(DELETE) | B(ALTER) |
               B(DESCRIBE_CONFIGS) | B(ALTER_CONFIGS);
    case ST_ACL_RT_GROUP:
        return B(READ) | B(DESCRIBE) | B(DELETE);
    case ST_ACL_RT_CLUSTER:
        return B(CREATE) | B(CLUSTER_ACTION) | B(DESCRIBE_CONFIGS) | B(ALTER_CONFIGS) |
               B(IDEMPOTENT_WRITE) | B(ALTER) | B(DESCRIBE);
    case ST_ACL_RT_TRANSACTIONAL_ID:
        return B(DESCRIBE) | B(WRITE);
    case ST_ACL_RT_DELEGATION_TOKEN:
        return B(DESCRIBE);
    case ST_ACL_RT_USER:
        return B(CREATE_TOKENS) | B(DESCRIBE_TOKENS);
    default:
        return 0;
    }
#undef B
}

int
st_acl_binding_validate(const struct st_acl_binding *b, const char **err, int16_t *kafka_error)
{
    *kafka_error = ST_KERR_INVALID_REQUEST;
    if (b->rtype < ST_ACL_RT_TOPIC || b->rtype > ST_ACL_RT_USER) {
        *err = b->rtype == ST_ACL_RT_ANY ? "ResourceType ANY is only valid in filters"
                                         : "ResourceType must be TOPIC, GROUP, CLUSTER, "
                                           "TRANSACTIONAL_ID, DELEGATION_TOKEN or USER";
        return -1;
    }
    if (b->ptype != ST_ACL_PT_LITERAL && b->ptype != ST_ACL_PT_PREFIXED) {
        *err = b->ptype == ST_ACL_PT_MATCH ? "PatternType MATCH is only valid in filters"
               : b->ptype == ST_ACL_PT_ANY ? "PatternType ANY is only valid in filters"
                                           : "PatternType must be LITERAL or PREFIXED";
        return -1;
    }
    if (!b->name || !b->name[0]) {
        *err = "ResourceName must not be empty";
        return -1;
    }
    if (b->rtype == ST_ACL_RT_CLUSTER && strcmp(b->name, "kafka-cluster") != 0) {
        *err = "The only valid name for the CLUSTER resource is kafka-cluster";
        return -1;
    }
    const char *colon = b->principal ? strchr(b->principal, ':') : NULL;
    if (!colon || colon == b->principal || !colon[1]) {
        *err = "Principal must be <type>:<name>, e.g. User:alice or User:*";
        return -1;
    }
    if (!b->host || !b->host[0]) {
        *err = "Host must be \"*\" or an IP address";
        return -1;
    }
    if (b->op <= ST_ACL_OP_ANY || b->op > ST_ACL_OP_DESCRIBE_TOKENS) {
        *err = b->op == ST_ACL_OP_ANY ? "Operation ANY is only valid in filters"
                                      : "Operation must be a concrete operation (READ, WRITE, ...)";
        return -1;
    }
    if (b->op != ST_ACL_OP_ALL && !(supported_ops(b->rtype) & (1u << b->op))) {
        *err = "Operation is not valid for the resource type";
        return -1;
    }
    if (b->perm != ST_ACL_PERM_ALLOW && b->perm != ST_ACL_PERM_DENY) {
        *err = b->perm == ST_ACL_PERM_ANY ? "PermissionType ANY is only valid in filters"
                                          : "PermissionType must be ALLOW or DENY";
        return -1;
    }
    *kafka_error = ST_KERR_NONE;
    return 0;
}

/* ---- filters ---- */

static bool
str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

bool
st_acl_filter_matches(const struct st_acl_filter *f, const struct st_acl_binding *b)
{
    /* ResourcePatternFilter.matches() */
    if (f->rtype != ST_ACL_RT_ANY && f->rtype != b->rtype)
        return false;
    if (f->ptype != ST_ACL_PT_ANY && f->ptype != ST_ACL_PT_MATCH && f->ptype != b->ptype)
        return false;
    if (f->name) {
        if (f->ptype == ST_ACL_PT_ANY || f->ptype == b->ptype) {
            if (!str_eq(f->name, b->name))
                return false;
        } else if (b->ptype == ST_ACL_PT_LITERAL) {
            if (!str_eq(f->name, b->name) && !str_eq(b->name, "*"))
                return false;
        } else if (b->ptype == ST_ACL_PT_PREFIXED) {
            if (!b->name || strncmp(f->name, b->name, strlen(b->name)) != 0)
                return false;
        } else {
            return false;
        }
    }
    /* AccessControlEntryFilter.matches(): exact strings, no wildcard expansion. */
    if (f->principal && !str_eq(f->principal, b->principal))
        return false;
    if (f->host && !str_eq(f->host, b->host))
        return false;
    if (f->op != ST_ACL_OP_ANY && f->op != b->op)
        return false;
    return f->perm == ST_ACL_PERM_ANY || f->perm == b->perm;
}

int
st_acl_filter_validate(const struct st_acl_filter *f, const char **err)
{
    if (f->rtype < ST_ACL_RT_ANY || f->rtype > ST_ACL_RT_USER) {
        *err = "ResourceTypeFilter is UNKNOWN: use ANY or a resource type";
        return -1;
    }
    if (f->ptype < ST_ACL_PT_ANY || f->ptype > ST_ACL_PT_PREFIXED) {
        *err = "PatternTypeFilter is UNKNOWN: use ANY, MATCH, LITERAL or PREFIXED";
        return -1;
    }
    if (f->op < ST_ACL_OP_ANY || f->op > ST_ACL_OP_DESCRIBE_TOKENS) {
        *err = "Operation filter is UNKNOWN: use ANY or an operation";
        return -1;
    }
    if (f->perm < ST_ACL_PERM_ANY || f->perm > ST_ACL_PERM_ALLOW) {
        *err = "PermissionType filter is UNKNOWN: use ANY, ALLOW or DENY";
        return -1;
    }
    return 0;
}

/* ---- the set ---- */

/* Bindings of one resource type: [lit, pre) LITERAL, [pre, end) PREFIXED, sorted by name. */
struct rt_index {
    size_t lit, pre, end; /* run boundaries in s->b */
    size_t *lens;         /* distinct name lengths of the PREFIXED run, ascending */
    size_t nlens;         /* entries in lens */
};

struct st_acl_set {
    struct st_acl_binding *b;    /* sorted, unique bindings (owned strings) */
    size_t n;                    /* entries in b */
    struct rt_index rt[NRTYPES]; /* per resource type */
};

static int
cmp_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int
cmp_binding(const void *pa, const void *pb)
{
    const struct st_acl_binding *a = pa, *b = pb;
    int c;
    if (a->rtype != b->rtype)
        return a->rtype < b->rtype ? -1 : 1;
    if (a->ptype != b->ptype)
        return a->ptype < b->ptype ? -1 : 1;
    if ((c = cmp_str(a->name, b->name)) != 0)
        return c;
    if ((c = cmp_str(a->principal, b->principal)) != 0)
        return c;
    if ((c = cmp_str(a->host, b->host)) != 0)
        return c;
    if (a->op != b->op)
        return a->op < b->op ? -1 : 1;
    if (a->perm != b->perm)
        return a->perm < b->perm ? -1 : 1;
    return 0;
}

static char *
dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int
cmp_size(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return a < b ? -1 : a > b;
}

void
st_acl_set_free(struct st_acl_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        st_acl_binding_clear(&s->b[i]);
    for (int t = 0; t < NRTYPES; t++)
        free(s->rt[t].lens);
    free(s->b);
    free(s);
}

struct st_acl_set *
st_acl_set_new(const struct st_acl_binding *b, size_t n)
{
    struct st_acl_set *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (n) {
        s->b = calloc(n, sizeof(*s->b));
        if (!s->b)
            goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        struct st_acl_binding *d = &s->b[s->n];
        *d = b[i];
        d->name = dup_or_empty(b[i].name);
        d->principal = dup_or_empty(b[i].principal);
        d->host = dup_or_empty(b[i].host);
        s->n++;
        if (!d->name || !d->principal || !d->host)
            goto oom;
    }
    if (s->n)
        qsort(s->b, s->n, sizeof(*s->b), cmp_binding);
    /* Duplicates once. */
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w && cmp_binding(&s->b[w - 1], &s->b[i]) == 0) {
            st_acl_binding_clear(&s->b[i]);
            continue;
        }
        s->b[w++] = s->b[i];
    }
    s->n = w;
    /* Runs per resource type (types outside 0..7 are kept but never looked up). */
    size_t i = 0;
    for (int t = 0; t < NRTYPES; t++) {
        struct rt_index *x = &s->rt[t];
        while (i < s->n && s->b[i].rtype < t)
            i++;
        while (i < s->n && s->b[i].rtype == t && s->b[i].ptype < ST_ACL_PT_LITERAL)
            i++;
        x->lit = i;
        while (i < s->n && s->b[i].rtype == t && s->b[i].ptype == ST_ACL_PT_LITERAL)
            i++;
        x->pre = i;
        while (i < s->n && s->b[i].rtype == t && s->b[i].ptype == ST_ACL_PT_PREFIXED)
            i++;
        x->end = i;
        if (x->end == x->pre)
            continue;
        x->lens = malloc((x->end - x->pre) * sizeof(*x->lens));
        if (!x->lens)
            goto oom;
        for (size_t k = x->pre; k < x->end; k++)
            x->lens[x->nlens++] = strlen(s->b[k].name);
        qsort(x->lens, x->nlens, sizeof(*x->lens), cmp_size);
        size_t u = 0;
        for (size_t k = 0; k < x->nlens; k++)
            if (!u || x->lens[u - 1] != x->lens[k])
                x->lens[u++] = x->lens[k];
        x->nlens = u;
    }
    return s;
oom:
    st_acl_set_free(s);
    return NULL;
}

size_t
st_acl_set_count(const struct st_acl_set *s)
{
    return s ? s->n : 0;
}

const struct st_acl_binding *
st_acl_set_get(const struct st_acl_set *s, size_t i)
{
    return s && i < s->n ? &s->b[i] : NULL;
}

/* ---- authorization ---- */

/* Compares a NUL-terminated name with the byte string (p, n) in strcmp order. */
static int
cmp_name(const char *name, const uint8_t *p, size_t n)
{
    size_t l = strlen(name);
    int c = memcmp(name, p, l < n ? l : n);
    if (c)
        return c;
    return l < n ? -1 : l > n;
}

/* First index in [lo, hi) whose name is >= (p, n). */
static size_t
lower_bound(const struct st_acl_binding *b, size_t lo, size_t hi, const uint8_t *p, size_t n)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_name(b[mid].name, p, n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct authz {
    const char *principal;              /* requesting principal */
    const char *host;                   /* client address */
    int op;                             /* requested operation */
    const struct st_acl_binding *allow; /* first matching ALLOW */
    const struct st_acl_binding *deny;  /* matching DENY */
};

/* Kafka's StandardAuthorizerData.findResult() for one binding whose resource matched. */
static void
check_binding(struct authz *z, const struct st_acl_binding *b)
{
    if (strcmp(b->principal, z->principal) != 0 && strcmp(b->principal, "User:*") != 0)
        return;
    if (strcmp(b->host, "*") != 0 && strcmp(b->host, z->host) != 0)
        return;
    if (b->op != ST_ACL_OP_ALL) {
        if (b->perm == ST_ACL_PERM_ALLOW) {
            switch (z->op) {
            case ST_ACL_OP_DESCRIBE:
                if (b->op != ST_ACL_OP_DESCRIBE && b->op != ST_ACL_OP_READ &&
                    b->op != ST_ACL_OP_WRITE && b->op != ST_ACL_OP_DELETE &&
                    b->op != ST_ACL_OP_ALTER)
                    return;
                break;
            case ST_ACL_OP_DESCRIBE_CONFIGS:
                if (b->op != ST_ACL_OP_DESCRIBE_CONFIGS && b->op != ST_ACL_OP_ALTER_CONFIGS)
                    return;
                break;
            default:
                if (b->op != z->op)
                    return;
                break;
            }
        } else if (b->op != z->op) {
            return;
        }
    }
    if (b->perm == ST_ACL_PERM_DENY) {
        if (!z->deny)
            z->deny = b;
    } else if (b->perm == ST_ACL_PERM_ALLOW && !z->allow) {
        z->allow = b;
    }
}

/* Checks the bindings of [lo, hi) whose name equals (p, n). */
static void
check_name(struct authz *z, const struct st_acl_binding *b, size_t lo, size_t hi, const uint8_t *p,
           size_t n)
{
    for (size_t i = lower_bound(b, lo, hi, p, n); i < hi && !z->deny; i++) {
        if (cmp_name(b[i].name, p, n) != 0)
            break;
        check_binding(z, &b[i]);
    }
}

void
st_acl_authorize(const struct st_acl_set *s, const char *const *super_users, const char *principal,
                 const char *host, enum st_acl_op op, enum st_acl_rtype rtype, const uint8_t *name,
                 size_t name_len, struct st_acl_decision *out)
{
    memset(out, 0, sizeof(*out));
    if (!principal)
        return;
    for (const char *const *u = super_users; u && *u; u++) {
        if (strcmp(*u, principal) == 0) {
            out->allowed = true;
            out->super_user = true;
            return;
        }
    }
    if (!s || (int)rtype < 0 || (int)rtype >= NRTYPES)
        return;
    struct authz z = {principal, host ? host : "", (int)op, NULL, NULL};
    const struct rt_index *x = &s->rt[rtype];
    static const uint8_t empty[1];
    if (!name)
        name = empty, name_len = 0;
    if (rtype == ST_ACL_RT_CLUSTER) {
        for (size_t i = x->lit; i < x->end && !z.deny; i++)
            check_binding(&z, &s->b[i]);
    } else {
        check_name(&z, s->b, x->lit, x->pre, name, name_len);
        if (!(name_len == 1 && name[0] == '*'))
            check_name(&z, s->b, x->lit, x->pre, (const uint8_t *)"*", 1);
        for (size_t k = 0; k < x->nlens && x->lens[k] <= name_len && !z.deny; k++)
            check_name(&z, s->b, x->pre, x->end, name, x->lens[k]);
    }
    if (z.deny) {
        out->match = z.deny;
        return;
    }
    out->allowed = z.allow != NULL;
    out->match = z.allow;
}

/* ---- JSON ---- */

json_t *
st_acl_binding_to_json(const struct st_acl_binding *b)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resourceType",
                     st_acl_rtype_name(b->rtype), "resourceName", b->name ? b->name : "",
                     "patternType", st_acl_ptype_name(b->ptype), "principal",
                     b->principal ? b->principal : "", "host", b->host ? b->host : "*", "operation",
                     st_acl_op_name(b->op), "permissionType", st_acl_perm_name(b->perm));
}

static const char *const json_keys[] = {"resourceType",  "resourceName", "patternType",
                                        "principal",     "host",         "operation",
                                        "permissionType"};

/* Rejects keys other than the seven of the JSON form. */
static int
check_keys(const json_t *j, const char **err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v)
    {
        (void)v;
        size_t k = 0;
        while (k < NELEMS(json_keys) && strcmp(key, json_keys[k]) != 0)
            k++;
        if (k == NELEMS(json_keys)) {
            *err = "unknown key in an ACL (expected resourceType, resourceName, patternType, "
                   "principal, host, operation, permissionType)";
            return -1;
        }
    }
    return 0;
}

/*
 * Reads enum member `key` of `j` by its Kafka name into *out; `def` when absent (-1: required).
 * Returns 0, or -1 with *err.
 */
static int
json_enum(const json_t *j, const char *key, const char *const *names, size_t n, int def,
          int8_t *out, const char **err, const char *type_err, const char *value_err)
{
    json_t *v = json_object_get(j, key);
    if (!v) {
        if (def < 0) {
            *err = type_err;
            return -1;
        }
        *out = (int8_t)def;
        return 0;
    }
    if (!json_is_string(v)) {
        *err = type_err;
        return -1;
    }
    int c = enum_code(names, n, json_string_value(v));
    if (c < 0) {
        *err = value_err;
        return -1;
    }
    *out = (int8_t)c;
    return 0;
}

/* String member `key`: *out = its value, `def` when absent, NULL = required. */
static int
json_str(const json_t *j, const char *key, const char *def, const char **out, const char **err,
         const char *type_err)
{
    json_t *v = json_object_get(j, key);
    if (!v || (def && json_is_null(v))) {
        if (!def) {
            *err = type_err;
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_string(v)) {
        *err = type_err;
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int
st_acl_binding_from_json(const json_t *j, struct st_acl_binding *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j)) {
        *err = "an ACL must be a JSON object";
        return -1;
    }
    const char *name, *principal, *host;
    if (check_keys(j, err) < 0 ||
        json_enum(j, "resourceType", rtype_names, NELEMS(rtype_names), -1, &out->rtype, err,
                  "resourceType must be a string (TOPIC, GROUP, CLUSTER, ...)",
                  "resourceType: unknown resource type") < 0 ||
        json_str(j, "resourceName", NULL, &name, err, "resourceName must be a string") < 0 ||
        json_enum(j, "patternType", ptype_names, NELEMS(ptype_names), ST_ACL_PT_LITERAL,
                  &out->ptype, err, "patternType must be a string (LITERAL or PREFIXED)",
                  "patternType: unknown pattern type") < 0 ||
        json_str(j, "principal", NULL, &principal, err, "principal must be a string (User:alice)") <
            0 ||
        json_str(j, "host", "*", &host, err, "host must be a string") < 0 ||
        json_enum(j, "operation", op_names, NELEMS(op_names), -1, &out->op, err,
                  "operation must be a string (READ, WRITE, ...)",
                  "operation: unknown operation") < 0 ||
        json_enum(j, "permissionType", perm_names, NELEMS(perm_names), -1, &out->perm, err,
                  "permissionType must be a string (ALLOW or DENY)",
                  "permissionType: unknown permission type") < 0)
        return -1;
    out->name = strdup(name);
    out->principal = strdup(principal);
    out->host = strdup(host);
    if (!out->name || !out->principal || !out->host) {
        st_acl_binding_clear(out);
        *err = "out of memory";
        return -1;
    }
    return 0;
}

int
st_acl_filter_from_json(const json_t *j, struct st_acl_filter *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(j)) {
        *err = "an ACL filter must be a JSON object";
        return -1;
    }
    static const char any[] = "";
    const char *name, *principal, *host;
    if (check_keys(j, err) < 0 ||
        json_enum(j, "resourceType", rtype_names, NELEMS(rtype_names), ST_ACL_RT_ANY, &out->rtype,
                  err, "resourceType must be a string (ANY, TOPIC, GROUP, ...)",
                  "resourceType: unknown resource type") < 0 ||
        json_str(j, "resourceName", any, &name, err, "resourceName must be a string") < 0 ||
        json_enum(j, "patternType", ptype_names, NELEMS(ptype_names), ST_ACL_PT_ANY, &out->ptype,
                  err, "patternType must be a string (ANY, MATCH, LITERAL or PREFIXED)",
                  "patternType: unknown pattern type") < 0 ||
        json_str(j, "principal", any, &principal, err, "principal must be a string") < 0 ||
        json_str(j, "host", any, &host, err, "host must be a string") < 0 ||
        json_enum(j, "operation", op_names, NELEMS(op_names), ST_ACL_OP_ANY, &out->op, err,
                  "operation must be a string (ANY, READ, WRITE, ...)",
                  "operation: unknown operation") < 0 ||
        json_enum(j, "permissionType", perm_names, NELEMS(perm_names), ST_ACL_PERM_ANY, &out->perm,
                  err, "permissionType must be a string (ANY, ALLOW or DENY)",
                  "permissionType: unknown permission type") < 0)
        return -1;
    out->name = name == any ? NULL : name;
    out->principal = principal == any ? NULL : principal;
    out->host = host == any ? NULL : host;
    return 0;
}
