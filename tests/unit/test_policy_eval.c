/*
 * Unit tests of policy evaluation: the value parsers behind Date/IP/Numeric conditions, each
 * condition operator through a one-statement policy (spec §6), decision fields and explanations
 * (§7), and concurrent evaluation of one shared compiled policy from several threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#if defined(__SANITIZE_ADDRESS__)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which gcc does not install). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#define HAVE_MALLOC_HOOKS 1
#endif

#include "policy/internal.h"
#include "policy/policy.h"

static void
test_parse_date(void **state)
{
    (void)state;
    int64_t s;
    int32_t ns;
#define D(str) st_policy_parse_date(str, strlen(str), &s, &ns)
    assert_int_equal(D("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(s, 0);
    assert_int_equal(D("2026-01-01T00:00:00Z"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2026-01-01T01:00:00+01:00"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2025-12-31T19:00-05:00"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2026-01-01"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2026-01"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2026-1-1"), 0);
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("2026"), 0); /* no 'T' and no '-': epoch seconds, like IAM */
    assert_int_equal(s, 2026);
    assert_int_equal(D("2024-02-29T12:00:00.250Z"), 0);
    assert_int_equal(ns, 250000000);
    assert_int_equal(D("2024-02-29T12:00:00.123456789Z"), 0);
    assert_int_equal(ns, 123456789);
    assert_int_equal(D("1767225600"), 0); /* epoch seconds */
    assert_int_equal(s, 1767225600);
    assert_int_equal(D("0"), 0);
    assert_int_equal(D("9223372036854775807"), 0);
    assert_int_equal(D("9223372036854775808"), -1);
    /* What IAM's legacy parser accepts: no zone (UTC), one-digit hours, zone hours only, lower
     * case 't', two-digit and negative years, day 31 of any month (rolls over). */
    assert_int_equal(D("2026-01-01T10:00:00"), 0);
    assert_int_equal(s, 1767225600 + 36000);
    assert_int_equal(D("2026-01-01t2:00:00+23"), 0);
    assert_int_equal(s, 1767225600 + 7200 - 23 * 3600);
    assert_int_equal(D("2026-01-01T10"), 0);
    assert_int_equal(D("01T"), 0);
    assert_int_equal(D("-292275054"), 0);
    assert_int_equal(D("-5"), 0);
    assert_int_equal(D("2023-02-31"), 0);
    assert_int_equal(s, 1677801600); /* = 2023-03-03 */
    /* What it rejects. */
    assert_int_equal(D("2026-13-01"), -1);
    assert_int_equal(D("234-13"), -1);
    assert_int_equal(D("2026-01-32"), -1);
    assert_int_equal(D("2026-01-01T24:00:00Z"), -1);
    assert_int_equal(D("2016-12-13t2:00:00.593194+1"), -1);
    assert_int_equal(D("2016-12-13t2:00:00.1999999999+10:59"), -1);
    assert_int_equal(D("2026-01-01 10:00:00Z"), -1);
    assert_int_equal(D("2026-01-01T10:00:00.Z"), -1);
    assert_int_equal(D("2026-01-01-05"), -1);
    assert_int_equal(D("-292275055"), -1);
    assert_int_equal(D(""), -1);
    assert_int_equal(D("sdfdsf"), -1);
    assert_int_equal(D("1.5"), -1);
    assert_int_equal(D("${aws:CurrentTime}"), -1);
#undef D
}

static void
test_parse_cidr_number(void **state)
{
    (void)state;
    uint8_t ip[16];
    int v6, pfx;
#define C(str, allow) st_policy_parse_cidr(str, strlen(str), allow, ip, &v6, &pfx)
    assert_int_equal(C("10.0.0.0/8", true), 0);
    assert_int_equal(v6, 0);
    assert_int_equal(pfx, 8);
    assert_int_equal(C("10.1.2.3", true), 0);
    assert_int_equal(pfx, 32);
    assert_int_equal(C("2001:db8::1", true), 0);
    assert_int_equal(v6, 1);
    assert_int_equal(pfx, 128);
    assert_int_equal(C("::/0", true), 0);
    assert_int_equal(pfx, 0);
    assert_int_equal(C("10.0.0.0/33", true), -1);
    assert_int_equal(C("2001:db8::/129", true), -1);
    assert_int_equal(C("10.0.0.0/", true), -1);
    assert_int_equal(C("10.0.0.0/8", false), -1);
    assert_int_equal(C("10.0.0", true), -1);
    assert_int_equal(C("host.example", true), -1);
    assert_int_equal(C("", true), -1);
#undef C
    double d;
#define N(str) st_policy_parse_number(str, strlen(str), &d)
    assert_int_equal(N("10"), 0);
    assert_true(d == 10.0);
    assert_int_equal(N("-1.25"), 0);
    assert_true(d == -1.25);
    assert_int_equal(N("+3"), 0);
    assert_int_equal(N("1."), -1);
    assert_int_equal(N(".5"), -1);
    assert_int_equal(N("1e5"), -1);
    assert_int_equal(N("0x10"), -1);
    assert_int_equal(N(""), -1);
    assert_int_equal(N("nan"), -1);
#undef N
}

