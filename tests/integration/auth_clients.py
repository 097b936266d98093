"""Client side of test_auth_sasl.js (not a test by itself): python3 confluent-kafka with SASL_SSL
SCRAM-SHA-512 and OAUTHBEARER (token from oauth_cb), kcat with SASL_SSL SCRAM, and raw Kafka frames
over TLS for the negatives real clients cannot produce: SASL before the handshake, an oversized
pre-authentication frame, a replayed AWS_MSK_IAM signature outside the time window, a payload for
another host, SaslHandshake v0; a plaintext client on the TLS port and a client that does not
trust strait's CA. Mutual TLS: confluent-kafka and kcat with a client certificate issued by the
installation CA (produce, consume, metadata), and a client certificate from another CA (refused).

Environment (set by test_auth_sasl.js): ST_IAM_BROKERS, ST_SCRAM_BROKERS (host:port lists),
ST_REGION, ST_OAUTH_TOKEN, ST_CA (installation CA certificate), and the dev user's keys in ST_DEV_KEY / ST_DEV_SECRET.
Exits non-zero on the first failed check.
"""
import datetime
import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

IAM = os.environ["ST_IAM_BROKERS"].split(",")
SCRAM = os.environ["ST_SCRAM_BROKERS"].split(",")
REGION = os.environ["ST_REGION"]
CA = os.environ["ST_CA"]
TOKEN = os.environ["ST_OAUTH_TOKEN"]
DEV_KEY = os.environ["ST_DEV_KEY"]
DEV_SECRET = os.environ["ST_DEV_SECRET"]


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def produce_consume(conf, topic, value):
    p = Producer(dict(conf, **{"message.timeout.ms": 20000}))
    errs = []
    p.produce(topic, value=value.encode(), on_delivery=lambda e, m: errs.append(e))
    check(p.flush(30) == 0 and errs == [None], "%s: delivery failed: %s" % (topic, errs))
    c = Consumer(dict(conf, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    got = None
    while got is None and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got = m.value().decode()
    c.close()
    check(got == value, "%s: consumed %r, expected %r" % (topic, got, value))


def expect_auth_error(conf, what, word="Authentication failed"):
    """A client with `conf` must report a SASL authentication error (librdkafka's _AUTHENTICATION,
    carrying strait's SASL_AUTHENTICATION_FAILED message) and never get metadata."""
    errors = []
    p = Producer(dict(conf, **{"error_cb": lambda e: errors.append(e)}))
    deadline = time.monotonic() + 20
    auth = []
    while not auth and time.monotonic() < deadline:
        p.poll(0.2)
        auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    check(auth, "%s: no authentication error (errors: %s)" % (what, [str(e) for e in errors]))
    check(word in auth[0].str(), "%s: %r lacks %r" % (what, auth[0].str(), word))
    try:
        p.list_topics(timeout=1)
        raise AssertionError("%s: got metadata" % what)
    except KafkaException:
        pass
    log("  ok: %s: %s" % (what, auth[0].str()[:200]))


# ---- raw frames

def frame(api_key, version, corr, body, client_id=b"raw"):
    hdr = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    if (api_key == 36 and version >= 2):
        hdr += b"\x00"
    msg = hdr + body
    return struct.pack(">i", len(msg)) + msg


def connect(hp, tls=True):
    host, port = hp.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    if not tls:
        return s
    ctx = ssl.create_default_context(cafile=CA)
    return ctx.wrap_socket(s, server_hostname=host)


def read_frame(s):
    """The next response frame, or None when the server closed the connection."""
    buf = b""
    while len(buf) < 4:
        chunk = s.recv(4 - len(buf))
        if not chunk:
            return None
        buf += chunk
    n = struct.unpack(">i", buf)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def handshake(s, mech, version=1, corr=1):
    m = mech.encode()
    s.sendall(frame(17, version, corr, struct.pack(">h", len(m)) + m))
    r = read_frame(s)
    check(r is not None, "no SaslHandshake response")
    return struct.unpack(">h", r[4:6])[0]


def authenticate(s, auth_bytes, corr=2):
    """SaslAuthenticate v1: (error, message, bytes) or None when closed without a response."""
    s.sendall(frame(36, 1, corr, struct.pack(">i", len(auth_bytes)) + auth_bytes))
    r = read_frame(s)
    if r is None:
        return None
    err = struct.unpack(">h", r[4:6])[0]
    ml = struct.unpack(">h", r[6:8])[0]
    msg = r[8:8 + ml].decode() if ml >= 0 else None
    return err, msg


def closed_without_response(s):
    try:
        return read_frame(s) is None
    except (ConnectionResetError, socket.timeout, ssl.SSLError):
        return True


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def iam_payload(host, when, akid, secret, region=REGION, expires=900, token=None):
    """An AWS_MSK_IAM payload as the Java client builds it, signed at `when` (datetime, UTC)."""
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    scope = "%s/%s/kafka-cluster/aws4_request" % (day, region)
    q = {"Action": "kafka-cluster:Connect", "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
         "X-Amz-Credential": "%s/%s" % (akid, scope), "X-Amz-Date": amz_date,
         "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    if token:
        q["X-Amz-Security-Token"] = token
    cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                  for k, v in sorted(q.items()))
    creq = "GET\n/\n%s\nhost:%s\n\nhost\n%s" % (cq, host, hashlib.sha256(b"").hexdigest())
    sts = "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, hashlib.sha256(creq.encode()).hexdigest())
    k = sign(("AWS4" + secret).encode(), day)
    k = sign(k, region)
    k = sign(k, "kafka-cluster")
    k = sign(k, "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    p = {"version": "2020_10_22", "host": host, "user-agent": "strait-test",
         "action": "kafka-cluster:Connect", "x-amz-algorithm": "AWS4-HMAC-SHA256",
         "x-amz-credential": q["X-Amz-Credential"], "x-amz-date": amz_date,
         "x-amz-signedheaders": "host", "x-amz-expires": str(expires), "x-amz-signature": sig}
    if token:
        p["x-amz-security-token"] = token
    return json.dumps(p).encode()


def authenticate_lifetime(s, auth_bytes, corr):
    """SaslAuthenticate v1: (error, message, SessionLifetimeMs)."""
    s.sendall(frame(36, 1, corr, struct.pack(">i", len(auth_bytes)) + auth_bytes))
    r = read_frame(s)
    check(r is not None, "SaslAuthenticate: no response")
    err = struct.unpack(">h", r[4:6])[0]
    ml = struct.unpack(">h", r[6:8])[0]
    off = 8 + max(ml, 0)
    bl = struct.unpack(">i", r[off:off + 4])[0]
    life = struct.unpack(">q", r[off + 4 + bl:off + 12 + bl])[0]
    return err, (r[8:8 + ml].decode() if ml > 0 else None), life


def metadata_ok(s, corr):
    """Metadata v1 for all topics: True when a response with brokers arrives, False when closed."""
    s.sendall(frame(3, 1, corr, struct.pack(">i", -1)))
    try:
        r = read_frame(s)
    except (ConnectionResetError, ssl.SSLError):
        return False
    return r is not None and struct.unpack(">i", r[:4])[0] == corr


def main():
    scram = {"bootstrap.servers": ",".join(SCRAM), "security.protocol": "SASL_SSL", "ssl.ca.location": CA,
             "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice",
             "sasl.password": "alice-secret"}
    produce_consume(scram, "scram-py", "via SCRAM-SHA-512")
    log("confluent-kafka SCRAM-SHA-512: produce + consume")

    calls = []

    def oauth_cb(config):
        calls.append(config)
        return TOKEN, time.time() + 600

    oauth = {"bootstrap.servers": ",".join(IAM), "security.protocol": "SASL_SSL", "ssl.ca.location": CA,
             "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": oauth_cb}
    produce_consume(oauth, "oauth-py", "via OAUTHBEARER")
    check(calls, "oauth_cb was called")
    log("confluent-kafka OAUTHBEARER (oauth_cb): produce + consume")

    expect_auth_error(dict(scram, **{"sasl.password": "nope"}), "confluent-kafka wrong SCRAM password")

    for what, var, word in (("expired OAUTHBEARER token", "ST_EXPIRED_TOKEN", "request expired"),
                            ("OAUTHBEARER token for another region", "ST_OTHER_REGION_TOKEN",
                             "wrong region"),
                            ("OAUTHBEARER token for another host", "ST_OTHER_HOST_TOKEN",
                             "another host")):
        tok = os.environ[var]
        expect_auth_error(dict(oauth, **{"oauth_cb": lambda c, t=tok: (t, time.time() + 600)}),
                          what, word)

    # ---- mutual TLS (security.protocol=SSL with a client certificate)
    mtls = {"bootstrap.servers": os.environ["ST_TLS_BROKERS"], "security.protocol": "SSL",
            "ssl.ca.location": CA, "ssl.certificate.location": os.environ["ST_CLIENT_CERT"],
            "ssl.key.location": os.environ["ST_CLIENT_KEY"]}
    produce_consume(mtls, "mtls-py", "via mutual TLS")
    log("confluent-kafka mutual TLS: produce + consume")
    work = os.environ["ST_WORK_DIR"]
    rogue_key, rogue_cert = os.path.join(work, "rogue.key"), os.path.join(work, "rogue.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=mtls-client/O=payments",
                    "-days", "1", "-keyout", rogue_key, "-out", rogue_cert],
                   check=True, capture_output=True, timeout=60)
    errors = []
    p = Producer(dict(mtls, **{"ssl.certificate.location": rogue_cert,
                               "ssl.key.location": rogue_key,
                               "error_cb": lambda e: errors.append(e)}))
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        p.poll(0.2)
    check(errors and errors[0].code() in (KafkaError._SSL, KafkaError._TRANSPORT,
                                          KafkaError._ALL_BROKERS_DOWN),
          "client certificate from another CA: %s" % [str(e) for e in errors])
    try:
        p.list_topics(timeout=1)
        raise AssertionError("a client certificate from another CA got metadata")
    except KafkaException:
        pass
    log("  ok: client certificate from another CA: %s" % errors[0].str()[:160])

    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if kcat:
        out = subprocess.run([kcat, "-b", SCRAM[0], "-X", "security.protocol=SASL_SSL",
                              "-X", "ssl.ca.location=" + CA,
                              "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=alice",
                              "-X", "sasl.password=alice-secret", "-L", "-m", "15"],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0 and "broker" in out.stdout, "kcat SCRAM -L: %s %s" % (out.stdout, out.stderr))
        log("kcat SCRAM-SHA-512 metadata: ok")
        out = subprocess.run([kcat, "-b", os.environ["ST_TLS_BROKERS"].split(",")[0],
                              "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + CA,
                              "-X", "ssl.certificate.location=" + os.environ["ST_CLIENT_CERT"],
                              "-X", "ssl.key.location=" + os.environ["ST_CLIENT_KEY"],
                              "-L", "-m", "15"], capture_output=True, text=True, timeout=60)
        check(out.returncode == 0 and "broker" in out.stdout,
              "kcat mutual TLS -L: %s %s" % (out.stdout, out.stderr))
        log("kcat mutual TLS metadata: ok")
    else:
        log("kcat not installed: kcat check skipped")

    # ---- TLS negatives: a plaintext Kafka client on the TLS port; a client without strait's CA
    host = IAM[0].rsplit(":", 1)[0]
    s = connect(IAM[0], tls=False)
    s.sendall(frame(18, 0, 1, b""))
    check(closed_without_response(s), "plaintext ApiVersions on a TLS endpoint: closed")
    s.close()
    log("  ok: plaintext client on a TLS endpoint: closed")
    raw = socket.create_connection((host, int(IAM[0].rsplit(":", 1)[1])), timeout=10)
    try:
        ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        raise AssertionError("a client that does not trust strait's CA completed the handshake")
    except ssl.SSLCertVerificationError as e:
        log("  ok: client without strait's CA: %s" % e.verify_message)
    raw.close()

    # ---- before authentication strait answers ApiVersions itself (no broker connection yet),
    # in the layout of the version asked for (the embedded 2.0.2 mock speaks ApiVersions up to v2)
    for v in (0, 2):
        s = connect(IAM[0])
        body = b""
        if v >= 3:  # header tags; ClientSoftwareName, ClientSoftwareVersion (compact), no tags
            body = bytes([0]) + bytes([4]) + b"raw" + bytes([2]) + b"1" + bytes([0])
        s.sendall(frame(18, v, 5, body))
        r = read_frame(s)
        s.close()
        check(r is not None and struct.unpack(">i", r[:4])[0] == 5, "ApiVersions v%d answered" % v)
        p = r[4:]
        check(struct.unpack(">h", p[:2])[0] == 0, "ApiVersions v%d: no error" % v)
        if v >= 3:
            n, off, shift = 0, 2, 0
            while True:
                b = p[off]
                off += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            n -= 1
            keys = {struct.unpack(">h", p[off + 7 * i:off + 7 * i + 2])[0] for i in range(n)}
        else:
            n = struct.unpack(">i", p[2:6])[0]
            keys = {struct.unpack(">h", p[6 + 6 * i:8 + 6 * i])[0] for i in range(n)}
        check({0, 1, 3, 17, 18, 36, 29, 30, 31} <= keys and 64 not in keys,
              "ApiVersions v%d before authentication lists SASL, the data APIs and the ACL APIs: %s" % (v, sorted(keys)))
    log("  ok: ApiVersions v0 and v2 answered before authentication")

    # ---- raw negatives
    s = connect(IAM[0])
    s.sendall(frame(3, 1, 7, struct.pack(">i", 0)))
    check(closed_without_response(s), "Metadata before the handshake: closed without a response")
    s.close()
    log("  ok: Metadata before the SASL handshake: closed")

    s = connect(IAM[0])
    r = authenticate(s, b"{}")
    check(r is not None and r[0] == 34 and "during SASL handshake" in (r[1] or ""),
          "SaslAuthenticate before the handshake: ILLEGAL_SASL_STATE, got %r" % (r,))
    check(closed_without_response(s), "SaslAuthenticate before the handshake: closed after the answer")
    s.close()
    log("  ok: SaslAuthenticate before SaslHandshake: 34 %s, closed" % r[1])

    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM", corr=1) == 0, "handshake")
    check(handshake(s, "AWS_MSK_IAM", corr=2) == 34, "second SaslHandshake mid-exchange: ILLEGAL_SASL_STATE")
    check(closed_without_response(s), "second SaslHandshake: closed after the answer")
    s.close()
    log("  ok: second SaslHandshake during the exchange: 34, closed")

    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM", corr=1) == 0, "handshake")
    now = datetime.datetime.now(datetime.timezone.utc)
    r = authenticate(s, iam_payload(host, now, DEV_KEY, DEV_SECRET), corr=2)
    check(r is not None and r[0] == 0, "authenticated: %r" % (r,))
    r = authenticate(s, iam_payload(host, now, DEV_KEY, DEV_SECRET), corr=3)
    check(r is not None and r[0] == 34 and "after successful authentication" in (r[1] or ""),
          "SaslAuthenticate after completion: %r" % (r,))
    check(metadata_ok(s, 4), "the authenticated connection stays usable (as in Kafka)")
    s.close()
    log("  ok: SaslAuthenticate after completion without a handshake: 34 %s; connection kept" % r[1])

    s = connect(IAM[0])
    s.sendall(struct.pack(">i", 1 << 20) + struct.pack(">hhih", 17, 1, 1, 0) + b"x" * 1000)
    check(closed_without_response(s), "oversized pre-authentication frame: closed")
    s.close()
    log("  ok: 1 MiB frame before authentication: closed")

    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM", version=0) == 35, "SaslHandshake v0 answered UNSUPPORTED_VERSION")
    check(closed_without_response(s), "SaslHandshake v0: closed after the answer")
    s.close()
    log("  ok: SaslHandshake v0 refused")

    now = datetime.datetime.now(datetime.timezone.utc)
    cases = [
        ("replayed signature outside the time window",
         iam_payload(host, now - datetime.timedelta(minutes=20), DEV_KEY, DEV_SECRET), "expired"),
        ("payload signed for another host", iam_payload("10.9.9.9", now, DEV_KEY, DEV_SECRET), "host"),
        ("wrong secret key (raw)", iam_payload(host, now, DEV_KEY, "not-the-secret"), "signature"),
    ]
    for what, payload, word in cases:
        s = connect(IAM[0])
        check(handshake(s, "AWS_MSK_IAM") == 0, "%s: handshake" % what)
        r = authenticate(s, payload)
        check(r is not None and r[0] == 58 and word in (r[1] or ""), "%s: got %r" % (what, r))
        check(closed_without_response(s), "%s: closed after the failure" % what)
        s.close()
        log("  ok: %s: 58 %s" % (what, r[1]))

    # OAUTHBEARER failure: the RFC 7628 error challenge, the client's 0x01, then 58.
    s = connect(IAM[0])
    check(handshake(s, "OAUTHBEARER") == 0, "OAUTHBEARER handshake")
    tok = os.environ["ST_EXPIRED_TOKEN"].encode()
    s.sendall(frame(36, 1, 2, struct.pack(">i", len(tok) + 18) + b"n,,\x01auth=Bearer " + tok + b"\x01\x01"))
    r = read_frame(s)
    check(r is not None and struct.unpack(">h", r[4:6])[0] == 0 and b'"invalid_token"' in r,
          "OAUTHBEARER error challenge: %r" % (r,))
    r = authenticate(s, b"\x01", corr=3)
    check(r is not None and r[0] == 58 and "expired" in (r[1] or ""), "after 0x01: %r" % (r,))
    s.close()
    log("  ok: expired OAUTHBEARER token: error challenge, 0x01, then 58 %s" % r[1])

    # ---- KIP-368: SessionLifetimeMs from the signature's expiry, expiry enforced, and
    # re-authentication (same principal: accepted; another principal: refused).
    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM", corr=1) == 0, "handshake")
    now = datetime.datetime.now(datetime.timezone.utc)
    err, msg, life = authenticate_lifetime(s, iam_payload(host, now, DEV_KEY, DEV_SECRET,
                                                          expires=6), 2)
    check(err == 0 and 0 < life <= 6000, "short-lived signature: error %d, lifetime %d" % (err, life))
    check(metadata_ok(s, 3), "Metadata within the session")
    time.sleep(life / 1000.0 + 0.5)
    check(not metadata_ok(s, 4), "Metadata after the session expired: the connection is closed")
    s.close()
    log("  ok: session of %d ms enforced (KIP-368): closed after expiry" % life)

    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM", corr=1) == 0, "handshake")
    now = datetime.datetime.now(datetime.timezone.utc)
    err, msg, life = authenticate_lifetime(s, iam_payload(host, now, DEV_KEY, DEV_SECRET,
                                                          expires=6), 2)
    check(err == 0 and 0 < life <= 6000, "first session: %d %d" % (err, life))
    check(handshake(s, "AWS_MSK_IAM", corr=3) == 0, "re-authentication handshake")
    fresh = datetime.datetime.now(datetime.timezone.utc)
    err, msg, life2 = authenticate_lifetime(s, iam_payload(host, fresh, DEV_KEY, DEV_SECRET), 4)
    check(err == 0 and life2 > 6000, "re-authentication: %d %r %d" % (err, msg, life2))
    time.sleep(life / 1000.0 + 0.5)
    check(metadata_ok(s, 5), "after re-authentication the connection outlives the first session")
    check(handshake(s, "AWS_MSK_IAM", corr=6) == 0, "second re-authentication handshake")
    err, msg, _ = authenticate_lifetime(
        s, iam_payload(host, fresh, os.environ["ST_ROLE_KEY"], os.environ["ST_ROLE_SECRET"],
                       token=os.environ["ST_ROLE_TOKEN"]), 7)
    check(err == 58 and "Cannot change principals" in (msg or ""),
          "re-authentication as another principal: %d %r" % (err, msg))
    check(closed_without_response(s), "closed after the refused re-authentication")
    s.close()
    log("  ok: re-authentication keeps the connection; another principal is refused: %s" % msg)

    # The control: the same builder, signed now for the dialled host, authenticates.
    s = connect(IAM[0])
    check(handshake(s, "AWS_MSK_IAM") == 0, "handshake")
    r = authenticate(s, iam_payload(host, now, DEV_KEY, DEV_SECRET))
    check(r is not None and r[0] == 0, "fresh payload accepted: %r" % (r,))
    s.close()
    log("raw negatives refused; a fresh raw payload is accepted")


if __name__ == "__main__":
    main()
