"""The durable replace done right: temp file in the target's directory, fsync, os.replace, fsync
of the directory. Any OSError ends the run with a traceback (exit 1) before the rename."""
import json
import os
import sys
import tempfile

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(400)]
directory = os.path.dirname(target)
fd, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
with os.fdopen(fd, "w") as f:
    json.dump({"generation": generation, "records": records}, f, indent=1)
    f.flush()
    os.fsync(f.fileno())
os.replace(temp, target)
dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
try:
    os.fsync(dir_fd)
finally:
    os.close(dir_fd)
