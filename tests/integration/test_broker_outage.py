"""A broker taken down and brought back (strait admin embedded broker-down/up) loses no acknowledged
message: a confluent-kafka producer (acks=all) keeps producing through the endpoint before, during
and after the outage; partitions on the other brokers keep being acknowledged during it, partitions
led by the downed broker resume after it, and reading the topic back finds every acknowledged
message."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

PARTITIONS = 12
ROUNDS = {"before": 10, "outage": 40, "after": 20}  # rounds of BATCH messages, polled 0.1 s apart
BATCH = 100


def test():
    from confluent_kafka import Producer
    with h.Straitd(brokers=3) as sd:
        topic = h.unique_name("outage")
        sd.create_topic(topic, PARTITIONS, 3)
        from confluent_kafka.admin import AdminClient
        md = AdminClient({"bootstrap.servers": sd.bootstrap}).list_topics(topic, timeout=30)
        leaders = {p: pm.leader for p, pm in md.topics[topic].partitions.items()}
        h.log("partition leaders: %r" % leaders)
        down = leaders[0]  # the mock places leaders at random: take down partition 0's
        on_down = {p for p, l in leaders.items() if l == down}
        h.check(len(on_down) < PARTITIONS, "all partitions led by broker %d: %r" % (down, leaders))

        total = sum(ROUNDS.values()) * BATCH
        msgs = h.make_messages(topic, total, max_len=120)
        state = {"phase": "before"}
        acked = []  # (phase produced, phase acknowledged, partition, key, value)
        errors = []

        def on_delivery(err, m, produced_in):
            if err is not None:
                errors.append((produced_in, err))
            else:
                acked.append((produced_in, state["phase"], m.partition(), m.key().decode(),
                              m.value().decode()))

        p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all", "linger.ms": 5,
                      "message.timeout.ms": 120000, "request.timeout.ms": 10000,
                      "reconnect.backoff.max.ms": 1000})
        i = 0
        for phase in ("before", "outage", "after"):
            if phase == "outage":
                sd.broker_down(down)
                h.log("broker %d down" % down)
            if phase == "after":
                sd.broker_up(down)
                h.log("broker %d up" % down)
            state["phase"] = phase
            for _ in range(ROUNDS[phase]):
                for k, v in msgs[i:i + BATCH]:
                    p.produce(topic, key=k, value=v,
                              on_delivery=lambda err, m, ph=phase: on_delivery(err, m, ph))
                i += BATCH
                p.poll(0.1)
            if phase == "before":
                h.check(p.flush(60) == 0, "undelivered messages before the outage")
            h.log("%s: produced %d so far, %d acknowledged, %d errors" % (
                phase, i, len(acked), len(errors)))
        remaining = p.flush(120)
        del p
        h.log("after flush: %d acknowledged, %d errors, %d undelivered" % (
            len(acked), len(errors), remaining))

        by_phase = {}
        for prod, ackph, part, _, _ in acked:
            key = (prod, ackph, part in on_down)
            by_phase[key] = by_phase.get(key, 0) + 1
        h.log("acks by (produced in, acked in, on downed broker): %r" % by_phase)
        # The outage was real: other brokers kept acknowledging during it, the downed broker's
        # partitions did not, and they were acknowledged once it was back.
        h.check(by_phase.get(("outage", "outage", False), 0) > 0,
                "no acknowledgement from the other brokers during the outage")
        h.check(by_phase.get(("outage", "outage", True), 0) == 0,
                "partitions of the downed broker were acknowledged while it was down")
        h.check(by_phase.get(("outage", "after", True), 0) > 0,
                "messages held during the outage were not acknowledged after recovery")
        h.check(by_phase.get(("after", "after", True), 0) > 0,
                "no acknowledgement from broker %d after it came back" % down)

        got = h.consume_to_eof(sd.bootstrap, topic)
        have = {(k, v) for (_, _, k, v) in got}
        lost = [(ph, part, k) for (ph, _, part, k, v) in acked if (k, v) not in have]
        h.check(not lost, "%d acknowledged messages lost, e.g. %r" % (len(lost), lost[:5]))
        valid = set(msgs)
        h.check(have <= valid, "read messages that were never produced")
        h.log("all %d acknowledged messages are in the topic (%d records read)" % (
            len(acked), len(got)))
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
