"""1,000 malformed frames on the plaintext endpoint, each on its own connection: negative, huge, tiny
and wrong sizes, truncated headers and bodies, unknown api keys, known api keys at unsupported
versions, random bytes, HTTP requests and a TLS ClientHello. Each one gets its own connection closed
(frames no server could accept are closed without waiting for the client; incomplete ones once the
client half-closes), while a confluent-kafka producer keeps getting acks=all acknowledgements
throughout and a long-lived raw connection keeps answering ApiVersions. straitd is alive, serving
and holding no leaked descriptors afterwards."""
import errno
import os
import random
import socket
import ssl
import struct
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

TOTAL = 1000
CHECK_EVERY = 100
CLOSE_TIMEOUT = 10.0  # seconds for straitd to close one bad connection

API_VERSIONS = 18
KNOWN_KEYS = set(range(0, 75))  # every api key Kafka has defined so far


def request(api_key, version, corr, client_id=b"strait-it", body=b""):
    hdr = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def tls_client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="strait.invalid")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    h.check(hello[:1] == b"\x16" and len(hello) > 50, "could not build a TLS ClientHello")
    return hello


def cases(rnd):
    """Yields (kind, payload, half_close): half_close=False means straitd must close on its own."""
    hello = tls_client_hello()
    kinds = ["negative_size", "huge_size", "tiny_frame", "truncated_header", "size_too_large",
             "size_too_small", "unknown_api_key", "random_bytes", "tls_client_hello",
             "truncated_body", "unsupported_version", "http_request"]
    for i in range(TOTAL):
        kind = kinds[i % len(kinds)]
        junk = rnd.randbytes(rnd.randint(0, 200))
        if kind == "negative_size":
            yield kind, struct.pack(">i", rnd.randint(-2 ** 31, -1)) + junk, False
        elif kind == "huge_size":
            yield kind, struct.pack(">i", rnd.randint(2 ** 30, 2 ** 31 - 1)) + junk, False
        elif kind == "tiny_frame":
            n = rnd.randint(0, 9)  # shorter than any request header
            yield kind, struct.pack(">i", n) + rnd.randbytes(n), False
        elif kind == "truncated_header":
            full = request(3, 1, i)[4:]
            n = rnd.randint(1, 9)
            yield kind, struct.pack(">i", n) + full[:n], False
        elif kind == "size_too_large":
            full = request(API_VERSIONS, 0, i)
            yield kind, struct.pack(">i", len(full) - 4 + rnd.randint(1, 100000)) + full[4:], True
        elif kind == "size_too_small":
            full = request(3, 1, i, body=struct.pack(">i", -1))
            cut = rnd.randint(0, len(full) - 5)
            yield kind, struct.pack(">i", cut) + full[4:], True
        elif kind == "unknown_api_key":
            key = rnd.choice([rnd.randint(1000, 32767), rnd.randint(-32768, -1)])
            yield kind, request(key, rnd.randint(0, 20), i, body=junk), False
        elif kind == "random_bytes":
            yield kind, rnd.randbytes(rnd.randint(1, 2000)), True
        elif kind == "tls_client_hello":
            yield kind, hello, False
        elif kind == "unsupported_version":  # a known api (not ApiVersions) at version 99
            key = rnd.choice([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 19, 22, 32, 60])
            cid = b"strait-it"
            hdr = struct.pack(">hhih", key, 99, i, len(cid)) + cid + b"\x00"  # + tagged fields
            yield kind, struct.pack(">i", len(hdr) + len(junk)) + hdr + junk, False
        elif kind == "http_request":
            method = rnd.choice([b"GET", b"POST", b"HEAD", b"PUT"])
            yield kind, method + b" /v1/clusters HTTP/1.1\r\nHost: strait\r\n\r\n", False
        else:  # truncated_body: a plausible Produce header, promised body never arrives
            full = request(0, 3, i, body=rnd.randbytes(300))
            yield kind, full[:rnd.randint(14, len(full) - 1)], True


def expect_closed(addr, port, kind, payload, half_close):
    s = socket.create_connection((addr, port), timeout=CLOSE_TIMEOUT)
    try:
        s.settimeout(CLOSE_TIMEOUT)
        try:
            s.sendall(payload)
            if half_close:
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    if e.errno == errno.ENOTCONN:
                        return  # already closed by straitd
                    raise
            while True:
                if not s.recv(65536):
                    return  # orderly close
        except (ConnectionResetError, BrokenPipeError):
            return  # closed with unread data: RST
        except socket.timeout:
            raise h.TestFailure("%s (%d bytes%s) to port %d: connection still open after %.0f s"
                                % (kind, len(payload), ", half-closed" if half_close else "",
                                   port, CLOSE_TIMEOUT))
    finally:
        s.close()


class RawClient:
    """A long-lived connection that asks ApiVersions v0 now and then."""

    def __init__(self, addr, port):
        self.s = socket.create_connection((addr, port), timeout=30)
        self.corr = 1000

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            h.check(chunk, "raw client: connection closed by straitd")
            buf += chunk
        return buf

    def api_versions(self):
        self.corr += 1
        self.s.sendall(request(API_VERSIONS, 0, self.corr))
        size = struct.unpack(">i", self._recv_exact(4))[0]
        h.check(6 <= size < 1 << 20, "raw client: response size %d" % size)
        body = self._recv_exact(size)
        corr, err, n = struct.unpack(">ihi", body[:10])
        h.check(corr == self.corr, "raw client: correlation id %d, want %d" % (corr, self.corr))
        h.check(err == 0 and n > 0, "raw client: ApiVersions error %d, %d keys" % (err, n))
        keys = {struct.unpack(">h", body[10 + 6 * j:12 + 6 * j])[0] for j in range(n)}
        h.check({0, 1, 3} <= keys, "raw client: ApiVersions lacks Produce/Fetch/Metadata: %r" %
                sorted(keys))

    def close(self):
        self.s.close()