/* Evaluates `cond` (a Condition object) in an Allow-all identity policy against one context
 * key/value. Returns true when allowed. */
static bool
cond_allows(const char *cond, const char *key, const char *value)
{
    char doc[2048];
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
             "\"Resource\":\"*\",\"Condition\":%s}}",
             cond);
    struct st_policy_parse_opts o = {ST_POLICY_IDENTITY, 0, true};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    struct st_policy *p = st_policy_parse(doc, strlen(doc), &o, &f, NULL);
    if (!p)
        fprintf(stderr, "%s: %s\n", cond, f.items[0].message);
    assert_non_null(p);
    st_policy_findings_free(&f);
    const char *vals[1] = {value};
    struct st_policy_ctx_value kv = {key, vals, 1, false};
    struct st_policy_request req = {"arn:aws:iam::111122223333:user/u", "kafka:DescribeCluster",
                                    "arn:aws:kafka:us-east-1:111122223333:cluster/c/u", &kv,
                                    key ? 1u : 0u};
    struct st_policy_decision d = {0};
    const struct st_policy *ids[1] = {p};
    assert_int_equal(st_policy_evaluate(&req, ids, 1, NULL, &d), 0);
    st_policy_unref(p);
    return d.result == ST_POLICY_ALLOWED;
}

