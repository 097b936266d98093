"""kafkajs 2.2.4 (tests/interop/kafkajs_client.js) through the endpoint: its metadata shows only the
endpoint's brokers, it produces 10,000 messages with acks=-1 (all), and a kafkajs consumer group
member reads back exactly those messages (content, once each, in per-partition send order)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

COUNT = 10000
CLIENT = os.path.join(h.INTEROP_DIR, "kafkajs_client.js")


def kafkajs(*args, timeout=240):
    argv = ["node", CLIENT] + [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, timeout=timeout)
    err = r.stderr.decode("utf-8", "replace")
    if err.strip():
        sys.stderr.write(err[-4000:])
    h.check(r.returncode == 0, "kafkajs %s: status %d: %s" % (args[0], r.returncode, err[-2000:]))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def test():
    h.check(os.path.isdir(os.path.join(h.INTEROP_DIR, "node_modules", "kafkajs")),
            "kafkajs not installed: run scripts/deps (npm ci in tests/interop)")
    with h.Straitd(brokers=3) as sd, tempfile.TemporaryDirectory(prefix="strait-kjs-") as tmp:
        topic = h.unique_name("kjs")
        sd.create_topic(topic, 6, 3)

        md = kafkajs("metadata", "--brokers", sd.bootstrap, "--topic", topic)
        got = {b["nodeId"]: (b["host"], b["port"]) for b in md["brokers"]}
        want = {n: (sd.endpoint()["address"], p) for n, p in sd.broker_ports.items()}
        h.check(got == want, "kafkajs brokers %r, want %r" % (got, want))
        parts = md["topics"][0]["partitions"]
        h.check(len(parts) == 6 and all(p["leader"] in want for p in parts),
                "kafkajs topic metadata %r" % md["topics"])

        msgs = h.make_messages(topic, COUNT)
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w") as f:
            for kv in msgs:
                f.write(json.dumps(list(kv)) + "\n")
        res = kafkajs("produce", "--brokers", sd.bootstrap, "--topic", topic, "--input", inp,
                      "--acks", "-1")
        h.check(res["acked"] == COUNT, "kafkajs acked %r" % res)
        h.log("kafkajs produced %d messages (acks=-1); produce responses per partition: %s" % (
            COUNT, res["partitions"]))

        out = os.path.join(tmp, "out.jsonl")
        res = kafkajs("consume", "--brokers", sd.bootstrap, "--topic", topic, "--group",
                      h.unique_name("kjs-group"), "--count", COUNT, "--output", out)
        got = []
        with open(out) as f:
            for line in f:
                m = json.loads(line)
                got.append((m["partition"], m["offset"], m["key"], m["value"]))
        h.assert_exactly(msgs, got, "kafkajs")
        # The same records, as read by librdkafka.
        h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, topic), "kafkajs->confluent-kafka")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
