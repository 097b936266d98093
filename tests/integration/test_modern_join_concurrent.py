"""Two brokers join while four librdkafka 2.12 producers hold stale metadata, and all four resume
at once: the first responses naming brokers 4 and 5 (Produce v10 NodeEndpoints, then Metadata)
arrive on several connections together. straitd's periodic discovery is off for the test, so
those responses are the only way it learns the brokers: each must get its port bound before any
client hears of it (no client connect is ever refused), every producer delivers everything and
reads it back, and no upstream address is seen."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 8
CLIENTS = 4
COUNT = 6000
REFUSED = "Connection refused"


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=5,
                              extra_args=["--metadata-refresh-ms", "3600000"]) as sd:
        topic = h.unique_name("modern-concurrent")
        mock.create_topic(topic, PARTITIONS, 3)
        forbid = m.forbidden_strings(sd, mock)
        clients = [m.PausedClient(sd.bootstrap, topic, COUNT, COUNT // 2, forbid=forbid,
                                  tag="%s-c%d" % (topic, i), count_log=[REFUSED, "METADATAUPDATE"])
                   for i in range(CLIENTS)]
        try:
            for c in clients:
                c.wait_paused()
            mock.command("add-broker", 4)
            mock.command("add-broker", 5)
            sd.watch_more_upstream(mock.listen_addresses())
            for p in range(PARTITIONS):
                mock.command("set-leader", topic, p, 4 + p % 2)
            h.log("straitd knows brokers %r before the clients resume" %
                  sorted(sd.status_brokers()))
            for c in clients:
                c.resume()
            reps = [c.finish() for c in clients]
        finally:
            for c in clients:
                c.kill()
        for i, rep in enumerate(reps):
            h.check(rep["delivered"] == COUNT and rep["matched"] == COUNT,
                    "client %d: delivered %d, matched %d of %d" % (i, rep["delivered"],
                                                                   rep["matched"], COUNT))
            h.check(rep["logCounts"].get(REFUSED) == 0, "client %d: connects refused: %r" % (
                i, rep["logCounts"]))
            h.check(rep["forbiddenSeen"] == "", "client %d: upstream address seen: %s" % (
                i, rep["forbiddenSeen"]))
            m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3, 4, 5], "client %d" % i)
            h.log("client %d: %r" % (i, rep["logCounts"]))
        ports = {n: b["endpointPort"] for n, b in sd.status_brokers().items()}
        h.check(ports == {n: 14000 + n for n in range(1, 6)}, "ports: %r" % ports)
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
