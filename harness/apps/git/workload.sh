#!/bin/sh
# Git workload: COMMITS commits of one new file each, `ack N SHA` after each `git commit` returned.
# Usage: workload.sh REPO [COMMITS]   (REPO prepared by setup.sh)
# Once `git commit` has returned, a user takes the commit as made: after a power cut, the
# repository must still pass `git fsck` and hold every acknowledged commit on its branch.
set -eu
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
