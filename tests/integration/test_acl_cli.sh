#!/usr/bin/env bash
# `strait acl` against a real straitd: Kafka ACLs of a managed cluster created through the API.
# Creates bindings (LITERAL, PREFIXED, repeated --operation, duplicates kept once), lists them
# (table and --json, filters, MATCH listing by resource name, super users from
# --kafka-super-users), validation errors that say what to fix, an unknown cluster, deletes by
# filter, `strait admin apply` with "clusters[].acls", and checks that the bindings survive a
# straitd restart.
# Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is bounded. Exit 77 = skipped.
set -euo pipefail
SRC=${ST_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ST_BUILD_DIR:-$SRC/build}
S=$BUILD/strait
[ -x "$S" ] && [ -x "$BUILD/straitd" ] || { echo "SKIP: no strait/straitd in $BUILD"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }
TMP=$(mktemp -d /tmp/st_acl_cli.XXXXXX)
A=$((100 + RANDOM % 150)); B=$((1 + RANDOM % 250))
ip() { echo "127.$A.$B.$1"; }
PID=
cleanup() {
    local rc=$?
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then echo "FAIL (rc=$rc); straitd log:"; cat "$TMP/straitd.log" || true; fi
    [ -n "${ST_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "check failed: $*"; exit 1; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

start() {
    rm -f "$TMP/ready"
    "$BUILD/straitd" --data-dir "$TMP/d" --api-listen 127.0.0.1:0 --ready-file "$TMP/ready" \
        --kafka-super-users " User:admin ; User:ops" >>"$TMP/straitd.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
    [ -s "$TMP/ready" ] || fail "straitd did not become ready"
    export STRAIT_ENDPOINT_URL=http://$(jget "['apiEndpoint']" <"$TMP/ready")
}
stop() {
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

# A bad super-users list stops straitd with a message naming the flag.
if "$BUILD/straitd" --data-dir "$TMP/bad" --api-listen 127.0.0.1:0 --kafka-super-users "admin" \
    >"$TMP/bad.log" 2>&1; then fail "--kafka-super-users admin accepted"; fi
grep -q "kafka-super-users" "$TMP/bad.log" || fail "bad super users message: $(cat "$TMP/bad.log")"

start
cat >"$TMP/apply.json" <<JSON
{"region": "us-east-1",
 "accounts": [
  {"id": "111122223333", "name": "provider",
   "users": [{"name": "admin", "accessKeys": [{"id": "AKIAACLPROVIDER00001", "secret": "aclProviderSecret00000000000000000000001"}],
              "managedPolicies": ["AmazonMSKFullAccess"]}],
   "vpcs": [{"id": "vpc-p", "cidr": "10.0.0.0/16",
             "subnets": [{"id": "subnet-p1", "azId": "use1-az1", "endpointAddress": "$(ip 2)"}]}]}]}
JSON
"$S" admin --data-dir "$TMP/d" apply "$TMP/apply.json" >/dev/null
export AWS_ACCESS_KEY_ID=AKIAACLPROVIDER00001 AWS_SECRET_ACCESS_KEY=aclProviderSecret00000000000000000000001
arn=$("$S" kafka create-cluster-v2 --cluster-name acldemo \
    --provisioned '{"kafkaVersion":"3.6.0","numberOfBrokerNodes":1,"brokerNodeGroupInfo":{"clientSubnets":["subnet-p1"],"instanceType":"kafka.m5.large"},"clientAuthentication":{"sasl":{"scram":{"enabled":true}}}}' \
    | jget "['ClusterArn']")
st=
for _ in $(seq 1 300); do
    st=$("$S" kafka describe-cluster-v2 --cluster-arn "$arn" | jget "['ClusterInfo']['State']")
    [ "$st" = ACTIVE ] && break; sleep 0.1
done
[ "$st" = ACTIVE ] || fail "cluster state $st"
ACL=("$S" acl --data-dir "$TMP/d")

# Create.
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name orders \
    --principal User:alice --operation READ --operation WRITE)
grep -q "2 created, 0 already present" <<<"$out" || fail "create: $out"
echo "$out" | grep -Eq "User:alice +\* +READ +ALLOW +TOPIC +LITERAL +orders" || fail "create table: $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type topic --resource-name orders \
    --principal User:alice --operation read)
grep -q "0 created, 1 already present" <<<"$out" || fail "duplicate create: $out"
"${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name ord \
    --pattern-type PREFIXED --principal User:bob --operation DESCRIBE >/dev/null
"${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name '*' \
    --principal 'User:*' --host 10.0.0.1 --operation WRITE --permission DENY >/dev/null
"${ACL[@]}" create --cluster-arn "$arn" --resource-type GROUP --resource-name billing \
    --principal User:alice --operation READ --json | jget "['created']" | grep -qx 1 || fail "create --json"
"${ACL[@]}" create --cluster-arn "$arn" --resource-type CLUSTER --resource-name kafka-cluster \
    --principal User:carol --operation IDEMPOTENT_WRITE >/dev/null

# List: everything, filters, MATCH by name.
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 6 ] || fail "list all: $n bindings"
out=$("${ACL[@]}" list --cluster-arn "$arn")
grep -q "super users: User:admin User:ops" <<<"$out" || fail "super users listed: $out"
echo "$out" | head -2 | grep -q "^PRINCIPAL " || fail "table header: $out"
"${ACL[@]}" list --cluster-arn "$arn" --json | jget "['superUsers']" | grep -q "'User:ops'" || fail "superUsers json"
n=$("${ACL[@]}" list --cluster-arn "$arn" --principal User:alice --json | jget "['acls'].__len__()")
[ "$n" = 3 ] || fail "list --principal User:alice: $n"
n=$("${ACL[@]}" list --cluster-arn "$arn" --resource-type TOPIC --operation WRITE --json | jget "['acls'].__len__()")
[ "$n" = 2 ] || fail "list TOPIC WRITE: $n"
n=$("${ACL[@]}" list --cluster-arn "$arn" --pattern-type PREFIXED --json | jget "['acls'].__len__()")
[ "$n" = 1 ] || fail "list PREFIXED: $n"
# ANY compares names exactly: "orders" is only the two LITERAL bindings.
n=$("${ACL[@]}" list --cluster-arn "$arn" --resource-type TOPIC --resource-name orders --json | jget "['acls'].__len__()")
[ "$n" = 2 ] || fail "list exact name: $n"
# MATCH: every binding applying to topic orders-eu: prefix "ord" and the wildcard, not "orders".
out=$("${ACL[@]}" list --cluster-arn "$arn" --resource-type TOPIC --resource-name orders-eu --pattern-type MATCH --json)
names=$(echo "$out" | python3 -c "import json,sys; print(' '.join(sorted(b['resourceName'] for b in json.load(sys.stdin)['acls'])))")
[ "$names" = "* ord" ] || fail "MATCH listing: $names"
n=$("${ACL[@]}" list --cluster-arn "$arn" --permission DENY --host 10.0.0.1 --json | jget "['acls'].__len__()")
[ "$n" = 1 ] || fail "list DENY host: $n"

# Validation errors say what to fix; usage errors exit 2; unknown cluster is clear.
set +e
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name x \
    --principal alice --operation READ 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qi "principal" <<<"$out" || fail "principal without a type ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name x \
    --principal User:alice --operation FLY 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qi "operation" <<<"$out" || fail "unknown operation ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type CLUSTER --resource-name other \
    --principal User:alice --operation ALTER 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "kafka-cluster" <<<"$out" || fail "CLUSTER name ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC --resource-name x \
    --pattern-type MATCH --principal User:alice --operation READ 2>&1); rc=$?
[ $rc -eq 1 ] && grep -qi "LITERAL\|PREFIXED\|pattern" <<<"$out" || fail "MATCH in a binding ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type ANY --resource-name x \
    --principal User:alice --operation READ 2>&1); rc=$?
[ $rc -eq 1 ] || fail "resource type ANY in a binding ($rc): $out"
out=$("${ACL[@]}" list --cluster-arn "$arn" --operation FLY 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "filter" <<<"$out" || fail "bad filter ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "$arn" --resource-type TOPIC 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "required" <<<"$out" || fail "missing flags ($rc): $out"
out=$("${ACL[@]}" delete --cluster-arn "$arn" 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q -- "--all" <<<"$out" || fail "delete without a filter ($rc): $out"
out=$("${ACL[@]}" list --cluster-arn "${arn}nope" 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no cluster" <<<"$out" || fail "unknown cluster ($rc): $out"
out=$("${ACL[@]}" create --cluster-arn "${arn}nope" --resource-type TOPIC --resource-name x \
    --principal User:alice --operation READ 2>&1); rc=$?
[ $rc -eq 1 ] && grep -q "no cluster" <<<"$out" || fail "create on an unknown cluster ($rc): $out"
set -e
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 6 ] || fail "failed creations changed nothing: $n"

# strait admin apply: "clusters": [{"clusterArn", "acls": [...]}] adds bindings (idempotent).
cat >"$TMP/acls.json" <<JSON
{"clusters": [{"clusterArn": "$arn", "acls": [
  {"resourceType": "TOPIC", "resourceName": "orders", "principal": "User:alice", "operation": "READ", "permissionType": "ALLOW"},
  {"resourceType": "transactional_id", "resourceName": "tx-", "patternType": "PREFIXED", "principal": "User:dave", "host": "*", "operation": "WRITE", "permissionType": "ALLOW"}]}]}
JSON
out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/acls.json")
grep -q "kafka acl User:dave" <<<"$out" || fail "apply creates the new binding: $out"
if echo "$out" | grep -q "kafka acl User:alice"; then fail "apply re-created an existing binding: $out"; fi
out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/acls.json")
grep -q "nothing to create" <<<"$out" || fail "second apply: $out"
echo "{\"clusters\": [{\"clusterArn\": \"$arn\", \"acls\": [{\"resourceType\": \"TOPIC\", \"resourceName\": \"x\", \"principal\": \"nobody\", \"operation\": \"READ\", \"permissionType\": \"ALLOW\"}]}]}" >"$TMP/bad.json"
if out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/bad.json" 2>&1); then fail "bad binding applied"; fi
grep -q "clusters\[0\].acls\[0\]" <<<"$out" || fail "apply error names the binding: $out"
echo '{"clusters": [{"clusterArn": "arn:aws:kafka:us-east-1:111122223333:cluster/none/x", "acls": []}]}' >"$TMP/bad.json"
if out=$("$S" admin --data-dir "$TMP/d" apply "$TMP/bad.json" 2>&1); then fail "unknown cluster applied"; fi
grep -q "no cluster" <<<"$out" || fail "apply unknown cluster: $out"
"${ACL[@]}" delete --cluster-arn "$arn" --principal User:dave >/dev/null
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 6 ] || fail "after apply and delete: $n"

# Survives a restart.
stop
start
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 6 ] || fail "after restart: $n bindings"

# Delete by filter prints what it deleted.
out=$("${ACL[@]}" delete --cluster-arn "$arn" --principal User:alice --resource-type TOPIC)
grep -q "2 deleted" <<<"$out" || fail "delete alice's topic bindings: $out"
echo "$out" | grep -Eq "User:alice +\* +WRITE +ALLOW +TOPIC +LITERAL +orders" || fail "deleted table: $out"
out=$("${ACL[@]}" delete --cluster-arn "$arn" --principal User:nobody)
grep -q "0 deleted" <<<"$out" || fail "delete nothing: $out"
"${ACL[@]}" delete --cluster-arn "$arn" --resource-name ord --pattern-type PREFIXED --json \
    | jget "['deleted'][0]['principal']" | grep -qx User:bob || fail "delete PREFIXED --json"
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 3 ] || fail "after deletes: $n"
out=$("${ACL[@]}" delete --cluster-arn "$arn" --all)
grep -q "3 deleted" <<<"$out" || fail "delete --all: $out"
stop
start
n=$("${ACL[@]}" list --cluster-arn "$arn" --json | jget "['acls'].__len__()")
[ "$n" = 0 ] || fail "deletes survive a restart: $n"
echo PASS
