#!/usr/bin/env python3
"""LMDB checker (ALICE-style): does the crashed environment open, and does it hold what was acked?

Usage: check.py DB STDOUT    (as `--check 'python3 check.py {dir}/data.mdb {stdout}'`)

Exit 0: fine. Exit 1: a violation, named on the first line: "environment does not open",
"key N wrong", "keys not a prefix" (a later commit without an earlier one) or
"acknowledged transaction N lost".
"""
import re
import sys

import lmdb

from common import key, open_env, value


def check(path, acks):
    try:
        env = open_env(path)
    except lmdb.Error as err:
        return f"environment does not open: {err}"
    try:
        with env.begin() as txn:
            present = []
            for k, v in txn.cursor():
                n = int(k[3:])
                if k != key(n) or v != value(n):
                    return f"key {n} wrong: value differs from the one put"
                present.append(n)
    except lmdb.Error as err:
        return f"environment unreadable: {err}"
    finally:
        env.close()
    if present != list(range(1, len(present) + 1)):
        return f"keys not a prefix: {present}"
    lost = [n for n in acks if n > len(present)]
    if lost:
        return f"acknowledged transaction {lost[0]} lost: the environment holds keys 1..{len(present)}"
    return None


def main():
    with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
        acks = [int(m.group(1)) for m in re.finditer(r"^ack (\d+)$", f.read(), re.M)]
    problem = check(sys.argv[1], acks)
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
