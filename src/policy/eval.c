/*
 * Policy evaluation (spec §7): principal matching (§4.2), whether a statement applies to a
 * request (action, resource, principal, conditions), and the decision over identity policies and
 * one resource policy, with an optional explanation. The no-explanation path does not allocate:
 * variable substitution uses stack buffers, context lookups scan the request's array.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/glob.h"
#include "policy/internal.h"

/* A request principal, classified once per evaluation. */
struct rprin {
    const char *s;     /* as given */
    size_t len;        /* bytes of s */
    bool is_arn;       /* a complete ARN */
    bool is_account;   /* a bare 12-digit account id */
    struct st_arn arn; /* split, when is_arn */
};

static void
rprin_init(struct rprin *r, const char *s)
{
    const char *err;
    memset(r, 0, sizeof(*r));
    r->s = s ? s : "";
    r->len = strlen(r->s);
    r->is_arn = st_arn_parse(r->s, r->len, &r->arn, &err) == 0;
    r->is_account = st_arn_is_account_id(r->s, r->len);
}

static const char *
rprin_account(const struct rprin *r, size_t *len)
{
    if (r->is_account) {
        *len = r->len;
        return r->s;
    }
    if (r->is_arn) {
        *len = r->arn.len[ST_ARN_ACCOUNT];
        return r->arn.seg[ST_ARN_ACCOUNT];
    }
    *len = 0;
    return "";
}

static bool
rprin_is_service(const struct rprin *r)
{
    return !r->is_arn && !r->is_account && r->len > 0 && strcmp(r->s, "*") != 0 &&
           memchr(r->s, '.', r->len) != NULL;
}

static bool
seg_is(const struct st_arn *a, int k, const char *lit)
{
    return a->len[k] == strlen(lit) && memcmp(a->seg[k], lit, a->len[k]) == 0;
}

static bool
seg_eq(const struct st_arn *a, int ka, const struct st_arn *b, int kb)
{
    return a->len[ka] == b->len[kb] && memcmp(a->seg[ka], b->seg[kb], a->len[ka]) == 0;
}

/* Last path element of an IAM resource part "type/path/.../name" (after the type). */
static void
last_elem(const char *s, size_t n, const char **out, size_t *out_len)
{
    size_t i = n;
    while (i > 0 && s[i - 1] != '/')
        i--;
    *out = s + i;
    *out_len = n - i;
}

/* Session match: entry `e` (iam user/role ARN) against request session ARN `r`. */
static enum st_principal_match
session_match(const struct st_arn *e, const struct rprin *r)
{
    if (!r->is_arn || !seg_eq(e, ST_ARN_PARTITION, &r->arn, ST_ARN_PARTITION) ||
        !seg_eq(e, ST_ARN_ACCOUNT, &r->arn, ST_ARN_ACCOUNT) || !seg_is(e, ST_ARN_SERVICE, "iam") ||
        !seg_is(&r->arn, ST_ARN_SERVICE, "sts"))
        return ST_PM_NO;
    const char *er = e->seg[5], *rr = r->arn.seg[5];
    size_t el = e->len[5], rl = r->arn.len[5];
    const char *name;
    size_t nl;
    if (el > 5 && memcmp(er, "role/", 5) == 0 && rl > 13 && memcmp(rr, "assumed-role/", 13) == 0) {
        last_elem(er, el, &name, &nl);
        /* assumed-role/<name>/<session> */
        const char *rn = rr + 13;
        size_t rnl = rl - 13;
        const char *slash = memchr(rn, '/', rnl);
        if (slash && (size_t)(slash - rn) == nl && memcmp(rn, name, nl) == 0 &&
            (size_t)(slash - rn) + 1 < rnl)
            return ST_PM_SESSION_ROLE;
        return ST_PM_NO;
    }
    if (el > 5 && memcmp(er, "user/", 5) == 0 && rl > 15 &&
        memcmp(rr, "federated-user/", 15) == 0) {
        last_elem(er, el, &name, &nl);
        if (rl - 15 == nl && memcmp(rr + 15, name, nl) == 0)
            return ST_PM_SESSION_USER;
    }
    return ST_PM_NO;
}

