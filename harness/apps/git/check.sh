#!/bin/sh
# Git checker (ALICE-style): is the crashed repository sound, and is every acked commit on main?
# Usage: check.sh REPO STDOUT   (as `--check 'sh check.sh {dir}/repo {stdout}'`)
# Exit 0: fine. Exit 1: a violation; the first line printed names it:
#   "loose object empty: ...", "index unreadable: ...", "git fsck: ..."  from fsck.sh
#   "index unreadable: ..."  `git status` cannot read .git/index (renamed into place before its
#                            data was on disk)
#   "acknowledged commit N (SHA) lost: ..."  the branch does not hold a commit `git commit`
#                            had returned for (the ref update or the object was not durable)
# A leftover .git/index.lock or ref lock is removed first, as Git's own message tells a user to.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo="$1"
acks="$2"
cd "$repo" 2>/dev/null || { echo "repository directory $repo missing"; exit 1; }
rm -f .git/index.lock .git/HEAD.lock .git/refs/heads/main.lock
first_line() { grep -v '^[[:space:]]*$' | head -n 1; }
sh "$here/fsck.sh" . || exit 1
if ! out=$(git status --porcelain 2>&1 >/dev/null); then
    echo "index unreadable: $(printf '%s\n' "$out" | first_line)"
    exit 1
fi
if ! head=$(git rev-parse --verify -q main); then
    echo "branch main unreadable: $(cat .git/refs/heads/main 2>&1 | head -c 80)"
    exit 1
fi
while read -r word n sha; do
    [ "$word" = ack ] || continue
    if ! git merge-base --is-ancestor "$sha" "$head" 2>/dev/null; then
        echo "acknowledged commit $n ($sha) lost: main is at $head"
        exit 1
    fi
done < "$acks"
exit 0
