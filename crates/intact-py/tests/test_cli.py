"""The `torture` command this wheel installs: the same CLI as the Rust build."""

import os
import shutil
import subprocess
import sys

import intact_io


def test_torture_is_installed_beside_this_python():
    path = intact_io.torture_path()
    assert os.path.samefile(os.path.dirname(path), os.path.dirname(sys.executable)), path
    assert shutil.which("torture-writer", path=os.path.dirname(path))


def test_a_builtin_subject_runs_through_the_installed_writer(tmp_path):
    done = subprocess.run(
        [intact_io.torture_path(), "kill", "--subject", "intact", "--subject", "plain",
         "--size", "4096", "--trials", "20", "--seed", "1", "--report-dir", str(tmp_path)],
        capture_output=True, text=True,
    )
    # `plain` is a canary the harness expects to catch; `intact` must pass: exit 0.
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout and "plain" in done.stdout
