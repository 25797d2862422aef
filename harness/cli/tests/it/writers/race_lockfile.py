"""Git's lockfile pattern: create `<target>.lock` with O_CREAT|O_EXCL, write the new version into
it, rename it over the target. A second run that finds the lock says so and exits 255 without
touching the target; that is a clean refusal, not a lost update."""
import json
import os
import sys

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation} for i in range(60)]
data = json.dumps({"generation": generation, "records": records}).encode()
lock = target + ".lock"
try:
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
except FileExistsError:
    sys.stderr.write(f"fatal: Unable to create '{lock}': File exists.\n")
    sys.exit(255)
try:
    os.write(fd, data)
    os.fsync(fd)
finally:
    os.close(fd)
os.rename(lock, target)
