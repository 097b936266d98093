"""straitd starts while the first broker of its --upstream list is down (librdkafka 2.12 mock:
broker 1 down, so it is also missing from Metadata): discovery falls back to the next bootstrap
broker, straitd becomes ready serving brokers 2 and 3, and when broker 1 comes back it gets port
14001 by periodic discovery and clients see all three brokers at the endpoint."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402


def test():
    with m.ModernMock(brokers=3) as mock:
        mock.command("broker-down", 1)
        with m.UpstreamStraitd(mock.bootstrap, ports=3,
                               extra_args=["--metadata-refresh-ms", "500"]) as sd:
            h.check(sd.broker_ports == {2: 14002, 3: 14003},
                    "ready file with broker 1 down: %r" % sd.broker_ports)
            raw, md = m.kcat_metadata(sd.bootstrap)
            m.check_brokers_at_endpoint(sd, md["brokers"], [2, 3], "kcat -L, broker 1 down")
            mock.command("broker-up", 1)
            b1 = h.wait_for(lambda: sd.status_brokers().get(1), 30,
                            "straitd to learn broker 1 once it is up", interval=0.2)
            h.check(b1["endpointPort"] == 14001 and b1["listed"], "broker 1: %r" % b1)
            raw, md = m.kcat_metadata(sd.bootstrap)
            m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L, broker 1 up")
            m.check_no_upstream_in(raw, sd, "kcat -L")
            topic = h.unique_name("modern-degraded")
            mock.create_topic(topic, 3, 3)
            for p in range(3):
                mock.command("set-leader", topic, p, p + 1)
            rep = m.run_client(sd.bootstrap, topic, 900, forbid=m.forbidden_strings(sd, mock))
            h.check(rep["matched"] == 900 and len(rep["deliveredPartitions"]) == 3,
                    "matched %d, partitions %r" % (rep["matched"], rep["deliveredPartitions"]))
            h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
