#!/usr/bin/env python3
"""Durable atomic writes from Python, compared on a loop-mounted ext4 (root; the image is a
file on disk, not tmpfs), at 1 KiB and 64 KiB, in one interleaved run:

- ``intact_io.write_bytes`` (``durability="full"``, the default);
- the hand-written durable protocol: ``tempfile.mkstemp`` in the target's directory, write,
  ``os.fsync``, ``os.replace``, then ``os.fsync`` of the directory;
- ``atomicwrites.atomic_write`` (fsyncs the file and the directory: as durable);
- ``safer.open(path, "wb")``: for reference only, it never fsyncs (not durable), and the
  version installed here has no option to make it.

Round r writes once with every method at every size, in an order rotated by r, so a slow
stretch of the disk hits every method and size alike. The comparison is paired: per round, a
method's time over the hand-written protocol's time in the same round (the disk's speed drifts
far more between rounds than between neighbours). Prints a Markdown table: the median time per
write, the median of the paired ratios, and a bootstrap 95% interval of that median
(rounds resampled with replacement, fixed seed). "No slower" is shown when the interval's
upper end is at most 1.00; an interval that spans 1.00 shows neither faster nor slower.

    python3 bench_write.py [--rounds 1000] [--dir DIR]   # DIR: use it instead of a loop mount
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import tempfile
import time
from typing import Callable, Dict, Iterator, List, Tuple

import atomicwrites
import safer

import intact_io

SIZES = {"1 KiB": 1024, "64 KiB": 64 * 1024}


def hand_written(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def with_atomicwrites(path: str, data: bytes) -> None:
    with atomicwrites.atomic_write(path, mode="wb", overwrite=True) as f:
        f.write(data)


def with_safer(path: str, data: bytes) -> None:
    with safer.open(path, "wb") as f:
        f.write(data)


METHODS: Dict[str, Callable[[str, bytes], None]] = {
    "intact_io.write_bytes": intact_io.write_bytes,
    "hand-written (mkstemp, fsync, replace, dir fsync)": hand_written,
    "atomicwrites.atomic_write": with_atomicwrites,
    "safer.open (no fsync: not durable)": with_safer,
}
BASELINE = "hand-written (mkstemp, fsync, replace, dir fsync)"


@contextlib.contextmanager
def loop_ext4() -> Iterator[str]:
    work = tempfile.mkdtemp(prefix="intact-bench-", dir="/var/tmp")
    image, mount = os.path.join(work, "ext4.img"), os.path.join(work, "mnt")
    os.mkdir(mount)
    subprocess.run(["truncate", "-s", "512M", image], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True)
    subprocess.run(["mount", "-o", "loop", image, mount], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", mount], check=True)
        os.unlink(image)
        os.rmdir(mount)
        os.rmdir(work)


def measure(directory: str, rounds: int) -> Dict[str, Dict[str, List[float]]]:
    times: Dict[str, Dict[str, List[float]]] = {s: {m: [] for m in METHODS} for s in SIZES}
    cases = [(size_name, name) for size_name in SIZES for name in METHODS]
    data = {size_name: os.urandom(size) for size_name, size in SIZES.items()}
    targets = {case: os.path.join(directory, f"target-{i}") for i, case in enumerate(cases)}
    for case in cases:  # every target exists: each write replaces a file
        METHODS[case[1]](targets[case], data[case[0]])
    for r in range(rounds):
        for size_name, name in cases[r % len(cases) :] + cases[: r % len(cases)]:
            start = time.perf_counter()
            METHODS[name](targets[(size_name, name)], data[size_name])
            times[size_name][name].append(time.perf_counter() - start)
    return times


def paired_ratios(times: Dict[str, Dict[str, List[float]]], size: str, name: str) -> List[float]:
    """Per round: the method's time over the hand-written protocol's time in that round."""
    return [t / base for t, base in zip(times[size][name], times[size][BASELINE])]


def bootstrap_median(ratios: List[float], resamples: int = 2000) -> Tuple[float, float]:
    """A 95% interval of the median of ``ratios``: the 2.5th and 97.5th percentiles of the
    medians of ``resamples`` resamples with replacement (seeded: one run, one answer)."""
    rng = random.Random(17)
    medians = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples)
    )
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def verdict(low: float, high: float) -> str:
    if high <= 1.0:
        return "no slower"
    if low > 1.0:
        return "slower"
    return "within noise"


def table(times: Dict[str, Dict[str, List[float]]]) -> str:
    lines = [
        "| method | "
        + " | ".join(f"{s} median µs | {s} paired ratio (95% CI)" for s in SIZES)
        + " |",
        "|---|" + "--:|--:|" * len(SIZES),
    ]
    for name in METHODS:
        cells = []
        for size_name in SIZES:
            median = statistics.median(times[size_name][name])
            ratios = paired_ratios(times, size_name, name)
            low, high = bootstrap_median(ratios)
            ratio = f"{statistics.median(ratios):.3f}× ({low:.3f}–{high:.3f})"
            if name != BASELINE:
                ratio += f" {verdict(low, high)}"
            cells += [f"{median * 1e6:,.0f}", ratio]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--dir", help="write here instead of on a fresh loop-mounted ext4")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        directory = args.dir or stack.enter_context(loop_ext4())
        where = args.dir or "loop-mounted ext4 (image in /var/tmp)"
        times = measure(directory, args.rounds)
    print(f"{args.rounds} interleaved rounds on {where}, kernel {os.uname().release}\n")
    print(table(times))


if __name__ == "__main__":
    main()
