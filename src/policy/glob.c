/*
 * Iterative glob matcher shared by action, resource, ArnLike and StringLike matching. See glob.h
 * for the pattern language; the escaped encoding lets substituted `${*}`/`${?}` stay literal.
 */
#include "policy/glob.h"

#include <stdint.h>
#include <string.h>

/* Length in bytes of the UTF-8 code point starting at s[0] (1 for invalid or truncated bytes). */
static inline size_t
cp_len(const char *s, size_t left)
{
    uint8_t c = (uint8_t)s[0];
    if (c < 0x80)
        return 1;
    size_t n = 1;
    if (c >= 0xf0 && c < 0xf8)
        n = 4;
    else if (c >= 0xe0)
        n = c < 0xf0 ? 3 : 1;
    else if (c >= 0xc0)
        n = 2;
    if (n > left)
        return 1;
    for (size_t i = 1; i < n; i++)
        if (((uint8_t)s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

static inline char
lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Kinds of pattern token. */
enum tok { T_LIT, T_STAR, T_ONE };

/* Reads the token at pat[*pi]: its kind, and for a literal its byte; advances *pi. */
static inline enum tok
next_tok(const char *pat, size_t plen, size_t *pi, unsigned flags, char *lit)
{
    char c = pat[*pi];
    (*pi)++;
    if ((flags & ST_GLOB_ESCAPED) && c == ST_GLOB_ESC) {
        if (*pi < plen) {
            *lit = pat[*pi];
            (*pi)++;
        } else {
            *lit = c;
        }
        return T_LIT;
    }
    if (!(flags & ST_GLOB_LITERAL)) {
        if (c == '*')
            return T_STAR;
        if (c == '?')
            return T_ONE;
    }
    *lit = c;
    return T_LIT;
}

/* Exact comparison of a pattern without wildcards or escapes. */
static bool
literal_eq(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    if (plen != slen)
        return false;
    if (!nocase)
        return memcmp(pat, str, plen) == 0;
    for (size_t i = 0; i < plen; i++)
        if (lower(pat[i]) != lower(str[i]))
            return false;
    return true;
}

bool
st_glob_match(const char *pat, size_t plen, const char *str, size_t slen, unsigned flags)
{
    /* Fast paths: most segments and many actions have no wildcard at all, and most wildcards
     * are a trailing `*` after a literal prefix such as kafka-cluster: or topic/c/. */
    bool nocase = (flags & ST_GLOB_NOCASE) != 0;
    size_t lp = plen; /* length of the literal prefix */
    if (!(flags & ST_GLOB_LITERAL)) {
        const char *q = memchr(pat, '*', lp);
        if (q)
            lp = (size_t)(q - pat);
        q = memchr(pat, '?', lp);
        if (q)
            lp = (size_t)(q - pat);
    }
    if (flags & ST_GLOB_ESCAPED) {
        const char *q = memchr(pat, ST_GLOB_ESC, lp);
        if (q)
            lp = (size_t)(q - pat);
    }
    if (lp == plen)
        return literal_eq(pat, plen, str, slen, nocase);
    if (lp > slen || !literal_eq(pat, lp, str, lp, nocase))
        return false;
    if (lp + 1 == plen && pat[lp] == '*')
        return true;
    pat += lp;
    plen -= lp;
    str += lp;
    slen -= lp;

    size_t pi = 0, si = 0;
    size_t star_p = SIZE_MAX, star_s = 0; /* pattern index after the last `*`, string restart */

    while (si < slen) {
        if (pi < plen) {
            size_t save = pi;
            char lit = 0;
            enum tok t = next_tok(pat, plen, &pi, flags, &lit);
            if (t == T_STAR) {
                star_p = pi;
                star_s = si;
                continue;
            }
            if (t == T_ONE) {
                si += cp_len(str + si, slen - si);
                continue;
            }
            char sc = str[si];
            if (lit == sc || (nocase && lower(lit) == lower(sc))) {
                si++;
                continue;
            }
            pi = save;
        }
        if (star_p == SIZE_MAX)
            return false;
        /* Backtrack: the last `*` absorbs one more code point. */
        star_s += cp_len(str + star_s, slen - star_s);
        si = star_s;
        pi = star_p;
    }
    /* String consumed: the rest of the pattern must be all `*`. */
    while (pi < plen) {
        char lit = 0;
        if (next_tok(pat, plen, &pi, flags, &lit) != T_STAR)
            return false;
    }
    return true;
}

bool
st_glob_has_wildcard(const char *pat, size_t plen, unsigned flags)
{
    size_t pi = 0;
    while (pi < plen) {
        char lit = 0;
        if (next_tok(pat, plen, &pi, flags, &lit) != T_LIT)
            return true;
    }
    return false;
}
