"""Ports of brokers that joined survive a straitd restart, and a broker that joined while straitd
was down is learned before the first client is served: straitd runs on the librdkafka 2.12 mock,
broker 4 joins (port 14004), straitd stops, broker 5 joins, straitd starts again on the same data
dir and address -- its ready file already lists 4 on 14004 and 5 on 14005, kcat -L shows all five,
and the 2.12 client produces to partitions led by 4 and 5 with no refused connect and no upstream
address seen."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402


def test():
    data_dir = tempfile.mkdtemp(prefix="strait-it-restart-")
    ok = False
    try:
        with m.ModernMock(brokers=3) as mock:
            with m.UpstreamStraitd(mock.bootstrap, ports=5, data_dir=data_dir,
                                   extra_args=["--metadata-refresh-ms", "500"]) as sd:
                address = sd.address
                mock.command("add-broker", 4)
                b4 = h.wait_for(lambda: sd.status_brokers().get(4), 30, "broker 4 learned",
                                interval=0.2)
                h.check(b4["endpointPort"] == 14004, "broker 4 on %r" % b4)
            mock.command("add-broker", 5)
            with m.UpstreamStraitd(mock.bootstrap, ports=5, data_dir=data_dir, address=address,
                                   extra_args=["--metadata-refresh-ms", "500"]) as sd:
                sd.watch_more_upstream(mock.listen_addresses())
                h.log("ready file after the restart: %r" % sd.broker_ports)
                h.check(sd.broker_ports == {n: 14000 + n for n in range(1, 6)},
                        "ready file after the restart: %r" % sd.broker_ports)
                topic = h.unique_name("modern-restart")
                mock.create_topic(topic, 5, 3)
                for p in range(5):
                    mock.command("set-leader", topic, p, p + 1)
                raw, md = m.kcat_metadata(sd.bootstrap, topic)
                m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3, 4, 5], "kcat -L")
                m.check_no_upstream_in(raw, sd, "kcat -L")
                for p in (3, 4):
                    rep = m.run_client(sd.bootstrap, topic, 300, partition=p,
                                       tag="%s-p%d" % (topic, p),
                                       forbid=m.forbidden_strings(sd, mock),
                                       count_log=["Connection refused"])
                    h.check(rep["leaders"].get(str(p)) == p + 1, "partition %d led by %r" % (
                        p, rep["leaders"].get(str(p))))
                    h.check(rep["logCounts"]["Connection refused"] == 0,
                            "connects refused: %r" % rep["logCounts"])
                h.check(sd.alive(), "straitd died")
        ok = True
    finally:
        if ok and os.environ.get("ST_KEEP") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            h.log("kept data dir %s" % data_dir)


if __name__ == "__main__":
    m.main(test)
