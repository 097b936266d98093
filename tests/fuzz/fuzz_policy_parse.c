/*
 * libFuzzer target for the policy parser/validator/compiler: every input is parsed as each kind
 * of policy (identity, resource, cluster, trust) with and without a findings list; a compiled
 * policy is then evaluated against a fixed request, with and without an explanation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum st_policy_kind kinds[] = {ST_POLICY_IDENTITY, ST_POLICY_RESOURCE,
                                                ST_POLICY_CLUSTER, ST_POLICY_TRUST};
    const char *vals[2] = {"alice", "10.1.2.3"};
    struct st_policy_ctx_value ctx[2] = {{"aws:username", &vals[0], 1, false},
                                         {"aws:SourceIp", &vals[1], 1, false}};
    struct st_policy_request req = {
        "arn:aws:sts::123456789012:assumed-role/r/s", "kafka-cluster:WriteData",
        "arn:aws:kafka:us-east-1:111122223333:topic/c/u/alice-t", ctx, 2};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct st_policy_parse_opts o = {kinds[k], 0, k % 2 == 0};
        struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
        const char *err = NULL;
        struct st_policy *p = st_policy_parse((const char *)data, size, &o, &f, &err);
        if (!p && (!err || f.n_errors == 0))
            abort(); /* a rejected document always has an error and a message */
        if (p && f.n_errors != 0)
            abort();
        if (p) {
            const struct st_policy *ids[1] = {p};
            struct st_policy_decision d1 = {0}, d2 = {0};
            struct st_policy_explain x;
            st_policy_explain_init(&x);
            d2.explain = &x;
            if (k == ST_POLICY_IDENTITY) {
                if (st_policy_evaluate(&req, ids, 1, NULL, &d1) != 0)
                    abort(); /* the fast path cannot fail */
                if (st_policy_evaluate(&req, ids, 1, NULL, &d2) != 0)
                    d2.result = d1.result; /* explanation out of memory */
            } else {
                if (st_policy_evaluate(&req, NULL, 0, p, &d1) != 0)
                    abort(); /* the fast path cannot fail */
                if (st_policy_evaluate(&req, NULL, 0, p, &d2) != 0)
                    d2.result = d1.result; /* explanation out of memory */
                (void)st_policy_principal_covers(p, "123456789012", "kafka:CreateVpcConnection");
            }
            if (d1.result != d2.result)
                abort(); /* the explained path decides like the fast path */
            st_policy_explain_free(&x);
        }
        st_policy_unref(p);
        st_policy_findings_free(&f);
        /* Without a findings list. */
        p = st_policy_parse((const char *)data, size, &o, NULL, &err);
        st_policy_unref(p);
    }
    return 0;
}
