"""The README examples run as written: every Python block of the package README and of the
repository README's Python section, and the package README's shell block of the 3 AM story,
each `torture` line with the exit code its comment names."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
REPOSITORY_README = README.parent.parent.parent / "README.md"


def blocks(language, text=None):
    return re.findall(rf"```{language}\n(.*?)```", text or README.read_text(), re.S)


def python_section():
    text = REPOSITORY_README.read_text()
    section = text[text.index("\n## Python\n") + 1 :]
    end = section.find("\n## ")
    return section if end < 0 else section[:end]


EXAMPLES = [("package README", code) for code in blocks("python")] + [
    ("README, Python section", code) for code in blocks("python", python_section())
]


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_python_example_runs(number, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    where, code = EXAMPLES[number]
    exec(compile(code, f"{where}, python block", "exec"), {"__name__": "readme"})


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
