/*
 * Unit tests of the matching building blocks of the policy engine: the glob matcher (spec §3.3),
 * ARN splitting and the per-segment resource rule (§3.2), ArnLike (§6.3), Resource validation
 * messages (§2), the kafka/kafka-cluster action catalogues, and principal matching (§4.2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/arn.h"
#include "policy/catalog.h"
#include "policy/glob.h"
#include "policy/policy.h"

static bool
g(const char *p, const char *s, unsigned flags)
{
    return st_glob_match(p, strlen(p), s, strlen(s), flags);
}

static void
test_glob_basics(void **state)
{
    (void)state;
    assert_true(g("*", "", 0));
    assert_true(g("*", "anything/at:all", 0));
    assert_true(g("", "", 0));
    assert_false(g("", "a", 0));
    assert_false(g("a", "", 0));
    assert_true(g("a*c", "ac", 0));
    assert_true(g("a*c", "abbbc", 0));
    assert_false(g("a*c", "abbbcd", 0));
    assert_true(g("a?c", "abc", 0));
    assert_false(g("a?c", "ac", 0));
    assert_false(g("a?c", "abbc", 0));
    assert_true(g("*Topic", "DescribeTopic", 0));
    assert_false(g("*Topic", "DescribeTopicDynamicConfiguration", 0));
    assert_true(g("*Topic*", "DescribeTopicDynamicConfiguration", 0));
    assert_true(g("**a**", "xxaxx", 0));
    assert_true(g("*a*b*c*", "aXbXc", 0));
    assert_false(g("*a*b*c*", "aXcXb", 0));
    /* Anchored at both ends. */
    assert_false(g("abc", "xabc", 0));
    assert_false(g("abc", "abcx", 0));
    /* Case. */
    assert_false(g("abc", "ABC", 0));
    assert_true(g("kafka-cluster:connect", "KAFKA-CLUSTER:Connect", ST_GLOB_NOCASE));
    /* `?` is one code point: "é" is two bytes in UTF-8. */
    assert_true(g("a?", "a\xc3\xa9", 0));
    assert_false(g("a??", "a\xc3\xa9", 0));
    assert_true(g("*\xc3\xa9", "xx\xc3\xa9", 0));
    /* Literal mode. */
    assert_true(g("a*", "a*", ST_GLOB_LITERAL));
    assert_false(g("a*", "ab", ST_GLOB_LITERAL));
}

static void
test_glob_escaped(void **state)
{
    (void)state;
    /* \x01 escapes the next byte: a literal star. */
    assert_true(g("a\x01*", "a*", ST_GLOB_ESCAPED));
    assert_false(g("a\x01*", "ab", ST_GLOB_ESCAPED));
    assert_true(g("a\x01?*", "a?xyz", ST_GLOB_ESCAPED));
    assert_false(g("a\x01?", "ab", ST_GLOB_ESCAPED));
    assert_true(g("\x01\x01", "\x01", ST_GLOB_ESCAPED));
    assert_false(st_glob_has_wildcard("a\x01*", 3, ST_GLOB_ESCAPED));
    assert_true(st_glob_has_wildcard("a\x01**", 4, ST_GLOB_ESCAPED));
    /* Without the flag the escape byte is ordinary. */
    assert_false(g("a\x01*", "a*", 0));
}

static void
test_glob_hostile(void **state)
{
    (void)state;
    /* Many stars against a long non-matching string: must finish (iterative, O(n*m)). */
    char pat[401], str[4001];
    for (int i = 0; i < 400; i++)
        pat[i] = (i % 2) ? 'a' : '*';
    pat[400] = '\0';
    memset(str, 'a', 4000);
    str[3999] = 'b';
    str[4000] = '\0';
    assert_false(g(pat, str, 0));
    str[3999] = 'a';
    assert_true(g(pat, str, 0));
}

static void
test_arn_split(void **state)
{
    (void)state;
    struct st_arn a;
    const char *s = "arn:aws:kafka:us-east-1:111122223333:group/c/u/app:v1/x";
    assert_int_equal(st_arn_split(s, strlen(s), &a), 6);
    assert_int_equal(a.len[ST_ARN_REGION], 9);
    assert_memory_equal(a.seg[ST_ARN_RESOURCE], "group/c/u/app:v1/x", a.len[ST_ARN_RESOURCE]);
    const char *err;
    assert_int_equal(st_arn_parse(s, strlen(s), &a, &err), 0);
    assert_int_equal(st_arn_parse("arn:aws:kafka", 13, &a, &err), -1);
    assert_int_equal(st_arn_parse("urn:aws:kafka:r:a:x", 19, &a, &err), -1);
    assert_int_equal(st_arn_split("arn:aws:kafka:us-east-1:*", 25, &a), 5);
    assert_int_equal(st_arn_split("", 0, &a), 1);
}

