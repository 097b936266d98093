"""strait's own security towards the brokers (issue 5, "Upstream"), with real peers: the
librdkafka 2.12 mock cluster (build/modernmock) behind HAProxy terminating TLS with a test CA
(openssl CLI), and, since the mock has no SASL, behind a small scripted Kafka SASL front in this
file (SaslFront: SaslHandshake v0/v1 + SaslAuthenticate v0/v1 with PLAIN and an independent
SCRAM-SHA-256/512 server written with Python's hashlib, a KIP-368 session lifetime it enforces
like a broker, then plain byte relay to the mock broker). The mock advertises the front's
addresses (set-host-port), so straitd reaches every broker only through them.

  1. SSL: straitd --upstream-security-protocol SSL --upstream-ca CA; the librdkafka 2.12 client
     and kcat produce and consume through straitd's insecure endpoint. Then the brokers'
     certificates are rotated to another CA: straitd refuses the upstream with a log line naming
     the certificate verification failure, and a confluent-kafka producer gets a normal Kafka
     delivery error.
  1b. Mutual TLS to the brokers (HAProxy requires a client certificate), set in a --config file;
     without the certificate straitd never serves.
  2. SASL_SSL SCRAM-SHA-512 (HAProxy TLS -> SaslFront -> mock) with a 1.5 s session lifetime:
     clients produce and consume for several lifetimes; straitd re-authenticates its upstream
     connections in time (the front counts re-authentications and never sees an expired session).
  3. SASL_PLAINTEXT PLAIN straight to the fronts: kcat produce + consume.
  2b. The same upstream for a managed cluster: CreateClusterV2 with straitUpstream and
     straitUpstreamSecurity (`strait kafka create-cluster-v2 --upstream-security`) becomes ACTIVE
     by discovering its brokers over SASL_SSL; an inline password is refused.
  4. SASL_PLAINTEXT SCRAM-SHA-256 with a wrong password: straitd never serves and logs the
     broker's refusal; a wrong CA at start: the same, naming the certificate failure.
The password never appears in any straitd log.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

USER = "strait-up"
PASSWORD = "upstream-Pa55word!"  # must never appear in a log


# ---- test CA and certificates (openssl CLI) -----------------------------------------------------

def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, timeout=60)
    h.check(r.returncode == 0, "openssl %s: %s" % (" ".join(args), r.stderr.decode()[-500:]))


def make_ca(d, name):
    """A CA and a server certificate for 127.0.0.1 / localhost it issued; returns (ca.pem,
    haproxy pem = server certificate + key)."""
    ca_key, ca = os.path.join(d, name + "-ca.key"), os.path.join(d, name + "-ca.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=%s test CA" % name)
    key, csr = os.path.join(d, name + "-srv.key"), os.path.join(d, name + "-srv.csr")
    crt, ext = os.path.join(d, name + "-srv.crt"), os.path.join(d, name + "-srv.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=broker")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    pem = os.path.join(d, name + "-haproxy.pem")
    with open(pem, "w") as out:
        out.write(open(crt).read() + open(key).read())
    return ca, pem


def make_client_cert(d, ca_name, cn):
    """A client certificate (clientAuth) issued by <ca_name>-ca: returns (cert, key)."""
    ca_key, ca = os.path.join(d, ca_name + "-ca.key"), os.path.join(d, ca_name + "-ca.pem")
    key, csr = os.path.join(d, cn + ".key"), os.path.join(d, cn + ".csr")
    crt, ext = os.path.join(d, cn + ".crt"), os.path.join(d, cn + ".ext")
    with open(ext, "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn)
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class HAProxy:
    """HAProxy terminating TLS on 127.0.0.1:<port> for each (host, port) target."""

    def __init__(self, d, targets, pem, ports=None, tag="tls", client_ca=None):
        self.ports = ports or [free_port() for _ in targets]
        self.cfg = os.path.join(d, "haproxy-%s.cfg" % tag)
        lines = ["global", "  maxconn 1000", "defaults", "  mode tcp", "  timeout connect 5s",
                 "  timeout client 120s", "  timeout server 120s"]
        for i, ((thost, tport), port) in enumerate(zip(targets, self.ports)):
            verify = " ca-file %s verify required" % client_ca if client_ca else ""
            lines += ["listen b%d" % i, "  bind 127.0.0.1:%d ssl crt %s%s" % (port, pem, verify),
                      "  server s %s:%d" % (thost, tport)]
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(d, "haproxy-%s.log" % tag), "ab")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def up():
            h.check(self.proc.poll() is None, "haproxy exited (see %s)" % self.log.name)
            for p in self.ports:
                try:
                    socket.create_connection(("127.0.0.1", p), 1).close()
                except OSError:
                    return False
            return True
        h.wait_for(up, 20, "haproxy listening")
        h.log("haproxy pid %d: TLS on %s" % (self.proc.pid, self.ports))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


# ---- a scripted Kafka SASL front for one mock broker --------------------------------------------

def _read_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            return None
        b += chunk
    return b


def _kstr(s):
    return struct.pack(">h", len(s)) + s


class SaslFront(threading.Thread):
    """Listens on 127.0.0.1:<ephemeral>; a connection must authenticate (SaslHandshake, then
    SaslAuthenticate rounds: PLAIN, or SCRAM-SHA-256/512 verified with hashlib) before any other
    request, which is then relayed to the target broker. With lifetime_ms, the session lifetime is
    returned (KIP-368) and, as a broker does, a request after expiry without re-authentication
    closes the connection (counted in `expired`)."""

    def __init__(self, target, users, lifetime_ms=0):
        super().__init__(daemon=True, name="sasl-front-%d" % target[1])
        self.target = target
        self.users = users
        self.lifetime_ms = lifetime_ms
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.auth_ok = self.auth_failed = self.reauths = self.expired = 0
        self.mechs_seen = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.ls.close()

    def _pump(self, up, c, wlock):
        try:
            while True:
                b = up.recv(65536)
                if not b:
                    break
                with wlock:
                    c.sendall(b)
        except OSError:
            pass
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _serve(self, c):
        wlock = threading.Lock()
        up = None
        mech = None
        scram = None
        authed = False
        expiry = None
        try:
            while True:
                hdr = _read_exact(c, 4)
                if hdr is None:
                    return
                size = struct.unpack(">i", hdr)[0]
                frame = _read_exact(c, size)
                if frame is None:
                    return
                key, ver, corr = struct.unpack(">hhi", frame[:8])
                cid_len = struct.unpack(">h", frame[8:10])[0]
                body = frame[10 + max(cid_len, 0):]
                if key == 17:  # SaslHandshake
                    ml = struct.unpack(">h", body[:2])[0]
                    mech = body[2:2 + ml].decode()
                    ok = mech in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
                    scram = None
                    mechs = [b"PLAIN", b"SCRAM-SHA-256", b"SCRAM-SHA-512"]
                    out = struct.pack(">ih", corr, 0 if ok else 33) + struct.pack(">i", len(mechs))
                    out += b"".join(_kstr(x) for x in mechs)
                    self._send(c, wlock, out)
                    if not ok:
                        return
                    continue
                if key == 36:  # SaslAuthenticate v0/v1
                    n = struct.unpack(">i", body[:4])[0]
                    auth = body[4:4 + n]
                    err, reply, done = self._auth_step(mech, auth, scram)
                    if isinstance(done, dict):
                        scram, done = done, False
                    out = struct.pack(">ih", corr, err)
                    out += (_kstr(b"Authentication failed: invalid credentials") if err
                            else struct.pack(">h", -1))
                    out += struct.pack(">i", len(reply)) + reply
                    if ver >= 1:
                        out += struct.pack(">q", self.lifetime_ms if done else 0)
                    self._send(c, wlock, out)
                    if err:
                        with self.lock:
                            self.auth_failed += 1
                        return
                    if done:
                        with self.lock:
                            if authed:
                                self.reauths += 1
                            else:
                                self.auth_ok += 1
                            self.mechs_seen.add(mech)
                        authed = True
                        expiry = (time.monotonic() + self.lifetime_ms / 1000.0
                                  if self.lifetime_ms else None)
                    continue
                if not authed:
                    return  # a broker closes a connection that skips SASL
                if expiry is not None and time.monotonic() > expiry:
                    with self.lock:
                        self.expired += 1
                    return
                if up is None:
                    up = socket.create_connection(self.target, 10)
                    up.settimeout(None)
                    threading.Thread(target=self._pump, args=(up, c, wlock), daemon=True).start()
                up.sendall(hdr + frame)
        except (OSError, ValueError, struct.error):
            pass
        finally:
            for s in (c, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def _send(self, c, wlock, payload):
        with wlock:
            c.sendall(struct.pack(">i", len(payload)) + payload)

    def _auth_step(self, mech, auth, scram):
        """Returns (error code, reply bytes, done | new SCRAM state dict)."""
        if mech == "PLAIN":
            parts = auth.split(b"\0")
            ok = len(parts) == 3 and self.users.get(parts[1].decode()) == parts[2].decode()
            return (0 if ok else 58), b"", ok
        hname = "sha256" if mech == "SCRAM-SHA-256" else "sha512"
        if scram is None:  # client-first
            msg = auth.decode()
            h.check(msg.startswith("n,,"), "SCRAM client-first without the n,, GS2 header")
            bare = msg[3:]
            attrs = dict(a.split("=", 1) for a in bare.split(","))
            user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
            pw = self.users.get(user, "\0no such user")
            salt, it = os.urandom(16), 4096
            nonce = attrs["r"] + base64.b64encode(os.urandom(18)).decode()
            first = "r=%s,s=%s,i=%d" % (nonce, base64.b64encode(salt).decode(), it)
            salted = hashlib.pbkdf2_hmac(hname, pw.encode(), salt, it)
            return 0, first.encode(), {"bare": bare, "first": first, "nonce": nonce,
                                       "salted": salted}
        msg = auth.decode()
        attrs = dict(a.split("=", 1) for a in msg.split(","))
        without_proof = msg[:msg.rindex(",p=")]
        auth_msg = ("%s,%s,%s" % (scram["bare"], scram["first"], without_proof)).encode()
        ck = hmac.new(scram["salted"], b"Client Key", hname).digest()
        stored = hashlib.new(hname, ck).digest()
        sig = hmac.new(stored, auth_msg, hname).digest()
        proof = base64.b64decode(attrs["p"])
        ok = (attrs.get("r") == scram["nonce"] and attrs.get("c") == "biws" and
              len(proof) == len(sig) and
              hashlib.new(hname, bytes(a ^ b for a, b in zip(proof, sig))).digest() == stored)
        if not ok:
            return 58, b"", False
        sk = hmac.new(scram["salted"], b"Server Key", hname).digest()
        v = base64.b64encode(hmac.new(sk, auth_msg, hname).digest())
        return 0, b"v=" + v, True


# ---- clients ------------------------------------------------------------------------------------

def kcat_produce_consume(mock, bootstrap, topic, n=20):
    topic = topic + "-kcat"
    mock.create_topic(topic, 1, 3)
    msgs = ["%s-%d" % (topic, i) for i in range(n)]
    r = subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-p", "0"],
                       input="\n".join(msgs).encode() + b"\n", capture_output=True, timeout=60)
    h.check(r.returncode == 0, "kcat -P: %s" % r.stderr.decode()[-500:])
    r = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
                        "-e", "-q"], capture_output=True, timeout=60)
    got = r.stdout.decode().split()
    h.check(r.returncode == 0 and got == msgs, "kcat -C: status %d, %d of %d messages: %s" % (
        r.returncode, len(got), n, r.stderr.decode()[-300:]))
    h.log("kcat produced and consumed %d messages on %s" % (n, topic))


def slow_produce(bootstrap, topic, seconds, interval=0.2):
    """One confluent-kafka producer sending a message every `interval` for `seconds` (its broker
    connections stay open across several upstream session lifetimes); returns the values."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": 30000})
    errors, sent = [], []
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        v = "%s-slow-%d" % (topic, i)
        p.produce(topic, value=v.encode(), partition=0,
                  on_delivery=lambda e, msg: errors.append(e) if e else None)
        sent.append(v)
        i += 1
        p.poll(0)
        time.sleep(interval)
    h.check(p.flush(30) == 0, "slow producer: messages left after flush")
    h.check(not errors, "slow producer: delivery errors %s" % errors[:3])
    return sent


