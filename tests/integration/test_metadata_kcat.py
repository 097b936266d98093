"""kcat -L -J through the endpoint: every broker appears at the endpoint address with its own port
(keyed on node id; broker N on 14000+N by default, as `strait admin status` also reports),
partition leaders/replicas name only those brokers, every endpoint port works as a bootstrap, and no
upstream address or port appears anywhere in the output."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

N_BROKERS = 3


def kcat_metadata(bootstrap, topic=None):
    argv = ["kcat", "-L", "-J", "-b", bootstrap, "-m", "15"]
    if topic:
        argv += ["-t", topic]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    h.check(r.returncode == 0, "%s: status %d: %s %s" % (" ".join(argv), r.returncode, out,
                                                        r.stderr.decode("utf-8", "replace")))
    return out, json.loads(out)


def test():
    with h.Straitd(brokers=N_BROKERS) as sd:
        ports = sd.broker_ports
        h.check(sorted(ports) == list(range(1, N_BROKERS + 1)),
                "ready file brokers %r, want node ids 1..%d" % (ports, N_BROKERS))
        # Default port range 14001-14100: broker N on 14000+N.
        h.check(ports == {n: 14000 + n for n in ports},
                "default ports: got %r, want broker N on 14000+N" % ports)
        h.check(sd.endpoint()["address"] == sd.address, "endpoint address %r, asked for %r" % (
            sd.endpoint()["address"], sd.address))
        want_bootstrap = ",".join("%s:%d" % (sd.address, ports[n]) for n in sorted(ports))
        h.check(sd.bootstrap == want_bootstrap, "bootstrap %r, want %r" % (sd.bootstrap,
                                                                           want_bootstrap))

        # `strait admin status` reports the same node -> port map.
        st = sd.status()
        got = {b["nodeId"]: b["endpointPort"] for c in st["clusters"] for b in c["brokers"]}
        h.check(got == ports, "admin status brokers %r, ready file %r" % (got, ports))

        topic = h.unique_name("md")
        sd.create_topic(topic, 6, 3)

        upstream = [hp.strip() for hp in sd.upstream_bootstrap.split(",") if hp.strip()]
        up_ports = {hp.rsplit(":", 1)[1] for hp in upstream}
        h.check(upstream, "ready file names no upstream bootstrap")

        for node_id, port in sorted(ports.items()):
            raw, md = kcat_metadata("%s:%d" % (sd.address, port))
            h.log("metadata via broker %d's port %d: %d brokers, %d topics" % (
                node_id, port, len(md["brokers"]), len(md["topics"])))
            got = {b["id"]: b["name"] for b in md["brokers"]}
            want = {n: "%s:%d" % (sd.address, p) for n, p in ports.items()}
            h.check(got == want, "brokers via port %d: got %r, want %r" % (port, got, want))
            # kcat names the broker it answered from; it must be one of ours too.
            h.check(md.get("originating_broker", {}).get("name", "").startswith(sd.address + ":"),
                    "originating broker %r is not at the endpoint" % md.get("originating_broker"))
            for hp in upstream:
                h.check(hp not in raw, "upstream address %s leaked in metadata: %s" % (hp, raw))
            for p in up_ports:
                h.check(not re.search(r"(?<![0-9])%s(?![0-9])" % re.escape(p), raw),
                        "upstream port %s appears in metadata: %s" % (p, raw))

            _, tmd = kcat_metadata("%s:%d" % (sd.address, port), topic)
            topics = {t["topic"]: t for t in tmd["topics"]}
            h.check(topic in topics, "topic %s missing from %r" % (topic, list(topics)))
            parts = topics[topic]["partitions"]
            h.check(len(parts) == 6, "topic %s has %d partitions, want 6" % (topic, len(parts)))
            for p in parts:
                h.check(p["leader"] in ports, "partition %r leader not a broker" % p)
                for r in p.get("replicas", []):
                    h.check(r["id"] in ports, "partition %r replica not a broker" % p)

        # confluent-kafka sees the same broker list.
        from confluent_kafka.admin import AdminClient
        md = AdminClient({"bootstrap.servers": sd.bootstrap}).list_topics(timeout=30)
        got = {b.id: (b.host, b.port) for b in md.brokers.values()}
        h.check(got == {n: (sd.address, p) for n, p in ports.items()},
                "confluent-kafka brokers %r" % got)
        h.check(topic in md.topics, "confluent-kafka does not list %s" % topic)
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    h.run(test)
