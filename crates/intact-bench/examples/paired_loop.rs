//! Two single writers alternating write for write in one directory ([`intact_bench::paired`]),
//! in blocks of pairs: the ratio of their times (FIRST's over SECOND's) over all the pairs,
//! and its spread over the blocks. The design of the criterion `paired/` group, for any two
//! strategies and without criterion:
//!
//! ```text
//! cargo run --release -p intact-bench --example paired_loop -- intact-named atomic-write-file /mnt/x 1024 100 20
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use intact_bench::paired::{PairTimes, run_pairs};
use intact_bench::{Strategy, payload, write};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [first, second, dir, size, pairs, blocks] = args.as_slice() else {
        eprintln!("usage: paired_loop FIRST SECOND DIR SIZE_BYTES PAIRS_PER_BLOCK BLOCKS");
        return ExitCode::from(2);
    };
    match run([first, second], dir, size, pairs, blocks) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("paired_loop: {message}");
            ExitCode::from(2)
        }
    }
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    match text.parse() {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(format!("bad {what} `{text}`")),
    }
}

fn run(
    names: [&String; 2],
    dir: &str,
    size: &str,
    pairs: &str,
    blocks: &str,
) -> Result<(), String> {
    let [first, second] = names.map(|name| name.parse::<Strategy>().map_err(|e| e.to_string()));
    let (first, second) = (first?, second?);
    let payload = payload(number(size, "size")? as usize);
    let (pairs, blocks) = (number(pairs, "pairs")?, number(blocks, "blocks")?);
    let target = |strategy: Strategy| PathBuf::from(dir).join(format!("{strategy}.dat"));
    let (first_target, second_target) = (target(first), target(second));
    let mut total = PairTimes::default();
    let mut ratios = Vec::new();
    for _ in 0..blocks {
        let block = run_pairs(
            pairs,
            || write(first, &first_target, &payload),
            || write(second, &second_target, &payload),
        )
        .map_err(|error| format!("{dir}: {error}"))?;
        total.first += block.first;
        total.second += block.second;
        ratios.extend(block.ratio());
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    let ratio = total.ratio().ok_or("no time measured")?;
    let per_write = total.second / (pairs * blocks) as u32;
    println!(
        "{first} over {second}: {ratio:.3}x over {} pairs (blocks: median {:.3}, p10-p90 {:.3}-{:.3}); {second} {per_write:?} per write",
        pairs * blocks,
        at(0.5),
        at(0.1),
        at(0.9),
    );
    Ok(())
}
