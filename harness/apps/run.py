#!/usr/bin/env python3
"""`just apps`: ALICE's applications under `torture power`, one Markdown table (target/apps.md).

Usage: run.py [--torture BIN] [--out FILE] [--only SUBSTRING] [--no-real] [--budget 20s] [--app-budget 60s]

Each row is a workload with its setup, checker (and recovery) from this directory, run under
`torture power` once per persistence model (the default `linux` = ext4, xfs and btrfs; `posix`;
see MODELS), and under `power --real ext4`
with the same options (root). The checker (and the recovery command) is wrapped in tally.sh,
which appends the first line of every violation, after the model that met the tree, to a log:
the table counts the kinds of finding over every tree the cell's models judged, not only the
few the report diagnoses (nor the trees only the holds line's other models reached). Numbers, hashes and names in a reason are folded into `N`/`H`
so one kind is one line. Every run's report is kept under target/apps/.
"""
import argparse
import collections
import json
import os
import re
import shlex
import subprocess
import sys
import time

APPS = os.path.dirname(os.path.abspath(__file__))
# ALICE's `weak` model over-reports (it is for information) and triples the run: left out.
MODELS = ["linux", "posix"]
# The interpreter running this script, not a version manager's shim: checkers start per state.
PY = sys.executable


# `--max-states` of a run unless its row says otherwise: past it a model's states are sampled.
MAX_STATES = "20000"
# Enough for every state of a model whose count runs past MAX_STATES although its legal states
# are few: the count includes the states the page rule forbids (SQLite under linux: 10^5
# counted, 4,000 to 6,000 legal, a few hundred distinct trees).
ALL_STATES = "1000000"


def sqlite_row(journal, sync, txns=2):
    name = f"sqlite-{journal}-{sync}"
    # WAL without fsync at commit leaves 10^8 linux states: sampled.
    exhaustive = (journal, sync) != ("wal", "normal")
    return {
        "max_states": {"linux": ALL_STATES} if exhaustive else {},
        "name": name,
        "app": "SQLite (Python sqlite3)",
        "variant": f"journal_mode={journal.upper()}, synchronous={sync.upper()}",
        "workload": f"{txns} transactions, `ack N` after each COMMIT",
        "checker": "`PRAGMA integrity_check`, atomicity, every acked row present",
        "target": "app.db",
        "setup": f"{PY} {APPS}/sqlite/setup.py {{dir}}/app.db --journal {journal}",
        "check": f"sh {APPS}/sqlite/check.sh {{dir}}/app.db {{stdout}}",
        "models": MODELS,
        "writer": [PY, f"{APPS}/sqlite/workload.py", "{target}", "--journal", journal,
                   "--sync", sync, "--txns", str(txns)],
    }


def git_row(mode):
    return {
        "name": f"git-{mode}",
        "app": "Git",
        "variant": "defaults" if mode == "default" else "`core.fsync=all`",
        "workload": "2 commits of one new file, `ack N SHA` after each",
        "checker": "`git fsck`, `git status`, every acked commit on main",
        "target": "repo/.git/refs/heads/main",
        "setup": f"sh {APPS}/git/setup.sh {{dir}}/repo {mode}",
        "recover": f"sh {APPS}/git/recover.sh {{dir}}/repo",
        "check": f"sh {APPS}/git/check.sh {{dir}}/repo {{stdout}}",
        "writer": ["sh", f"{APPS}/git/workload.sh", "repo", "2"],
        # Git never fsyncs by default: its names reach the disk with ext4's 5 s journal commit,
        # its data with the 30 s writeback, so the empty loose objects show between the two.
        "real_settle_ms": 16000,
    }


