"""Per-request authorization of requests that name topics only by id (KIP-516), with a real modern
client: librdkafka 2.12 sends Fetch v16, which carries topic ids and no names. straitd authorizes
such a request by the name it learned from the Metadata v10+ responses it forwarded (and refuses
an id it never saw with UNKNOWN_TOPIC_ID).

Setup as scripts/demo does it, but on the 2.12 mock cluster (`modernmock mock --brokers 3`) instead
of the embedded one: straitd with only its MSK-compatible API (--api-listen, no --embedded-kafka,
no --upstream); `strait admin apply` of a provider account (an admin user, a SCRAM secret for alice,
a VPC whose subnets are served on 127.A.B.2-4) and a client account (a user allowed the VPC
connection calls, a VPC on 127.A.B.5-7); `strait kafka create-cluster-v2 --upstream <the mock's
brokers>` with SASL/SCRAM, update-connectivity for SCRAM, a cluster policy for the client account,
batch-associate-scram-secret for alice; the client account's SASL_SCRAM VPC connection. Then the
2.12 client as alice, SCRAM-SHA-512 over TLS (DATA/tls/ca.pem), on that connection:
  a. no ACL: producing is refused (Topic authorization failed);
  b. `strait acl create` ALLOW alice WRITE, READ, DESCRIBE on the topic and READ on the group:
     every message is produced and read back, and the client sent Fetch v13+ (topic ids);
  c. the READ binding deleted: producing still works, metadata still lists the topic (DESCRIBE),
     but every Fetch by topic id is refused with TOPIC_AUTHORIZATION_FAILED (not UNKNOWN_TOPIC_ID:
     straitd knows the id);
  d. the audit log DATA/audit.log has alice's DENY of that Fetch: action READ on TOPIC:<topic>.
Exit 77 without build/modernmock. Every wait is bounded; nothing asserts on wall-clock time.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

REGION = "us-east-1"
PROVIDER = "111122223333"
CLIENT = "444455556666"
ADMIN_KEY = ("AKIAPROVIDERTID00001", "providerTidSecret/000000000000000000000001")
DEV_KEY = ("AKIACLIENTTID0000001", "clientTidSecret/00000000000000000000000001")
ALICE_PASSWORD = "alice-tid-secret-0001"
PARTITIONS = 3
COUNT = 300
CLI_TIMEOUT = 60.0
STATE_TIMEOUT = 60.0  # cluster ACTIVE, connection AVAILABLE
DENIED_TIMEOUT_S = 20  # the client's bound in the steps expected to fail


def pick_net():
    """127.A.B: a loopback /24 whose endpoint ports 14001-14003 are free on .2 to .7."""
    rnd = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    for _ in range(200):
        net = "127.%d.%d" % (rnd.randint(100, 249), rnd.randint(1, 250))
        if all(h._ports_free("%s.%d" % (net, i), range(14001, 14004)) for i in range(1, 8)):
            return net
    raise h.TestFailure("no free loopback /24 for the endpoints")


class ApiStraitd(h.Straitd):
    """straitd with only its MSK-compatible API (clusters are created through it), as
    test_acl_cli.sh starts it; stop/log/cleanup are the harness's."""

    def start(self):
        h.check(os.access(h.STRAITD, os.X_OK), "no straitd at %s (build first)" % h.STRAITD)
        argv = [h.STRAITD, "--data-dir", self.data_dir, "--api-listen", "127.0.0.1:0",
                "--ready-file", self.ready_path, "--metadata-refresh-ms", "1000",
                "--log-level", os.environ.get("ST_LOG_LEVEL", "info")] + self.extra_args
        h.log("starting: %s" % " ".join(argv))
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.ready = h.wait_for(self._read_ready, h.READY_TIMEOUT, "straitd ready file")
        self.api = "http://%s" % self.ready["apiEndpoint"]
        h.log("straitd pid %d ready: API %s" % (self.proc.pid, self.api))
        return self

    def watch(self, upstream):
        """From now on, fail the test if any other process connects to these [(ip, port)]."""
        self.watcher = h.BypassWatcher(self.proc.pid, upstream)
        self.watcher.start()


