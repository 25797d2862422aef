"""Crash-safe file writes: the target holds its old content or the complete new content, never
a torn file, whatever happens to the writer (SIGKILL, power cut, full disk).

>>> import intact_io, json
>>> with intact_io.open("report.json", "w") as f:  # doctest: +SKIP
...     json.dump({"rows": 3}, f)

A clean exit from the ``with`` block commits (durably: the new content survives a power cut
once it returns); an exception discards, and the target is untouched. Built on the ``intact``
Rust crate; see the package README for the protocol and the crash tests.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

from . import _intact
from ._errors import (
    AlreadyExistsError,
    BatchError,
    IntactError,
    NotFoundError,
    PermissionDeniedError,
    PublishedNotDurableError,
)
from ._file import AtomicBinaryFile, AtomicTextFile, PathArg, check_durability, open

__all__ = [
    "AlreadyExistsError",
    "AtomicBinaryFile",
    "AtomicTextFile",
    "Batch",
    "BatchError",
    "IntactError",
    "NotFoundError",
    "PermissionDeniedError",
    "PublishedNotDurableError",
    "SweepResult",
    "open",
    "sweep",
    "torture_path",
    "write_bytes",
    "write_json",
    "write_text",
]


def _settings(
    durability: str, overwrite: bool, preserve_mode: bool, follow_symlinks: bool
) -> Tuple[str, bool, bool, bool]:
    return (check_durability(durability), not overwrite, preserve_mode, follow_symlinks)


def write_bytes(
    path: PathArg,
    data: Union[bytes, bytearray, memoryview],
    *,
    durability: str = "full",
    overwrite: bool = True,
    preserve_mode: bool = True,
    follow_symlinks: bool = True,
) -> None:
    """Replaces (or creates) ``path`` with ``data``, atomically and (by default) durably."""
    # The hot path of small durable writes: no work beyond one call into Rust, which checks
    # `durability` itself (ValueError) and releases the GIL for the whole write.
    _intact.write_bytes(
        path if type(path) is str else os.fsdecode(os.fspath(path)),
        data if type(data) is bytes else bytes(data),
        durability,
        not overwrite,
        preserve_mode,
        follow_symlinks,
    )


def write_text(
    path: PathArg,
    text: str,
    *,
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: Optional[str] = None,
    durability: str = "full",
    overwrite: bool = True,
    preserve_mode: bool = True,
    follow_symlinks: bool = True,
) -> None:
    """``write_bytes`` of ``text`` encoded; ``newline`` translates ``"\\n"`` as ``open`` does."""
    if newline not in (None, "", "\n"):
        text = text.replace("\n", newline)
    elif newline is None and os.linesep != "\n":
        text = text.replace("\n", os.linesep)
    write_bytes(
        path,
        text.encode(encoding, errors),
        durability=durability,
        overwrite=overwrite,
        preserve_mode=preserve_mode,
        follow_symlinks=follow_symlinks,
    )


def write_json(
    path: PathArg,
    obj: Any,
    *,
    durability: str = "full",
    overwrite: bool = True,
    preserve_mode: bool = True,
    follow_symlinks: bool = True,
    **dumps_kwargs: Any,
) -> None:
    """``json.dumps(obj, **dumps_kwargs)`` written atomically (UTF-8)."""
    write_bytes(
        path,
        json.dumps(obj, **dumps_kwargs).encode("utf-8"),
        durability=durability,
        overwrite=overwrite,
        preserve_mode=preserve_mode,
        follow_symlinks=follow_symlinks,
    )


class SweepResult(NamedTuple):
    """What ``sweep`` removed (or would remove), and what it left alone."""

    removed: list
    """Temp files of dead writers removed (in a dry run: that would be removed)."""
    live: list
    """Temp files whose writer is still running (locked): never touched."""
    skipped: list
    """Temp-shaped names that are not regular files, or vanished meanwhile."""
    removed_bytes: int
    dry_run: bool


def sweep(dir: PathArg, dry_run: bool = False) -> SweepResult:  # noqa: A002
    """Removes the temp files that dead writers left in ``dir`` (a writer killed mid-write
    with a named temp file), never a live writer's. Safe beside running writers."""
    removed, live, skipped, removed_bytes = _intact.sweep(
        os.fsdecode(os.fspath(dir)), dry_run
    )
    return SweepResult(
        [os.fspath(p) for p in removed],
        [os.fspath(p) for p in live],
        [os.fspath(p) for p in skipped],
        removed_bytes,
        dry_run,
    )


class Batch:
    """Many files published together, each atomically (not atomic as a group), with one
    directory ``fsync`` per directory. As a context manager: commit on a clean exit, nothing
    written on an exception.

    >>> with intact_io.Batch() as batch:  # doctest: +SKIP
    ...     batch.add("part-1.csv", "id\\n1\\n")
    ...     batch.add("part-2.csv", b"id\\n2\\n")
    """

    def __init__(
        self,
        *,
        durability: str = "full",
        overwrite: bool = True,
        preserve_mode: bool = True,
        follow_symlinks: bool = True,
    ) -> None:
        settings = _settings(durability, overwrite, preserve_mode, follow_symlinks)
        self._batch = _intact.BatchWriter(*settings)
        self._count = 0

    def add(self, path: PathArg, data: Union[str, bytes], encoding: str = "utf-8") -> None:
        """Adds a file; its directory is checked now (``NotFoundError`` if missing)."""
        chunk = data.encode(encoding) if isinstance(data, str) else bytes(data)
        self._batch.add(os.fsdecode(os.fspath(path)), chunk)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def commit(self) -> None:
        """Publishes every file added; raises ``BatchError`` naming those that were not."""
        self._batch.commit()

    def discard(self) -> None:
        """Forgets every file added; nothing is written."""
        self._batch.discard()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def torture_path() -> str:
    """The ``torture`` program this package installed (next to this Python's scripts), or
    else the one on ``PATH``."""
    scripts = sysconfig.get_path("scripts")
    beside = os.path.join(scripts, "torture") if scripts else ""
    if beside and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("torture") or shutil.which(
        "torture", path=os.path.dirname(sys.executable)
    )
    if found is None:
        raise FileNotFoundError("torture: not installed beside this Python, nor on PATH")
    return found


for _exported in [globals()[_name] for _name in __all__]:
    if isinstance(_exported, type):  # shown as intact_io.X, not intact_io._errors.X
        _exported.__module__ = __name__
