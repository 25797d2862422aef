"""The "already exists, skip" trap: a pipeline step that treats an existing output as done.
A crash that leaves a torn target makes every later run skip, so the torn file stays forever."""
import os
import sys

target = sys.argv[1]
if os.path.exists(target):
    sys.exit(0)
generation = os.environ.get("TORTURE_GENERATION", "1")
with open(target, "w") as f:
    for i in range(50):
        f.write(f'{{"line": {i}, "generation": {generation}}}\n')
        f.flush()