def cli(sd, args, key=None, check_rc=True):
    """Runs `strait ARGS` (as the given account's access key for `strait kafka`); returns
    (status, stdout, stderr)."""
    env = dict(os.environ)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(k, None)
    env.update({"AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_REGION": REGION, "STRAIT_ENDPOINT_URL": sd.api})
    if key:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = key
    argv = [h.STRAIT] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, timeout=CLI_TIMEOUT, env=env,
                       stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    if check_rc and r.returncode != 0:
        raise h.TestFailure("strait %s: status %d: %s %s" % (" ".join(argv[1:]), r.returncode,
                                                          out, err))
    return r.returncode, out, err


def kafka(sd, key, *args):
    return json.loads(cli(sd, ["kafka"] + list(args), key=key)[1] or "{}")


def acl(sd, *args):
    out = cli(sd, ["acl", "--data-dir", sd.data_dir] + list(args))[1]
    h.log("strait acl %s:\n%s" % (" ".join(args), out.rstrip()))
    return out


def apply_doc(net):
    sg = lambda name: [{"id": name, "ingress": [{"protocol": "tcp", "ports": "14001-14100",  # noqa
                                                 "cidr": "127.0.0.0/8"}],
                        "egress": [{"protocol": "tcp", "ports": "14001-14100",
                                    "cidr": "0.0.0.0/0"}]}]
    api_actions = ["kafka:CreateVpcConnection", "kafka:DescribeVpcConnection",
                   "kafka:ListVpcConnections", "kafka:GetBootstrapBrokers",
                   "kafka:DescribeCluster", "kafka:DescribeClusterV2"]
    azs = ["use1-az1", "use1-az2", "use1-az4"]
    return {"region": REGION, "accounts": [
        {"id": PROVIDER, "name": "provider",
         "scramSecrets": [{"name": "AmazonMSK_alice", "username": "alice",
                           "password": ALICE_PASSWORD}],
         "users": [{"name": "admin", "managedPolicies": ["AmazonMSKFullAccess"],
                    "accessKeys": [{"id": ADMIN_KEY[0], "secret": ADMIN_KEY[1]}]}],
         "vpcs": [{"id": "vpc-provider", "cidr": "10.0.0.0/16",
                   "subnets": [{"id": "subnet-p%d" % i, "azId": azs[i - 1],
                                "endpointAddress": "%s.%d" % (net, 1 + i)} for i in (1, 2, 3)],
                   "securityGroups": sg("sg-p")}]},
        {"id": CLIENT, "name": "client",
         "users": [{"name": "dev", "accessKeys": [{"id": DEV_KEY[0], "secret": DEV_KEY[1]}],
                    "inlinePolicies": {"mvpc": {"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Action": api_actions, "Resource": "*"}]}}}],
         "vpcs": [{"id": "vpc-client", "cidr": "10.1.0.0/16",
                   "subnets": [{"id": "subnet-c%d" % i, "azId": azs[i - 1],
                                "endpointAddress": "%s.%d" % (net, 4 + i)} for i in (1, 2, 3)],
                   "securityGroups": sg("sg-c")}]}]}


def wait_state(what, fn, want):
    got = [None]

    def pred():
        got[0] = fn()
        return got[0] == want
    try:
        h.wait_for(pred, STATE_TIMEOUT, "%s %s" % (what, want), interval=0.2)
    except h.TestFailure:
        raise h.TestFailure("%s: still %r after %.0f s, want %r" % (what, got[0], STATE_TIMEOUT,
                                                                    want))


