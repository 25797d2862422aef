#!/usr/bin/env python3
"""LMDB workload (Python `lmdb`): write transactions of one put each, `ack N` after each commit.

Usage: workload.py DB [TXNS]     (DB prepared by setup.py)
"""
import sys

from common import key, open_env, value

env = open_env(sys.argv[1])
txns = int(sys.argv[2]) if len(sys.argv) > 2 else 3
first = env.stat()["entries"] + 1
for n in range(first, first + txns):
    with env.begin(write=True) as txn:
        txn.put(key(n), value(n))
    print(f"ack {n}", flush=True)
env.close()
