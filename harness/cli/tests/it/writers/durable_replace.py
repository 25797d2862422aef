"""Temp file + os.replace, with as much durability as the first argument asks for:

  none       no fsync at all (survives SIGKILL, not a power cut)
  file       fsync of the temp file, not of the directory (the rename can be lost)
  both       fsync of the temp file, rename, fsync of the directory (durable)
  done-early like `both`, but prints "done" before the directory fsync (acknowledges too soon)
  renamed    fsync of the temp file, rename, fsync of the renamed file, never of the directory
             (ext4, xfs and btrfs persist the new name with it; POSIX does not promise it)
"""
import json
import os
import sys
import tempfile

mode, target = sys.argv[1], sys.argv[2]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(100)]
text = json.dumps({"generation": generation, "records": records}, indent=1)
directory = os.path.dirname(target)
fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
with os.fdopen(fd, "w") as f:
    f.write(text)
    f.flush()
    if mode != "none":
        os.fsync(f.fileno())
os.replace(temp, target)
if mode == "done-early":
    print("done", flush=True)
if mode == "renamed":
    renamed_fd = os.open(target, os.O_RDONLY)
    os.fsync(renamed_fd)
    os.close(renamed_fd)
if mode in ("both", "done-early"):
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dir_fd)
    os.close(dir_fd)
