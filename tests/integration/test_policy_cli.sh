#!/usr/bin/env bash
# Integration test of `strait policy`: replays every decision fixture in tests/data/policy through
# `strait policy simulate --output json` (array and single-object input), and checks
# `strait policy validate` exit codes and JSON findings on valid and invalid documents.
set -euo pipefail

BUILD=${ST_BUILD_DIR:?ST_BUILD_DIR not set}
SRC=${ST_SOURCE_DIR:?ST_SOURCE_DIR not set}
STRAIT="$BUILD/strait"
DATA="$SRC/tests/data/policy"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0

note() { echo "test_policy_cli: $*"; }

# 1. Decision fixtures, one simulate call per file (array input, results in input order).
for f in "$DATA"/*.json; do
    name=$(basename "$f")
    jq '[.defaults as $d | .cases[] | ($d + .) | del(.name, .expect, .expectMatched)]' "$f" >"$TMP/req.json"
    jq '[.cases[].expect]' "$f" >"$TMP/want.json"
    "$STRAIT" policy simulate --input "$TMP/req.json" --output json >"$TMP/out.json"
    jq '[.[].decision]' "$TMP/out.json" >"$TMP/got.json"
    if ! diff -u "$TMP/want.json" "$TMP/got.json" >"$TMP/diff" ; then
        note "FAIL $name: decisions differ"
        jq -r --slurpfile got "$TMP/got.json" \
            '.cases | to_entries[] | select(.value.expect != $got[0][.key]) |
             "  case \(.key) \(.value.name): want \(.value.expect), got \($got[0][.key])"' "$f"
        fail=1
    else
        note "ok   $name ($(jq length "$TMP/want.json") cases)"
    fi
    # Every result has exactly the documented keys.
    if ! jq -e 'all(.[]; (keys == ["decision", "explanation", "matchedStatements"]) and (.explanation | type == "string"))' \
        "$TMP/out.json" >/dev/null; then
        note "FAIL $name: result objects do not have exactly decision/matchedStatements/explanation"
        fail=1
    fi
    # expectMatched, where given.
    jq '[.cases[] | .expectMatched]' "$f" >"$TMP/wantm.json"
    if ! jq -e --slurpfile w "$TMP/wantm.json" \
        '[to_entries[] | select($w[0][.key] != null) |
          ([.value.matchedStatements[] | [.policy, .statementIndex]] == $w[0][.key])] | all' \
        "$TMP/out.json" >/dev/null; then
        note "FAIL $name: matchedStatements differ from expectMatched"
        fail=1
    fi
done

# 2. A single request object gives a single result object.
jq '.defaults + .cases[0] | del(.name, .expect, .expectMatched)' "$DATA/msk_cluster_policy.json" >"$TMP/one.json"
"$STRAIT" policy simulate --input "$TMP/one.json" --output json >"$TMP/one.out"
if ! jq -e 'type == "object" and .decision == "allowed" and
            (.matchedStatements | map(.policy) == ["identityPolicies[0]", "resourcePolicy"])' "$TMP/one.out" >/dev/null; then
    note "FAIL single-object simulate"; cat "$TMP/one.out"; fail=1
else
    note "ok   single-object simulate"
fi
# Stdin input works too.
if [ "$("$STRAIT" policy simulate --input - --output json <"$TMP/one.json" | jq -r .decision)" != allowed ]; then
    note "FAIL simulate from stdin"; fail=1
fi

# Text output names the decision and each statement's outcome.
"$STRAIT" policy simulate --input "$TMP/one.json" --output text >"$TMP/one.txt"
if ! grep -q "^request 0: allowed" "$TMP/one.txt" ||
   ! grep -q "resourcePolicy statement 0 (Allow): applies (principal: account-level match)" "$TMP/one.txt"; then
    note "FAIL simulate text output"; cat "$TMP/one.txt"; fail=1
else
    note "ok   simulate text output"
fi

# 3. An invalid policy inside a request: error object and exit status 1.
cat >"$TMP/badreq.json" <<'JSON'
{"identityPolicies": [{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kafka-cluster:Connect"}}],
 "resourcePolicy": null, "principal": "arn:aws:iam::111122223333:user/u", "action": "kafka-cluster:Connect",
 "resource": "arn:aws:kafka:us-east-1:111122223333:cluster/c/u", "context": {}}
JSON
set +e
"$STRAIT" policy simulate --input "$TMP/badreq.json" --output json >"$TMP/badreq.out"
rc=$?
set -e
if [ $rc -ne 1 ] || ! jq -e '.error == "Policy statement must contain resources." and .policy == "identityPolicies[0]"' "$TMP/badreq.out" >/dev/null; then
    note "FAIL invalid policy in simulate (rc=$rc)"; cat "$TMP/badreq.out"; fail=1
else
    note "ok   invalid policy in simulate"
fi

# 4. validate: the MSK cluster policy is valid (exit 0, no findings) ...
jq '.defaults.resourcePolicy' "$DATA/msk_cluster_policy.json" >"$TMP/cluster.json"
if ! "$STRAIT" policy validate "$TMP/cluster.json" --type cluster --output json >"$TMP/v.out" ||
   ! jq -e '.valid == true and .errors == 0 and .findings == []' "$TMP/v.out" >/dev/null; then
    note "FAIL validate valid cluster policy"; cat "$TMP/v.out"; fail=1
else
    note "ok   validate valid cluster policy"
fi
# ... a broken one exits 1 with located errors and AWS messages ...
cat >"$TMP/bad.json" <<'JSON'
{"Version": "2012-10-17",
 "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/*"},
                "Action": ["kafka-cluster:Connect", "invalid"], "Resource": "arn:aws:kafka:us-east-1:111122223333:cluster/c/*"},
               {"Sid": "A", "Effect": "allow", "Principal": "*", "Action": "kafka-cluster:Conect", "Resource": "*",
                "Condition": {"StringEqualz": {"aws:SourceVpc": "vpc-1"}}}]}
JSON
set +e
"$STRAIT" policy validate "$TMP/bad.json" --type cluster --output json >"$TMP/bad.out"
rc=$?
set -e
want='[["ERROR","PARTIAL_WILDCARD_PRINCIPAL","/Statement/0/Principal/AWS"],
       ["ERROR","INVALID_ACTION","/Statement/0/Action/1"],
       ["ERROR","INVALID_EFFECT","/Statement/1/Effect"],
       ["WARNING","UNKNOWN_ACTION","/Statement/1/Action"],
       ["ERROR","UNKNOWN_OPERATOR","/Statement/1/Condition/StringEqualz"],
       ["ERROR","DUPLICATE_SID","/Statement/1/Sid"]]'
if [ $rc -ne 1 ] || ! jq -e --argjson w "$want" '.valid == false and
        ([.findings[] | [.findingType, .issueCode, .path]] == $w) and
        (.findings[1].awsMessage == "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.") and
        (.findings[5].awsMessage == "Statement IDs (SID) in a single policy must be unique.")' "$TMP/bad.out" >/dev/null; then
    note "FAIL validate invalid policy (rc=$rc)"; cat "$TMP/bad.out"; fail=1
else
    note "ok   validate invalid policy"
fi
# ... warnings alone keep exit 0; text output names the path.
cat >"$TMP/warn.json" <<'JSON'
{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kafka-cluster:ReadDta", "Resource": "*"}}
JSON
if ! "$STRAIT" policy validate "$TMP/warn.json" --output text >"$TMP/warn.out" ||
   ! grep -q "WARNING UNKNOWN_ACTION at /Statement/Action" "$TMP/warn.out"; then
    note "FAIL validate warnings-only"; cat "$TMP/warn.out"; fail=1
else
    note "ok   validate warnings-only"
fi
# ... a missing Version is an error for stored documents, a warning with --allow-2008.
echo '{"Statement": {"Effect": "Allow", "Action": "kafka:*", "Resource": "*"}}' >"$TMP/nov.json"
set +e
"$STRAIT" policy validate "$TMP/nov.json" --output json >"$TMP/nov.out"; rc1=$?
"$STRAIT" policy validate "$TMP/nov.json" --allow-2008 --output json >"$TMP/nov2.out"; rc2=$?
"$STRAIT" policy validate "$TMP/does-not-exist.json" >/dev/null 2>&1; rc3=$?
"$STRAIT" policy frobnicate >/dev/null 2>&1; rc4=$?
set -e
if [ $rc1 -ne 1 ] || [ $rc2 -ne 0 ] || [ $rc3 -ne 2 ] || [ $rc4 -ne 2 ] ||
   ! jq -e '.findings[0].awsMessage == "Policy document must be version 2012-10-17 or greater."' "$TMP/nov.out" >/dev/null; then
    note "FAIL version / usage exit codes ($rc1 $rc2 $rc3 $rc4)"; fail=1
else
    note "ok   version and usage exit codes"
fi

# 5. actions: the catalogue behind the UNKNOWN_ACTION warning (msk-iam-access.md §2-§3).
n_all=$("$STRAIT" policy actions 'kafka-cluster:*' | wc -l)
topics=$("$STRAIT" policy actions 'kafka-cluster:*Topic' | awk '{print $1}' | sort | tr '\n' ' ')
set +e
"$STRAIT" policy actions 'kafka-cluster:Nope' >/dev/null 2>&1; rc=$?
set -e
if [ "$n_all" -ne 19 ] || [ $rc -ne 1 ] ||
   [ "$topics" != "kafka-cluster:AlterTopic kafka-cluster:CreateTopic kafka-cluster:DeleteTopic kafka-cluster:DescribeTopic " ]; then
    note "FAIL actions ($n_all, $rc, $topics)"; fail=1
else
    note "ok   actions"
fi

exit $fail
