"""The exceptions of intact_io: each is an ``OSError`` with ``errno`` and ``filename``."""

from __future__ import annotations

import errno as _errno
import os
from typing import Optional, Sequence, Union


class IntactError(OSError):
    """A write, commit, batch or sweep failed.

    ``published`` is False: the target is exactly as it was before the call (no temp file
    is left behind). Only ``PublishedNotDurableError`` says otherwise.
    """

    published: bool = False


class PublishedNotDurableError(IntactError):
    """The new content is in place under the target's name (every process sees it), but the
    ``fsync`` of its directory failed: whether it survives a power cut is unknown.

    ``published`` is True. Writing the file again, or syncing its directory, is the retry.
    """

    published = True


class AlreadyExistsError(IntactError, FileExistsError):
    """``"x"`` mode (or ``overwrite=False``): the target already exists; it is untouched."""


class NotFoundError(IntactError, FileNotFoundError):
    """The target's directory (or a symlink's destination) does not exist."""


class PermissionDeniedError(IntactError, PermissionError):
    """The directory is not writable (or a kept owner or mode was not permitted)."""


class BatchError(IntactError):
    """Some files of a ``Batch`` were not committed.

    ``committed`` lists the targets that have their new content (durably, per the batch's
    durability); ``failures`` holds one ``IntactError`` per target that does not (a
    ``PublishedNotDurableError`` for one whose directory ``fsync`` failed).
    """

    committed: list[str]
    failures: list[IntactError]


_BY_ERRNO = {
    _errno.EEXIST: AlreadyExistsError,
    _errno.ENOENT: NotFoundError,
    _errno.EACCES: PermissionDeniedError,
    _errno.EPERM: PermissionDeniedError,
}

PathArg = Union[str, "os.PathLike[str]"]


def from_failure(
    errno: Optional[int], message: str, path: PathArg, published: bool
) -> IntactError:
    """The exception for one failure reported by the Rust extension."""
    if published:
        cls: type[IntactError] = PublishedNotDurableError
    else:
        cls = _BY_ERRNO.get(errno, IntactError) if errno is not None else IntactError
    return cls(errno, message, os.fspath(path))


def from_batch_failures(
    committed: Sequence[PathArg], failures: Sequence[IntactError]
) -> BatchError:
    """The exception for a batch commit that did not publish every file."""
    first = failures[0] if failures else None
    targets = ", ".join(str(failure.filename) for failure in failures)
    error = BatchError(
        first.errno if first is not None else None,
        f"{len(failures)} file(s) of the batch not committed: {targets}",
    )
    error.committed = [os.fspath(path) for path in committed]
    error.failures = list(failures)
    return error
