"""A broker that joins the cluster gets its port and appears in client metadata with no restart
and no configuration change (upstream: the librdkafka 2.12 mock cluster, which can add a broker at
runtime). straitd runs with a short --metadata-refresh-ms; the mock starts with 3 brokers (kcat -L
through the endpoint shows 3), then broker 4 is added: straitd's periodic discovery alone (no
client asks) gives it port 14004, kcat -L then shows it at the endpoint address and that port, the
port works as a bootstrap, and producing to partitions broker 4 leads works through the endpoint
(the 2.12 client, then kcat), with every message read back and no upstream address seen."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

DISCOVERY_WAIT = 30.0  # bound (s) for straitd to learn broker 4; refresh is every 0.5 s
PARTITIONS = 8
COUNT = 500


def kcat_produce_consume(sd, topic, partition, tag, n):
    """kcat (librdkafka 2.0.2) produces n lines to one partition through the endpoint and reads the
    partition back; returns the lines read that carry tag."""
    lines = ["%s-%04d" % (tag, i) for i in range(n)]
    r = subprocess.run(["kcat", "-P", "-b", sd.bootstrap, "-t", topic, "-p", str(partition),
                        "-X", "acks=all"], input=("\n".join(lines) + "\n").encode(),
                       capture_output=True, timeout=60)
    h.check(r.returncode == 0, "kcat -P: %s" % r.stderr.decode("utf-8", "replace"))
    r = subprocess.run(["kcat", "-C", "-b", sd.bootstrap, "-t", topic, "-p", str(partition),
                        "-o", "beginning", "-e", "-q"], capture_output=True, timeout=60)
    h.check(r.returncode == 0, "kcat -C: %s" % r.stderr.decode("utf-8", "replace"))
    got = [ln for ln in r.stdout.decode("utf-8", "replace").splitlines() if ln.startswith(tag)]
    h.check(got == lines, "kcat read back %d of %d lines of partition %d (first: %r)" % (
        len(got), n, partition, got[:3]))
    h.log("kcat: %d messages produced to and read back from partition %d" % (n, partition))


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=4,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        h.check(sd.broker_ports == {1: 14001, 2: 14002, 3: 14003},
                "ready file ports %r, want broker N on 14000+N" % sd.broker_ports)
        raw, md = m.kcat_metadata(sd.bootstrap)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L before the join")
        m.check_no_upstream_in(raw, sd, "kcat -L before the join")
        h.log("kcat -L: brokers %s" % sorted((b["id"], b["name"]) for b in md["brokers"]))

        mock.command("add-broker", 4)
        sd.watch_more_upstream(mock.listen_addresses())

        # Periodic discovery alone (only the admin socket is asked, no Kafka client).
        b4 = h.wait_for(lambda: sd.status_brokers().get(4), DISCOVERY_WAIT,
                        "straitd to learn broker 4 by periodic discovery", interval=0.2)
        h.log("straitd status for broker 4: %r" % b4)
        h.check(b4["endpointPort"] == 14004,
                "broker 4 got port %r, want 14004" % b4["endpointPort"])
        h.check(b4["listed"], "broker 4 not listed: %r" % b4)
        h.check((b4["upstreamHost"], b4["upstreamPort"]) in mock.listen_addresses(),
                "broker 4's upstream %s:%s is not one of the mock's listeners %r" % (
                    b4["upstreamHost"], b4["upstreamPort"], mock.listen_addresses()))
        h.check(sd.alive(), "straitd died")

        raw, md = m.kcat_metadata(sd.bootstrap)
        m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3, 4], "kcat -L after the join")
        m.check_no_upstream_in(raw, sd, "kcat -L after the join")
        h.check({"id": 4, "name": "%s:14004" % sd.address} in md["brokers"],
                "broker 4 not at %s:14004: %r" % (sd.address, md["brokers"]))
        h.log("kcat -L after the join: brokers %s" % sorted((b["id"], b["name"])
                                                           for b in md["brokers"]))
        # Broker 4's own port works as a bootstrap (the listener is really there).
        raw4, md4 = m.kcat_metadata("%s:14004" % sd.address)
        h.check(md4.get("originating_broker", {}).get("id") == 4,
                "metadata via port 14004 came from %r" % md4.get("originating_broker"))
        m.check_brokers_at_endpoint(sd, md4["brokers"], [1, 2, 3, 4], "kcat -L via port 14004")

        # A topic created after the join: make broker 4 lead some of its partitions.
        topic = h.unique_name("joined")
        mock.create_topic(topic, PARTITIONS, 3)
        for p in (1, 5):
            mock.command("set-leader", topic, p, 4)
        raw, md = m.kcat_metadata(sd.bootstrap, topic)
        m.check_no_upstream_in(raw, sd, "kcat -L -t %s" % topic)
        leaders = {p["partition"]: p["leader"] for t in md["topics"] for p in t["partitions"]}
        on4 = sorted(p for p, l in leaders.items() if l == 4)
        h.log("partition leaders: %r; led by broker 4: %r" % (leaders, on4))
        h.check(on4, "no partition led by broker 4: %r" % leaders)

        forbid = m.forbidden_strings(sd, mock)
        for p in on4:
            rep = m.run_client(sd.bootstrap, topic, COUNT, partition=p, forbid=forbid,
                               tag="%s-p%d" % (topic, p), count_log=["Connection refused"])
            h.check(rep["logCounts"]["Connection refused"] == 0,
                    "the client's connects were refused: %r" % rep["logCounts"])
            h.check(rep["deliveredPartitions"] == {str(p): COUNT},
                    "2.12 client delivered %r, want %d to partition %d" % (
                        rep["deliveredPartitions"], COUNT, p))
            h.check(rep["leaders"].get(str(p)) == 4, "2.12 client sees partition %d led by %r" % (
                p, rep["leaders"].get(str(p))))
            m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3, 4], "2.12 client metadata")
            h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
                    rep["forbiddenSeen"])
        kcat_produce_consume(sd, topic, on4[0], "kcat-%s" % topic, 200)

        st = sd.status_brokers()
        h.check({n: b["endpointPort"] for n, b in st.items()} ==
                {1: 14001, 2: 14002, 3: 14003, 4: 14004}, "ports after the join: %r" % st)
        h.check(sd.status()["clusters"][0]["counters"]["protocolErrors"] == 0,
                "straitd counted protocol errors")
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
