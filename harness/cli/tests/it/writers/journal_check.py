"""Checks a crash tree of journal_write.py as a reader would: a complete journal is rolled back
first (its bytes before the END line become the target), then the target must be JSON; after
the acknowledgement ("committed" in the stdout file) it must be the new generation.

Usage: journal_check.py TARGET STDOUT
"""

import json
import os
import sys

target, stdout = sys.argv[1], sys.argv[2]
journal = target + "-journal"
if os.path.exists(journal):
    with open(journal, "rb") as f:
        saved = f.read()
    if saved.endswith(b"\nEND\n"):
        with open(target, "wb") as f:
            f.write(saved[: -len(b"\nEND\n")])
    os.unlink(journal)
try:
    with open(target, "rb") as f:
        document = json.loads(f.read())
except (OSError, ValueError) as error:
    print(f"the database is unreadable after rollback: {error.__class__.__name__}")
    sys.exit(1)
with open(stdout) as f:
    acked = "committed" in f.read().split("\n")
if acked and document.get("generation") != 2:
    print(f"acknowledged commit rolled back: generation {document.get('generation')} is back")
    sys.exit(1)