ROWS = [
    sqlite_row("delete", "full"),
    sqlite_row("delete", "extra"),
    sqlite_row("delete", "normal"),
    sqlite_row("wal", "full"),
    sqlite_row("wal", "extra"),
    sqlite_row("wal", "normal"),
    git_row("default"),
    git_row("fsync-all"),
    {
        # 12,604 linux states, about 3,500 distinct trees: every one judged takes minutes (a
        # checker opens the database with paranoid checks), and a sample misses the torn log
        # tail the xfs model allows.
        "max_states": {"linux": ALL_STATES},
        "budget": "600s",
        "name": "leveldb",
        "app": "LevelDB (plyvel)",
        "variant": "LevelDB 1.22, `sync=True` puts",
        "workload": "6 puts of 4 KB, 16 KiB memtable (a table flush), `ack N` after each",
        "checker": "opens with paranoid checks, checksums, keys a prefix, acked keys present",
        "target": "db/CURRENT",
        "setup": f"{PY} {APPS}/leveldb/setup.py {{dir}}/db",
        "check": f"{PY} {APPS}/leveldb/check.py {{dir}}/db {{stdout}}",
        "writer": [PY, f"{APPS}/leveldb/workload.py", "db", "6"],
    },
    {
        "name": "hg",
        "app": "Mercurial",
        "variant": "defaults",
        "workload": "2 commits of one new file, `ack N NODE` after each",
        "checker": "`hg recover`, `hg verify`, `hg status`, every acked commit present",
        "target": "repo/.hg/store/00changelog.i",
        "setup": f"sh {APPS}/hg/setup.sh {{dir}}/repo",
        "recover": f"sh {APPS}/hg/recover.sh {{dir}}/repo",
        "check": f"sh {APPS}/hg/check.sh {{dir}}/repo {{stdout}}",
        "writer": ["sh", f"{APPS}/hg/workload.sh", "repo", "2"],
    },
    {
        "name": "lmdb",
        "app": "LMDB (Python lmdb)",
        "variant": "LMDB 0.9, `sync=True`, no lock file",
        "workload": "3 write transactions, `ack N` after each commit",
        "checker": "opens, values intact, keys a prefix, acked keys present",
        "target": "data.mdb",
        "setup": f"{PY} {APPS}/lmdb/setup.py {{dir}}/data.mdb",
        "check": f"{PY} {APPS}/lmdb/check.py {{dir}}/data.mdb {{stdout}}",
        "writer": [PY, f"{APPS}/lmdb/workload.py", "data.mdb", "3"],
    },
]


def kind_of(reason):
    """A reason with its particulars folded, so equal kinds compare equal."""
    reason = re.sub(r"\b[0-9a-f]{12,40}\b", "H", reason)
    reason = re.sub(r"\.git/objects/[0-9a-f]{2}/H", ".git/objects/H", reason)
    reason = re.sub(r"\[[0-9, ]*\]", "[N...]", reason)
    return re.sub(r"\b\d+\b", "N", reason)


def options(row, tally_log):
    """The options every run of `row` shares (simulation and real)."""
    if "check" not in row:
        return row["options"]
    check = f"sh {APPS}/tally.sh {shlex.quote(tally_log)} {row['check']}"
    opts = ["--setup", row["setup"], "--target", row["target"], "--ack-line", "^ack ",
            "--check", check]
    if "recover" in row:
        # A tree the recovery rejects never reaches the checker: its reason is tallied too
        # (in a log of its own), or the table would hide every finding the recovery makes.
        log = shlex.quote(recover_log(tally_log))
        opts += ["--recover", f"sh {APPS}/tally.sh {log} {row['recover']}"]
    return opts


def recover_log(tally_log):
    """Where the recovery command's rejections are tallied."""
    return tally_log + ".recover"


def run_torture(args, report_dir):
    """Runs torture; (exit code, its subject JSON line or None, seconds)."""
    began = time.monotonic()
    split = args.index("--")
    args = args[:split] + ["--format", "json", "--report-dir", report_dir] + args[split:]
    done = subprocess.run(args, capture_output=True, text=True)
    seconds = time.monotonic() - began
    subject = None
    for line in done.stdout.splitlines():
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if value.get("kind") == "subject":
            subject = value
        elif value.get("kind") == "summary" and subject is None and value.get("subjects"):
            # power --real prints its subjects inside the summary object.
            subject = value["subjects"][0]
    error = None
    if done.returncode not in (0, 1) or subject is None:
        sys.stderr.write(done.stderr[-3000:])
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        error = lines[0] if lines else None
    return done.returncode, subject, seconds, error


# The models a cell's `--model` value names: its kinds count only the trees these met first
# (tally.sh writes $TORTURE_MODEL before each reason). A breaking run also explores the other
# file-system models for its holds line, and their trees are no finding of the cell's models.
CELL_MODELS = {"linux": {"ext4", "xfs", "btrfs"}, "posix": {"posix"}}


def tallied(log, models=None):
    """Kinds of finding in a row's tally logs (the checker's, then the recovery's, its kinds
    prefixed `--recover: ` as the run's report says them), most frequent first: [(kind, count)].
    With `models`, only the trees one of them met first."""
    kinds = collections.Counter()
    for path, prefix in ((log, ""), (recover_log(log), "--recover: ")):
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                model, _, reason = line.rstrip("\n").partition("\t")
                if reason.strip() and (models is None or model in models):
                    kinds[prefix + kind_of(reason.strip())] += 1
    return kinds.most_common()


