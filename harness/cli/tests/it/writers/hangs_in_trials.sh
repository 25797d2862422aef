#!/bin/sh
# A writer that waits forever where a trial judges it: under `kill` on its fourth run (the one
# trial of `torture kill --kill-at ... --jobs 1`, after the three golden runs) after its first
# write; under `errors` after any call that fails (the injected fault). Its golden runs finish.
# The harness must call the wait a timeout of its own (exit 2), never the writer's violation.
# Usage: hangs_in_trials.sh TARGET COUNTER-FILE kill|errors
target="$1"
counter="$2"
mode="$3"
n=$(cat "$counter" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$counter"
hang() { exec sleep 1000; }
temp="$(dirname -- "$target")/.hangs.$$"
printf '{"generation": ' > "$temp" || hang
if [ "$mode" = kill ] && [ "$n" -eq 4 ]; then hang; fi
printf '%s}\n' "${TORTURE_GENERATION:-1}" >> "$temp" || hang
mv -f -- "$temp" "$target" || hang
