/*
 * Java-compatible RFC 2253 rendering of X509_NAME and Kafka's ssl.principal.mapping.rules
 * (SslPrincipalMapper) on top of jregex (see dn.h). Vectors in the tests were produced with
 * OpenJDK 17's X500Principal and java.util.regex.
 */
#include "auth/dn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

#include "auth/jregex.h"

#define MAX_RULES 64
#define MAX_DN 16384
#define MAP_BUDGET 2000000L /* regex steps for one whole mapping, across all rules */

/* ---------------------------------------------------------------- RFC 2253 rendering */

static const char *
keyword(int nid)
{
    switch (nid) {
    case NID_commonName:
        return "CN";
    case NID_countryName:
        return "C";
    case NID_localityName:
        return "L";
    case NID_stateOrProvinceName:
        return "ST";
    case NID_organizationName:
        return "O";
    case NID_organizationalUnitName:
        return "OU";
    case NID_streetAddress:
        return "STREET";
    case NID_domainComponent:
        return "DC";
    case NID_userId:
        return "UID";
    }
    return NULL;
}

static int
put_utf8(struct st_buf *b, uint32_t cp)
{
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (uint8_t)(0xC0 | (cp >> 6));
        t[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (uint8_t)(0xE0 | (cp >> 12));
        t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (uint8_t)(0xF0 | (cp >> 18));
        t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return st_buf_append(b, t, n);
}

/* Length of a valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t
utf8_seq(const uint8_t *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t k;
    uint32_t cp;
    if ((p[0] & 0xE0) == 0xC0) {
        k = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        k = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        k = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[j] & 0x3F);
    }
    if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

/* Decodes a DER string value into UTF-8 the way Java's DerValue.getAsString() does. */
static int
decode_value(int type, const uint8_t *d, size_t n, struct st_buf *u)
{
    if (type == V_ASN1_UTF8STRING) {
        for (size_t i = 0; i < n;) {
            size_t k = utf8_seq(d + i, n - i);
            if (k == 0) {
                if (put_utf8(u, 0xFFFD) != 0)
                    return -1;
                i++;
            } else {
                if (st_buf_append(u, d + i, k) != 0)
                    return -1;
                i += k;
            }
        }
        return 0;
    }
    if (type == V_ASN1_BMPSTRING) {
        if (n % 2 != 0)
            return -1;
        for (size_t i = 0; i < n; i += 2) {
            uint32_t c = (uint32_t)d[i] << 8 | d[i + 1];
            if (c >= 0xD800 && c <= 0xDBFF && i + 3 < n) {
                uint32_t lo = (uint32_t)d[i + 2] << 8 | d[i + 3];
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                    i += 2;
                }
            }
            if (c >= 0xD800 && c <= 0xDFFF)
                c = 0xFFFD;
            if (put_utf8(u, c) != 0)
                return -1;
        }
        return 0;
    }
    /* PrintableString, IA5String, T61String, GeneralString: ASCII, anything else U+FFFD. */
    for (size_t i = 0; i < n; i++) {
        int rc = d[i] < 0x80 ? st_buf_append_u8(u, d[i]) : put_utf8(u, 0xFFFD);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static bool
der_string_type(int type)
{
    return type == V_ASN1_PRINTABLESTRING || type == V_ASN1_T61STRING || type == V_ASN1_IA5STRING ||
           type == V_ASN1_GENERALSTRING || type == V_ASN1_BMPSTRING || type == V_ASN1_UTF8STRING;
}

static int
put_hex_byte(struct st_buf *b, uint8_t v)
{
    static const char hx[] = "0123456789abcdef";
    uint8_t t[2] = {(uint8_t)hx[v >> 4], (uint8_t)hx[v & 15]};
    return st_buf_append(b, t, 2);
}

/* "#" + hex of the value's DER encoding (tag, length, contents). */
static int
put_hex_value(struct st_buf *b, int type, const uint8_t *d, size_t n, const char **err)
{
    if (type < 0 || type > 30 || type == V_ASN1_SEQUENCE || type == V_ASN1_SET) {
        *err = "DN: unsupported attribute value type";
        return -1;
    }
    uint8_t hdr[6];
    size_t hl = 0;
    hdr[hl++] = (uint8_t)type;
    if (n < 0x80) {
        hdr[hl++] = (uint8_t)n;
    } else if (n <= 0xFF) {
        hdr[hl++] = 0x81;
        hdr[hl++] = (uint8_t)n;
    } else if (n <= 0xFFFF) {
        hdr[hl++] = 0x82;
        hdr[hl++] = (uint8_t)(n >> 8);
        hdr[hl++] = (uint8_t)n;
    } else {
        *err = "DN: attribute value too long";
        return -1;
    }
    int rc = st_buf_append_u8(b, '#');
    for (size_t i = 0; i < hl; i++)
        rc |= put_hex_byte(b, hdr[i]);
    for (size_t i = 0; i < n; i++)
        rc |= put_hex_byte(b, d[i]);
    if (rc != 0)
        *err = "out of memory";
    return rc ? -1 : 0;
}

/* Escapes a decoded string value as Java's AVA.toRFC2253String(). */
static int
put_string_value(struct st_buf *b, const uint8_t *v, size_t n)
{
    static const char escapees[] = ",=+<>#;\"\\";
    struct st_buf e = ST_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (v[i] == 0) {
            rc = st_buf_append(&e, "\\00", 3);
        } else {
            if (strchr(escapees, v[i]) != NULL)
                rc |= st_buf_append_u8(&e, '\\');
            rc |= st_buf_append_u8(&e, v[i]);
        }
    }
    if (rc == 0) {
        size_t lead = 0, trail = e.len;
        while (lead < e.len && (e.data[lead] == ' ' || e.data[lead] == '\r'))
            lead++;
        while (trail > 0 && (e.data[trail - 1] == ' ' || e.data[trail - 1] == '\r'))
            trail--;
        for (size_t i = 0; i < e.len && rc == 0; i++) {
            if (i < lead || i >= trail)
                rc |= st_buf_append_u8(b, '\\');
            rc |= st_buf_append_u8(b, e.data[i]);
        }
    }
    st_buf_free(&e);
    return rc ? -1 : 0;
}

static int
put_ava(struct st_buf *b, const X509_NAME_ENTRY *ent, const char **err)
{
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ent);
    const ASN1_STRING *val = X509_NAME_ENTRY_get_data(ent);
    if (obj == NULL || val == NULL) {
        *err = "DN: malformed attribute";
        return -1;
    }
    const char *kw = keyword(OBJ_obj2nid(obj));
    char oid[128];
    if (kw == NULL) {
        int l = OBJ_obj2txt(oid, sizeof(oid), obj, 1);
        if (l <= 0 || (size_t)l >= sizeof(oid)) {
            *err = "DN: bad attribute type";
            return -1;
        }
        kw = oid;
    }
    if (st_buf_append(b, kw, strlen(kw)) != 0 || st_buf_append_u8(b, '=') != 0) {
        *err = "out of memory";
        return -1;
    }
    int type = ASN1_STRING_type(val);
    const uint8_t *d = ASN1_STRING_get0_data(val);
    size_t n = (size_t)ASN1_STRING_length(val);
    if (kw == oid || !der_string_type(type))
        return put_hex_value(b, type, d, n, err);
    struct st_buf u = ST_BUF_INIT;
    int rc = decode_value(type, d, n, &u);
    if (rc == 0)
        rc = put_string_value(b, u.data, u.len);
    st_buf_free(&u);
    if (rc != 0)
        *err = "DN: cannot decode attribute value";
    return rc;
}

