"""The endpoint at the wire level, with hand-encoded requests (no client library in between):
Metadata v0-v2 and FindCoordinator v0-v2 responses name only endpoint addresses, each broker at the
port the ready file gives its node id; ApiVersions at an unsupported version gets Kafka's
UNSUPPORTED_VERSION answer on a connection that stays open; responses to 60 pipelined requests on one connection come back
complete and in order; 300 connections (opened in waves of 10) are served, then all answer a
request in flight at once, and closing them returns straitd's descriptors."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

METADATA, FIND_COORDINATOR, API_VERSIONS = 3, 10, 18
CONCURRENT = 300
WAVE = 10


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def frame(api_key, version, corr, body=b""):
    hdr = struct.pack(">hhi", api_key, version, corr) + string("strait-raw")
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.o)
        self.o += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.d[self.o:self.o + n].decode()
        self.o += n
        return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        h.check(chunk, "connection closed by straitd (%d of %d bytes read)" % (len(buf), n))
        buf += chunk
    return buf


def recv_response(s, corr):
    size = struct.unpack(">i", recv_exact(s, 4))[0]
    h.check(4 <= size < 1 << 24, "response size %d" % size)
    r = Reader(recv_exact(s, size))
    got = r.take(">i")
    h.check(got == corr, "correlation id %d, want %d (responses out of order?)" % (got, corr))
    return r


def metadata_request(version, corr):
    body = struct.pack(">i", 0) if version == 0 else struct.pack(">i", -1)  # all topics
    return frame(METADATA, version, corr, body)


def parse_metadata_brokers(r, version):
    brokers = {}
    for _ in range(r.take(">i")):
        node, host, port = r.take(">i"), r.string(), r.take(">i")
        if version >= 1:
            r.string()  # rack
        brokers[node] = (host, port)
    return brokers


def find_coordinator_request(version, corr, group):
    body = string(group) + (struct.pack(">b", 0) if version >= 1 else b"")
    return frame(FIND_COORDINATOR, version, corr, body)


def parse_find_coordinator(r, version):
    if version >= 1:
        r.take(">i")  # throttle
    err = r.take(">h")
    if version >= 1:
        r.string()  # error message
    return err, r.take(">i"), r.string(), r.take(">i")


def test():
    with h.Straitd(brokers=3) as sd:
        addr = sd.endpoint()["address"]
        ports = sd.broker_ports
        want = {n: (addr, p) for n, p in ports.items()}
        corr = 0
        for node, port in sorted(ports.items()):
            s = socket.create_connection((addr, port), timeout=30)
            try:
                for v in (0, 1, 2):
                    corr += 1
                    s.sendall(metadata_request(v, corr))
                    got = parse_metadata_brokers(recv_response(s, corr), v)
                    h.check(got == want, "Metadata v%d via port %d: brokers %r, want %r" % (
                        v, port, got, want))
                for v in (0, 1, 2):
                    corr += 1
                    s.sendall(find_coordinator_request(v, corr, "raw-group-%d" % v))
                    err, cnode, chost, cport = parse_find_coordinator(recv_response(s, corr), v)
                    h.check(err == 0, "FindCoordinator v%d: error %d" % (v, err))
                    h.check((chost, cport) == want.get(cnode),
                            "FindCoordinator v%d via port %d: coordinator %d at %s:%d, want %r" % (
                                v, port, cnode, chost, cport, want.get(cnode)))
            finally:
                s.close()
        h.log("Metadata v0-v2 and FindCoordinator v0-v2 name only endpoint addresses on all ports")

        # ApiVersions at a version nobody supports: Kafka's answer is a v0-format response with
        # UNSUPPORTED_VERSION (35) and the supported ranges, on a connection that stays open, so
        # the client can retry at an offered version.
        s = socket.create_connection((addr, ports[1]), timeout=30)
        try:
            corr += 1
            hdr = struct.pack(">hhi", API_VERSIONS, 99, corr) + string("strait-raw") + b"\x00"
            s.sendall(struct.pack(">i", len(hdr)) + hdr)  # a v2 (flexible) header, as clients send
            r = recv_response(s, corr)
            err, n = r.take(">h"), r.take(">i")
            ranges = {}
            for _ in range(n):
                k, lo, hi = r.take(">hhh")
                ranges[k] = (lo, hi)
            h.check(err == 35, "ApiVersions v99: error %d, want 35 (UNSUPPORTED_VERSION)" % err)
            h.check(API_VERSIONS in ranges and ranges[API_VERSIONS][0] == 0,
                    "ApiVersions v99: ranges %r" % ranges)
            corr += 1
            s.sendall(frame(API_VERSIONS, 0, corr))  # the retry, on the same connection
            h.check(recv_response(s, corr).take(">h") == 0, "ApiVersions v0 retry failed")
        finally:
            s.close()

        # Pipelining: 60 requests in one write; 60 responses back, in order.
        s = socket.create_connection((addr, ports[1]), timeout=30)
        try:
            batch, kinds = b"", []
            for i in range(60):
                corr += 1
                kind = i % 3
                if kind == 0:
                    batch += metadata_request(1, corr)
                elif kind == 1:
                    batch += frame(API_VERSIONS, 0, corr)
                else:
                    batch += find_coordinator_request(1, corr, "pipelined")
                kinds.append((corr, kind))
            s.sendall(batch)
            for c, kind in kinds:
                r = recv_response(s, c)
                if kind == 0:
                    h.check(parse_metadata_brokers(r, 1) == want, "pipelined Metadata %d" % c)
                elif kind == 1:
                    h.check(r.take(">h") == 0, "pipelined ApiVersions %d error" % c)
                else:
                    err, cnode, chost, cport = parse_find_coordinator(r, 1)
                    h.check(err == 0 and (chost, cport) == want.get(cnode),
                            "pipelined FindCoordinator %d" % c)
        finally:
            s.close()
        h.log("60 pipelined requests answered in order")

        fds_before = len(os.listdir("/proc/%d/fd" % sd.proc.pid))
        conns = []
        try:
            # Opened in waves of WAVE: straitd dials the broker for each new client connection,
            # and the mock broker's small listen backlog drops SYNs in a bigger burst (the kernel
            # then retries only after 1 s, 3 s, 7 s ...).
            plist = sorted(ports.values())
            while len(conns) < CONCURRENT:
                wave = []
                for _ in range(WAVE):
                    i = len(conns)
                    s = socket.create_connection((addr, plist[i % len(plist)]), timeout=30)
                    conns.append(s)
                    wave.append((i, s))
                    s.sendall(metadata_request(1, 100000 + i))
                for i, s in wave:
                    got = parse_metadata_brokers(recv_response(s, 100000 + i), 1)
                    h.check(got == want, "connection %d: brokers %r" % (i, got))
            # All open at once, each with a request in flight.
            for i, s in enumerate(conns):
                s.sendall(metadata_request(2, 200000 + i))
            for i, s in enumerate(conns):
                got = parse_metadata_brokers(recv_response(s, 200000 + i), 2)
                h.check(got == want, "connection %d, 2nd request: brokers %r" % (i, got))
        finally:
            for s in conns:
                s.close()
        h.log("%d concurrent connections served" % CONCURRENT)
        h.wait_for(lambda: len(os.listdir("/proc/%d/fd" % sd.proc.pid)) <= fds_before + 8, 30,
                   "straitd's descriptors to return near %d after closing %d connections" % (
                       fds_before, CONCURRENT))
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
