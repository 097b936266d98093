/*
 * Policy document parser, validator and compiler: strict JSON (jansson, duplicate keys rejected,
 * depth and size capped) walked once into the compiled form of internal.h, reporting findings in
 * the style of IAM Access Analyzer (JSON pointer + what to fix + IAM's own message, spec §1-§2).
 * A document with any error yields no policy.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/catalog.h"
#include "policy/glob.h"
#include "policy/internal.h"

#define MSG_SYNTAX "Syntax errors in policy."
#define MSG_VERSION "Policy document must be version 2012-10-17 or greater."
#define MSG_NO_ACTIONS "Policy statement must contain actions."
#define MSG_NO_RESOURCES "Policy statement must contain resources."
#define MSG_VENDOR "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
#define MSG_ONE_COLON "Actions/Condition can contain only one colon."
#define MSG_LEGACY "The policy failed legacy parsing"
#define MSG_DUP_SID "Statement IDs (SID) in a single policy must be unique."
#define MSG_SID_CHARS                                                                              \
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "      \
    "expression [0-9A-Za-z]*"
#define MSG_HAS_PRINCIPAL "Policy document should not specify a principal."
#define MSG_NO_PRINCIPAL "Missing required field Principal"
#define MSG_TOO_LARGE "Cannot exceed quota for PolicySize: %zu"

#define MAX_FINDINGS 256
#define MAX_LIST 1000 /* entries per Action/Resource/Principal/Condition list */

/* Parser state for one document. */
struct pctx {
    const struct st_policy_parse_opts *opts; /* options */
    struct st_policy_findings *f;            /* findings sink (never NULL inside the parser) */
    bool vars;                               /* Version 2012-10-17: `${` starts a variable */
    bool oom;                                /* an allocation failed */
    bool resource_error;                     /* a Resource format error was reported */
};

void
st_policy_findings_free(struct st_policy_findings *f)
{
    free(f->items);
    memset(f, 0, sizeof(*f));
}

/* Finds the reported error among findings [from, f->n). */
static const struct st_policy_finding *
first_error_from(const struct st_policy_findings *f, size_t from)
{
    const struct st_policy_finding *best = NULL;
    for (size_t i = from; i < f->n; i++)
        if (f->items[i].severity == ST_POLICY_SEV_ERROR && (!best || f->items[i].rank < best->rank))
            best = &f->items[i];
    return best;
}

const struct st_policy_finding *
st_policy_findings_first_error(const struct st_policy_findings *f)
{
    return first_error_from(f, 0);
}

/* IAM's reporting order of error classes (moto's model of MalformedPolicyDocument). */
static unsigned
error_rank(const char *code, const char *aws)
{
    if (aws && strcmp(aws, MSG_LEGACY) == 0)
        return 2;
    static const struct {
        const char *code; /* finding code */
        unsigned rank;    /* its rank */
    } ranks[] = {
        {"OLD_VERSION", 1},           {"DUPLICATE_SID", 3},    {"INVALID_SID", 3},
        {"MISSING_ACTION", 4},        {"INVALID_RESOURCE", 5}, {"INVALID_ACTION", 6},
        {"INVALID_CONDITION_KEY", 6}, {"MISSING_RESOURCE", 7},
    };
    for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++)
        if (strcmp(ranks[i].code, code) == 0)
            return ranks[i].rank;
    return 0;
}

static void add(struct pctx *c, enum st_policy_severity sev, const char *code, const char *path,
                const char *aws, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
add(struct pctx *c, enum st_policy_severity sev, const char *code, const char *path,
    const char *aws, const char *fmt, ...)
{
    struct st_policy_findings *f = c->f;
    if (sev == ST_POLICY_SEV_ERROR)
        f->n_errors++;
    if (f->n >= MAX_FINDINGS) {
        f->dropped++;
        return;
    }
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        struct st_policy_finding *ni = realloc(f->items, ncap * sizeof(*ni));
        if (!ni) {
            c->oom = true;
            f->dropped++;
            return;
        }
        f->items = ni;
        f->cap = ncap;
    }
    struct st_policy_finding *it = &f->items[f->n++];
    memset(it, 0, sizeof(*it));
    it->severity = sev;
    it->code = code;
    snprintf(it->path, sizeof(it->path), "%s", path);
    snprintf(it->aws_message, sizeof(it->aws_message), "%s", aws ? aws : "");
    it->rank = sev == ST_POLICY_SEV_ERROR ? error_rank(code, aws) : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->message, sizeof(it->message), fmt, ap);
    va_end(ap);
}

/* Appends a JSON pointer token (escaping '~' and '/') to path. */
static void
path_push(char *out, size_t cap, const char *base, const char *tok)
{
    size_t o = (size_t)snprintf(out, cap, "%s/", base);
    for (const char *t = tok; *t && o + 3 < cap; t++) {
        if (*t == '~' || *t == '/') {
            out[o++] = '~';
            out[o++] = *t == '~' ? '0' : '1';
        } else {
            out[o++] = *t;
        }
    }
    if (o >= cap)
        o = cap - 1;
    out[o] = '\0';
}

static void
path_idx(char *out, size_t cap, const char *base, size_t i)
{
    snprintf(out, cap, "%s/%zu", base, i);
}

static char *
dupn(struct pctx *c, const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) {
        c->oom = true;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Printable excerpt of a value for messages. */
static const char *
jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* Nesting depth of raw JSON text (brackets outside strings). */
static size_t
json_depth(const char *s, size_t len)
{
    size_t d = 0, maxd = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (++d > maxd)
                maxd = d;
        } else if ((ch == '}' || ch == ']') && d > 0) {
            d--;
        }
    }
    return maxd;
}

/* ---- strings with policy variables ---------------------------------------------------------- */

static bool
contains_var(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '$' && s[i + 1] == '{')
            return true;
    return false;
}

/* Escaped glob encoding of literal text: only ST_GLOB_ESC itself needs escaping. */
static char *
glob_encode(struct pctx *c, const char *s, size_t n, size_t *out_len)
{
    size_t extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += s[i] == ST_GLOB_ESC;
    char *d = malloc(n + extra + 1);
    if (!d) {
        c->oom = true;
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ST_GLOB_ESC)
            d[o++] = ST_GLOB_ESC;
        d[o++] = s[i];
    }
    d[o] = '\0';
    *out_len = o;
    return d;
}

