"""The fix: a unique temp name per run (`tempfile.mkstemp` in the target's directory), fsync,
then `os.replace` and an fsync of the directory. Runs at once never share a temp file; the last
replace wins."""
import json
import os
import sys
import tempfile

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{i}"} for i in range(120)]
data = json.dumps({"generation": generation, "records": records})
directory = os.path.dirname(os.path.abspath(target))
fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
try:
    with os.fdopen(fd, "w") as f:
        for start in range(0, len(data), 2048):
            f.write(data[start : start + 2048])
            f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
except Exception:
    try:
        os.unlink(tmp)
    except OSError:
        pass
    raise
dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
try:
    os.fsync(dir_fd)
finally:
    os.close(dir_fd)