int
st_dn_rfc2253(const X509_NAME *name, struct st_buf *out, const char **err)
{
    int n = X509_NAME_entry_count(name);
    bool first = true;
    int i = n - 1;
    while (i >= 0) {
        int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i));
        int j = i;
        while (j > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, j - 1)) == set)
            j--;
        if (!first && st_buf_append_u8(out, ',') != 0) {
            *err = "out of memory";
            return -1;
        }
        first = false;
        for (int k = j; k <= i; k++) {
            if (k > j && st_buf_append_u8(out, '+') != 0) {
                *err = "out of memory";
                return -1;
            }
            if (put_ava(out, X509_NAME_get_entry(name, k), err) != 0)
                return -1;
        }
        i = j - 1;
    }
    if (st_buf_reserve(out, 1) != 0) {
        *err = "out of memory";
        return -1;
    }
    if (out->data != NULL)
        out->data[out->len] = '\0';
    return 0;
}

/* ---------------------------------------------------------------- mapping rules */

struct rule {
    bool is_default;   /* DEFAULT */
    struct st_jre *re; /* RULE pattern */
    char *replacement; /* replacement after Kafka's back-reference escaping */
    char fold;         /* 'L', 'U' or 0 */
};

struct st_dn_rules {
    struct rule r[MAX_RULES]; /* rules in order */
    size_t n;                 /* count */
};

static bool
java_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' || c == '\r';
}

/* Reads (\\.|[^\\/])* from s[*p]; returns a new string or NULL (lone trailing backslash). */
static char *
read_part(const char *s, size_t n, size_t *p)
{
    size_t st = *p;
    while (*p < n && s[*p] != '/') {
        if (s[*p] == '\\') {
            if (*p + 1 >= n)
                return NULL;
            (*p)++;
        }
        (*p)++;
    }
    char *r = malloc(*p - st + 1);
    if (r != NULL) {
        memcpy(r, s + st, *p - st);
        r[*p - st] = '\0';
    }
    return r;
}