static int
add_part(struct pctx *c, struct st_pat *p, enum st_part_kind kind, const char *t, size_t n,
         const char *def, size_t def_len, bool has_def)
{
    struct st_part *np = realloc(p->parts, (p->n_parts + 1) * sizeof(*np));
    if (!np) {
        c->oom = true;
        return -1;
    }
    p->parts = np;
    struct st_part *pt = &p->parts[p->n_parts++];
    memset(pt, 0, sizeof(*pt));
    pt->kind = kind;
    pt->text = dupn(c, t, n);
    pt->len = n;
    if (has_def) {
        pt->def = dupn(c, def, def_len);
        pt->def_len = def_len;
    }
    return pt->text && (!has_def || pt->def) ? 0 : -1;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/*
 * Compiles a string value; when `vars` (2012-10-17 and the element allows them) `${...}` are
 * policy variables. Returns 0 or -1 (reported).
 */
static int
pat_compile(struct pctx *c, struct st_pat *p, const char *s, size_t n, bool vars, const char *path)
{
    memset(p, 0, sizeof(*p));
    if (!vars || !contains_var(s, n)) {
        p->raw = dupn(c, s, n);
        p->raw_len = n;
        p->glob = glob_encode(c, s, n, &p->glob_len);
        return p->raw && p->glob ? 0 : -1;
    }
    p->has_vars = true;
    size_t i = 0, lit = 0;
    while (i < n) {
        if (!(s[i] == '$' && i + 1 < n && s[i + 1] == '{')) {
            i++;
            continue;
        }
        const char *close = memchr(s + i + 2, '}', n - i - 2);
        if (!close) /* no closing brace: the rest is literal text */
            break;
        if (i > lit && add_part(c, p, ST_PART_LIT, s + lit, i - lit, NULL, 0, false) != 0)
            return -1;
        const char *in = s + i + 2;
        size_t inl = (size_t)(close - in);
        trim(&in, &inl);
        if (inl == 1 && (in[0] == '*' || in[0] == '?' || in[0] == '$')) {
            if (add_part(c, p, ST_PART_CHAR, in, 1, NULL, 0, false) != 0)
                return -1;
        } else {
            const char *comma = memchr(in, ',', inl);
            const char *key = in, *def = NULL;
            size_t keyl = comma ? (size_t)(comma - in) : inl, defl = 0;
            trim(&key, &keyl);
            if (comma) {
                const char *d = comma + 1;
                size_t dl = inl - (size_t)(d - in);
                trim(&d, &dl);
                if (dl < 2 || d[0] != '\'' || d[dl - 1] != '\'') {
                    add(c, ST_POLICY_SEV_ERROR, "INVALID_VARIABLE", path, MSG_SYNTAX,
                        "Policy variable '%.*s' has a malformed default; write ${key, "
                        "'default value'} with the default in single quotes.",
                        (int)((close - s) - (long)i + 1 > 200 ? 200 : (close - s) - (long)i + 1),
                        s + i);
                    return -1;
                }
                def = d + 1;
                defl = dl - 2;
            }
            if (keyl == 0) {
                add(c, ST_POLICY_SEV_ERROR, "INVALID_VARIABLE", path, MSG_SYNTAX,
                    "Empty policy variable '${}'; name a context key such as ${aws:username}.");
                return -1;
            }
            if (add_part(c, p, ST_PART_VAR, key, keyl, def, defl, comma != NULL) != 0)
                return -1;
        }
        i = (size_t)(close - s) + 1;
        lit = i;
    }
    if (n > lit && add_part(c, p, ST_PART_LIT, s + lit, n - lit, NULL, 0, false) != 0)
        return -1;
    return 0;
}

/* ---- list helpers -----------------------------------------------------------------------------
 */

/* Number of entries of a string-or-array element. */
static size_t
list_len(const json_t *v)
{
    return json_is_array(v) ? json_array_size(v) : 1;
}

static const json_t *
list_at(const json_t *v, size_t i, const char *base, char *path, size_t cap)
{
    if (json_is_array(v)) {
        path_idx(path, cap, base, i);
        return json_array_get(v, i);
    }
    snprintf(path, cap, "%s", base);
    return v;
}

/*
 * Checks that a string-or-array element holds only strings (nulls skipped when `null_ok`).
 * Returns 0 or -1 (reported).
 */
static int
check_strings(struct pctx *c, const json_t *v, const char *path, const char *name, bool null_ok)
{
    char p[160];
    if (!json_is_string(v) && !json_is_array(v)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", path, MSG_SYNTAX,
            "%s must be a string or an array of strings, not %s.", name, jtype(v));
        return -1;
    }
    if (json_is_array(v) && json_array_size(v) > MAX_LIST) {
        add(c, ST_POLICY_SEV_ERROR, "TOO_MANY_ENTRIES", path, MSG_SYNTAX,
            "%s has more than %d entries; split the statement.", name, MAX_LIST);
        return -1;
    }
    for (size_t i = 0; i < list_len(v); i++) {
        const json_t *e = list_at(v, i, path, p, sizeof(p));
        if (json_is_string(e) || (null_ok && json_is_null(e)))
            continue;
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", p, MSG_SYNTAX,
            "Each %s entry must be a string, not %s%s.", name, jtype(e),
            json_is_array(e) ? " (nested arrays are not allowed)" : "");
        return -1;
    }
    return 0;
}

/* ---- principals -------------------------------------------------------------------------------
 */

static bool
has_wild(const char *s)
{
    return strchr(s, '*') || strchr(s, '?');
}

static int
compile_aws_principal(struct pctx *c, struct st_pprin *pr, const char *s, const char *path)
{
    size_t n = strlen(s);
    if (strcmp(s, "*") == 0) {
        pr->type = ST_PRIN_STAR;
        return 0;
    }
    if (has_wild(s)) {
        add(c, ST_POLICY_SEV_ERROR, "PARTIAL_WILDCARD_PRINCIPAL", path, MSG_SYNTAX,
            "Principal \"%.200s\" contains a wildcard; only the complete \"*\" is a wildcard in "
            "a principal. Name the account, user or role exactly, or use \"*\" with a condition "
            "on aws:PrincipalArn.",
            s);
        return -1;
    }
    if (st_arn_is_account_id(s, n)) {
        pr->type = ST_PRIN_ACCOUNT;
        memcpy(pr->account, s, 12);
        return 0;
    }
    struct st_arn a;
    const char *err;
    char aws[320];
    snprintf(aws, sizeof(aws), "Invalid principal in policy: \"AWS\":\"%.200s\"", s);
    if (st_arn_parse(s, n, &a, &err) != 0 || !st_arn_partition_valid(a.seg[1], a.len[1]) ||
        !st_arn_is_account_id(a.seg[ST_ARN_ACCOUNT], a.len[ST_ARN_ACCOUNT]) ||
        a.len[ST_ARN_RESOURCE] == 0 ||
        !((a.len[2] == 3 && memcmp(a.seg[2], "iam", 3) == 0) ||
          (a.len[2] == 3 && memcmp(a.seg[2], "sts", 3) == 0))) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_PRINCIPAL", path, aws,
            "\"%.200s\" is not a valid AWS principal; use \"*\", a 12-digit account id, or an "
            "IAM/STS ARN such as arn:aws:iam::123456789012:role/name.",
            s);
        return -1;
    }
    if (a.len[ST_ARN_REGION] != 0) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_PRINCIPAL", path, aws,
            "Principal ARN \"%.200s\" must not contain a region.", s);
        return -1;
    }
    memcpy(pr->account, a.seg[ST_ARN_ACCOUNT], 12);
    if (a.len[5] == 4 && memcmp(a.seg[5], "root", 4) == 0 && a.seg[2][0] == 'i')
        pr->type = ST_PRIN_ACCOUNT;
    else
        pr->type = ST_PRIN_ARN;
    return 0;
}

