"""The gate, through the pytest fixture: the usual Python writers are caught, and
``intact_io`` passes every crash kind."""

import os
import subprocess
from pathlib import Path

import pytest

import writers


def kinds(result):
    return {finding.get("verdict") or finding.get("violation") for finding in result.findings}


def test_json_dump_in_place_is_torn_by_sigkill(torture):
    result = torture.kill(writers.json_dump_in_place, "{target}", trials=40)
    assert result.exit_code == 1, result
    assert not result.ok
    assert "torn" in kinds(result), result.findings[:3]
    assert "torn" in result.diagnosis
    assert result.replay.startswith("torture kill "), result.replay


def test_the_replay_line_runs_as_printed_in_this_environment(torture, tmp_path):
    result = torture.kill(writers.json_dump_in_place, "{target}", trials=10)
    assert result.replay, result
    bin_dir = os.path.dirname(result.command[0])
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    replayed = subprocess.run(
        ["bash", "-c", result.replay], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "torn" in replayed.stdout + replayed.stderr


def test_safer_survives_sigkill_but_loses_the_acknowledged_version_in_a_power_cut(torture):
    pytest.importorskip("safer")
    killed = torture.kill(writers.safer_open, "{target}", trials=20)
    assert killed.ok, killed
    cut = torture.power(writers.safer_open, "{target}")
    assert cut.exit_code == 1, cut
    assert "acked-lost" in kinds(cut), cut.findings
    assert cut.replay.startswith("torture power "), cut.replay
    assert "fsync" in cut.diagnosis


def test_a_fixed_tmp_name_is_caught_racing(torture):
    result = torture.race(writers.fixed_tmp_rename, "{target}", schedules=10)
    assert result.exit_code == 1, result
    assert "report.json.tmp" in result.diagnosis, result
    assert result.replay.startswith("torture race "), result.replay


FIXED = [writers.intact_json_dump, writers.intact_to_csv]


def trials(writer, json_writer, pandas_writer):
    """Fewer runs for the pandas writer: importing pandas takes a second or more here."""
    if writer is writers.intact_to_csv:
        pytest.importorskip("pandas")
        return pandas_writer
    return json_writer


@pytest.mark.parametrize("writer", FIXED, ids=lambda w: w.__name__)
def test_intact_open_passes_sigkill(torture, writer):
    result = torture.kill(writer, "{target}", trials=trials(writer, 30, 8))
    assert result.ok, result


def test_with_a_startup_sweep_nothing_is_left_behind_under_sigkill(torture):
    result = torture.kill(writers.intact_json_dump_swept, "{target}", trials=30, strict=True)
    assert result.ok, result


@pytest.mark.parametrize("writer", FIXED, ids=lambda w: w.__name__)
def test_intact_open_passes_power_cuts(torture, writer):
    result = torture.power(writer, "{target}", recovery_cap=trials(writer, None, 3))
    assert result.ok, result


@pytest.mark.parametrize("writer", FIXED, ids=lambda w: w.__name__)
def test_intact_open_passes_io_errors(torture, writer):
    result = torture.errors(writer, "{target}", fault=trials(writer, "all", "enospc"))
    assert result.ok, result


@pytest.mark.parametrize("writer", FIXED, ids=lambda w: w.__name__)
def test_intact_open_passes_racing_runs(torture, writer):
    count = trials(writer, 3, 2)
    result = torture.race(writer, "{target}", writers=count, schedules=count * 3, strict=True)
    assert result.ok, result


def test_write_json_passes_power_cuts(torture):
    assert torture.power(writers.intact_write_json, "{target}").ok


def test_exclusive_mode_has_one_winner_among_eight_racing_writers(torture):
    result = torture.race(
        writers.intact_exclusive, "{target}", writers=8, no_clobber=True, initial="absent", schedules=5
    )
    assert result.ok, result


def test_a_failed_directory_fsync_raises_published_not_durable(torture, tmp_path):
    log = tmp_path / "errors.log"
    os.environ["INTACT_TEST_LOG"] = str(log)
    try:
        every = torture.errors(writers.intact_logging_errors, "{target}", fault="eio")
        assert every.ok, every
        fsyncs = [
            r["injection"] for r in every.records if r.get("injection", "").startswith("fsync#")
        ]
        assert len(fsyncs) == 2, fsyncs  # the temp file's, then the directory's
        directory_fsync = max(fsyncs, key=lambda name: int(name.split("#")[1].split(":")[0]))
        log.write_text("")
        one = torture.errors(writers.intact_logging_errors, "{target}", inject=directory_fsync)
    finally:
        del os.environ["INTACT_TEST_LOG"]
    assert one.ok, one
    assert log.read_text().split("\n") == ["PublishedNotDurableError 5 True", ""]
