/*
 * Mutual-TLS principals (msk-client-auth.md §5): the peer certificate's subject DN rendered
 * exactly as Java's X500Principal.getName() (RFC 2253 form) does, so ACLs and policies written
 * for MSK/Kafka match, and Kafka's ssl.principal.mapping.rules (KIP-371: DEFAULT and
 * RULE:pattern/replacement/[LU]) applied to it with Java regex semantics (see jregex.h).
 *
 * Context: pure code; a parsed rule set is immutable and can be shared between threads.
 */
#ifndef ST_AUTH_DN_H
#define ST_AUTH_DN_H

#include <stddef.h>

#include <openssl/x509.h>

#include "util/buf.h"

/*
 * Appends the RFC 2253 string of `name` as Java renders it: RDNs most specific first, ',' between
 * RDNs and '+' inside multi-valued ones (in encoded order), keywords only for CN C L ST O OU
 * STREET DC UID and dotted OIDs with "#<hex DER>" for every other attribute (emailAddress
 * included) and for values that are not DER strings; in string values `,=+<>#;"\` are
 * backslash-escaped, NUL becomes \00, and leading/trailing spaces and CRs are escaped.
 * An empty name gives "". Returns 0, or -1 with `*err`.
 */
int st_dn_rfc2253(const X509_NAME *name, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

struct st_dn_rules; /* parsed ssl.principal.mapping.rules (opaque) */

/*
 * Parses a rule list with Kafka's grammar: comma-separated `DEFAULT` and
 * `RULE:<regex>/<replacement>/[L|U]` (a '/' inside regex or replacement is written `\/`),
 * whitespace around rules ignored, empty rules skipped. NULL means "DEFAULT" (Kafka's default);
 * a blank spec has no rules, so every mapping fails, as in Kafka. Regexes that use constructs
 * outside the supported subset are rejected here. Returns a new rule set (free with
 * st_dn_rules_free()), or NULL with `*err`.
 */
struct st_dn_rules *st_dn_rules_new(const char *spec, const char **err);
void st_dn_rules_free(struct st_dn_rules *r);

/*
 * Maps a DN to a principal name like Kafka's SslPrincipalMapper.getName(): the first rule that
 * applies wins (DEFAULT returns the DN; a RULE applies when its regex matches the whole DN, and
 * yields DN.replaceAll(regex, replacement), then L/U lower/upper-cases ASCII letters). Appends
 * the name to `out` (NUL-terminated). One regex step budget bounds the whole call, however many
 * rules there are. Returns 0, or -1 with `*err` ("no rule matches the distinguished name" =
 * Kafka's NoMatchingRule, or a replacement/budget error).
 */
int st_dn_rules_map(const struct st_dn_rules *r, const char *dn, size_t len, struct st_buf *out,
                    const char **err) __attribute__((warn_unused_result));

#endif
