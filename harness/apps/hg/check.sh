#!/bin/sh
# Mercurial checker (ALICE-style): is the crashed repository sound, and is every acked commit in it?
# Usage: check.sh REPO STDOUT   (as `--check 'sh check.sh {dir}/repo {stdout}'`, after recover.sh)
# Exit 0: fine. Exit 1: a violation; the first line printed names it:
#   "hg verify: ..."        the store or the changelog is inconsistent (a revlog's index names
#                           data its data file lacks: written without fsync before the index)
#   "working directory unreadable: ..."   `hg status` fails (dirstate torn)
#   "acknowledged commit N (NODE) lost"    a commit `hg commit` had returned for is gone
set -u
repo="$1"
acks="$2"
cd "$repo" 2>/dev/null || { echo "repository directory $repo missing"; exit 1; }
first_line() { grep -v '^[[:space:]]*$' | grep -v '^checking\|^checked\|^crosschecking' | head -n 1; }
if ! out=$(hg verify -q 2>&1); then
    echo "hg verify: $(printf '%s\n' "$out" | first_line)"
    exit 1
fi
if ! out=$(hg status 2>&1 >/dev/null); then
    echo "working directory unreadable: $(printf '%s\n' "$out" | first_line)"
    exit 1
fi
while read -r word n node; do
    [ "$word" = ack ] || continue
    if ! hg log -r "$node" -T x >/dev/null 2>&1; then
        echo "acknowledged commit $n ($node) lost: tip is $(hg log -r tip -T '{rev}:{node|short}' 2>&1)"
        exit 1
    fi
done < "$acks"
exit 0
