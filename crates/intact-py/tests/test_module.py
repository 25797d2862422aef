"""The intact_io module itself, in this process."""

import csv
import errno
import io
import json
import multiprocessing
import os
import pickle
import stat

import pytest

import intact_io


def test_text_mode_works_with_json_dump_and_commits_on_exit(tmp_path):
    target = tmp_path / "report.json"
    with intact_io.open(target, "w") as f:
        assert isinstance(f, io.TextIOBase)
        json.dump({"rows": [1, 2, 3]}, f)
        assert not target.exists()  # nothing is published before the commit
    assert json.loads(target.read_text()) == {"rows": [1, 2, 3]}
    assert os.listdir(tmp_path) == ["report.json"]


def test_binary_mode_works_with_pickle_dump(tmp_path):
    target = tmp_path / "model.pkl"
    with intact_io.open(target, "wb") as f:
        assert isinstance(f, io.BufferedIOBase)
        pickle.dump({"weights": list(range(10_000))}, f)
    assert pickle.loads(target.read_bytes()) == {"weights": list(range(10_000))}


def test_csv_writer_and_newline(tmp_path):
    target = tmp_path / "t.csv"
    with intact_io.open(target, "w", newline="") as f:
        csv.writer(f).writerows([["a", "b"], [1, 2]])
    assert target.read_bytes() == b"a,b\r\n1,2\r\n"


def test_pandas_to_csv(tmp_path):
    pandas = pytest.importorskip("pandas")
    target = tmp_path / "frame.csv"
    frame = pandas.DataFrame({"id": [1, 2], "value": [0.5, 1.5]})
    with intact_io.open(target, "w", newline="") as f:
        frame.to_csv(f, index=False)
    assert pandas.read_csv(target).equals(frame)


def test_an_exception_in_the_with_block_keeps_the_old_version_and_leaves_no_temp(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"old": true}')
    with pytest.raises(RuntimeError):
        with intact_io.open(target, "w") as f:
            f.write('{"new": ')
            f.flush()
            raise RuntimeError("the pipeline failed half-way")
    assert target.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ["report.json"]


def test_an_unclosed_file_is_discarded_not_published(tmp_path):
    target = tmp_path / "report.json"
    f = intact_io.open(target, "w")
    f.write("half")
    del f
    assert os.listdir(tmp_path) == []


def test_discard_and_explicit_commit(tmp_path):
    target = tmp_path / "a.txt"
    f = intact_io.open(target, "w")
    f.write("x")
    f.discard()
    assert not target.exists()
    f = intact_io.open(target, "w")
    f.write("y")
    f.commit()
    assert f.closed and target.read_text() == "y"


def test_exclusive_mode_refuses_an_existing_target(tmp_path):
    target = tmp_path / "once.json"
    target.write_text("first")
    with pytest.raises(FileExistsError) as caught:
        with intact_io.open(target, "x") as f:
            f.write("second")
    assert isinstance(caught.value, intact_io.AlreadyExistsError)
    assert caught.value.errno == errno.EEXIST
    assert caught.value.filename == str(target)
    assert target.read_text() == "first"
    assert os.listdir(tmp_path) == ["once.json"]


def _exclusive_writer(target, number, barrier, results):
    barrier.wait()
    try:
        with intact_io.open(target, "x") as f:
            f.write(f"writer {number}")
        results.put(number)
    except FileExistsError:
        results.put(-1)


