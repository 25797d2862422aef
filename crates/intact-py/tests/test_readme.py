"""The package README's examples run as written: every Python block, and the shell block of
the 3 AM story, each `torture` line with the exit code its comment names."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("number", range(len(blocks("python"))))
def test_python_example_runs(number, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks("python")[number]
    exec(compile(code, f"README.md python block {number + 1}", "exec"), {"__name__": "readme"})


def test_the_3am_story_shell_example_runs_as_written(tmp_path):
    story = next(block for block in blocks("sh") if "torture power" in block)
    setup, checks = [], []
    for line in story.splitlines():
        expected = re.search(r"# exit (\d+)", line)
        if line.startswith("torture ") and expected:
            checks.append((line.split("#")[0].strip(), int(expected.group(1))))
        elif not checks:
            setup.append(line)
    assert len(checks) == 3, story
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"])
    subprocess.run(["bash", "-euc", "\n".join(setup)], cwd=tmp_path, env=env, check=True)
    for command, expected in checks:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=tmp_path, env=env, capture_output=True, text=True,
        )
        assert done.returncode == expected, (command, done.stdout[-2000:], done.stderr[-2000:])
