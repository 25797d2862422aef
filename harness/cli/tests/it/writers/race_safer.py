"""`safer.open(..., temp_file=True)`: safer writes a temp file beside the target and
`os.replace`s it on a clean close. Exits 3 when safer is not installed (the test skips)."""
import json
import os
import sys

try:
    import safer
except ImportError:
    sys.exit(3)

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{i}"} for i in range(120)]
data = json.dumps({"generation": generation, "records": records})
with safer.open(target, "w", temp_file=True) as f:
    for start in range(0, len(data), 2048):
        f.write(data[start : start + 2048])
        f.flush()
