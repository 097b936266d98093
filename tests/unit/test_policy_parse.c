/*
 * Unit tests of policy parsing and validation (spec §1-§2): IAM's error messages for rejected
 * documents (the getmoto/moto cases), the JSON-pointer location of each finding, warnings, the
 * accepted edge cases, per-kind rules (identity, resource, cluster, trust), size and depth limits,
 * and reference counting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

struct bad_case {
    enum st_policy_kind kind; /* parsed as */
    const char *doc;          /* the document */
    const char *aws;          /* expected AWS message of the first error */
    const char *path;         /* expected JSON pointer of the first error */
};

#define S "\"Version\":\"2012-10-17\","
#define ALLOW "\"Effect\":\"Allow\","
#define RES "\"Resource\":\"*\""

static const struct bad_case bad[] = {
    {ST_POLICY_IDENTITY, "not json", "Syntax errors in policy.", ""},
    {ST_POLICY_IDENTITY, "[]", "Syntax errors in policy.", ""},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":[]}", "Syntax errors in policy.", "/Statement"},
    {ST_POLICY_IDENTITY, "{" S "}", "Syntax errors in policy.", ""},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES "},\"Extra\":1}",
     "Syntax errors in policy.", "/Extra"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES ",\"Foo\":1}}",
     "Syntax errors in policy.", "/Statement/Foo"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{\"Effect\":\"allow\",\"Action\":\"s3:x\"," RES "}}",
     "The policy failed legacy parsing", "/Statement/Effect"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{\"Effect\":\"Permit\",\"Action\":\"s3:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/Effect"},
    /* IAM's reporting order: a missing Version beats a legacy error, legacy beats Sids and a
     * bad partition, missing actions beat resource format, resource format beats action format,
     * action format beats missing resources. */
    {ST_POLICY_IDENTITY, "{\"Statement\":{\"Effect\":\"denY\",\"Action\":\"s3:x\"," RES "}}",
     "Policy document must be version 2012-10-17 or greater.", ""},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":[{\"Sid\":\"A\",\"Effect\":\"aLLow\",\"Action\":\"s3:x\"," RES
     "},{\"Sid\":\"A\",\"Effect\":\"Allow\"}]}",
     "The policy failed legacy parsing", "/Statement/0/Effect"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:err:s3:::b\","
     "\"Condition\":{\"DateGreaterThan\":{\"a\":\"xx\"}}}}",
     "The policy failed legacy parsing", "/Statement/Condition/DateGreaterThan/a"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":[{\"Effect\":\"Deny\"},{" ALLOW "\"Action\":\"s3:x\"," RES "}]}",
     "Policy statement must contain actions.", "/Statement/0"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s:3:x\",\"Resource\":\"bad\"}}",
     "Resource bad must be in ARN format or \"*\".", "/Statement/Resource"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"invalid\"}}",
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
     "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Resource\":\"arn:aws:s3::b\"}}",
     "The policy failed legacy parsing", "/Statement/Resource"},
    /* A format error suppresses legacy parsing of the resources. */
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":[\"arn:err:s3:::b\","
     "\"arn:err:s3::b\"]}}",
     "Partition \"err\" is not valid for resource \"arn:err:s3:::b\".", "/Statement/Resource/0"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"x:kfk\"}}",
     "Partition \"kfk\" is not valid for resource \"arn:kfk:*:*:*:*\".", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:aws::kafka\"}}",
     "The policy failed legacy parsing", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:aws:iam:::example\"}}",
     "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, "
     "instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, "
     "oidc-provider/, report/, access-report/.",
     "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"DateLessThanEquals\":{\"a\":\"2016-12-13t2:00:00.593194+1\"}}}}",
     "The policy failed legacy parsing", "/Statement/Condition/DateLessThanEquals/a"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"DateLessThan\":{\"a\":\"9223372036854775808\"}}}}",
     "The policy failed legacy parsing", "/Statement/Condition/DateLessThan/a"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"ForAnyValue::StringEqualsIfExists\":{\"a\":\"x\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/ForAnyValue::StringEqualsIfExists"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"x\":{\"a\":\"1\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/x"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"DateGreaterThan\":[]}}}",
     "Syntax errors in policy.", "/Statement/Condition/DateGreaterThan"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{\"Sid\":{}," ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/Sid"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":[\"afd\"]}", "Syntax errors in policy.",
     "/Statement/0"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Id\":[\"x\"],\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Syntax errors in policy.", "/Id"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"kafka_x:Connect\"," RES "}}",
     "Vendor kafka_x is not valid", "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{\"Action\":\"s3:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement"},
    {ST_POLICY_IDENTITY,
     "{\"Version\":\"2012-10-18\",\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Syntax errors in policy.", "/Version"},
    {ST_POLICY_IDENTITY, "{\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Policy document must be version 2012-10-17 or greater.", ""},
    {ST_POLICY_IDENTITY,
     "{\"Version\":\"2008-10-17\",\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Policy document must be version 2012-10-17 or greater.", "/Version"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW RES "}}",
     "Policy statement must contain actions.", "/Statement"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":[]," RES "}}",
     "Policy statement must contain actions.", "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"}}",
     "Policy statement must contain resources.", "/Statement"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":[]}}",
     "Policy statement must contain resources.", "/Statement/Resource"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"invalid\"," RES "}}",
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
     "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"\"," RES "}}",
     "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
     "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":[\"s3:a\",\"s3:a:b\"]," RES "}}",
     "Actions/Condition can contain only one colon.", "/Statement/Action/1"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"a a:ListBucket\"," RES "}}",
     "Vendor a a is not valid", "/Statement/Action"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":\"kafka-*:Connect\"," RES "}}",
     "Vendor kafka-* is not valid", "/Statement/Action"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"bucket\"}}",
     "Resource bucket must be in ARN format or \"*\".", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:b:c:d:e:f:g:h\"}}",
     "Partition \"b\" is not valid for resource \"arn:b:c:d:e:f:g:h\".", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:aws:s3::bucket\"}}",
     "The policy failed legacy parsing", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:aws\"}}",
     "Resource vendor must be fully qualified and cannot contain regexes.", "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW
     "\"Action\":\"s3:x\",\"Resource\":\"arn:aws:iam:us-east-1::user/x\"}}",
     "IAM resource arn:aws:iam:us-east-1::user/x cannot contain region information.",
     "/Statement/Resource"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":[{\"Sid\":\"A\"," ALLOW "\"Action\":\"s3:x\"," RES
     "},{\"Sid\":\"A\"," ALLOW "\"Action\":\"s3:y\"," RES "}]}",
     "Statement IDs (SID) in a single policy must be unique.", "/Statement/1/Sid"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{\"Sid\":\"a b\"," ALLOW "\"Action\":\"s3:x\"," RES "}}",
     "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
     "expression [0-9A-Za-z]*",
     "/Statement/Sid"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"NotAction\":\"s3:y\"," RES "}}",
     "Syntax errors in policy.", "/Statement"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES ",\"NotResource\":\"*\"}}",
     "Syntax errors in policy.", "/Statement"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":[[\"s3:x\"]]," RES "}}",
     "Syntax errors in policy.", "/Statement/Action/0"},
    {ST_POLICY_IDENTITY, "{" S "\"Statement\":{" ALLOW "\"Action\":{\"a\":\"s3:x\"}," RES "}}",
     "Syntax errors in policy.", "/Statement/Action"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES ",\"Condition\":[]}}",
     "Syntax errors in policy.", "/Statement/Condition"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"StringEqualz\":{\"a:b\":\"c\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/StringEqualz"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"stringequals\":{\"a:b\":\"c\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/stringequals"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"NullIfExists\":{\"a:b\":\"true\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/NullIfExists"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"StringEquals\":\"x\"}}}",
     "Syntax errors in policy.", "/Statement/Condition/StringEquals"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"DateGreaterThan\":{\"aws:CurrentTime\":\"not-a-date\"}}}}",
     "The policy failed legacy parsing", "/Statement/Condition/DateGreaterThan/aws:CurrentTime"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"DateGreaterThan\":{\"aws:EpochTime\":\"99999999999999999999\"}}}}",
     "The policy failed legacy parsing", "/Statement/Condition/DateGreaterThan/aws:EpochTime"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"StringEquals\":{\"aws:PrincipalTag/a~b\":{\"x\":1}}}}}",
     "Syntax errors in policy.", "/Statement/Condition/StringEquals/aws:PrincipalTag~1a~0b"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"300.1.1.1/8\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/IpAddress/aws:SourceIp"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"BinaryEquals\":{\"k:b\":\"a*==\"}}}}",
     "Syntax errors in policy.", "/Statement/Condition/BinaryEquals/k:b"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
     ",\"Condition\":{\"StringEquals\":{\"a:b:c\":\"x\"}}}}",
     "Actions/Condition can contain only one colon.", "/Statement/Condition/StringEquals/a:b:c"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW "\"Principal\":\"*\",\"Action\":\"s3:x\"," RES "}}",
     "Policy document should not specify a principal.", "/Statement/Principal"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:x\",\"Resource\":\"*\"}"
     ",\"Statement\":[]}",
     "Syntax errors in policy.", ""}, /* duplicate key */
    {ST_POLICY_CLUSTER, "{" S "\"Statement\":{" ALLOW "\"Action\":\"kafka:x\"," RES "}}",
     "Missing required field Principal", "/Statement"},
    {ST_POLICY_CLUSTER,
     "{" S "\"Statement\":{" ALLOW "\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:user/*\"},"
     "\"Action\":\"kafka:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/Principal/AWS"},
    {ST_POLICY_CLUSTER,
     "{" S "\"Statement\":{" ALLOW "\"Principal\":{\"AWS\":\"bob\"},\"Action\":\"kafka:x\"," RES
     "}}",
     "Invalid principal in policy: \"AWS\":\"bob\"", "/Statement/Principal/AWS"},
    {ST_POLICY_CLUSTER,
     "{" S "\"Statement\":{" ALLOW
     "\"Principal\":{\"Federated\":\"cognito-identity.amazonaws.com\"},"
     "\"Action\":\"kafka:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/Principal/Federated"},
    {ST_POLICY_CLUSTER,
     "{" S "\"Statement\":{" ALLOW
     "\"Principal\":{\"aws\":\"123456789012\"},\"Action\":\"kafka:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/Principal/aws"},
    {ST_POLICY_CLUSTER,
     "{" S "\"Statement\":{" ALLOW
     "\"NotPrincipal\":{\"AWS\":\"123456789012\"},\"Action\":\"kafka:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement/NotPrincipal"},
    {ST_POLICY_TRUST,
     "{" S "\"Statement\":{\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":\"123456789012\"},"
     "\"Action\":\"sts:AssumeRole\"}}",
     "Syntax errors in policy.", "/Statement/NotPrincipal"},
    {ST_POLICY_RESOURCE,
     "{" S "\"Statement\":{" ALLOW
     "\"Principal\":\"*\",\"NotPrincipal\":\"*\",\"Action\":\"kafka:x\"," RES "}}",
     "Syntax errors in policy.", "/Statement"},
    {ST_POLICY_IDENTITY,
     "{" S "\"Statement\":{" ALLOW
     "\"Action\":\"s3:x\",\"Resource\":\"arn:aws:s3:::${x, nodefault}\"}}",
     "Syntax errors in policy.", "/Statement/Resource"},
};

