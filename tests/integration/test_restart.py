"""SIGTERM while clients are busy, then an immediate restart on the same address and data dir:
straitd exits 0 with a producer mid-stream and an idle raw connection open (which sees its
connection closed), the new straitd binds the same endpoint ports at once (even with the old
connections in TIME_WAIT) and gives every broker the same port, and the producer that was cut off
continues through the new instance."""
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402


def test():
    from confluent_kafka import Producer
    addr = h.pick_loopback()
    data_dir = tempfile.mkdtemp(prefix="strait-it-restart-")
    topic = h.unique_name("restart")
    try:
        sd = h.Straitd(brokers=3, address=addr, data_dir=data_dir)
        with sd:
            ports = sd.broker_ports
            sd.create_topic(topic, 6, 3)
            raw = socket.create_connection((addr, ports[1]), timeout=30)
            p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all", "linger.ms": 5})
            errors, acked = [], []
            p.produce(topic, key="k", value="warm-up", on_delivery=lambda e, m: acked.append(e))
            h.check(p.flush(30) == 0 and acked == [None], "warm-up produce failed")
            stop = threading.Event()

            def produce_loop():
                i = 0
                while not stop.is_set():
                    p.produce(topic, key="k%d" % i, value="v%d" % i,
                              on_delivery=lambda e, m: errors.append(e) if e else None)
                    i += 1
                    if i % 50 == 0:
                        p.poll(0.01)
            t = threading.Thread(target=produce_loop, daemon=True)
            t.start()
            h.wait_for(lambda: sd.status()["clusters"][0]["counters"]["requests"] > 50, 30,
                       "client requests through straitd")
            rc = sd.stop()  # SIGTERM with everything connected
            stop.set()
            t.join(30)
            h.check(rc == 0, "straitd exit status on SIGTERM with busy clients: %r" % rc)
            raw.settimeout(10)
            try:
                h.check(raw.recv(1) == b"", "idle connection not closed by straitd's shutdown")
            except ConnectionResetError:
                pass
            raw.close()
        # __exit__ saw straitd already stopped by us with status 0.

        # Immediately again, same address and data dir: same ports, and the producer that was
        # cut off resumes through the new instance.
        with h.Straitd(brokers=3, address=addr, data_dir=data_dir) as sd2:
            h.check(sd2.broker_ports == ports, "ports after restart %r, before %r" % (
                sd2.broker_ports, ports))
            # A new embedded cluster: the topic went with the old one, and the mock creates it
            # again when the producer asks for it.
            n_err = len(errors)
            done = []
            p.produce(topic, key="after", value="restart",
                      on_delivery=lambda e, m: done.append(e))
            h.wait_for(lambda: p.poll(0.1) is not None and done, 60,
                       "a message through the restarted straitd")
            h.check(done == [None], "produce after restart: %r" % done)
            p.flush(60)
            del p
            got = h.consume_to_eof(sd2.bootstrap, topic)
            h.check(("after", "restart") in {(k, v) for (_, _, k, v) in got},
                    "message produced after the restart is missing")
            h.log("producer resumed through the restarted straitd (%d errors while it was "
                  "down, reported as delivery failures)" % n_err)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    h.run(test)
