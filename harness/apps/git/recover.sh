#!/bin/sh
# Git recovery after a crash: what a user does next, `git fsck` (read-only: it repairs nothing,
# so a failure here is reported as the violation with fsck's first line).
# Usage: recover.sh REPO
cd "$1" && git fsck --no-progress --no-dangling