static void
test_operators(void **state)
{
    (void)state;
    /* String family. */
    assert_true(cond_allows("{\"StringEquals\":{\"k:a\":\"Abc\"}}", "k:a", "Abc"));
    assert_false(cond_allows("{\"StringEquals\":{\"k:a\":\"Abc\"}}", "k:a", "abc"));
    assert_true(cond_allows("{\"StringNotEquals\":{\"k:a\":\"Abc\"}}", "k:a", "abc"));
    assert_true(cond_allows("{\"StringEqualsIgnoreCase\":{\"k:a\":\"Abc\"}}", "k:a", "aBC"));
    assert_false(cond_allows("{\"StringNotEqualsIgnoreCase\":{\"k:a\":\"Abc\"}}", "k:a", "aBC"));
    assert_true(cond_allows("{\"StringLike\":{\"k:a\":\"a*c?\"}}", "k:a", "abbbcd"));
    assert_false(cond_allows("{\"StringLike\":{\"k:a\":\"a*c?\"}}", "k:a", "abbbc"));
    assert_true(cond_allows("{\"StringNotLike\":{\"k:a\":\"x*\"}}", "k:a", "abc"));
    assert_false(cond_allows("{\"StringEquals\":{\"k:a\":\"\"}}", "k:a", "x"));
    assert_true(cond_allows("{\"StringEquals\":{\"k:a\":\"\"}}", "k:a", ""));
    /* Numeric family. */
    assert_true(cond_allows("{\"NumericEquals\":{\"k:n\":\"5\"}}", "k:n", "5.0"));
    assert_true(cond_allows("{\"NumericNotEquals\":{\"k:n\":\"5\"}}", "k:n", "6"));
    assert_true(cond_allows("{\"NumericLessThan\":{\"k:n\":\"5\"}}", "k:n", "4.99"));
    assert_false(cond_allows("{\"NumericLessThan\":{\"k:n\":\"5\"}}", "k:n", "5"));
    assert_true(cond_allows("{\"NumericLessThanEquals\":{\"k:n\":\"5\"}}", "k:n", "5"));
    assert_true(cond_allows("{\"NumericGreaterThan\":{\"k:n\":\"5\"}}", "k:n", "10"));
    assert_false(cond_allows("{\"NumericGreaterThanEquals\":{\"k:n\":\"5\"}}", "k:n", "-10"));
    assert_false(cond_allows("{\"NumericNotEquals\":{\"k:n\":\"5\"}}", "k:n", "5"));
    /* Date family. */
    assert_true(cond_allows("{\"DateEquals\":{\"aws:CurrentTime\":\"2026-01-01\"}}",
                            "aws:CurrentTime", "2026-01-01T00:00:00Z"));
    assert_true(cond_allows("{\"DateNotEquals\":{\"aws:CurrentTime\":\"2026-01-01\"}}",
                            "aws:CurrentTime", "2026-01-01T00:00:01Z"));
    assert_true(cond_allows("{\"DateLessThan\":{\"aws:CurrentTime\":\"2026-01-01\"}}",
                            "aws:CurrentTime", "1767225599"));
    assert_false(cond_allows("{\"DateLessThan\":{\"aws:CurrentTime\":\"2026-01-01\"}}",
                             "aws:CurrentTime", "1767225600"));
    assert_true(cond_allows("{\"DateLessThanEquals\":{\"aws:CurrentTime\":\"2026-01-01\"}}",
                            "aws:CurrentTime", "1767225600"));
    assert_true(cond_allows("{\"DateGreaterThan\":{\"aws:CurrentTime\":1767225600}}",
                            "aws:CurrentTime", "2026-01-01T00:00:00.001Z"));
    assert_true(cond_allows("{\"DateGreaterThanEquals\":{\"aws:CurrentTime\":\"2026-01\"}}",
                            "aws:CurrentTime", "2026-01-01T00:00:00Z"));
    assert_false(cond_allows("{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2026\"}}",
                             "aws:CurrentTime", "garbage"));
    /* Bool. */
    assert_true(cond_allows("{\"Bool\":{\"k:b\":\"True\"}}", "k:b", "true"));
    assert_false(cond_allows("{\"Bool\":{\"k:b\":\"true\"}}", "k:b", "yes"));
    assert_false(cond_allows("{\"Bool\":{\"k:b\":\"true\"}}", "k:b", "false"));
    /* Binary. */
    assert_true(cond_allows("{\"BinaryEquals\":{\"k:b\":\"YWI=\"}}", "k:b", "ab"));
    assert_true(cond_allows("{\"BinaryEquals\":{\"k:b\":\"YQ==\"}}", "k:b", "a"));
    assert_false(cond_allows("{\"BinaryEquals\":{\"k:b\":\"YWI=\"}}", "k:b", "YWI="));
    /* IP. */
    assert_true(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp",
                            "10.255.0.1"));
    assert_false(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp",
                             "11.0.0.1"));
    assert_false(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp",
                             "not-an-ip"));
    assert_true(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.5/8\"}}", "aws:SourceIp",
                            "10.9.9.9")); /* host bits ignored */
    assert_true(cond_allows("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", "aws:SourceIp",
                            "11.0.0.1"));
    assert_true(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/31\"}}", "aws:SourceIp",
                            "2001:db9::1"));
    assert_false(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"2001:db8::/32\"}}", "aws:SourceIp",
                             "2001:db9::1"));
    assert_false(cond_allows("{\"IpAddress\":{\"aws:SourceIp\":\"0.0.0.0/0\"}}", "aws:SourceIp",
                             "::ffff:10.0.0.1"));
    /* ARN. */
    assert_true(cond_allows("{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:kafka:*:*:cluster/c/*\"}}",
                            "aws:SourceArn", "arn:aws:kafka:eu-west-1:1:cluster/c/u"));
    assert_false(cond_allows("{\"ArnLike\":{\"aws:SourceArn\":\"arn:aws:kafka:*:*:cluster/c/*\"}}",
                             "aws:SourceArn", "not-an-arn"));
    assert_true(cond_allows("{\"ArnNotEquals\":{\"aws:SourceArn\":\"arn:aws:kafka:*:*:*\"}}",
                            "aws:SourceArn", "arn:aws:iam::1:role/r"));
    /* Null. */
    assert_true(cond_allows("{\"Null\":{\"k:x\":\"true\"}}", NULL, NULL));
    assert_false(cond_allows("{\"Null\":{\"k:x\":\"false\"}}", NULL, NULL));
    assert_true(cond_allows("{\"Null\":{\"k:x\":\"false\"}}", "k:x", "v"));
    /* IfExists on each family with the key absent: true. */
    assert_true(cond_allows("{\"NumericLessThanIfExists\":{\"k:n\":\"5\"}}", NULL, NULL));
    assert_true(cond_allows("{\"DateLessThanIfExists\":{\"k:d\":\"2026\"}}", NULL, NULL));
    assert_true(cond_allows("{\"BoolIfExists\":{\"k:b\":\"true\"}}", NULL, NULL));
    assert_true(cond_allows("{\"IpAddressIfExists\":{\"k:i\":\"10.0.0.0/8\"}}", NULL, NULL));
    assert_true(cond_allows("{\"ArnLikeIfExists\":{\"k:a\":\"arn:*:*:*:*:*\"}}", NULL, NULL));
    assert_true(cond_allows("{\"BinaryEqualsIfExists\":{\"k:b\":\"YQ==\"}}", NULL, NULL));
    /* ...and with it present the operator applies. */
    assert_false(cond_allows("{\"NumericLessThanIfExists\":{\"k:n\":\"5\"}}", "k:n", "7"));
    /* Positive operators with the key absent: false. */
    assert_false(cond_allows("{\"NumericLessThan\":{\"k:n\":\"5\"}}", NULL, NULL));
    assert_false(cond_allows("{\"IpAddress\":{\"k:i\":\"10.0.0.0/8\"}}", NULL, NULL));
    assert_false(cond_allows("{\"ArnLike\":{\"k:a\":\"arn:*:*:*:*:*\"}}", NULL, NULL));
    /* Negated operators with the key absent: true. */
    assert_true(cond_allows("{\"NotIpAddress\":{\"k:i\":\"10.0.0.0/8\"}}", NULL, NULL));
    assert_true(cond_allows("{\"ArnNotLike\":{\"k:a\":\"arn:*:*:*:*:*\"}}", NULL, NULL));
    assert_true(cond_allows("{\"StringNotEqualsIgnoreCase\":{\"k:a\":\"x\"}}", NULL, NULL));
}

