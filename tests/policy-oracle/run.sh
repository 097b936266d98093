#!/usr/bin/env bash
# Differential policy test: installs the pinned oracle (npm ci, from package-lock.json) when needed
# and compares strait's decisions on every fixture in tests/data/policy with iam-simulate's.
# usage: tests/policy-oracle/run.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${ST_BUILD_DIR:-$root/build}}
if [ ! -d "$here/node_modules/@cloud-copilot/iam-simulate" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi
exec node "$here/oracle.mjs" "$build/strait" "$root/tests/data/policy"
