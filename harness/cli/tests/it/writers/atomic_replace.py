"""The same writer done right: write a temp file in the target's directory, then os.replace it."""
import json
import os
import sys
import tempfile

target = sys.argv[1] if len(sys.argv) > 1 else os.environ["TORTURE_TARGET"]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{generation}-{i}"} for i in range(200)]
text = json.dumps({"generation": generation, "records": records}, indent=1)
fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-")
with os.fdopen(fd, "w") as f:
    step = len(text) // 4 + 1
    for start in range(0, len(text), step):
        f.write(text[start:start + step])
        f.flush()
os.replace(temp, target)
