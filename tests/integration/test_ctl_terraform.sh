#!/usr/bin/env bash
# Terraform's AWS provider against strait (endpoint override): aws_msk_cluster_policy from the
# owner account and aws_msk_vpc_connection from the client account are created (the provider's
# waiter sees CREATING -> AVAILABLE), a second plan shows no drift, and destroy removes both
# (DeleteVpcConnection waiter until NotFound; GetClusterPolicy answers NotFound afterwards).
# Needs terraform and the hashicorp/aws provider in a filesystem mirror (ST_TF_PLUGINS, default
# /opt/tf-plugins); exits 77 (skip) without them. Environment: ST_BUILD_DIR, ST_SOURCE_DIR.
set -euo pipefail
SRC=${ST_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ST_BUILD_DIR:-$SRC/build}
PLUGINS=${ST_TF_PLUGINS:-/opt/tf-plugins}
if ! command -v terraform >/dev/null || [ ! -d "$PLUGINS/registry.terraform.io/hashicorp/aws" ]; then
    echo "terraform or its hashicorp/aws provider mirror ($PLUGINS) missing: skipped"
    exit 77
fi
S=$BUILD/strait
TMP=$(mktemp -d /tmp/st_ctl_tf.XXXXXX)
A=$((100 + RANDOM % 150)); B=$((1 + RANDOM % 250))
PID=
cleanup() {
    local rc=$?
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ $rc -ne 0 ]; then
        echo "FAIL (rc=$rc)"; for f in "$TMP"/*.log; do echo "== $f"; tail -40 "$f"; done
    fi
    [ -n "${ST_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "check failed: $*"; exit 1; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

"$BUILD/straitd" --data-dir "$TMP/d" --api-listen 127.0.0.1:0 --ready-file "$TMP/ready" \
    >"$TMP/straitd.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
[ -s "$TMP/ready" ] || fail "straitd did not become ready"
URL=$(jget "['apiUrl']" <"$TMP/ready")
export STRAIT_ENDPOINT_URL=$URL
"$S" admin --data-dir "$TMP/d" apply - >/dev/null <<JSON
{"region": "us-east-1", "accounts": [
 {"id": "111122223333", "name": "provider",
  "users": [{"name": "admin", "accessKeys": [{"id": "AKIATFPROVIDER000001", "secret": "tfProviderSecret000000000000000000000001"}],
             "managedPolicies": ["AmazonMSKFullAccess"]}],
  "vpcs": [{"id": "vpc-p", "cidr": "10.0.0.0/16", "subnets": [{"id": "subnet-p1", "azId": "use1-az1", "endpointAddress": "127.$A.$B.1"}]}]},
 {"id": "444455556666", "name": "client",
  "users": [{"name": "dev", "accessKeys": [{"id": "AKIATFCLIENT00000001", "secret": "tfClientSecret00000000000000000000000001"}],
             "managedPolicies": ["AmazonMSKFullAccess"]}],
  "vpcs": [{"id": "vpc-c", "cidr": "10.1.0.0/16", "subnets": [{"id": "subnet-c1", "azId": "use1-az1", "endpointAddress": "127.$A.$B.2"}],
            "securityGroups": [{"id": "sg-c", "egress": [{"protocol": "tcp", "ports": "14001-14100", "cidr": "0.0.0.0/0"}]}]}]}]}
JSON
owner() { AWS_ACCESS_KEY_ID=AKIATFPROVIDER000001 AWS_SECRET_ACCESS_KEY=tfProviderSecret000000000000000000000001 "$S" kafka "$@"; }
client() { AWS_ACCESS_KEY_ID=AKIATFCLIENT00000001 AWS_SECRET_ACCESS_KEY=tfClientSecret00000000000000000000000001 "$S" kafka "$@"; }
wait_active() {
    for _ in $(seq 1 300); do
        [ "$(owner describe-cluster-v2 --cluster-arn "$1" | jget "['ClusterInfo']['State']")" = ACTIVE ] && return 0
        sleep 0.1
    done
    fail "cluster $1 not ACTIVE"
}
ARN=$(owner create-cluster-v2 --cluster-name tf --provisioned \
    '{"kafkaVersion":"3.6.0","numberOfBrokerNodes":1,"brokerNodeGroupInfo":{"clientSubnets":["subnet-p1"],"instanceType":"kafka.m5.large"},"clientAuthentication":{"sasl":{"iam":{"enabled":true}}}}' \
    | jget "['ClusterArn']")
wait_active "$ARN"
V=$(owner describe-cluster-v2 --cluster-arn "$ARN" | jget "['ClusterInfo']['CurrentVersion']")
owner update-connectivity --cluster-arn "$ARN" --current-version "$V" \
    --connectivity-info '{"vpcConnectivity":{"clientAuthentication":{"sasl":{"iam":{"enabled":true}}}}}' >/dev/null
wait_active "$ARN"

mkdir "$TMP/tf"
cat >"$TMP/tf/cli.tfrc" <<HCL
provider_installation {
  filesystem_mirror {
    path    = "$PLUGINS"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }
}
HCL
cat >"$TMP/tf/main.tf" <<'HCL'
variable "endpoint" {}
variable "cluster_arn" {}
provider "aws" {
  alias                       = "owner"
  region                      = "us-east-1"
  access_key                  = "AKIATFPROVIDER000001"
  secret_key                  = "tfProviderSecret000000000000000000000001"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    kafka = var.endpoint
  }
}
provider "aws" {
  alias                       = "client"
  region                      = "us-east-1"
  access_key                  = "AKIATFCLIENT00000001"
  secret_key                  = "tfClientSecret00000000000000000000000001"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    kafka = var.endpoint
  }
}
resource "aws_msk_cluster_policy" "p" {
  provider    = aws.owner
  cluster_arn = var.cluster_arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::444455556666:root" }
      Action    = ["kafka:CreateVpcConnection", "kafka:GetBootstrapBrokers", "kafka:DescribeCluster", "kafka:DescribeClusterV2"]
      Resource  = var.cluster_arn
    }]
  })
}
resource "aws_msk_vpc_connection" "c" {
  provider           = aws.client
  depends_on         = [aws_msk_cluster_policy.p]
  authentication     = "SASL_IAM"
  target_cluster_arn = var.cluster_arn
  vpc_id             = "vpc-c"
  client_subnets     = ["subnet-c1"]
  security_groups    = ["sg-c"]
  tags               = { team = "payments" }
}
output "conn" { value = aws_msk_vpc_connection.c.arn }
HCL
export TF_CLI_CONFIG_FILE=$TMP/tf/cli.tfrc TF_IN_AUTOMATION=1 TF_DATA_DIR=$TMP/tf/.terraform
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN || true
TFV=(-var "endpoint=$URL" -var "cluster_arn=$ARN")
cd "$TMP/tf"
timeout 300 terraform init -input=false -no-color >"$TMP/init.log" 2>&1 || fail "terraform init"
timeout 300 terraform apply -auto-approve -input=false -no-color "${TFV[@]}" >"$TMP/apply.log" 2>&1 || fail "terraform apply"
CONN=$(terraform output -raw conn)
[ "$(client describe-vpc-connection --arn "$CONN" | jget "['State']")" = AVAILABLE ] || fail "connection AVAILABLE"
owner get-cluster-policy --cluster-arn "$ARN" | jget "['Policy']" | grep -q 444455556666 || fail "policy in place"
set +e
timeout 300 terraform plan -detailed-exitcode -input=false -no-color "${TFV[@]}" >"$TMP/plan.log" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || fail "second plan is not empty (exit $rc)"
timeout 300 terraform destroy -auto-approve -input=false -no-color "${TFV[@]}" >"$TMP/destroy.log" 2>&1 || fail "terraform destroy"
out=$(client describe-vpc-connection --arn "$CONN" 2>&1) && fail "connection still there"
grep -q "(NotFoundException)" <<<"$out" || fail "connection gone: $out"
out=$(owner get-cluster-policy --cluster-arn "$ARN" 2>&1) && fail "policy still there"
grep -q "(NotFoundException)" <<<"$out" || fail "policy gone: $out"
echo PASS
