# intact: developer recipes. `just` lists them.
# The README's two commands need only cargo; these recipes add conveniences on top.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# The main job: every built-in writer killed at random bytes and syscall boundaries (64 KiB JSON).
torture *ARGS:
    cargo run --release -p torture --bin torture -- {{ARGS}}

# Install `torture` and `torture-writer` into ~/.cargo/bin, so replay lines run as printed.
install:
    cargo install --path harness/cli --locked

# All tests: unit, integration, doctests, benches in smoke mode.
test:
    cargo test --workspace

# Everything CI runs (fmt, clippy, tests, fuzz build, short torture gate).
ci:
    bash .ci/run

# The Python wheel intact-io (the intact_io module, `torture` and the pytest fixture) into target/wheels.
wheel:
    bash .ci/setup python
    bash crates/intact-py/build-wheel.sh

# Build the wheel, install it into a fresh venv (target/py-venv) and run its pytest suite there.
wheel-test: wheel
    rm -rf target/py-venv && python3 -m venv target/py-venv
    target/py-venv/bin/pip install --quiet --force-reinstall target/wheels/intact_io-*.whl -r crates/intact-py/tests/requirements.txt
    cd crates/intact-py/tests && ../../../target/py-venv/bin/python -m pytest -q -p no:cacheprovider

# Install the tools the fuzz and filesystem recipes need (cargo-fuzz, xfsprogs, btrfs-progs).
setup:
    bash .ci/setup

# Fuzz the AtomicFile operation model for SECONDS (stable toolchain, no sanitizer; see fuzz/README.md).
fuzz SECONDS="60" TARGET="ops":
    bash .ci/setup fuzz
    mkdir -p fuzz/corpus/{{TARGET}}
    cd fuzz && cargo fuzz run -s none {{TARGET}} corpus/{{TARGET}} $([ -d seeds/{{TARGET}} ] && echo seeds/{{TARGET}}) -- -max_total_time={{SECONDS}}

# Criterion benchmarks: atomic versus plain writes and peer crates.
bench *ARGS:
    cargo bench -p intact-bench {{ARGS}}

# Filesystem comparison on loop-mounted ext4, xfs, btrfs and tmpfs (needs root).
bench-fs *ARGS:
    bash .ci/setup fs
    cargo run --release -p torture --bin torture -- bench --fs ext4,xfs,btrfs,tmpfs {{ARGS}}

# Real file systems as ground truth (root): every built-in, peer and test Python writer on ext4,
# ext4 noauto_da_alloc, xfs and btrfs, each real state checked against the `linux` model; writes
# the README's table to target/power-real.md.
power-real *ARGS:
    bash .ci/setup fs
    cargo build --release -p torture --bins
    # The concurrent subjects (intact-group*) are simulation-only: their threads interleave
    # differently run to run. Exit 1 (a canary breaks its contract on a real disk) is the table's content; 4 (a model
    # bug) and 2 fail the recipe.
    ./target/release/torture power --real all --markdown target/power-real.md \
        $(./target/release/torture list | awk 'NR > 1 && $1 !~ /^intact-group/ { printf "--subject %s ", $1 }') \
        --command "python3 harness/cli/tests/it/writers/plain_open.py {target}" \
        --command "python3 harness/cli/tests/it/writers/atomic_replace.py {target}" \
        --command "python3 harness/cli/tests/it/writers/durable_replace.py renamed {target}" {{ARGS}} \
        || [ $? -eq 1 ]
    cat target/power-real.md

# ALICE's applications (SQLite, Git, LevelDB, Mercurial, LMDB; harness/apps/) under torture power
# per persistence model (linux, posix) and under power --real ext4 (root), whole crash trees judged by each
# application's checker; writes the README's table to target/apps.md (ARGS: e.g. --only sqlite).
apps *ARGS:
    bash .ci/setup apps
    # A debug build: the time goes to the applications and their checkers, not the explorer.
    cargo build -p torture --bins
    python3 harness/apps/run.py --torture target/debug/torture --out target/apps.md {{ARGS}}
    cat target/apps.md
