#!/usr/bin/env python3
"""Operations of straitd as systemd runs it: sd_notify (READY=1 once serving, STOPPING=1 on
SIGTERM) on a $NOTIFY_SOCKET the test owns; `strait status` (brokers, ports, health); debug
categories switched at runtime (`strait log`) and their lines; SIGHUP re-reading --config (log
format logfmt -> json) and the API's TLS certificate (a new one served after SIGHUP, a broken one
refused while the previous one stays); /metrics: the per-API request counter moving with known
ApiVersions requests, closes by reason adding up, `promtool check metrics`; SIGTERM draining: new connections refused at once, an open connection keeps
working during --shutdown-grace, and straitd exits 0 as soon as it closes.

Every wait is bounded; nothing asserts on wall-clock durations.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import urllib.request

from strait_harness import STRAIT, Straitd, check, log, run, wait_for


def api_versions(sock, corr):
    """Sends ApiVersions v0 on `sock` and returns the error code of the response."""
    client_id = b"ops-test"
    body = struct.pack(">hhih", 18, 0, corr, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        chunk = sock.recv(4 - len(hdr))
        check(chunk, "connection closed before the ApiVersions response")
        hdr += chunk
    n = struct.unpack(">i", hdr)[0]
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        check(chunk, "connection closed in the middle of the ApiVersions response")
        data += chunk
    got_corr, err = struct.unpack(">ih", data[:6])
    check(got_corr == corr, "correlation id %d, expected %d" % (got_corr, corr))
    return err


def notify_messages(ns, timeout):
    """Datagrams received on the notify socket within `timeout` seconds (at least one)."""
    ns.settimeout(timeout)
    msgs = [ns.recv(4096).decode()]
    ns.settimeout(0.2)
    try:
        while True:
            msgs.append(ns.recv(4096).decode())
    except socket.timeout:
        pass
    return msgs


def log_lines(d):
    with open(d.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace").splitlines()


def cli(*args):
    r = subprocess.run([STRAIT] + list(args), capture_output=True, timeout=30)
    check(r.returncode == 0, "strait %s: %s %s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout.decode()


def make_cert(tmp, name):
    cert, key = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % name, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    with open(cert) as f:
        return cert, key, ssl.PEM_cert_to_DER_cert(f.read())


def served_cert(addr):
    host, port = addr.rsplit(":", 1)
    return ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, int(port)), timeout=10))


def scrape(d):
    with urllib.request.urlopen("http://%s/metrics" % d.ready["metricsEndpoint"], timeout=30) as r:
        return r.read().decode()


def metric_sum(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for ln in text.splitlines():
        if not ln.startswith(name + "{"):
            continue
        if all('%s="%s"' % (k, v) in ln for k, v in labels.items()):
            total += float(ln.rsplit(" ", 1)[1])
    return total


def test():
    tmp = tempfile.mkdtemp(prefix="strait-ops-")
    npath = os.path.join(tmp, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    os.environ["NOTIFY_SOCKET"] = npath
    cfg = os.path.join(tmp, "straitd.conf")
    with open(cfg, "w") as f:
        f.write("# ops test\nlog-format = logfmt\nshutdown-grace = 60\n")
    cert, key, der_a = make_cert(tmp, "first")
    args = ["--config", cfg, "--metrics-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
            "--api-tls-cert", cert, "--api-tls-key", key]
    with Straitd(brokers=2, extra_args=args) as d:
        msgs = notify_messages(ns, 30)
        check(any("READY=1" in m for m in msgs), "READY=1 on $NOTIFY_SOCKET: %r" % msgs)
        check(any("MAINPID=%d" % d.proc.pid in m for m in msgs), "MAINPID in %r" % msgs)
        log("sd_notify: %r" % msgs)

        # strait status: brokers with their ports, health
        out = cli("status", "--data-dir", d.data_dir)
        for node, port in d.broker_ports.items():
            check("broker %-4d port %-6d" % (node, port) in out, "broker %d on port %d in:\n%s" % (
                node, port, out))
        check("health ok" in out, "health ok in:\n%s" % out)
        st = json.loads(cli("status", "--data-dir", d.data_dir, "--output", "json"))
        check(len(st["clusters"][0]["brokers"]) == 2 and "managedClusters" in st, "status json")
        log("strait status:\n%s" % out)

        # debug categories at runtime: http on, level stays info
        out = cli("log", "--data-dir", d.data_dir, "--categories", "http")
        check(out.strip() == "level=info format=logfmt categories=http", "strait log: %r" % out)
        metrics = "http://%s/metrics" % d.ready["metricsEndpoint"]
        subprocess.run(["curl", "-sf", "-o", "/dev/null", metrics], check=True, timeout=30)
        wait_for(lambda: any("cat=http" in ln and "metrics scraped" in ln for ln in log_lines(d)),
                 10, "an http debug line at level info")
        cli("log", "--data-dir", d.data_dir, "--categories", "")
        n_before = len(log_lines(d))
        subprocess.run(["curl", "-sf", "-o", "/dev/null", metrics], check=True, timeout=30)
        check(not any("metrics scraped" in ln for ln in log_lines(d)[n_before:]),
              "no http debug line once the category is off")
        r = subprocess.run([STRAIT, "log", "--data-dir", d.data_dir, "--categories", "bogus"],
                           capture_output=True, timeout=30)
        check(r.returncode != 0, "an unknown category is refused")
        log("debug categories switched at runtime")

        # SIGHUP re-reads the config: JSON logs from now on
        with open(cfg, "w") as f:
            f.write("log-format = json\nshutdown-grace = 60\n")
        os.kill(d.proc.pid, signal.SIGHUP)

        def reloaded():
            for ln in log_lines(d):
                if ln.startswith("{") and "SIGHUP: reloaded" in ln:
                    return json.loads(ln)
            return None
        rec = wait_for(reloaded, 10, "a JSON log line after SIGHUP")
        check(rec["level"] == "info" and "format json" in rec["msg"], "reload line %r" % rec)
        check(cli("log", "--data-dir", d.data_dir).strip().startswith("level=info format=json"),
              "strait log shows the reloaded format")
        log("SIGHUP: %s" % rec["msg"])

        # SIGHUP reloads the API's TLS certificate from the same paths
        api = d.ready["apiEndpoint"]
        check(served_cert(api) == der_a, "the API serves the first certificate")
        _, _, der_b = make_cert(tmp, "second")
        os.replace(os.path.join(tmp, "second.pem"), cert)
        os.replace(os.path.join(tmp, "second.key"), key)
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: served_cert(api) == der_b, 10, "the API serving the new certificate")
        with open(key, "w") as f:
            f.write("not a key\n")
        os.kill(d.proc.pid, signal.SIGHUP)
        wait_for(lambda: any("TLS certificate not reloaded" in ln for ln in log_lines(d)), 10,
                 "a broken key refused on SIGHUP")
        check(served_cert(api) == der_b, "the previous certificate stays after a failed reload")
        log("SIGHUP: API certificate reloaded; a broken key keeps the previous one")

        # /metrics: requests by API move with known traffic; closes by reason add up
        host, port = d.endpoint()["bootstrap"].split(",")[0].rsplit(":", 1)
        m0 = scrape(d)
        before = metric_sum(m0, "strait_api_requests_total", api="ApiVersions")
        closed0 = metric_sum(m0, "strait_client_connections_closed_total")
        n = 7
        c = socket.create_connection((host, int(port)), timeout=10)
        for i in range(n):
            check(api_versions(c, 100 + i) == 0, "ApiVersions %d" % i)
        c.close()
        m1 = wait_for(lambda: (lambda t: t if metric_sum(t, "strait_client_connections_closed_total")
                               > closed0 else None)(scrape(d)), 10, "the connection's close counted")
        after = metric_sum(m1, "strait_api_requests_total", api="ApiVersions")
        check(after - before == n, "strait_api_requests_total{api=\"ApiVersions\"} moved by %d, "
              "expected %d" % (after - before, n))
        check(metric_sum(m1, "strait_api_request_bytes_total", api="ApiVersions")
              - metric_sum(m0, "strait_api_request_bytes_total", api="ApiVersions") == n * 22,
              "request bytes by API: %d frames of 22 bytes" % n)
        closed = [ln for ln in m1.splitlines()
                  if ln.startswith("strait_client_connections_closed_total{")]
        check(closed and all(',reason="' in ln for ln in closed), "closes carry a reason label")
        check(metric_sum(m1, "strait_client_connections_closed_total", reason="client_closed")
              - metric_sum(m0, "strait_client_connections_closed_total", reason="client_closed")
              == 1, "the client's close counted as reason=client_closed")
        mfile = os.path.join(tmp, "metrics.txt")
        with open(mfile, "w") as f:
            f.write(m1)
        with open(mfile) as f:
            r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True,
                               timeout=60)
        check(r.returncode == 0, "promtool check metrics: %s %s" % (r.stdout, r.stderr))
        log("metrics: ApiVersions requests +%d by API; promtool check metrics ok" % n)

        # SIGTERM drains: an open connection keeps working, new ones are refused
        c = socket.create_connection((host, int(port)), timeout=10)
        check(api_versions(c, 1) == 0, "ApiVersions before the drain")
        d.proc.send_signal(signal.SIGTERM)
        msgs = notify_messages(ns, 10)
        check(any("STOPPING=1" in m for m in msgs), "STOPPING=1 on SIGTERM: %r" % msgs)

        def refused():
            try:
                s2 = socket.create_connection((host, int(port)), timeout=2)
            except OSError:
                return True
            # accepted by the kernel before the listener went away: it must not be served
            s2.settimeout(2)
            try:
                api_versions(s2, 7)
                return False
            except (OSError, AssertionError):
                return True
            finally:
                s2.close()
        wait_for(refused, 10, "new connections refused while draining")
        check(d.proc.poll() is None, "straitd still running while a connection is open")
        check(api_versions(c, 2) == 0, "the open connection is still served during the drain")
        log("draining: new connections refused, the open one served")
        c.close()
        rc = d.proc.wait(30)
        check(rc == 0, "straitd exit status %r after the last connection closed" % rc)
        d.died_on_its_own, d.stopped_rc = False, rc  # the test stopped it (SIGTERM above)
        check(any("drained" in ln for ln in log_lines(d)), "a drained log line")
        log("drain finished when the last connection closed; exit 0")
    ns.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run(test)
