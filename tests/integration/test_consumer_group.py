"""A confluent-kafka consumer group through the endpoint (FindCoordinator, JoinGroup, SyncGroup,
Heartbeat, OffsetCommit/Fetch, LeaveGroup): 3 members (session.timeout.ms=6000) share a 6-partition
topic 2 each, consume exactly the messages of their own partitions and commit; the committed offsets
are visible to a fresh client of the group. When one member leaves, the other two take over its
partitions and resume at its committed offsets (no message is read twice)."""
import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

PARTITIONS = 6
PER_PARTITION = 100
GROUP_TIMEOUT = 90.0


class Member:
    """One group member; all consumer calls happen on its own thread."""

    def __init__(self, name, bootstrap, group, topic):
        self.name = name
        self.conf = {"bootstrap.servers": bootstrap, "group.id": group,
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "partition.assignment.strategy": "range"}
        self.topic = topic
        self.lock = threading.Lock()
        self.assignment = set()
        self.msgs = []  # (partition, offset, key, value)
        self.errors = []
        self.cmds = queue.Queue()
        self.results = queue.Queue()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _on_assign(self, c, parts):
        with self.lock:
            self.assignment = {p.partition for p in parts}
        h.log("%s assigned %s" % (self.name, sorted(p.partition for p in parts)))

    def _on_revoke(self, c, parts):
        with self.lock:
            self.assignment = set()

    def _run(self):
        from confluent_kafka import Consumer
        try:
            c = Consumer(self.conf)
            c.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
            while True:
                try:
                    cmd = self.cmds.get_nowait()
                except queue.Empty:
                    cmd = None
                if cmd == "close":
                    c.close()
                    self.results.put("closed")
                    return
                if cmd == "commit":
                    try:
                        self.results.put(("committed", c.commit(asynchronous=False)))
                    except Exception as e:  # noqa: BLE001
                        self.results.put(("error", e))
                m = c.poll(0.1)
                if m is None:
                    continue
                if m.error():
                    self.errors.append(m.error())
                    continue
                with self.lock:
                    self.msgs.append((m.partition(), m.offset(), m.key().decode(),
                                      m.value().decode()))
        except Exception as e:  # noqa: BLE001
            self.errors.append(e)
            self.results.put(("error", e))

    def snapshot(self):
        with self.lock:
            return set(self.assignment), list(self.msgs)

    def call(self, cmd, timeout=30.0):
        self.cmds.put(cmd)
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:
            raise h.TestFailure("%s: %s did not finish within %.0f s" % (self.name, cmd, timeout))


def wait_balanced(members, want_each):
    def balanced():
        sets = [m.snapshot()[0] for m in members]
        union = set().union(*sets)
        ok = (all(len(s) == want_each for s in sets) and len(union) == PARTITIONS
              and sum(len(s) for s in sets) == PARTITIONS)
        return sets if ok else None
    return h.wait_for(balanced, GROUP_TIMEOUT, "%d members with %d partitions each" % (
        len(members), want_each), interval=0.1)


def produce(bootstrap, topic, msgs_by_part):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    errors = []
    for part, msgs in msgs_by_part.items():
        for k, v in msgs:
            p.produce(topic, key=k, value=v, partition=part,
                      on_delivery=lambda err, m: err and errors.append(err))
    h.check(p.flush(60) == 0, "produce: undelivered messages")
    h.check(not errors, "produce errors: %s" % errors[:3])


def test():
    from confluent_kafka import Consumer, TopicPartition
    with h.Straitd(brokers=3) as sd:
        topic = h.unique_name("grp")
        group = h.unique_name("group")
        sd.create_topic(topic, PARTITIONS, 3)
        members = [Member("member%d" % i, sd.bootstrap, group, topic) for i in range(1, 4)]
        try:
            sets = wait_balanced(members, 2)
            h.log("group balanced: %s" % [sorted(s) for s in sets])

            # Produce only now, so every message lands in a partition whose owner is settled.
            all_msgs = h.make_messages(topic, PARTITIONS * PER_PARTITION, max_len=100)
            by_part = {p: all_msgs[p * PER_PARTITION:(p + 1) * PER_PARTITION]
                       for p in range(PARTITIONS)}
            produce(sd.bootstrap, topic, by_part)

            for m, owned in zip(members, sets):
                want = sum((by_part[p] for p in sorted(owned)), [])
                h.wait_for(lambda: len(m.snapshot()[1]) >= len(want), 60,
                           "%s to read %d messages" % (m.name, len(want)), interval=0.1)
                assignment, got = m.snapshot()
                h.check(assignment == owned, "%s assignment changed: %s -> %s" % (
                    m.name, sorted(owned), sorted(assignment)))
                h.check({r[0] for r in got} <= owned, "%s read partitions it does not own" %
                        m.name)
                h.assert_exactly(want, got, "%s (partitions %s)" % (m.name, sorted(owned)))
                r = m.call("commit")
                h.check(r[0] == "committed", "%s commit failed: %r" % (m.name, r))
                offs = {tp.partition: tp.offset for tp in r[1] if tp.error is None}
                h.check(offs == {p: PER_PARTITION for p in owned},
                        "%s committed %r" % (m.name, r[1]))

            # A fresh client of the group sees the commits (OffsetFetch via the coordinator).
            c = Consumer({"bootstrap.servers": sd.bootstrap, "group.id": group,
                          "enable.auto.commit": False})
            try:
                tps = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)],
                                  timeout=30)
            finally:
                c.close()
            committed = {tp.partition: tp.offset for tp in tps}
            h.check(committed == {p: PER_PARTITION for p in range(PARTITIONS)},
                    "committed offsets seen by a fresh client: %r" % committed)
            h.log("committed offsets visible: %r" % committed)

            # member3 leaves; the two others take over its partitions at the committed offsets.
            leaver = members.pop()
            h.check(leaver.call("close") == "closed", "member3 close")
            sets = wait_balanced(members, 3)
            h.log("after member3 left: %s" % [sorted(s) for s in sets])
            before = [len(m.snapshot()[1]) for m in members]
            more = h.make_messages(topic + "-more", PARTITIONS * 10, max_len=100)
            by_part2 = {p: more[p * 10:(p + 1) * 10] for p in range(PARTITIONS)}
            produce(sd.bootstrap, topic, by_part2)
            for m, owned, n0 in zip(members, sets, before):
                want = sum((by_part2[p] for p in sorted(owned)), [])
                h.wait_for(lambda: len(m.snapshot()[1]) >= n0 + len(want), 60,
                           "%s to read %d more messages" % (m.name, len(want)), interval=0.1)
                _, got = m.snapshot()
                h.assert_exactly(want, got[n0:], "%s after rebalance" % m.name)
            for m in members:
                h.check(not m.errors, "%s errors: %s" % (m.name, m.errors[:3]))
        finally:
            for m in members:
                if m.thread.is_alive():
                    m.call("close")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
