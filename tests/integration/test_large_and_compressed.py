"""Record batches the gateway must carry untouched: large messages (~900 KB values, so one Produce
request or Fetch response spans many socket reads) and every compression codec librdkafka has
(gzip, snappy, lz4, zstd), produced with acks=all through the endpoint and read back exactly, with
headers, by confluent-kafka. The large frames take the zero-copy path (splice(2)) of plaintext
endpoints; the status counters show it."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

CODECS = ["gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 2000
LARGE = 18  # 3 per partition: ~2.7 MB, under the mock's ~5 MiB per partition
LARGE_SIZE = 900 * 1000


def produce(bootstrap, topic, msgs, partitions=None, **conf):
    """partitions: spread messages round-robin over this many partitions explicitly (the mock
    keeps only ~5 MiB per partition, so large messages must not pile up in one)."""
    from confluent_kafka import Producer
    c = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 10}
    c.update(conf)
    p = Producer(c)
    errs = []
    for i, (k, v) in enumerate(msgs):
        while True:
            try:
                extra = {"partition": i % partitions} if partitions else {}
                p.produce(topic, key=k, value=v, headers=[("seq", str(i).encode())],
                          on_delivery=lambda e, m: e and errs.append(e), **extra)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    h.check(p.flush(120) == 0, "%s: undelivered messages" % topic)
    h.check(not errs, "%s: delivery errors %s" % (topic, errs[:3]))


def large_values(tag):
    out = []
    for i in range(LARGE):
        seed = hashlib.sha256(("%s/%d" % (tag, i)).encode()).digest()
        blocks = []
        n = 0
        while n < LARGE_SIZE:  # incompressible, so the frame really is this big on the wire
            seed = hashlib.sha256(seed).digest()
            blocks.append(seed.hex())
            n += 64
        out.append(("%s-big%02d" % (tag, i), "".join(blocks)[:LARGE_SIZE - i * 1000]))
    return out


def large_round_trip(sd):
    """Large values produced and read back through sd; returns its cluster counters."""
    topic = h.unique_name("large")
    sd.create_topic(topic, 6, 3)
    msgs = large_values(topic)
    produce(sd.bootstrap, topic, msgs, partitions=6, **{"message.max.bytes": 1000000,
                                                       "batch.size": 1000000})
    got = h.consume_to_eof(sd.bootstrap, topic, extra_conf={
        "max.partition.fetch.bytes": 2 * 1024 * 1024, "fetch.max.bytes": 8 * 1024 * 1024})
    h.assert_exactly(msgs, got, "large messages (%d x ~%d KB)" % (LARGE, LARGE_SIZE // 1000))
    h.check(sd.alive(), "straitd died")
    return sd.status()["clusters"][0]["counters"]


def test():
    with h.Straitd(brokers=3) as sd:
        for codec in CODECS:
            topic = h.unique_name("codec-" + codec)
            sd.create_topic(topic, 6, 3)
            msgs = h.make_messages(topic, PER_CODEC, max_len=400)
            produce(sd.bootstrap, topic, msgs, **{"compression.codec": codec})
            h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, topic), "codec " + codec)

        # The plaintext endpoint moves the records of large frames socket to socket (splice):
        # most of the ~2 x 16 MB of large Produce requests and Fetch responses never entered
        # user space, and every spliced byte is also in the sent totals.
        k = large_round_trip(sd)
        sent = k["bytesToClients"] + k["bytesToUpstream"]
        h.log("spliced %d of %d bytes sent" % (k["bytesSpliced"], sent))
        h.check(k["bytesSpliced"] > 2 * LARGE * LARGE_SIZE // 3,
                "large frames were not spliced: %r" % k)
        h.check(k["bytesSpliced"] <= sent, "spliced bytes not counted as sent: %r" % k)

    # --no-splice: the same bytes through read/write.
    with h.Straitd(brokers=3, extra_args=["--no-splice"]) as sd:
        k = large_round_trip(sd)
        h.check(k["bytesSpliced"] == 0, "--no-splice spliced: %r" % k)
        h.check(k["bytesToUpstream"] > LARGE * (LARGE_SIZE - LARGE * 1000), "large frames not sent: %r" % k)


if __name__ == "__main__":
    h.run(test)