static bool
rm(const char *pat, const char *val)
{
    struct st_arn p, v;
    const char *err;
    st_arn_split(pat, strlen(pat), &p);
    if (st_arn_parse(val, strlen(val), &v, &err) != 0)
        return false;
    return st_arn_match_resource(&p, &v, 0);
}

static void
test_arn_resource_match(void **state)
{
    (void)state;
    const char *t = "arn:aws:kafka:us-east-1:0123456789012:topic/MyTestCluster/abcd-1/orders_test";
    assert_true(rm("arn:aws:kafka:us-east-1:0123456789012:topic/MyTestCluster/*", t));
    assert_true(rm("arn:aws:kafka:us-east-1:0123456789012:topic/MyTestCluster/abcd-1/*_test", t));
    assert_false(rm("arn:aws:kafka:us-east-1:0123456789012:topic/MyTestCluster/abcd-2/*", t));
    assert_true(rm("arn:aws:kafka:*:*:topic/*", t));
    assert_true(rm("arn:aws:kafka:us-east-1:0123456789012:*", t));
    /* `*` in a segment cannot consume a colon. */
    assert_false(rm("arn:aws:kafka:*:topic/*", t));
    /* The resource type is compared literally. */
    assert_false(rm("arn:aws:kafka:us-east-1:0123456789012:t*/MyTestCluster/*", t));
    assert_true(rm("arn:aws:s3:::my-*/*", "arn:aws:s3:::my-bucket/key"));
    assert_false(rm("arn:aws:kafka:us-east-1:0123456789012:group/MyTestCluster/*", t));
    /* Case-sensitive everywhere (strait decision for the first segments). */
    assert_false(rm("arn:aws:kafka:US-EAST-1:0123456789012:topic/*", t));
    assert_false(rm("arn:aws:kafka:us-east-1:0123456789012:topic/mytestcluster/*", t));
    /* Short patterns are padded with `*`. */
    assert_true(rm("arn:aws:kafka:us-east-1:*", t));
    assert_true(rm("arn:aws:kafka", t));
    /* The resource part may contain ':' and `*` crosses it. */
    assert_true(
        rm("arn:aws:kafka:us-east-1:1:group/c/*", "arn:aws:kafka:us-east-1:1:group/c/u/app:v1/x"));
    assert_true(rm("arn:aws:kafka:us-east-1:1:group/c/u/app:*",
                   "arn:aws:kafka:us-east-1:1:group/c/u/app:v1/x"));
}

static void
test_arn_like(void **state)
{
    (void)state;
    const char *p = "arn:aws:someservice:*:111122223333:finance/*";
    const char *v =
        "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
    assert_false(st_arn_like(p, strlen(p), v, strlen(v), 0));
    /* StringLike would match the same pair. */
    assert_true(st_glob_match(p, strlen(p), v, strlen(v), 0));
    const char *v2 = "arn:aws:someservice:us-east-2:111122223333:finance/document.txt";
    assert_true(st_arn_like(p, strlen(p), v2, strlen(v2), 0));
    assert_false(st_arn_like("arn:aws:iam::1:role/x", 21, "arn:aws:iam::1", 14, 0));
}

static void
check_validate(const char *res, int want, const char *msg)
{
    char out[320];
    int rc = st_arn_validate_resource(res, strlen(res), true, out, sizeof(out));
    assert_int_equal(rc, want);
    if (msg)
        assert_string_equal(out, msg);
}

