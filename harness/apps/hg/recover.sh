#!/bin/sh
# Mercurial recovery after a crash, what its own message tells a user to run: `hg recover` rolls
# an interrupted transaction back from .hg/store/journal. "no interrupted transaction available"
# (exit 1) is not a failure; a leftover lock (a symlink naming a dead process) is removed first.
# A failure prints hg's error line (or the exception of its crash), the reason the table shows.
# Usage: recover.sh REPO
cd "$1" || { echo "repository directory $1 missing"; exit 1; }
rm -f .hg/wlock .hg/store/lock
out=$(hg recover 2>&1) && exit 0
case "$out" in
    *"no interrupted transaction available"*) exit 0 ;;
esac
# The reason is hg's own error ("abort: ..."), or, when hg itself crashed, the exception that
# ends its traceback; never its progress line ("rolling back interrupted transaction").
if printf '%s\n' "$out" | grep -q '^Traceback'; then
    echo "hg recover crashed: $(printf '%s\n' "$out" | tail -n 1)"
else
    printf '%s\n' "$out" | grep -m 1 -E '^(abort|error)' || printf '%s\n' "$out" | head -n 1
fi
exit 1
