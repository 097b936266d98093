"""A broker that moves to a new address under the same node id (the librdkafka 2.12 mock starts
advertising broker 2 at a proxy in front of it): straitd's discovery follows the node id -- broker 2
keeps port 14002, new connections through 14002 reach the new address (traffic crosses the
proxy), clients see no change, and no upstream address is seen."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=3,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        topic = h.unique_name("modern-moves")
        mock.create_topic(topic, 3, 3)
        for p in range(3):
            mock.command("set-leader", topic, p, p + 1)
        before = sd.status_brokers()
        rep = m.run_client(sd.bootstrap, topic, 300, partition=1, tag="before",
                           forbid=m.forbidden_strings(sd, mock))

        host2, port2 = mock.bootstrap.split(",")[1].rsplit(":", 1)
        proxy = m.DribbleProxy((host2, int(port2)), seed=2)
        proxy.start()
        try:
            # From now on only the proxy (this process) may dial broker 2's old address; clients
            # must use neither it nor the proxy's (the --forbid strings cover both).
            if sd.watcher is not None:
                sd.watcher.upstream = sd.watcher.upstream - {(host2, int(port2))}
            mock.command("set-host-port", 2, "127.0.0.1", proxy.port)
            moved = h.wait_for(
                lambda: (lambda b: b if b["upstreamPort"] == proxy.port else None)(
                    sd.status_brokers()[2]), 30, "straitd to follow broker 2 to its new address",
                interval=0.2)
            h.log("broker 2 moved: %r -> %r" % (before[2], moved))
            h.check(moved["endpointPort"] == before[2]["endpointPort"],
                    "broker 2's port changed: %r" % moved)
            sd.watch_more_upstream([("127.0.0.1", proxy.port)])
            rep = m.run_client(sd.bootstrap, topic, 300, partition=1, tag="after",
                               forbid=m.forbidden_strings(sd, mock) + ["127.0.0.1:%d" %
                                                                       proxy.port])
            h.check(rep["deliveredPartitions"] == {"1": 300} and rep["matched"] == 300,
                    "after the move: %r, matched %d" % (rep["deliveredPartitions"],
                                                        rep["matched"]))
            h.check(proxy.pieces > 0, "no traffic reached broker 2's new address")
            h.log("proxy forwarded %d bytes" % proxy.bytes)
            raw, md = m.kcat_metadata(sd.bootstrap, topic)
            m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L after the move")
            m.check_no_upstream_in(raw, sd, "kcat -L after the move")
            h.check({n: b["endpointPort"] for n, b in sd.status_brokers().items()} ==
                    {n: b["endpointPort"] for n, b in before.items()}, "ports changed")
            h.check(sd.alive(), "straitd died")
        finally:
            proxy.stop()


if __name__ == "__main__":
    m.main(test)