static void
test_rejected_documents(void **state)
{
    (void)state;
    struct st_policy_parse_opts opts = {ST_POLICY_IDENTITY, 0, true};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
        const char *err = NULL;
        opts.kind = bad[i].kind;
        struct st_policy *p = st_policy_parse(bad[i].doc, strlen(bad[i].doc), &opts, &f, &err);
        const struct st_policy_finding *e = st_policy_findings_first_error(&f);
        if (p || !e || strcmp(e->aws_message, bad[i].aws) != 0 ||
            strcmp(e->path, bad[i].path) != 0 || !err || strcmp(err, bad[i].aws) != 0) {
            fprintf(stderr, "case %zu: %s\n  want [%s] at [%s]\n  got  [%s] at [%s] (%s)\n", i,
                    bad[i].doc, bad[i].aws, bad[i].path, e ? e->aws_message : "(none)",
                    e ? e->path : "", e ? e->message : "");
            fail();
        }
        assert_true(e->message[0] != '\0');
        st_policy_unref(p);
        st_policy_findings_free(&f);
    }
}

static const char *const good[] = {
    /* AWS accepts the vendor "s3.s" and null inside a Resource array. */
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3.s:ListBucket\"," RES "}}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":[null,\"arn:aws:s3:::b\"]}}",
    /* Statement as an object or an array; members in any order; Id. */
    "{\"Statement\":[{\"Resource\":\"*\",\"Action\":[\"kafka-cluster:Connect\"],\"Effect\":"
    "\"Deny\"}],"
    "\"Version\":\"2012-10-17\"}",
    /* Every operator family, with IfExists and set prefixes. */
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"kafka:*\"," RES ",\"Condition\":{"
    "\"StringEqualsIgnoreCaseIfExists\":{\"a:b\":\"x\"},\"ForAnyValue:StringLike\":{\"aws:"
    "TagKeys\":[\"a*\",\"b\"]},"
    "\"NumericLessThanEquals\":{\"a:n\":[1,2.5,\"3\"]},\"DateGreaterThanEquals\":{\"aws:"
    "CurrentTime\":\"2020-01-01T00:00:00.123+02:00\"},"
    "\"DateLessThan\":{\"aws:EpochTime\":1700000000},\"Bool\":{\"aws:SecureTransport\":true},"
    "\"BinaryEquals\":{\"k:b\":\"QmluYXJ5\"},\"NotIpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/"
    "8\",\"2001:db8::/32\"]},"
    "\"ArnNotLikeIfExists\":{\"aws:SourceArn\":\"arn:aws:kafka:*:*:cluster/"
    "*\"},\"Null\":{\"aws:TokenIssueTime\":\"false\"},"
    "\"ForAllValues:ArnLike\":{\"k:arns\":\"arn:aws:iam::*:role/*\"}}}}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\",\"Resource\":\"arn:aws:s3:::b/"
    "${aws:username}/${*}${?}${$}/${aws:PrincipalTag/t, 'd'}\"}}",
    /* Accepted by IAM: spaces in action names, short ARNs without "::", unvalidated region and
     * account, empty and unknown-but-empty operator blocks, empty value lists, keys without a
     * prefix, the dates of its legacy parser, empty Sids, variables whose key contains ':'. */
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"iam: a b c \",\"Resource\":\"arn:aws:kafka\"}}",
    "{" S "\"Statement\":{" ALLOW
    "\"Action\":\"s3-s:x\",\"Resource\":\"arn:aws:ec2:region:acct:instance/*\"}}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES ",\"Condition\":{\"x\":{},\"y\":{},"
    "\"DateGreaterThan\":{}}}}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
    ",\"Condition\":{\"DateGreaterThan\":{\"a\":[]}}}}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:x\"," RES
    ",\"Condition\":{\"DateGreaterThan\":{\"a\":\"01T\"},"
    "\"DateLessThan\":{\"a\":[\"2016-12-13t2:00:00.593194+23\",\"-292275054\",\"2016-12-13T21:20:"
    "37.593194+00:00\"]}}}}",
    "{" S "\"Statement\":[{\"Sid\":\"\"," ALLOW "\"Action\":\"s3:x\"," RES "},{\"Sid\":\"\"," ALLOW
    "\"Action\":\"s3:y\"," RES "}]}",
    "{" S "\"Statement\":{" ALLOW "\"Action\":\"s3:GetObject\",\"Resource\":"
    "\"arn:aws:s3:::b/app/${cognito-identity.amazonaws.com:sub}/*\"}}",
};

static void
test_accepted_documents(void **state)
{
    (void)state;
    struct st_policy_parse_opts opts = {ST_POLICY_IDENTITY, 0, true};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
        struct st_policy *p = st_policy_parse(good[i], strlen(good[i]), &opts, &f, NULL);
        if (!p)
            fprintf(stderr, "case %zu: %s\n  %s at %s\n", i, good[i], f.items[0].message,
                    f.items[0].path);
        assert_non_null(p);
        assert_int_equal(f.n_errors, 0);
        st_policy_unref(p);
        st_policy_findings_free(&f);
    }
}

