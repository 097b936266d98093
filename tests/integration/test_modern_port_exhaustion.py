"""Fail closed when the endpoint's port range is full: with --port-range 14001-14003 and a fourth
broker joining the librdkafka 2.12 mock, straitd cannot give it a port, so no client may ever learn
its (upstream) address -- not from Metadata (kcat -L, the 2.12 client), not from a Produce v10
NodeEndpoints entry (KIP-951: a 2.12 producer with cached leaders resumes after broker 4 took over
its partitions), not from FindCoordinator (broker 4 made the group coordinator). Those clients
cannot reach broker 4 and report failures; the test checks only that nothing leaked and that the
other brokers keep working."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

PARTITIONS = 3


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=3, port_range="14001-14003",
                              extra_args=["--metadata-refresh-ms", "3600000"]) as sd:
        topic = h.unique_name("modern-full")
        mock.create_topic(topic, PARTITIONS, 3)
        for p in range(PARTITIONS):
            mock.command("set-leader", topic, p, p + 1)
        forbid = m.forbidden_strings(sd, mock)
        client = m.PausedClient(sd.bootstrap, topic, 400, 200, forbid=forbid, timeout_s=5,
                                consume=False)
        try:
            client.wait_paused()
            mock.command("add-broker", 4)
            sd.watch_more_upstream(mock.listen_addresses())
            forbid = m.forbidden_strings(sd, mock)
            for p in range(PARTITIONS):
                mock.command("set-leader", topic, p, 4)
            client.resume()
            rep = client.finish(check_ok=False)
        finally:
            client.kill()
        h.log("producer with stale leaders: delivered %d of 400, failure %r, brokers %r" % (
            rep["delivered"], rep["failure"], rep["brokers"]))
        h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                rep["forbiddenSeen"])
        m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client metadata")
        h.check(rep["delivered"] >= 200, "the first 200 messages were not delivered")

        b4 = sd.status_brokers().get(4)
        h.log("straitd status for broker 4: %r" % b4)
        h.check(b4 is None or b4.get("endpointPort", -1) in (-1, 0, None),
                "broker 4 got a port outside a full range: %r" % b4)
        raw, md = m.kcat_metadata(sd.bootstrap, topic)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L with a full range")
        for hp in forbid:
            h.check(hp not in raw, "kcat -L shows %s: %s" % (hp, raw[:2000]))

        # Broker 4 as a group coordinator: the group cannot work, nothing may leak.
        mock.command("set-coordinator", "group", "full-range-group", 4)
        rep = m.run_client(sd.bootstrap, topic, 0, forbid=forbid, timeout_s=5, check_ok=False,
                           extra=["--group-protocol", "classic", "--group-id", "full-range-group"])
        h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                rep["forbiddenSeen"])

        # The brokers that have ports keep working.
        other = h.unique_name("modern-full-ok")
        mock.create_topic(other, PARTITIONS, 3)
        for p in range(PARTITIONS):
            mock.command("set-leader", other, p, p + 1)
        rep = m.run_client(sd.bootstrap, other, 300, forbid=forbid)
        h.check(rep["matched"] == 300, "other brokers: matched %d of 300" % rep["matched"])
        r = subprocess.run(["grep", "-c", "cannot get an endpoint port", sd.log_path],
                           capture_output=True)
        h.log("straitd logged 'cannot get an endpoint port' %s times" % r.stdout.decode().strip())
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
