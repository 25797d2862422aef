#!/bin/sh
# Whole-tree checks per second against the checker's own limit, in one run (README, "Speed"):
# SQLite DELETE/FULL under `torture power --check --jobs 2`, then 30 runs of the checker alone
# on the tree of an uncrashed workload. Run from the repository root after
# `cargo build --release -p torture`.
# Usage: sh harness/apps/sqlite/speed.sh [TORTURE]
set -eu
T="${1:-target/release/torture}"
A="$(cd "$(dirname "$0")/.." && pwd)"
PY="$(command -v python3)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$T" power --model linux --seed 1 --max-states 1000000 --jobs 2 --format json \
  --setup "$PY $A/sqlite/setup.py {dir}/app.db --journal delete" --target app.db \
  --ack-line '^ack ' --check "sh $A/sqlite/check.sh {dir}/app.db {stdout}" \
  -- "$PY" "$A/sqlite/workload.py" {target} --journal delete --sync full --txns 2 \
  > "$out/power.json" || [ $? -eq 1 ]
grep '"kind":"subject"' "$out/power.json" | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
keys = ("distinct_trees_checked", "states_checked", "check_seconds", "trees_per_second")
print("%d distinct trees of %d states in %.1f s: %.1f trees/s" % tuple(d[k] for k in keys))'
"$PY" "$A/sqlite/setup.py" "$out/app.db" --journal delete
(cd "$out" && "$PY" "$A/sqlite/workload.py" "$out/app.db" --journal delete --sync full --txns 2 > "$out/stdout")
start=$(date +%s%N)
for _ in $(seq 30); do sh "$A/sqlite/check.sh" "$out/app.db" "$out/stdout" > /dev/null; done
end=$(date +%s%N)
echo "checker alone: $(( (end - start) / 30000 )) us per run (30 runs)"
