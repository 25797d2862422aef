#!/usr/bin/env python3
"""SQLite workload: N transactions through Python's sqlite3 module, `ack N` after each commit.

Usage: workload.py DB --journal delete|wal --sync full|extra|normal [--txns N]

Each transaction inserts row N (a payload that spans a few pages) and sets the counter row to N,
so a checker can tell a whole transaction from half of one. `ack N` is printed (and flushed)
only after COMMIT returned: from then on SQLite promises transaction N survives a power cut
(with synchronous=FULL or EXTRA; NORMAL in WAL mode promises only consistency).

WAL mode uses `locking_mode=EXCLUSIVE`: the wal-index then lives in heap memory instead of a
shared-memory `-shm` file, whose mmap stores a syscall tracer cannot see (and which SQLite
rebuilds from the WAL after a crash anyway).
"""
import argparse
import sqlite3
import sys

from common import open_db, payload


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--journal", choices=["delete", "wal"], required=True)
    ap.add_argument("--sync", choices=["full", "extra", "normal"], required=True)
    ap.add_argument("--txns", type=int, default=3)
    args = ap.parse_args()
    conn = open_db(args.db, args.journal, args.sync)
    first = conn.execute("SELECT n FROM counter").fetchone()[0] + 1
    for n in range(first, first + args.txns):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t(id, payload) VALUES (?, ?)", (n, payload(n)))
        conn.execute("UPDATE counter SET n = ?", (n,))
        conn.execute("COMMIT")
        print(f"ack {n}", flush=True)
    conn.close()


if __name__ == "__main__":
    try:
        main()
    except sqlite3.Error as err:
        print(f"sqlite error: {err}", file=sys.stderr)
        sys.exit(1)
