#!/usr/bin/env python3
"""A pipeline step that publishes a directory of partitions and a `_SUCCESS` marker.

Usage: write_partitions.py [--fsync] MARKER
MARKER is the marker's path (`{target}` under `torture --marker out/_SUCCESS`); the partitions
`part-1.csv` to `part-3.csv` go beside it, in a directory this step creates.

Without --fsync it writes the three partitions, then creates the marker, and never fsyncs: after a
power cut the marker can survive while a partition it vouches for is empty or gone. torture
catches it:
    torture power --initial absent --target 'out/part-*.csv' --marker out/_SUCCESS \\
        -- python3 harness/writers/write_partitions.py {target}
With --fsync it fsyncs each partition and the directory before it creates the marker, and the
directory again after it (exiting 0 says the output is published), and passes.
"""
import os
import sys

careful = "--fsync" in sys.argv[1:]
paths = [a for a in sys.argv[1:] if a != "--fsync"]
marker = paths[0] if paths else os.environ["TORTURE_TARGET"]
directory = os.path.dirname(os.path.abspath(marker))
generation = int(os.environ.get("TORTURE_GENERATION", "1"))


def fsync_directory():
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


os.makedirs(directory, exist_ok=True)
for part in range(1, 4):
    rows = "".join(f"{part},{row},{generation}\n" for row in range(200))
    with open(os.path.join(directory, f"part-{part}.csv"), "w") as out:
        out.write("partition,row,generation\n" + rows)
        if careful:
            out.flush()
            os.fsync(out.fileno())
if careful:
    fsync_directory()
with open(marker, "w"):
    pass
if careful:
    fsync_directory()
