"""A broker of the librdkafka 2.12 mock taken down and brought back (broker-down/up; the mock moves
no leadership) while librdkafka 2.12 clients work through the endpoint: partitions led by the other
brokers keep being produced to and read back during the outage; a producer to a partition of the
downed broker is held (nothing acknowledged) until the broker is back, then everything it sent is
acknowledged and read back; the node -> port map and the brokers clients see do not change, and no
upstream address is ever seen."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 6
LEADERS = {0: 1, 1: 2, 2: 3, 3: 1, 4: 2, 5: 3}
DOWN = 2


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=3,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        topic = h.unique_name("modern-outage")
        mock.create_topic(topic, PARTITIONS, 3)
        for p, b in LEADERS.items():
            mock.command("set-leader", topic, p, b)
        forbid = m.forbidden_strings(sd, mock)
        ports_before = {n: b["endpointPort"] for n, b in sd.status_brokers().items()}

        rep = m.run_client(sd.bootstrap, topic, 600, forbid=forbid, tag="before")
        h.check(rep["leaders"] == {str(p): b for p, b in LEADERS.items()},
                "leaders seen by the client: %r, want %r" % (rep["leaders"], LEADERS))

        mock.command("broker-down", DOWN)
        # The mock leaves a down broker out of Metadata: straitd's discovery notices, and keeps the
        # port reserved for it.
        b = h.wait_for(lambda: (lambda b: b if b and not b["listed"] else None)(
            sd.status_brokers().get(DOWN)), 30, "straitd to see broker %d unlisted" % DOWN,
            interval=0.2)
        h.check(b["endpointPort"] == ports_before[DOWN], "broker %d's port moved: %r" % (DOWN, b))
        # The other brokers keep working through the endpoint.
        for p in (0, 2):
            rep = m.run_client(sd.bootstrap, topic, 300, partition=p, forbid=forbid,
                               tag="outage-p%d" % p)
            h.check(rep["deliveredPartitions"] == {str(p): 300}, "during the outage: %r" %
                    rep["deliveredPartitions"])
        raw, md = m.kcat_metadata("%s:%d" % (sd.address, sd.broker_ports[1]))
        m.check_no_upstream_in(raw, sd, "kcat -L during the outage")
        h.log("kcat -L during the outage: brokers %s" % sorted((b["id"], b["name"])
                                                              for b in md["brokers"]))

        # A producer to the downed broker's partition is held until it is back.
        held = m.PausedClient(sd.bootstrap, topic, 300, -1, forbid=forbid, tag="held-p1",
                              partition=1)
        try:
            # The mock moves no leadership on broker-down, so nothing to partition 1 can be
            # acknowledged while broker 2 is down: the client must still be waiting.
            time.sleep(2.0)
            h.check(held.proc.poll() is None,
                    "the client producing to partition 1 finished while its leader was down")
            st = sd.status()
            h.log("straitd counters during the outage: %r" % st["clusters"][0]["counters"])
            mock.command("broker-up", DOWN)
            rep = held.finish()
        finally:
            held.kill()
        h.check(rep["deliveredPartitions"] == {"1": 300}, "held producer delivered to %r" %
                rep["deliveredPartitions"])
        h.check(rep["delivered"] == 300 and rep["matched"] == 300,
                "held producer after recovery: delivered %d, matched %d" % (rep["delivered"],
                                                                             rep["matched"]))

        rep = m.run_client(sd.bootstrap, topic, 600, forbid=forbid, tag="after")
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client after recovery")
        h.wait_for(lambda: sd.status_brokers()[DOWN]["listed"], 30,
                   "straitd to list broker %d again" % DOWN, interval=0.2)
        ports_after = {n: b["endpointPort"] for n, b in sd.status_brokers().items()}
        h.check(ports_after == ports_before, "ports changed: %r -> %r" % (ports_before,
                                                                          ports_after))
        raw, md = m.kcat_metadata(sd.bootstrap, topic)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L after recovery")
        m.check_no_upstream_in(raw, sd, "kcat -L after recovery")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
