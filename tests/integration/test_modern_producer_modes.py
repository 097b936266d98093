"""librdkafka 2.12 producer modes through strait on the 2.12 mock, each read back exactly:
acks=1, idempotent (InitProducerId v4), transactional (transaction coordinator from
FindCoordinator, AddPartitionsToTxn, EndTxn; read back read_committed), messages of up to ~1 MB
(Produce v10 requests and Fetch v16 responses of several MB, which strait decodes whole to rewrite
NodeEndpoints), and client telemetry (GetTelemetrySubscriptions, PushTelemetry). No upstream
address is ever seen. (Not acks=0: the 2.12 mock answers Produce requests with acks=0, which no
Kafka broker does, and straitd rightly drops a connection on which a broker sends a response
nobody asked for.)"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

RUNS = [  # (name, count, max value length, extra client flags, request that must have been sent)
    ("idempotent", 3000, 300, ["--idempotent"], "InitProducerId"),
    ("transactional", 3000, 300, ["--transactional-id", "strait-modern-txn"], "EndTxn"),
    ("large", 24, 900000, [], "Fetch"),
    ("acks=1", 3000, 300, ["--acks", "1"], "Produce"),
    ("telemetry", 5000, 300, [], "PushTelemetry"),  # after the mock asks for metrics (KIP-714)
]


def test():
    with m.ModernMock(brokers=3) as mock, m.UpstreamStraitd(mock.bootstrap, ports=3) as sd:
        forbid = m.forbidden_strings(sd, mock)
        for name, count, max_len, extra, want_api in RUNS:
            if name == "telemetry":
                mock.command("telemetry", 200)  # all metrics, pushed every 200 ms
            topic = h.unique_name("modern-%s" % name.replace("=", ""))
            mock.create_topic(topic, 4, 3)
            rep = m.run_client(sd.bootstrap, topic, count, forbid=forbid, max_len=max_len,
                               extra=extra)
            h.check(rep["delivered"] == count and rep["matched"] == count and
                    rep["duplicates"] == 0 and rep["corrupt"] == 0,
                    "%s: delivered %d, matched %d of %d (%d duplicates, %d corrupt)" % (
                        name, rep["delivered"], rep["matched"], count, rep["duplicates"],
                        rep["corrupt"]))
            h.check(rep["transactionError"] == "", "%s: %s" % (name, rep["transactionError"]))
            h.check(want_api in rep["requestVersions"], "%s: no %s request sent: %r" % (
                name, want_api, rep["requestVersions"]))
            h.check(rep["forbiddenSeen"] == "", "%s: upstream address in the client's log: %s" % (
                name, rep["forbiddenSeen"]))
            m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "%s client" % name)
        c = sd.status()["clusters"][0]["counters"]
        h.log("straitd counters: %r" % c)
        h.check(c["protocolErrors"] == 0,
                "straitd counted %d protocol errors" % c["protocolErrors"])
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
