"""The everyday bug: open(path, "w") and json.dump straight into the target. A full disk
(ENOSPC) in the middle leaves a truncated, torn target behind."""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(400)]
with open(target, "w") as f:
    json.dump({"generation": generation, "records": records}, f, indent=1)
