"""Three client libraries at once through one straitd: kcat, kafkajs and confluent-kafka each produce
5,000 messages (acks=all) to their own topic at the same time, while a 2-member confluent-kafka
consumer group reads the confluent-kafka topic live. Every topic then holds exactly what its
producer sent, and the group read its topic exactly once, each member only its own partitions."""
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402
from test_consumer_group import Member, wait_balanced  # noqa: E402  (6 partitions)

COUNT = 5000
KAFKAJS = os.path.join(h.INTEROP_DIR, "kafkajs_client.js")


def test():
    from confluent_kafka import Producer
    h.check(os.path.isdir(os.path.join(h.INTEROP_DIR, "node_modules", "kafkajs")),
            "kafkajs not installed: run scripts/deps (npm ci in tests/interop)")
    with h.Straitd(brokers=3) as sd, tempfile.TemporaryDirectory(prefix="strait-mix-") as tmp:
        t_kcat, t_js, t_py = (h.unique_name(x) for x in ("mix-kcat", "mix-js", "mix-py"))
        for t in (t_kcat, t_js, t_py):
            sd.create_topic(t, 6, 3)
        m_kcat, m_js, m_py = (h.make_messages(t, COUNT, max_len=200) for t in (t_kcat, t_js, t_py))

        group = h.unique_name("mix-group")
        members = [Member("reader%d" % i, sd.bootstrap, group, t_py) for i in (1, 2)]
        try:
            sets = wait_balanced(members, 3)
            h.log("group balanced: %s" % [sorted(s) for s in sets])

            js_in = os.path.join(tmp, "in.jsonl")
            with open(js_in, "w") as f:
                for kv in m_js:
                    f.write(json.dumps(list(kv)) + "\n")
            kcat = subprocess.Popen(["kcat", "-P", "-b", sd.bootstrap, "-t", t_kcat, "-K", "\t",
                                     "-X", "acks=all"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            js = subprocess.Popen(["node", KAFKAJS, "produce", "--brokers", sd.bootstrap,
                                   "--topic", t_js, "--input", js_in, "--acks", "-1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            py_errors = []

            def py_produce():
                p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all"})
                for k, v in m_py:
                    while True:
                        try:
                            p.produce(t_py, key=k, value=v,
                                      on_delivery=lambda e, m: e and py_errors.append(e))
                            break
                        except BufferError:
                            p.poll(0.1)
                    p.poll(0)
                if p.flush(120) != 0:
                    py_errors.append("undelivered after flush")
            py = threading.Thread(target=py_produce, daemon=True)
            py.start()
            kout, kerr = kcat.communicate("".join("%s\t%s\n" % kv for kv in m_kcat).encode(),
                                          timeout=180)
            jout, jerr = js.communicate(timeout=240)
            py.join(180)
            h.check(kcat.returncode == 0, "kcat -P: %s" % kerr.decode()[-1000:])
            h.check(js.returncode == 0, "kafkajs produce: %s" % jerr.decode()[-2000:])
            h.check(json.loads(jout.decode().splitlines()[-1])["acked"] == COUNT, "kafkajs acks")
            h.check(not py.is_alive() and not py_errors, "confluent-kafka produce: %s" %
                    py_errors[:3])
            h.log("three producers done")

            h.wait_for(lambda: sum(len(m.snapshot()[1]) for m in members) >= COUNT, 90,
                       "the group to read %d messages" % COUNT)
            got = []
            for m, owned in zip(members, sets):
                assignment, msgs = m.snapshot()
                h.check(assignment == owned, "%s assignment changed" % m.name)
                h.check({r[0] for r in msgs} <= owned, "%s read foreign partitions" % m.name)
                got += msgs
            h.assert_exactly(m_py, got, "consumer group, live")
        finally:
            for m in members:
                if m.thread.is_alive():
                    m.call("close")
        h.assert_exactly(m_kcat, h.consume_to_eof(sd.bootstrap, t_kcat), "kcat topic")
        h.assert_exactly(m_js, h.consume_to_eof(sd.bootstrap, t_js), "kafkajs topic")
        h.assert_exactly(m_py, h.consume_to_eof(sd.bootstrap, t_py), "confluent-kafka topic")


if __name__ == "__main__":
    h.run(test)