/* Kafka's escapeLiteralBackReferences(), including its position bookkeeping. */
static char *
escape_backrefs(const char *orig, int groups, const char **err)
{
    size_t ol = strlen(orig);
    char *value = malloc(2 * ol + 1);
    if (value == NULL) {
        *err = "out of memory";
        return NULL;
    }
    memcpy(value, orig, ol + 1);
    if (groups == 0)
        return value;
    size_t vl = ol;
    for (size_t i = 0; i < ol; i++) {
        if (orig[i] != '$' || i + 1 >= ol || orig[i + 1] < '0' || orig[i + 1] > '9')
            continue;
        size_t gs = i + 1, ge = gs;
        while (ge < ol && orig[ge] >= '0' && orig[ge] <= '9')
            ge++;
        i = ge - 1;
        if (orig[gs] == '0')
            continue;
        if (ge - gs > 9) {
            *err = "mapping rule: back reference number too large";
            free(value);
            return NULL;
        }
        long idx = 0;
        for (size_t k = gs; k < ge; k++)
            idx = idx * 10 + (orig[k] - '0');
        while (idx > groups && idx >= 10)
            idx /= 10;
        if (idx > groups) {
            /* value = value[0, gs-1) + "\\" + value[gs-1, ...), positions from the original */
            size_t at = gs - 1;
            if (at > vl)
                at = vl;
            memmove(value + at + 1, value + at, vl - at + 1);
            value[at] = '\\';
            vl++;
        }
    }
    return value;
}

void
st_dn_rules_free(struct st_dn_rules *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        st_jre_free(r->r[i].re);
        free(r->r[i].replacement);
    }
    free(r);
}

struct st_dn_rules *
st_dn_rules_new(const char *spec, const char **err)
{
    struct st_dn_rules *rs = calloc(1, sizeof(*rs));
    if (rs == NULL) {
        *err = "out of memory";
        return NULL;
    }
    if (spec == NULL)
        spec = "DEFAULT";
    size_t n = strlen(spec), p = 0;
    /* Java String.trim(): strip characters <= ' '. */
    while (p < n && (unsigned char)spec[p] <= ' ')
        p++;
    while (n > p && (unsigned char)spec[n - 1] <= ' ')
        n--;
    /* A blank list has no rules (Kafka: every mapping then fails with NoMatchingRule). */
    while (p < n) {
        while (p < n && java_space(spec[p]))
            p++;
        if (p >= n)
            break;
        if (spec[p] == ',') {
            p++;
            continue;
        }
        if (rs->n == MAX_RULES) {
            *err = "mapping rules: too many rules";
            goto bad;
        }
        struct rule *r = &rs->r[rs->n];
        if (n - p >= 7 && memcmp(spec + p, "DEFAULT", 7) == 0) {
            p += 7;
            r->is_default = true;
        } else if (n - p >= 5 && memcmp(spec + p, "RULE:", 5) == 0) {
            p += 5;
            char *pat = read_part(spec, n, &p);
            if (pat == NULL || p >= n || spec[p] != '/') {
                free(pat);
                *err = "mapping rules: invalid RULE (expected RULE:pattern/replacement/[LU])";
                goto bad;
            }
            p++;
            char *rep = read_part(spec, n, &p);
            if (rep == NULL || p >= n || spec[p] != '/') {
                free(pat);
                free(rep);
                *err = "mapping rules: invalid RULE (expected RULE:pattern/replacement/[LU])";
                goto bad;
            }
            p++;
            if (p < n && (spec[p] == 'L' || spec[p] == 'U'))
                r->fold = spec[p++];
            r->re = st_jre_compile(pat, err);
            free(pat);
            if (r->re == NULL) {
                free(rep);
                goto bad;
            }
            r->replacement = escape_backrefs(rep, st_jre_groups(r->re), err);
            free(rep);
            if (r->replacement == NULL) {
                st_jre_free(r->re);
                r->re = NULL;
                goto bad;
            }
        } else {
            *err = "mapping rules: invalid rule (expected DEFAULT or RULE:...)";
            goto bad;
        }
        rs->n++;
        while (p < n && java_space(spec[p]))
            p++;
        if (p < n) {
            if (spec[p] != ',') {
                *err = "mapping rules: unexpected text after a rule";
                goto bad;
            }
            p++;
        }
    }
    return rs;
bad:
    st_dn_rules_free(rs);
    return NULL;
}

int
st_dn_rules_map(const struct st_dn_rules *rs, const char *dn, size_t len, struct st_buf *out,
                const char **err)
{
    if (len > MAX_DN) {
        *err = "distinguished name too long";
        return -1;
    }
    long budget = MAP_BUDGET;
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->r[i];
        size_t start = out->len;
        if (r->is_default) {
            if (st_buf_append(out, dn, len) != 0)
                goto oom;
        } else {
            int m = st_jre_matches(r->re, dn, len, &budget, err);
            if (m < 0)
                return -1;
            if (m == 0)
                continue;
            if (st_jre_replace_all(r->re, dn, len, r->replacement, &budget, out, err) != 0) {
                out->len = start;
                return -1;
            }
            for (size_t k = start; k < out->len; k++) {
                uint8_t c = out->data[k];
                if (r->fold == 'L' && c >= 'A' && c <= 'Z')
                    out->data[k] = (uint8_t)(c + 32);
                else if (r->fold == 'U' && c >= 'a' && c <= 'z')
                    out->data[k] = (uint8_t)(c - 32);
            }
        }
        if (st_buf_reserve(out, 1) != 0)
            goto oom;
        out->data[out->len] = '\0';
        return 0;
    }
    *err = "no rule matches the distinguished name";
    return -1;
oom:
    *err = "out of memory";
    return -1;
}
