/*
 * Fuzz target: mTLS principal mapping. Input up to the first '\n' is an
 * ssl.principal.mapping.rules list (compiled by the Java-subset regex engine), the rest a DN it
 * is applied to; the whole input is also parsed as a DER Name and rendered in RFC 2253 form.
 * Seeds: tests/fuzz/corpus/auth_dn/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "auth/dn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rl = nl ? (size_t)(nl - data) : size;
    char *rules = malloc(rl + 1);
    if (rules == NULL)
        return 0;
    memcpy(rules, data, rl);
    rules[rl] = '\0';
    struct st_dn_rules *r = st_dn_rules_new(rules, &err);
    if (r != NULL) {
        struct st_buf out = ST_BUF_INIT;
        const char *dn = nl ? (const char *)nl + 1 : "";
        size_t dl = nl ? size - rl - 1 : 0;
        (void)!st_dn_rules_map(r, dn, dl, &out, &err);
        st_buf_free(&out);
        st_dn_rules_free(r);
    }
    free(rules);

    const unsigned char *p = data;
    X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)size);
    if (name != NULL) {
        struct st_buf out = ST_BUF_INIT;
        (void)!st_dn_rfc2253(name, &out, &err);
        st_buf_free(&out);
        X509_NAME_free(name);
    }
    return 0;
}
