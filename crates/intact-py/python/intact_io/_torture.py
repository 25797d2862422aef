"""Running the ``torture`` harness on a Python function or a command line, and reading its
verdict. Every assumption about the harness's output is in this file: the exit code is the
verdict; the diagnosis and the replay line come from the run's report directory
(``results.jsonl``), from ``--format json`` on stdout where the command offers it, and from
its text output as a last resort.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from . import torture_path

#: What each exit code of ``torture`` means.
VERDICTS = {0: "pass", 1: "violation", 2: "error", 3: "not-modelled", 130: "interrupted"}

Subject = Union[Callable[..., Any], str, Sequence[str]]


@dataclass
class TortureResult:
    """The outcome of one ``torture`` run.

    ``ok`` is True only for exit code 0: every subject as expected (with ``expect="caught"``,
    that means the violation was found). ``diagnosis`` explains the first violation (or the
    error), ``replay`` is the command that reproduces it, as ``torture`` printed it (it runs
    as printed wherever this package's ``torture`` is on ``PATH``, e.g. in the activated
    environment). ``records`` holds the harness's record of every trial (``results.jsonl``),
    ``findings`` those that show a violation, ``summaries`` the ``--format json`` lines.
    """

    command: List[str]
    exit_code: int
    diagnosis: str
    replay: Optional[str]
    findings: List[Dict[str, Any]] = field(default_factory=list)
    records: List[Dict[str, Any]] = field(default_factory=list)
    summaries: List[Dict[str, Any]] = field(default_factory=list)
    report_dir: Optional[Path] = None
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def verdict(self) -> str:
        return VERDICTS.get(self.exit_code, f"exit code {self.exit_code}")

    def __repr__(self) -> str:
        return f"<TortureResult {self}>"

    def __str__(self) -> str:
        lines = [f"torture: {self.verdict} (exit {self.exit_code})"]
        if self.diagnosis:
            lines.append(self.diagnosis)
        if self.replay:
            lines.append(f"replay: {self.replay}")
        return "\n".join(lines)


def function_argv(function: Callable[..., Any]) -> List[str]:
    """``python -c`` that imports ``function`` by module and qualified name and calls it
    with the command's arguments. The module's root directory is put on ``sys.path`` in the
    code itself, so the replay line runs as printed."""
    module_name = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module_name or module_name == "__main__" or "<" in qualname:
        raise ValueError(
            f"{function!r} is not importable by module and name: "
            "define it at the top level of an importable module"
        )
    module = sys.modules[module_name]
    root = _module_root(module_name, getattr(module, "__file__", None))
    code = (
        "import functools, importlib, sys; "
        + (f"sys.path.insert(0, {root!r}); " if root else "")
        + f"functools.reduce(getattr, {qualname!r}.split('.'), "
        + f"importlib.import_module({module_name!r}))(*sys.argv[1:])"
    )
    return [sys.executable, "-c", code]


def _module_root(module_name: str, file: Optional[str]) -> Optional[str]:
    if not file:
        return None
    path = Path(file).resolve()
    levels = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    root = path.parent
    for _ in range(levels):
        root = root.parent
    return str(root)


def subject_argv(subject: Subject, args: Iterable[str]) -> List[str]:
    if callable(subject):
        head = function_argv(subject)
    elif isinstance(subject, str):
        head = shlex.split(subject)
    else:
        head = [str(word) for word in subject]
    return head + [str(arg) for arg in args]


@functools.lru_cache(maxsize=None)
def offers_json(program: str, command: str) -> bool:
    """Whether ``torture COMMAND`` has ``--format json`` (not every command had it)."""
    done = subprocess.run(
        [program, command, "--help"], capture_output=True, text=True, check=False
    )
    _, found, rest = done.stdout.partition("--format")
    option_help = re.split(r"\n\s*-{1,2}[a-z]", rest, maxsplit=1)[0]
    return bool(found) and "json" in option_help


def option_words(options: Dict[str, Any]) -> List[str]:
    """``trials=50, no_clobber=True`` → ``--trials 50 --no-clobber``."""
    words: List[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is not None and value is not False:
            words += [flag, str(value)]
    return words


def run(
    command: str,
    subject: Subject,
    args: Sequence[str],
    options: Dict[str, Any],
    report_dir: Path,
) -> TortureResult:
    """Runs ``torture COMMAND [options] -- SUBJECT ARGS`` and reads its verdict."""
    program = torture_path()
    argv = [program, command, "--report-dir", str(report_dir)]
    if "format" not in options and offers_json(program, command):
        argv += ["--format", "json"]
    argv += option_words(options) + ["--"] + subject_argv(subject, args)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return read_result(argv, done.returncode, done.stdout, done.stderr, report_dir)


def read_result(
    argv: List[str], exit_code: int, stdout: str, stderr: str, report_dir: Path
) -> TortureResult:
    records = _report_records(report_dir)
    findings = [record for record in records if _is_finding(record)]
    summaries = _json_lines(stdout)
    diagnosis, replay = _first_explanation(findings, summaries)
    if not diagnosis and exit_code != 0:
        diagnosis = _text_diagnosis(stdout, stderr)
    if replay is None and exit_code != 0:
        replay = _text_replay(stdout + "\n" + stderr, report_dir)
    return TortureResult(
        command=argv,
        exit_code=exit_code,
        diagnosis=diagnosis,
        replay=replay,
        findings=findings,
        records=records,
        summaries=summaries,
        report_dir=report_dir,
        stdout=stdout,
        stderr=stderr,
    )


def _json_lines(text: str) -> List[Dict[str, Any]]:
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                found.append(value)
    return found


def _report_records(report_dir: Path) -> List[Dict[str, Any]]:
    if not report_dir.is_dir():
        return []
    records: List[Dict[str, Any]] = []
    for run_dir in sorted(p for p in report_dir.iterdir() if p.is_dir() and not p.is_symlink()):
        results = run_dir / "results.jsonl"
        if results.is_file():
            records += _json_lines(results.read_text(errors="replace"))
    return records


def _is_finding(record: Dict[str, Any]) -> bool:
    """A record of one violating trial, in any command's shape."""
    return (
        record.get("kind") == "finding"
        or isinstance(record.get("finding"), dict)
        or record.get("violation") is True
        or bool(record.get("violations"))
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(item) for item in value)
    return "" if value is None else str(value)


