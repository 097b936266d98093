#!/usr/bin/python3
"""
make-fuzz-seeds.py: (re)creates the seed corpora of the kafka fuzz targets from the golden vectors
(tests/data/kafka/golden) and the schema tables (src/kafka/schema_gen.c):
  tests/fuzz/corpus/kafka_frame/     request frames as captured
  tests/fuzz/corpus/kafka_request/   [key, version] + request body; plus [key, version, seed]
                                     (synthesized by the target) for every (key, version)
  tests/fuzz/corpus/kafka_response/  [key, version] + response body; plus synthesized seeds for
                                     every version of the responses the gateway rewrites
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GOLDEN = os.path.join(ROOT, "tests", "data", "kafka", "golden")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
REWRITE_KEYS = (0, 1, 3, 10, 18, 60, 78, 79)


def tables():
    src = open(os.path.join(ROOT, "src", "kafka", "schema_gen.c")).read()
    out = {"request": {}, "response": {}}
    for typ in ("request", "response"):
        for m in re.finditer(r'\[(\d+)\] = \{"\w+%s", (\d+), (-?\d+), (-?\d+), (-?\d+)' %
                             typ.capitalize(), src):
            out[typ][int(m.group(1))] = (int(m.group(3)), int(m.group(4)), int(m.group(5)))
    return out


def uvarint_len(b, pos):
    while b[pos] & 0x80:
        pos += 1
    return pos + 1


def skip_tags(b, pos):
    n = b[pos]  # captured headers carry at most a handful of tags
    pos += 1
    for _ in range(n):
        pos = uvarint_len(b, pos)
        size = b[pos]
        pos = uvarint_len(b, pos) + size
    return pos


def main():
    t = tables()
    for d in ("kafka_frame", "kafka_request", "kafka_response"):
        os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    for name in sorted(os.listdir(GOLDEN)):
        m = re.match(r"(\d+)-\w+-v(\d+)-(req|resp)-", name)
        if not m:
            continue
        key, ver, direction = int(m.group(1)), int(m.group(2)), m.group(3)
        frame = open(os.path.join(GOLDEN, name), "rb").read()
        base = name[:-4]
        if direction == "req":
            open(os.path.join(CORPUS, "kafka_frame", base), "wb").write(frame)
            clen = int.from_bytes(frame[8:10], "big", signed=True)
            pos = 10 + max(clen, 0)
            flex = t["request"][key][2]
            if flex >= 0 and ver >= flex:
                pos = skip_tags(frame, pos)
            open(os.path.join(CORPUS, "kafka_request", base), "wb").write(
                bytes([key, ver]) + frame[pos:])
        else:
            pos = 4
            flex = t["response"][key][2]
            if key != 18 and flex >= 0 and ver >= flex:
                pos = skip_tags(frame, pos)
            open(os.path.join(CORPUS, "kafka_response", base), "wb").write(
                bytes([key, ver]) + frame[pos:])
    for key, (vmin, vmax, _) in t["request"].items():
        for ver in range(vmin, vmax + 1):
            open(os.path.join(CORPUS, "kafka_request", "synth-%02d-v%d" % (key, ver)), "wb").write(
                bytes([key, ver, (key * 7 + ver) & 0xff]))
    for key in REWRITE_KEYS:
        vmin, vmax, _ = t["response"][key]
        for ver in range(vmin, vmax + 1):
            for seed in (1, 2):
                open(os.path.join(CORPUS, "kafka_response", "synth-%02d-v%d-%d" % (key, ver, seed)),
                     "wb").write(bytes([key, ver, seed]))


if __name__ == "__main__":
    main()
