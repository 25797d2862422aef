"""``intact_io.open``: a real ``io`` object whose content is published only on commit."""

from __future__ import annotations

import io
import os
from typing import Any, Literal, Optional, Union, overload

from . import _intact

PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_MODES = {"w": False, "wt": False, "wb": True, "x": False, "xt": False, "xb": True}
_DURABILITIES = ("full", "data", "none")


class _TempRaw(io.RawIOBase):
    """The unbuffered layer: every write goes to the Rust writer (GIL released there).

    Closing it commits when the buffered layer above asked for that, else discards: a file
    closed by the garbage collector, or after an exception, never publishes.
    """

    def __init__(self, writer: _intact.Writer, name: str) -> None:
        super().__init__()
        self._writer = writer
        self.name = name
        self.commit_on_close = False
        self.discarded = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.discarded:
            return len(memoryview(data))
        chunk = data if isinstance(data, bytes) else bytes(data)
        return self._writer.write(chunk)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.commit_on_close and not self.discarded:
                self._writer.commit()
            else:
                self._writer.discard()
        finally:
            super().close()

    def discard(self) -> None:
        self.discarded = True


class _Atomic:
    """What the binary and text files share: commit on close, discard on error."""

    _temp: _TempRaw

    def commit(self) -> None:
        """Flushes, then publishes the file (``close`` does the same)."""
        self.close()

    def close(self) -> None:
        if self.closed:  # type: ignore[attr-defined]
            return
        try:
            self.flush()  # type: ignore[attr-defined]
        except BaseException:
            self.discard()
            raise
        self._temp.commit_on_close = True
        super().close()  # type: ignore[misc]

    def discard(self) -> None:
        """Drops everything written; the target stays as it was and no temp file is left."""
        if self.closed:  # type: ignore[attr-defined]
            return
        self._temp.discard()
        super().close()  # type: ignore[misc]

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()

    def __del__(self) -> None:
        # Never publish from the garbage collector: an unclosed file is one whose writer
        # did not reach its end. (No _temp: __init__ failed, and the raw file discards itself.)
        if getattr(self, "_temp", None) is not None:
            self.discard()


class AtomicBinaryFile(_Atomic, io.BufferedWriter):
    """``intact_io.open(path, "wb")``: a ``BufferedWriter`` that publishes on ``close``."""

    def __init__(self, temp: _TempRaw, buffer_size: int) -> None:
        super().__init__(temp, buffer_size)
        self._temp = temp


class AtomicTextFile(_Atomic, io.TextIOWrapper):
    """``intact_io.open(path, "w")``: a ``TextIOWrapper`` that publishes on ``close``."""

    def __init__(
        self,
        temp: _TempRaw,
        buffer_size: int,
        encoding: Optional[str],
        errors: Optional[str],
        newline: Optional[str],
    ) -> None:
        super().__init__(
            io.BufferedWriter(temp, buffer_size),
            encoding=encoding,
            errors=errors,
            newline=newline,
        )
        self._temp = temp


def check_durability(durability: str) -> str:
    if durability not in _DURABILITIES:
        raise ValueError(f"durability must be one of {_DURABILITIES}, not {durability!r}")
    return durability


TextMode = Literal["w", "wt", "x", "xt"]
BinaryMode = Literal["wb", "xb"]


@overload
def open(
    file: PathArg,
    mode: TextMode = ...,
    *,
    durability: str = ...,
    encoding: Optional[str] = ...,
    errors: Optional[str] = ...,
    newline: Optional[str] = ...,
    buffering: int = ...,
    overwrite: bool = ...,
    preserve_mode: bool = ...,
    follow_symlinks: bool = ...,
) -> AtomicTextFile: ...


@overload
def open(
    file: PathArg,
    mode: BinaryMode,
    *,
    durability: str = ...,
    encoding: None = ...,
    errors: None = ...,
    newline: None = ...,
    buffering: int = ...,
    overwrite: bool = ...,
    preserve_mode: bool = ...,
    follow_symlinks: bool = ...,
) -> AtomicBinaryFile: ...


def open(  # noqa: A001 (the point is to read like the builtin)
    file: PathArg,
    mode: str = "w",
    *,
    durability: str = "full",
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
    newline: Optional[str] = None,
    buffering: int = -1,
    overwrite: bool = True,
    preserve_mode: bool = True,
    follow_symlinks: bool = True,
) -> Union[AtomicTextFile, AtomicBinaryFile]:
    """Opens a temp file that replaces ``file`` atomically when closed without error.

    Use it as a context manager: a clean exit commits (the target then holds the complete new
    content, durably with ``durability="full"``); an exception discards (the target is
    untouched, no temp file is left). ``"x"`` modes, or ``overwrite=False``, publish only if
    nothing is at the target (of racing writers exactly one wins; the others get
    ``AlreadyExistsError``, a ``FileExistsError``).
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, not {mode!r}")
    binary = _MODES[mode]
    if binary and (encoding is not None or errors is not None or newline is not None):
        raise ValueError("binary mode takes no encoding, errors or newline")
    path = os.fsdecode(os.fspath(file))
    no_clobber = mode.startswith("x") or not overwrite
    writer = _intact.Writer(
        path, check_durability(durability), no_clobber, preserve_mode, follow_symlinks
    )
    temp = _TempRaw(writer, path)
    size = buffering if buffering > 1 else io.DEFAULT_BUFFER_SIZE
    if binary:
        return AtomicBinaryFile(temp, size)
    if encoding is None:
        encoding = "utf-8"
    return AtomicTextFile(temp, size, encoding, errors, newline)
