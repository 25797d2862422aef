#!/bin/sh
# Mercurial workload: COMMITS commits of one new file each, `ack N NODE` after each `hg commit`.
# Usage: workload.sh REPO [COMMITS]   (REPO prepared by setup.sh)
set -eu
cd "$1"
commits="${2:-2}"
i=1
while [ "$i" -le "$commits" ]; do
    printf 'file %s\n' "$i" > "file$i.txt"
    hg commit -q -A -m "commit $i"
    echo "ack $i $(hg log -r . -T '{node}')"
    i=$((i + 1))
done
