#!/usr/bin/env bash
# Builds the intact-io wheel into target/wheels (or $1): the `torture` and `torture-writer`
# release binaries first (stripped, into wheel-data/scripts, which pip installs into the
# environment's bin directory), then the extension module with maturin. Both builds use
# $CARGO_TARGET_DIR when it is set (the pytest suite's own build uses target/py-build, so
# that it never waits for the lock of the `cargo test` that runs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/target/wheels}"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --locked -p torture --bins --manifest-path "$root/Cargo.toml"
rm -rf "$here/wheel-data"
mkdir -p "$here/wheel-data/scripts"
for bin in torture torture-writer; do
    install -m 755 "$target/release/$bin" "$here/wheel-data/scripts/$bin"
    strip "$here/wheel-data/scripts/$bin"
done
python3 -m maturin build --release --locked --manifest-path "$here/Cargo.toml" --out "$out"
