"""Integration-test harness: runs a real straitd for one test and tears it down.

Each Straitd gets a fresh temporary data dir and its own loopback endpoint address (127.A.B.1, chosen
so that no socket, live or in TIME_WAIT, holds its ports), waits (bounded) for the ready file, and
exposes the endpoint's bootstrap/brokers plus `strait admin` helpers. While it runs, a BypassWatcher
fails the test if any other process connects to an upstream broker address (an address straitd
should have rewritten). On exit it stops straitd with SIGTERM (SIGKILL after a bound) and, if the
test failed, straitd died, or it did not exit 0, prints its log. MockCluster runs build/mockcluster
as an external upstream (--upstream mode). Also holds the small client helpers the tests share
(message sets, consume-to-EOF, exact comparison) and run(), the test program's main.

Environment: ST_BUILD_DIR (dir holding straitd and strait; default <source>/build), ST_SOURCE_DIR,
ST_LOG_LEVEL (straitd --log-level, default info), ST_KEEP=1 keeps the data dir.
"""
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SOURCE_DIR = os.environ.get("ST_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
BUILD_DIR = os.environ.get("ST_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
STRAITD = os.path.join(BUILD_DIR, "straitd")
STRAIT = os.path.join(BUILD_DIR, "strait")
INTEROP_DIR = os.path.join(SOURCE_DIR, "tests", "interop")

READY_TIMEOUT = 30.0  # seconds to wait for the ready file
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
ADMIN_TIMEOUT = 30.0  # seconds for one `strait admin` call


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """Fails the test with msg unless cond holds."""
    if not cond:
        raise TestFailure(msg)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a truthy value (returned) or timeout seconds pass (fails)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def _ports_free(addr, ports):
    """True if every port can be bound on addr right now (no listener, no TIME_WAIT leftovers)."""
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_loopback(first_port=14001, count=8):
    """Returns a loopback address 127.A.B.1 whose first `count` endpoint ports are all free."""
    rnd = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        addr = "127.%d.%d.1" % (rnd.randint(1, 254), rnd.randint(1, 254))
        if _ports_free(addr, range(first_port, first_port + count)):
            return addr
    raise TestFailure("no free loopback address found")


TCP_ESTABLISHED, TCP_SYN_SENT = "01", "02"


def _hex_addr(h):
    """'0100007F:1F90' (or its tcp6 form) -> ('127.0.0.1', 8080); None if not IPv4(-mapped)."""
    ip, port = h.split(":")
    if len(ip) == 32:  # tcp6: only IPv4-mapped (::ffff:a.b.c.d) matters here
        if ip[:24] != "0000000000000000FFFF0000":
            return None
        ip = ip[24:]
    b = bytes.fromhex(ip)[::-1]
    return "%d.%d.%d.%d" % tuple(b), int(port, 16)


def _socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                out.add(link[8:-1])
    except OSError:
        pass
    return out


def _owner_of(inode):
    """(pid, cmdline) of a process holding socket inode, or None."""
    for d in os.listdir("/proc"):
        if d.isdigit() and inode in _socket_inodes(int(d)):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                cmd = "?"
            return int(d), cmd
    return None


class BypassWatcher(threading.Thread):
    """Watches the machine's TCP table while a test runs: any process other than straitd that
    connects to an upstream broker address has bypassed the endpoint (a leaked address). Samples
    every `interval` s; clients keep their broker connections open while they work, so a client
    that learned an upstream address is seen connected to it."""

    def __init__(self, straitd_pid, upstream, interval=0.05):
        super().__init__(daemon=True, name="bypass-watcher")
        self.pid = straitd_pid
        self.upstream = set(upstream)
        self.interval = interval
        self.stop_event = threading.Event()
        self.bypasses = {}  # inode -> (pid, cmdline, (host, port))
        self.samples = 0

    def _suspects(self):
        found = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        if fields[3] not in (TCP_ESTABLISHED, TCP_SYN_SENT) or fields[9] == "0":
                            continue
                        rem = _hex_addr(fields[2])
                        if rem in self.upstream:
                            found[fields[9]] = rem
            except OSError:
                continue
        return found

    def check_once(self):
        self.samples += 1
        found = self._suspects()
        if not found:
            return
        mine = _socket_inodes(self.pid)
        for inode, rem in found.items():
            if inode in mine or inode in self.bypasses:
                continue
            owner = _owner_of(inode)
            if owner and owner[0] != self.pid:
                self.bypasses[inode] = (owner[0], owner[1], rem)
                log("BYPASS: pid %d (%s) connected to upstream %s:%d directly" % (
                    owner[0], owner[1][:120], rem[0], rem[1]))

    def run(self):
        while not self.stop_event.wait(self.interval):
            self.check_once()

    def finish(self):
        self.stop_event.set()
        self.join(10)
        self.check_once()
        return list(self.bypasses.values())


class Straitd:
    """One straitd process for a test. Use as a context manager.

    brokers: embedded mock cluster size (--embedded-kafka N); port_range: "A-B" or None for the
    default; extra_args: more straitd flags; data_dir: reuse this dir (the caller owns it) instead
    of a fresh temporary one; watch_bypass: fail the test if any other process connects to an
    upstream broker address directly (see BypassWatcher); upstream: "HOST:PORT[,...]" of an
    existing cluster (--upstream) instead of the embedded one.
    """

    def __init__(self, brokers=3, port_range=None, extra_args=(), address=None, data_dir=None,
                 watch_bypass=True, upstream=None):
        self.n_brokers = brokers
        self.upstream = upstream
        self.port_range = port_range
        self.extra_args = list(extra_args)
        first = int(port_range.split("-")[0]) if port_range else 14001
        self.address = address or pick_loopback(first, max(brokers, 1))
        self.own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="strait-it-")
        self.watch_bypass = watch_bypass
        self.watcher = None
        self.ready_path = os.path.join(self.data_dir, "ready.json")
        self.log_path = os.path.join(self.data_dir, "straitd.log")
        self.proc = None
        self.ready = None
        self.stopped_rc = None
        self.died_on_its_own = None  # set by the first stop(): had straitd exited by itself?

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        check(os.access(STRAITD, os.X_OK), "no straitd at %s (build first)" % STRAITD)
        source = (["--upstream", self.upstream] if self.upstream
                  else ["--embedded-kafka", str(self.n_brokers)])
        argv = [STRAITD, "--data-dir", self.data_dir] + source + [
                "--insecure-endpoint", self.address, "--ready-file", self.ready_path,
                "--log-level", os.environ.get("ST_LOG_LEVEL", "info")]
        if self.port_range:
            argv += ["--port-range", self.port_range]
        argv += self.extra_args
        log("starting: %s" % " ".join(argv))
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)  # a previous run's, in a reused data dir
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.ready = wait_for(self._read_ready, READY_TIMEOUT, "straitd ready file")
        ep = self.endpoint()
        log("straitd pid %d ready: endpoint %s, upstream %s" % (
            self.proc.pid, ep["bootstrap"], self.ready["upstream"].get("bootstrap")))
        if self.watch_bypass:
            self.watcher = BypassWatcher(self.proc.pid, self.upstream_addresses())
            self.watcher.start()
        return self

    def upstream_addresses(self):
        """[(ip, port)] of the upstream brokers, from the ready file and the admin status."""
        out = set()
        for hp in self.upstream_bootstrap.split(","):
            if hp.strip():
                host, port = hp.strip().rsplit(":", 1)
                out.add((socket.gethostbyname(host), int(port)))
        try:  # brokers straitd learned beyond the bootstrap list, if status reports them
            for cl in self.status().get("clusters", []):
                for b in cl.get("brokers", []):
                    if b.get("upstreamHost") and b.get("upstreamPort"):
                        out.add((socket.gethostbyname(b["upstreamHost"]), int(b["upstreamPort"])))
        except (TestFailure, ValueError, OSError, AttributeError) as e:
            log("upstream brokers from status unavailable (%s); using the ready file's" % e)
        return sorted(out)

    def watch_upstream(self, addrs):
        """Adds [(ip, port)] to the upstream addresses no client may reach directly (brokers that
        joined the cluster after straitd started)."""
        if self.watcher is not None:
            self.watcher.upstream = self.watcher.upstream | set(addrs)

    def check_no_bypass(self):
        """Fails if a client was seen connected to an upstream broker address (not via straitd)."""
        if self.watcher is None:
            return
        bypasses = self.watcher.finish()
        self.watcher = None
        h_ = ["pid %d (%s) -> %s:%d" % (pid, cmd[:100], rem[0], rem[1])
              for pid, cmd, rem in bypasses]
        if bypasses:
            raise TestFailure("clients bypassed the endpoint and reached upstream brokers "
                              "directly: %s" % "; ".join(h_))

    def _read_ready(self):
        rc = self.proc.poll()
        if rc is not None:
            raise TestFailure("straitd exited with status %d before it was ready" % rc)
        try:
            with open(self.ready_path) as f:
                ready = json.load(f)
        except (OSError, ValueError):
            return None  # not there yet, or half written
        check(ready.get("pid") == self.proc.pid, "ready file names pid %r, straitd is %d" % (
            ready.get("pid"), self.proc.pid))
        return ready

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, bounded wait, SIGKILL as a last resort. Returns the exit status ("killed" if
        it had to be killed). Tests may call it; the context exit then checks that status."""
        if self.proc is None or self.stopped_rc is not None:
            return self.stopped_rc
        if self.died_on_its_own is None:
            self.died_on_its_own = self.proc.poll() is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log("straitd did not stop within %.0f s of SIGTERM; killing it" % STOP_TIMEOUT)
                self.proc.kill()
                self.proc.wait(10)
                self.stopped_rc = "killed"
                return self.stopped_rc
        self.stopped_rc = self.proc.returncode
        return self.stopped_rc

    def dump_log(self, tail=200):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return
        print("----- straitd log (%s, last %d of %d lines) -----" % (
            self.log_path, min(tail, len(lines)), len(lines)), file=sys.stderr)
        for line in lines[-tail:]:
            print(line, file=sys.stderr)
        print("----- end of straitd log -----", file=sys.stderr, flush=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.dump_log()
            self._cleanup(keep=True)
            raise

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.check_no_bypass()
            except TestFailure:
                self.stop()
                self.dump_log()
                self._cleanup(keep=True)
                raise
        elif self.watcher is not None:
            self.watcher.finish()
        rc = self.stop()
        clean = self.died_on_its_own is False and rc == 0
        if exc_type is None and not clean:
            self.dump_log()
            self._cleanup(keep=True)
            if self.died_on_its_own:
                raise TestFailure("straitd died during the test (exit status %r)" % rc)
            raise TestFailure("straitd did not stop cleanly on SIGTERM (exit status %r)" % rc)
        if exc_type is not None:
            self.dump_log()
        self._cleanup(keep=exc_type is not None)
        return False

    def _cleanup(self, keep):
        if getattr(self, "_logf", None):
            self._logf.close()
        if not self.own_data_dir:
            return
        if keep or os.environ.get("ST_KEEP") == "1":
            log("kept data dir %s" % self.data_dir)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- endpoint --------------------------------------------------------------------------------
    def endpoint(self, name="insecure"):
        for ep in self.ready["endpoints"]:
            if ep["name"] == name:
                return ep
        raise TestFailure("no endpoint %r in ready file: %r" % (name, self.ready))

    @property
    def bootstrap(self):
        return self.endpoint()["bootstrap"]

    @property
    def broker_ports(self):
        """{nodeId: port} of the insecure endpoint."""
        return {b["nodeId"]: b["port"] for b in self.endpoint()["brokers"]}

    @property
    def upstream_bootstrap(self):
        return self.ready["upstream"]["bootstrap"]

    @property
    def admin_socket(self):
        return self.ready.get("adminSocket") or os.path.join(self.data_dir, "admin.sock")

    # -- admin -----------------------------------------------------------------------------------
    def admin(self, *args, check_rc=True):
        argv = [STRAIT, "admin", "--socket", self.admin_socket] + [str(a) for a in args]
        r = subprocess.run(argv, capture_output=True, timeout=ADMIN_TIMEOUT)
        out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
        if check_rc and r.returncode != 0:
            raise TestFailure("%s failed (status %d): %s %s" % (" ".join(argv), r.returncode,
                                                               out, err))
        return out

    def status(self):
        return json.loads(self.admin("status"))

    def create_topic(self, name, partitions, replication_factor=None):
        args = ["embedded", "create-topic", name, "--partitions", partitions]
        if replication_factor is not None:
            args += ["--replication-factor", replication_factor]
        self.admin(*args)

    def broker_down(self, node_id):
        self.admin("embedded", "broker-down", node_id)

    def broker_up(self, node_id):
        self.admin("embedded", "broker-up", node_id)


class MockCluster:
    """An external librdkafka mock cluster in its own process (build/mockcluster), for straitd's
    --upstream mode. topics: {"name": partitions}. Use as a context manager."""

    def __init__(self, brokers=3, topics=None):
        self.binary = os.path.join(BUILD_DIR, "mockcluster")
        self.dir = tempfile.mkdtemp(prefix="strait-it-mock-")
        self.file = os.path.join(self.dir, "bootstrap")
        self.argv = [self.binary, "--brokers", str(brokers), "--bootstrap-file", self.file, "-q"]
        for name, parts in (topics or {}).items():
            self.argv += ["--topic", "%s:%d" % (name, parts)]
        self.proc = None
        self.bootstrap = None

    def __enter__(self):
        check(os.access(self.binary, os.X_OK), "no mockcluster at %s (build first)" % self.binary)
        self._log = open(os.path.join(self.dir, "mockcluster.log"), "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("mockcluster exited with status %d" % self.proc.returncode)
            try:
                with open(self.file) as f:
                    text = f.read().strip()
            except OSError:
                return None
            return text or None
        self.bootstrap = wait_for(ready, READY_TIMEOUT, "mockcluster bootstrap file")
        log("mockcluster pid %d: %s" % (self.proc.pid, self.bootstrap))
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def run(test_fn):
    """Runs test_fn() as the whole test program: prints a closing line and exits 0/1."""
    name = os.path.basename(sys.argv[0])
    t0 = time.monotonic()
    try:
        test_fn()
    except BaseException as e:  # noqa: BLE001 - report anything, including KeyboardInterrupt
        traceback.print_exc()
        log("%s FAILED after %.1f s: %s" % (name, time.monotonic() - t0, e))
        print("0 passed, 1 failed", flush=True)
        sys.exit(1)
    log("%s passed in %.1f s" % (name, time.monotonic() - t0))
    print("1 passed, 0 failed", flush=True)
    sys.exit(0)


def unique_name(prefix):
    return "%s-%d-%d" % (prefix, os.getpid(), random.randint(0, 1 << 30))


# -- messages --------------------------------------------------------------------------------------
def make_messages(tag, count, max_len=300):
    """Deterministic, distinct (key, value) pairs of printable ASCII (no tabs or newlines), so they
    survive any line-oriented client. Value lengths vary between ~20 and max_len bytes."""
    msgs = []
    for i in range(count):
        h = hashlib.sha256(("%s/%d" % (tag, i)).encode()).hexdigest()
        body = (h * (1 + max_len // 64))[: (int(h[:4], 16) % max_len)]
        msgs.append(("%s-k%06d" % (tag, i), "%s-v%06d-%s" % (tag, i, body)))
    return msgs


def consume_to_eof(bootstrap, topic, timeout=60.0, extra_conf=None):
    """Reads every partition of topic from the beginning up to its end (no consumer group join) with
    confluent-kafka. Returns [(partition, offset, key, value)] (key/value decoded as UTF-8)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition, OFFSET_BEGINNING
    conf = {"bootstrap.servers": bootstrap, "group.id": unique_name("eof-reader"),
            "enable.auto.commit": False, "enable.partition.eof": True,
            "auto.offset.reset": "earliest"}
    conf.update(extra_conf or {})
    c = Consumer(conf)
    out = []
    try:
        md = c.list_topics(topic, timeout=30)
        tmd = md.topics[topic]
        check(tmd.error is None, "metadata for %s: %s" % (topic, tmd.error))
        parts = sorted(tmd.partitions)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        pending = set(parts)
        deadline = time.monotonic() + timeout
        while pending:
            check(time.monotonic() < deadline, "consume %s: partitions %s not at end after %.0f s "
                  "(%d messages so far)" % (topic, sorted(pending), timeout, len(out)))
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # KafkaError._PARTITION_EOF
                    pending.discard(m.partition())
                    continue
                raise KafkaException(m.error())
            out.append((m.partition(), m.offset(),
                        m.key().decode() if m.key() is not None else None,
                        m.value().decode() if m.value() is not None else None))
    finally:
        c.close()
    return out


