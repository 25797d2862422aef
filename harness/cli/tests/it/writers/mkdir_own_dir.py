"""Makes its own output directory and fails if it already exists, as `hg init` does: a harness
that pre-creates a nested target's parents breaks it."""
import os
import sys

target = sys.argv[1]
os.mkdir(os.path.dirname(target))
with open(target, "w") as out:
    out.write('{"made": "its own directory"}')
