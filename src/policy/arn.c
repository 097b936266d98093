/*
 * ARN splitting, matching (per-segment rule of spec §3.2 and the ArnLike rule of §6.3) and the
 * validation of Resource values with the messages IAM returns (spec §2).
 */
#include "policy/arn.h"

#include <stdio.h>
#include <string.h>

#include "policy/glob.h"

int
st_arn_split(const char *s, size_t len, struct st_arn *out)
{
    size_t start = 0;
    int n = 0;
    for (size_t i = 0; i < len && n < 5; i++) {
        if (s[i] == ':') {
            out->seg[n] = s + start;
            out->len[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    out->seg[n] = s + start;
    out->len[n] = len - start;
    n++;
    out->n = n;
    for (int k = n; k < 6; k++) {
        out->seg[k] = s + len;
        out->len[k] = 0;
    }
    return n;
}

int
st_arn_parse(const char *s, size_t len, struct st_arn *out, const char **err)
{
    if (st_arn_split(s, len, out) != 6) {
        *err = "ARN must have six colon-separated parts";
        return -1;
    }
    if (out->len[0] != 3 || memcmp(out->seg[0], "arn", 3) != 0) {
        *err = "ARN must start with \"arn:\"";
        return -1;
    }
    if (out->len[ST_ARN_PARTITION] == 0 || out->len[ST_ARN_SERVICE] == 0) {
        *err = "ARN partition and service must not be empty";
        return -1;
    }
    return 0;
}

static bool
seg_match(const struct st_arn *pat, const struct st_arn *val, int k, unsigned flags)
{
    if (k >= pat->n) /* short pattern: missing segments are `*` */
        return true;
    return st_glob_match(pat->seg[k], pat->len[k], val->seg[k], val->len[k], flags);
}

/* Length of the resource type prefix (up to the first '/' or ':'), or `len` if there is none. */
static size_t
type_prefix(const char *s, size_t len, unsigned flags)
{
    for (size_t i = 0; i < len; i++) {
        if ((flags & ST_GLOB_ESCAPED) && s[i] == ST_GLOB_ESC) {
            i++;
            continue;
        }
        if (s[i] == '/' || s[i] == ':')
            return i;
    }
    return len;
}

bool
st_arn_match_resource(const struct st_arn *pat, const struct st_arn *val, unsigned glob_flags)
{
    if (val->n != 6)
        return false;
    for (int k = 0; k < 5; k++)
        if (!seg_match(pat, val, k, glob_flags))
            return false;
    if (pat->n < 6)
        return true;
    const char *p = pat->seg[5];
    size_t pl = pat->len[5];
    size_t tp = type_prefix(p, pl, glob_flags);
    if (tp < pl) {
        /* The pattern names a resource type: compare it literally (OBS, spec §3.2). */
        const char *v = val->seg[5];
        size_t vl = val->len[5];
        size_t vt = type_prefix(v, vl, 0);
        if (vt == vl || !st_glob_match(p, tp + 1, v, vt + 1, glob_flags | ST_GLOB_LITERAL))
            return false;
        return st_glob_match(p + tp + 1, pl - tp - 1, v + vt + 1, vl - vt - 1, glob_flags);
    }
    return st_glob_match(p, pl, val->seg[5], val->len[5], glob_flags);
}

bool
st_arn_like(const char *pat, size_t plen, const char *val, size_t vlen, unsigned glob_flags)
{
    struct st_arn p, v;
    if (st_arn_split(pat, plen, &p) != 6 || st_arn_split(val, vlen, &v) != 6)
        return false;
    for (int k = 0; k < 6; k++)
        if (!st_glob_match(p.seg[k], p.len[k], v.seg[k], v.len[k], glob_flags))
            return false;
    return true;
}

bool
st_arn_partition_valid(const char *p, size_t len)
{
    static const char *const parts[] = {"aws",       "aws-cn",    "aws-us-gov", "aws-iso",
                                        "aws-iso-b", "aws-iso-e", "aws-iso-f",  "aws-eusc"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (strlen(parts[i]) == len && memcmp(parts[i], p, len) == 0)
            return true;
    return false;
}

bool
st_arn_is_account_id(const char *s, size_t len)
{
    if (len != 12)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool
has_var(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '$' && s[i + 1] == '{')
            return true;
    return false;
}

static bool
seg_eq(const struct st_arn *a, int k, const char *lit)
{
    return a->len[k] == strlen(lit) && memcmp(a->seg[k], lit, a->len[k]) == 0;
}

int
st_arn_validate_resource(const char *s, size_t len, bool vars_allowed, char *msg, size_t msg_size)
{
    struct st_arn a;
    int n = st_arn_split(s, len, &a);
    int il = len > 2000 ? 2000 : (int)len;

    if (a.len[0] != 3 || memcmp(a.seg[0], "arn", 3) != 0) {
        snprintf(msg, msg_size, "Resource %.*s must be in ARN format or \"*\".", il, s);
        return -1;
    }
    if (n < 3 || a.len[ST_ARN_SERVICE] == 0 ||
        st_glob_has_wildcard(a.seg[ST_ARN_SERVICE], a.len[ST_ARN_SERVICE], 0)) {
        snprintf(msg, msg_size,
                 "Resource vendor must be fully qualified and cannot contain regexes.");
        return -1;
    }
    if (!st_glob_has_wildcard(a.seg[1], a.len[1], 0) &&
        !st_arn_partition_valid(a.seg[1], a.len[1])) {
        /* AWS pads short ARNs with `:*` segments in this message. */
        char padded[2100];
        int pl = snprintf(padded, sizeof(padded), "%.*s", il, s);
        for (int k = n; k < 6 && pl > 0 && (size_t)pl < sizeof(padded); k++)
            pl += snprintf(padded + pl, sizeof(padded) - (size_t)pl, ":*");
        snprintf(msg, msg_size, "Partition \"%.*s\" is not valid for resource \"%s\".",
                 (int)a.len[1], a.seg[1], padded);
        return -1;
    }
    if (n < 6) {
        /* Short ARNs are accepted only when their last segment is a wildcard (spec §3.2). */
        if (!st_glob_has_wildcard(a.seg[n - 1], a.len[n - 1], 0)) {
            snprintf(msg, msg_size, "The policy failed legacy parsing");
            return -1;
        }
    }
    if (vars_allowed) {
        for (int k = 0; k < 5 && k < n; k++) {
            if (k == n - 1 && n < 6)
                break;
            if (has_var(a.seg[k], a.len[k])) {
                snprintf(msg, msg_size,
                         "Resource %.*s: policy variables are allowed only in the resource part "
                         "(after the fifth colon).",
                         il, s);
                return -1;
            }
        }
    }
    if (n >= 4 && a.len[ST_ARN_REGION] > 0) {
        if (seg_eq(&a, ST_ARN_SERVICE, "iam")) {
            snprintf(msg, msg_size, "IAM resource %.*s cannot contain region information.", il, s);
            return -1;
        }
        if (seg_eq(&a, ST_ARN_SERVICE, "s3")) {
            snprintf(msg, msg_size, "Resource %.*s can not contain region information.", il, s);
            return -1;
        }
    }
    if (n == 6 && seg_eq(&a, ST_ARN_SERVICE, "iam")) {
        /* No wildcard in the resource type (`arn:aws:iam::1:u*` is invalid, spec §3.2). */
        size_t tl = type_prefix(a.seg[5], a.len[5], 0);
        if (st_glob_has_wildcard(a.seg[5], tl, 0) && !(a.len[5] == 1 && a.seg[5][0] == '*')) {
            snprintf(msg, msg_size,
                     "Resource %.*s: the resource type cannot contain wildcards; name the type "
                     "(user/, role/, ...) literally.",
                     il, s);
            return -1;
        }
    }
    return 0;
}
