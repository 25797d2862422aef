#!/usr/bin/env python3
"""A pipeline step with the classic bug: open(path, "w") truncates the report, then writes it in place.

torture catches it: a crash mid-write leaves a torn report such as {"records": [{"id": 3, "name": "Char
    torture kill --initial old --trials 500 --seed 1 -- python3 harness/writers/write_report_plain.py {target}
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(300)]
with open(target, "w") as report:
    json.dump({"generation": generation, "records": records}, report, indent=1)
print("done")
