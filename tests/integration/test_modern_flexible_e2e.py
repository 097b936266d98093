"""Flexible protocol versions end to end, with librdkafka 2.12 on both sides of strait: the 2.12
mock cluster (tests/modern/modernmock.c) is straitd's --upstream, and the 2.12 client produces
10,000 messages with acks=all through the endpoint and reads exactly those back. The client must
negotiate the modern versions through strait (Metadata v12, Produce v10, Fetch v16: flexible
versions, Produce/Fetch NodeEndpoints) -- exactly the versions it negotiates with the mock
directly -- see every broker at the endpoint address, and never see an
upstream address (not in its metadata, not in any of its debug log lines, not as a connection)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

COUNT = 10000
PARTITIONS = 6
# Highest versions both librdkafka 2.12.0 and its mock cluster speak (the client picks the highest
# version both sides offer, so through strait it gets these unless strait's ApiVersions caps them).
WANT_VERSIONS = {"Metadata": 12, "Produce": 10, "Fetch": 16, "ListOffsets": 7}


def test():
    with m.ModernMock(brokers=3) as mock:
        # Baseline before straitd runs (so this direct connection is no bypass): the versions the
        # 2.12 client negotiates with the 2.12 mock directly.
        direct_topic = h.unique_name("modern-direct")
        mock.create_topic(direct_topic, PARTITIONS, 3)
        direct = m.run_client(mock.bootstrap, direct_topic, 200)
        with m.UpstreamStraitd(mock.bootstrap, ports=3) as sd:
            run_through_strait(mock, sd, direct["requestVersions"])


def run_through_strait(mock, sd, direct_versions):
    topic = h.unique_name("modern-e2e")
    mock.create_topic(topic, PARTITIONS, 3)
    forbid = m.forbidden_strings(sd, mock)
    h.log("upstream addresses the client must never see: %s" % ", ".join(forbid))

    rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=forbid)
    h.check(rep["librdkafka"].startswith("2.12"), "client is librdkafka %s" % rep["librdkafka"])
    h.check(rep["delivered"] == COUNT and rep["deliveryErrors"] == 0,
            "delivered %d of %d (%d errors: %s)" % (rep["delivered"], COUNT,
                                                    rep["deliveryErrors"], rep["firstError"]))
    h.check(rep["matched"] == COUNT and rep["consumed"] == COUNT and rep["duplicates"] == 0
            and rep["corrupt"] == 0 and rep["outOfOrder"] == 0 and rep["foreign"] == 0,
            "consumed back: %r" % {k: rep[k] for k in ("consumed", "matched", "duplicates",
                                                        "missing", "corrupt", "outOfOrder",
                                                        "foreign")})
    h.check(rep["partitions"] == PARTITIONS and len(rep["deliveredPartitions"]) == PARTITIONS,
            "messages spread over %r, want all %d partitions" % (rep["deliveredPartitions"],
                                                                 PARTITIONS))
    m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client metadata")
    h.check(rep["forbiddenSeen"] == "", "upstream address in the client's log: %s" %
            rep["forbiddenSeen"])
    h.check(rep["requestVersions"] == direct_versions,
            "versions through strait %r differ from those negotiated directly %r" % (
                rep["requestVersions"], direct_versions))
    for api, v in WANT_VERSIONS.items():
        h.check(rep["requestVersions"].get(api) == v,
                "%s: the 2.12 client sent v%r through strait, want v%d (all versions sent: %r)"
                % (api, rep["requestVersions"].get(api), v, rep["requestVersions"]))

    # kcat (librdkafka 2.0.2) through the same endpoint sees the same brokers, no upstream.
    raw, md = m.kcat_metadata(sd.bootstrap, topic)
    m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat metadata")
    m.check_no_upstream_in(raw, sd, "kcat -L -J")

    st = sd.status()
    c = st["clusters"][0]["counters"]
    h.log("straitd counters: %r" % c)
    h.check(c["protocolErrors"] == 0, "straitd counted %d protocol errors" % c["protocolErrors"])
    h.check(c["responsesRewritten"] > 0, "no response was rewritten")
    h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
