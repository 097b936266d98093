"""Helpers of the test_modern_* integration tests: a librdkafka 2.12 mock cluster as straitd's
--upstream, and the librdkafka 2.12 client, both from build/modernmock (tests/modern/modernmock.c,
built against the static library of scripts/build-modern-librdkafka).

ModernMock runs `modernmock mock` and drives it through its stdin (one command per line, one
"ok ..."/"error ..." line back per command); closing stdin stops it. UpstreamStraitd is the
harness's Straitd started with --upstream instead of --embedded-kafka. run_client() runs
`modernmock client` and returns its JSON report. Tests without build/modernmock exit with SKIP (77,
registered as SKIP_RETURN_CODE by CMakeLists.txt).
"""
import json
import os
import queue
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import strait_harness as h  # noqa: E402

MODERNMOCK = os.path.join(h.BUILD_DIR, "modernmock")
SKIP = 77
COMMAND_TIMEOUT = 30.0  # seconds for the mock to answer one command
MOCK_STOP_TIMEOUT = 15.0


def main(test_fn):
    """The test program: skipped (exit 77) without build/modernmock, else h.run(test_fn)."""
    require_modernmock()
    h.run(test_fn)


def require_modernmock():
    """Exits the test as skipped (77) when build/modernmock was not built. Call it outside
    h.run(), which reports any exit as a failure."""
    if not os.access(MODERNMOCK, os.X_OK):
        h.log("SKIP: no %s (run scripts/build-modern-librdkafka, then re-run cmake/ninja; "
              "`make test` does both)" % MODERNMOCK)
        print("0 passed, 0 failed, 1 skipped", flush=True)
        sys.exit(SKIP)


