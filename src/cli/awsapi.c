/*
 * The CLI's client of strait's MSK-compatible REST API: one SigV4-signed HTTP request through
 * libcurl (`strait kafka`, `strait usage`), and the query-string builder they share.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "auth/encoding.h"
#include "auth/sigv4.h"
#include "cli/cli.h"
#include "util/buf.h"

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct st_buf *b = arg;
    return st_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

long
st_cli_api_call(const struct st_cli_api *cl, const char *method, const char *path,
                const char *query, const char *body, json_t **out, char *etype, size_t etype_len)
{
    *out = NULL;
    etype[0] = '\0';
    struct st_sigv4_header hdrs[2];
    size_t nh = 0;
    hdrs[nh++] = (struct st_sigv4_header){"host", 4, cl->host, strlen(cl->host)};
    if (body)
        hdrs[nh++] = (struct st_sigv4_header){"content-type", 12, "application/json", 16};
    struct st_sigv4_http req = {method,
                                path,
                                strlen(path),
                                query,
                                strlen(query),
                                hdrs,
                                nh,
                                (const uint8_t *)body,
                                body ? strlen(body) : 0};
    struct st_sigv4_signing cred = {cl->creds.akid, cl->creds.secret,
                                    cl->creds.token[0] ? cl->creds.token : NULL, cl->region,
                                    "kafka"};
    struct st_sigv4_signed sig;
    const char *err = NULL;
    if (st_sigv4_sign_http(&cred, &req, time(NULL), &sig, &err) != 0) {
        fprintf(stderr, "strait: cannot sign the request: %s\n", err);
        return 0;
    }
    char url[8192], h[5000];
    snprintf(url, sizeof(url), "%s%s%s%s", cl->endpoint, path, query[0] ? "?" : "", query);
    struct curl_slist *list = NULL;
    snprintf(h, sizeof(h), "Host: %s", cl->host);
    list = curl_slist_append(list, h);
    snprintf(h, sizeof(h), "X-Amz-Date: %s", sig.amz_date);
    list = curl_slist_append(list, h);
    snprintf(h, sizeof(h), "X-Amz-Content-SHA256: %s", sig.content_sha256);
    list = curl_slist_append(list, h);
    snprintf(h, sizeof(h), "Authorization: %s", (const char *)sig.authorization.data);
    list = curl_slist_append(list, h);
    if (cl->creds.token[0]) {
        snprintf(h, sizeof(h), "X-Amz-Security-Token: %s", cl->creds.token);
        list = curl_slist_append(list, h);
    }
    list = curl_slist_append(list, body ? "Content-Type: application/json" : "Content-Type:");
    list = curl_slist_append(list, "Expect:");
    st_sigv4_signed_clear(&sig);
    CURL *curl = curl_easy_init();
    if (!curl) {
        curl_slist_free_all(list);
        fprintf(stderr, "strait: cannot start an HTTP client (libcurl)\n");
        return 0;
    }
    struct st_buf resp = ST_BUF_INIT;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (cl->ca_bundle[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, cl->ca_bundle);
    struct curl_header *eh = NULL;
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_header(curl, "x-amzn-ErrorType", 0, CURLH_HEADER, -1, &eh) == CURLHE_OK)
            snprintf(etype, etype_len, "%s", eh->value);
        json_error_t jerr;
        *out = st_buf_used(&resp)
                   ? json_loadb((const char *)st_buf_head(&resp), st_buf_used(&resp), 0, &jerr)
                   : json_object();
    } else {
        fprintf(stderr, "strait: cannot reach %s: %s\n", cl->endpoint, curl_easy_strerror(rc));
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    st_buf_free(&resp);
    return status;
}

void
st_cli_query_add(char *q, size_t n, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    struct st_buf b = ST_BUF_INIT;
    size_t used = strlen(q);
    if ((used && st_buf_append_u8(&b, '&') != 0) || st_uri_encode(&b, name, strlen(name), false) ||
        st_buf_append_u8(&b, '=') != 0 || st_uri_encode(&b, value, strlen(value), false) != 0 ||
        st_buf_used(&b) >= n - used) {
        st_buf_free(&b);
        return;
    }
    memcpy(q + used, st_buf_head(&b), st_buf_used(&b));
    q[used + st_buf_used(&b)] = '\0';
    st_buf_free(&b);
}
