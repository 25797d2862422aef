"""Writes a temp file through a shared writable mmap, then os.replace()s it over the target.
Atomic under SIGKILL, but its bytes go through memory the tracer cannot see, so torture must
say so instead of passing it silently."""
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
        m.flush()
os.replace(temp, target)
