"""Updates its target in place through a shared mapping (Python's stdlib mmap), flushing
(msync) after every 4 KiB page: a crash between two flushes leaves part old, part new."""
import mmap
import os
import sys

target = sys.argv[1]
generation = os.environ.get("TORTURE_GENERATION", "1")
data = ('{"generation": %s, "padding": "%s"}' % (generation, generation * 16000)).encode()
with open(target, "a+b") as f:
    f.truncate(len(data))
    with mmap.mmap(f.fileno(), len(data)) as m:
        for start in range(0, len(data), 4096):
            m[start:start + 4096] = data[start:start + 4096]
            m.flush(start, min(4096, len(data) - start))
print("done")
