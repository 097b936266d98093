"""A cluster that grows from 3 to 60 brokers at once (the librdkafka 2.12 mock adds 57): straitd's
periodic discovery gives every new broker N its port 14000+N, kcat -L through the endpoint lists
all 60 at the endpoint address, and the 2.12 client produces to and reads back a 60-partition
topic whose partition P is led by broker P+1 -- one connection per broker through strait, none
refused, no upstream address seen."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

BROKERS = 60
COUNT = 6000


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=BROKERS,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        for b in range(4, BROKERS + 1):
            mock.command("add-broker", b)
        sd.watch_more_upstream(mock.listen_addresses())
        h.wait_for(lambda: len(sd.status_brokers()) == BROKERS, 30,
                   "straitd to learn all %d brokers" % BROKERS, interval=0.2)
        ports = {n: b["endpointPort"] for n, b in sd.status_brokers().items()}
        h.check(ports == {n: 14000 + n for n in range(1, BROKERS + 1)},
                "ports not at 14000+N: %r" % {n: p for n, p in ports.items() if p != 14000 + n})
        raw, md = m.kcat_metadata(sd.bootstrap)
        m.check_brokers_at_endpoint(sd, md["brokers"], list(range(1, BROKERS + 1)), "kcat -L")
        m.check_no_upstream_in(raw, sd, "kcat -L")

        topic = h.unique_name("modern-wide")
        mock.create_topic(topic, BROKERS, 1)
        for p in range(BROKERS):
            mock.command("set-leader", topic, p, p + 1)
        rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=m.forbidden_strings(sd, mock),
                           count_log=["Connection refused"])
        h.check(rep["matched"] == COUNT and len(rep["deliveredPartitions"]) == BROKERS,
                "matched %d of %d over %d partitions" % (rep["matched"], COUNT,
                                                          len(rep["deliveredPartitions"])))
        h.check(rep["logCounts"]["Connection refused"] == 0, "connects refused: %r" %
                rep["logCounts"])
        h.check(rep["leaders"] == {str(p): p + 1 for p in range(BROKERS)},
                "leaders seen: %r" % rep["leaders"])
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
