/*
 * Replays the decision fixtures of tests/data/policy (every .json file) through the policy library
 * (the same cases test_policy_cli.sh replays through `strait policy simulate`): each case is the
 * file's defaults merged with the case, evaluated with an explanation, and compared with "expect"
 * and, when present, "expectMatched".
 */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "policy/policy.h"

static struct st_policy *
load(const json_t *v, enum st_policy_kind kind)
{
    char *owned = NULL;
    const char *text;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else {
        owned = json_dumps(v, JSON_COMPACT);
        text = owned;
    }
    struct st_policy_parse_opts o = {kind, 0, false};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    const char *err = NULL;
    struct st_policy *p = st_policy_parse(text, strlen(text), &o, &f, &err);
    if (!p)
        fprintf(stderr, "policy error: %s (%s)\n", err, f.n ? f.items[0].message : "");
    st_policy_findings_free(&f);
    free(owned);
    return p;
}

/* Runs one case; returns 0 when it passes. */
static int
run_case(const char *file, const json_t *cs)
{
    const char *name = json_string_value(json_object_get(cs, "name"));
    const char *expect = json_string_value(json_object_get(cs, "expect"));
    const char *action = json_string_value(json_object_get(cs, "action"));
    const json_t *idp = json_object_get(cs, "identityPolicies");
    const json_t *rpv = json_object_get(cs, "resourcePolicy");
    size_t n_ids = json_array_size(idp);
    struct st_policy *ids[16] = {0};
    struct st_policy *rp = NULL;
    int rc = 0;
    assert_true(n_ids <= 16);
    for (size_t i = 0; i < n_ids; i++) {
        ids[i] = load(json_array_get(idp, i), ST_POLICY_IDENTITY);
        if (!ids[i])
            rc = -1;
    }
    if (rpv && !json_is_null(rpv)) {
        rp = load(rpv, strncasecmp(action, "sts:", 4) == 0 ? ST_POLICY_TRUST : ST_POLICY_RESOURCE);
        if (!rp)
            rc = -1;
    }
    /* Context. */
    const json_t *ctx = json_object_get(cs, "context");
    size_t n_ctx = json_object_size(ctx);
    struct st_policy_ctx_value kv[32];
    const char *vals[32][8];
    char nums[32][8][32];
    assert_true(n_ctx <= 32);
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)ctx, key, v)
    {
        kv[k].key = key;
        kv[k].is_set = json_is_array(v);
        kv[k].n_values = json_is_array(v) ? json_array_size(v) : 1;
        kv[k].values = vals[k];
        assert_true(kv[k].n_values <= 8);
        for (size_t i = 0; i < kv[k].n_values; i++) {
            const json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
            if (json_is_number(x)) {
                /* Shortest text that reads back the same, as `strait policy simulate` does. */
                for (int prec = 1; prec <= 17; prec++) {
                    snprintf(nums[k][i], sizeof(nums[k][i]), "%.*g", prec, json_number_value(x));
                    if (strtod(nums[k][i], NULL) == json_number_value(x))
                        break;
                }
                vals[k][i] = nums[k][i];
            } else {
                vals[k][i] = json_is_string(x)  ? json_string_value(x)
                             : json_is_true(x)  ? "true"
                             : json_is_false(x) ? "false"
                                                : "?";
            }
        }
        k++;
    }
    if (rc == 0) {
        struct st_policy_request req = {json_string_value(json_object_get(cs, "principal")), action,
                                        json_string_value(json_object_get(cs, "resource")), kv, k};
        /* Decide twice: without explanation (the fast path) and with; both must agree. */
        struct st_policy_decision fast = {0}, full = {0};
        struct st_policy_explain x;
        st_policy_explain_init(&x);
        full.explain = &x;
        assert_int_equal(
            st_policy_evaluate(&req, (const struct st_policy *const *)ids, n_ids, rp, &fast), 0);
        assert_int_equal(
            st_policy_evaluate(&req, (const struct st_policy *const *)ids, n_ids, rp, &full), 0);
        if (fast.result != full.result) {
            fprintf(stderr, "%s: %s: fast path %s, explained %s\n", file, name,
                    st_policy_result_name(fast.result), st_policy_result_name(full.result));
            rc = -1;
        }
        if (strcmp(st_policy_result_name(full.result), expect) != 0) {
            fprintf(stderr, "%s: %s: want %s, got %s\n%s\n", file, name, expect,
                    st_policy_result_name(full.result), (const char *)x.text.data);
            rc = -1;
        }
        const json_t *em = json_object_get(cs, "expectMatched");
        if (em) {
            bool same = json_array_size(em) == x.n_matched;
            for (size_t i = 0; same && i < x.n_matched; i++) {
                const json_t *pair = json_array_get(em, i);
                const char *pn = json_string_value(json_array_get(pair, 0));
                char want[48];
                if (x.matched[i].policy >= 0)
                    snprintf(want, sizeof(want), "identityPolicies[%d]", x.matched[i].policy);
                else
                    snprintf(want, sizeof(want), "resourcePolicy");
                same = strcmp(pn, want) == 0 &&
                       (size_t)json_integer_value(json_array_get(pair, 1)) == x.matched[i].stmt;
            }
            if (!same) {
                fprintf(stderr, "%s: %s: matched statements differ\n%s\n", file, name,
                        (const char *)x.text.data);
                rc = -1;
            }
        }
        st_policy_explain_free(&x);
    }
    for (size_t i = 0; i < n_ids; i++)
        st_policy_unref(ids[i]);
    st_policy_unref(rp);
    return rc;
}

static void
test_fixtures(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tests/data/policy", ST_SOURCE_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int files = 0, cases = 0, failures = 0;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        json_error_t jerr;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            fprintf(stderr, "%s: %s\n", path, jerr.text);
            failures++;
            continue;
        }
        files++;
        const json_t *defs = json_object_get(root, "defaults");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(root, "cases"), i, c)
        {
            json_t *merged = json_deep_copy(defs);
            json_object_update(merged, c);
            cases++;
            if (run_case(de->d_name, merged) != 0)
                failures++;
            json_decref(merged);
        }
        json_decref(root);
    }
    closedir(d);
    fprintf(stderr, "policy fixtures: %d files, %d cases, %d failures\n", files, cases, failures);
    assert_true(files >= 5);
    assert_true(cases >= 100);
    assert_int_equal(failures, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
