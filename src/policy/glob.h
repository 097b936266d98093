/*
 * Glob matching for IAM patterns: `*` matches any run of characters (also empty), `?` exactly one
 * Unicode code point (UTF-8), anchored at both ends, iterative with backtracking to the last `*`
 * (O(n*m) worst case, no recursion), so hostile patterns cannot exhaust the stack.
 */
#ifndef ST_POLICY_GLOB_H
#define ST_POLICY_GLOB_H

#include <stdbool.h>
#include <stddef.h>

/* Escape byte of the "escaped" pattern encoding: ST_GLOB_ESC followed by any byte is that byte
 * taken literally (used for `${*}`, `${?}` and literal 0x01 bytes). */
#define ST_GLOB_ESC '\x01'

enum {
    ST_GLOB_NOCASE = 1 << 0,  /* ASCII case-insensitive comparison */
    ST_GLOB_ESCAPED = 1 << 1, /* the pattern uses the ST_GLOB_ESC encoding */
    ST_GLOB_LITERAL = 1 << 2, /* `*` and `?` are ordinary characters (exact comparison) */
};

/*
 * Returns whether `str` (slen bytes) matches `pat` (plen bytes) under `flags`. Never reads past
 * either length; invalid UTF-8 bytes count as one character each.
 */
bool st_glob_match(const char *pat, size_t plen, const char *str, size_t slen, unsigned flags);

/* Returns whether the first `plen` bytes of `pat` contain an unescaped `*` or `?`. */
bool st_glob_has_wildcard(const char *pat, size_t plen, unsigned flags);

#endif