def setup(sd, mock, net, workdir):
    """The demo's steps on the mock: returns (cluster ARN, SASL_SCRAM bootstrap string)."""
    apply_path = os.path.join(workdir, "apply.json")
    with open(apply_path, "w") as f:
        json.dump(apply_doc(net), f)
    cli(sd, ["admin", "--data-dir", sd.data_dir, "apply", apply_path])
    provisioned = {
        "kafkaVersion": "3.6.0", "numberOfBrokerNodes": 3,
        "brokerNodeGroupInfo": {"instanceType": "kafka.m5.large",
                                "clientSubnets": ["subnet-p1", "subnet-p2", "subnet-p3"],
                                "securityGroups": ["sg-p"]},
        "clientAuthentication": {"sasl": {"scram": {"enabled": True}},
                                 "unauthenticated": {"enabled": False}}}
    arn = kafka(sd, ADMIN_KEY, "create-cluster-v2", "--cluster-name", "tids", "--upstream",
                mock.bootstrap, "--provisioned", json.dumps(provisioned))["ClusterArn"]
    h.log("cluster %s on the 2.12 mock's brokers %s" % (arn, mock.bootstrap))

    def state():
        return kafka(sd, ADMIN_KEY, "describe-cluster-v2", "--cluster-arn", arn)["ClusterInfo"]
    wait_state("cluster", lambda: state()["State"], "ACTIVE")
    kafka(sd, ADMIN_KEY, "update-connectivity", "--cluster-arn", arn, "--current-version",
          state()["CurrentVersion"], "--connectivity-info",
          json.dumps({"VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Scram": {
              "Enabled": True}}}}}))
    wait_state("VPC connectivity", lambda: json.dumps(
        state()["Provisioned"]["BrokerNodeGroupInfo"]["ConnectivityInfo"]["VpcConnectivity"]
        ["ClientAuthentication"]["Sasl"].get("Scram"), sort_keys=True), '{"Enabled": true}')
    wait_state("cluster", lambda: state()["State"], "ACTIVE")
    policy_path = os.path.join(workdir, "cluster-policy.json")
    with open(policy_path, "w") as f:
        json.dump({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": CLIENT},
             "Action": ["kafka:CreateVpcConnection", "kafka:GetBootstrapBrokers",
                        "kafka:DescribeCluster", "kafka:DescribeClusterV2"],
             "Resource": arn}]}, f)
    kafka(sd, ADMIN_KEY, "put-cluster-policy", "--cluster-arn", arn, "--policy",
          "file://" + policy_path)
    kafka(sd, ADMIN_KEY, "batch-associate-scram-secret", "--cluster-arn", arn,
          "--secret-arn-list", "arn:aws:secretsmanager:%s:%s:secret:AmazonMSK_alice" % (
              REGION, PROVIDER))
    conn = kafka(sd, DEV_KEY, "create-vpc-connection", "--target-cluster-arn", arn,
                 "--authentication", "SASL_SCRAM", "--vpc-id", "vpc-client",
                 "--client-subnets", "subnet-c1", "subnet-c2", "subnet-c3",
                 "--security-groups", "sg-c")["VpcConnectionArn"]
    wait_state("VPC connection", lambda: kafka(sd, DEV_KEY, "describe-vpc-connection", "--arn",
                                               conn)["State"], "AVAILABLE")
    bb = kafka(sd, DEV_KEY, "get-bootstrap-brokers", "--cluster-arn", arn)
    bootstrap = bb.get("BootstrapBrokerStringVpcConnectivitySaslScram", "")
    h.check(bootstrap and all(hp.startswith(net + ".") for hp in bootstrap.split(",")),
            "SASL_SCRAM bootstrap string of the client account: %r" % bb)
    h.log("SASL_SCRAM VPC connection %s at %s" % (conn, bootstrap))
    return arn, bootstrap


