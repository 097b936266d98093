/*
 * Condition operators (spec §6): value parsers (numbers, W3C dates, epoch seconds, CIDRs, base64),
 * policy-variable expansion (§5), context lookup, and the evaluation of one condition with the
 * IfExists suffix and the ForAllValues:/ForAnyValue: set operators. Nothing here allocates during
 * evaluation: variables are expanded into stack buffers.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/glob.h"
#include "policy/internal.h"

const struct st_policy_ctx_value *
st_policy_ctx_find(const struct st_policy_request *req, const char *key, size_t key_len)
{
    for (size_t i = 0; i < req->n_ctx; i++) {
        const char *k = req->ctx[i].key;
        if (k && strlen(k) == key_len && strncasecmp(k, key, key_len) == 0)
            return &req->ctx[i];
    }
    return NULL;
}

/* Appends n bytes to buf at *o, escaping for the glob encoding when `esc`. Returns -1 if full. */
static int
put(char *buf, size_t cap, size_t *o, const char *s, size_t n, bool esc, bool esc_wild)
{
    for (size_t i = 0; i < n; i++) {
        bool need = esc && (s[i] == ST_GLOB_ESC || (esc_wild && (s[i] == '*' || s[i] == '?')));
        if (*o + (need ? 2 : 1) > cap)
            return -1;
        if (need)
            buf[(*o)++] = ST_GLOB_ESC;
        buf[(*o)++] = s[i];
    }
    return 0;
}

long
st_pat_expand(const struct st_pat *p, const struct st_policy_request *req, bool glob, char *buf,
              size_t cap)
{
    size_t o = 0;
    if (!p->has_vars) {
        const char *s = glob ? p->glob : p->raw;
        size_t n = glob ? p->glob_len : p->raw_len;
        if (n > cap)
            return -1;
        memcpy(buf, s, n);
        return (long)n;
    }
    for (size_t i = 0; i < p->n_parts; i++) {
        const struct st_part *pt = &p->parts[i];
        int rc = 0;
        switch (pt->kind) {
        case ST_PART_LIT:
            rc = put(buf, cap, &o, pt->text, pt->len, glob, false);
            break;
        case ST_PART_CHAR:
            rc = put(buf, cap, &o, pt->text, pt->len, glob, true);
            break;
        case ST_PART_VAR: {
            const struct st_policy_ctx_value *v = st_policy_ctx_find(req, pt->text, pt->len);
            if (v && !v->is_set && v->n_values == 1 && v->values[0]) {
                rc = put(buf, cap, &o, v->values[0], strlen(v->values[0]), glob, false);
            } else if (pt->def) {
                rc = put(buf, cap, &o, pt->def, pt->def_len, glob, false);
            } else {
                return -1;
            }
            break;
        }
        }
        if (rc != 0)
            return -1;
    }
    return (long)o;
}

void
st_pat_free(struct st_pat *p)
{
    free(p->raw);
    free(p->glob);
    for (size_t i = 0; i < p->n_parts; i++) {
        free(p->parts[i].text);
        free(p->parts[i].def);
    }
    free(p->parts);
    memset(p, 0, sizeof(*p));
}

void
st_cond_free(struct st_pcond *c)
{
    free(c->op_name);
    free(c->key);
    for (size_t i = 0; i < c->n_vals; i++) {
        st_pat_free(&c->vals[i].pat);
        free(c->vals[i].bin);
    }
    free(c->vals);
    memset(c, 0, sizeof(*c));
}

int
st_policy_parse_number(const char *s, size_t len, double *out)
{
    char tmp[64];
    size_t i = 0;
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    if (s[0] == '-' || s[0] == '+')
        i++;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0)
        return -1;
    if (i < len && s[i] == '.') {
        i++;
        size_t frac = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac++;
        }
        if (frac == 0)
            return -1;
    }
    if (i != len)
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    *out = strtod(tmp, NULL);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * Reads 1..maxd decimal digits at s[*i] (stopping at the first non-digit) into *out; returns the
 * number of digits read, or -1 for none or too many.
 */
static int
num(const char *s, size_t len, size_t *i, int maxd, int64_t *out)
{
    int n = 0;
    int64_t v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (++n > maxd)
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    if (n == 0)
        return -1;
    *out = v;
    return n;
}

