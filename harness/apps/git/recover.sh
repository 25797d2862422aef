#!/bin/sh
# Git recovery after a crash: what a user does next, `git fsck` (read-only: it repairs nothing,
# so a failure here is reported as the violation, named by fsck.sh's kinds).
# Usage: recover.sh REPO
exec sh "$(dirname "$0")/fsck.sh" "$1"
