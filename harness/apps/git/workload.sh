#!/bin/sh
# Git workload: COMMITS commits of one new file each, `ack N SHA` after each `git commit` returned.
# Usage: workload.sh REPO [COMMITS]   (REPO prepared by setup.sh)
# Once `git commit` has returned, a user takes the commit as made: after a power cut, the
# repository must still pass `git fsck` and hold every acknowledged commit on its branch.
set -eu
# Fixed dates: the same run makes the same commits (object names), so a crash state of one run
# can be compared with the trace of another (power --real re-runs the writer per crash point).
export GIT_AUTHOR_DATE="2005-04-07T22:13:13 +0000" GIT_COMMITTER_DATE="2005-04-07T22:13:13 +0000"
cd "$1"
commits="${2:-2}"
i=1
while [ "$i" -le "$commits" ]; do
    printf 'file %s\n' "$i" > "file$i.txt"
    git add "file$i.txt"
    git commit -q -m "commit $i"
    echo "ack $i $(git rev-parse HEAD)"
    i=$((i + 1))
done
