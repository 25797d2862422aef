#!/bin/sh
# Git setup: the prepared starting state, a repository with one commit, durable.
# Usage: setup.sh REPO default|fsync-all
#   default    Git's own defaults (core.fsync: pack files only; loose objects, index and refs
#              are written without fsync)
#   fsync-all  core.fsync=all: every object, the index and every ref fsynced before its rename
# Run as `torture power --setup`: this tree is the initial state of every crash state.
set -eu
# Fixed dates: the same run makes the same commits (object names), so a crash state of one run
# can be compared with the trace of another (power --real re-runs the writer per crash point).
export GIT_AUTHOR_DATE="2005-04-07T22:13:13 +0000" GIT_COMMITTER_DATE="2005-04-07T22:13:13 +0000"
repo="$1"
mode="$2"
git init -q -b main "$repo"
cd "$repo"
git config user.name torture
git config user.email torture@example.invalid
# No background work the workload did not ask for: automatic gc/maintenance would race the crash.
git config gc.auto 0
git config maintenance.auto false
case "$mode" in
    default) ;;
    fsync-all) git config core.fsync all ;;
    *) echo "setup.sh: mode must be default or fsync-all, not $mode" >&2; exit 2 ;;
esac
echo "base" > base.txt
git add base.txt
git commit -q -m "base"
sync