static void
test_resource_and_cluster_policies(void **state)
{
    (void)state;
    const char *doc =
        "{\"Version\":\"2012-10-17\",\"Id\":\"p1\",\"Statement\":[{\"Sid\":\"Client\",\"Effect\":"
        "\"Allow\",\"Principal\":{\"AWS\":[\"123456789012\",\"arn:aws:iam::123456789012:root\","
        "\"arn:aws:iam::123456789012:role/r\",\"arn:aws:sts::123456789012:assumed-role/r/s\"],"
        "\"Service\":\"firehose.amazonaws.com\"},\"Action\":\"kafka-cluster:*\",\"Resource\":"
        "\"arn:aws:kafka:us-east-1:111122223333:topic/testing/*\"},{\"Effect\":\"Deny\","
        "\"NotPrincipal\":{\"AWS\":\"123456789012\"},\"Action\":\"kafka:*\",\"Resource\":\"*\"}]}";
    struct st_policy_parse_opts opts = {ST_POLICY_CLUSTER, 0, true};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    struct st_policy *p = st_policy_parse(doc, strlen(doc), &opts, &f, NULL);
    assert_non_null(p);
    assert_int_equal(f.n, 0);
    assert_int_equal(st_policy_statement_count(p), 2);
    assert_string_equal(st_policy_statement_sid(p, 0), "Client");
    assert_null(st_policy_statement_sid(p, 1));
    assert_null(st_policy_statement_sid(p, 2));
    assert_int_equal(st_policy_version(p), 20121017);
    /* Principal coverage for the control plane. */
    assert_int_equal(st_policy_principal_covers(p, "123456789012", "kafka-cluster:Connect"),
                     ST_PM_ACCOUNT);
    assert_int_equal(
        st_policy_principal_covers(p, "arn:aws:sts::123456789012:assumed-role/r/x", NULL),
        ST_PM_SESSION_ROLE);
    assert_int_equal(
        st_policy_principal_covers(p, "arn:aws:sts::123456789012:assumed-role/r/s", NULL),
        ST_PM_MATCH);
    assert_int_equal(st_policy_principal_covers(p, "firehose.amazonaws.com", NULL), ST_PM_MATCH);
    assert_int_equal(st_policy_principal_covers(p, "999999999999", NULL), ST_PM_NO);
    /* Deny statements and other actions do not count. */
    assert_int_equal(st_policy_principal_covers(p, "123456789012", "kafka:CreateVpcConnection"),
                     ST_PM_NO);
    /* Thread-safe refcounting: ref/unref pairs keep it alive. */
    assert_ptr_equal(st_policy_ref(p), p);
    st_policy_unref(p);
    st_policy_unref(p);
    st_policy_unref(NULL);
    st_policy_findings_free(&f);

    /* Trust policies may omit Resource; others may not. */
    const char *trust = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                        "\"Principal\":{\"AWS\":\"123456789012\"},\"Action\":\"sts:AssumeRole\"}}";
    opts.kind = ST_POLICY_TRUST;
    p = st_policy_parse(trust, strlen(trust), &opts, NULL, NULL);
    assert_non_null(p);
    st_policy_unref(p);
    opts.kind = ST_POLICY_RESOURCE;
    const char *err = NULL;
    p = st_policy_parse(trust, strlen(trust), &opts, NULL, &err);
    assert_null(p);
    assert_string_equal(err, "Syntax errors in policy."); /* static text without findings */
}