static void
test_arn_validate(void **state)
{
    (void)state;
    check_validate("arn:aws:kafka:us-east-1:111122223333:cluster/c/*", 0, NULL);
    check_validate("arn:aws:s3:::bucket/key", 0, NULL);
    check_validate("invalid", -1, "Resource invalid must be in ARN format or \"*\".");
    check_validate("", -1, "Resource  must be in ARN format or \"*\".");
    check_validate("arn:aws", -1,
                   "Resource vendor must be fully qualified and cannot contain regexes.");
    check_validate("arn:aws:kafka*:us-east-1:1:x", -1,
                   "Resource vendor must be fully qualified and cannot contain regexes.");
    check_validate("arn:bad:kafka:us-east-1:1:x", -1,
                   "Partition \"bad\" is not valid for resource \"arn:bad:kafka:us-east-1:1:x\".");
    check_validate("arn:b:c", -1, "Partition \"b\" is not valid for resource \"arn:b:c:*:*:*\".");
    /* Format is fine; IAM's legacy parsing rejects these (st_arn_legacy_check). */
    check_validate("arn:aws:s3::bucket", 0, NULL);
    assert_int_equal(st_arn_legacy_check("arn:aws:s3::bucket", 18), -1);
    assert_int_equal(st_arn_legacy_check("arn:aws::kafka", 14), -1);
    assert_int_equal(st_arn_legacy_check("arn:aws::::x", 12), -1);
    assert_int_equal(st_arn_legacy_check("arn:aws:kafka", 13), 0);
    assert_int_equal(st_arn_legacy_check("arn:aws:s3:::b", 14), 0);
    assert_int_equal(st_arn_legacy_check("arn:aws:kafka:us-east-1:*", 25), 0);
    /* The first segment is not checked; the partition is, with IAM's padded message. */
    check_validate("x:kfk", -1, "Partition \"kfk\" is not valid for resource \"arn:kfk:*:*:*:*\".");
    check_validate("aws:kafka:::c", -1,
                   "Partition \"kafka\" is not valid for resource \"arn:kafka:::c:*\".");
    check_validate("a:b:c:d:e:f:g:h", -1,
                   "Partition \"b\" is not valid for resource \"arn:b:c:d:e:f:g:h\".");
    check_validate("arn:aws:iam:::example", -1,
                   "IAM resource path must either be \"*\" or start with user/, federated-user/, "
                   "role/, group/, instance-profile/, mfa/, server-certificate/, policy/, "
                   "sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.");
    check_validate("arn:aws:iam:::user/x", 0, NULL);
    check_validate("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/*", 0, NULL);
    check_validate("arn:aws:ec2:region:account-id:instance/*", 0, NULL);
    check_validate("arn:aws:iam:us-east-1:1:user/x", -1,
                   "IAM resource arn:aws:iam:us-east-1:1:user/x cannot contain region "
                   "information.");
    check_validate("arn:aws:s3:us-east-1::bucket", -1,
                   "Resource arn:aws:s3:us-east-1::bucket can not contain region information.");
    check_validate("arn:aws:iam::1:u*", -1, NULL);
    check_validate("arn:aws:iam::1:*", 0, NULL);
    check_validate("arn:aws:kafka:${aws:x}:1:topic/a", -1, NULL);
    check_validate("arn:aws:kafka:us-east-1:1:topic/${aws:username}", 0, NULL);
    check_validate("arn:aws:kafka:us-east-1:*", 0, NULL);
    check_validate("arn:*:kafka:us-east-1:1:topic/a", 0, NULL);
}

static void
test_msk_child_arn(void **state)
{
    (void)state;
    char buf[256];
    const char *c = "arn:aws:kafka:us-east-1:111122223333:cluster/testing/de89-2";
    assert_int_equal(
        st_arn_msk_child(buf, sizeof(buf), c, "topic", "orders", 6),
        (long)strlen("arn:aws:kafka:us-east-1:111122223333:topic/testing/de89-2/orders"));
    assert_string_equal(buf, "arn:aws:kafka:us-east-1:111122223333:topic/testing/de89-2/orders");
    assert_true(st_arn_msk_child(buf, sizeof(buf), c, "group", "app:v1/*", 8) > 0);
    assert_string_equal(buf, "arn:aws:kafka:us-east-1:111122223333:group/testing/de89-2/app:v1/*");
    assert_true(st_arn_msk_child(buf, sizeof(buf), c, "transactional-id", "tx", 2) > 0);
    assert_string_equal(buf,
                        "arn:aws:kafka:us-east-1:111122223333:transactional-id/testing/de89-2/tx");
    /* The produced ARN matches the MSK example patterns. */
    assert_true(rm("arn:aws:kafka:us-east-1:111122223333:transactional-id/testing/*/tx", buf));
    /* Rejections. */
    assert_int_equal(st_arn_msk_child(buf, sizeof(buf), c, "cluster", "x", 1), -1);
    assert_int_equal(
        st_arn_msk_child(buf, sizeof(buf), "arn:aws:kafka:r:1:topic/a/b/c", "topic", "x", 1), -1);
    assert_int_equal(st_arn_msk_child(buf, sizeof(buf), "arn:aws:s3:::cluster/x", "topic", "x", 1),
                     -1);
    assert_int_equal(st_arn_msk_child(buf, 20, c, "topic", "orders", 6), -1);
    assert_int_equal(st_arn_msk_child(buf, sizeof(buf), "not an arn", "topic", "x", 1), -1);
}

