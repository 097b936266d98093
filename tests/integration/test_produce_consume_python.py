"""confluent-kafka-python (librdkafka 2.0.2) through the endpoint: produce 10,000 messages with
acks=all, every delivery report succeeds, and consuming the topic from the beginning returns exactly
those messages (content, once each, in per-partition send order)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

COUNT = 10000


def test():
    from confluent_kafka import Producer
    with h.Straitd(brokers=3) as sd:
        topic = h.unique_name("py")
        sd.create_topic(topic, 6, 3)
        msgs = h.make_messages(topic, COUNT)
        p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all", "linger.ms": 5,
                      "message.timeout.ms": 60000})
        acked, errors = [], []

        def on_delivery(err, m):
            if err is not None:
                errors.append(err)
            else:
                acked.append((m.key().decode(), m.value().decode()))

        for k, v in msgs:
            while True:
                try:
                    p.produce(topic, key=k, value=v, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        remaining = p.flush(60)
        h.check(remaining == 0, "%d messages still undelivered after flush" % remaining)
        h.check(not errors, "%d delivery errors, first: %s" % (len(errors), errors[:1]))
        h.check(len(acked) == COUNT, "acked %d of %d" % (len(acked), COUNT))
        h.log("produced and acked %d messages (acks=all)" % COUNT)
        del p  # destroy the producer (closing its connections) while straitd still serves

        got = h.consume_to_eof(sd.bootstrap, topic)
        h.assert_exactly(msgs, got, "confluent-kafka")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
