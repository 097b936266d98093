"""The control plane with botocore (boto3) and the AWS CLI (`aws kafka`, `aws sts`), pointed at a
control-plane-only straitd with an endpoint override: create a cluster, turn on multi-VPC, cluster
policy with optimistic concurrency (GetClusterPolicy 404 before, stale version refused), a
cross-account connection through to AVAILABLE, paginators, AssumeRole, and botocore's error codes
(BadRequestException, NotFoundException, ForbiddenException, InvalidSignatureException).

Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Skips (exit 77) when boto3 or the aws CLI is missing.
Every wait is bounded.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("ST_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("ST_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:
    # CTest runs /usr/bin/python3; boto3 may live in the python3 on PATH (pyenv, venv).
    other = shutil.which("python3")
    if other and not os.environ.get("ST_BOTO_REEXEC") and \
            os.path.realpath(other) != os.path.realpath(sys.executable):
        os.environ["ST_BOTO_REEXEC"] = "1"
        os.execv(other, [other] + sys.argv)
    print("boto3 not installed: skipped")
    sys.exit(77)
if not shutil.which("aws"):
    print("aws CLI not installed: skipped")
    sys.exit(77)

REGION = "us-east-1"
PROVIDER, CLIENT = "111122223333", "444455556666"
ADMIN = ("AKIABOTOADMIN0000001", "botoAdminSecret/0000000000000000000000001")
DEV = ("AKIABOTODEV000000001", "botoDevSecret/000000000000000000000000001")
A, B = random.randint(100, 249), random.randint(1, 250)


def ip(n):
    return "127.%d.%d.%d" % (A, B, n)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(pred, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.1)


def expect_error(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, "expected %s, got %s: %s" % (code, got, e))
        print("  ok: %s: %s" % (code, e.response["Error"].get("Message", "")[:120]))
        return e
    raise AssertionError("expected %s, the call succeeded" % code)


def main():
    tmp = tempfile.mkdtemp(prefix="st_ctl_boto_")
    log = open(os.path.join(tmp, "straitd.log"), "w")
    ready = os.path.join(tmp, "ready.json")
    proc = subprocess.Popen([os.path.join(BUILD_DIR, "straitd"), "--data-dir", os.path.join(tmp, "d"),
                             "--api-listen", "127.0.0.1:0", "--ready-file", ready],
                            stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        info = wait_for(lambda: os.path.exists(ready) and json.load(open(ready)), "the ready file")
        url = info["apiUrl"]
        doc = {"region": REGION, "accounts": [
            {"id": PROVIDER, "name": "provider",
             "users": [{"name": "admin", "accessKeys": [{"id": ADMIN[0], "secret": ADMIN[1]}],
                        "managedPolicies": ["AmazonMSKFullAccess"]}],
             "vpcs": [{"id": "vpc-p", "cidr": "10.0.0.0/16",
                       "subnets": [{"id": "subnet-p1", "azId": "use1-az1", "endpointAddress": ip(1),
                                    "endpointAddresses": [ip(3)]}]}]},
            {"id": CLIENT, "name": "client",
             "users": [{"name": "dev", "accessKeys": [{"id": DEV[0], "secret": DEV[1]}],
                        "inlinePolicies": {"c": {"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": ["kafka:*", "sts:AssumeRole"], "Resource": "*"}]}}}],
             "roles": [{"name": "ops", "trustPolicy": {"Version": "2012-10-17", "Statement": [
                 {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:user/dev" % CLIENT},
                  "Action": "sts:AssumeRole"}]},
                 "managedPolicies": ["AmazonMSKReadOnlyAccess"]}],
             "vpcs": [{"id": "vpc-c", "cidr": "10.1.0.0/16",
                       "subnets": [{"id": "subnet-c1", "azId": "use1-az1", "endpointAddress": ip(2)}],
                       "securityGroups": [{"id": "sg-c", "egress": [
                           {"protocol": "tcp", "ports": "14001-14100", "cidr": "0.0.0.0/0"}]}]}]}]}
        subprocess.run([os.path.join(BUILD_DIR, "strait"), "admin", "--data-dir", os.path.join(tmp, "d"),
                        "apply", "-"], input=json.dumps(doc), text=True, check=True, capture_output=True)

        cfg = Config(retries={"max_attempts": 1})

        def kafka(key):
            return boto3.client("kafka", region_name=REGION, endpoint_url=url, aws_access_key_id=key[0],
                                aws_secret_access_key=key[1], config=cfg)
        admin, dev = kafka(ADMIN), kafka(DEV)

        arn = admin.create_cluster_v2(ClusterName="boto", Provisioned={
            "KafkaVersion": "3.6.0", "NumberOfBrokerNodes": 1,
            "BrokerNodeGroupInfo": {"ClientSubnets": ["subnet-p1"], "InstanceType": "kafka.m5.large"},
            "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}})["ClusterArn"]
        ci = wait_for(lambda: (lambda c: c if c["State"] == "ACTIVE" else None)(
            admin.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]), "ACTIVE")
        check(hasattr(ci["CreationTime"], "year"), "botocore parses creationTime as a timestamp")
        expect_error("NotFoundException", admin.get_cluster_policy, ClusterArn=arn)
        expect_error("BadRequestException", admin.update_connectivity, ClusterArn=arn, CurrentVersion="KSTALE",
                     ConnectivityInfo={"VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}})
        admin.update_connectivity(ClusterArn=arn, CurrentVersion=ci["CurrentVersion"],
                                  ConnectivityInfo={"VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}})
        wait_for(lambda: admin.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE", "ACTIVE again")

        # MSK's requirements for multi-VPC: Kafka 2.7.1 or later, no kafka.t3.small brokers.
        for name, ver, itype, want in (("old", "2.6.2", "kafka.m5.large", "2.7.1"),
                                       ("small", "3.6.0", "kafka.t3.small", "t3.small")):
            other = admin.create_cluster_v2(ClusterName=name, Provisioned={
                "KafkaVersion": ver, "NumberOfBrokerNodes": 1,
                "BrokerNodeGroupInfo": {"ClientSubnets": ["subnet-p1"], "InstanceType": itype},
                "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}})["ClusterArn"]
            oc = wait_for(lambda: (lambda c: c if c["State"] == "ACTIVE" else None)(
                admin.describe_cluster_v2(ClusterArn=other)["ClusterInfo"]), "%s ACTIVE" % name)
            e = expect_error("BadRequestException", admin.update_connectivity, ClusterArn=other,
                             CurrentVersion=oc["CurrentVersion"], ConnectivityInfo={
                                 "VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}})
            check(want in e.response["Error"]["Message"], "refusal names the requirement: %s" % e)
            admin.delete_cluster(ClusterArn=other)

            def other_gone():
                try:
                    admin.describe_cluster_v2(ClusterArn=other)
                    return False
                except ClientError as x:
                    return x.response["Error"]["Code"] == "NotFoundException"
            wait_for(other_gone, "%s deleted" % name)

        req = dict(TargetClusterArn=arn, Authentication="SASL_IAM", VpcId="vpc-c", ClientSubnets=["subnet-c1"],
                   SecurityGroups=["sg-c"])
        expect_error("ForbiddenException", dev.create_vpc_connection, **req)

        # The AWS CLI writes the policy (a file:// document), like an operator would.
        pol = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": CLIENT},
               "Action": ["kafka:CreateVpcConnection", "kafka:GetBootstrapBrokers", "kafka:DescribeClusterV2"],
               "Resource": arn}]}
        with open(os.path.join(tmp, "policy.json"), "w") as f:
            json.dump(pol, f)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ADMIN[0], AWS_SECRET_ACCESS_KEY=ADMIN[1],
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        out = subprocess.run(["aws", "kafka", "put-cluster-policy", "--endpoint-url", url, "--cluster-arn", arn,
                              "--policy", "file://" + os.path.join(tmp, "policy.json")],
                             env=env, text=True, capture_output=True)
        check(out.returncode == 0, "aws kafka put-cluster-policy: %s" % out.stderr)
        v1 = json.loads(out.stdout)["CurrentVersion"]
        out = subprocess.run(["aws", "kafka", "get-cluster-policy", "--endpoint-url", url, "--cluster-arn", arn],
                             env=env, text=True, capture_output=True)
        check(out.returncode == 0 and json.loads(out.stdout)["CurrentVersion"] == v1, "aws kafka get-cluster-policy")
        out = subprocess.run(["aws", "kafka", "put-cluster-policy", "--endpoint-url", url, "--cluster-arn", arn,
                              "--policy", json.dumps(pol), "--current-version", "KWRONG"],
                             env=env, text=True, capture_output=True)
        check(out.returncode != 0 and "BadRequestException" in out.stderr, "stale version via the CLI: %s" % out.stderr)

        conn = dev.create_vpc_connection(**req)["VpcConnectionArn"]
        wait_for(lambda: dev.describe_vpc_connection(Arn=conn)["State"] == "AVAILABLE", "AVAILABLE")
        bb = dev.get_bootstrap_brokers(ClusterArn=arn)
        check(bb.get("BootstrapBrokerStringVpcConnectivitySaslIam") == "%s:14001" % ip(2), "bootstrap %s" % bb)
        pages = list(admin.get_paginator("list_client_vpc_connections").paginate(ClusterArn=arn, PaginationConfig={"PageSize": 1}))
        check(sum(len(p["ClientVpcConnections"]) for p in pages) == 1, "paginator")
        check(len(list(dev.get_paginator("list_vpc_connections").paginate())) >= 1, "list paginator")
        out = subprocess.run(["aws", "kafka", "list-vpc-connections", "--endpoint-url", url],
                             env=dict(env, AWS_ACCESS_KEY_ID=DEV[0], AWS_SECRET_ACCESS_KEY=DEV[1]),
                             text=True, capture_output=True)
        check(out.returncode == 0 and json.loads(out.stdout)["VpcConnections"][0]["VpcConnectionArn"] == conn,
              "aws kafka list-vpc-connections: %s" % out.stderr)

        sts = boto3.client("sts", region_name=REGION, endpoint_url=url, aws_access_key_id=DEV[0],
                           aws_secret_access_key=DEV[1], config=cfg)
        check(sts.get_caller_identity()["Arn"] == "arn:aws:iam::%s:user/dev" % CLIENT, "GetCallerIdentity")
        cred = sts.assume_role(RoleArn="arn:aws:iam::%s:role/ops" % CLIENT, RoleSessionName="boto")["Credentials"]
        ro = boto3.client("kafka", region_name=REGION, endpoint_url=url, aws_access_key_id=cred["AccessKeyId"],
                          aws_secret_access_key=cred["SecretAccessKey"], aws_session_token=cred["SessionToken"],
                          config=cfg)
        check(ro.describe_vpc_connection(Arn=conn)["State"] == "AVAILABLE", "read-only role describes")
        expect_error("ForbiddenException", ro.delete_vpc_connection, Arn=conn)
        expect_error("InvalidSignatureException", kafka((DEV[0], "wrong")).list_vpc_connections)
        out = subprocess.run(["aws", "sts", "get-caller-identity", "--endpoint-url", url],
                             env=dict(env, AWS_ACCESS_KEY_ID=cred["AccessKeyId"],
                                      AWS_SECRET_ACCESS_KEY=cred["SecretAccessKey"],
                                      AWS_SESSION_TOKEN=cred["SessionToken"]), text=True, capture_output=True)
        check(out.returncode == 0 and json.loads(out.stdout)["Arn"].endswith(":assumed-role/ops/boto"),
              "aws sts get-caller-identity with a session: %s" % out.stderr)

        dev.delete_vpc_connection(Arn=conn)
        def gone():
            try:
                dev.describe_vpc_connection(Arn=conn)
                return False
            except ClientError as e:
                return e.response["Error"]["Code"] == "NotFoundException"
        wait_for(gone, "the connection deleted")
        expect_error("NotFoundException", dev.describe_vpc_connection, Arn=conn)
        admin.delete_cluster_policy(ClusterArn=arn)
        expect_error("NotFoundException", admin.delete_cluster_policy, ClusterArn=arn)
        ok = True
        print("PASS")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = -9
        log.close()
        if not ok or rc != 0:
            print("straitd exit %s; log:" % rc)
            sys.stdout.write(open(os.path.join(tmp, "straitd.log")).read())
            ok = False
        if not os.environ.get("ST_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
