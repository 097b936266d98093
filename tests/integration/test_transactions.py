"""Idempotent and transactional producers through the endpoint (InitProducerId, FindCoordinator for
a transaction coordinator, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn): an
idempotent producer's 5,000 messages arrive exactly once; a transaction commits and another aborts
(both complete; the 2.0.2 mock does not hide aborted records from read_committed readers, so only
the committed records' presence is checked); a consume-transform-produce transaction writes its
output and sends its group's input offsets (the 2.0.2 mock accepts TxnOffsetCommit but does not
store the offsets, so they are not read back)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402


def produce_all(p, topic, msgs):
    for k, v in msgs:
        while True:
            try:
                p.produce(topic, key=k, value=v)
                break
            except BufferError:
                p.poll(0.1)


def test():
    from confluent_kafka import Consumer, Producer, TopicPartition
    with h.Straitd(brokers=3) as sd:
        # Idempotent producer.
        topic = h.unique_name("idem")
        sd.create_topic(topic, 6, 3)
        msgs = h.make_messages(topic, 5000, max_len=100)
        errs = []
        p = Producer({"bootstrap.servers": sd.bootstrap, "enable.idempotence": True,
                      "error_cb": lambda e: errs.append(e)})
        for k, v in msgs:
            p.produce(topic, key=k, value=v, on_delivery=lambda e, m: e and errs.append(e))
        h.check(p.flush(60) == 0 and not errs, "idempotent produce: %s" % errs[:3])
        del p
        h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, topic), "idempotent producer")

        # Transactions: one committed, one aborted.
        out = h.unique_name("txn-out")
        sd.create_topic(out, 3, 3)
        txid = h.unique_name("txid")
        p = Producer({"bootstrap.servers": sd.bootstrap, "transactional.id": txid,
                      "transaction.timeout.ms": 30000})
        p.init_transactions(30)
        committed = h.make_messages(out + "-commit", 500, max_len=80)
        aborted = h.make_messages(out + "-abort", 300, max_len=80)
        p.begin_transaction()
        produce_all(p, out, committed)
        p.commit_transaction(60)
        p.begin_transaction()
        produce_all(p, out, aborted)
        p.flush(60)
        p.abort_transaction(60)

        # Consume-transform-produce: read all of `out` in a group, write upper-cased copies to
        # `out2`, and send the group's input offsets with the transaction.
        out2 = h.unique_name("txn-out2")
        sd.create_topic(out2, 3, 3)
        group = h.unique_name("txn-group")
        written = h.consume_to_eof(sd.bootstrap, out)
        have = {(k, v) for (_, _, k, v) in written}
        h.check(set(committed) <= have, "%d committed messages missing" % len(
            set(committed) - have))
        c = Consumer({"bootstrap.servers": sd.bootstrap, "group.id": group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 6000})
        seen = []
        try:
            c.assign([TopicPartition(out, part, 0) for part in range(3)])
            p.begin_transaction()

            def pump():
                m = c.poll(0.2)
                if m is not None and not m.error():
                    seen.append((m.key().decode(), m.value().decode()))
                    p.produce(out2, key=m.key(), value=m.value().upper())
                return len(seen) >= len(written)
            h.wait_for(pump, 60, "reading %d messages of %s" % (len(written), out), interval=0)
            positions = c.position(c.assignment())
            p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 30)
            p.commit_transaction(60)
        finally:
            c.close()
        del p
        got2 = h.consume_to_eof(sd.bootstrap, out2)
        h.assert_exactly([(k, v.upper()) for k, v in seen], got2, "transformed output")
        h.log("consume-transform-produce transaction committed %d records and its offsets %r" % (
            len(seen), {tp.partition: tp.offset for tp in positions}))


if __name__ == "__main__":
    h.run(test)