def alice_client(sd, bootstrap, topic, count, group, forbid, tag, timeout_s=120):
    """The 2.12 client as alice (SCRAM-SHA-512 over TLS); returns (exit status, report)."""
    argv = [m.MODERNMOCK, "client", "--bootstrap", bootstrap, "--topic", topic, "--count",
            str(count), "--tag", tag, "--group-id", group, "--timeout-s", str(timeout_s),
            "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
            "-X", "sasl.username=alice", "-X", "sasl.password=" + ALICE_PASSWORD,
            "-X", "ssl.ca.location=" + os.path.join(sd.data_dir, "tls", "ca.pem")]
    for f in forbid:
        argv += ["--forbid", f]
    h.log("running: %s" % " ".join(a.replace(ALICE_PASSWORD, "***") for a in argv))
    r = subprocess.run(argv, capture_output=True, timeout=3 * timeout_s + 60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace").strip()
    err = r.stderr.decode("utf-8", "replace")
    try:
        rep = json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        sys.stderr.write(err[-6000:])
        raise h.TestFailure("2.12 client (status %d) printed no report: %r" % (r.returncode,
                                                                             out[-2000:]))
    h.log("2.12 client status %d: delivered %d/%d, consumed %d, matched %d, first error %r, "
          "failure %r; request versions %s" % (
              r.returncode, rep["delivered"], rep["produced"], rep["consumed"], rep["matched"],
              rep["firstError"], rep["failure"], rep["requestVersions"]))
    rep["_stderr"] = err
    return r.returncode, rep


def fetch_version(rep):
    return rep["requestVersions"].get("Fetch", -1)


def test():
    net = pick_net()
    workdir = tempfile.mkdtemp(prefix="strait-tid-")
    run = "%d-%d" % (os.getpid(), random.randint(0, 1 << 20))
    topic = "tid-orders-%s" % run
    group = "tid-group-%s" % run
    try:
        with m.ModernMock(brokers=3) as mock, ApiStraitd(address=net + ".1") as sd:
            run_steps(mock, sd, net, workdir, topic, group, run)
    finally:
        if os.environ.get("ST_KEEP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


def run_steps(mock, sd, net, workdir, topic, group, run):
    """Steps a-d (see the module docstring) on a set-up mock and straitd."""
    mock.create_topic(topic, PARTITIONS, 3)
    arn, bootstrap = setup(sd, mock, net, workdir)
    upstream = mock.listen_addresses()
    sd.watch(upstream)
    # The mock listens on 127.0.0.1, the connection on 127.A.B.5-7: the client never sees
    # an upstream address.
    forbid = sorted({"%s:%d" % a for a in upstream} | {"127.0.0.1:"})

    h.log("== a. alice without ACLs: producing is refused")
    rc, rep = alice_client(sd, bootstrap, topic, 20, group, forbid, "a-" + run,
                           timeout_s=DENIED_TIMEOUT_S)
    h.check(rc != 0 and not rep["ok"], "alice produced without any ACL: %r" % rep)
    h.check(rep["delivered"] == 0, "%d messages delivered without any ACL" % rep["delivered"])
    h.check("topic authorization failed" in rep["firstError"].lower(),
            "produce without ACLs: first error %r, want Topic authorization failed" %
            rep["firstError"])
    h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
            rep["forbiddenSeen"])

    h.log("== b. ALLOW alice WRITE, READ, DESCRIBE on the topic, READ on the group")
    acl(sd, "create", "--cluster-arn", arn, "--resource-type", "TOPIC", "--resource-name",
        topic, "--principal", "User:alice", "--operation", "WRITE", "--operation", "READ",
        "--operation", "DESCRIBE")
    acl(sd, "create", "--cluster-arn", arn, "--resource-type", "GROUP", "--resource-name",
        group, "--principal", "User:alice", "--operation", "READ")
    rc, rep = alice_client(sd, bootstrap, topic, COUNT, group, forbid, "b-" + run)
    if rc != 0 or not rep["ok"]:
        sys.stderr.write(rep["_stderr"][-6000:])
    h.check(rc == 0 and rep["ok"], "alice with ACLs: status %d, failure %r, first error %r" % (
        rc, rep["failure"], rep["firstError"]))
    h.check(rep["delivered"] == COUNT and rep["matched"] == COUNT and
            rep["duplicates"] == 0 and rep["corrupt"] == 0,
            "alice produced/read back %d/%d of %d" % (rep["delivered"], rep["matched"], COUNT))
    brokers = sorted((b["id"], "%s:%d" % (b["host"], b["port"])) for b in rep["brokers"])
    h.log("brokers alice sees: %r" % brokers)
    h.check([n for n, _ in brokers] == [1, 2, 3] and
            all(hp.startswith(net + ".") for _, hp in brokers),
            "brokers through the VPC connection: %r" % brokers)
    versions = rep["requestVersions"]
    h.check(fetch_version(rep) >= 13,
            "the 2.12 client sent Fetch v%d: not a request by topic id (want v13+): %r" % (
                fetch_version(rep), versions))
    h.check(versions.get("Metadata", -1) >= 10,
            "Metadata v%d carries no topic ids: %r" % (versions.get("Metadata", -1), versions))
    h.log("alice: %d messages produced and read back with Fetch v%d (topic ids), Metadata v%d,"
          " Produce v%d" % (COUNT, fetch_version(rep), versions["Metadata"],
                            versions.get("Produce", -1)))

    h.log("== c. READ deleted: the Fetch by topic id is refused, DESCRIBE still allows "
          "metadata")
    out = acl(sd, "delete", "--cluster-arn", arn, "--resource-type", "TOPIC",
              "--resource-name", topic, "--principal", "User:alice", "--operation", "READ")
    h.check("1 deleted" in out, "strait acl delete READ: %r" % out)
    rc, rep = alice_client(sd, bootstrap, topic, 10, group, forbid, "c-" + run,
                           timeout_s=DENIED_TIMEOUT_S)
    h.check(rc != 0 and not rep["ok"], "alice consumed without READ: %r" % rep)
    h.check(rep["delivered"] == 10 and rep["deliveryErrors"] == 0,
            "WRITE still allowed: delivered %d of 10 (%r)" % (rep["delivered"],
                                                              rep["firstError"]))
    h.check(rep["partitions"] == PARTITIONS,
            "DESCRIBE still allowed: metadata lists %d partitions, want %d (failure %r)" % (
                rep["partitions"], PARTITIONS, rep["failure"]))
    h.check(rep["consumed"] == 0, "alice consumed %d messages without READ" % rep["consumed"])
    h.check(rep["firstError"].startswith("consume:") and
            "topic authorization failed" in rep["firstError"].lower(),
            "consume without READ: first error %r, want a Fetch refused with Topic "
            "authorization failed" % rep["firstError"])
    h.check("unknown topic id" not in rep["_stderr"].lower(),
            "the client was told UNKNOWN_TOPIC_ID: %s" % "\n".join(
                l for l in rep["_stderr"].splitlines() if "nknown topic id" in l)[:2000])
    h.check(fetch_version(rep) >= 13, "the refused Fetch was v%d, want v13+ (topic ids)" %
            fetch_version(rep))
    h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
            rep["forbiddenSeen"])

    h.log("== d. the audit log has alice's DENY of the Fetch: READ on TOPIC:%s" % topic)
    audit_path = os.path.join(sd.data_dir, "audit.log")

    def fetch_denials():
        try:
            with open(audit_path) as f:
                recs = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return None
        return [r for r in recs if r.get("decision") == "DENY" and r.get("api") == "Fetch"]
    denials = h.wait_for(fetch_denials, 10, "a Fetch DENY record in %s" % audit_path, 0.2)
    want = [r for r in denials if r.get("principal") == "User:alice" and
            str(r.get("action", "")).upper() == "READ" and
            r.get("resource") == "TOPIC:%s" % topic and r.get("apiVersion", -1) >= 13 and
            r.get("auth") == "SASL_SCRAM"]
    h.check(want, "no DENY record for alice's Fetch v13+ (READ on TOPIC:%s); Fetch denials: %r"
            % (topic, denials[:5]))
    h.log("audit: %s" % json.dumps(want[0]))
    with open(audit_path) as f:
        h.check(ALICE_PASSWORD not in f.read(), "alice's SCRAM password in the audit log")
    h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
