"""Hand-encoded Kafka requests for the test_modern_* raw tests: flexible (compact, tagged-field)
encoding, one request per connection, and decoders for the few responses the tests read
(ApiVersions, Metadata v12, FindCoordinator v0-v3)."""
import socket
import struct

API_VERSIONS, METADATA, FIND_COORDINATOR = 18, 3, 10


def uvarint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def cstr(s):
    """Compact (nullable) string."""
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def nstr(s):
    """Classic (nullable) string."""
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def tags(fields=None):
    """Tagged-field section: {tag: bytes}."""
    fields = fields or {}
    out = uvarint(len(fields))
    for k in sorted(fields):
        out += uvarint(k) + uvarint(len(fields[k])) + fields[k]
    return out


def frame(key, version, corr, body, client_id="strait-raw", flexible=True, header_tags=None):
    """A request frame: header v2 (flexible) or v1, then body."""
    hdr = struct.pack(">hhi", key, version, corr) + nstr(client_id)
    if flexible:
        hdr += tags(header_tags)
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.o)
        self.o += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def uvarint(self):
        n = shift = 0
        while True:
            b = self.d[self.o]
            self.o += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    def cstr(self):
        n = self.uvarint() - 1
        if n < 0:
            return None
        v = self.d[self.o:self.o + n].decode()
        self.o += n
        return v

    def nstr(self):
        n = self.take(">h")
        if n < 0:
            return None
        v = self.d[self.o:self.o + n].decode()
        self.o += n
        return v

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.o += self.uvarint()


def round_trip(addr, data, timeout=15.0):
    """Sends one request on a new connection; returns the response bytes after the size (None if
    the connection was closed first)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while len(buf) < 4:
            c = s.recv(4 - len(buf))
            if not c:
                return None
            buf += c
        n = struct.unpack(">i", buf)[0]
        body = b""
        while len(body) < n:
            c = s.recv(n - len(body))
            if not c:
                return None
            body += c
        return body
    finally:
        s.close()


def api_versions(addr, version):
    """(error, {key: (min, max)}) for ApiVersions v0-v3."""
    body = cstr("strait-raw") + cstr("1.0") + tags() if version >= 3 else b""
    d = round_trip(addr, frame(API_VERSIONS, version, 7, body, flexible=version >= 3))
    r = Reader(d)
    r.take(">i")  # correlation id (ApiVersions responses always use header v0)
    err = r.take(">h")
    out = {}
    if version >= 3 and err == 0:
        for _ in range(r.uvarint() - 1):
            k, lo, hi = r.take(">hhh")
            r.skip_tags()
            out[k] = (lo, hi)
    else:
        for _ in range(r.take(">i")):
            k, lo, hi = r.take(">hhh")
            out[k] = (lo, hi)
    return err, out


def metadata_v12(addr, topics=None, topic_ids=None, client_id="strait-raw", header_tags=None):
    """Metadata v12 (topics None and topic_ids None = all topics). Returns (brokers {node: (host,
    port, rack)}, cluster id, controller, [(error, name, topic id, [(partition, leader)])]), or
    None if the connection was closed."""
    if topics is None and topic_ids is None:
        body = uvarint(0)
    else:
        items = [b"\0" * 16 + cstr(n) + tags() for n in (topics or [])]
        items += [tid + cstr(None) + tags() for tid in (topic_ids or [])]
        body = uvarint(len(items) + 1) + b"".join(items)
    body += b"\x01\x00" + tags()  # allow_auto_topic_creation, include_topic_authorized_operations
    d = round_trip(addr, frame(METADATA, 12, 9, body, client_id=client_id,
                               header_tags=header_tags))
    if d is None:
        return None
    r = Reader(d)
    r.take(">i")
    r.skip_tags()
    r.take(">i")  # throttle
    brokers = {}
    for _ in range(r.uvarint() - 1):
        node, host, port, rack = r.take(">i"), r.cstr(), r.take(">i"), r.cstr()
        r.skip_tags()
        brokers[node] = (host, port, rack)
    cluster, controller = r.cstr(), r.take(">i")
    out = []
    for _ in range(r.uvarint() - 1):
        err, name = r.take(">h"), r.cstr()
        tid = r.d[r.o:r.o + 16]
        r.o += 16
        r.take(">b")  # is_internal
        parts = []
        for _ in range(r.uvarint() - 1):
            _perr, pid, leader, _epoch = r.take(">hiii")
            for _ in range(3):  # replicas, isr, offline replicas
                for _ in range(r.uvarint() - 1):
                    r.take(">i")
            r.skip_tags()
            parts.append((pid, leader))
        r.take(">i")  # topic authorized operations
        r.skip_tags()
        out.append((err, name, tid, parts))
    return brokers, cluster, controller, out


def find_coordinator(addr, version, key, key_type=0):
    """FindCoordinator v0-v3 -> (error, node, host, port), or None if the connection closed."""
    if version >= 3:
        body = cstr(key) + struct.pack(">b", key_type) + tags()
    elif version >= 1:
        body = nstr(key) + struct.pack(">b", key_type)
    else:
        body = nstr(key)
    d = round_trip(addr, frame(FIND_COORDINATOR, version, 5, body, flexible=version >= 3))
    if d is None:
        return None
    r = Reader(d)
    r.take(">i")
    if version >= 3:
        r.skip_tags()
    if version >= 1:
        r.take(">i")  # throttle
    err = r.take(">h")
    if version >= 3:
        r.cstr()
    elif version >= 1:
        r.nstr()
    node = r.take(">i")
    host = r.cstr() if version >= 3 else r.nstr()
    return err, node, host, r.take(">i")


def fetch_request(version, topic, topic_id, partition, offset=0, corr=11):
    """A full (sessionless) Fetch v12-v16 request for one partition, from offset."""
    b = struct.pack(">i", -1) if version < 15 else b""  # ReplicaId (a tagged field from v15)
    b += struct.pack(">iiibii", 100, 1, 1 << 20, 0, 0, -1)  # wait, min, max, isolation, session
    b += uvarint(2) + (cstr(topic) if version < 13 else topic_id)
    b += uvarint(2) + struct.pack(">iiqiqi", partition, -1, offset, -1, -1, 1 << 20) + tags()
    b += tags()
    b += uvarint(1) + cstr("") + tags()  # no forgotten topics, rack "", tags
    return frame(1, version, corr, b)
