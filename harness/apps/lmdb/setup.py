#!/usr/bin/env python3
"""LMDB setup: the prepared starting state, an environment holding keys 1..2, durable.

Usage: setup.py DB      (as `torture power --setup`)
"""
import os
import sys

from common import key, open_env, value

env = open_env(sys.argv[1])
for n in (1, 2):
    with env.begin(write=True) as txn:
        txn.put(key(n), value(n))
env.close()
os.sync()
