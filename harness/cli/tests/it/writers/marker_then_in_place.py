"""Leaves a marker file beside the target, then writes the target in place: a crash leaves a
torn target and a leftover, so a `--check` with side effects has something to disturb."""
import json
import os
import sys

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
with open(target + ".started", "w") as marker:
    marker.write(str(generation))
text = json.dumps({"generation": generation, "records": list(range(2000))})
with open(target, "w") as f:
    step = len(text) // 4 + 1
    for start in range(0, len(text), step):
        f.write(text[start:start + step])
        f.flush()
os.unlink(target + ".started")
