#!/bin/sh
# A pipeline step with the classic bug, in shell: `>` truncates the report, then printf writes it
# in place. torture catches it:
#   torture kill --initial old --trials 500 --seed 1 -- sh harness/writers/write_report_plain.sh {target}
set -eu
target="${1:-$TORTURE_TARGET}"
generation="${TORTURE_GENERATION:-1}"
{
    printf '{"generation": %s, "records": [' "$generation"
    i=0
    while [ "$i" -lt 300 ]; do
        [ "$i" -gt 0 ] && printf ', '
        printf '{"id": %s, "generation": %s, "name": "record-%s-%s"}' "$i" "$generation" "$generation" "$i"
        i=$((i + 1))
    done
    printf ']}\n'
} > "$target"
echo done
