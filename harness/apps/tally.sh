#!/bin/sh
# Runs a checker and, when it reports a violation, appends its first output line to LOG, after
# $TORTURE_MODEL (the model whose exploration met the tree first; empty outside a simulated
# power cut) and a tab.
# Usage: tally.sh LOG CHECKER [ARGS...]
# `just apps` (run.py) wraps each checker in it to count the kinds of finding over every state
# the engine judged (the run's own report diagnoses a few); the checker's exit status and output
# pass through unchanged, so the verdict is the checker's. The model tells a cell's trees from
# those only its holds line's other models reached (a breaking run explores them too).
log="$1"
shift
out=$("$@" 2>&1)
code=$?
if [ "$code" -ne 0 ]; then
    line=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 1)
    # One short append per line: O_APPEND writes of a line are not interleaved on Linux.
    printf '%s\t%s\n' "${TORTURE_MODEL:-}" "${line:-exit status $code, no output}" >> "$log"
fi
printf '%s\n' "$out"
exit "$code"
