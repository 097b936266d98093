#!/usr/bin/env bash
# `strait audit tail` against a real straitd: the daemon creates DATA_DIR/audit.log (0600) by
# default and names it on the admin socket (GET /v1/audit), tail of an empty log prints nothing,
# then records appended by the test in the documented format (src/authz/audit.h): -n, --denied,
# --principal, --resource, --json, --follow picking up an appended line and following rotation
# (FILE -> FILE.1), tail reading on into FILE.1, --file, --audit-log FILE and the config file
# form of the flags, bad flags refused. Environment: ST_BUILD_DIR, ST_SOURCE_DIR. Every wait is
# bounded.
set -euo pipefail
SRC=${ST_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${ST_BUILD_DIR:-$SRC/build}
S=$BUILD/strait
[ -x "$BUILD/straitd" ] && [ -x "$S" ] || { echo "skip: no straitd/strait in $BUILD"; exit 77; }
TMP=$(mktemp -d /tmp/st_audit_cli.XXXXXX)
A=$((100 + RANDOM % 150)); B=$((1 + RANDOM % 250))
PORT0=$((30000 + RANDOM % 20000))
PID=
FPID=
cleanup() {
    local rc=$?
    if [ -n "$FPID" ]; then kill "$FPID" 2>/dev/null || true; wait "$FPID" 2>/dev/null || true; fi
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    if [ $rc -ne 0 ]; then echo "FAIL (rc=$rc); straitd log:"; cat "$TMP/straitd.log" || true; fi
    [ -n "${ST_KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "check failed: $*"; exit 1; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

start() { # start DATA_DIR [straitd flags...]
    local dir=$1; shift
    rm -f "$TMP/ready"
    "$BUILD/straitd" --data-dir "$dir" --embedded-kafka 1 --insecure-endpoint "127.$A.$B.1" \
        --port-range "$PORT0-$((PORT0 + 9))" --ready-file "$TMP/ready" "$@" >"$TMP/straitd.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do [ -s "$TMP/ready" ] && break; sleep 0.1; done
    [ -s "$TMP/ready" ] || fail "straitd did not become ready"
}
stop() {
    kill -TERM "$PID"; wait "$PID" || fail "straitd exit status $?"; PID=
}

# One record in the documented format: rec CONN PRINCIPAL ACTION RESOURCE DECISION REASON
rec() {
    printf '{"time":"2026-11-27T09:00:%02d.000Z","conn":"C-%s","principal":"%s","auth":"SASL_SCRAM","source":"10.1.0.5:5000%s","endpoint":"127.0.0.1:14001","cluster":"arn:aws:kafka:us-east-1:111122223333:cluster/demo/x","api":"Produce","apiVersion":9,"action":"%s","resource":"%s","decision":"%s","reason":"%s"}\n' \
        "$1" "$1" "$2" "$1" "$3" "$4" "$5" "$6"
}

# --- the default: DATA_DIR/audit.log, named on the admin socket
D=$TMP/d
start "$D"
LOG=$D/audit.log
[ -f "$LOG" ] || fail "straitd did not create $LOG"
[ "$(stat -c %a "$LOG")" = 600 ] || fail "audit log mode $(stat -c %a "$LOG")"
info=$(curl -s --unix-socket "$D/admin.sock" http://localhost/v1/audit)
[ "$(echo "$info" | jget "['path']")" = "$LOG" ] || fail "GET /v1/audit: $info"
[ "$(echo "$info" | jget "['allDecisions']")" = False ] || fail "allDecisions default: $info"
[ "$(echo "$info" | jget "['maxBytes']")" = 67108864 ] || fail "maxBytes default: $info"
[ "$(echo "$info" | jget "['keep']")" = 5 ] || fail "keep default: $info"

out=$("$S" audit tail --data-dir "$D") || fail "tail of an empty log failed"
[ -z "$out" ] || fail "empty log printed: $out"
out=$(STRAIT_ADMIN_SOCKET=$D/admin.sock "$S" audit tail) || fail "tail through \$STRAIT_ADMIN_SOCKET"
[ -z "$out" ] || fail "empty log printed: $out"

rec 1 'User:alice' WRITE 'TOPIC:payments' DENY 'no ACL allows WRITE' >>"$LOG"
rec 2 'User:bob' READ 'TOPIC:orders' ALLOW 'User:bob READ TOPIC:orders' >>"$LOG"
rec 3 'arn:aws:iam::444455556666:user/dev' 'kafka-cluster:WriteData' \
    'arn:aws:kafka:us-east-1:111122223333:topic/demo/x/payments' DENY 'no statement allows it' >>"$LOG"
printf '{"time":"2026-11-27T09:00:04.000Z","conn":"C-4","principal":"User:\\"odd\\"\\u001b[31m\\nname","api":"Metadata","apiVersion":12,"action":"DESCRIBE","resource":"TOPIC:caf\xc3\xa9","decision":"DENY"}\n' >>"$LOG"

out=$("$S" audit tail --admin-socket "$D/admin.sock")
[ "$(echo "$out" | wc -l)" = 4 ] || fail "4 records expected: $out"
echo "$out" | head -1 | grep -q '^2026-11-27T09:00:01.000Z DENY  User:alice Produce v9 WRITE TOPIC:payments (no ACL allows WRITE)$' \
    || fail "readable form: $out"
grep -q 'ALLOW User:bob' <<<"$out" || fail "allowed record: $out"
echo "$out" | tail -1 | grep -qF 'User:"odd"\x1b[31m\x0aname Metadata v12 DESCRIBE TOPIC:café' \
    || fail "control characters escaped, UTF-8 kept: $out"
if echo "$out" | grep -q $'\x1b'; then fail "escape character reached the terminal"; fi

out=$("$S" audit tail --data-dir "$D" -n 2)
[ "$(echo "$out" | wc -l)" = 2 ] || fail "-n 2: $out"
echo "$out" | head -1 | grep -q 'C-3\|user/dev' || fail "-n 2 starts at record 3: $out"

out=$("$S" audit tail --data-dir "$D" --denied)
[ "$(echo "$out" | wc -l)" = 3 ] || fail "--denied: $out"
if echo "$out" | grep -q ALLOW; then fail "--denied printed an ALLOW: $out"; fi
out=$("$S" audit tail --data-dir "$D" --principal User:bob)
[ "$(echo "$out" | wc -l)" = 1 ] && grep -q 'User:bob' <<<"$out" || fail "--principal: $out"
out=$("$S" audit tail --data-dir "$D" --resource payments --denied -n 1)
grep -q 'topic/demo/x/payments' <<<"$out" || fail "--resource: $out"

out=$("$S" audit tail --data-dir "$D" --json -n 2)
echo "$out" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert len(recs) == 2, recs
assert recs[0]["conn"] == "C-3" and recs[0]["decision"] == "DENY", recs[0]
assert recs[1]["principal"] == "User:\"odd\"\x1b[31m\nname", recs[1]
assert recs[1]["resource"] == "TOPIC:caf\u00e9", recs[1]
' || fail "--json: $out"

# --- --follow: a new line within a bounded wait, then across a rotation
"$S" audit tail --data-dir "$D" -n 0 --follow >"$TMP/follow.out" 2>"$TMP/follow.err" &
FPID=$!
sleep 0.5
rec 5 'User:carol' WRITE 'TOPIC:follow-me' DENY 'no ACL allows WRITE' >>"$LOG"
for _ in $(seq 1 100); do grep -q follow-me "$TMP/follow.out" && break; sleep 0.1; done
grep -q 'User:carol Produce v9 WRITE TOPIC:follow-me' "$TMP/follow.out" || fail "--follow: $(cat "$TMP/follow.out" "$TMP/follow.err")"
[ "$(wc -l <"$TMP/follow.out")" = 1 ] || fail "-n 0 --follow printed old records: $(cat "$TMP/follow.out")"
# rotate the way straitd does (FILE -> FILE.1, new FILE); a line written to the old file just
# before the rename is still printed
rec 6 'User:carol' WRITE 'TOPIC:before-rotation' DENY 'x' >>"$LOG"
mv "$LOG" "$LOG.1"
rec 7 'User:carol' WRITE 'TOPIC:after-rotation' DENY 'x' >>"$LOG"
for _ in $(seq 1 100); do grep -q after-rotation "$TMP/follow.out" && break; sleep 0.1; done
grep -q before-rotation "$TMP/follow.out" || fail "--follow lost the old file's last line: $(cat "$TMP/follow.out")"
grep -q after-rotation "$TMP/follow.out" || fail "--follow did not follow the rotation: $(cat "$TMP/follow.out")"
# --denied filters while following too
rec 8 'User:carol' READ 'TOPIC:allowed-followed' ALLOW 'x' >>"$LOG"
kill "$FPID"; wait "$FPID" 2>/dev/null || true; FPID=
"$S" audit tail --data-dir "$D" -n 0 --follow --denied >"$TMP/follow2.out" 2>&1 &
FPID=$!
sleep 0.5
rec 9 'User:carol' READ 'TOPIC:allowed-hidden' ALLOW 'x' >>"$LOG"
rec 10 'User:carol' READ 'TOPIC:denied-shown' DENY 'x' >>"$LOG"
for _ in $(seq 1 100); do grep -q denied-shown "$TMP/follow2.out" && break; sleep 0.1; done
grep -q denied-shown "$TMP/follow2.out" || fail "--follow --denied: $(cat "$TMP/follow2.out")"
if grep -q allowed-hidden "$TMP/follow2.out"; then fail "--follow --denied printed an ALLOW"; fi
kill "$FPID"; wait "$FPID" 2>/dev/null || true; FPID=

# tail reads on into FILE.1 when FILE has fewer records than asked for
out=$("$S" audit tail --data-dir "$D" -n 3 --json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["conn"] for l in sys.stdin))')
[ "$out" = "C-8 C-9 C-10" ] || fail "tail within FILE: $out"
out=$("$S" audit tail --data-dir "$D" -n 6 --json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["conn"] for l in sys.stdin))')
[ "$out" = "C-5 C-6 C-7 C-8 C-9 C-10" ] || fail "tail into FILE.1: $out"

# --file, no daemon needed; a missing file is an error (exit 1); usage errors exit 2
out=$("$S" audit tail --file "$LOG.1" -n 1 --json)
grep -q before-rotation <<<"$out" || fail "--file: $out"
if "$S" audit tail --file "$TMP/missing.log" 2>"$TMP/err"; then fail "missing file accepted"; fi
grep -q "does not exist" "$TMP/err" || fail "missing file message: $(cat "$TMP/err")"
set +e
"$S" audit tail -n many >/dev/null 2>&1; [ $? = 2 ] || fail "bad -n: exit status"
"$S" audit bogus >/dev/null 2>&1; [ $? = 2 ] || fail "unknown subcommand: exit status"
set -e
stop

# --- the daemon stopped: --data-dir falls back to DATA_DIR/audit.log
out=$("$S" audit tail --data-dir "$D" -n 1 --json 2>/dev/null)
grep -q denied-shown <<<"$out" || fail "--data-dir without a daemon: $out"

# --- --audit-log FILE and the config file form; bad values refused
D2=$TMP/d2
cat >"$TMP/straitd.conf" <<CONF
audit-log = $TMP/custom-audit.log
audit-all-decisions
audit-max-bytes = 1M
audit-keep = 2
CONF
start "$D2" --config "$TMP/straitd.conf"
[ -f "$TMP/custom-audit.log" ] || fail "--audit-log FILE not created"
[ ! -e "$D2/audit.log" ] || fail "default log created although --audit-log was given"
info=$(curl -s --unix-socket "$D2/admin.sock" http://localhost/v1/audit)
[ "$(echo "$info" | jget "['path']")" = "$TMP/custom-audit.log" ] || fail "custom path: $info"
[ "$(echo "$info" | jget "['allDecisions']")" = True ] || fail "audit-all-decisions: $info"
[ "$(echo "$info" | jget "['maxBytes']")" = 1048576 ] || fail "audit-max-bytes: $info"
[ "$(echo "$info" | jget "['keep']")" = 2 ] || fail "audit-keep: $info"
rec 1 'User:alice' WRITE 'TOPIC:custom' DENY 'x' >>"$TMP/custom-audit.log"
out=$("$S" audit tail --data-dir "$D2")
grep -q 'TOPIC:custom' <<<"$out" || fail "tail of --audit-log FILE: $out"
stop

start "$D2" --audit-log none
info=$(curl -s --unix-socket "$D2/admin.sock" http://localhost/v1/audit)
[ "$(echo "$info" | jget "['enabled']")" = False ] || fail "--audit-log none: $info"
if "$S" audit tail --data-dir "$D2" 2>"$TMP/err"; then fail "tail without an audit log succeeded"; fi
grep -q "without an audit log" "$TMP/err" || fail "disabled log message: $(cat "$TMP/err")"
stop

for bad in "--audit-max-bytes 12" "--audit-max-bytes 5X" "--audit-keep 0" "--audit-all-decisions=maybe"; do
    # shellcheck disable=SC2086
    if timeout 30 "$BUILD/straitd" --data-dir "$TMP/d3" --embedded-kafka 1 --insecure-endpoint "127.$A.$B.1" \
        $bad >"$TMP/bad.log" 2>&1; then fail "straitd accepted $bad"; fi
done
if timeout 30 "$BUILD/straitd" --data-dir "$TMP/d3" --embedded-kafka 1 --insecure-endpoint "127.$A.$B.1" \
    --audit-log "$TMP/no/such/dir/audit.log" >"$TMP/bad.log" 2>&1; then
    fail "straitd started with an unwritable audit log"
fi
grep -q "audit log" "$TMP/bad.log" || fail "unwritable audit log message: $(cat "$TMP/bad.log")"
echo "test_audit_cli: ok"
