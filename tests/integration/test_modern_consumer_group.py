"""Consumer groups of librdkafka 2.12 through strait on the 2.12 mock: the classic protocol
(FindCoordinator, JoinGroup/SyncGroup/Heartbeat, OffsetCommit/OffsetFetch at 2.12's versions) and
the KIP-848 protocol (group.protocol=consumer: ConsumerGroupHeartbeat). Each run produces messages,
reads all of them back as the only member of a new group, commits, and reads the committed offsets
back from the coordinator (they must equal each partition's end); the coordinator and brokers the
client learns are endpoint addresses, never upstream ones."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 4
COUNT = 2000


def test():
    with m.ModernMock(brokers=3) as mock, m.UpstreamStraitd(mock.bootstrap, ports=3) as sd:
        forbid = m.forbidden_strings(sd, mock)
        for proto, want_api in (("classic", "JoinGroup"), ("consumer", "ConsumerGroupHeartbeat")):
            topic = h.unique_name("modern-group-%s" % proto)
            mock.create_topic(topic, PARTITIONS, 3)
            rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=forbid,
                               extra=["--group-protocol", proto])
            g = rep["group"]
            h.log("%s group: %r" % (proto, g))
            h.check(rep["matched"] == COUNT and rep["duplicates"] == 0,
                    "%s group read back %d of %d (%d duplicates)" % (
                        proto, rep["matched"], COUNT, rep["duplicates"]))
            h.check(g["committedAtEnd"] and g["committedTotal"] == COUNT,
                    "%s group: committed offsets %r, want the partition ends (total %d)" % (
                        proto, g, COUNT))
            h.check(g["assigned"] == PARTITIONS, "%s group: %r partitions assigned, want %d" % (
                proto, g["assigned"], PARTITIONS))
            h.check(want_api in rep["requestVersions"], "%s group sent no %s request: %r" % (
                proto, want_api, rep["requestVersions"]))
            h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                    rep["forbiddenSeen"])
            m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "%s client" % proto)
        c = sd.status()["clusters"][0]["counters"]
        h.log("straitd counters: %r" % c)
        h.check(c["protocolErrors"] == 0,
                "straitd counted %d protocol errors" % c["protocolErrors"])
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