static void
test_catalog(void **state)
{
    (void)state;
    size_t n;
    assert_non_null(st_policy_catalog("kafka-cluster", 13, &n));
    assert_int_equal(n, 19);
    assert_non_null(st_policy_catalog("KAFKA", 5, &n));
    assert_null(st_policy_catalog("s3", 2, &n));
    assert_int_equal(st_policy_catalog_count_matches("kafka-cluster", 13, "*", 1), 19);
    assert_int_equal(st_policy_catalog_count_matches("kafka-cluster", 13, "*Topic", 6), 4);
    assert_int_equal(st_policy_catalog_count_matches("kafka-cluster", 13, "*Topic*", 7), 6);
    assert_int_equal(st_policy_catalog_count_matches("kafka-cluster", 13, "conect", 6), 0);
    assert_int_equal(st_policy_catalog_count_matches("ec2", 3, "*", 1), -1);
    const struct st_policy_action_info *a = st_policy_catalog_find("kafka-cluster:readdata");
    assert_non_null(a);
    assert_string_equal(a->name, "ReadData");
    assert_string_equal(a->resource, "topic");
    a = st_policy_catalog_find("kafka:CreateVpcConnection");
    assert_non_null(a);
    assert_string_equal(a->resource, "cluster");
    assert_null(st_policy_catalog_find("kafka:Nope"));
    assert_null(st_policy_catalog_find("nocolon"));
    assert_true(st_policy_kafka_resource_type("transactional-id", 16));
    assert_false(st_policy_kafka_resource_type("topics", 6));
}

static void
test_principal_entries(void **state)
{
    (void)state;
    assert_int_equal(st_principal_match_entry("*", false, "arn:aws:iam::1:user/x"), ST_PM_MATCH);
    assert_int_equal(
        st_principal_match_entry("111122223333", false, "arn:aws:iam::111122223333:user/alice"),
        ST_PM_ACCOUNT);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:root", false,
                                              "arn:aws:sts::111122223333:assumed-role/r/s"),
                     ST_PM_ACCOUNT);
    assert_int_equal(st_principal_match_entry("111122223333", false, "111122223333"),
                     ST_PM_ACCOUNT);
    assert_int_equal(
        st_principal_match_entry("111122223333", false, "arn:aws:iam::999999999999:user/alice"),
        ST_PM_NO);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:user/alice", false,
                                              "arn:aws:iam::111122223333:user/alice"),
                     ST_PM_MATCH);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:user/alice", false,
                                              "arn:aws:iam::111122223333:user/Alice"),
                     ST_PM_NO);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:role/p/reader", false,
                                              "arn:aws:sts::111122223333:assumed-role/reader/s1"),
                     ST_PM_SESSION_ROLE);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:role/reader", false,
                                              "arn:aws:sts::222233334444:assumed-role/reader/s1"),
                     ST_PM_NO);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:role/reader", false,
                                              "arn:aws-cn:sts::111122223333:assumed-role/reader/s"),
                     ST_PM_NO);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:role/reader", false,
                                              "arn:aws:sts::111122223333:assumed-role/reader2/s"),
                     ST_PM_NO);
    assert_int_equal(st_principal_match_entry("arn:aws:iam::111122223333:user/alice", false,
                                              "arn:aws:sts::111122223333:federated-user/alice"),
                     ST_PM_SESSION_USER);
    assert_int_equal(st_principal_match_entry("kafka.amazonaws.com", true, "kafka.amazonaws.com"),
                     ST_PM_MATCH);
    assert_int_equal(st_principal_match_entry("kafka.amazonaws.com", true, "ec2.amazonaws.com"),
                     ST_PM_NO);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_basics),        cmocka_unit_test(test_glob_escaped),
        cmocka_unit_test(test_glob_hostile),       cmocka_unit_test(test_arn_split),
        cmocka_unit_test(test_arn_resource_match), cmocka_unit_test(test_arn_like),
        cmocka_unit_test(test_arn_validate),       cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_principal_entries),  cmocka_unit_test(test_msk_child_arn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