static int
compile_principal(struct pctx *c, struct st_pstmt *st, const json_t *v, const char *path,
                  const char *name)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_PRINCIPAL", path, MSG_SYNTAX,
                "%s must be \"*\" or an object such as {\"AWS\": \"123456789012\"}.", name);
            return -1;
        }
        st->prins = calloc(1, sizeof(*st->prins));
        if (!st->prins) {
            c->oom = true;
            return -1;
        }
        st->n_prins = 1;
        st->prins[0].type = ST_PRIN_STAR;
        st->prins[0].value = dupn(c, "*", 1);
        return st->prins[0].value ? 0 : -1;
    }
    if (!json_is_object(v) || json_object_size(v) == 0) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_PRINCIPAL", path, MSG_SYNTAX,
            "%s must be \"*\" or a non-empty object with AWS, Service, Federated or "
            "CanonicalUser entries, not %s.",
            name, jtype(v));
        return -1;
    }
    size_t total = 0;
    const char *k;
    json_t *e;
    char p[160];
    json_object_foreach((json_t *)v, k, e)
    {
        path_push(p, sizeof(p), path, k);
        if (strcmp(k, "AWS") && strcmp(k, "Service") && strcmp(k, "Federated") &&
            strcmp(k, "CanonicalUser")) {
            add(c, ST_POLICY_SEV_ERROR, "UNKNOWN_ELEMENT", p, MSG_SYNTAX,
                "Unknown principal type \"%.100s\"; use AWS, Service, Federated or "
                "CanonicalUser (case-sensitive).",
                k);
            return -1;
        }
        if (check_strings(c, e, p, name, false) != 0)
            return -1;
        if (json_is_array(e) && json_array_size(e) == 0) {
            add(c, ST_POLICY_SEV_ERROR, "EMPTY_PRINCIPAL", p, MSG_SYNTAX,
                "The %s list is empty; name at least one principal.", k);
            return -1;
        }
        if (c->opts->kind == ST_POLICY_CLUSTER &&
            (!strcmp(k, "Federated") || !strcmp(k, "CanonicalUser"))) {
            add(c, ST_POLICY_SEV_ERROR, "UNSUPPORTED_PRINCIPAL", p, MSG_SYNTAX,
                "%s principals are not supported in a cluster policy; use AWS (accounts, users, "
                "roles) or Service principals.",
                k);
            return -1;
        }
        total += list_len(e);
    }
    st->prins = calloc(total, sizeof(*st->prins));
    if (!st->prins) {
        c->oom = true;
        return -1;
    }
    json_object_foreach((json_t *)v, k, e)
    {
        path_push(p, sizeof(p), path, k);
        for (size_t i = 0; i < list_len(e); i++) {
            char ep[160];
            const json_t *s = list_at(e, i, p, ep, sizeof(ep));
            struct st_pprin *pr = &st->prins[st->n_prins++];
            const char *sv = json_string_value(s);
            pr->value = dupn(c, sv, json_string_length(s));
            if (!pr->value)
                return -1;
            if (!strcmp(k, "AWS")) {
                if (compile_aws_principal(c, pr, sv, ep) != 0)
                    return -1;
            } else if (!strcmp(k, "Service")) {
                pr->type = ST_PRIN_SERVICE;
                if (*sv == '\0' || has_wild(sv)) {
                    add(c, ST_POLICY_SEV_ERROR, "INVALID_PRINCIPAL", ep, MSG_SYNTAX,
                        "Service principal \"%.200s\" must be a service name such as "
                        "kafka.amazonaws.com, without wildcards.",
                        sv);
                    return -1;
                }
            } else {
                pr->type = !strcmp(k, "Federated") ? ST_PRIN_FEDERATED : ST_PRIN_CANONICAL;
            }
        }
    }
    return 0;
}

/* ---- actions and resources --------------------------------------------------------------------
 */

static bool
vendor_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.';
}

static int
compile_actions(struct pctx *c, struct st_pstmt *st, const json_t *v, const char *path,
                const char *name)
{
    char p[160];
    if (check_strings(c, v, path, name, false) != 0)
        return -1;
    size_t n = list_len(v);
    if (n == 0) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_ACTION", path, MSG_NO_ACTIONS,
            "%s is empty; list at least one action such as \"kafka-cluster:Connect\".", name);
        return -1;
    }
    st->actions = calloc(n, sizeof(char *));
    st->action_lens = calloc(n, sizeof(size_t));
    if (!st->actions || !st->action_lens) {
        c->oom = true;
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list_at(v, i, path, p, sizeof(p));
        const char *s = json_string_value(e);
        size_t sl = json_string_length(e);
        st->actions[st->n_actions] = dupn(c, s, sl);
        if (!st->actions[st->n_actions])
            return -1;
        st->action_lens[st->n_actions] = sl;
        st->n_actions++;
        if (strcmp(s, "*") == 0) {
            if (st->not_action)
                add(c, ST_POLICY_SEV_WARNING, "STATEMENT_NEVER_MATCHES", p, NULL,
                    "NotAction \"*\" excludes every action, so this statement never applies; "
                    "remove it or list the actions to exclude.");
            continue;
        }
        const char *colon = memchr(s, ':', sl);
        if (!colon) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_ACTION", p, MSG_VENDOR,
                "Action \"%.200s\" has no service prefix; write it as service:ActionName, e.g. "
                "kafka-cluster:Connect.",
                s);
            rc = -1;
            continue;
        }
        if (memchr(colon + 1, ':', sl - (size_t)(colon - s) - 1)) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_ACTION", p, MSG_ONE_COLON,
                "Action \"%.200s\" contains more than one ':'; write it as service:ActionName.", s);
            rc = -1;
            continue;
        }
        size_t vl = (size_t)(colon - s);
        bool ok = vl > 0;
        for (size_t k = 0; k < vl; k++)
            ok = ok && vendor_char(s[k]);
        if (!ok) {
            char aws[320];
            snprintf(aws, sizeof(aws), "Vendor %.*s is not valid", (int)(vl > 200 ? 200 : vl), s);
            add(c, ST_POLICY_SEV_ERROR, "INVALID_ACTION", p, aws,
                "The service prefix \"%.*s\" of action \"%.200s\" is not valid: it may contain "
                "only letters, digits, '-' and '.', and no wildcards.",
                (int)(vl > 200 ? 200 : vl), s, s);
            rc = -1;
            continue;
        }
        int m = st_policy_catalog_count_matches(s, vl, colon + 1, sl - vl - 1);
        if (m == 0)
            add(c, ST_POLICY_SEV_WARNING, "UNKNOWN_ACTION", p, NULL,
                "Action \"%.200s\" matches no action that the %.*s service defines; check the "
                "spelling (e.g. kafka-cluster:WriteData, kafka:CreateVpcConnection).",
                s, (int)vl, s);
    }
    return rc;
}

