"""A pipeline step that keeps its output in SQLite and replaces every row in one transaction
(rollback journal, the default). SQLite's journal makes it atomic: a reader that opens the
database after a crash rolls the hot journal back and sees the old rows or the new ones."""
import os
import sqlite3
import sys

target = sys.argv[1]
generation = int(os.environ.get("TORTURE_GENERATION", "1"))
db = sqlite3.connect(target, isolation_level=None)
db.execute("PRAGMA journal_mode=DELETE")
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
