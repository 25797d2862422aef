#!/bin/sh
# SQLite checker (ALICE-style): is the crashed database sound, and did every acked transaction survive?
# Usage: check.sh DB STDOUT   (as `--check 'sh check.sh {dir}/app.db {stdout}'`)
# The sqlite3 shell, not Python: a checker runs once per distinct crash tree, and the shell
# starts in milliseconds.
# Exit 0: the state is fine. Exit 1: a violation; the first line printed says which and why:
#   1. `PRAGMA integrity_check` is `ok` (opening the database first plays back a hot journal or
#      a WAL, exactly as the next application run would);
#   2. atomicity: rows 1..counter are all there, each with its own payload (common.py), and
#      nothing beyond;
#   3. durability: every `ack N` line in STDOUT (printed before the crash) has its row N.
# When an acknowledged transaction is missing and a hot rollback journal was on disk, the first
# line says so: the journal's unlink (SQLite's commit point in DELETE mode) did not survive.
db="$1"
acks="$2"
name=$(basename "$db")
# Before opening: opening plays the journal back and deletes it.
hot=no
[ -s "$db-journal" ] && hot=yes
integrity=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1 | head -n 1)
[ "$integrity" = ok ] || { echo "database corrupt: integrity_check says $integrity"; exit 1; }
# counter, rows, lowest and highest id, rows whose payload is not row N's (see common.py).
facts=$(sqlite3 -separator ' ' "$db" "SELECT (SELECT n FROM counter), count(*),
    coalesce(min(id), 0), coalesce(max(id), 0),
    sum(payload != substr(replace(printf('%.*c', 6000, 'x'), 'x', 'row ' || id || ';'), 1, 6000))
    FROM t" 2>&1)
set -- $facts
[ "$#" -eq 5 ] || { echo "database unreadable: $facts"; exit 1; }
counter=$1 rows=$2 low=$3 high=$4 wrong=$5
if [ "$rows" -ne "$counter" ] || [ "$high" -ne "$counter" ] || { [ "$rows" -gt 0 ] && [ "$low" -ne 1 ]; }; then
    echo "transaction half applied: counter is $counter but rows are $low..$high ($rows rows)"
    exit 1
fi
[ "${wrong:-0}" -eq 0 ] || { echo "$wrong row(s) hold wrong bytes"; exit 1; }
lost=$(sed -n 's/^ack \([0-9][0-9]*\)$/\1/p' "$acks" | while read -r n; do
    [ "$n" -gt "$counter" ] && { echo "$n"; break; }
done)
[ -z "$lost" ] && exit 0
if [ "$hot" = yes ]; then
    echo "acknowledged transaction $lost rolled back: $name-journal was still on disk and was played back (the commit's unlink of the journal was not made durable: fsync the directory after the unlink, PRAGMA synchronous=EXTRA)"
else
    echo "acknowledged transaction $lost lost (the database holds transactions 1..$counter)"
fi
exit 1
