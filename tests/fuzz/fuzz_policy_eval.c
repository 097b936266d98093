/*
 * libFuzzer target for policy evaluation. The input is split at 0x1e bytes into: identity policy,
 * resource policy, principal, action, resource, then context entries "key=value" (a value
 * starting with '[' makes the key multi-valued, values separated by ','). Both policies are
 * compiled when valid; the request is evaluated with and without explanation and the two
 * decisions must agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/arn.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 24
#define MAX_VALS 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *parts[MAX_PARTS];
    size_t plen[MAX_PARTS];
    int n = 0;
    char *s = buf;
    for (;;) {
        char *sep = memchr(s, 0x1e, size - (size_t)(s - buf));
        parts[n] = s;
        plen[n] = sep ? (size_t)(sep - s) : size - (size_t)(s - buf);
        n++;
        if (!sep || n == MAX_PARTS)
            break;
        *sep = '\0';
        s = sep + 1;
    }
    struct st_policy_parse_opts io = {ST_POLICY_IDENTITY, 0, false};
    struct st_policy_parse_opts ro = {ST_POLICY_RESOURCE, 0, false};
    struct st_policy *ip = n > 0 ? st_policy_parse(parts[0], plen[0], &io, NULL, NULL) : NULL;
    struct st_policy *rp = n > 1 ? st_policy_parse(parts[1], plen[1], &ro, NULL, NULL) : NULL;

    struct st_policy_ctx_value ctx[MAX_PARTS];
    const char *vals[MAX_PARTS][MAX_VALS];
    size_t nctx = 0;
    for (int i = 5; i < n; i++) {
        char *eq = strchr(parts[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *v = eq + 1;
        struct st_policy_ctx_value *c = &ctx[nctx];
        c->key = parts[i];
        c->values = vals[nctx];
        c->n_values = 0;
        c->is_set = v[0] == '[';
        if (c->is_set) {
            v++;
            while (*v && c->n_values < MAX_VALS) {
                char *comma = strchr(v, ',');
                if (comma)
                    *comma = '\0';
                vals[nctx][c->n_values++] = v;
                if (!comma)
                    break;
                v = comma + 1;
            }
        } else {
            vals[nctx][c->n_values++] = v;
        }
        nctx++;
    }
    struct st_policy_request req = {n > 2 ? parts[2] : "", n > 3 ? parts[3] : "",
                                    n > 4 ? parts[4] : "", ctx, nctx};
    const struct st_policy *ids[2] = {ip, ip};
    struct st_policy_decision d1 = {0}, d2 = {0};
    struct st_policy_explain x;
    st_policy_explain_init(&x);
    d2.explain = &x;
    if (st_policy_evaluate(&req, ids, 2, rp, &d1) != 0)
        abort(); /* the fast path cannot fail */
    if (st_policy_evaluate(&req, ids, 2, rp, &d2) != 0)
        d2.result = d1.result; /* explanation out of memory */
    if (d1.result != d2.result)
        abort();
    if (!ip && !rp && d1.result != ST_POLICY_IMPLICIT_DENY)
        abort(); /* nothing allows without a policy */
    st_policy_explain_free(&x);
    /* The resource as a cluster ARN and the principal as a topic name. */
    char child[512];
    long cl = st_arn_msk_child(child, sizeof(child), req.resource, "topic", req.principal,
                               strlen(req.principal));
    if (cl >= 0 && ((size_t)cl != strlen(child) || strncmp(child, "arn", 3) != 0))
        abort();
    st_policy_unref(ip);
    st_policy_unref(rp);
    free(buf);
    return 0;
}
