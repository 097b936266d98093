"""straitd in front of an existing cluster (--upstream, here a librdkafka mock cluster in another
process, given by one broker address only): it discovers every broker, exposes each on its own
endpoint port, and kcat and confluent-kafka work through the endpoint without ever reaching the
upstream addresses."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

TOPIC = "upstream-orders"


def test():
    from confluent_kafka import Producer
    with h.MockCluster(brokers=3, topics={TOPIC: 6}) as mc:
        first = mc.bootstrap.split(",")[0]
        with h.Straitd(upstream=first) as sd:
            h.check(sd.ready["upstream"].get("embedded") is False,
                    "ready file upstream: %r" % sd.ready["upstream"])
            ports = sd.broker_ports
            h.check(sorted(ports) == [1, 2, 3], "brokers discovered from %s: %r" % (first, ports))
            # The watcher must know every upstream broker, not just the one given.
            upstream = set("%s:%d" % a for a in sd.upstream_addresses())
            h.check(upstream >= set(mc.bootstrap.split(",")),
                    "straitd reports upstream brokers %r, cluster has %s" % (upstream,
                                                                             mc.bootstrap))
            addr = sd.endpoint()["address"]
            r = subprocess.run(["kcat", "-L", "-J", "-b", sd.bootstrap, "-t", TOPIC, "-m", "15"],
                               capture_output=True, timeout=60)
            h.check(r.returncode == 0, "kcat -L: %s" % r.stderr.decode()[-1000:])
            raw = r.stdout.decode()
            md = json.loads(raw)
            got = {b["id"]: b["name"] for b in md["brokers"]}
            h.check(got == {n: "%s:%d" % (addr, p) for n, p in ports.items()},
                    "brokers %r" % got)
            for hp in mc.bootstrap.split(","):
                h.check(hp not in raw, "upstream address %s leaked: %s" % (hp, raw))
            h.check(len(md["topics"][0]["partitions"]) == 6, "topic metadata %r" % md["topics"])

            msgs = h.make_messages(TOPIC, 3000, max_len=200)
            p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all"})
            errs = []
            for k, v in msgs:
                p.produce(TOPIC, key=k, value=v, on_delivery=lambda e, m: e and errs.append(e))
            h.check(p.flush(60) == 0 and not errs, "produce: %s" % errs[:3])
            del p
            h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, TOPIC), "via --upstream")


if __name__ == "__main__":
    h.run(test)