static bool
has_warning(const struct st_policy_findings *f, const char *code, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i].severity == ST_POLICY_SEV_WARNING && !strcmp(f->items[i].code, code) &&
            !strcmp(f->items[i].path, path))
            return true;
    return false;
}

static void
test_warnings(void **state)
{
    (void)state;
    const char *doc =
        "{\"Version\":\"2012-10-17\",\"Id\":\"x\",\"Statement\":["
        "{\"Effect\":\"Allow\",\"Action\":[\"kafka-cluster:Conect\",\"kafka:*Vpc*\"],\"Resource\":"
        "\"arn:aws:kafka:us-east-1:111122223333:topics/c/*\"},"
        "{\"Effect\":\"Allow\",\"NotAction\":\"*\",\"Resource\":\"*\"},"
        "{\"Effect\":\"Deny\",\"Action\":\"kafka:*\",\"NotResource\":\"*\"},"
        "{\"Effect\":\"Allow\",\"Action\":\"kafka:*\",\"Resource\":\"*\",\"Condition\":{"
        "\"ForAllValues:StringEquals\":{\"aws:TagKeys\":\"a\"},\"NumericEquals\":{\"k:n\":\"ten\"},"
        "\"Bool\":{\"k:b\":\"yes\"},\"ArnLike\":{\"k:a\":\"arn:aws:iam\"}}}]}";
    struct st_policy_parse_opts opts = {ST_POLICY_IDENTITY, 0, true};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    struct st_policy *p = st_policy_parse(doc, strlen(doc), &opts, &f, NULL);
    assert_non_null(p); /* warnings only */
    assert_int_equal(f.n_errors, 0);
    assert_true(has_warning(&f, "ID_IN_IDENTITY_POLICY", "/Id"));
    assert_true(has_warning(&f, "UNKNOWN_ACTION", "/Statement/0/Action/0"));
    assert_false(has_warning(&f, "UNKNOWN_ACTION", "/Statement/0/Action/1"));
    assert_true(has_warning(&f, "UNKNOWN_RESOURCE_TYPE", "/Statement/0/Resource"));
    assert_true(has_warning(&f, "STATEMENT_NEVER_MATCHES", "/Statement/1/NotAction"));
    assert_true(has_warning(&f, "STATEMENT_NEVER_MATCHES", "/Statement/2/NotResource"));
    assert_true(has_warning(&f, "FORALLVALUES_WITH_ALLOW",
                            "/Statement/3/Condition/ForAllValues:StringEquals/aws:TagKeys"));
    assert_true(
        has_warning(&f, "CONDITION_NEVER_MATCHES", "/Statement/3/Condition/NumericEquals/k:n"));
    assert_true(has_warning(&f, "CONDITION_NEVER_MATCHES", "/Statement/3/Condition/Bool/k:b"));
    assert_true(has_warning(&f, "CONDITION_NEVER_MATCHES", "/Statement/3/Condition/ArnLike/k:a"));
    st_policy_unref(p);
    st_policy_findings_free(&f);

    /* Exactly named MSK actions on resources of the wrong type. */
    const char *mis =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
        "[\"kafka-cluster:Connect\",\"kafka-cluster:WriteData\"],\"Resource\":"
        "\"arn:aws:kafka:us-east-1:111122223333:cluster/c/*\"},{\"Effect\":\"Allow\",\"Action\":"
        "[\"kafka-cluster:*\",\"kafka:CreateVpcConnection\"],\"Resource\":"
        "\"arn:aws:kafka:us-east-1:111122223333:cluster/c/*\"},{\"Effect\":\"Allow\",\"Action\":"
        "\"kafka-cluster:ReadData\",\"Resource\":[\"arn:aws:kafka:*:*:cluster/c/*\","
        "\"arn:aws:kafka:*:*:topic/c/*\"]},{\"Effect\":\"Allow\",\"Action\":"
        "\"kafka-cluster:ReadData\",\"Resource\":[\"arn:aws:kafka:*:*:cluster/c/*\",\"*\"]}]}";
    p = st_policy_parse(mis, strlen(mis), &opts, &f, NULL);
    assert_non_null(p);
    assert_true(has_warning(&f, "ACTION_RESOURCE_MISMATCH", "/Statement/0/Action/1"));
    size_t mismatches = 0;
    for (size_t i = 0; i < f.n; i++)
        mismatches += strcmp(f.items[i].code, "ACTION_RESOURCE_MISMATCH") == 0;
    assert_int_equal(mismatches, 1); /* WriteData only, not Connect */
    st_policy_unref(p);
    st_policy_findings_free(&f);

    /* NotPrincipal naming a role without its account. */
    const char *np = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                     "\"NotPrincipal\":{\"AWS\":[\"arn:aws:iam::111122223333:role/a\"]},"
                     "\"Action\":\"kafka:*\",\"Resource\":\"*\"},{\"Effect\":\"Deny\","
                     "\"NotPrincipal\":{\"AWS\":[\"arn:aws:iam::111122223333:role/a\","
                     "\"111122223333\"]},\"Action\":\"kafka:*\",\"Resource\":\"*\"}]}";
    opts.kind = ST_POLICY_CLUSTER;
    p = st_policy_parse(np, strlen(np), &opts, &f, NULL);
    assert_non_null(p);
    assert_true(has_warning(&f, "NOTPRINCIPAL_WITHOUT_ACCOUNT", "/Statement/0/NotPrincipal"));
    assert_false(has_warning(&f, "NOTPRINCIPAL_WITHOUT_ACCOUNT", "/Statement/1/NotPrincipal"));
    st_policy_unref(p);
    st_policy_findings_free(&f);
    opts.kind = ST_POLICY_IDENTITY;

    /* A 2008-10-17 document is accepted with a warning when not required to be 2012. */
    const char *old = "{\"Version\":\"2008-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"s3:x\",\"Resource\":\"*\"}}";
    opts.require_2012 = false;
    p = st_policy_parse(old, strlen(old), &opts, &f, NULL);
    assert_non_null(p);
    assert_int_equal(st_policy_version(p), 20081017);
    assert_true(has_warning(&f, "OLD_VERSION", "/Version"));
    st_policy_unref(p);
    st_policy_findings_free(&f);
}