def _first_explanation(
    findings: List[Dict[str, Any]], summaries: List[Dict[str, Any]]
) -> "tuple[str, Optional[str]]":
    """The diagnosis and replay line of the first violation: a summary's smallest violation
    (``kill``, ``errors``), else the first violating record, else a summary's diagnosis."""
    for summary in summaries:
        smallest = summary.get("smallest_violation") or summary.get("smallest")
        if isinstance(smallest, dict):
            return _explain(smallest), smallest.get("replay")
    for record in findings:
        inner = record["finding"] if isinstance(record.get("finding"), dict) else record
        return _explain(inner), inner.get("replay")
    for summary in summaries:
        if summary.get("diagnosis"):
            return _text(summary["diagnosis"]), summary.get("replay")
    return "", None


def _explain(record: Dict[str, Any]) -> str:
    """What went wrong in one record: its violation (a name, or a list), then its diagnosis."""
    violation = record.get("violation")
    parts = [violation] if isinstance(violation, str) else []
    if not parts and record.get("violations"):
        parts.append("; ".join(str(item) for item in record["violations"]))
    if record.get("diagnosis"):
        parts.append(_text(record["diagnosis"]))
    return ": ".join(parts) if len(parts) < 2 else f"{parts[0]}\n{parts[1]}"


_REPLAY = re.compile(r"(torture (?:kill|power|errors|race)\b[^`\n]*)")


def _text_replay(text: str, report_dir: Path) -> Optional[str]:
    for source in [text] + [
        p.read_text(errors="replace") for p in sorted(report_dir.glob("*/summary.md"))
    ]:
        for line in source.splitlines():
            if "replay" in line or line.strip().startswith("`torture"):
                match = _REPLAY.search(line)
                if match:
                    return match.group(1).strip()
    return None


def _text_diagnosis(stdout: str, stderr: str) -> str:
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    wanted = [line for line in lines if not line.startswith("{")]
    return "\n".join(wanted[-12:])
