"""PostgreSQL's pre-2018 mistake ("fsyncgate"): when fsync fails, retry it; once it returns 0,
rename and report success. After a failed fsync Linux may have dropped the dirty pages, so the
retry succeeds with the data gone and a power cut can leave the published file without it."""
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
    for attempt in range(3):
        try:
            os.fsync(f.fileno())
            break
        except OSError as error:
            print(f"fsync failed ({error}), retrying", file=sys.stderr)
os.replace(temp, target)
dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
try:
    os.fsync(dir_fd)
finally:
    os.close(dir_fd)