static enum st_principal_match
match_prin(const struct st_pprin *e, const struct rprin *r)
{
    switch (e->type) {
    case ST_PRIN_STAR:
        return ST_PM_MATCH;
    case ST_PRIN_SERVICE:
    case ST_PRIN_FEDERATED:
    case ST_PRIN_CANONICAL:
        return strcmp(e->value, r->s) == 0 ? ST_PM_MATCH : ST_PM_NO;
    case ST_PRIN_ACCOUNT: {
        if (strcmp(e->value, r->s) == 0 && r->is_arn)
            return ST_PM_MATCH; /* the root user named directly */
        size_t al;
        const char *a = rprin_account(r, &al);
        return al == 12 && memcmp(a, e->account, 12) == 0 ? ST_PM_ACCOUNT : ST_PM_NO;
    }
    case ST_PRIN_ARN: {
        if (strcmp(e->value, r->s) == 0)
            return ST_PM_MATCH;
        struct st_arn ea;
        st_arn_split(e->value, strlen(e->value), &ea);
        return session_match(&ea, r);
    }
    }
    return ST_PM_NO;
}

enum st_principal_match
st_principal_match_entry(const char *entry, bool service, const char *principal)
{
    struct rprin r;
    struct st_pprin e;
    rprin_init(&r, principal);
    memset(&e, 0, sizeof(e));
    e.value = (char *)entry;
    size_t n = strlen(entry);
    if (service) {
        e.type = ST_PRIN_SERVICE;
    } else if (strcmp(entry, "*") == 0) {
        e.type = ST_PRIN_STAR;
    } else if (st_arn_is_account_id(entry, n)) {
        e.type = ST_PRIN_ACCOUNT;
        memcpy(e.account, entry, 12);
    } else {
        struct st_arn a;
        const char *err;
        if (st_arn_parse(entry, n, &a, &err) != 0)
            return ST_PM_NO;
        if (a.len[5] == 4 && memcmp(a.seg[5], "root", 4) == 0 && a.len[ST_ARN_ACCOUNT] == 12) {
            e.type = ST_PRIN_ACCOUNT;
            memcpy(e.account, a.seg[ST_ARN_ACCOUNT], 12);
        } else {
            e.type = ST_PRIN_ARN;
        }
    }
    return match_prin(&e, &r);
}

/* Strongest match of a statement's principal entries (Principal form; no NotPrincipal). */
static enum st_principal_match
stmt_prin_best(const struct st_pstmt *st, const struct rprin *r)
{
    enum st_principal_match best = ST_PM_NO;
    for (size_t i = 0; i < st->n_prins; i++) {
        enum st_principal_match m = match_prin(&st->prins[i], r);
        if (m > best)
            best = m;
    }
    return best;
}

/* Principal match of a resource-policy statement, NotPrincipal inverted (spec §7.3 notes). */
static enum st_principal_match
stmt_principal(const struct st_pstmt *st, const struct rprin *r)
{
    if (st->prin_mode == ST_PMODE_NONE)
        return ST_PM_NO;
    enum st_principal_match m = stmt_prin_best(st, r);
    if (st->prin_mode == ST_PMODE_NOTPRINCIPAL)
        return m == ST_PM_NO ? ST_PM_MATCH : ST_PM_NO;
    return m;
}

static bool
action_matches(const struct st_pstmt *st, const char *action, size_t alen)
{
    for (size_t i = 0; i < st->n_actions; i++)
        if (st_glob_match(st->actions[i], st->action_lens[i], action, alen, ST_GLOB_NOCASE))
            return true;
    return false;
}

/* Per-evaluation request data. */
struct ereq {
    const struct st_policy_request *req; /* the request */
    size_t action_len;                   /* strlen(action) */
    bool res_star;                       /* the request resource is "*" */
    struct st_arn res;                   /* split resource ARN (n != 6 when not an ARN) */
    struct rprin prin;                   /* classified principal */
};

static bool
resource_entry_matches(const struct st_pres *r, const struct ereq *e)
{
    if (r->star)
        return true;
    if (r->never || e->res_star || e->res.n != 6)
        return false;
    if (!r->pat.has_vars)
        return st_arn_match_resource(&r->arn, &e->res, ST_GLOB_ESCAPED);
    char buf[ST_POLICY_EXPAND_MAX];
    long n = st_pat_expand(&r->pat, e->req, true, buf, sizeof(buf));
    if (n < 0)
        return false; /* a missing variable matches no resource */
    struct st_arn a;
    st_arn_split(buf, (size_t)n, &a);
    return st_arn_match_resource(&a, &e->res, ST_GLOB_ESCAPED);
}

static bool
resource_matches(const struct st_pstmt *st, const struct ereq *e)
{
    for (size_t i = 0; i < st->n_res; i++)
        if (resource_entry_matches(&st->res[i], e))
            return true;
    return false;
}

/* Why a statement did or did not apply. */
enum why {
    W_APPLIES = 0,
    W_ACTION,
    W_RESOURCE,
    W_PRINCIPAL,
    W_CONDITION,
};

