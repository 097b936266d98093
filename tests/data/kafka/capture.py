#!/usr/bin/python3
"""
capture.py: a Kafka TCP relay that stores frames as golden vectors (tests/data/kafka/README.md).

  capture.py --out DIR --req-source CLIENT --resp-source BROKER --listen-base PORT
             --upstream ID=HOST:PORT [...] [--rewrite]

Listens on 127.0.0.1:(PORT + ID) for every upstream broker ID and relays to it. Every request and
response frame (bytes after the 4-byte size prefix: header + body) is written once per
(key, version, direction) to DIR/<key>-<Api>-v<ver>-<req|resp>-<source>.bin (source: the client
for requests, the broker for responses); responses are matched
to requests by correlation id. Unmodified upstream bytes are stored.

--rewrite: for peers that cannot advertise the relay's ports (librdkafka 2.0.2 mock), the
non-flexible Metadata (v0-8) and FindCoordinator (v0-2) responses forwarded to the client get
broker addresses replaced by 127.0.0.1:(PORT + node id), so clients keep talking through the relay.
The stored vector is still the original response.
"""
import argparse
import os
import socket
import struct
import sys
import threading

NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit",
         9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat",
         13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
         17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
         22: "InitProducerId", 23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn",
         25: "AddOffsetsToTxn", 26: "EndTxn", 28: "TxnOffsetCommit", 32: "DescribeConfigs",
         36: "SaslAuthenticate", 42: "DeleteGroups", 60: "DescribeCluster",
         68: "ConsumerGroupHeartbeat", 71: "GetTelemetrySubscriptions", 72: "PushTelemetry"}

lock = threading.Lock()
seen = set()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def store(args, key, ver, direction, frame):
    src = args.req_source if direction == "req" else args.resp_source
    # Produce/Fetch responses naming a broker carry NodeEndpoints (KIP-951): kept as a variant.
    if direction == "resp" and key in (0, 1) and b"127.0.0.1" in frame:
        src += "-nodeendpoints"
    name = "%02d-%s-v%d-%s-%s.bin" % (key, NAMES.get(key, "Key%d" % key), ver, direction, src)
    with lock:
        if name in seen or os.path.exists(os.path.join(args.out, name)):
            seen.add(name)
            return
        seen.add(name)
        with open(os.path.join(args.out, name), "wb") as fh:
            fh.write(frame)


def rw_str(body, pos):
    n = struct.unpack_from(">h", body, pos)[0]
    return pos + 2 + max(n, 0)


def rewrite(args, key, ver, frame):
    """Returns the frame with broker addresses pointing at the relay (non-flexible only)."""
    hdr, body = frame[:4], frame[4:]
    me = b"127.0.0.1"
    if key == 3 and ver <= 8:
        pos = 4 if ver >= 3 else 0
        out = bytearray(body[:pos])
        n = struct.unpack_from(">i", body, pos)[0]
        out += body[pos:pos + 4]
        pos += 4
        for _ in range(n):
            node = struct.unpack_from(">i", body, pos)[0]
            pos = rw_str(body, pos + 4) + 4
            out += struct.pack(">ih", node, len(me)) + me + struct.pack(">i", args.listen_base + node)
            if ver >= 1:
                end = rw_str(body, pos)
                out += body[pos:end]
                pos = end
        out += body[pos:]
        return hdr + bytes(out)
    if key == 10 and ver <= 2:
        pos = 2 if ver == 0 else rw_str(body, 6)
        node = struct.unpack_from(">i", body, pos)[0]
        hend = rw_str(body, pos + 4)
        if node < 0:
            return frame
        return hdr + body[:pos + 4] + struct.pack(">h", len(me)) + me + \
            struct.pack(">i", args.listen_base + node) + body[hend + 4:]
    return frame


def pump_requests(args, cli, up, inflight):
    while True:
        sz = recv_exact(cli, 4)
        if sz is None:
            break
        frame = recv_exact(cli, struct.unpack(">i", sz)[0])
        if frame is None:
            break
        key, ver, corr = struct.unpack_from(">hhi", frame, 0)
        inflight[corr] = (key, ver)
        store(args, key, ver, "req", frame)
        up.sendall(sz + frame)
    try:
        up.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def pump_responses(args, cli, up, inflight):
    while True:
        sz = recv_exact(up, 4)
        if sz is None:
            break
        frame = recv_exact(up, struct.unpack(">i", sz)[0])
        if frame is None:
            break
        corr = struct.unpack_from(">i", frame, 0)[0]
        key, ver = inflight.pop(corr, (-1, -1))
        if key >= 0:
            store(args, key, ver, "resp", frame)
            if args.rewrite:
                frame = rewrite(args, key, ver, frame)
                sz = struct.pack(">i", len(frame))
        cli.sendall(sz + frame)
    try:
        cli.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(args, port, upstream):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        cli, _ = ls.accept()
        host, p = upstream.rsplit(":", 1)
        up = socket.create_connection((host, int(p)))
        inflight = {}
        threading.Thread(target=pump_requests, args=(args, cli, up, inflight), daemon=True).start()
        threading.Thread(target=pump_responses, args=(args, cli, up, inflight), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--req-source", required=True)
    ap.add_argument("--resp-source", required=True)
    ap.add_argument("--listen-base", type=int, required=True)
    ap.add_argument("--upstream", action="append", required=True, help="ID=HOST:PORT")
    ap.add_argument("--rewrite", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for u in args.upstream:
        node, addr = u.split("=", 1)
        threading.Thread(target=serve, args=(args, args.listen_base + int(node), addr),
                         daemon=True).start()
    print("relaying", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