def test_exclusive_mode_with_eight_processes_has_exactly_one_winner(tmp_path):
    target = str(tmp_path / "once.txt")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(8), context.Queue()
    processes = [
        context.Process(target=_exclusive_writer, args=(target, n, barrier, results))
        for n in range(8)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join()
    winners = [n for n in outcomes if n >= 0]
    assert len(winners) == 1, outcomes
    assert open(target).read() == f"writer {winners[0]}"
    assert os.listdir(tmp_path) == ["once.txt"]


def test_errors_are_oserrors_with_errno_and_filename(tmp_path):
    missing = tmp_path / "no-such-dir" / "x.json"
    with pytest.raises(FileNotFoundError) as caught:
        intact_io.write_bytes(missing, b"{}")
    error = caught.value
    assert isinstance(error, intact_io.IntactError) and isinstance(error, OSError)
    assert error.errno == errno.ENOENT
    assert error.filename == str(missing)
    assert error.published is False
    assert issubclass(intact_io.PublishedNotDurableError, intact_io.IntactError)
    assert intact_io.PublishedNotDurableError.published is True


def test_a_directory_target_is_refused(tmp_path):
    with pytest.raises(intact_io.IntactError) as caught:
        intact_io.write_text(tmp_path, "x")
    assert caught.value.errno == errno.EISDIR


def test_write_bytes_text_json(tmp_path):
    intact_io.write_bytes(tmp_path / "b", bytearray(b"\x00\x01"))
    intact_io.write_text(tmp_path / "t", "é\n", encoding="latin-1")
    intact_io.write_json(tmp_path / "j", {"b": 1, "a": 2}, sort_keys=True)
    assert (tmp_path / "b").read_bytes() == b"\x00\x01"
    assert (tmp_path / "t").read_bytes() == b"\xe9\n"
    assert (tmp_path / "j").read_text() == '{"a": 2, "b": 1}'
    for durability in ("full", "data", "none"):
        intact_io.write_bytes(tmp_path / "b", durability.encode(), durability=durability)
        assert (tmp_path / "b").read_bytes() == durability.encode()
    with pytest.raises(ValueError):
        intact_io.write_bytes(tmp_path / "b", b"", durability="some")


def test_mode_is_preserved_unless_told_otherwise(tmp_path):
    target = tmp_path / "script.sh"
    target.write_text("old")
    target.chmod(0o750)
    intact_io.write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    intact_io.write_text(target, "newer", preserve_mode=False)
    assert stat.S_IMODE(target.stat().st_mode) != 0o750


def test_symlinks_are_followed_or_replaced(tmp_path):
    real = tmp_path / "real.txt"
    link = tmp_path / "link.txt"
    real.write_text("old")
    link.symlink_to(real)
    intact_io.write_text(link, "through")
    assert link.is_symlink() and real.read_text() == "through"
    intact_io.write_text(link, "replaced", follow_symlinks=False)
    assert not link.is_symlink() and real.read_text() == "through"


def test_overwrite_false_is_no_clobber(tmp_path):
    target = tmp_path / "a"
    intact_io.write_text(target, "1", overwrite=False)
    with pytest.raises(intact_io.AlreadyExistsError):
        intact_io.write_text(target, "2", overwrite=False)
    assert target.read_text() == "1"


def test_batch_commits_on_clean_exit_and_writes_nothing_on_exception(tmp_path):
    with intact_io.Batch() as batch:
        batch.add(tmp_path / "a.csv", "a\n")
        batch.add(tmp_path / "b.csv", b"b\n")
        assert len(batch) == 2
    assert (tmp_path / "a.csv").read_text() == "a\n"
    assert (tmp_path / "b.csv").read_text() == "b\n"
    with pytest.raises(KeyError):
        with intact_io.Batch() as batch:
            batch.add(tmp_path / "a.csv", "changed\n")
            raise KeyError("stop")
    assert (tmp_path / "a.csv").read_text() == "a\n"
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]


def test_a_batch_refuses_a_missing_directory_when_adding(tmp_path):
    with intact_io.Batch() as batch:
        with pytest.raises(FileNotFoundError):
            batch.add(tmp_path / "missing" / "a", "x")


def test_sweep_removes_dead_writers_temp_files_only(tmp_path):
    leftover = tmp_path / ".report.json.00112233445566ff.intact-tmp"
    leftover.write_text("from a killed writer")
    (tmp_path / "report.json").write_text("keep")
    dry = intact_io.sweep(tmp_path, dry_run=True)
    assert dry.dry_run and dry.removed == [str(leftover)]
    assert leftover.exists()
    done = intact_io.sweep(tmp_path)
    assert done.removed == [str(leftover)] and done.removed_bytes == len("from a killed writer")
    assert os.listdir(tmp_path) == ["report.json"]


def test_invalid_modes_are_refused(tmp_path):
    for mode in ("r", "a", "w+", "rb"):
        with pytest.raises(ValueError):
            intact_io.open(tmp_path / "x", mode)
    with pytest.raises(ValueError):
        intact_io.open(tmp_path / "x", "wb", encoding="utf-8")
    assert os.listdir(tmp_path) == []


def test_the_gil_is_released_while_writing_and_syncing(tmp_path):
    """With a switch interval of 1000 s the writer thread gives up the GIL only where the
    extension releases it: the main thread then sees it still inside the call. Were the GIL
    held for the whole write and fsync, the main thread would run only after it returned."""
    import sys
    import threading

    data = os.urandom(1024) * 32 * 1024  # 32 MiB: the write and its fsync take a while
    state = {"inside": False, "seen_inside": None}
    started = threading.Event()

    def writer():
        state["inside"] = True
        started.set()
        intact_io.write_bytes(tmp_path / "big.bin", data)
        state["inside"] = False

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    try:
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait()
        state["seen_inside"] = state["inside"]
        thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert state["seen_inside"] is True
    assert (tmp_path / "big.bin").stat().st_size == len(data)


def test_a_failed_batch_names_what_it_committed_and_what_not(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    batch = intact_io.Batch()
    batch.add(tmp_path / "kept.txt", "kept")
    batch.add(gone / "lost.txt", "lost")
    gone.rmdir()
    with pytest.raises(intact_io.BatchError) as caught:
        batch.commit()
    assert caught.value.committed == [str(tmp_path / "kept.txt")]
    assert [failure.filename for failure in caught.value.failures] == [str(gone / "lost.txt")]
    assert isinstance(caught.value.failures[0], FileNotFoundError)
    assert caught.value.failures[0].published is False
    assert (tmp_path / "kept.txt").read_text() == "kept"