static void
test_decision_and_explanation(void **state)
{
    (void)state;
    const char *idp = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Read\",\"Effect\":"
                      "\"Allow\",\"Action\":\"kafka-cluster:ReadData\",\"Resource\":\"*\"},"
                      "{\"Sid\":\"NoSecret\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":"
                      "\"arn:aws:kafka:*:*:topic/*/*/secret\"},{\"Effect\":\"Allow\",\"Action\":"
                      "\"*\",\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":"
                      "\"true\"}}}]}";
    const char *rpd = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Sid\":\"Acct\",\"Effect\":"
                      "\"Allow\",\"Principal\":{\"AWS\":\"222233334444\"},\"Action\":\"*\","
                      "\"Resource\":\"*\"}}";
    struct st_policy_parse_opts o = {ST_POLICY_IDENTITY, 0, true};
    struct st_policy *ip = st_policy_parse(idp, strlen(idp), &o, NULL, NULL);
    o.kind = ST_POLICY_CLUSTER;
    struct st_policy *rp = st_policy_parse(rpd, strlen(rpd), &o, NULL, NULL);
    assert_non_null(ip);
    assert_non_null(rp);
    const struct st_policy *ids[2] = {NULL, ip}; /* NULL entries are skipped */
    struct st_policy_request req = {
        "arn:aws:sts::222233334444:assumed-role/r/s", "kafka-cluster:ReadData",
        "arn:aws:kafka:us-east-1:111122223333:topic/c/u/orders", NULL, 0};
    struct st_policy_explain x;
    st_policy_explain_init(&x);
    struct st_policy_decision d = {0};
    d.explain = &x;
    assert_int_equal(st_policy_evaluate(&req, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_ALLOWED);
    assert_true(d.identity_allow);
    assert_false(d.same_account);
    assert_int_equal(d.resource_allow, ST_PM_ACCOUNT);
    assert_int_equal(x.n_matched, 2);
    assert_int_equal(x.matched[0].policy, 1);
    assert_int_equal(x.matched[0].stmt, 0);
    assert_string_equal(x.matched[0].sid, "Read");
    assert_int_equal(x.matched[1].policy, -1);
    assert_int_equal(x.matched[1].pm, ST_PM_ACCOUNT);
    const char *t = (const char *)x.text.data;
    assert_non_null(strstr(t, "identityPolicies[1] statement 0 (Sid Read) (Allow): applies"));
    assert_non_null(strstr(t,
                           "identityPolicies[1] statement 1 (Sid NoSecret) (Deny): does not apply: "
                           "arn:aws:kafka:us-east-1:111122223333:topic/c/u/orders is not "
                           "matched by Resource [arn:aws:kafka:*:*:topic/*/*/secret]"));
    assert_non_null(
        strstr(t, "identityPolicies[1] statement 2 (Allow): does not apply: condition Bool "
                  "on aws:SecureTransport is false (key absent; policy values [\"true\"], "
                  "request has no such key)"));
    assert_non_null(strstr(t, "allowed: cross-account: both"));
    st_policy_explain_free(&x);

    /* The deny statement wins, in both paths. */
    req.resource = "arn:aws:kafka:us-east-1:111122223333:topic/c/u/secret";
    st_policy_explain_init(&x);
    d.explain = &x;
    assert_int_equal(st_policy_evaluate(&req, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_EXPLICIT_DENY);
    assert_non_null(strstr((const char *)x.text.data, "explicitDeny: an identity policy"));
    st_policy_explain_free(&x);
    d.explain = NULL;
    assert_int_equal(st_policy_evaluate(&req, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_EXPLICIT_DENY);

    /* Action names an action not listed: NotAction/Action explanations. */
    req.resource = "arn:aws:kafka:us-east-1:111122223333:topic/c/u/orders";
    req.action = "kafka-cluster:WriteData";
    st_policy_explain_init(&x);
    d.explain = &x;
    assert_int_equal(st_policy_evaluate(&req, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_IMPLICIT_DENY);
    assert_non_null(
        strstr((const char *)x.text.data, "kafka-cluster:WriteData is not matched by Action"));
    st_policy_explain_free(&x);

    /* A principal outside the resource policy. */
    req.principal = "arn:aws:iam::999999999999:user/x";
    req.action = "kafka-cluster:ReadData";
    st_policy_explain_init(&x);
    d.explain = &x;
    assert_int_equal(st_policy_evaluate(&req, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_IMPLICIT_DENY);
    assert_non_null(strstr((const char *)x.text.data,
                           "principal arn:aws:iam::999999999999:user/x is not matched by "
                           "Principal"));
    st_policy_explain_free(&x);

    /* Degenerate requests never allow and never crash. */
    struct st_policy_request empty = {NULL, NULL, NULL, NULL, 0};
    d.explain = NULL;
    assert_int_equal(st_policy_evaluate(&empty, ids, 2, rp, &d), 0);
    assert_int_equal(d.result, ST_POLICY_IMPLICIT_DENY);
    assert_string_equal(st_policy_result_name(ST_POLICY_ALLOWED), "allowed");
    assert_string_equal(st_policy_result_name(ST_POLICY_EXPLICIT_DENY), "explicitDeny");
    assert_string_equal(st_policy_result_name(ST_POLICY_IMPLICIT_DENY), "implicitDeny");
    st_policy_unref(ip);
    st_policy_unref(rp);
}

struct thread_arg {
    struct st_policy *p; /* shared policy */
    int allowed;         /* decisions that were Allowed */
};

static void *
worker(void *arg)
{
    struct thread_arg *a = arg;
    struct st_policy *p = st_policy_ref(a->p);
    const struct st_policy *ids[1] = {p};
    char topic[128];
    for (int i = 0; i < 2000; i++) {
        snprintf(topic, sizeof(topic), "arn:aws:kafka:us-east-1:111122223333:topic/c/u/%s-%d",
                 (i % 2) ? "team" : "other", i);
        const char *vals[1] = {"team"};
        struct st_policy_ctx_value kv = {"aws:username", vals, 1, false};
        struct st_policy_request req = {"arn:aws:iam::111122223333:user/team",
                                        "kafka-cluster:WriteData", topic, &kv, 1};
        struct st_policy_decision d = {0};
        if (st_policy_evaluate(&req, ids, 1, NULL, &d) == 0 && d.result == ST_POLICY_ALLOWED)
            a->allowed++;
    }
    st_policy_unref(p);
    return NULL;
}

static void
test_concurrent_evaluation(void **state)
{
    (void)state;
    const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":"
                      "\"kafka-cluster:*\",\"Resource\":\"arn:aws:kafka:*:*:topic/c/*/"
                      "${aws:username}-*\"}}";
    struct st_policy_parse_opts o = {ST_POLICY_IDENTITY, 0, true};
    struct st_policy *p = st_policy_parse(doc, strlen(doc), &o, NULL, NULL);
    assert_non_null(p);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].p = p;
        args[i].allowed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].allowed, 1000);
    }
    st_policy_unref(p);
}

#ifdef HAVE_MALLOC_HOOKS
static volatile int counting;         /* count allocations while set */
static volatile unsigned long allocs; /* allocations seen while counting */

static void
on_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    if (counting)
        allocs++;
}