/* Time-zone designator at s[*i]: `Z`, or `+`/`-` then hh with optional `:mm`. */
static int
tzd(const char *s, size_t len, size_t *i, int64_t *off)
{
    *off = 0;
    if (*i >= len)
        return 0; /* no zone: UTC */
    char c = s[*i];
    if (c == 'Z' || c == 'z') {
        (*i)++;
        return 0;
    }
    if (c != '+' && c != '-')
        return -1;
    (*i)++;
    int64_t th, tm = 0;
    if (num(s, len, i, 2, &th) != 2 || th > 23)
        return -1;
    if (*i < len && s[*i] == ':') {
        (*i)++;
        if (num(s, len, i, 2, &tm) != 2 || tm > 59)
            return -1;
    }
    *off = (c == '-' ? -1 : 1) * (th * 3600 + tm * 60);
    return 0;
}

/*
 * Accepts what IAM accepts (the grammar IAM's "legacy parsing" enforces, as modelled by moto):
 * a value without 'T' and '-' is epoch seconds (0..INT64_MAX); otherwise an ISO 8601 date
 * `[-]Y[-M[-D]]` (year -292275054..292278993, month 1..12, day 1..31) with an optional
 * `T`/`t` time `h[:m[:s[.fraction]]]` (up to 9 fraction digits) and zone `Z`, `+hh[:mm]` or
 * `-hh[:mm]` (UTC when absent). The instant is computed on the proleptic Gregorian calendar (a
 * day past the month's end rolls over).
 */
int
st_policy_parse_date(const char *s, size_t len, int64_t *sec, int32_t *nsec)
{
    size_t i = 0;
    bool iso = false;
    for (size_t k = 0; k < len; k++)
        if (s[k] == 'T' || s[k] == 't' || s[k] == '-')
            iso = true;
    if (len == 0)
        return -1;
    if (!iso) {
        int64_t v = 0;
        for (size_t k = 0; k < len; k++) {
            if (s[k] < '0' || s[k] > '9' || v > (INT64_MAX - (s[k] - '0')) / 10)
                return -1;
            v = v * 10 + (s[k] - '0');
        }
        *sec = v;
        *nsec = 0;
        return 0;
    }
    bool neg = s[0] == '-';
    if (neg)
        i++;
    int64_t y, mo = 1, d = 1, h = 0, mi = 0, se = 0, off = 0, frac = 0;
    if (num(s, len, &i, 9, &y) < 0 || y > (neg ? 292275054 : 292278993))
        return -1;
    if (neg)
        y = -y;
    if (i < len && s[i] == '-') {
        i++;
        if (num(s, len, &i, 2, &mo) < 0 || mo < 1 || mo > 12)
            return -1;
        if (i < len && s[i] == '-') {
            i++;
            if (num(s, len, &i, 2, &d) < 0 || d < 1 || d > 31)
                return -1;
        }
    }
    int32_t ns = 0;
    if (i < len && (s[i] == 'T' || s[i] == 't')) {
        i++;
        if (i < len && s[i] >= '0' && s[i] <= '9') {
            if (num(s, len, &i, 2, &h) < 0 || h > 23)
                return -1;
            if (i < len && s[i] == ':') {
                i++;
                if (num(s, len, &i, 2, &mi) < 0 || mi > 59)
                    return -1;
                if (i < len && s[i] == ':') {
                    i++;
                    if (num(s, len, &i, 2, &se) < 0 || se > 59)
                        return -1;
                    if (i < len && s[i] == '.') {
                        i++;
                        size_t st = i;
                        if (num(s, len, &i, 9, &frac) < 0)
                            return -1;
                        for (size_t k = i - st; k < 9; k++)
                            frac *= 10;
                        ns = (int32_t)frac;
                    }
                }
            }
        }
        if (tzd(s, len, &i, &off) != 0)
            return -1;
    }
    if (i != len)
        return -1;
    *sec = days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + se - off;
    *nsec = ns;
    return 0;
}