class ModernMock:
    """`modernmock mock --brokers N`: a librdkafka 2.12 mock cluster in its own process."""

    def __init__(self, brokers=3):
        self.n_brokers = brokers
        self.dir = tempfile.mkdtemp(prefix="strait-modern-")
        self.bootstrap_file = os.path.join(self.dir, "bootstrap")
        self.log_path = os.path.join(self.dir, "modernmock.log")
        self.proc = None
        self.lines = queue.Queue()
        self.bootstrap = None

    def _reader(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)  # EOF

    def _next_line(self, what):
        try:
            line = self.lines.get(timeout=COMMAND_TIMEOUT)
        except queue.Empty:
            raise h.TestFailure("modernmock: no answer within %.0f s to %s" % (
                COMMAND_TIMEOUT, what))
        if line is None:
            raise h.TestFailure("modernmock exited (status %r) while waiting for %s" % (
                self.proc.poll(), what))
        return line

    def start(self):
        argv = [MODERNMOCK, "mock", "--brokers", str(self.n_brokers),
                "--bootstrap-file", self.bootstrap_file]
        h.log("starting: %s" % " ".join(argv))
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._logf)
        threading.Thread(target=self._reader, daemon=True, name="modernmock-out").start()
        line = self._next_line("its ready line")
        h.check(line.startswith("ready "), "modernmock: unexpected first line %r" % line)
        self.bootstrap = line.split(" ", 1)[1].strip()
        with open(self.bootstrap_file) as f:
            h.check(f.read().strip() == self.bootstrap, "bootstrap file differs from ready line")
        h.log("modern mock (librdkafka 2.12) pid %d: %d brokers at %s" % (
            self.proc.pid, self.n_brokers, self.bootstrap))
        return self

    def command(self, *words):
        """Sends one command; returns the text after "ok <cmd>"; fails on "error ..."."""
        cmd = " ".join(str(w) for w in words)
        h.check(self.proc.poll() is None, "modernmock is not running (command %r)" % cmd)
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()
        line = self._next_line("command %r" % cmd)
        h.check(line.startswith("ok %s" % words[0]), "modernmock %r: %s" % (cmd, line))
        h.log("modern mock: %s -> %s" % (cmd, line))
        return line[len("ok %s" % words[0]):].strip()

    def create_topic(self, name, partitions, rf):
        self.command("create-topic", name, partitions, rf)

    def listen_addresses(self):
        """[(ip, port)] of every socket the mock listens on (its brokers, including added ones)."""
        inodes = set()
        try:
            for fd in os.listdir("/proc/%d/fd" % self.proc.pid):
                try:
                    link = os.readlink("/proc/%d/fd/%s" % (self.proc.pid, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            return []
        out = set()
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # TCP_LISTEN
                    ip, port = fields[1].split(":")
                    out.add(("%d.%d.%d.%d" % tuple(bytes.fromhex(ip)[::-1]), int(port, 16)))
        return sorted(out)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(MOCK_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            h.log("modernmock did not stop within %.0f s of EOF; killing it" % MOCK_STOP_TIMEOUT)
            self.proc.kill()
            self.proc.wait(10)
            return "killed"

    def dump_log(self, tail=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        print("----- modernmock log (last %d of %d lines) -----" % (min(tail, len(lines)),
                                                                    len(lines)), file=sys.stderr)
        for line in lines[-tail:]:
            print(line, file=sys.stderr)
        print("----- end of modernmock log -----", file=sys.stderr, flush=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.dump_log()
            raise

    def __exit__(self, exc_type, exc, tb):
        rc = self.stop()
        if exc_type is not None or rc != 0:
            self.dump_log()
        if getattr(self, "_logf", None):
            self._logf.close()
        if exc_type is None:
            h.check(rc == 0, "modernmock exited with status %r" % rc)
        if exc_type is None and os.environ.get("ST_KEEP") != "1":
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


class UpstreamStraitd(h.Straitd):
    """The harness's Straitd, pointed at an upstream (--upstream LIST) instead of the embedded
    cluster. ports: how many endpoint ports must be free on the chosen loopback address."""

    def __init__(self, upstream, ports=3, **kw):
        super().__init__(brokers=ports, **kw)
        self.upstream_list = upstream

    def start(self):
        h.check(os.access(h.STRAITD, os.X_OK), "no straitd at %s (build first)" % h.STRAITD)
        argv = [h.STRAITD, "--data-dir", self.data_dir, "--upstream", self.upstream_list,
                "--insecure-endpoint", self.address, "--ready-file", self.ready_path,
                "--log-level", os.environ.get("ST_LOG_LEVEL", "info")]
        if self.port_range:
            argv += ["--port-range", self.port_range]
        argv += self.extra_args
        h.log("starting: %s" % " ".join(argv))
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.ready = h.wait_for(self._read_ready, h.READY_TIMEOUT, "straitd ready file")
        ep = self.endpoint()
        h.log("straitd pid %d ready: endpoint %s, upstream %s" % (
            self.proc.pid, ep["bootstrap"], self.ready["upstream"].get("bootstrap")))
        if self.watch_bypass:
            self.watcher = h.BypassWatcher(self.proc.pid, self.upstream_addresses())
            self.watcher.start()
        return self

    def watch_more_upstream(self, addrs):
        """Adds [(ip, port)] (brokers that joined later) to the addresses no client may reach."""
        if self.watcher is not None:
            self.watcher.upstream = self.watcher.upstream | set(addrs)

    def status_brokers(self):
        """{nodeId: broker entry} from `strait admin status`."""
        return {b["nodeId"]: b for c in self.status()["clusters"] for b in c["brokers"]}

    def upstream_strings(self):
        """["ip:port"] of every upstream broker straitd knows (for --forbid and output checks)."""
        out = {"%s:%d" % a for a in self.upstream_addresses()}
        for b in self.status_brokers().values():
            if b.get("upstreamHost") and b.get("upstreamPort"):
                out.add("%s:%d" % (b["upstreamHost"], b["upstreamPort"]))
        return sorted(out)


def run_client(bootstrap, topic, count, partition=None, forbid=(), timeout_s=120, consume=True,
               tag=None, max_len=300, check_ok=True, count_log=(), extra=()):
    """Runs the librdkafka 2.12 client (`modernmock client`); returns its JSON report. With
    check_ok, fails the test unless the report says ok."""
    argv = [MODERNMOCK, "client", "--bootstrap", bootstrap, "--topic", topic, "--count",
            str(count), "--timeout-s", str(timeout_s), "--max-len", str(max_len)]
    if partition is not None:
        argv += ["--partition", str(partition)]
    if tag:
        argv += ["--tag", tag]
    if not consume:
        argv += ["--no-consume"]
    for f in forbid:
        argv += ["--forbid", f]
    for c in count_log:
        argv += ["--count-log", c]
    argv += list(extra)
    h.log("running: %s" % " ".join(argv))
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, timeout=3 * timeout_s + 60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode("utf-8", "replace").strip()
    err = r.stderr.decode("utf-8", "replace")
    try:
        rep = json.loads(out.splitlines()[-1]) if out else None
    except ValueError:
        rep = None
    if rep is None or (check_ok and (r.returncode != 0 or not rep.get("ok"))):
        sys.stderr.write(err[-6000:])
        raise h.TestFailure("2.12 client failed (status %d): %s" % (r.returncode, out[-3000:]))
    h.log("2.12 client done in %.1f s: produced %d, delivered %d, consumed %d, matched %d; "
          "request versions %s" % (time.monotonic() - t0, rep["produced"], rep["delivered"],
                                   rep["consumed"], rep["matched"], rep["requestVersions"]))
    return rep


class PausedClient:
    """`modernmock client --pause-after K` in the background: wait_paused() returns once its first K
    messages are delivered (its metadata cache now holds the cluster as it was), resume() lets it
    produce the rest, finish() returns its JSON report. in_consume: pause once K messages are
    consumed instead (all were produced by then)."""

    def __init__(self, bootstrap, topic, count, pause_after, forbid=(), timeout_s=120, tag=None,
                 count_log=(), in_consume=False, partition=None, consume=True):
        self.timeout_s = timeout_s
        self.argv = [MODERNMOCK, "client", "--bootstrap", bootstrap, "--topic", topic, "--count",
                     str(count), "--timeout-s", str(timeout_s), "--pause-after", str(pause_after)]
        if tag:
            self.argv += ["--tag", tag]
        for f in forbid:
            self.argv += ["--forbid", f]
        for c in count_log:
            self.argv += ["--count-log", c]
        if in_consume:
            self.argv += ["--pause-in-consume"]
        if partition is not None:
            self.argv += ["--partition", str(partition)]
        if not consume:
            self.argv += ["--no-consume"]
        self.lines = queue.Queue()
        self.err = tempfile.TemporaryFile()
        h.log("starting: %s" % " ".join(self.argv))
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err)
        threading.Thread(target=self._reader, daemon=True, name="client-out").start()

    def _reader(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def _stderr_tail(self):
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")[-6000:]

    def wait_paused(self):
        try:
            line = self.lines.get(timeout=self.timeout_s + 30)
        except queue.Empty:
            line = "(nothing)"
        if line is None or not line.startswith("paused "):
            self.kill()
            sys.stderr.write(self._stderr_tail())
            raise h.TestFailure("2.12 client did not pause: %r (status %r)" % (
                line, self.proc.poll()))
        h.log("2.12 client: %s" % line)
        return line

    def resume(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        self.proc.stdin.close()

    def finish(self, check_ok=True):
        try:
            self.proc.wait(3 * self.timeout_s + 60)
        except subprocess.TimeoutExpired:
            self.kill()
            raise h.TestFailure("2.12 client did not finish")
        out = []
        while True:
            line = self.lines.get(timeout=10)
            if line is None:
                break
            out.append(line)
        try:
            rep = json.loads(out[-1]) if out else None
        except ValueError:
            rep = None
        if rep is None or (check_ok and (self.proc.returncode != 0 or not rep.get("ok"))):
            sys.stderr.write(self._stderr_tail())
            raise h.TestFailure("2.12 client failed (status %r): %s" % (
                self.proc.returncode, "\n".join(out)[-3000:]))
        h.log("2.12 client: produced %d, delivered %d, consumed %d, matched %d; request "
              "versions %s" % (rep["produced"], rep["delivered"], rep["consumed"],
                               rep["matched"], rep["requestVersions"]))
        return rep

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def kcat_metadata(bootstrap, topic=None):
    """kcat -L -J through bootstrap: (raw text, parsed JSON)."""
    argv = ["kcat", "-L", "-J", "-b", bootstrap, "-m", "15"]
    if topic:
        argv += ["-t", topic]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    h.check(r.returncode == 0, "%s: status %d: %s %s" % (" ".join(argv), r.returncode, out,
                                                        r.stderr.decode("utf-8", "replace")))
    return out, json.loads(out)


def check_brokers_at_endpoint(sd, brokers, want_ids, what):
    """brokers [{id, host, port}] (the 2.12 client's report) or kcat's [{id, name}] must be exactly
    want_ids, each at the endpoint address on the port the ready file/status gives it."""
    ports = {n: b["endpointPort"] for n, b in sd.status_brokers().items()}
    got = {}
    for b in brokers:
        name = b.get("name") or "%s:%d" % (b["host"], b["port"])
        got[b["id"]] = name
    want = {n: "%s:%d" % (sd.address, ports.get(n, -1)) for n in want_ids}
    h.check(got == want, "%s: brokers %r, want %r" % (what, got, want))


def forbidden_strings(sd, mock):
    """What no client may ever see: every upstream broker address straitd knows and, since the
    mock's brokers (including ones added later) all listen on 127.0.0.1 while the endpoint is on
    another loopback address, any "127.0.0.1:" at all."""
    out = sd.upstream_strings() + ["%s:%d" % a for a in mock.listen_addresses()]
    if sd.address != "127.0.0.1":
        out.append("127.0.0.1:")
    return sorted(set(out))


def check_no_upstream_in(text, sd, what):
    for hp in sd.upstream_strings():
        h.check(hp not in text, "%s: upstream address %s appears in %r" % (what, hp, text[:2000]))


class DribbleProxy(threading.Thread):
    """Listens on 127.0.0.1:<ephemeral>, forwards each connection to target, re-sending every read
    in random pieces of 1..700 bytes (a 1 ms pause after some of them)."""

    def __init__(self, target, seed):
        super().__init__(daemon=True, name="dribble-%d" % target[1])
        self.target = target
        self.rnd = random.Random(seed)
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.pieces = 0  # sends made
        self.bytes = 0   # bytes forwarded
        self.conns = []

    def _chunk(self):
        with self.lock:
            return self.rnd.randint(1, 700), self.rnd.random() < 0.05

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                o = 0
                while o < len(data):
                    n, pause = self._chunk()
                    piece = data[o:o + n]
                    dst.sendall(piece)
                    o += len(piece)
                    with self.lock:
                        self.pieces += 1
                        self.bytes += len(piece)
                    if pause:
                        time.sleep(0.001)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            try:
                u = socket.create_connection(self.target, timeout=10)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            c.settimeout(None)
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conns += [c, u]
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass
