#!/usr/bin/env python3
"""SQLite checker (ALICE-style): is the crashed database sound, and did every acked transaction survive?

Usage: check.py DB STDOUT      (as `torture power --check 'python3 check.py {dir}/app.db {stdout}'`)

Exit 0: the state is fine. Exit 1: a violation; the first line printed says which and why.
It checks, in order:
  1. `PRAGMA integrity_check` is `ok` (opening the database first replays a hot journal or a
     WAL, exactly as the next application run would);
  2. atomicity: rows 1..counter are all there, each with its own payload, and nothing beyond;
  3. durability: every `ack N` line in STDOUT (what the workload printed before the crash) has
     its row N.
When an acknowledged transaction is missing and a hot rollback journal was on disk, the first
line says so: the journal's unlink (SQLite's commit point in DELETE mode) did not survive.
"""
import os
import re
import sqlite3
import sys

from common import payload


def acked(stdout_path):
    """Transaction numbers the workload acknowledged before the crash."""
    with open(stdout_path, encoding="utf-8", errors="replace") as f:
        return [int(m.group(1)) for m in re.finditer(r"^ack (\d+)$", f.read(), re.M)]


def hot_journal(db):
    """True when a rollback journal with content is beside the database (it will be rolled back)."""
    journal = db + "-journal"
    return os.path.exists(journal) and os.path.getsize(journal) > 0


def check(db, acks):
    """The first problem found, or None."""
    had_hot_journal = hot_journal(db)
    conn = sqlite3.connect(db, isolation_level=None)
    verdict = conn.execute("PRAGMA integrity_check").fetchall()
    if verdict != [("ok",)]:
        return f"database corrupt: integrity_check says {verdict[0][0]}"
    counter = conn.execute("SELECT n FROM counter").fetchone()[0]
    rows = dict(conn.execute("SELECT id, payload FROM t"))
    conn.close()
    if sorted(rows) != list(range(1, counter + 1)):
        return f"transaction half applied: counter is {counter} but rows are {sorted(rows)}"
    for n, text in rows.items():
        if text != payload(n):
            return f"row {n} holds wrong bytes"
    lost = [n for n in acks if n not in rows]
    if not lost:
        return None
    if had_hot_journal:
        return (
            f"acknowledged transaction {lost[0]} rolled back: {os.path.basename(db)}-journal was "
            "still on disk and was played back (the commit's unlink of the journal was not made "
            "durable: fsync the directory after the unlink, PRAGMA synchronous=EXTRA)"
        )
    return f"acknowledged transaction {lost[0]} lost (database holds transactions 1..{counter})"


def main():
    if len(sys.argv) != 3:
        print("usage: check.py DB STDOUT", file=sys.stderr)
        return 2
    db, stdout_path = sys.argv[1], sys.argv[2]
    try:
        problem = check(db, acked(stdout_path))
    except sqlite3.Error as err:
        problem = f"database unreadable: {err}"
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