static int
compile_resources(struct pctx *c, struct st_pstmt *st, const json_t *v, const char *path,
                  const char *name)
{
    char p[160];
    if (check_strings(c, v, path, name, true) != 0)
        return -1;
    size_t n = list_len(v), nonnull = 0;
    for (size_t i = 0; i < n; i++)
        nonnull += json_is_string(list_at(v, i, path, p, sizeof(p)));
    if (nonnull == 0) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_RESOURCE", path, MSG_NO_RESOURCES,
            "%s is empty; list at least one ARN or \"*\".", name);
        return -1;
    }
    st->res = calloc(nonnull, sizeof(*st->res));
    if (!st->res) {
        c->oom = true;
        return -1;
    }
    int rc = 0;
    /* Format first (IAM reports format errors before legacy parsing of the same values). */
    bool format_error = false;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list_at(v, i, path, p, sizeof(p));
        char msg[320];
        if (!json_is_string(e) || (json_string_length(e) == 1 && json_string_value(e)[0] == '*'))
            continue;
        if (st_arn_validate_resource(json_string_value(e), json_string_length(e), c->vars, msg,
                                     sizeof(msg)) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_RESOURCE", p, msg,
                "%s Write an ARN such as "
                "arn:aws:kafka:us-east-1:123456789012:topic/cluster-name/*, or \"*\".",
                msg);
            format_error = true;
        }
    }
    if (format_error) {
        c->resource_error = true;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = list_at(v, i, path, p, sizeof(p));
        if (!json_is_string(e))
            continue; /* AWS accepts null inside a Resource array */
        const char *s = json_string_value(e);
        size_t sl = json_string_length(e);
        struct st_pres *r = &st->res[st->n_res++];
        if (sl == 1 && s[0] == '*') {
            r->star = true;
            if (st->not_resource)
                add(c, ST_POLICY_SEV_WARNING, "STATEMENT_NEVER_MATCHES", p, NULL,
                    "NotResource \"*\" excludes every resource, so this statement never "
                    "applies; remove it or list the resources to exclude.");
            continue;
        }
        /* Legacy parsing is skipped once a format error was reported (IAM's order). */
        if (!c->resource_error && st_arn_legacy_check(s, sl) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_RESOURCE", p, MSG_LEGACY,
                "\"%.200s\" is not a usable ARN: an ARN with fewer than six parts cannot contain "
                "'::', and the service part cannot be empty; write all six parts "
                "(arn:aws:service:region:account:resource).",
                s);
            rc = -1;
            continue;
        }
        if (pat_compile(c, &r->pat, s, sl, c->vars, p) != 0) {
            rc = -1;
            continue;
        }
        struct st_arn a;
        st_arn_split(s, sl, &a);
        if (a.n < 6 && c->opts->kind != ST_POLICY_IDENTITY && !st_glob_has_wildcard(s, sl, 0)) {
            r->never = true;
            add(c, ST_POLICY_SEV_WARNING, "RESOURCE_NEVER_MATCHES", p, NULL,
                "\"%.200s\" has fewer than six parts and no wildcard; in a resource-based "
                "policy it matches no resource. Write the full ARN.",
                s);
        } else if (a.len[0] != 3 || memcmp(a.seg[0], "arn", 3) != 0) {
            r->never = true;
            add(c, ST_POLICY_SEV_WARNING, "RESOURCE_NEVER_MATCHES", p, NULL,
                "\"%.200s\" does not start with \"arn:\", so it matches no resource.", s);
        }
        if (!r->pat.has_vars)
            st_arn_split(r->pat.glob, r->pat.glob_len, &r->arn);
        if (a.n == 6 && a.len[2] == 5 && memcmp(a.seg[2], "kafka", 5) == 0) {
            size_t tl = 0;
            while (tl < a.len[5] && a.seg[5][tl] != '/' && a.seg[5][tl] != ':')
                tl++;
            bool whole = tl == a.len[5];
            if (!(whole && st_glob_has_wildcard(a.seg[5], tl, 0)) &&
                !st_policy_kafka_resource_type(a.seg[5], tl))
                add(c, ST_POLICY_SEV_WARNING, "UNKNOWN_RESOURCE_TYPE", p, NULL,
                    "\"%.*s\" is not an MSK resource type, so \"%.200s\" matches no resource; "
                    "use cluster/, topic/, group/, transactional-id/ or vpc-connection/ (the "
                    "resource type cannot contain wildcards).",
                    (int)(tl > 100 ? 100 : tl), a.seg[5], s);
        }
    }
    return rc;
}

/* ---- conditions --------------------------------------------------------------------------------
 */

struct op_def {
    const char *name;           /* base operator name */
    enum st_cond_family family; /* family */
    enum st_cond_cmp cmp;       /* comparison */
    bool like, nocase, negated; /* flags */
};

static const struct op_def ops[] = {
    {"StringEquals", ST_CF_STRING, ST_CMP_EQ, false, false, false},
    {"StringNotEquals", ST_CF_STRING, ST_CMP_EQ, false, false, true},
    {"StringEqualsIgnoreCase", ST_CF_STRING, ST_CMP_EQ, false, true, false},
    {"StringNotEqualsIgnoreCase", ST_CF_STRING, ST_CMP_EQ, false, true, true},
    {"StringLike", ST_CF_STRING, ST_CMP_EQ, true, false, false},
    {"StringNotLike", ST_CF_STRING, ST_CMP_EQ, true, false, true},
    {"NumericEquals", ST_CF_NUMERIC, ST_CMP_EQ, false, false, false},
    {"NumericNotEquals", ST_CF_NUMERIC, ST_CMP_EQ, false, false, true},
    {"NumericLessThan", ST_CF_NUMERIC, ST_CMP_LT, false, false, false},
    {"NumericLessThanEquals", ST_CF_NUMERIC, ST_CMP_LE, false, false, false},
    {"NumericGreaterThan", ST_CF_NUMERIC, ST_CMP_GT, false, false, false},
    {"NumericGreaterThanEquals", ST_CF_NUMERIC, ST_CMP_GE, false, false, false},
    {"DateEquals", ST_CF_DATE, ST_CMP_EQ, false, false, false},
    {"DateNotEquals", ST_CF_DATE, ST_CMP_EQ, false, false, true},
    {"DateLessThan", ST_CF_DATE, ST_CMP_LT, false, false, false},
    {"DateLessThanEquals", ST_CF_DATE, ST_CMP_LE, false, false, false},
    {"DateGreaterThan", ST_CF_DATE, ST_CMP_GT, false, false, false},
    {"DateGreaterThanEquals", ST_CF_DATE, ST_CMP_GE, false, false, false},
    {"Bool", ST_CF_BOOL, ST_CMP_EQ, false, false, false},
    {"BinaryEquals", ST_CF_BINARY, ST_CMP_EQ, false, false, false},
    {"IpAddress", ST_CF_IP, ST_CMP_EQ, false, false, false},
    {"NotIpAddress", ST_CF_IP, ST_CMP_EQ, false, false, true},
    {"ArnEquals", ST_CF_ARN, ST_CMP_EQ, false, false, false},
    {"ArnLike", ST_CF_ARN, ST_CMP_EQ, false, false, false},
    {"ArnNotEquals", ST_CF_ARN, ST_CMP_EQ, false, false, true},
    {"ArnNotLike", ST_CF_ARN, ST_CMP_EQ, false, false, true},
    {"Null", ST_CF_NULL, ST_CMP_EQ, false, false, false},
};

/* Parses an operator name into c; returns 0 or -1 (unknown). */
static int
parse_op(const char *name, struct st_pcond *c)
{
    const char *s = name;
    if (strncmp(s, "ForAllValues:", 13) == 0) {
        c->set = ST_SET_ALL;
        s += 13;
    } else if (strncmp(s, "ForAnyValue:", 12) == 0) {
        c->set = ST_SET_ANY;
        s += 12;
    }
    size_t n = strlen(s);
    if (n > 8 && strcmp(s + n - 8, "IfExists") == 0) {
        c->if_exists = true;
        n -= 8;
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strlen(ops[i].name) == n && strncmp(ops[i].name, s, n) == 0) {
            if (ops[i].family == ST_CF_NULL && (c->if_exists || c->set != ST_SET_NONE))
                return -1;
            c->family = ops[i].family;
            c->cmp = ops[i].cmp;
            c->like = ops[i].like;
            c->nocase = ops[i].nocase;
            c->negated = ops[i].negated;
            return 0;
        }
    }
    return -1;
}

static int
b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Strict base64 decoding (padding required). Returns 0 or -1. */
static int
b64_decode(struct pctx *c, const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    if (n % 4 != 0)
        return -1;
    uint8_t *d = malloc(n / 4 * 3 + 1);
    if (!d) {
        c->oom = true;
        return -1;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val((unsigned char)s[i + k])) < 0) {
                free(d);
                return -1;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        d[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            d[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            d[o++] = (uint8_t)w;
    }
    *out = d;
    *out_len = o;
    return 0;
}

/* Formats a JSON real in its shortest round-tripping form (0.1 -> "0.1"). Returns the length. */
static size_t
shortest_real(double v, char *buf, size_t cap)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return n > 0 ? (size_t)n : 0;
}

