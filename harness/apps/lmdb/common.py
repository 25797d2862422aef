"""What the LMDB workload, setup and checker share: how the environment is opened, keys, values."""
import lmdb

VALUE_BYTES = 3000


def key(n):
    return b"key%06d" % n


def value(n):
    unit = b"value %d;" % n
    return (unit * (VALUE_BYTES // len(unit) + 1))[:VALUE_BYTES]


def open_env(path):
    """One file (`subdir=False`), no lock file (`lock=False`): the lock file is a shared writable
    mmap, which a syscall tracer cannot see, and one process needs no lock. Writes go through
    write(), not a writable mmap (`writemap=False`, LMDB's default); `sync=True` (the default):
    a commit returns after the data pages and then the meta page are fsynced."""
    return lmdb.open(path, subdir=False, lock=False, map_size=4 << 20, writemap=False, sync=True)
