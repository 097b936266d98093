"""A broker that joins while a client holds cached metadata is first announced to that client by a
Produce v10 response (KIP-951: NOT_LEADER_OR_FOLLOWER with CurrentLeader and the top-level
NodeEndpoints), not by Metadata. straitd runs with a discovery interval far longer than the test
(so its periodic discovery cannot be what finds the broker); the librdkafka 2.12 client produces
half its messages through the endpoint and pauses; broker 4 joins the 2.12 mock and becomes leader
of every partition; the client resumes with its stale leaders. strait must bind broker 4's port
before forwarding the response that names it and rewrite the NodeEndpoints entry to the endpoint
address: the client delivers everything, reads it all back, and never sees or dials an upstream
address. The same again for Fetch v16 NodeEndpoints, with the client paused while consuming."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 6
COUNT = 4000
PAUSE_AFTER = 2000
KIP951_LOG = "updated with leader 4"  # librdkafka METADATAUPDATE debug line (Produce/Fetch leader)
# librdkafka broker debug line of a failed connect: broker 4's port must be bound before the
# response naming it reaches the client, so the client's first connect to it must succeed.
REFUSED = "Connection refused"


def test():
    """Produce v10."""
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=4,
                              extra_args=["--metadata-refresh-ms", "3600000"]) as sd:
        topic = h.unique_name("kip951")
        mock.create_topic(topic, PARTITIONS, 3)
        forbid = m.forbidden_strings(sd, mock)
        client = m.PausedClient(sd.bootstrap, topic, COUNT, PAUSE_AFTER, forbid=forbid,
                                count_log=[KIP951_LOG, "METADATAUPDATE", REFUSED])
        try:
            client.wait_paused()
            mock.command("add-broker", 4)
            sd.watch_more_upstream(mock.listen_addresses())
            for p in range(PARTITIONS):
                mock.command("set-leader", topic, p, 4)
            known = sd.status_brokers()
            h.log("straitd knows brokers %r before the client resumes" % sorted(known))
            client.resume()
            rep = client.finish()
        finally:
            client.kill()

        h.check(rep["delivered"] == COUNT and rep["matched"] == COUNT,
                "delivered %d, matched %d of %d" % (rep["delivered"], rep["matched"], COUNT))
        h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                rep["forbiddenSeen"])
        h.check(rep["requestVersions"].get("Produce") == 10,
                "Produce v%r, want v10 (NodeEndpoints)" % rep["requestVersions"].get("Produce"))
        h.check(all(v == 4 for v in rep["leaders"].values()), "leaders after the move: %r" %
                rep["leaders"])
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3, 4], "2.12 client metadata")
        h.log("client log lines: %r" % rep["logCounts"])
        # The client applied leader updates carried by Produce responses (KIP-951), so the path
        # under test was taken (a Metadata-only discovery would log none).
        h.check(rep["logCounts"].get("METADATAUPDATE", 0) > 0,
                "the client applied no leader update from a Produce response: %r" %
                rep["logCounts"])
        h.check(rep["logCounts"].get(REFUSED) == 0, "the client's connects were refused %r "
                "times: a port was bound after a response named its broker" %
                rep["logCounts"].get(REFUSED))
        b4 = sd.status_brokers().get(4)
        h.check(b4 is not None and b4["endpointPort"] == 14004, "broker 4 in status: %r" % b4)
        c = sd.status()["clusters"][0]["counters"]
        h.log("straitd counters: %r" % c)
        h.check(c["protocolErrors"] == 0,
                "straitd counted %d protocol errors" % c["protocolErrors"])
        h.check(sd.alive(), "straitd died")


def test_fetch():
    """The same for Fetch v16: the consumer pauses with most of the topic still to fetch, broker 4
    joins and takes over every partition, and the consumer's next Fetch to an old leader is
    answered NOT_LEADER_OR_FOLLOWER with CurrentLeader and NodeEndpoints naming broker 4."""
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=4,
                              extra_args=["--metadata-refresh-ms", "3600000"]) as sd:
        topic = h.unique_name("kip951f")
        mock.create_topic(topic, PARTITIONS, 3)
        forbid = m.forbidden_strings(sd, mock)
        client = m.PausedClient(sd.bootstrap, topic, COUNT, COUNT // 4, forbid=forbid,
                                count_log=[KIP951_LOG, "METADATAUPDATE", REFUSED], in_consume=True)
        try:
            client.wait_paused()
            mock.command("add-broker", 4)
            sd.watch_more_upstream(mock.listen_addresses())
            for p in range(PARTITIONS):
                mock.command("set-leader", topic, p, 4)
            client.resume()
            rep = client.finish()
        finally:
            client.kill()
        h.check(rep["delivered"] == COUNT and rep["matched"] == COUNT,
                "delivered %d, matched %d of %d" % (rep["delivered"], rep["matched"], COUNT))
        h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                rep["forbiddenSeen"])
        h.check(rep["requestVersions"].get("Fetch") == 16,
                "Fetch v%r, want v16 (NodeEndpoints)" % rep["requestVersions"].get("Fetch"))
        h.log("client log lines: %r" % rep["logCounts"])
        h.check(rep["logCounts"].get("METADATAUPDATE", 0) > 0,
                "the client applied no leader update from a Fetch response: %r" %
                rep["logCounts"])
        h.check(rep["logCounts"].get(REFUSED) == 0, "the client's connects were refused %r "
                "times: a port was bound after a response named its broker" %
                rep["logCounts"].get(REFUSED))
        b4 = sd.status_brokers().get(4)
        h.check(b4 is not None and b4["endpointPort"] == 14004, "broker 4 in status: %r" % b4)
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


def test_both():
    test()
    test_fetch()


if __name__ == "__main__":
    m.main(test_both)