static int
compile_cval(struct pctx *c, struct st_pcond *pc, struct st_cval *cv, const json_t *e,
             const char *path, bool allow_effect)
{
    char num[64];
    const char *s;
    size_t sl;
    if (json_is_string(e)) {
        s = json_string_value(e);
        sl = json_string_length(e);
    } else if (json_is_integer(e)) {
        sl = (size_t)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(e));
        s = num;
    } else if (json_is_real(e)) {
        sl = shortest_real(json_real_value(e), num, sizeof(num));
        s = num;
    } else if (json_is_boolean(e)) {
        s = json_is_true(e) ? "true" : "false";
        sl = strlen(s);
    } else {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", path, MSG_SYNTAX,
            "Condition values must be strings, numbers or booleans, not %s.", jtype(e));
        return -1;
    }
    bool vars = c->vars &&
                (pc->family == ST_CF_STRING || pc->family == ST_CF_ARN || pc->family == ST_CF_BOOL);
    if (pat_compile(c, &cv->pat, s, sl, vars, path) != 0)
        return -1;
    cv->ok = true;
    switch (pc->family) {
    case ST_CF_STRING:
        break;
    case ST_CF_ARN:
        if (!cv->pat.has_vars) {
            struct st_arn a;
            if (st_arn_split(s, sl, &a) != 6)
                add(c, ST_POLICY_SEV_WARNING, "CONDITION_NEVER_MATCHES", path, NULL,
                    "\"%.200s\" does not have the six colon-separated parts of an ARN, so %s "
                    "never matches it; write a full ARN pattern (arn:aws:service:region:account:"
                    "resource).",
                    s, pc->op_name);
        }
        break;
    case ST_CF_BOOL:
        if (!cv->pat.has_vars && !(sl == 4 && strncasecmp(s, "true", 4) == 0) &&
            !(sl == 5 && strncasecmp(s, "false", 5) == 0))
            add(c, ST_POLICY_SEV_WARNING, "CONDITION_NEVER_MATCHES", path, NULL,
                "Bool value \"%.200s\" is neither true nor false, so it never matches.", s);
        break;
    case ST_CF_NULL:
        if (sl == 4 && strncasecmp(s, "true", 4) == 0) {
            cv->b = true;
        } else if (sl == 5 && strncasecmp(s, "false", 5) == 0) {
            cv->b = false;
        } else {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_CONDITION_VALUE", path, MSG_SYNTAX,
                "Null takes \"true\" (the key must be absent) or \"false\" (present), not "
                "\"%.200s\".",
                s);
            return -1;
        }
        break;
    case ST_CF_NUMERIC:
        if (st_policy_parse_number(s, sl, &cv->num) != 0) {
            cv->ok = false;
            add(c, ST_POLICY_SEV_WARNING, "CONDITION_NEVER_MATCHES", path, NULL,
                "\"%.200s\" is not a number, so %s never matches it (policy variables are not "
                "supported in Numeric conditions).",
                s, pc->op_name);
        }
        break;
    case ST_CF_DATE:
        if (st_policy_parse_date(s, sl, &cv->sec, &cv->nsec) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_DATE", path, MSG_LEGACY,
                "\"%.200s\" is not a valid date: use ISO 8601 (2026-01-31, "
                "2026-01-31T12:00:00Z) or epoch seconds up to 253402300799.",
                s);
            return -1;
        }
        break;
    case ST_CF_BINARY:
        if (b64_decode(c, s, sl, &cv->bin, &cv->bin_len) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_CONDITION_VALUE", path, MSG_SYNTAX,
                "BinaryEquals takes base64-encoded values; \"%.200s\" is not valid base64.", s);
            return -1;
        }
        break;
    case ST_CF_IP:
        if (st_policy_parse_cidr(s, sl, true, cv->ip, &cv->ip_v6, &cv->prefix) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_CONDITION_VALUE", path, MSG_SYNTAX,
                "\"%.200s\" is not an IP address or CIDR block (e.g. 203.0.113.0/24, "
                "2001:db8::/32).",
                s);
            return -1;
        }
        break;
    }
    (void)allow_effect;
    return 0;
}

static int
check_key_name(struct pctx *c, const char *k, const char *path)
{
    const char *colon = strchr(k, ':');
    if (!colon) {
        /* IAM accepts keys without a prefix; no request ever carries one. */
        add(c, ST_POLICY_SEV_WARNING, "UNKNOWN_CONDITION_KEY", path, NULL,
            "Condition key \"%.200s\" has no prefix, so no request carries it; use a key such "
            "as aws:SourceIp or aws:PrincipalTag/team.",
            k);
        return 0;
    }
    if (strchr(colon + 1, ':')) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_CONDITION_KEY", path, MSG_ONE_COLON,
            "Condition key \"%.200s\" contains more than one ':'.", k);
        return -1;
    }
    return 0;
}

static int
compile_conditions(struct pctx *c, struct st_pstmt *st, const json_t *v, const char *path)
{
    if (!json_is_object(v)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", path, MSG_SYNTAX,
            "Condition must be an object of operators, e.g. {\"StringEquals\": {\"aws:SourceVpc\": "
            "\"vpc-1\"}}, not %s.",
            jtype(v));
        return -1;
    }
    size_t total = 0;
    const char *op;
    json_t *block;
    char p[160], kp[160], vp[160];
    json_object_foreach((json_t *)v, op, block)
    {
        path_push(p, sizeof(p), path, op);
        struct st_pcond probe;
        memset(&probe, 0, sizeof(probe));
        if (!json_is_object(block)) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", p, MSG_SYNTAX,
                "The value of operator %.200s must be an object of condition keys, not %s.", op,
                jtype(block));
            return -1;
        }
        /* IAM accepts an operator with an empty block, even an unknown one; it tests nothing. */
        if (json_object_size(block) == 0) {
            add(c, ST_POLICY_SEV_WARNING, "EMPTY_CONDITION", p, NULL,
                "Operator %.200s has no condition keys, so it tests nothing; remove it.", op);
            continue;
        }
        if (parse_op(op, &probe) != 0) {
            add(c, ST_POLICY_SEV_ERROR, "UNKNOWN_OPERATOR", p, MSG_SYNTAX,
                "Unknown condition operator \"%.200s\"; operators are case-sensitive, e.g. "
                "StringEquals, StringLike, ArnLike, IpAddress, Bool, Null, with an optional "
                "IfExists suffix (not for Null) and ForAllValues:/ForAnyValue: prefix.",
                op);
            return -1;
        }
        if (json_object_size(block) > MAX_LIST) {
            add(c, ST_POLICY_SEV_ERROR, "TOO_MANY_ENTRIES", p, MSG_SYNTAX,
                "Too many condition keys under %.200s.", op);
            return -1;
        }
        total += json_object_size(block);
    }
    st->conds = calloc(total ? total : 1, sizeof(*st->conds));
    if (!st->conds) {
        c->oom = true;
        return -1;
    }
    int rc = 0;
    json_object_foreach((json_t *)v, op, block)
    {
        path_push(p, sizeof(p), path, op);
        const char *key;
        json_t *vals;
        json_object_foreach(block, key, vals)
        {
            path_push(kp, sizeof(kp), p, key);
            struct st_pcond *pc = &st->conds[st->n_conds++];
            if (parse_op(op, pc) != 0)
                return -1;
            pc->op_name = dupn(c, op, strlen(op));
            pc->key = dupn(c, key, strlen(key));
            if (!pc->op_name || !pc->key)
                return -1;
            if (check_key_name(c, key, kp) != 0) {
                rc = -1;
                continue;
            }
            if (json_is_array(vals) && json_array_size(vals) == 0)
                add(c, ST_POLICY_SEV_WARNING, "CONDITION_NEVER_MATCHES", kp, NULL,
                    "Condition key %.200s has an empty list of values: a positive operator is "
                    "then never true and a negated one always; list the values.",
                    key);
            if (json_is_array(vals) && json_array_size(vals) > MAX_LIST) {
                add(c, ST_POLICY_SEV_ERROR, "TOO_MANY_ENTRIES", kp, MSG_SYNTAX,
                    "Too many values for condition key %.200s.", key);
                rc = -1;
                continue;
            }
            size_t n = list_len(vals);
            pc->vals = calloc(n ? n : 1, sizeof(*pc->vals));
            if (!pc->vals) {
                c->oom = true;
                return -1;
            }
            for (size_t i = 0; i < n; i++) {
                const json_t *e = list_at(vals, i, kp, vp, sizeof(vp));
                if (json_is_array(e) || json_is_object(e) || json_is_null(e)) {
                    add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", vp, MSG_SYNTAX,
                        "Condition values must be strings, numbers or booleans, not %s.", jtype(e));
                    rc = -1;
                    break;
                }
                pc->n_vals++;
                if (compile_cval(c, pc, &pc->vals[i], e, vp, true) != 0)
                    rc = -1;
            }
            if (pc->set == ST_SET_ALL && !st->deny && !pc->negated)
                add(c, ST_POLICY_SEV_WARNING, "FORALLVALUES_WITH_ALLOW", kp, NULL,
                    "%.200s is true when %.200s is absent from the request, so this Allow also "
                    "applies to requests without the key; add {\"Null\": {\"%.200s\": \"false\"}}.",
                    op, key, key);
        }
    }
    return rc;
}

