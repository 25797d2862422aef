"""Publishes three generations of the target (`rec 1` .. `rec N`), each written to a temp file,
fsynced and renamed over the target, printing `ack N` after the rename. `--ack-early` prints it
before the rename: a crash between the two acknowledges a record the target does not hold.
`--once` publishes generation 1 only."""

import os
import sys

target = sys.argv[1]
early = "--ack-early" in sys.argv
tmp = target + ".tmp"
for n in range(1, 2 if "--once" in sys.argv else 4):
    with open(tmp, "w") as f:
        f.write("".join(f"rec {k}\n" for k in range(1, n + 1)))
        f.flush()
        os.fsync(f.fileno())
    if early:
        print(f"ack {n}", flush=True)
    os.rename(tmp, target)
    if not early:
        print(f"ack {n}", flush=True)
