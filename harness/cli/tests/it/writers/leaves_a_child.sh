#!/bin/sh
# A correct writer (unique temp file, fsync, rename, directory fsync) that also leaves a detached
# child running: `setsid` puts it in a session of its own, out of reach of a process-group kill.
# torture must end the child with the writer and say so. The odd duration (the second argument,
# 311.25 by default) marks the child.
set -eu
target="$1"
duration="${2:-311.25}"
directory=$(dirname -- "$target")
setsid sleep "$duration" &
temp=$(mktemp "$directory/.leaves.XXXXXX")
printf '{"generation": %s}\n' "${TORTURE_GENERATION:-1}" > "$temp"
sync -- "$temp"
mv -f -- "$temp" "$target"
sync -- "$directory"