int
st_policy_parse_cidr(const char *s, size_t len, bool allow_prefix, uint8_t ip[16], int *v6,
                     int *prefix)
{
    char tmp[64];
    size_t alen = len;
    int pfx = -1;
    const char *slash = memchr(s, '/', len);
    if (slash) {
        if (!allow_prefix)
            return -1;
        alen = (size_t)(slash - s);
        size_t i = alen + 1;
        if (i >= len || len - i > 3)
            return -1;
        pfx = 0;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            pfx = pfx * 10 + (s[i] - '0');
        }
    }
    if (alen == 0 || alen >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    memset(ip, 0, 16);
    if (memchr(tmp, ':', alen)) {
        if (inet_pton(AF_INET6, tmp, ip) != 1)
            return -1;
        *v6 = 1;
        if (pfx > 128)
            return -1;
        *prefix = pfx < 0 ? 128 : pfx;
    } else {
        if (inet_pton(AF_INET, tmp, ip) != 1)
            return -1;
        *v6 = 0;
        if (pfx > 32)
            return -1;
        *prefix = pfx < 0 ? 32 : pfx;
    }
    return 0;
}

static bool
ip_in(const struct st_cval *cv, const uint8_t ip[16], int v6)
{
    if (v6 != cv->ip_v6)
        return false; /* OBS: IPv4 never matches IPv6 */
    int bits = cv->prefix;
    for (int k = 0; bits > 0; k++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((ip[k] & mask) != (cv->ip[k] & mask))
            return false;
    }
    return true;
}

static int
cmp_result(int c, enum st_cond_cmp cmp)
{
    switch (cmp) {
    case ST_CMP_EQ:
        return c == 0;
    case ST_CMP_LT:
        return c < 0;
    case ST_CMP_LE:
        return c <= 0;
    case ST_CMP_GT:
        return c > 0;
    case ST_CMP_GE:
        return c >= 0;
    }
    return 0;
}

