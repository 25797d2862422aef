"""What the LevelDB workload, setup and checker share: options, keys and values."""
import plyvel

# A small memtable, so a few puts already flush it to a table file (new .ldb, new log, MANIFEST
# edit): the file-creation paths ALICE found LevelDB's bugs in.
WRITE_BUFFER_BYTES = 16 * 1024
VALUE_BYTES = 4000


def key(n):
    return b"key%06d" % n


def value(n):
    unit = b"value %d;" % n
    return (unit * (VALUE_BYTES // len(unit) + 1))[:VALUE_BYTES]


def open_db(path):
    return plyvel.DB(
        path,
        create_if_missing=True,
        paranoid_checks=True,
        write_buffer_size=WRITE_BUFFER_BYTES,
    )