/* Whether statement st applies (principal not checked). On failure *why/cond say why. */
static bool
stmt_applies(const struct st_pstmt *st, const struct ereq *e, enum why *why, size_t *cond,
             const char **cond_why)
{
    if (action_matches(st, e->req->action, e->action_len) == st->not_action) {
        *why = W_ACTION;
        return false;
    }
    if (resource_matches(st, e) == st->not_resource) {
        *why = W_RESOURCE;
        return false;
    }
    for (size_t i = 0; i < st->n_conds; i++) {
        if (!st_cond_eval(&st->conds[i], e->req, cond_why)) {
            *why = W_CONDITION;
            *cond = i;
            return false;
        }
    }
    *why = W_APPLIES;
    return true;
}

/* ---- explanation -------------------------------------------------------------------------------
 */

void
st_policy_explain_init(struct st_policy_explain *e)
{
    memset(e, 0, sizeof(*e));
    st_buf_init(&e->text, 1 << 20);
}

void
st_policy_explain_free(struct st_policy_explain *e)
{
    free(e->matched);
    st_buf_free(&e->text);
    memset(e, 0, sizeof(*e));
}

static int xprintf(struct st_policy_explain *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
xprintf(struct st_policy_explain *x, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    /* Keep the text NUL-terminated: append, then a terminator that is not counted. */
    if (st_buf_append(&x->text, tmp, (size_t)n) != 0 || st_buf_reserve(&x->text, 1) != 0)
        return -1;
    x->text.data[x->text.len] = '\0';
    return 0;
}

static int
x_add_match(struct st_policy_explain *x, int policy, size_t stmt, const char *sid, bool deny,
            enum st_principal_match pm)
{
    if (x->n_matched == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 8;
        struct st_policy_matched *nm = realloc(x->matched, ncap * sizeof(*nm));
        if (!nm)
            return -1;
        x->matched = nm;
        x->cap = ncap;
    }
    struct st_policy_matched *m = &x->matched[x->n_matched++];
    m->policy = policy;
    m->stmt = stmt;
    m->sid = sid;
    m->deny = deny;
    m->pm = pm;
    return 0;
}

static const char *
pm_name(enum st_principal_match m)
{
    switch (m) {
    case ST_PM_NO:
        return "no match";
    case ST_PM_ACCOUNT:
        return "account-level match";
    case ST_PM_SESSION_USER:
        return "federated-user session of the named user";
    case ST_PM_SESSION_ROLE:
        return "session of the named role";
    case ST_PM_MATCH:
        return "exact match";
    }
    return "?";
}

/* Describes one statement's outcome in the explanation. */
static int
x_stmt(struct st_policy_explain *x, int policy, size_t idx, const struct st_pstmt *st, enum why why,
       size_t cond, const char *cond_why, enum st_principal_match pm, const struct ereq *e)
{
    char where[64];
    if (policy >= 0)
        snprintf(where, sizeof(where), "identityPolicies[%d]", policy);
    else
        snprintf(where, sizeof(where), "resourcePolicy");
    int rc = xprintf(x, "%s statement %zu%s%s%s (%s): ", where, idx, st->sid ? " (Sid " : "",
                     st->sid ? st->sid : "", st->sid ? ")" : "", st->deny ? "Deny" : "Allow");
    switch (why) {
    case W_APPLIES:
        rc |= xprintf(x, "applies%s%s%s\n", policy < 0 ? " (principal: " : "",
                      policy < 0 ? pm_name(pm) : "", policy < 0 ? ")" : "");
        break;
    case W_ACTION:
        rc |= xprintf(x, "does not apply: %s %s %s\n", e->req->action,
                      st->not_action ? "is listed in" : "is not matched by",
                      st->not_action ? "NotAction" : "Action");
        break;
    case W_RESOURCE:
        rc |= xprintf(x, "does not apply: %s %s %s [", e->req->resource,
                      st->not_resource ? "is listed in" : "is not matched by",
                      st->not_resource ? "NotResource" : "Resource");
        for (size_t i = 0; i < st->n_res && i < 3; i++)
            rc |= xprintf(x, "%s%.300s", i ? ", " : "",
                          st->res[i].star           ? "*"
                          : st->res[i].pat.has_vars ? "(with variables)"
                                                    : st->res[i].pat.raw);
        rc |= xprintf(x, "%s]\n", st->n_res > 3 ? ", ..." : "");
        break;
    case W_PRINCIPAL:
        rc |= xprintf(x, "does not apply: principal %s is %s %s\n", e->prin.s,
                      st->prin_mode == ST_PMODE_NOTPRINCIPAL ? "listed in" : "not matched by",
                      st->prin_mode == ST_PMODE_NOTPRINCIPAL ? "NotPrincipal" : "Principal");
        break;
    case W_CONDITION: {
        const struct st_pcond *c = &st->conds[cond];
        rc |= xprintf(x, "does not apply: condition %s on %s is false (%s; policy values [",
                      c->op_name, c->key, cond_why ? cond_why : "");
        for (size_t i = 0; i < c->n_vals && i < 3; i++)
            rc |= xprintf(x, "%s\"%.200s\"", i ? ", " : "",
                          c->vals[i].pat.has_vars ? "(with variables)" : c->vals[i].pat.raw);
        rc |= xprintf(x, "%s], request ", c->n_vals > 3 ? ", ..." : "");
        const struct st_policy_ctx_value *kv = st_policy_ctx_find(e->req, c->key, strlen(c->key));
        if (!kv) {
            rc |= xprintf(x, "has no such key)\n");
            break;
        }
        rc |= xprintf(x, "%s", kv->is_set ? "[" : "");
        for (size_t i = 0; i < kv->n_values && i < 3; i++)
            rc |= xprintf(x, "%s\"%.200s\"", i ? ", " : "", kv->values[i] ? kv->values[i] : "");
        rc |= xprintf(x, "%s%s)\n", kv->n_values > 3 ? ", ..." : "", kv->is_set ? "]" : "");
        break;
    }
    }
    return rc;
}

/* ---- decision ----------------------------------------------------------------------------------
 */

enum rp_state { RP_NA = 0, RP_NONE, RP_ALLOW_ACCOUNT, RP_ALLOW, RP_DENY };

int
st_policy_evaluate(const struct st_policy_request *req, const struct st_policy *const *identity,
                   size_t n_identity, const struct st_policy *resource,
                   struct st_policy_decision *out)
{
    struct st_policy_explain *x = out->explain;
    struct ereq e;
    int xrc = 0;
    memset(&e, 0, sizeof(e));
    e.req = req;
    e.action_len = req->action ? strlen(req->action) : 0;
    const char *res = req->resource ? req->resource : "";
    e.res_star = strcmp(res, "*") == 0;
    const char *err;
    if (st_arn_parse(res, strlen(res), &e.res, &err) != 0)
        e.res.n = 0;
    rprin_init(&e.prin, req->principal);

    enum why why;
    size_t cond = 0;
    const char *cond_why = NULL;
    bool id_allow = false, id_deny = false;
    for (size_t p = 0; p < n_identity && (x || !id_deny); p++) {
        const struct st_policy *pol = identity[p];
        if (!pol)
            continue;
        for (size_t i = 0; i < pol->n_stmts && (x || !id_deny); i++) {
            const struct st_pstmt *st = &pol->stmts[i];
            bool ap = req->action && stmt_applies(st, &e, &why, &cond, &cond_why);
            if (!req->action)
                why = W_ACTION;
            if (x) {
                xrc |= x_stmt(x, (int)p, i, st, why, cond, cond_why, ST_PM_MATCH, &e);
                if (ap)
                    xrc |= x_add_match(x, (int)p, i, st->sid, st->deny, ST_PM_MATCH);
            }
            if (ap) {
                if (st->deny)
                    id_deny = true;
                else
                    id_allow = true;
            }
        }
    }

    enum rp_state rp = resource ? RP_NONE : RP_NA;
    enum st_principal_match rp_best = ST_PM_NO;
    for (size_t i = 0; resource && i < resource->n_stmts && (x || rp != RP_DENY); i++) {
        const struct st_pstmt *st = &resource->stmts[i];
        enum st_principal_match m = stmt_principal(st, &e.prin);
        bool ap = false;
        if (m == ST_PM_NO)
            why = W_PRINCIPAL;
        else if (!req->action)
            why = W_ACTION;
        else
            ap = stmt_applies(st, &e, &why, &cond, &cond_why);
        if (x) {
            xrc |= x_stmt(x, -1, i, st, why, cond, cond_why, m, &e);
            if (ap)
                xrc |= x_add_match(x, -1, i, st->sid, st->deny, m);
        }
        if (!ap)
            continue;
        if (st->deny) {
            rp = RP_DENY;
        } else if (rp != RP_DENY) {
            if (m >= ST_PM_SESSION_USER)
                rp = RP_ALLOW;
            else if (m == ST_PM_ACCOUNT && rp != RP_ALLOW)
                rp = RP_ALLOW_ACCOUNT;
            if (m > rp_best)
                rp_best = m;
        }
    }

    size_t pal = 0, ral = 0;
    const char *pa = rprin_account(&e.prin, &pal);
    if (pal == 0 && !rprin_is_service(&e.prin)) {
        /* A principal that is not an ARN (e.g. a synthetic identity): its account may be given
         * as the single-valued context key aws:PrincipalAccount. */
        const struct st_policy_ctx_value *kv = st_policy_ctx_find(req, "aws:PrincipalAccount", 20);
        if (kv && !kv->is_set && kv->n_values == 1 && kv->values[0] &&
            st_arn_is_account_id(kv->values[0], strlen(kv->values[0]))) {
            pa = kv->values[0];
            pal = 12;
        }
    }
    const char *ra = e.res.n == 6 ? e.res.seg[ST_ARN_ACCOUNT] : "";
    ral = e.res.n == 6 ? e.res.len[ST_ARN_ACCOUNT] : 0;
    /* A resource without an account (or "*") belongs to the caller's own account. */
    bool same = ral == 0 || (pal == ral && memcmp(pa, ra, pal) == 0);
    bool service = rprin_is_service(&e.prin);
    bool anonymous = e.prin.len == 0 || strcmp(e.prin.s, "*") == 0;

    out->identity_allow = id_allow && !id_deny;
    out->resource_allow = rp == RP_DENY ? ST_PM_NO : rp_best;
    out->same_account = same;
    const char *reason;
    if (id_deny || rp == RP_DENY) {
        out->result = ST_POLICY_EXPLICIT_DENY;
        reason = id_deny ? "an identity policy statement explicitly denies the request"
                         : "a resource policy statement explicitly denies the request";
    } else if (service || anonymous) {
        out->result = rp == RP_ALLOW ? ST_POLICY_ALLOWED : ST_POLICY_IMPLICIT_DENY;
        reason = rp == RP_ALLOW ? "the resource policy allows the service or anonymous principal"
                                : "a service or anonymous principal needs an Allow in the "
                                  "resource policy";
    } else if (same) {
        if (id_allow) {
            out->result = ST_POLICY_ALLOWED;
            reason = "same account: an identity policy allows the request";
        } else if (rp == RP_ALLOW) {
            out->result = ST_POLICY_ALLOWED;
            reason = "same account: the resource policy allows the principal by name";
        } else {
            out->result = ST_POLICY_IMPLICIT_DENY;
            reason = rp == RP_ALLOW_ACCOUNT
                         ? "same account: the resource policy grants only the account, which "
                           "delegates to identity policies, and none allows the request"
                         : "same account: no identity or resource policy statement allows the "
                           "request";
        }
    } else {
        if (id_allow && (rp == RP_ALLOW || rp == RP_ALLOW_ACCOUNT)) {
            out->result = ST_POLICY_ALLOWED;
            reason = "cross-account: both the identity policy and the resource policy allow";
        } else {
            out->result = ST_POLICY_IMPLICIT_DENY;
            reason = rp == RP_NA ? "cross-account: the resource has no resource policy"
                     : !id_allow && (rp == RP_ALLOW || rp == RP_ALLOW_ACCOUNT)
                         ? "cross-account: the resource policy allows, but no identity policy does"
                     : id_allow ? "cross-account: an identity policy allows, but the resource "
                                  "policy does not"
                                : "cross-account: neither the identity nor the resource policy "
                                  "allows";
        }
    }
    if (x)
        xrc |= xprintf(x, "%s: %s.", st_policy_result_name(out->result), reason);
    return xrc ? -1 : 0;
}

const char *
st_policy_result_name(enum st_policy_result r)
{
    switch (r) {
    case ST_POLICY_ALLOWED:
        return "allowed";
    case ST_POLICY_EXPLICIT_DENY:
        return "explicitDeny";
    case ST_POLICY_IMPLICIT_DENY:
        return "implicitDeny";
    }
    return "implicitDeny";
}

enum st_principal_match
st_policy_principal_covers(const struct st_policy *p, const char *principal, const char *action)
{
    struct rprin r;
    rprin_init(&r, principal);
    enum st_principal_match best = ST_PM_NO;
    for (size_t i = 0; p && i < p->n_stmts; i++) {
        const struct st_pstmt *st = &p->stmts[i];
        if (st->deny || st->prin_mode != ST_PMODE_PRINCIPAL)
            continue;
        if (action && action_matches(st, action, strlen(action)) == st->not_action)
            continue;
        enum st_principal_match m = stmt_prin_best(st, &r);
        if (m > best)
            best = m;
    }
    return best;
}
