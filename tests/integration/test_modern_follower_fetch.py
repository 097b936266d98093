"""Fetch from a follower (KIP-392) through strait with librdkafka 2.12 on both sides: the mock's
brokers carry racks (so Metadata v12 and Produce/Fetch NodeEndpoints entries carry non-null rack
strings through strait's rewriting), each partition's leader names another broker as preferred
read replica in its Fetch v16 responses, and the client then fetches from that broker through its
endpoint port. Later a fourth broker joins and becomes the preferred read replica of every
partition: a new client reads everything through broker 4's new port. All messages come back
exactly once and no upstream address is seen."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 3
COUNT = 3000
DELEGATED = "preferred replica updated"  # librdkafka topic debug line when it moves a fetcher


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=4,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        for b in (1, 2, 3):
            mock.command("set-rack", b, "rack-%d" % b)
        topic = h.unique_name("modern-follower")
        mock.create_topic(topic, PARTITIONS, 3)
        for p in range(PARTITIONS):
            mock.command("set-leader", topic, p, p + 1)
            mock.command("set-follower", topic, p, (p + 1) % 3 + 1)
        rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=m.forbidden_strings(sd, mock),
                           count_log=[DELEGATED], extra=["--client-rack", "rack-2"])
        h.log("client log lines: %r" % rep["logCounts"])
        h.check(rep["matched"] == COUNT, "matched %d of %d" % (rep["matched"], COUNT))
        h.check(rep["logCounts"].get(DELEGATED, 0) > 0,
                "the client never fetched from a preferred read replica: %r" % rep["logCounts"])
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client metadata")

        mock.command("add-broker", 4)
        mock.command("set-rack", 4, "rack-4")
        sd.watch_more_upstream(mock.listen_addresses())
        h.wait_for(lambda: sd.status_brokers().get(4), 30, "straitd to learn broker 4",
                   interval=0.2)
        for p in range(PARTITIONS):
            mock.command("set-leader", topic, p, p + 1)
            mock.command("set-follower", topic, p, 4)
        rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=m.forbidden_strings(sd, mock),
                           count_log=[DELEGATED], tag="%s-after" % topic,
                           extra=["--client-rack", "rack-4"])
        h.log("client log lines: %r" % rep["logCounts"])
        h.check(rep["matched"] == COUNT, "matched %d of %d" % (rep["matched"], COUNT))
        h.check(rep["logCounts"].get(DELEGATED, 0) > 0,
                "the client never fetched from broker 4 as preferred read replica: %r" %
                rep["logCounts"])
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3, 4], "2.12 client metadata")
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
