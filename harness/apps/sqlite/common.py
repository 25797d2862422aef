"""What the SQLite workload, its setup and its checker share: the schema, the payload, the pragmas."""
import sqlite3

# Rows whose payload spans several 4 KiB pages, so a transaction touches more than one page.
PAYLOAD_BYTES = 6000


def payload(n):
    """The payload of row n: its number repeated, so a wrong or torn row is visible."""
    unit = f"row {n};".encode()
    return (unit * (PAYLOAD_BYTES // len(unit) + 1))[:PAYLOAD_BYTES].decode()


def open_db(path, journal, sync):
    """Opens `path` in autocommit mode (transactions are explicit) with the given pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    if journal == "wal":
        # Before WAL is entered: the wal-index stays in heap memory, no `-shm` mmap.
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    mode = conn.execute(f"PRAGMA journal_mode={journal.upper()}").fetchone()[0]
    if mode != journal:
        raise sqlite3.Error(f"journal_mode {journal} refused (got {mode})")
    conn.execute(f"PRAGMA synchronous={sync.upper()}")
    conn.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS counter(n INTEGER NOT NULL)")
    if conn.execute("SELECT count(*) FROM counter").fetchone()[0] == 0:
        conn.execute("INSERT INTO counter(n) VALUES (0)")
    return conn
