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
    # Exit 1 (a canary breaks its contract on a real disk) is the table's content; 4 (a model
    # bug) and 2 fail the recipe.
    ./target/release/torture power --real all --markdown target/power-real.md \
        $(./target/release/torture list | awk 'NR > 1 { printf "--subject %s ", $1 }') \
        --command "python3 harness/cli/tests/it/writers/plain_open.py {target}" \
        --command "python3 harness/cli/tests/it/writers/atomic_replace.py {target}" {{ARGS}} \
        || [ $? -eq 1 ]
    cat target/power-real.md
