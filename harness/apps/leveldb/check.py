#!/usr/bin/env python3
"""LevelDB checker (ALICE-style): does the crashed database open, and does it hold what was acked?

Usage: check.py DB STDOUT    (as `--check 'python3 check.py {dir}/db {stdout}'`)

Exit 0: fine. Exit 1: a violation, named on the first line:
  "database does not open: ..."   DB::Open with paranoid_checks fails (a missing or torn
                                  MANIFEST, CURRENT or table file);
  "key N wrong: ..."              a value fails its checksum or differs from what was put;
  "keys not a prefix: ..."        a later put survived without an earlier one (puts are ordered);
  "acknowledged put N lost: ..."  a synchronous put that had returned is missing.
"""
import re
import sys

import plyvel

from common import key, open_db, value


def check(path, acks):
    try:
        db = open_db(path)
    except plyvel.Error as err:
        return f"database does not open: {err}"
    try:
        present = []
        for k, v in db.iterator(verify_checksums=True):
            n = int(k[3:])
            if v != value(n) or k != key(n):
                return f"key {n} wrong: value differs from the one put"
            present.append(n)
    except plyvel.Error as err:
        return f"database unreadable: {err}"
    finally:
        db.close()
    if present != list(range(1, len(present) + 1)):
        return f"keys not a prefix: {present}"
    lost = [n for n in acks if n > len(present)]
    if lost:
        return f"acknowledged put {lost[0]} lost: the database holds keys 1..{len(present)}"
    return None


def main():
    db_path, stdout_path = sys.argv[1], sys.argv[2]
    with open(stdout_path, encoding="utf-8", errors="replace") as f:
        acks = [int(m.group(1)) for m in re.finditer(r"^ack (\d+)$", f.read(), re.M)]
    problem = check(db_path, acks)
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
