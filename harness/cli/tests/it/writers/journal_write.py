"""Rewrites the target in place under a rollback journal, the way SQLite's DELETE mode does.

The old contents go to `<target>-journal` (fsynced, directory fsynced) before the target is
overwritten in place; the journal's unlink commits. The target alone is torn while the journal
is there, yet a reader that rolls the journal back always sees the old or the new version.
`--no-dir-fsync` skips the directory fsync after the unlink (SQLite's `synchronous=FULL`).
"""

import json
import os
import sys

target = sys.argv[1]
dir_fsync = "--no-dir-fsync" not in sys.argv
journal = target + "-journal"
directory = os.path.dirname(os.path.abspath(target))


def fsync_dir():
    fd = os.open(directory, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


generation = int(os.environ.get("TORTURE_GENERATION", "2"))
new = json.dumps({"generation": generation, "rows": [generation * 7 + i for i in range(3000)]}).encode()
if os.path.exists(target):
    with open(target, "rb") as f:
        old = f.read()
    with open(journal, "wb") as f:
        f.write(old + b"\nEND\n")
        f.flush()
        os.fsync(f.fileno())
    fsync_dir()
fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, new)
os.ftruncate(fd, len(new))
os.fsync(fd)
os.close(fd)
if os.path.exists(journal):
    os.unlink(journal)
    if dir_fsync:
        fsync_dir()
print("committed", flush=True)