def expect_delivery_error(bootstrap, topic):
    """A confluent-kafka producer whose message cannot be delivered: returns the Kafka error."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 6000,
                  "socket.timeout.ms": 3000})
    res = []
    p.produce(topic, value=b"x", on_delivery=lambda e, msg: res.append(e))
    p.flush(20)
    h.check(len(res) == 1 and res[0] is not None, "expected a delivery error, got %r" % res)
    return res[0]


def log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def check_no_secret(path):
    h.check(PASSWORD not in log_text(path), "the upstream password appears in %s" % path)


def wait_log(path, needle, timeout=30):
    return h.wait_for(lambda: needle in log_text(path), timeout, "log line %r" % needle)


def straitd_never_ready(d, upstream, args, needle, what):
    """Starts straitd with `args`, waits for `needle` in its log, checks it never got ready."""
    data = tempfile.mkdtemp(prefix="strait-upsec-", dir=d)
    logp, ready = os.path.join(data, "straitd.log"), os.path.join(data, "ready.json")
    addr = h.pick_loopback(14001, 3)
    with open(logp, "ab") as lf:
        proc = subprocess.Popen([h.STRAITD, "--data-dir", data, "--upstream", upstream,
                                 "--insecure-endpoint", addr, "--ready-file", ready] + args,
                                stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_log(logp, needle)
        h.check(proc.poll() is None, "%s: straitd exited" % what)
        h.check(not os.path.exists(ready), "%s: straitd became ready" % what)
        line = [ln for ln in log_text(logp).splitlines() if needle in ln][0]
        h.log("%s: %s" % (what, line.strip()[:300]))
        check_no_secret(logp)
    finally:
        proc.terminate()
        proc.wait(15)


def control_plane_case(d, upstream, ca, pwfile, fronts):
    """A managed cluster (CreateClusterV2 with straitUpstream + straitUpstreamSecurity, through the
    `strait kafka` CLI) becomes ACTIVE only by discovering its brokers over SASL_SSL; the password
    stays in its file (not in Describe, the store's state or the log); an inline password is
    refused."""
    import json
    data = tempfile.mkdtemp(prefix="strait-upsec-cp-", dir=d)
    logp, ready = os.path.join(data, "straitd.log"), os.path.join(data, "ready.json")
    sub_ip = h.pick_loopback(14001, 3)
    with open(logp, "ab") as lf:
        proc = subprocess.Popen([h.STRAITD, "--data-dir", data, "--api-listen", "127.0.0.1:0",
                                 "--ready-file", ready, "--cluster-create-timeout", "60"],
                                stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    strait = os.path.join(h.BUILD_DIR, "strait")
    try:
        h.wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 30,
                   "control-plane straitd ready")
        api = json.load(open(ready))["apiEndpoint"]
        doc = {"region": "us-east-1", "accounts": [{
            "id": "111122223333", "name": "provider",
            "users": [{"name": "admin", "accessKeys": [{
                "id": "AKIAUPSECADMIN000001", "secret": "upsecAdminSecret000000000000000000000001"}],
                "managedPolicies": ["AmazonMSKFullAccess"]}],
            "vpcs": [{"id": "vpc-p", "cidr": "10.0.0.0/16", "subnets": [
                {"id": "subnet-p1", "azId": "use1-az1", "endpointAddress": sub_ip}]}]}]}
        applyp = os.path.join(data, "apply.json")
        with open(applyp, "w") as f:
            json.dump(doc, f)
        r = subprocess.run([strait, "admin", "--data-dir", data, "apply", applyp],
                           capture_output=True, timeout=60)
        h.check(r.returncode == 0, "apply: %s" % r.stderr.decode())
        env = dict(os.environ, STRAIT_ENDPOINT_URL="http://" + api,
                   AWS_ACCESS_KEY_ID="AKIAUPSECADMIN000001",
                   AWS_SECRET_ACCESS_KEY="upsecAdminSecret000000000000000000000001")
        prov = json.dumps({"kafkaVersion": "3.6.0", "numberOfBrokerNodes": 3,
                           "brokerNodeGroupInfo": {"clientSubnets": ["subnet-p1"],
                                                   "instanceType": "kafka.m5.large"}})

        def kafka(*args, ok=True):
            r = subprocess.run([strait, "kafka"] + list(args), capture_output=True, env=env,
                               timeout=60)
            out = r.stdout.decode() + r.stderr.decode()
            if ok:
                h.check(r.returncode == 0, "strait kafka %s: %s" % (args[0], out))
            return r.returncode, out
        rc, out = kafka("create-cluster-v2", "--cluster-name", "inline", "--upstream", upstream,
                        "--provisioned", prov, "--upstream-security", json.dumps(
                            {"protocol": "SASL_SSL", "username": USER, "password": PASSWORD}),
                        ok=False)
        h.check(rc != 0 and "straitUpstreamSecurity.password is not known" in out,
                "an inline password was not refused: %s" % out)
        before = sum(f.auth_ok for f in fronts)
        spec = {"protocol": "SASL_SSL", "saslMechanism": "SCRAM-SHA-512", "username": USER,
                "passwordFile": pwfile, "caFile": ca}
        rc, out = kafka("create-cluster-v2", "--cluster-name", "upsec", "--upstream", upstream,
                        "--provisioned", prov, "--upstream-security", json.dumps(spec))
        arn = json.loads(out)["ClusterArn"]

        def active():
            _, o = kafka("describe-cluster-v2", "--cluster-arn", arn)
            st = json.loads(o)["ClusterInfo"]["State"]
            h.check(st != "FAILED", "managed cluster FAILED: %s" % o)
            return o if st == "ACTIVE" else None
        desc = h.wait_for(active, 60, "managed cluster ACTIVE", interval=0.2)
        h.check(sum(f.auth_ok for f in fronts) > before,
                "the managed cluster's discovery did not authenticate at the SASL fronts")
        h.check(PASSWORD not in desc, "Describe shows the upstream password")
        r = subprocess.run([strait, "admin", "--data-dir", data, "state"], capture_output=True,
                           timeout=60)
        h.check(PASSWORD not in r.stdout.decode(), "admin state shows the upstream password")
        check_no_secret(logp)
        h.log("managed cluster %s ACTIVE through SASL_SSL SCRAM-SHA-512 (CreateClusterV2 "
              "straitUpstreamSecurity)" % arn)
    finally:
        proc.terminate()
        proc.wait(15)


def test():
    d = tempfile.mkdtemp(prefix="strait-upsec-")
    ca1, pem1 = make_ca(d, "one")
    ca2, pem2 = make_ca(d, "two")
    pwfile = os.path.join(d, "password")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pwfile, 0o600)
    with m.ModernMock(brokers=3) as mock:
        real = [tuple(hp.rsplit(":", 1)) for hp in mock.bootstrap.split(",")]
        real = [(host, int(port)) for host, port in real]

        # 1. SSL through HAProxy; then the brokers' certificate moves to an untrusted CA.
        hp = HAProxy(d, real, pem1, tag="ssl")
        try:
            for node, port in enumerate(hp.ports, 1):
                mock.command("set-host-port", node, "127.0.0.1", port)
            upstream = ",".join("127.0.0.1:%d" % p for p in hp.ports)
            with m.UpstreamStraitd(upstream, ports=3, extra_args=[
                    "--upstream-security-protocol", "SSL", "--upstream-ca", ca1]) as sd:
                topic = h.unique_name("upsec-ssl")
                mock.create_topic(topic, 3, 3)
                rep = m.run_client(sd.bootstrap, topic, 500, forbid=m.forbidden_strings(sd, mock))
                h.check(rep["matched"] == 500, "SSL: matched %d of 500" % rep["matched"])
                kcat_produce_consume(mock, sd.bootstrap, topic)
                c = sd.status()["clusters"][0]["counters"]
                h.check(c["protocolErrors"] == 0, "SSL: %d protocol errors" % c["protocolErrors"])
                hp.stop()
                hp = HAProxy(d, real, pem2, ports=hp.ports, tag="ssl-rotated")
                err = expect_delivery_error(sd.bootstrap, topic)
                h.log("untrusted broker certificate: the client got %s" % err)
                wait_log(sd.log_path, "certificate verification")
                line = [ln for ln in log_text(sd.log_path).splitlines()
                        if "certificate verification" in ln][0]
                h.log("straitd: %s" % line.strip()[:300])
                h.check(sd.alive(), "straitd died")
        finally:
            hp.stop()

        # 1b. Mutual TLS to the brokers (HAProxy requires a client certificate from CA one),
        #     configured through a --config file.
        crt, key = make_client_cert(d, "one", "strait-gateway")
        hp = HAProxy(d, real, pem1, tag="mtls", client_ca=ca1)
        try:
            for node, port in enumerate(hp.ports, 1):
                mock.command("set-host-port", node, "127.0.0.1", port)
            upstream = ",".join("127.0.0.1:%d" % p for p in hp.ports)
            conf = os.path.join(d, "straitd-mtls.conf")
            with open(conf, "w") as f:
                f.write("# upstream mutual TLS\nupstream-security-protocol = SSL\n"
                        "upstream-ca = %s\nupstream-cert = %s\nupstream-key = %s\n"
                        "upstream-ssl-verify-hostname = true\n" % (ca1, crt, key))
            with m.UpstreamStraitd(upstream, ports=3, extra_args=["--config", conf]) as sd:
                topic = h.unique_name("upsec-mtls")
                kcat_produce_consume(mock, sd.bootstrap, topic)
            straitd_never_ready(d, upstream, ["--upstream-security-protocol", "SSL",
                                              "--upstream-ca", ca1],
                                "TLS with the broker failed", "mTLS broker, no client certificate")
        finally:
            hp.stop()

        # 2. SASL_SSL SCRAM-SHA-512 (HAProxy -> SaslFront -> mock), 1.5 s session lifetime.
        fronts = [SaslFront(t, {USER: PASSWORD}, lifetime_ms=1500) for t in real]
        for f in fronts:
            f.start()
        hp = HAProxy(d, [("127.0.0.1", f.port) for f in fronts], pem1, tag="sasl-ssl")
        try:
            for node, port in enumerate(hp.ports, 1):
                mock.command("set-host-port", node, "127.0.0.1", port)
            upstream = ",".join("127.0.0.1:%d" % p for p in hp.ports)
            with m.UpstreamStraitd(upstream, ports=3, extra_args=[
                    "--upstream-security-protocol", "SASL_SSL", "--upstream-ca", ca1,
                    "--upstream-sasl-mechanism", "SCRAM-SHA-512",
                    "--upstream-sasl-username", USER,
                    "--upstream-sasl-password-file", pwfile]) as sd:
                topic = h.unique_name("upsec-scram")
                mock.create_topic(topic, 3, 3)
                rep = m.run_client(sd.bootstrap, topic, 500, forbid=m.forbidden_strings(sd, mock))
                h.check(rep["matched"] == 500, "SCRAM: matched %d of 500" % rep["matched"])
                sent = slow_produce(sd.bootstrap, topic, 5.0)
                h.log("slow producer: %d messages over 5 s" % len(sent))
                got = h.consume_to_eof(sd.bootstrap, topic)
                h.log("consumed %d messages back" % len(got))
                values = {g[3] for g in got}
                missing = [v for v in sent if v not in values]
                h.check(not missing, "SCRAM: %d slow messages not consumed back, first %s" % (
                    len(missing), missing[:1]))
                ok = sum(f.auth_ok for f in fronts)
                re = sum(f.reauths for f in fronts)
                exp = sum(f.expired for f in fronts)
                h.log("SASL fronts: %d authentications, %d re-authentications, %d expired" % (
                    ok, re, exp))
                h.check(ok > 0 and {"SCRAM-SHA-512"} == set().union(
                    *[f.mechs_seen for f in fronts]), "SCRAM-SHA-512 not used")
                h.check(re > 0, "straitd never re-authenticated its upstream (KIP-368)")
                h.check(exp == 0, "%d upstream sessions expired without re-authentication" % exp)
                check_no_secret(sd.log_path)
            control_plane_case(d, upstream, ca1, pwfile, fronts)
        finally:
            hp.stop()

        # 3. SASL_PLAINTEXT PLAIN straight to the fronts.
        for node, f in enumerate(fronts, 1):
            mock.command("set-host-port", node, "127.0.0.1", f.port)
        upstream = ",".join("127.0.0.1:%d" % f.port for f in fronts)
        before = sum(f.auth_ok for f in fronts)
        with m.UpstreamStraitd(upstream, ports=3, extra_args=[
                "--upstream-security-protocol", "SASL_PLAINTEXT",
                "--upstream-sasl-mechanism", "PLAIN", "--upstream-sasl-username", USER,
                "--upstream-sasl-password-file", pwfile]) as sd:
            topic = h.unique_name("upsec-plain")
            mock.create_topic(topic, 1, 3)
            kcat_produce_consume(mock, sd.bootstrap, topic)
            h.check(sum(f.auth_ok for f in fronts) > before and
                    any("PLAIN" in f.mechs_seen for f in fronts), "PLAIN not used")
            check_no_secret(sd.log_path)

        # 4. Refusals at start: wrong password (SCRAM-SHA-256), wrong CA.
        badpw = os.path.join(d, "bad-password")
        with open(badpw, "w") as f:
            f.write("not-the-password")
        straitd_never_ready(d, upstream, [
            "--upstream-security-protocol", "SASL_PLAINTEXT", "--upstream-sasl-mechanism",
            "SCRAM-SHA-256", "--upstream-sasl-username", USER, "--upstream-sasl-password-file",
            badpw], "refused strait's SASL SCRAM-SHA-256 credentials for user '%s'" % USER,
            "wrong password")
        h.check(sum(f.auth_failed for f in fronts) > 0, "the fronts saw no failed authentication")
        for f in fronts:
            f.stop()
        hp = HAProxy(d, real, pem1, tag="wrong-ca")
        try:
            for node, port in enumerate(hp.ports, 1):
                mock.command("set-host-port", node, "127.0.0.1", port)
            straitd_never_ready(d, ",".join("127.0.0.1:%d" % p for p in hp.ports), [
                "--upstream-security-protocol", "SSL", "--upstream-ca", ca2],
                "certificate verification", "wrong CA")
        finally:
            hp.stop()
    if os.environ.get("ST_KEEP") != "1":
        import shutil
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    m.main(test)
