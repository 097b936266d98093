#!/usr/bin/env bash
# scripts/demo (what `make demo` runs) end to end against the built straitd, so the demo cannot rot.
# It runs on its own loopback addresses (127.X.Y.1 to .7), so it does not collide with other tests
# or a straitd on 127.0.0.1.
set -uo pipefail
src=${ST_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export ST_BUILD_DIR=${ST_BUILD_DIR:-$src/build}
export STRAIT_DEMO_ADDRESS="127.$((RANDOM % 254 + 1)).$((RANDOM % 254 + 1)).1"
log=$(mktemp /tmp/strait-it-demo.XXXXXX)
trap 'rm -f "$log"' EXIT
timeout 300 "$src/scripts/demo" >"$log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] || ! tail -n 1 "$log" | grep -q "demo passed"; then
  cat "$log"
  echo "scripts/demo failed (status $rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "scripts/demo ran $(grep -c '^\$ ' "$log") commands on $STRAIT_DEMO_ADDRESS and passed"
echo "1 passed, 0 failed"
