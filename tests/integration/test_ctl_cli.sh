#!/usr/bin/env bash
# `strait kafka` and `strait admin apply` against a real straitd: apply (created, then nothing to
# create), create a cluster, turn on multi-VPC, put-cluster-policy --basic (create, then replace
# without --current-version), create-vpc-connection --wait, connection-info, AWS-CLI-style errors
# (exit 254, exception name), credentials from a profile file, and apply errors naming the path.
# Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is bounded.
set -euo pipefail
SRC=${ST_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ST_BUILD_DIR:-$SRC/build}
S=$BUILD/strait
TMP=$(mktemp -d /tmp/st_ctl_cli.XXXXXX)
A=$((100 + RANDOM % 150)); B=$((1 + RANDOM % 250))
ip() { echo "127.$A.$B.$1"; }
PID=
cleanup() {
    local rc=$?
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ $rc -ne 0 ]; then echo "FAIL (rc=$rc); straitd log:"; cat "$TMP/straitd.log" || true; fi
    [ -n "${ST_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "check failed: $*"; exit 1; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# Control plane only: no legacy upstream, every cluster comes from CreateClusterV2.
"$BUILD/straitd" --data-dir "$TMP/d" --api-listen 127.0.0.1:0 --ready-file "$TMP/ready" \
    --cluster-create-timeout 2 >"$TMP/straitd.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
[ -s "$TMP/ready" ] || fail "straitd did not become ready"
export STRAIT_ENDPOINT_URL=http://$(jget "['apiEndpoint']" <"$TMP/ready")

cat >"$TMP/apply.json" <<JSON
{"region": "us-east-1",
 "accounts": [
  {"id": "111122223333", "name": "provider",
   "users": [{"name": "admin", "accessKeys": [{"id": "AKIACLIPROVIDER00001", "secret": "cliProviderSecret00000000000000000000001"}],
              "managedPolicies": ["AmazonMSKFullAccess"]}],
   "vpcs": [{"id": "vpc-p", "cidr": "10.0.0.0/16",
             "subnets": [{"id": "subnet-p1", "azId": "use1-az1", "endpointAddress": "$(ip 2)", "endpointAddresses": ["$(ip 4)"]}]}]},
  {"id": "444455556666", "name": "client",
   "users": [{"name": "dev", "accessKeys": [{"id": "AKIACLICLIENT000001", "secret": "cliClientSecret0000000000000000000000001"}],
              "managedPolicies": ["AmazonMSKFullAccess"]},
             {"name": "ops", "accessKeys": [{}]}],
   "vpcs": [{"id": "vpc-c", "cidr": "10.1.0.0/16",
             "subnets": [{"id": "subnet-c1", "azId": "use1-az1", "endpointAddress": "$(ip 3)"}],
             "securityGroups": [{"id": "sg-c", "egress": [{"protocol": "tcp", "ports": "14001-14100", "cidr": "0.0.0.0/0"}]}]}]}]}
JSON
"$S" admin --data-dir "$TMP/d" status | grep -q '"clusters": \[\]' || fail "admin status without a legacy cluster"
out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/apply.json")
grep -q "created account 444455556666 (client)" <<<"$out" || fail "apply output: $out"
grep -q "access key for arn:aws:iam::444455556666:user/ops: AKIA" <<<"$out" || fail "generated key shown once: $out"
out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/apply.json")
grep -q "nothing to create" <<<"$out" || fail "second apply: $out"
state=$("$S" admin --data-dir "$TMP/d" state)
grep -q '"AKIACLICLIENT000001"' <<<"$state" || fail "state lists key ids: $state"
grep -q 'AmazonMSKFullAccess' <<<"$state" || fail "state lists policy names"
grep -q '"subnet-c1"' <<<"$state" || fail "state lists subnets"
if echo "$state" | grep -q 'cliClientSecret'; then fail "state leaks a secret"; fi
echo '{"accounts":[{"id":"111122223333","users":[{"name":"x","inlinePolicies":{"bad":{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"kafka:*","Resource":"*"}]}}}]}]}' >"$TMP/bad.json"
if out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/bad.json" 2>&1); then fail "bad policy accepted"; fi
grep -q "accounts\[0\].users\[0\].inlinePolicies.bad" <<<"$out" || fail "apply error names the element: $out"

# Provider, credentials from a profile file.
cat >"$TMP/credentials" <<INI
[provider]
aws_access_key_id = AKIACLIPROVIDER00001
aws_secret_access_key = cliProviderSecret00000000000000000000001
INI
export AWS_SHARED_CREDENTIALS_FILE=$TMP/credentials
P=(--profile provider)
arn=$("$S" kafka "${P[@]}" create-cluster-v2 --cluster-name clidemo --tags env=ci \
    --provisioned '{"kafkaVersion":"3.6.0","numberOfBrokerNodes":1,"brokerNodeGroupInfo":{"clientSubnets":["subnet-p1"],"instanceType":"kafka.m5.large"},"clientAuthentication":{"sasl":{"iam":{"enabled":true}}}}' \
    | jget "['ClusterArn']")
for _ in $(seq 1 300); do
    st=$("$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$arn" | jget "['ClusterInfo']['State']")
    [ "$st" = ACTIVE ] && break; sleep 0.1
done
[ "$st" = ACTIVE ] || fail "cluster state $st"
ver=$("$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$arn" | jget "['ClusterInfo']['CurrentVersion']")
set +e
out=$("$S" kafka "${P[@]}" update-connectivity --cluster-arn "$arn" --current-version KSTALE \
      --connectivity-info '{"vpcConnectivity":{"clientAuthentication":{"sasl":{"iam":{"enabled":true}}}}}' 2>&1)
rc=$?
set -e
[ $rc -eq 254 ] || fail "service error exit status $rc"
grep -q "An error occurred (BadRequestException) when calling the UpdateConnectivity operation" <<<"$out" || fail "error text: $out"
"$S" kafka "${P[@]}" update-connectivity --cluster-arn "$arn" --current-version "$ver" \
    --connectivity-info '{"vpcConnectivity":{"clientAuthentication":{"sasl":{"iam":{"enabled":true}}}}}' >/dev/null
v1=$("$S" kafka "${P[@]}" put-cluster-policy --cluster-arn "$arn" --basic 444455556666 | jget "['CurrentVersion']")
v2=$("$S" kafka "${P[@]}" put-cluster-policy --cluster-arn "$arn" --basic 444455556666 999988887777 | jget "['CurrentVersion']")
[ "$v1" != "$v2" ] || fail "replacing the basic policy gives a new version"
pol=$("$S" kafka "${P[@]}" get-cluster-policy --cluster-arn "$arn" | jget "['Policy']")
grep -q '"arn:aws:iam::999988887777:root"' <<<"$pol" || fail "basic policy names both accounts: $pol"
grep -q 'kafka:DescribeClusterV2' <<<"$pol" || fail "basic policy actions: $pol"
for _ in $(seq 1 300); do
    st=$("$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$arn" | jget "['ClusterInfo']['State']")
    [ "$st" = ACTIVE ] && break; sleep 0.1
done

# An external upstream nobody answers at: FAILED after --cluster-create-timeout, with a reason.
dead=$("$S" kafka "${P[@]}" create-cluster-v2 --cluster-name deadup --upstream 127.0.0.1:1 --provisioned \
    '{"kafkaVersion":"3.6.0","numberOfBrokerNodes":1,"brokerNodeGroupInfo":{"clientSubnets":["subnet-p1"],"instanceType":"kafka.m5.large"}}' \
    | jget "['ClusterArn']")
for _ in $(seq 1 150); do
    st=$("$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$dead" | jget "['ClusterInfo']['State']")
    [ "$st" = FAILED ] && break; sleep 0.1
done
[ "$st" = FAILED ] || fail "unreachable upstream: state $st"
"$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$dead" | jget "['ClusterInfo']['StateInfo']['Code']" \
    | grep -q UPSTREAM_UNREACHABLE || fail "stateInfo of the failed cluster"
"$S" kafka "${P[@]}" delete-cluster --cluster-arn "$dead" >/dev/null
for _ in $(seq 1 100); do
    out=$("$S" kafka "${P[@]}" describe-cluster-v2 --cluster-arn "$dead" 2>&1) || break; sleep 0.1
done
grep -q "(NotFoundException)" <<<"$out" || fail "failed cluster deleted: $out"

# Client, credentials from the environment.
unset AWS_SHARED_CREDENTIALS_FILE
export AWS_ACCESS_KEY_ID=AKIACLICLIENT000001 AWS_SECRET_ACCESS_KEY=cliClientSecret0000000000000000000000001
"$S" kafka create-vpc-connection --target-cluster-arn "$arn" --authentication SASL_IAM --vpc-id vpc-c \
    --client-subnets subnet-c1 --security-groups sg-c --tags team=payments --wait >"$TMP/conn.json" 2>"$TMP/wait.log"
grep -q ": AVAILABLE" "$TMP/wait.log" || fail "--wait progress: $(cat "$TMP/wait.log")"
carn=$(jget "['VpcConnectionArn']" <"$TMP/conn.json")
info=$("$S" kafka connection-info "$carn")
grep -q "bootstrap.servers=$(ip 3):14001" <<<"$info" || fail "connection-info: $info"
grep -q "sasl.mechanism=AWS_MSK_IAM" <<<"$info" || fail "client config: $info"
"$S" kafka connection-info "$carn" --output json | jget "['BootstrapBrokers']" | grep -q "$(ip 3):14001" || fail "connection-info json"
n=$("$S" kafka list-vpc-connections --max-results 1 | jget "['VpcConnections'].__len__()")
[ "$n" = 1 ] || fail "list-vpc-connections"
tags=$("$S" kafka list-tags-for-resource --resource-arn "$carn" | jget "['Tags']['team']")
[ "$tags" = payments ] || fail "tags on the connection: $tags"
set +e
out=$("$S" kafka delete-cluster-policy --cluster-arn "$arn" 2>&1); rc=$?
set -e
[ $rc -eq 254 ] && grep -q "(ForbiddenException)" <<<"$out" || fail "client cannot delete the owner's policy: $out"
"$S" kafka delete-vpc-connection --arn "$carn" | jget "['State']" | grep -q DELETING || fail "delete"
out=$(AWS_SECRET_ACCESS_KEY=wrong "$S" kafka list-vpc-connections 2>&1) && fail "a wrong secret was accepted"
grep -q "(InvalidSignatureException)" <<<"$out" || fail "wrong secret: $out"
echo PASS
