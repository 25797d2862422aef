"""Judges the whole tree `race_index.py` leaves (`{dir}`, the tree's copy): the target
($TORTURE_TARGET), when there, is whole JSON, and every index (`*.idx`), when there, names one
generation in both its lines."""
import json
import os
import sys

directory, target = sys.argv[1], os.environ["TORTURE_TARGET"]
if os.path.exists(target):
    with open(target) as f:
        try:
            json.load(f)
        except ValueError:
            print(f"{os.path.basename(target)} is not whole JSON")
            sys.exit(1)
for name in sorted(os.listdir(directory)):
    if not name.endswith(".idx"):
        continue
    with open(os.path.join(directory, name)) as f:
        lines = f.read().splitlines()
    generations = {line.rsplit(" ", 1)[-1] for line in lines}
    if len(lines) != 2 or len(generations) != 1:
        print(f"index torn: {' / '.join(lines)}")
        sys.exit(1)
