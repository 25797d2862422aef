"""`--check` for the SQLite writers: opens the database as a reader would (which rolls back a hot
journal left by a crash), then passes only if PRAGMA integrity_check is ok and the rows are one
complete generation: 400 rows, all of the same generation."""
import sqlite3
import sys

path = sys.argv[1]
try:
    db = sqlite3.connect(path)
    if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        sys.exit(1)
    rows = db.execute("SELECT count(*), count(DISTINCT generation) FROM records").fetchone()
    sys.exit(0 if rows == (400, 1) else 1)
except sqlite3.DatabaseError:
    sys.exit(1)