/* Builds a cluster policy of about `size` bytes by repeating a statement. */
static char *
big_policy(size_t size)
{
    char *buf = malloc(size + 512);
    size_t o = (size_t)snprintf(buf, size + 512, "{\"Version\":\"2012-10-17\",\"Statement\":[");
    int i = 0;
    while (o < size) {
        o += (size_t)snprintf(buf + o, size + 512 - o,
                              "%s{\"Sid\":\"S%d\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                              "\"123456789012\"},\"Action\":\"kafka-cluster:Connect\",\"Resource\":"
                              "\"*\"}",
                              i ? "," : "", i);
        i++;
    }
    snprintf(buf + o, size + 512 - o, "]}");
    return buf;
}

static void
test_limits(void **state)
{
    (void)state;
    struct st_policy_parse_opts opts = {ST_POLICY_CLUSTER, 0, true};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    char *small = big_policy(19000);
    struct st_policy *p = st_policy_parse(small, strlen(small), &opts, &f, NULL);
    assert_non_null(p);
    st_policy_unref(p);
    char *large = big_policy(20600);
    const char *err = NULL;
    p = st_policy_parse(large, strlen(large), &opts, &f, &err);
    assert_null(p);
    assert_string_equal(err, "Cannot exceed quota for PolicySize: 20480");
    /* A configured limit applies instead. */
    opts.max_size = 1000;
    p = st_policy_parse(small, strlen(small), &opts, NULL, NULL);
    assert_null(p);
    opts.max_size = 65536;
    p = st_policy_parse(large, strlen(large), &opts, NULL, NULL);
    assert_non_null(p);
    st_policy_unref(p);
    free(small);
    free(large);
    st_policy_findings_free(&f);

    /* Nesting depth is capped before jansson sees the document. */
    char deep[4096];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"Version\":\"2012-10-17\",\"Statement\":");
    for (int i = 0; i < 1000; i++)
        deep[o++] = '[';
    deep[o] = '\0';
    opts.kind = ST_POLICY_IDENTITY;
    opts.max_size = 0;
    p = st_policy_parse(deep, strlen(deep), &opts, &f, NULL);
    assert_null(p);
    assert_string_equal(st_policy_findings_first_error(&f)->code, "TOO_DEEP");
    st_policy_findings_free(&f);

    /* Identity policies do not count whitespace. */
    char *spaced = malloc(30000);
    o = (size_t)snprintf(spaced, 30000,
                         "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":"
                         "\"Allow\",\"Action\":\"s3:x\",\"Resource\":\"*\"");
    memset(spaced + o, ' ', 20000);
    o += 20000;
    snprintf(spaced + o, 30000 - o, "}}");
    p = st_policy_parse(spaced, strlen(spaced), &opts, NULL, NULL);
    assert_non_null(p);
    st_policy_unref(p);
    free(spaced);

    /* Not NUL-terminated input: only len bytes are read. */
    const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                      "\"Action\":\"s3:x\",\"Resource\":\"*\"}}GARBAGE";
    p = st_policy_parse(doc, strlen(doc) - 7, &opts, NULL, NULL);
    assert_non_null(p);
    st_policy_unref(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_documents),
        cmocka_unit_test(test_accepted_documents),
        cmocka_unit_test(test_resource_and_cluster_policies),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
