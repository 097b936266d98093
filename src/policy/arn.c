/*
 * ARN splitting, matching (per-segment rule of spec §3.2 and the ArnLike rule of §6.3) and the
 * validation of Resource values with the messages IAM returns (spec §2).
 */
#include "policy/arn.h"

#include <limits.h>
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
    /* MSK resources are typed (cluster/, topic/, ...); other services' resource parts (S3 keys,
     * "my-bucket-*" /...) are one glob. */
    bool typed = pat->len[ST_ARN_SERVICE] == 5 && memcmp(pat->seg[ST_ARN_SERVICE], "kafka", 5) == 0;
    if (typed && tp < pl) {
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

/*
 * IAM's message for a bad partition: "arn:P:a1:a2:a3:a4" where a1..a3 are the next segments and
 * a4 the rest, each `*` when missing (a1 is `*` only when nothing follows the partition).
 */
static void
partition_message(const char *s, size_t len, char *msg, size_t msg_size)
{
    const char *c1 = memchr(s, ':', len);
    const char *part = c1 + 1; /* the caller checked there is a first colon */
    size_t left = len - (size_t)(part - s);
    const char *c2 = memchr(part, ':', left);
    size_t plen = c2 ? (size_t)(c2 - part) : left;
    const char *rem = c2 ? c2 + 1 : part + left;
    size_t rl = len - (size_t)(rem - s);
    const char *seg[3];
    size_t sl[3];
    int n = 0;
    size_t st = 0;
    for (size_t i = 0; i <= rl && n < 3; i++) {
        if (i == rl || rem[i] == ':') {
            seg[n] = rem + st;
            sl[n] = i - st;
            n++;
            st = i + 1;
            if (i == rl)
                break;
        }
    }
    bool more = n == 3 && st <= rl; /* a fourth part (the rest) exists */
    bool only_empty = n == 1 && sl[0] == 0;
    char a[3][256];
    for (int k = 0; k < 3; k++) {
        if (k < n && !(k == 0 && only_empty))
            snprintf(a[k], sizeof(a[k]), "%.*s", (int)(sl[k] > 200 ? 200 : sl[k]), seg[k]);
        else
            snprintf(a[k], sizeof(a[k]), "*");
    }
    int pl = (int)(plen > 200 ? 200 : plen);
    size_t tl = more ? rl - st : 1;
    snprintf(msg, msg_size,
             "Partition \"%.*s\" is not valid for resource \"arn:%.*s:%s:%s:%s:%.*s\".", pl, part,
             pl, part, a[0], a[1], a[2], (int)(tl > 1000 ? 1000 : tl), more ? rem + st : "*");
}

int
st_arn_validate_resource(const char *s, size_t len, bool vars_allowed, char *msg, size_t msg_size)
{
    struct st_arn a;
    int n = st_arn_split(s, len, &a);
    int il = len > 2000 ? 2000 : (int)len;

    if (n < 2) {
        snprintf(msg, msg_size, "Resource %.*s must be in ARN format or \"*\".", il, s);
        return -1;
    }
    /* IAM ignores the first segment and checks the partition first. */
    if (!st_glob_has_wildcard(a.seg[1], a.len[1], 0) &&
        !st_arn_partition_valid(a.seg[1], a.len[1])) {
        partition_message(s, len, msg, msg_size);
        return -1;
    }
    if (n < 3) {
        snprintf(msg, msg_size,
                 "Resource vendor must be fully qualified and cannot contain regexes.");
        return -1;
    }
    if (st_glob_has_wildcard(a.seg[ST_ARN_SERVICE], a.len[ST_ARN_SERVICE], 0)) {
        snprintf(msg, msg_size,
                 "Resource vendor must be fully qualified and cannot contain regexes.");
        return -1;
    }
    /* IAM and S3 resources have no region ("arn:aws:s3" without a region field counts too). */
    if (n == 3 || a.len[ST_ARN_REGION] > 0) {
        if (seg_eq(&a, ST_ARN_SERVICE, "iam")) {
            snprintf(msg, msg_size, "IAM resource %.*s cannot contain region information.", il, s);
            return -1;
        }
        /* S3 buckets have neither region nor account; access points, jobs and Storage Lens
         * resources (with an account) do have a region. */
        if (seg_eq(&a, ST_ARN_SERVICE, "s3") && (n < 5 || a.len[ST_ARN_ACCOUNT] == 0)) {
            snprintf(msg, msg_size, "Resource %.*s can not contain region information.", il, s);
            return -1;
        }
    }
    if (seg_eq(&a, ST_ARN_SERVICE, "iam") && a.n >= 4) {
        static const char *const starts[] = {"user/",
                                             "federated-user/",
                                             "role/",
                                             "group/",
                                             "instance-profile/",
                                             "mfa/",
                                             "server-certificate/",
                                             "policy/",
                                             "sms-mfa/",
                                             "saml-provider/",
                                             "oidc-provider/",
                                             "report/",
                                             "access-report/"};
        const char *r = a.n == 6 ? a.seg[5] : "";
        size_t rl = a.n == 6 ? a.len[5] : 0;
        bool ok = rl == 1 && r[0] == '*';
        for (size_t i = 0; !ok && i < sizeof(starts) / sizeof(starts[0]); i++)
            ok = rl >= strlen(starts[i]) && memcmp(r, starts[i], strlen(starts[i])) == 0;
        if (!ok) {
            snprintf(msg, msg_size,
                     "IAM resource path must either be \"*\" or start with user/, federated-user/, "
                     "role/, group/, instance-profile/, mfa/, server-certificate/, policy/, "
                     "sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.");
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
    return 0;
}

int
st_arn_legacy_check(const char *s, size_t len)
{
    size_t colons = 0;
    bool dbl = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':') {
            colons++;
            if (i + 1 < len && s[i + 1] == ':')
                dbl = true;
        }
    }
    if (colons < 5 && dbl)
        return -1;
    struct st_arn a;
    if (st_arn_split(s, len, &a) < 3 || a.len[ST_ARN_SERVICE] == 0)
        return -1;
    return 0;
}

long
st_arn_msk_child(char *buf, size_t cap, const char *cluster_arn, const char *type, const char *name,
                 size_t name_len)
{
    struct st_arn a;
    const char *err;
    if (!cluster_arn || !type || !name ||
        st_arn_parse(cluster_arn, strlen(cluster_arn), &a, &err) != 0 ||
        !seg_eq(&a, ST_ARN_SERVICE, "kafka") || a.len[ST_ARN_RESOURCE] <= 8 ||
        memcmp(a.seg[ST_ARN_RESOURCE], "cluster/", 8) != 0)
        return -1;
    if (strcmp(type, "topic") != 0 && strcmp(type, "group") != 0 &&
        strcmp(type, "transactional-id") != 0)
        return -1;
    /* Everything before the resource part, the type, then NAME/UUID, then the name. */
    size_t head = (size_t)(a.seg[ST_ARN_RESOURCE] - cluster_arn);
    size_t tail = a.len[ST_ARN_RESOURCE] - 8; /* NAME/UUID */
    size_t tl = strlen(type);
    size_t need = head + tl + 1 + tail + 1 + name_len;
    if (need + 1 > cap || need > (size_t)LONG_MAX)
        return -1;
    size_t o = 0;
    memcpy(buf + o, cluster_arn, head);
    o += head;
    memcpy(buf + o, type, tl);
    o += tl;
    buf[o++] = '/';
    memcpy(buf + o, a.seg[ST_ARN_RESOURCE] + 8, tail);
    o += tail;
    buf[o++] = '/';
    if (name_len)
        memcpy(buf + o, name, name_len);
    o += name_len;
    buf[o] = '\0';
    return (long)o;
}
