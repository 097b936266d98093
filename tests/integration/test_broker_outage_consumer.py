"""A consumer reading through the endpoint while the leader of some of its partitions is down
(strait admin embedded broker-down/up): partitions on the other brokers are read completely during
the outage and the downed broker's not at all; once it is back, its partitions are read too, and in
the end the consumer has read every message exactly once."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

PARTITIONS = 12
COUNT = 12000


def test():
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient
    with h.Straitd(brokers=3) as sd:
        topic = h.unique_name("outage-read")
        sd.create_topic(topic, PARTITIONS, 3)
        msgs = h.make_messages(topic, COUNT, max_len=200)
        p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all", "linger.ms": 5})
        errs = []
        for i, (k, v) in enumerate(msgs):
            p.produce(topic, key=k, value=v, partition=i % PARTITIONS,
                      on_delivery=lambda e, m: e and errs.append(e))
        h.check(p.flush(60) == 0 and not errs, "produce: %s" % errs[:3])
        del p
        md = AdminClient({"bootstrap.servers": sd.bootstrap}).list_topics(topic, timeout=30)
        leaders = {q: pm.leader for q, pm in md.topics[topic].partitions.items()}
        down = leaders[0]
        on_down = {q for q, l in leaders.items() if l == down}
        h.check(len(on_down) < PARTITIONS, "all partitions led by broker %d" % down)

        per_part = COUNT // PARTITIONS
        others = (PARTITIONS - len(on_down)) * per_part

        sd.broker_down(down)
        h.log("broker %d down; it leads partitions %s" % (down, sorted(on_down)))
        c = Consumer({"bootstrap.servers": sd.bootstrap, "group.id": h.unique_name("reader"),
                      "enable.auto.commit": False, "reconnect.backoff.max.ms": 1000})
        got = []

        def read_until(n, what, timeout=60):
            def step():
                m = c.poll(0.1)
                if m is not None and not m.error():
                    got.append((m.partition(), m.offset(), m.key().decode(), m.value().decode()))
                return len(got) >= n
            h.wait_for(step, timeout, what, interval=0)

        try:
            c.assign([TopicPartition(topic, q, 0) for q in range(PARTITIONS)])
            read_until(others, "the %d messages on the other brokers during the outage" % others)
            during = [r for r in got if r[0] in on_down]
            h.check(not during, "read %d messages of broker %d's partitions while it was down" % (
                len(during), down))
            sd.broker_up(down)
            h.log("broker %d up after %d messages read from the others" % (down, len(got)))
            read_until(COUNT, "every message after the outage", timeout=90)
        finally:
            c.close()
        h.check(len(got) == COUNT, "read %d messages, want %d" % (len(got), COUNT))
        h.assert_exactly(msgs, got, "consumer across the outage")


if __name__ == "__main__":
    h.run(test)
