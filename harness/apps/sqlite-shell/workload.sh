#!/bin/sh
# The sqlite3 command-line shell running txn.sql (one transaction of two inserts) on DB, the
# statements read from standard input as a script or a pipe feeds them.
# Usage: workload.sh DB [-bail]
# Without -bail the shell goes on after a failed statement: when the first INSERT fails (ENOSPC
# or EIO on the journal), SQLite rolls the transaction back, the second INSERT then commits on
# its own (autocommit) and COMMIT fails with "no transaction is active": half a transaction is
# published. With -bail the shell stops at the first error and the database keeps its old state.
db="$1"
shift
exec sqlite3 "$@" "$db" < "$(dirname "$0")/txn.sql"
