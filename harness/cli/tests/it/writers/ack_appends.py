"""Appends three records to the target, fsyncing each before printing `ack N` for it (after a
`begin` line that acknowledges nothing). `--no-fsync` acknowledges records never made durable."""

import os
import sys

target = sys.argv[1]
durable = "--no-fsync" not in sys.argv
print("begin", flush=True)
fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
if durable:
    directory = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    os.fsync(directory)
    os.close(directory)
for n in (1, 2, 3):
    os.write(fd, f"rec {n}\n".encode())
    if durable:
        os.fsync(fd)
    print(f"ack {n}", flush=True)
os.close(fd)
