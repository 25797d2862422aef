#!/bin/sh
# Checker for the sqlite3 shell workload: the database is sound and holds whole transactions only.
# Usage: check.sh DB     (each transaction of txn.sql inserts two rows: an odd count is half of one)
db="$1"
ok=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1 | head -n 1)
[ "$ok" = ok ] || { echo "database corrupt: $ok"; exit 1; }
rows=$(sqlite3 "$db" 'SELECT count(*) FROM t' 2>&1)
case "$rows" in
    *[!0-9]*|'') echo "table t unreadable: $rows"; exit 1 ;;
esac
[ $((rows % 2)) -eq 0 ] || { echo "half a transaction published: t holds $rows rows (transactions insert 2)"; exit 1; }
exit 0
