"""A broker that leaves the cluster (decommissioned in the librdkafka 2.12 mock, its partitions
reassigned) disappears from what clients see through the endpoint while its port stays reserved;
when a broker with the same node id comes back at a different upstream address, straitd follows
the node id: the same endpoint port now reaches the new address, and producing to a partition it
leads works. Clients keep working throughout and never see an upstream address."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 6
LEAVER = 3


def listed(sd, node, want):
    b = sd.status_brokers().get(node)
    return b if b is not None and b["listed"] == want else None


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=3,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        topic = h.unique_name("modern-leave")
        mock.create_topic(topic, PARTITIONS, 3)
        before = sd.status_brokers()[LEAVER]
        h.log("broker %d before: %r" % (LEAVER, before))
        rep = m.run_client(sd.bootstrap, topic, 600, forbid=m.forbidden_strings(sd, mock),
                           tag="before")

        mock.command("decommission", LEAVER)
        gone = h.wait_for(lambda: listed(sd, LEAVER, False), 30,
                          "straitd to see broker %d leave" % LEAVER, interval=0.2)
        h.check(gone["endpointPort"] == before["endpointPort"],
                "broker %d's port changed when it left: %r" % (LEAVER, gone))
        raw, md = m.kcat_metadata(sd.bootstrap, topic)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2], "kcat -L after the leave")
        m.check_no_upstream_in(raw, sd, "kcat -L after the leave")
        leaders = {p["partition"]: p["leader"] for t in md["topics"] for p in t["partitions"]}
        h.check(LEAVER not in leaders.values(), "partitions still led by %d: %r" % (LEAVER,
                                                                                    leaders))
        rep = m.run_client(sd.bootstrap, topic, 600, forbid=m.forbidden_strings(sd, mock),
                           tag="without")
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2], "2.12 client after the leave")

        # The same node id comes back, at a new upstream address (a new mock listener).
        mock.command("add-broker", LEAVER)
        sd.watch_more_upstream(mock.listen_addresses())
        back = h.wait_for(lambda: listed(sd, LEAVER, True), 30,
                          "straitd to see broker %d again" % LEAVER, interval=0.2)
        h.log("broker %d after it came back: %r" % (LEAVER, back))
        h.check(back["endpointPort"] == before["endpointPort"],
                "broker %d came back on port %r, had %r" % (LEAVER, back["endpointPort"],
                                                            before["endpointPort"]))
        h.check((back["upstreamHost"], back["upstreamPort"]) in mock.listen_addresses() and
                back["upstreamPort"] != before["upstreamPort"],
                "broker %d's upstream not updated: before %r, now %r, mock listens on %r" % (
                    LEAVER, before, back, mock.listen_addresses()))
        for p in range(PARTITIONS):
            mock.command("set-leader", topic, p, LEAVER)
        raw, md = m.kcat_metadata(sd.bootstrap, topic)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L after the return")
        m.check_no_upstream_in(raw, sd, "kcat -L after the return")
        rep = m.run_client(sd.bootstrap, topic, 600, forbid=m.forbidden_strings(sd, mock),
                           tag="returned")
        h.check(all(v == LEAVER for v in rep["leaders"].values()),
                "leaders after the return: %r" % rep["leaders"])
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client after the return")
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