def _short(kv):
    k, v = kv
    return (k, v if v is None or len(v) <= 60 else "%s...(%d bytes)" % (v[:40], len(v)))


def assert_exactly(sent, received, what):
    """received [(partition, offset, key, value)] must hold each (key, value) of sent exactly once,
    and within each partition in the order they were sent."""
    index = {}
    for i, kv in enumerate(sent):
        index[kv] = i
    seen = {}
    dup, unknown = 0, []
    for (p, off, k, v) in received:
        kv = (k, v)
        if kv not in index:
            unknown.append(kv)
        elif kv in seen:
            dup += 1
        else:
            seen[kv] = (p, off)
    missing = [kv for kv in sent if kv not in seen]
    check(not unknown, "%s: %d unexpected messages, e.g. %r" % (
        what, len(unknown), [_short(kv) for kv in unknown[:3]]))
    check(dup == 0, "%s: %d duplicate messages" % (what, dup))
    check(not missing, "%s: %d of %d messages missing, e.g. %r" % (
        what, len(missing), len(sent), [_short(kv) for kv in missing[:3]]))
    by_part = {}
    for (p, off, k, v) in sorted(received, key=lambda r: (r[0], r[1])):
        by_part.setdefault(p, []).append(index[(k, v)])
    for p, idx in by_part.items():
        check(idx == sorted(idx), "%s: partition %d out of send order" % (what, p))
    log("%s: all %d messages back exactly once, in order, across %d partitions" % (
        what, len(sent), len(by_part)))
