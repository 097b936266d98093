"""Endpoint port assignment (--port-range A-B): broker N gets port A-1+N, clients are told exactly
those ports, and the node -> port map survives a restart from the same data dir: restarted with a
range whose preferred ports differ, every broker keeps the port it was given."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import strait_harness as h  # noqa: E402

LO, HI = 15001, 15010
N = 3


def kcat_brokers(bootstrap):
    r = subprocess.run(["kcat", "-L", "-J", "-b", bootstrap, "-m", "15"], capture_output=True,
                       timeout=60)
    h.check(r.returncode == 0, "kcat -L: %s" % r.stderr.decode("utf-8", "replace")[-1000:])
    return {b["id"]: b["name"] for b in json.loads(r.stdout)["brokers"]}


def round_trip(sd, tag):
    from confluent_kafka import Producer
    topic = h.unique_name(tag)
    sd.create_topic(topic, 6, 3)
    msgs = h.make_messages(topic, 600, max_len=60)
    p = Producer({"bootstrap.servers": sd.bootstrap, "acks": "all"})
    errs = []
    for k, v in msgs:
        p.produce(topic, key=k, value=v, on_delivery=lambda e, m: e and errs.append(e))
    h.check(p.flush(60) == 0 and not errs, "produce: %s" % errs[:3])
    del p
    h.assert_exactly(msgs, h.consume_to_eof(sd.bootstrap, topic), tag)


def check_serving(sd, want_ports):
    ports = sd.broker_ports
    h.check(ports == want_ports, "ready file ports %r, want %r" % (ports, want_ports))
    want = {n: "%s:%d" % (sd.address, p) for n, p in want_ports.items()}
    for port in sorted(want_ports.values()):
        got = kcat_brokers("%s:%d" % (sd.address, port))
        h.check(got == want, "metadata via port %d: %r, want %r" % (port, got, want))


def test():
    addr = h.pick_loopback(LO, HI - LO + 1)
    data_dir = tempfile.mkdtemp(prefix="strait-it-ports-")
    try:
        # 1. A custom range: broker N on A-1+N.
        with h.Straitd(brokers=N, port_range="%d-%d" % (LO + 4, HI), address=addr,
                       data_dir=data_dir) as sd:
            check_serving(sd, {n: LO + 3 + n for n in range(1, N + 1)})
            round_trip(sd, "ports-a")
        # 2. Restart from the same data dir with a wider range whose preferred ports differ:
        #    every broker keeps the port it was given.
        with h.Straitd(brokers=N, port_range="%d-%d" % (LO, HI), address=addr,
                       data_dir=data_dir) as sd:
            check_serving(sd, {n: LO + 3 + n for n in range(1, N + 1)})
            round_trip(sd, "ports-b")
        # 3. A fresh data dir with that wider range: the preferred ports A-1+N again.
        with h.Straitd(brokers=N, port_range="%d-%d" % (LO, HI), address=addr) as sd:
            check_serving(sd, {n: LO - 1 + n for n in range(1, N + 1)})
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    h.run(test)
