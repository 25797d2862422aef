//! Writes one file COUNT times with one strategy: a fixed workload to look at under
//! `strace -c`, `strace -T` or `perf`.
//!
//! ```text
//! cargo run --release -p intact-bench --example write_loop -- intact-full /mnt/x 1024 1000
//! strace -c -w target/release/examples/write_loop tempfile-persist /mnt/x 1024 1000
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use intact_bench::{Strategy, payload, write};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [strategy, dir, size, count] = args.as_slice() else {
        eprintln!("usage: write_loop STRATEGY DIR SIZE_BYTES COUNT");
        eprintln!(
            "strategies: {}",
            Strategy::ALL.map(Strategy::name).join(", ")
        );
        return ExitCode::from(2);
    };
    match run(strategy, dir, size, count) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("write_loop: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(strategy: &str, dir: &str, size: &str, count: &str) -> Result<(), String> {
    let strategy: Strategy = strategy.parse().map_err(|error| format!("{error}"))?;
    let size: usize = size.parse().map_err(|_| format!("bad size `{size}`"))?;
    let count: u32 = count.parse().map_err(|_| format!("bad count `{count}`"))?;
    let target = PathBuf::from(dir).join(format!("{strategy}.dat"));
    let payload = payload(size);
    let start = Instant::now();
    for _ in 0..count {
        write(strategy, &target, &payload)
            .map_err(|error| format!("{}: {error}", target.display()))?;
    }
    let per_write = start.elapsed() / count.max(1);
    println!("{strategy}: {count} writes of {size} bytes, {per_write:?} per write");
    Ok(())
}
