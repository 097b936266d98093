#!/usr/bin/env bash
# Differential policy test: installs the pinned oracle (npm ci, from package-lock.json) when needed,
# compares strait's decisions on every fixture in tests/data/policy with iam-simulate's
# (oracle.mjs, deviations listed in known-deviations.json), then on seeded random requests
# (random.mjs). Exit status 0 when there is no unexplained difference.
# usage: tests/policy-oracle/run.sh [BUILD_DIR] [RANDOM_CASES]   (defaults: build, 2000 x 3 seeds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-${ST_BUILD_DIR:-$root/build}}
count=${2:-2000}
if [ ! -d "$here/node_modules/@cloud-copilot/iam-simulate" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi
node "$here/oracle.mjs" "$build/strait" "$root/tests/data/policy"
for seed in 1 2 3; do
    node "$here/random.mjs" "$build/strait" "$count" "$seed"
done
