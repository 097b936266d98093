/*
 * A small backtracking regular-expression engine implementing the subset of java.util.regex that
 * Kafka's ssl.principal.mapping.rules (KIP-371) need, with Java's leftmost-first semantics:
 * literals, `.`, classes `[a-z]`/`[^,]` with \d \w \s, groups `(...)` and `(?:...)`, `|`,
 * greedy and lazy `* + ? {n} {n,} {n,m}`, `^`, `$`, and Matcher.matches() / find() /
 * String.replaceAll() with Java's `$n` and `\x` replacement syntax.
 *
 * Anything else (lookaround, back references, possessive quantifiers, inline flags, nested
 * classes, \p{..}, \Q..\E, ...) is rejected at compile time, so a rule either means the same as
 * in Java or fails to load. Matching is byte-oriented: `.` and classes match one byte, so a
 * quantifier or class applied to a non-ASCII character is rejected at compile time.
 * Every run has a step budget, so hostile input cannot make matching take unbounded time.
 *
 * Context: pure code; a compiled pattern is immutable and can be shared between threads.
 */
#ifndef ST_AUTH_JREGEX_H
#define ST_AUTH_JREGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define ST_JRE_MAX_GROUPS 32 /* most capturing groups a pattern may have */

struct st_jre; /* compiled pattern (opaque) */

/* Compiles `pattern`. Returns a new pattern (free with st_jre_free()), or NULL with `*err`. */
struct st_jre *st_jre_compile(const char *pattern, const char **err);
void st_jre_free(struct st_jre *re);

/* Number of capturing groups. */
int st_jre_groups(const struct st_jre *re);

/* Default step budget of one call when the caller passes no budget. */
#define ST_JRE_DEFAULT_BUDGET 1000000L

/*
 * Java Matcher.matches(): does the whole of s[0..len) match? `budget` (NULL = a fresh
 * ST_JRE_DEFAULT_BUDGET) is the number of VM steps left and is decreased by the steps used, so
 * one budget can bound several calls. Returns 1, 0, or -1 with `*err` when it runs out.
 */
int st_jre_matches(const struct st_jre *re, const char *s, size_t len, long *budget,
                   const char **err) __attribute__((warn_unused_result));

/*
 * Java String.replaceAll(pattern, replacement) on s[0..len), appended to `out`. The replacement
 * uses Java syntax: `$n` inserts group n (digits are taken greedily while the number is a valid
 * group), `\x` inserts x literally. `budget` as for st_jre_matches(). Returns 0, or -1 with
 * `*err` (bad group reference, budget).
 */
int st_jre_replace_all(const struct st_jre *re, const char *s, size_t len, const char *replacement,
                       long *budget, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

#endif
