#!/usr/bin/env python3
"""The same pipeline step done right: the atomic-replace protocol, step by step.

1. write a temp file in the report's own directory (a rename never crosses file systems);
2. fsync it, so its bytes are on disk before any name points at them;
3. os.replace it over the report: readers see the old or the new report, never a mix;
4. fsync the directory, so the rename itself survives a power cut.
Only then does it say "done". torture passes it under SIGKILL and under a power cut:
    torture kill --initial old --trials 500 --seed 1 -- python3 harness/writers/write_report_atomic.py {target}
"""
import json
import os
import sys
import tempfile

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(300)]
directory = os.path.dirname(os.path.abspath(target))
fd, temp = tempfile.mkstemp(dir=directory, prefix=".report-", suffix=".tmp")
try:
    with os.fdopen(fd, "w") as report:
        json.dump({"generation": generation, "records": records}, report, indent=1)
        report.flush()
        os.fsync(report.fileno())
    os.replace(temp, target)
except BaseException:
    os.unlink(temp)
    raise
dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
try:
    os.fsync(dir_fd)
finally:
    os.close(dir_fd)
print("done")
