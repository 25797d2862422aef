#!/usr/bin/env python3
"""LevelDB workload (through plyvel): synchronous puts of the next keys, `ack N` after each.

Usage: workload.py DB [PUTS]     (DB prepared by setup.py)

`put(..., sync=True)` returned means LevelDB wrote the record to its log and fsynced it: the key
must survive a power cut. The values are large enough that the memtable is flushed to a new
table file during the run.
"""
import sys

from common import key, open_db, value

path = sys.argv[1]
puts = int(sys.argv[2]) if len(sys.argv) > 2 else 6
db = open_db(path)
first = sum(1 for _ in db.iterator(include_value=False)) + 1
for n in range(first, first + puts):
    db.put(key(n), value(n), sync=True)
    print(f"ack {n}", flush=True)
db.close()