/* ---- statements -------------------------------------------------------------------------------
 */

static bool
sid_valid(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static void
stmt_free(struct st_pstmt *st)
{
    free(st->sid);
    for (size_t i = 0; i < st->n_prins; i++)
        free(st->prins[i].value);
    free(st->prins);
    for (size_t i = 0; i < st->n_actions; i++)
        free(st->actions[i]);
    free(st->actions);
    free(st->action_lens);
    for (size_t i = 0; i < st->n_res; i++)
        st_pat_free(&st->res[i].pat);
    free(st->res);
    for (size_t i = 0; i < st->n_conds; i++)
        st_cond_free(&st->conds[i]);
    free(st->conds);
}

/*
 * AWS advises listing, next to each user or role in a Deny NotPrincipal, its account too: the
 * request may be validated as the account first, and then the Deny applies to it.
 */
static void
check_notprincipal_accounts(struct pctx *c, const struct st_pstmt *st, const char *path)
{
    for (size_t i = 0; i < st->n_prins; i++) {
        const struct st_pprin *e = &st->prins[i];
        if (e->type != ST_PRIN_ARN)
            continue;
        bool listed = false;
        for (size_t j = 0; j < st->n_prins && !listed; j++)
            listed = st->prins[j].type == ST_PRIN_ACCOUNT &&
                     memcmp(st->prins[j].account, e->account, 12) == 0;
        if (!listed)
            add(c, ST_POLICY_SEV_WARNING, "NOTPRINCIPAL_WITHOUT_ACCOUNT", path, NULL,
                "NotPrincipal lists %.200s but not its account %.12s; AWS advises listing the "
                "account (\"%.12s\") too, or the Deny may apply to requests it validates as the "
                "account.",
                e->value, e->account, e->account);
    }
}

/* The MSK resource type of a compiled Resource entry ("" when unknown or not literal). */
static void
resource_type(const struct st_pres *r, const char **type, size_t *len)
{
    *type = "";
    *len = 0;
    if (r->star || r->pat.has_vars || r->arn.n != 6 || r->arn.len[ST_ARN_SERVICE] != 5 ||
        memcmp(r->arn.seg[ST_ARN_SERVICE], "kafka", 5) != 0)
        return;
    const char *s = r->arn.seg[ST_ARN_RESOURCE];
    size_t n = r->arn.len[ST_ARN_RESOURCE], t = 0;
    while (t < n && s[t] != '/' && s[t] != ':')
        t++;
    if (t < n && !st_glob_has_wildcard(s, t, ST_GLOB_ESCAPED)) {
        *type = s;
        *len = t;
    }
}

/*
 * Access-Analyzer-style check: an action named exactly (no wildcard) from the kafka/kafka-cluster
 * catalogues whose resource type none of the statement's Resource entries can be, e.g.
 * kafka-cluster:WriteData with only cluster ARNs. Only when every entry has a literal MSK type.
 */
static void
check_action_resources(struct pctx *c, const struct st_pstmt *st, const char *path, bool list)
{
    for (size_t i = 0; i < st->n_res; i++) {
        const char *t;
        size_t tl;
        resource_type(&st->res[i], &t, &tl);
        if (tl == 0)
            return;
    }
    for (size_t a = 0; a < st->n_actions; a++) {
        const char *act = st->actions[a];
        if (st_glob_has_wildcard(act, st->action_lens[a], 0))
            continue;
        const struct st_policy_action_info *info = st_policy_catalog_find(act);
        if (!info || !info->resource[0])
            continue;
        bool ok = false;
        for (size_t i = 0; i < st->n_res && !ok; i++) {
            const char *t;
            size_t tl;
            resource_type(&st->res[i], &t, &tl);
            ok = tl == strlen(info->resource) && memcmp(t, info->resource, tl) == 0;
        }
        if (!ok) {
            char ap[200];
            if (list)
                snprintf(ap, sizeof(ap), "%s/Action/%zu", path, a);
            else
                snprintf(ap, sizeof(ap), "%s/Action", path);
            add(c, ST_POLICY_SEV_WARNING, "ACTION_RESOURCE_MISMATCH", ap, NULL,
                "%.100s applies to %s ARNs (arn:aws:kafka:REGION:ACCOUNT:%s/...), but the "
                "statement lists none, so it never allows or denies this action; add a %s ARN.",
                act, info->resource, info->resource, info->resource);
        }
    }
}

static int
compile_stmt(struct pctx *c, struct st_pstmt *st, const json_t *o, const char *path)
{
    char p[160];
    if (!json_is_object(o)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", path, MSG_SYNTAX,
            "A statement must be an object, not %s.", jtype(o));
        return -1;
    }
    int rc = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        static const char *const known[] = {"Sid",          "Effect",      "Principal",
                                            "NotPrincipal", "Action",      "NotAction",
                                            "Resource",     "NotResource", "Condition"};
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok) {
            path_push(p, sizeof(p), path, k);
            add(c, ST_POLICY_SEV_ERROR, "UNKNOWN_ELEMENT", p, MSG_SYNTAX,
                "Unknown statement element \"%.100s\"; statements may contain Sid, Effect, "
                "Principal/NotPrincipal, Action/NotAction, Resource/NotResource and Condition "
                "(case-sensitive).",
                k);
            rc = -1;
        }
    }
    if (rc)
        return rc;

    const json_t *sid = json_object_get(o, "Sid");
    if (sid) {
        path_push(p, sizeof(p), path, "Sid");
        if (!json_is_string(sid)) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", p, MSG_SYNTAX,
                "Sid must be a string, not %s.", jtype(sid));
            return -1;
        }
        if (!sid_valid(json_string_value(sid))) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_SID", p, MSG_SID_CHARS,
                "Sid \"%.100s\" may contain only letters and digits.", json_string_value(sid));
            rc = -1;
        }
        st->sid = dupn(c, json_string_value(sid), json_string_length(sid));
        if (!st->sid)
            return -1;
    }

    const json_t *eff = json_object_get(o, "Effect");
    path_push(p, sizeof(p), path, "Effect");
    if (!eff) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_EFFECT", path, MSG_SYNTAX,
            "The statement has no Effect; add \"Effect\": \"Allow\" or \"Deny\".");
        rc = -1;
    } else if (json_is_string(eff) &&
               (strcasecmp(json_string_value(eff), "Allow") == 0 ||
                strcasecmp(json_string_value(eff), "Deny") == 0) &&
               strcmp(json_string_value(eff), "Allow") != 0 &&
               strcmp(json_string_value(eff), "Deny") != 0) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_EFFECT", p, MSG_LEGACY,
            "Effect values are case-sensitive: write \"%s\" instead of \"%.20s\".",
            tolower((unsigned char)json_string_value(eff)[0]) == 'a' ? "Allow" : "Deny",
            json_string_value(eff));
        rc = -1;
    } else if (!json_is_string(eff) || (strcmp(json_string_value(eff), "Allow") != 0 &&
                                        strcmp(json_string_value(eff), "Deny") != 0)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_EFFECT", p, MSG_SYNTAX,
            "Effect must be exactly \"Allow\" or \"Deny\" (case-sensitive)%s%.100s%s.",
            json_is_string(eff) ? ", not \"" : "",
            json_is_string(eff) ? json_string_value(eff) : "", json_is_string(eff) ? "\"" : "");
        rc = -1;
    } else {
        st->deny = strcmp(json_string_value(eff), "Deny") == 0;
    }

    const json_t *pr = json_object_get(o, "Principal");
    const json_t *npr = json_object_get(o, "NotPrincipal");
    bool resource_kind = c->opts->kind != ST_POLICY_IDENTITY;
    if (pr && npr) {
        add(c, ST_POLICY_SEV_ERROR, "CONFLICTING_ELEMENTS", path, MSG_SYNTAX,
            "A statement cannot have both Principal and NotPrincipal; keep one.");
        rc = -1;
    } else if ((pr || npr) && !resource_kind) {
        path_push(p, sizeof(p), path, pr ? "Principal" : "NotPrincipal");
        add(c, ST_POLICY_SEV_ERROR, "PRINCIPAL_IN_IDENTITY_POLICY", p, MSG_HAS_PRINCIPAL,
            "Identity policies apply to the principal they are attached to; remove %s.",
            pr ? "Principal" : "NotPrincipal");
        rc = -1;
    } else if (!pr && !npr && resource_kind) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_PRINCIPAL", path, MSG_NO_PRINCIPAL,
            "Resource-based policies must say whom a statement applies to; add a Principal such "
            "as {\"AWS\": \"123456789012\"}.");
        rc = -1;
    } else if (pr || npr) {
        const char *name = pr ? "Principal" : "NotPrincipal";
        path_push(p, sizeof(p), path, name);
        if (npr && c->opts->kind == ST_POLICY_TRUST) {
            add(c, ST_POLICY_SEV_ERROR, "NOTPRINCIPAL_NOT_ALLOWED", p, MSG_SYNTAX,
                "NotPrincipal is not allowed in role trust policies; use Principal with "
                "conditions.");
            rc = -1;
        } else if (npr && !st->deny && eff) {
            add(c, ST_POLICY_SEV_ERROR, "NOTPRINCIPAL_WITH_ALLOW", p, MSG_SYNTAX,
                "NotPrincipal is accepted only with \"Effect\": \"Deny\"; grant access with "
                "Principal instead.");
            rc = -1;
        } else {
            st->prin_mode = pr ? ST_PMODE_PRINCIPAL : ST_PMODE_NOTPRINCIPAL;
            if (compile_principal(c, st, pr ? pr : npr, p, name) != 0)
                rc = -1;
            else if (npr)
                check_notprincipal_accounts(c, st, p);
        }
    }

    const json_t *ac = json_object_get(o, "Action");
    const json_t *nac = json_object_get(o, "NotAction");
    if (ac && nac) {
        add(c, ST_POLICY_SEV_ERROR, "CONFLICTING_ELEMENTS", path, MSG_SYNTAX,
            "A statement cannot have both Action and NotAction; keep one.");
        rc = -1;
    } else if (!ac && !nac) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_ACTION", path, MSG_NO_ACTIONS,
            "The statement has no Action or NotAction; add the actions it applies to.");
        rc = -1;
    } else {
        st->not_action = nac != NULL;
        path_push(p, sizeof(p), path, ac ? "Action" : "NotAction");
        if (compile_actions(c, st, ac ? ac : nac, p, ac ? "Action" : "NotAction") != 0)
            rc = -1;
    }

    const json_t *rs = json_object_get(o, "Resource");
    const json_t *nrs = json_object_get(o, "NotResource");
    if (rs && nrs) {
        add(c, ST_POLICY_SEV_ERROR, "CONFLICTING_ELEMENTS", path, MSG_SYNTAX,
            "A statement cannot have both Resource and NotResource; keep one.");
        rc = -1;
    } else if (!rs && !nrs && c->opts->kind == ST_POLICY_TRUST) {
        /* A role trust policy applies to the role it is attached to. */
        st->res = calloc(1, sizeof(*st->res));
        if (!st->res) {
            c->oom = true;
            return -1;
        }
        st->res[0].star = true;
        st->n_res = 1;
    } else if (!rs && !nrs) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_RESOURCE", path, MSG_NO_RESOURCES,
            "The statement has no Resource or NotResource; add the ARNs it applies to, or "
            "\"*\".");
        rc = -1;
    } else {
        st->not_resource = nrs != NULL;
        path_push(p, sizeof(p), path, rs ? "Resource" : "NotResource");
        if (compile_resources(c, st, rs ? rs : nrs, p, rs ? "Resource" : "NotResource") != 0)
            rc = -1;
        else if (ac && rs)
            check_action_resources(c, st, path, json_is_array(ac));
    }

    const json_t *cond = json_object_get(o, "Condition");
    if (cond) {
        path_push(p, sizeof(p), path, "Condition");
        if (compile_conditions(c, st, cond, p) != 0)
            rc = -1;
    }
    return rc;
}

