"""kcat through the endpoint: `kcat -P` produces 10,000 keyed messages with acks=all (exit status 0
means every delivery succeeded), and `kcat -C -e -J` reads back exactly those messages (content,
once each, in per-partition send order)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

COUNT = 10000


def test():
    with h.Straitd(brokers=3) as sd:
        topic = h.unique_name("kcat")
        sd.create_topic(topic, 6, 3)
        msgs = h.make_messages(topic, COUNT)
        payload = "".join("%s\t%s\n" % kv for kv in msgs).encode()

        argv = ["kcat", "-P", "-b", sd.bootstrap, "-t", topic, "-K", "\t",
                "-X", "acks=all", "-X", "message.timeout.ms=60000"]
        r = subprocess.run(argv, input=payload, capture_output=True, timeout=180)
        err = r.stderr.decode("utf-8", "replace")
        h.check(r.returncode == 0, "kcat -P status %d: %s" % (r.returncode, err[-2000:]))
        h.check("delivery failed" not in err.lower(), "kcat -P: %s" % err[-2000:])
        h.log("kcat produced %d messages (acks=all)" % COUNT)

        argv = ["kcat", "-C", "-b", sd.bootstrap, "-t", topic, "-o", "beginning", "-e", "-J",
                "-q"]
        r = subprocess.run(argv, capture_output=True, timeout=180)
        h.check(r.returncode == 0, "kcat -C status %d: %s" % (
            r.returncode, r.stderr.decode("utf-8", "replace")[-2000:]))
        got = []
        for line in r.stdout.decode().splitlines():
            m = json.loads(line)
            h.check(m["topic"] == topic, "message from topic %r" % m["topic"])
            got.append((m["partition"], m["offset"], m["key"], m["payload"]))
        h.assert_exactly(msgs, got, "kcat")

        # Cross-check with a second client: confluent-kafka reads the same set.
        h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, topic), "kcat->confluent-kafka")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
