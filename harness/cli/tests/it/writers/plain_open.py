"""A writer with the classic bug: open(path, "w") truncates the target, then writes it in place."""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(200)]
text = json.dumps({"generation": generation, "records": records}, indent=1)
with open(target, "w") as f:
    # A few separate writes, as real programs do when they stream output.
    step = len(text) // 4 + 1
    for start in range(0, len(text), step):
        f.write(text[start:start + step])
        f.flush()