/* ---- document ---------------------------------------------------------------------------------
 */

static void
policy_free(struct st_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_stmts; i++)
        stmt_free(&p->stmts[i]);
    free(p->stmts);
    free(p->id);
    free(p);
}

static size_t
default_max(enum st_policy_kind kind)
{
    switch (kind) {
    case ST_POLICY_IDENTITY:
        return ST_POLICY_IDENTITY_MAX_SIZE;
    case ST_POLICY_CLUSTER:
        return ST_POLICY_CLUSTER_MAX_SIZE;
    default:
        return ST_POLICY_RESOURCE_MAX_SIZE;
    }
}

static int
compile_doc(struct pctx *c, struct st_policy *pol, const json_t *root)
{
    if (!json_is_object(root)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", "", MSG_SYNTAX,
            "A policy document must be a JSON object with Version and Statement, not %s.",
            jtype(root));
        return -1;
    }
    int rc = 0;
    const char *k;
    json_t *v;
    char p[160];
    json_object_foreach((json_t *)root, k, v)
    {
        if (strcmp(k, "Version") && strcmp(k, "Id") && strcmp(k, "Statement")) {
            path_push(p, sizeof(p), "", k);
            add(c, ST_POLICY_SEV_ERROR, "UNKNOWN_ELEMENT", p, MSG_SYNTAX,
                "Unknown top-level element \"%.100s\"; a policy contains only Version, Id and "
                "Statement (case-sensitive).",
                k);
            rc = -1;
        }
    }
    const json_t *ver = json_object_get(root, "Version");
    pol->version = 20081017;
    if (ver) {
        const char *vs = json_is_string(ver) ? json_string_value(ver) : "";
        if (strcmp(vs, "2012-10-17") == 0) {
            pol->version = 20121017;
        } else if (strcmp(vs, "2008-10-17") != 0) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_VERSION", "/Version", MSG_SYNTAX,
                "Version must be \"2012-10-17\" (or the legacy \"2008-10-17\").");
            rc = -1;
        }
    }
    if (pol->version != 20121017) {
        add(c, c->opts->require_2012 ? ST_POLICY_SEV_ERROR : ST_POLICY_SEV_WARNING, "OLD_VERSION",
            ver ? "/Version" : "", c->opts->require_2012 ? MSG_VERSION : NULL,
            "%s: policy variables such as ${aws:username} are literal text under 2008-10-17; "
            "add \"Version\": \"2012-10-17\".",
            ver ? "Version is 2008-10-17" : "Version is missing, so it defaults to 2008-10-17");
        if (c->opts->require_2012)
            rc = -1;
    }
    c->vars = pol->version == 20121017;

    const json_t *id = json_object_get(root, "Id");
    if (id) {
        if (!json_is_string(id)) {
            add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", "/Id", MSG_SYNTAX,
                "Id must be a string, not %s.", jtype(id));
            rc = -1;
        } else {
            pol->id = dupn(c, json_string_value(id), json_string_length(id));
            if (c->opts->kind == ST_POLICY_IDENTITY)
                add(c, ST_POLICY_SEV_WARNING, "ID_IN_IDENTITY_POLICY", "/Id", NULL,
                    "Id is meant for resource-based policies; IAM identity policies do not use "
                    "it.");
        }
    }

    const json_t *stmts = json_object_get(root, "Statement");
    if (!stmts) {
        add(c, ST_POLICY_SEV_ERROR, "MISSING_STATEMENT", "", MSG_SYNTAX,
            "The policy has no Statement; add \"Statement\": [{...}].");
        return -1;
    }
    if (!json_is_object(stmts) && !json_is_array(stmts)) {
        add(c, ST_POLICY_SEV_ERROR, "INVALID_TYPE", "/Statement", MSG_SYNTAX,
            "Statement must be an object or an array of objects, not %s.", jtype(stmts));
        return -1;
    }
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    if (n == 0) {
        add(c, ST_POLICY_SEV_ERROR, "EMPTY_STATEMENT", "/Statement", MSG_SYNTAX,
            "Statement is an empty array; add at least one statement.");
        return -1;
    }
    if (n > MAX_LIST) {
        add(c, ST_POLICY_SEV_ERROR, "TOO_MANY_ENTRIES", "/Statement", MSG_SYNTAX,
            "Too many statements.");
        return -1;
    }
    pol->stmts = calloc(n, sizeof(*pol->stmts));
    if (!pol->stmts) {
        c->oom = true;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *o = list_at(stmts, i, "/Statement", p, sizeof(p));
        pol->n_stmts++;
        if (compile_stmt(c, &pol->stmts[i], o, p) != 0)
            rc = -1;
        const char *sid = pol->stmts[i].sid;
        for (size_t j = 0; sid && *sid && j < i; j++) {
            if (pol->stmts[j].sid && strcmp(pol->stmts[j].sid, sid) == 0) {
                char sp[160];
                path_push(sp, sizeof(sp), p, "Sid");
                add(c, ST_POLICY_SEV_ERROR, "DUPLICATE_SID", sp, MSG_DUP_SID,
                    "Sid \"%.100s\" is already used by statement %zu; give each statement a "
                    "unique Sid.",
                    sid, j);
                rc = -1;
                break;
            }
        }
    }
    return rc;
}

