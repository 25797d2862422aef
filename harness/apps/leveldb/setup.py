#!/usr/bin/env python3
"""LevelDB setup: the prepared starting state, a database holding keys 1..4 (synchronous puts).

Usage: setup.py DB      (as `torture power --setup`)
"""
import os
import sys

from common import key, open_db, value

INITIAL_KEYS = 4

db = open_db(sys.argv[1])
for n in range(1, INITIAL_KEYS + 1):
    db.put(key(n), value(n), sync=True)
db.close()
os.sync()  # the starting state is on disk whole, directory entries included
