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