struct st_policy *
st_policy_parse(const char *json, size_t len, const struct st_policy_parse_opts *opts,
                struct st_policy_findings *findings, const char **err)
{
    struct st_policy_findings local = ST_POLICY_FINDINGS_INIT;
    struct st_policy_parse_opts defopts = {ST_POLICY_IDENTITY, 0, true};
    struct pctx c = {opts ? opts : &defopts, findings ? findings : &local, false, false, false};
    size_t errors_before = c.f->n_errors;
    size_t first = c.f->n;
    struct st_policy *pol = NULL;
    json_t *root = NULL;

    size_t max = c.opts->max_size ? c.opts->max_size : default_max(c.opts->kind);
    size_t counted = len;
    if (c.opts->kind == ST_POLICY_IDENTITY) {
        counted = 0;
        for (size_t i = 0; i < len; i++)
            counted += !(json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r');
    }
    if (counted > max) {
        char aws[128];
        snprintf(aws, sizeof(aws), MSG_TOO_LARGE, max);
        add(&c, ST_POLICY_SEV_ERROR, "POLICY_TOO_LARGE", "", aws,
            "The policy is %zu bytes%s; the limit is %zu. Split it or use wildcards.", counted,
            c.opts->kind == ST_POLICY_IDENTITY ? " (whitespace not counted)" : "", max);
        goto out;
    }
    if (json_depth(json, len) > ST_POLICY_MAX_DEPTH) {
        add(&c, ST_POLICY_SEV_ERROR, "TOO_DEEP", "", MSG_SYNTAX,
            "The document nests objects/arrays more than %d levels deep; policies need at most "
            "5.",
            ST_POLICY_MAX_DEPTH);
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        add(&c, ST_POLICY_SEV_ERROR, "MALFORMED_JSON", "", MSG_SYNTAX,
            "Not valid JSON at line %d, column %d: %s.", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    pol = calloc(1, sizeof(*pol));
    if (!pol) {
        c.oom = true;
        goto out;
    }
    atomic_init(&pol->refs, 1);
    pol->kind = c.opts->kind;
    (void)compile_doc(&c, pol, root);

out:
    json_decref(root);
    if (c.oom && c.f->n_errors == errors_before)
        add(&c, ST_POLICY_SEV_ERROR, "OUT_OF_MEMORY", "", MSG_SYNTAX, "Out of memory.");
    if (c.oom || c.f->n_errors != errors_before) {
        policy_free(pol);
        pol = NULL;
        if (err) {
            const struct st_policy_finding *e = findings ? first_error_from(findings, first) : NULL;
            *err = e ? e->aws_message : MSG_SYNTAX;
        }
    }
    st_policy_findings_free(&local);
    return pol;
}

struct st_policy *
st_policy_ref(struct st_policy *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void
st_policy_unref(struct st_policy *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policy_free(p);
}

int
st_policy_version(const struct st_policy *p)
{
    return p->version;
}

size_t
st_policy_statement_count(const struct st_policy *p)
{
    return p->n_stmts;
}

const char *
st_policy_statement_sid(const struct st_policy *p, size_t i)
{
    return i < p->n_stmts ? p->stmts[i].sid : NULL;
}
