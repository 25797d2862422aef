"""Writes a temp file through a shared writable mmap and never calls msync (mmap.flush), then
os.replace()s it over the target. Its stores are never seen by the tracer: torture must say it
cannot judge this writer instead of passing it."""
import mmap
import os
import sys

target = sys.argv[1]
generation = os.environ.get("TORTURE_GENERATION", "1")
data = ('{"generation": %s, "padding": "%s"}' % (generation, "x" * 4000)).encode()
temp = target + ".tmp"
with open(temp, "w+b") as f:
    f.truncate(len(data))
    with mmap.mmap(f.fileno(), len(data)) as m:
        m[:] = data
os.replace(temp, target)