def cell(code, subject, kinds, error):
    """One table cell: pass, or the kinds of finding (how many distinct trees showed each) and
    how many of the states judged violated."""
    if subject is None:
        return f"not judged (exit {code}): {error or 'no subject line'}"
    judged = subject.get("states_checked", subject.get("real_states", subject.get("checked", "?")))
    scope = "" if subject.get("exhaustive", True) else ", not exhaustive"
    if code == 0 and kinds:
        # The budget ended the count before the states of these trees were judged: the run
        # says pass, its checker said otherwise. Shown, never hidden.
        listed = "; ".join(f"{kind} ({count} trees)" for kind, count in kinds)
        return f"exit 0 on {judged} states counted{scope}, but the checker rejected: {listed}"
    if code == 0:
        return f"pass ({judged} states{scope})"
    bad = subject.get("violating_states", subject.get("violations", "?"))
    # Where the finding holds, per file-system model ("breaks under xfs and btrfs; holds on ext4").
    holds = f"; {subject['holds']}" if subject.get("holds") else ""
    counts = f"({bad} of {judged} states{scope}; exit {code}{holds})"
    if not kinds:
        diagnosis = (subject.get("diagnosis") or "").split(". Fix:")[0]
        return f"{diagnosis} {counts}"
    listed = "; ".join(f"{kind} ({count} trees)" for kind, count in kinds)
    return f"{listed} {counts}"


def remove_logs(log):
    """Removes a previous run's tally logs of one cell."""
    for path in (log, recover_log(log)):
        if os.path.exists(path):
            os.remove(path)


def run_row(row, args, out_dir):
    """The row's cells: one per model, then real ext4 (or why not)."""
    cells = []
    writer = ["--"] + row["writer"]
    for model in MODELS:
        if model not in row.get("models", ["linux"]):
            # A Git, LevelDB, Mercurial or LMDB trace makes far more posix states than a budget
            # of minutes judges: the linux column is their table.
            cells.append("not run")
            continue
        tag = f"{row['name']}-{model}"
        log = os.path.join(out_dir, f"{tag}.tally")
        remove_logs(log)
        budget = row.get("budget", args.budget if "sqlite" in row["name"] else args.app_budget)
        max_states = row.get("max_states", {}).get(model, MAX_STATES)
        cmd = [args.torture, "power", "--model", model, "--seed", "1", "--budget", budget,
               "--max-states", max_states] + options(row, log) + writer
        code, subject, seconds, error = run_torture(cmd, os.path.join(out_dir, tag))
        print(f"apps: {tag}: exit {code} in {seconds:.1f}s", file=sys.stderr)
        cells.append(cell(code, subject, tallied(log, CELL_MODELS[model]), error))
    cells.append(run_real(row, args, out_dir, writer))
    return cells


def run_real(row, args, out_dir, writer):
    if args.no_real:
        return "not run (--no-real)"
    if os.geteuid() != 0:
        return "not run (needs root)"
    tag = f"{row['name']}-real-ext4"
    log = os.path.join(out_dir, f"{tag}.tally")
    remove_logs(log)
    settle = str(row.get("real_settle_ms", 1000))
    cmd = [args.torture, "power", "--real", "ext4", "--seed", "1", "--sample", args.sample,
           "--settle-ms", settle] + options(row, log) + writer
    code, subject, seconds, error = run_torture(cmd, os.path.join(out_dir, tag))
    print(f"apps: {tag}: exit {code} in {seconds:.1f}s", file=sys.stderr)
    return cell(code, subject, tallied(log), error)


def table(results):
    head = ["application", "configuration", "workload", "checker", "linux (ext4, xfs, btrfs)",
            "posix", "real ext4"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, cells in results:
        values = [row["app"], row["variant"], row["workload"], row["checker"]] + cells
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in values) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torture", default="target/release/torture")
    ap.add_argument("--out", default="target/apps.md")
    ap.add_argument("--only", help="run only the rows whose name contains this")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--budget", default="20s", help="per SQLite run")
    ap.add_argument("--app-budget", default="60s", help="per Git, Mercurial, LMDB run (LevelDB: 600s)")
    ap.add_argument("--sample", default="10", help="power --real crash points per row")
    args = ap.parse_args()
    out_dir = os.path.abspath(os.path.join(os.path.dirname(args.out) or ".", "apps"))
    os.makedirs(out_dir, exist_ok=True)
    rows = [r for r in ROWS if not args.only or args.only in r["name"]]
    results = [(row, run_row(row, args, out_dir)) for row in rows]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(table(results))
    print(f"apps: {len(results)} rows written to {args.out}", file=sys.stderr)
    return 0 if len(results) == len(rows) and rows else 2


if __name__ == "__main__":
    sys.exit(main())
