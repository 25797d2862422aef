"""The ``torture`` pytest fixture (registered by the intact-io wheel through ``pytest11``).

.. code-block:: python

    def test_report_is_crash_safe(torture):
        result = torture.power(write_report, "{target}")   # or .kill / .errors / .race
        assert result.ok, result

``write_report`` is any function importable by its module and name (it is run in a new
Python process through ``python -c``, with the command's arguments: ``{target}`` becomes the
target's path), or a command line (a string or a list of words). Keyword arguments are
``torture`` options: ``trials=200`` is ``--trials 200``, ``no_clobber=True`` is
``--no-clobber``, ``expect="caught"`` is ``--expect caught``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Dict

import pytest

from ._torture import Subject, TortureResult, run

#: ``--trials`` for ``kill`` unless given: a Python writer starts slowly, and the harness's own
#: default (1000) is for its built-in writers.
DEFAULT_KILL_TRIALS = 100


class Torture:
    """Runs the ``torture`` harness this package installed on a writer."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._counter = itertools.count(1)

    def _run(self, command: str, subject: Subject, args: Any, options: Dict[str, Any]) -> TortureResult:
        options.setdefault("seed", os.environ.get("TORTURE_SEED", "1"))
        report_dir = self._workdir / f"{next(self._counter):02d}-{command}"
        return run(command, subject, args, options, report_dir)

    def kill(self, subject: Subject, *args: str, **options: Any) -> TortureResult:
        """SIGKILL the writer at sampled byte offsets and syscall boundaries."""
        options.setdefault("trials", DEFAULT_KILL_TRIALS)
        return self._run("kill", subject, args, options)

    def power(self, subject: Subject, *args: str, **options: Any) -> TortureResult:
        """Every state a power cut could leave, under the ``linux`` persistence model."""
        return self._run("power", subject, args, options)

    def errors(self, subject: Subject, *args: str, **options: Any) -> TortureResult:
        """Fail one call per run (EIO, ENOSPC, EINTR, short writes, fsyncgate)."""
        return self._run("errors", subject, args, options)

    def race(self, subject: Subject, *args: str, **options: Any) -> TortureResult:
        """Several instances at once, interleaved syscall by syscall."""
        return self._run("race", subject, args, options)


@pytest.fixture
def torture(tmp_path_factory: pytest.TempPathFactory) -> Torture:
    """A ``Torture`` whose reports go to a fresh temporary directory."""
    return Torture(tmp_path_factory.mktemp("torture"))
