#!/bin/sh
# Mercurial recovery after a crash, what its own message tells a user to run: `hg recover` rolls
# an interrupted transaction back from .hg/store/journal. "no interrupted transaction available"
# (exit 1) is not a failure; a leftover lock (a symlink naming a dead process) is removed first.
# A failure prints hg's first error line, the reason the table shows.
# Usage: recover.sh REPO
cd "$1" || { echo "repository directory $1 missing"; exit 1; }
rm -f .hg/wlock .hg/store/lock
out=$(hg recover 2>&1) && exit 0
case "$out" in
    *"no interrupted transaction available"*) exit 0 ;;
esac
# The reason is hg's own error ("abort: ..."), not its progress line ("rolling back ...").
printf '%s\n' "$out" | grep -m 1 -E '^(abort|error)' || printf '%s\n' "$out" | head -n 1
exit 1
