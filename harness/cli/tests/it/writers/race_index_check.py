"""Judges the whole tree `race_index.py` leaves (`{dir}` the tree): the target, when there, is whole JSON, and the
index, when there, names one generation in both its lines."""
import json
import os
import sys

target = os.path.join(sys.argv[1], os.environ["TORTURE_TARGET"])
name = os.path.basename(target)
if os.path.exists(target):
    with open(target) as f:
        try:
            json.load(f)
        except ValueError:
            print(f"{name} is not whole JSON")
            sys.exit(1)
if os.path.exists(target + ".idx"):
    with open(target + ".idx") as f:
        lines = f.read().splitlines()
    generations = {line.rsplit(" ", 1)[-1] for line in lines}
    if len(lines) != 2 or len(generations) != 1:
        print(f"index torn: {' / '.join(lines)}")
        sys.exit(1)