static void
on_free(const volatile void *ptr)
{
    (void)ptr;
}
#endif

/* The data plane evaluates every uncached request: without an explanation, no allocation. */
static void
test_no_allocation(void **state)
{
    (void)state;
#ifdef HAVE_MALLOC_HOOKS
    const char *idp =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
        "\"kafka-cluster:*Topic*\",\"Resource\":\"arn:aws:kafka:*:*:topic/c/*/${aws:username}-*\","
        "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"},\"DateLessThan\":"
        "{\"aws:CurrentTime\":\"2030-01-01\"},\"ForAnyValue:StringLike\":{\"aws:TagKeys\":\"t*\"},"
        "\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:sts::*:assumed-role/${aws:username}/*\"}}},"
        "{\"Effect\":\"Deny\",\"NotAction\":\"kafka-cluster:*\",\"NotResource\":\"*\"}]}";
    const char *rpd =
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
        "\"Principal\":{\"AWS\":[\"111122223333\",\"arn:aws:iam::123456789012:role/r\"]},"
        "\"Action\":\"kafka-cluster:*\",\"Resource\":\"*\"}}";
    struct st_policy_parse_opts o = {ST_POLICY_IDENTITY, 0, true};
    struct st_policy *ip = st_policy_parse(idp, strlen(idp), &o, NULL, NULL);
    o.kind = ST_POLICY_CLUSTER;
    struct st_policy *rp = st_policy_parse(rpd, strlen(rpd), &o, NULL, NULL);
    assert_non_null(ip);
    assert_non_null(rp);
    const char *user[1] = {"alice"}, *ipv[1] = {"10.1.1.1"}, *now[1] = {"2026-11-27T08:50:00Z"};
    const char *tags[2] = {"team", "env"}, *parn[1] = {"arn:aws:sts::1:assumed-role/alice/s"};
    struct st_policy_ctx_value ctx[] = {{"aws:username", user, 1, false},
                                        {"aws:SourceIp", ipv, 1, false},
                                        {"aws:CurrentTime", now, 1, false},
                                        {"aws:TagKeys", tags, 2, true},
                                        {"aws:PrincipalArn", parn, 1, false}};
    struct st_policy_request req = {
        "arn:aws:sts::111122223333:assumed-role/alice/s", "kafka-cluster:DescribeTopic",
        "arn:aws:kafka:us-east-1:999999999999:topic/c/u/alice-t", ctx, 5};
    const struct st_policy *ids[1] = {ip};
    struct st_policy_decision d = {0};
    assert_int_equal(__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free), 1);
    allocs = 0;
    counting = 1;
    int rc = st_policy_evaluate(&req, ids, 1, rp, &d);
    counting = 0;
    assert_int_equal(rc, 0);
    assert_int_equal(d.result, ST_POLICY_ALLOWED); /* every condition was evaluated */
    assert_int_equal(allocs, 0);
    /* The explained path does allocate (so the counter works). */
    struct st_policy_explain x;
    st_policy_explain_init(&x);
    d.explain = &x;
    counting = 1;
    rc = st_policy_evaluate(&req, ids, 1, rp, &d);
    counting = 0;
    assert_int_equal(rc, 0);
    assert_true(allocs > 0);
    st_policy_explain_free(&x);
    st_policy_unref(ip);
    st_policy_unref(rp);
#else
    skip();
#endif
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_parse_cidr_number),
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_decision_and_explanation),
        cmocka_unit_test(test_concurrent_evaluation),
        cmocka_unit_test(test_no_allocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
