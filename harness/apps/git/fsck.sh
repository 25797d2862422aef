#!/bin/sh
# `git fsck` with its first complaint named by kind (shared by recover.sh and check.sh).
# Usage: fsck.sh REPO
# Exit 0: the object store, refs, reflogs and index read back. Exit 1: the first line names it:
#   "loose object empty: ..."  an object file of 0 bytes: its name reached the disk, its data
#                              did not (Git links objects into place without fsync by default)
#   "index unreadable: ..."    .git/index too short or failing its checksum: renamed into place
#                              before its data was on disk
#   "git fsck: ..."            anything else (a ref or reflog naming a lost object, a torn ref)
cd "$1" 2>/dev/null || { echo "repository directory $1 missing"; exit 1; }
out=$(git fsck --no-progress --no-dangling 2>&1) && exit 0
line=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 1)
case "$line" in
    *"is empty"*) echo "loose object empty: $line" ;;
    *.git/index* | *"index file"* | *"bad signature"*) echo "index unreadable: $line" ;;
    *) echo "git fsck: $line" ;;
esac
exit 1
