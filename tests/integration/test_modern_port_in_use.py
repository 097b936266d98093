"""A joining broker whose endpoint port is taken by another process: straitd cannot listen on it,
so it must not tell clients about that broker (they would reach the other process) -- kcat -L and
the librdkafka 2.12 client see only the brokers that have working ports, and the squatter receives
no connection. Once the port is free again, straitd binds it on its next try (periodic discovery)
and broker 4 appears at 14004 and works."""
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402


def log_has(sd, text):
    with open(sd.log_path, "rb") as f:
        return text.encode() in f.read()


def kcat_ids(sd, topic=None):
    raw, md = m.kcat_metadata(sd.bootstrap, topic)
    m.check_no_upstream_in(raw, sd, "kcat -L")
    return raw, md, sorted(b["id"] for b in md["brokers"])


def test():
    with m.ModernMock(brokers=3) as mock, \
            m.UpstreamStraitd(mock.bootstrap, ports=4,
                              extra_args=["--metadata-refresh-ms", "500"]) as sd:
        squat = socket.socket()
        squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squat.bind((sd.address, 14004))
        squat.listen(16)
        squat.settimeout(0.2)
        try:
            mock.command("add-broker", 4)
            sd.watch_more_upstream(mock.listen_addresses())
            h.wait_for(lambda: log_has(sd, "cannot listen on %s:14004" % sd.address), 30,
                       "straitd to try (and fail) to listen on port 14004", interval=0.2)
            topic = h.unique_name("modern-squat")
            mock.create_topic(topic, 4, 3)
            for p in range(4):
                mock.command("set-leader", topic, p, p + 1)
            raw, md, ids = kcat_ids(sd, topic)
            h.check(ids == [1, 2, 3], "kcat -L shows brokers %r while 14004 is taken" % ids)
            rep = m.run_client(sd.bootstrap, topic, 300, partition=0,
                               forbid=m.forbidden_strings(sd, mock))
            m.check_brokers_at_endpoint(sd, rep["brokers"], [1, 2, 3], "2.12 client")
            try:
                conn, peer = squat.accept()
                conn.close()
                raise h.TestFailure("the process holding 14004 got a connection from %r" %
                                    (peer,))
            except socket.timeout:
                pass
        finally:
            squat.close()

        h.wait_for(lambda: kcat_ids(sd)[2] == [1, 2, 3, 4], 30,
                   "broker 4 to appear once port 14004 is free", interval=0.5)
        raw, md, ids = kcat_ids(sd, topic)
        h.check({"id": 4, "name": "%s:14004" % sd.address} in md["brokers"],
                "broker 4 not at %s:14004: %r" % (sd.address, md["brokers"]))
        rep = m.run_client(sd.bootstrap, topic, 300, partition=3, tag="%s-b4" % topic,
                           forbid=m.forbidden_strings(sd, mock))
        h.check(rep["leaders"].get("3") == 4 and rep["deliveredPartitions"] == {"3": 300},
                "producing to broker 4's partition: %r, %r" % (rep["leaders"],
                                                              rep["deliveredPartitions"]))
        h.check(sd.alive(), "straitd died")


if __name__ == "__main__":
    m.main(test)
