"""Writers under test, each ``write_report(path)``-shaped: the pytest fixture imports them by
name in a fresh Python process. Each writes a report that differs per generation
(``$TORTURE_GENERATION``: 1 for the old version, 2 for the new) and per racing writer
(``$TORTURE_WRITER``), so a lost or mixed version is visible."""

import csv
import json
import os

import intact_io


def report() -> dict:
    return {
        "generation": int(os.environ.get("TORTURE_GENERATION", "2")),
        "writer": os.environ.get("TORTURE_WRITER", "1"),
        "rows": [{"id": i, "value": i * i} for i in range(300)],
    }


def json_dump_in_place(path: str) -> None:
    """The 3 AM bug: the output file is truncated, then written."""
    with open(path, "w") as f:
        json.dump(report(), f)


def safer_open(path: str) -> None:
    """``safer``: a temp file and a rename, but no fsync."""
    import safer

    with safer.open(path, "w") as f:
        json.dump(report(), f)


def fixed_tmp_rename(path: str) -> None:
    """The usual second attempt: a fixed temp name, fsync, rename. Two runs share the temp."""
    tmp = os.path.join(os.path.dirname(path), "report.json.tmp")
    with open(tmp, "w") as f:
        json.dump(report(), f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def intact_json_dump(path: str) -> None:
    """The fix: ``json.dump`` through ``intact_io.open``."""
    with intact_io.open(path, "w") as f:
        json.dump(report(), f)


def intact_json_dump_swept(path: str) -> None:
    """``intact_json_dump`` after ``intact_io.sweep`` of the target's directory, as a pipeline
    stage would start: a run killed between naming its temp file and the rename leaves that
    name behind, and the next run removes it (``torture --strict`` checks it does)."""
    intact_io.sweep(os.path.dirname(path))
    intact_json_dump(path)


def intact_to_csv(path: str) -> None:
    """``pandas.DataFrame.to_csv`` into ``intact_io.open``."""
    import pandas

    frame = pandas.DataFrame(report()["rows"])
    frame["generation"] = report()["generation"]
    frame["writer"] = report()["writer"]
    with intact_io.open(path, "w", newline="") as f:
        frame.to_csv(f, index=False)


def intact_csv_writer(path: str) -> None:
    """``csv.writer`` into ``intact_io.open``."""
    with intact_io.open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "value", "generation"])
        for row in report()["rows"]:
            out.writerow([row["id"], row["value"], report()["generation"]])


def intact_write_json(path: str) -> None:
    """``intact_io.write_json``."""
    intact_io.write_json(path, report(), indent=1)


def intact_exclusive(path: str) -> None:
    """``"x"`` mode: publish only if no other run got there first."""
    with intact_io.open(path, "x") as f:
        json.dump(report(), f)


def intact_logging_errors(path: str) -> None:
    """``intact_json_dump`` that appends the type, errno and ``published`` of the error it
    raises to ``$INTACT_TEST_LOG``, so a test can see which exception the writer got."""
    try:
        intact_json_dump(path)
    except intact_io.IntactError as error:
        with open(os.environ["INTACT_TEST_LOG"], "a") as log:
            log.write(f"{type(error).__name__} {error.errno} {error.published}\n")
        raise