class BackgroundProducer(threading.Thread):
    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        from confluent_kafka import Producer
        self.p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
                           "message.timeout.ms": 60000})
        self.topic = topic
        self.stop = threading.Event()
        self.sent = []
        self.acked = set()
        self.errors = []
        self.lock = threading.Lock()

    def _dr(self, err, m):
        with self.lock:
            if err is not None:
                self.errors.append(err)
            else:
                self.acked.add((m.key().decode(), m.value().decode()))

    def acks(self):
        with self.lock:
            return len(self.acked)

    def run(self):
        i = 0
        while not self.stop.is_set():
            for _ in range(20):
                kv = ("bg-k%07d" % i, "bg-v%07d-%s" % (i, "x" * (i % 97)))
                self.sent.append(kv)
                self.p.produce(self.topic, key=kv[0], value=kv[1], on_delivery=self._dr)
                i += 1
            self.p.poll(0.02)
        self.remaining = self.p.flush(60)


def endpoint_counters(sd):
    """The insecure endpoint's counters from `strait admin status`."""
    for c in sd.status()["clusters"]:
        for ep in c["endpoints"]:
            if ep["name"] == "insecure":
                return ep["counters"]
    raise h.TestFailure("no insecure endpoint in admin status")


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test():
    rnd = random.Random(20240602)
    with h.Straitd(brokers=3) as sd:
        addr = sd.endpoint()["address"]
        ports = sorted(sd.broker_ports.values())
        topic = h.unique_name("bg")
        sd.create_topic(topic, 3, 3)
        raw = RawClient(addr, ports[0])
        raw.api_versions()
        bg = BackgroundProducer(sd.bootstrap, topic)
        bg.start()
        h.wait_for(lambda: bg.acks() > 0, 30, "first background acknowledgement")
        fds_before = fd_count(sd.proc.pid)
        c0 = endpoint_counters(sd)
        h.log("straitd has %d fds and %d client connections open; background producer running" % (
            fds_before, c0["connectionsCurrent"]))

        counts = {}
        try:
            for n, (kind, payload, half_close) in enumerate(cases(rnd), 1):
                expect_closed(addr, rnd.choice(ports), kind, payload, half_close)
                counts[kind] = counts.get(kind, 0) + 1
                if n % CHECK_EVERY == 0:
                    h.check(sd.alive(), "straitd died after %d malformed connections" % n)
                    raw.api_versions()
                    a0 = bg.acks()
                    h.wait_for(lambda: bg.acks() > a0 or bg.errors, 30,
                               "background producer progress after %d bad connections" % n)
                    h.check(not bg.errors, "background producer errors: %s" % bg.errors[:3])
                    h.log("%d malformed connections closed; background acks %d" % (n, bg.acks()))
            # straitd's own count agrees: every bad connection accepted and closed, the good
            # ones (raw client, producer) still open.
            h.wait_for(lambda: endpoint_counters(sd)["connectionsCurrent"] ==
                       c0["connectionsCurrent"], 30, "straitd's open connection count to return "
                       "to %d" % c0["connectionsCurrent"])
            c1 = endpoint_counters(sd)
            h.check(c1["connectionsAccepted"] - c0["connectionsAccepted"] >= TOTAL,
                    "straitd counted %d new connections, want >= %d" % (
                        c1["connectionsAccepted"] - c0["connectionsAccepted"], TOTAL))
            h.log("straitd counters: +%d accepted, +%d closed, +%d protocol errors" % (
                c1["connectionsAccepted"] - c0["connectionsAccepted"],
                c1["connectionsClosed"] - c0["connectionsClosed"],
                c1["protocolErrors"] - c0["protocolErrors"]))
        finally:
            bg.stop.set()
            bg.join(90)
        h.check(not bg.is_alive(), "background producer did not stop")
        h.check(bg.remaining == 0, "background producer: %d undelivered" % bg.remaining)
        h.check(not bg.errors, "background producer errors: %s" % bg.errors[:3])
        h.check(len(bg.acked) == len(bg.sent), "background producer: %d of %d acknowledged" % (
            len(bg.acked), len(bg.sent)))
        del bg.p
        h.log("closed by kind: %r" % counts)
        h.check(sum(counts.values()) == TOTAL, "ran %d cases" % sum(counts.values()))

        # Still alive and serving: the old raw connection, new clients, and every message there.
        h.check(sd.alive(), "straitd died")
        raw.api_versions()
        raw.close()
        got = h.consume_to_eof(sd.bootstrap, topic)
        h.assert_exactly(bg.sent, got, "background producer")
        h.wait_for(lambda: fd_count(sd.proc.pid) <= fds_before + 8, 30,
                   "straitd's fd count to return near %d (now %d)" % (
                       fds_before, fd_count(sd.proc.pid)))
        h.log("straitd fds: %d before, %d after" % (fds_before, fd_count(sd.proc.pid)))


if __name__ == "__main__":
    h.run(test)
