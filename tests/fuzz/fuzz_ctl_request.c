/*
 * Fuzzes the control plane's request parsing: input is "METHOD\nPATH[?QUERY]\nBODY". Routes the
 * raw path (labels decoded after matching), parses the query and its maxResults/nextToken, parses
 * the body as the API does (JSON object, duplicates rejected) and, like PutClusterPolicy, compiles
 * a string "policy" member as a cluster policy. Nothing may crash, leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl/route.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl1 = memchr(p, '\n', size);
    if (!nl1 || nl1 - p > 15)
        return 0;
    char method[16];
    memcpy(method, p, (size_t)(nl1 - p));
    method[nl1 - p] = '\0';
    const char *uri = nl1 + 1;
    size_t rest = size - (size_t)(uri - p);
    const char *nl2 = memchr(uri, '\n', rest);
    size_t ulen = nl2 ? (size_t)(nl2 - uri) : rest;
    const char *body = nl2 ? nl2 + 1 : NULL;
    size_t blen = nl2 ? rest - ulen - 1 : 0;
    const char *qm = memchr(uri, '?', ulen);
    size_t plen = qm ? (size_t)(qm - uri) : ulen;

    struct st_route_match m;
    const char *err = NULL;
    if (st_route_find(method, uri, plen, &m, &err) == ST_ROUTE_OK) {
        for (size_t i = 0; i < m.n_labels; i++)
            if (strlen(m.labels[i]) == 0)
                abort(); /* labels are never empty */
        (void)st_route_label(&m, "clusterArn");
        st_route_match_clear(&m);
    }
    struct st_query q;
    if (qm && st_query_parse(qm + 1, ulen - plen - 1, &q, &err) == 0) {
        int limit = 0;
        if (st_parse_max_results(st_query_get(&q, "maxResults"), 100, &limit) == 0 &&
            (limit < 1 || limit > 100))
            abort(); /* accepted values are in range */
        const char *tok = st_query_get(&q, "nextToken");
        if (tok) {
            char *key = st_page_token_decode(tok);
            if (key) {
                char *again = st_page_token_encode(key);
                char *back = again ? st_page_token_decode(again) : NULL;
                if (again && (!back || strcmp(back, key) != 0))
                    abort(); /* tokens round-trip */
                free(back);
                free(again);
                free(key);
            }
        }
        st_query_clear(&q);
    }
    if (body) {
        json_error_t jerr;
        json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &jerr);
        const char *pol =
            json_is_object(j) ? json_string_value(json_object_get(j, "policy")) : NULL;
        if (pol) {
            struct st_policy_parse_opts o = {ST_POLICY_CLUSTER, 0, false};
            struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
            struct st_policy *pp = st_policy_parse(pol, strlen(pol), &o, &f, &err);
            st_policy_unref(pp);
            st_policy_findings_free(&f);
        }
        json_decref(j);
    }
    return 0;
}
