#!/bin/sh
# The same step done right, in shell: a temp file beside the report, `sync FILE` (fsync), `mv -f`
# (rename over the report), `sync DIR` (fsync of the directory, so the rename survives a power cut).
# The temp file is removed if anything fails. torture passes it:
#   torture kill --initial old --trials 500 --seed 1 -- sh harness/writers/write_report_atomic.sh {target}
set -eu
target="${1:-$TORTURE_TARGET}"
generation="${TORTURE_GENERATION:-1}"
directory=$(dirname -- "$target")
temp=$(mktemp "$directory/.report.XXXXXX")
trap 'rm -f -- "$temp"' EXIT
{
    printf '{"generation": %s, "records": [' "$generation"
    i=0
    while [ "$i" -lt 300 ]; do
        [ "$i" -gt 0 ] && printf ', '
        printf '{"id": %s, "generation": %s, "name": "record-%s-%s"}' "$i" "$generation" "$generation" "$i"
        i=$((i + 1))
    done
    printf ']}\n'
} > "$temp"
sync -- "$temp"
mv -f -- "$temp" "$target"
trap - EXIT
sync -- "$directory"
echo done
