"""The same step with the journal turned off (journal_mode=OFF): SQLite then writes the database
file in place, page by page, and a crash in the middle leaves a mix of old and new pages."""
import os
import sqlite3
import sys

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
db = sqlite3.connect(target, isolation_level=None)
db.execute("PRAGMA journal_mode=OFF")
db.execute("PRAGMA cache_size=1")
db.execute("CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, generation INTEGER, name TEXT)")
db.execute("BEGIN")
db.execute("DELETE FROM records")
db.executemany(
    "INSERT INTO records VALUES (?, ?, ?)",
    ((i, generation, f"record-{generation}-{i}-" + "x" * 200) for i in range(400)),
)
db.execute("COMMIT")
db.close()
print("done")
