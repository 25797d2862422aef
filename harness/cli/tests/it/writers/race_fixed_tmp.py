"""The founding story's second attempt: a temp file and a rename, but one fixed `.tmp` name.

Run alone it is atomic; two runs at once share `<target>.tmp`: one truncates the file the other
is writing, or renames it away under the other's feet. The cleanup in `except` then hides the
failure from nobody: the run that lost its temp file raises, or worse, exits 0 with its output lost.
"""
import json
import os
import sys

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
records = [{"id": i, "generation": generation, "name": f"record-{i}"} for i in range(120)]
data = json.dumps({"generation": generation, "records": records})
tmp = target + ".tmp"
try:
    with open(tmp, "w") as f:
        for start in range(0, len(data), 2048):
            f.write(data[start : start + 2048])
            f.flush()
    os.rename(tmp, target)
except Exception:
    try:
        os.unlink(tmp)
    except OSError:
        pass
    raise
