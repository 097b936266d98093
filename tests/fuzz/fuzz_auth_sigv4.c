/*
 * Fuzz target: SigV4 header form. The input is an HTTP-like text: line 1 method, line 2 path,
 * line 3 query, then "name:value" header lines up to an empty line, then the body. Exercises the
 * Authorization/credential/date parsers, canonical URI/query/headers and verification, and the
 * presigned path on the same query. Seeds: tests/fuzz/corpus/auth_sigv4/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
lookup(void *arg, const char *akid, const char *tok, size_t tok_len, struct st_sigv4_secret *out)
{
    (void)arg;
    (void)akid;
    out->secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    out->secret_len = strlen(out->secret);
    out->session_token = tok;
    out->session_token_len = tok_len;
    out->principal = NULL;
    return 0;
}

/* Returns the next line [*pos, eol) and advances past '\n'; false at the end of input. */
static int
next_line(const char *d, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return 0;
    const char *nl = memchr(d + *pos, '\n', n - *pos);
    size_t e = nl ? (size_t)(nl - d) : n;
    *line = d + *pos;
    *len = e - *pos;
    *pos = nl ? e + 1 : n;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    size_t pos = 0;
    const char *l;
    size_t ll;
    char method[16] = "GET";
    if (next_line(d, size, &pos, &l, &ll) && ll < sizeof(method)) {
        memcpy(method, l, ll);
        method[ll] = '\0';
    }
    const char *path = "/", *query = "";
    size_t path_len = 1, query_len = 0;
    if (next_line(d, size, &pos, &l, &ll)) {
        path = l;
        path_len = ll;
    }
    if (next_line(d, size, &pos, &l, &ll)) {
        query = l;
        query_len = ll;
    }
    struct st_sigv4_header h[64];
    size_t nh = 0;
    while (nh < 64 && next_line(d, size, &pos, &l, &ll) && ll > 0) {
        const char *c = memchr(l, ':', ll);
        if (c == NULL)
            continue;
        h[nh].name = l;
        h[nh].name_len = (size_t)(c - l);
        h[nh].value = c + 1;
        h[nh].value_len = ll - h[nh].name_len - 1;
        nh++;
    }
    struct st_sigv4_http req = {method, path, path_len,   query,     query_len,
                                h,      nh,   data + pos, size - pos};
    struct st_sigv4_verifier v = {"us-east-1", "kafka", ST_SIGV4_DEFAULT_SKEW, 900, lookup, NULL};
    struct st_sigv4_identity id;
    const char *err = NULL;
    (void)!st_sigv4_verify_http(&v, &req, 1795762910, &id, &err);
    st_sigv4_identity_clear(&id);

    for (size_t i = 0; i < nh; i++) {
        struct st_sigv4_authz az;
        if (st_sigv4_parse_authorization(h[i].value, h[i].value_len, &az, &err) == 0) {
            struct st_sigv4_identity tmp;
            memset(&tmp, 0, sizeof(tmp));
            (void)!st_sigv4_parse_credential(az.credential, az.credential_len, &tmp, &err);
            struct st_buf b = ST_BUF_INIT;
            (void)!st_sigv4_canonical_request_http(
                &b, &req, az.signed_headers, az.signed_headers_len, ST_SIGV4_EMPTY_SHA256, &err);
            st_buf_free(&b);
        }
        int64_t t;
        (void)!st_sigv4_parse_amz_date(h[i].value, h[i].value_len, &t);
    }

    /* The query as a presigned kafka-cluster request. */
    struct st_buf store = ST_BUF_INIT;
    struct st_sigv4_param p[ST_SIGV4_MAX_PARAMS];
    long np = st_sigv4_split_query(query, query_len, &store, p, &err);
    if (np >= 0) {
        struct st_sigv4_presigned ps = {
            "kafka.us-east-1.amazonaws.com", 29, path, path_len, p, (size_t)np, true};
        v.service = "kafka-cluster";
        (void)!st_sigv4_verify_presigned(&v, &ps, 1795762985, &id, &err);
        st_sigv4_identity_clear(&id);
    }
    st_buf_free(&store);
    return 0;
}
