"""Backpressure: a client pipelines 160 Fetch requests (about 1 MB of records each) and reads
nothing. straitd stops reading from the broker instead of buffering the ~160 MB of responses (its
bytes-from-upstream counter and its memory stay far below that while the client stalls); once the
client reads, every response arrives complete, in order and identical. The upstream is an external
mock cluster (--upstream), so straitd's memory is the gateway's alone."""
import hashlib
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

TOPIC = "slow-reader"
REQUESTS = 160
PART_MAX = 1 << 20
VALUE = 100 * 1000
VALUES = 30  # 3 MB per partition, under the mock's ~5 MiB


def fetch_v4(corr, partition):
    client = b"slow-reader"
    hdr = struct.pack(">hhih", 1, 4, corr, len(client)) + client
    t = TOPIC.encode()
    body = (struct.pack(">iiiib", -1, 100, 1, PART_MAX, 0) + struct.pack(">i", 1) +
            struct.pack(">h", len(t)) + t + struct.pack(">i", 1) +
            struct.pack(">iqi", partition, 0, PART_MAX))
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def recv_exact(s, n):
    chunks, got = [], 0
    while got < n:
        c = s.recv(min(n - got, 1 << 20))
        h.check(c, "connection closed after %d of %d bytes" % (got, n))
        chunks.append(c)
        got += len(c)
    return b"".join(chunks)


def parse_fetch_v4(d):
    """-> (error, records bytes) of the single partition in a Fetch v4 response body."""
    o = 4  # throttle
    h.check(struct.unpack_from(">i", d, o)[0] == 1, "one topic")
    o += 4
    tl = struct.unpack_from(">h", d, o)[0]
    o += 2 + tl
    h.check(struct.unpack_from(">i", d, o)[0] == 1, "one partition")
    o += 4
    _, err, _, _ = struct.unpack_from(">ihqq", d, o)
    o += 4 + 2 + 8 + 8
    na = struct.unpack_from(">i", d, o)[0]
    o += 4 + max(na, 0) * 16
    rl = struct.unpack_from(">i", d, o)[0]
    o += 4
    return err, d[o:o + max(rl, 0)]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def upstream_bytes(sd):
    return sd.status()["clusters"][0]["counters"]["bytesFromUpstream"]


def test():
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient
    with h.MockCluster(brokers=3, topics={TOPIC: 3}) as mc, \
            h.Straitd(upstream=mc.bootstrap.split(",")[0]) as sd:
        # Batches of ~1 MB whatever the machine's load: a Fetch returns whole batches up to its
        # 1 MB limit, so a short first batch (a busy machine outlasting a short linger) followed
        # by a full one made the first response ~100 KB. A long linger lets each batch fill up;
        # flush() sends what is left at once.
        p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all", "linger.ms": 2000,
                      "batch.size": 1000000, "message.max.bytes": 1000000})
        errs = []
        for part in range(3):
            for i in range(VALUES):
                seed = hashlib.sha256(b"%d/%d" % (part, i)).digest()
                value = (seed * (VALUE // 32 + 1))[:VALUE]
                p.produce(TOPIC, value=value, partition=part,
                          on_delivery=lambda e, m: e and errs.append(e))
        h.check(p.flush(60) == 0 and not errs, "produce: %s" % errs[:3])
        del p
        md = AdminClient({"bootstrap.servers": sd.bootstrap}).list_topics(TOPIC, timeout=30)
        leader = md.topics[TOPIC].partitions[0].leader
        port = sd.broker_ports[leader]

        s = socket.create_connection((sd.endpoint()["address"], port), timeout=60)
        try:
            # One Fetch first, to learn the response size.
            s.sendall(fetch_v4(1, 0))
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            d = recv_exact(s, size)
            h.check(struct.unpack_from(">i", d, 0)[0] == 1, "correlation id")
            err, records = parse_fetch_v4(d[4:])
            h.check(err == 0 and len(records) > PART_MAX // 2, "Fetch: error %d, %d bytes" % (
                err, len(records)))
            digest = hashlib.sha256(records).hexdigest()
            total = REQUESTS * (size + 4)
            h.log("each Fetch response is %d bytes; pipelining %d of them (%.0f MB)" % (
                size + 4, REQUESTS, total / 1e6))

            rss0, up0 = rss_kb(sd.proc.pid), upstream_bytes(sd)
            s.sendall(b"".join(fetch_v4(100 + i, 0) for i in range(REQUESTS)))

            # Wait until straitd has stopped pulling from the broker (counter steady for 1 s).
            samples = []

            def steady():
                samples.append(upstream_bytes(sd))
                return len(samples) > 20 and samples[-1] == samples[-21] and samples[-1] > up0
            h.wait_for(steady, 60, "straitd to stop reading from the broker", interval=0.05)
            stalled_up = samples[-1] - up0
            stalled_rss = rss_kb(sd.proc.pid) - rss0
            h.log("client stalled: straitd read %.1f MB from the broker (of %.0f MB asked), "
                  "RSS +%.1f MB" % (stalled_up / 1e6, total / 1e6, stalled_rss / 1e3))
            h.check(stalled_up < total / 4,
                    "straitd kept reading from the broker while the client read nothing: "
                    "%.1f of %.1f MB" % (stalled_up / 1e6, total / 1e6))
            h.check(stalled_rss < 64 * 1000, "straitd's RSS grew by %.1f MB with a stalled "
                    "client" % (stalled_rss / 1e3))

            for i in range(REQUESTS):
                size = struct.unpack(">i", recv_exact(s, 4))[0]
                d = recv_exact(s, size)
                corr = struct.unpack_from(">i", d, 0)[0]
                h.check(corr == 100 + i, "response %d: correlation id %d" % (i, corr))
                err, records = parse_fetch_v4(d[4:])
                h.check(err == 0 and hashlib.sha256(records).hexdigest() == digest,
                        "response %d: error %d, %d bytes, records differ" % (i, err, len(records)))
            h.log("all %d responses complete, in order and identical" % REQUESTS)
        finally:
            s.close()
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
