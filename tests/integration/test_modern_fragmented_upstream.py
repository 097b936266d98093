"""The upstream's bytes arrive in small, irregular pieces: each broker of the librdkafka 2.12 mock
sits behind a proxy in this test that re-sends whatever it reads in chunks of 1 to 700 bytes with
short pauses, in both directions, and the mock advertises the proxies' addresses (so straitd
reaches every broker only through them). straitd must reassemble every frame -- flexible-version
Metadata v12, Produce v10 and Fetch v16 responses it decodes and rewrites, and record data it
streams -- as the librdkafka 2.12 client produces and reads back 3,000 messages (including a few of
~200 KB) and kcat lists the brokers at the endpoint."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modern"))
import modern_harness as m  # noqa: E402
from modern_harness import h  # noqa: E402

COUNT = 3000


def test():
    with m.ModernMock(brokers=3) as mock:
        real = [hp.rsplit(":", 1) for hp in mock.bootstrap.split(",")]  # brokers 1..3 in order
        proxies = [m.DribbleProxy((hst, int(prt)), seed=i) for i, (hst, prt) in enumerate(real)]
        for p in proxies:
            p.start()
        try:
            for node, p in enumerate(proxies, 1):
                mock.command("set-host-port", node, "127.0.0.1", p.port)
            upstream = ",".join("127.0.0.1:%d" % p.port for p in proxies)
            with m.UpstreamStraitd(upstream, ports=3) as sd:
                st = sd.status_brokers()
                h.check({n: b["upstreamPort"] for n, b in st.items()} ==
                        {n: p.port for n, p in enumerate(proxies, 1)},
                        "straitd does not reach the brokers through the proxies: %r" % st)
                topic = h.unique_name("modern-dribble")
                mock.create_topic(topic, 3, 3)
                forbid = m.forbidden_strings(sd, mock)
                rep = m.run_client(sd.bootstrap, topic, COUNT, forbid=forbid)
                h.check(rep["matched"] == COUNT, "matched %d of %d" % (rep["matched"], COUNT))
                big = h.unique_name("modern-dribble-big")
                mock.create_topic(big, 2, 3)
                rep = m.run_client(sd.bootstrap, big, 12, max_len=200000, forbid=forbid)
                h.check(rep["matched"] == 12, "large messages: matched %d of 12" % rep["matched"])
                raw, md = m.kcat_metadata(sd.bootstrap, topic)
                m.check_brokers_at_endpoint(sd, md["brokers"], [1, 2, 3], "kcat -L")
                m.check_no_upstream_in(raw, sd, "kcat -L")
                pieces = sum(p.pieces for p in proxies)
                nbytes = sum(p.bytes for p in proxies)
                h.log("proxies forwarded %d bytes in %d pieces" % (nbytes, pieces))
                h.check(pieces > 1000, "too little traffic went through the proxies")
                c = sd.status()["clusters"][0]["counters"]
                h.check(c["protocolErrors"] == 0, "straitd counted %d protocol errors" %
                        c["protocolErrors"])
                h.check(sd.alive(), "straitd died")
        finally:
            for p in proxies:
                p.stop()


if __name__ == "__main__":
    m.main(test)