static bool
parse_bool(const char *s, size_t len, bool *out)
{
    if (len == 4 && strncasecmp(s, "true", 4) == 0) {
        *out = true;
        return true;
    }
    if (len == 5 && strncasecmp(s, "false", 5) == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* Whether request value `v` matches policy value `cv` under the positive form of c's operator. */
static bool
value_match(const struct st_pcond *c, const struct st_cval *cv, const char *v,
            const struct st_policy_request *req)
{
    size_t vl = strlen(v);
    char buf[ST_POLICY_EXPAND_MAX];
    long n;

    switch (c->family) {
    case ST_CF_STRING:
        n = st_pat_expand(&cv->pat, req, c->like, buf, sizeof(buf));
        if (n < 0)
            return false;
        if (c->like)
            return st_glob_match(buf, (size_t)n, v, vl, ST_GLOB_ESCAPED);
        if ((size_t)n != vl)
            return false;
        return c->nocase ? strncasecmp(buf, v, vl) == 0 : memcmp(buf, v, vl) == 0;
    case ST_CF_ARN:
        n = st_pat_expand(&cv->pat, req, true, buf, sizeof(buf));
        if (n < 0)
            return false;
        return st_arn_like(buf, (size_t)n, v, vl, ST_GLOB_ESCAPED);
    case ST_CF_BOOL: {
        bool pb, rb;
        n = st_pat_expand(&cv->pat, req, false, buf, sizeof(buf));
        if (n < 0 || !parse_bool(buf, (size_t)n, &pb) || !parse_bool(v, vl, &rb))
            return false;
        return pb == rb;
    }
    case ST_CF_NUMERIC: {
        double d;
        if (!cv->ok || st_policy_parse_number(v, vl, &d) != 0)
            return false;
        return cmp_result(d < cv->num ? -1 : d > cv->num ? 1 : 0, c->cmp);
    }
    case ST_CF_DATE: {
        int64_t s;
        int32_t ns;
        if (!cv->ok || st_policy_parse_date(v, vl, &s, &ns) != 0)
            return false;
        int r = s < cv->sec ? -1 : s > cv->sec ? 1 : ns < cv->nsec ? -1 : ns > cv->nsec ? 1 : 0;
        return cmp_result(r, c->cmp);
    }
    case ST_CF_BINARY:
        return cv->ok && vl == cv->bin_len && (vl == 0 || memcmp(v, cv->bin, vl) == 0);
    case ST_CF_IP: {
        uint8_t ip[16];
        int v6, pfx;
        if (!cv->ok || st_policy_parse_cidr(v, vl, false, ip, &v6, &pfx) != 0)
            return false;
        return ip_in(cv, ip, v6);
    }
    case ST_CF_NULL:
        return false;
    }
    return false;
}

/*
 * Whether request value `v` can be compared under c's family at all: numbers, dates, IP addresses
 * and ARNs must parse (Bool, String and Binary always can). A value that cannot be compared makes
 * positive and negated operators alike false for it (OBS, spec §6.3 "an unparsable value does not
 * match"): NotIpAddress on "garbage" is not true.
 */
static bool
value_valid(const struct st_pcond *c, const char *v)
{
    size_t vl = strlen(v);
    switch (c->family) {
    case ST_CF_NUMERIC: {
        double d;
        return st_policy_parse_number(v, vl, &d) == 0;
    }
    case ST_CF_DATE: {
        int64_t s;
        int32_t ns;
        return st_policy_parse_date(v, vl, &s, &ns) == 0;
    }
    case ST_CF_IP: {
        uint8_t ip[16];
        int v6, pfx;
        return st_policy_parse_cidr(v, vl, false, ip, &v6, &pfx) == 0;
    }
    case ST_CF_ARN: {
        struct st_arn a;
        return st_arn_split(v, vl, &a) == 6;
    }
    default:
        return true;
    }
}

/* Whether request value `v` matches any of the condition's values (positive form). */
static bool
any_value(const struct st_pcond *c, const char *v, const struct st_policy_request *req)
{
    for (size_t i = 0; i < c->n_vals; i++)
        if (value_match(c, &c->vals[i], v, req))
            return true;
    return false;
}

/* The operator applied to one request value: positive -> some policy value matches; negated ->
 * the value is comparable and no policy value matches. */
static bool
op_value(const struct st_pcond *c, const char *v, const struct st_policy_request *req)
{
    if (!c->negated)
        return any_value(c, v, req);
    return value_valid(c, v) && !any_value(c, v, req);
}

bool
st_cond_eval(const struct st_pcond *c, const struct st_policy_request *req, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    const struct st_policy_ctx_value *kv = st_policy_ctx_find(req, c->key, strlen(c->key));
    if (kv && !kv->is_set && kv->n_values == 0)
        kv = NULL; /* a scalar key without a value is absent */

    if (c->family == ST_CF_NULL) {
        bool present = kv && kv->n_values > 0;
        for (size_t i = 0; i < c->n_vals; i++)
            if (c->vals[i].ok && c->vals[i].b == !present) {
                *why = present ? "key present" : "key absent";
                return true;
            }
        *why = present ? "key present" : "key absent";
        return false;
    }

    if (c->set == ST_SET_ALL) {
        /* Every (non-empty) request value satisfies the operator; true for no values. */
        size_t nonempty = 0;
        bool all = true;
        for (size_t i = 0; kv && i < kv->n_values; i++) {
            const char *v = kv->values[i];
            if (!v || !*v) /* an empty string counts as null */
                continue;
            nonempty++;
            if (!op_value(c, v, req))
                all = false;
        }
        if (nonempty == 0) {
            *why = "key absent or empty (ForAllValues is true)";
            return true;
        }
        *why = all ? "every value satisfied the operator" : "a value did not satisfy the operator";
        return all;
    }
    if (c->set == ST_SET_ANY) {
        if (!kv || kv->n_values == 0) {
            *why = c->if_exists ? "key absent (IfExists)" : "key absent (ForAnyValue is false)";
            return c->if_exists;
        }
        for (size_t i = 0; i < kv->n_values; i++) {
            if (op_value(c, kv->values[i] ? kv->values[i] : "", req)) {
                *why = "a value satisfied the operator";
                return true;
            }
        }
        *why = "no value satisfied the operator";
        return false;
    }

    if (!kv) {
        if (c->if_exists) {
            *why = "key absent (IfExists)";
            return true;
        }
        *why = "key absent";
        return c->negated;
    }
    if (kv->is_set && kv->n_values == 0) {
        /* An empty set: positive operators are false, negated ones true (spec §6.5). */
        *why = "empty multi-valued key";
        return c->negated;
    }
    if (kv->is_set && kv->n_values > 1) {
        /* OBS: a plain operator on a multi-valued key does not match, negated or not. */
        *why = "multi-valued key with a plain operator (use ForAllValues:/ForAnyValue:)";
        return false;
    }
    const char *v = kv->values[0] ? kv->values[0] : "";
    bool m = op_value(c, v, req);
    *why = m                    ? "condition holds for the value"
           : !value_valid(c, v) ? "value cannot be compared"
                                : "condition does not hold for the value";
    return m;
}
