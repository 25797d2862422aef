#!/usr/bin/env python3
"""SQLite setup: the prepared starting state, a database holding transaction 1, durable.

Usage: setup.py DB --journal delete|wal

Run as `torture power --setup`: the tree it leaves is the initial state of every crash state,
so the workload's transactions start at 2 on an existing database (as an application's would).
"""
import argparse
import os

from common import open_db, payload


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--journal", choices=["delete", "wal"], required=True)
    args = ap.parse_args()
    conn = open_db(args.db, args.journal, "full")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t(id, payload) VALUES (1, ?)", (payload(1),))
    conn.execute("UPDATE counter SET n = 1")
    conn.execute("COMMIT")
    conn.close()
    # The starting state must be on disk whole: the database and the directory's entries.
    fd = os.open(os.path.dirname(os.path.abspath(args.db)), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


if __name__ == "__main__":
    main()
