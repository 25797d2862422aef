"""A target written right (a unique temp file, then `os.replace`) and an index beside it,
`<target>.idx`, written in two writes. With `unique` the index gets its own unique temp file
too; with `fixed` it goes through one fixed name, `<target>.idx.tmp`: two runs at once truncate
and write the same temp file, and a torn index is renamed into place. The run that finds its
temp file renamed away ignores that, so every run exits 0 and the target is always whole: only
a check of the whole tree (`race_index_check.py`) sees the torn index."""
import json
import os
import sys
import tempfile


def replace_unique(path, parts):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        for part in parts:
            f.write(part)
            f.flush()
    os.replace(tmp, path)


def replace_fixed(path, parts):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for part in parts:
            f.write(part)
            f.flush()
    try:
        os.rename(tmp, path)
    except FileNotFoundError:
        pass  # the bug's cover-up: another run renamed "our" temp file


target, mode = sys.argv[1], sys.argv[2]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
data = json.dumps({"generation": generation, "records": list(range(200))})
replace_unique(target, [data[:300], data[300:]])
index = [f"index of generation {generation}\n", f"end of generation {generation}\n"]
{"unique": replace_unique, "fixed": replace_fixed}[mode](target + ".idx", index)
