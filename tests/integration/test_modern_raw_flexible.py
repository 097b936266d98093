"""Flexible-version requests at the wire level (hand-encoded, no client library) through strait
on the librdkafka 2.12 mock, each compared with the same request sent to the mock directly:
ApiVersions v0-v2 offer exactly what the mock offers within what strait can parse; Metadata v12 by
topic name, by topic id only, with request-header tagged fields, with a null client id, and for
all topics answers like the mock with only the broker addresses replaced by endpoint ones; Fetch
v12-v16 answers are byte-identical to the mock's, except a v16 NodeEndpoints entry, which names the
leader at its endpoint address and port;
FindCoordinator v0-v3 answers like the mock with the coordinator at its endpoint port; and a
FindCoordinator v3 response is the first place straitd hears of a broker that just joined (discovery
is off): it gets port 14004, bound before the answer arrives."""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import kafka_raw as k  # noqa: E402
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402


def test():
    with m.ModernMock(brokers=3) as mock:
        topic = h.unique_name("modern-raw")
        mock.create_topic(topic, 3, 3)
        host, port = mock.bootstrap.split(",")[0].rsplit(":", 1)
        direct = (host, int(port))
        d_av = {v: k.api_versions(direct, v) for v in (0, 1, 2)}
        d_md = k.metadata_v12(direct, topics=[topic])
        d_fc = {v: k.find_coordinator(direct, v, "raw-group") for v in (0, 1, 2, 3)}
        # Fetch v12-v16 of a partition with data, from its leader (broker 1) and from broker 2
        # (not the leader: NOT_LEADER_OR_FOLLOWER, CurrentLeader and, from v16, NodeEndpoints).
        ftopic = h.unique_name("modern-raw-fetch")
        mock.create_topic(ftopic, 1, 3)
        mock.command("set-leader", ftopic, 0, 1)
        m.run_client(mock.bootstrap, ftopic, 50, consume=False)
        ftid = k.metadata_v12(direct, topics=[ftopic])[3][0][2]
        host2, port2 = mock.bootstrap.split(",")[1].rsplit(":", 1)
        direct2 = (host2, int(port2))
        d_fetch = {v: k.round_trip(direct, k.fetch_request(v, ftopic, ftid, 0))
                   for v in range(12, 17)}
        d_fetch2 = {v: k.round_trip(direct2, k.fetch_request(v, ftopic, ftid, 0))
                    for v in (12, 16)}
        with m.UpstreamStraitd(mock.bootstrap, ports=4,
                               extra_args=["--metadata-refresh-ms", "3600000"]) as sd:
            ep = (sd.address, 14001)
            at = {n: (sd.address, 14000 + n) for n in (1, 2, 3, 4)}

            for v in (0, 1, 2):
                err, got = k.api_versions(ep, v)
                derr, want = d_av[v]
                h.check(err == 0 and derr == 0, "ApiVersions v%d errors %d/%d" % (v, err, derr))
                extra = {key: r for key, r in got.items() if key not in want}
                h.check(not extra, "ApiVersions v%d: strait offers keys the mock does not: %r" %
                        (v, extra))
                for key, (lo, hi) in got.items():
                    wlo, whi = want[key]
                    h.check(wlo <= lo <= hi <= whi, "ApiVersions v%d key %d: %d-%d outside the "
                            "mock's %d-%d" % (v, key, lo, hi, wlo, whi))
                narrowed = {key: (got[key], want[key]) for key in got if got[key] != want[key]}
                h.log("ApiVersions v%d: %d keys (mock %d); narrowed by strait: %r" % (
                    v, len(got), len(want), narrowed))
            for key in (0, 1, 3):  # Produce, Fetch, Metadata: the modern versions pass
                h.check(got[key] == d_av[2][1][key], "key %d: strait %r, mock %r" % (
                    key, got[key], d_av[2][1][key]))

            want_brokers = {n: (at[n][0], at[n][1], None) for n in (1, 2, 3)}
            tid = d_md[3][0][2]
            for what, kw in (("by name", {"topics": [topic]}),
                             ("by topic id", {"topic_ids": [tid]}),
                             ("header tagged fields", {"topics": [topic],
                                                       "header_tags": {3: b"xyz", 7: b""}}),
                             ("null client id", {"topics": [topic], "client_id": None})):
                md = k.metadata_v12(ep, **kw)
                h.check(md is not None, "Metadata v12 %s: connection closed" % what)
                h.check(md[0] == want_brokers, "Metadata v12 %s: brokers %r, want %r" % (
                    what, md[0], want_brokers))
                # ControllerId names a broker clients can reach: the mock's own (0, no broker)
                # becomes the first listed broker, as KRaft brokers answer.
                want_ctrl = d_md[2] if d_md[2] in want_brokers else min(want_brokers)
                h.check(md[1] == d_md[1] and md[2] == want_ctrl and md[3:] == d_md[3:],
                        "Metadata v12 %s: %r, mock says %r (controller %r expected)" % (
                            what, md[1:], d_md[1:], want_ctrl))
            md = k.metadata_v12(ep)
            h.check(md is not None and md[0] == want_brokers, "Metadata v12 all topics: %r" %
                    (md and md[0],))

            for v in (0, 1, 2, 3):
                got = k.find_coordinator(ep, v, "raw-group")
                derr, node, _, _ = d_fc[v]
                h.check(got == (derr, node) + at[node], "FindCoordinator v%d: %r, want %r" % (
                    v, got, (derr, node) + at[node]))

            for v in range(12, 17):
                got = k.round_trip(ep, k.fetch_request(v, ftopic, ftid, 0))
                h.check(got == d_fetch[v] and len(got) > 5000,
                        "Fetch v%d from the leader: %s bytes through strait differ from the "
                        "mock's %d" % (v, got and len(got), len(d_fetch[v])))
            h.log("Fetch v12-v16 from the leader: byte-identical to the mock's answers")
            got = k.round_trip(at[2], k.fetch_request(12, ftopic, ftid, 0))
            h.check(got == d_fetch2[12], "Fetch v12 from a follower differs from the mock's")
            got = k.round_trip(at[2], k.fetch_request(16, ftopic, ftid, 0))
            up = k.cstr(host) + struct.pack(">i", int(port))
            mine = k.cstr(sd.address) + struct.pack(">i", 14001)
            h.check(up in d_fetch2[16], "the mock's Fetch v16 answer has no NodeEndpoints entry")
            h.check(up not in got and mine in got and
                    len(got) - len(d_fetch2[16]) == len(sd.address) - len(host),
                    "Fetch v16 NodeEndpoints through strait: %s (mock: %s)" % (
                        got.hex(), d_fetch2[16].hex()))
            h.log("Fetch v16 from a follower: NodeEndpoints names broker 1 at %s:14001" %
                  sd.address)

            mock.command("add-broker", 4)
            mock.command("set-coordinator", "group", "raw-group-4", 4)
            sd.watch_more_upstream(mock.listen_addresses())
            h.check(4 not in sd.status_brokers(), "straitd knew broker 4 before any response")
            got = k.find_coordinator(ep, 3, "raw-group-4")
            h.check(got == (0, 4) + at[4], "FindCoordinator v3 naming the new broker: %r" %
                    (got,))
            c = socket.create_connection(at[4], timeout=10)  # bound before the answer arrived
            c.close()
            h.check(sd.status_brokers()[4]["endpointPort"] == 14004, "broker 4: %r" %
                    sd.status_brokers()[4])
            h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
