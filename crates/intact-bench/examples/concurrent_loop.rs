//! Runs contenders of the concurrent workload (16 threads, one file each, in DIR), interleaved
//! and rotated round by round: a fixed workload to look at under `strace -f -c`, `strace -f -T`
//! or `perf`, and a quick paired comparison (each contender's time over the first one's, per
//! round), with the CPU time (user and system, of this process's threads) each contender
//! spent per file: on a shared machine, a steadier measure than the time, since other jobs
//! slow the clock but not how much work a write does.
//!
//! ```text
//! cargo run --release -p intact-bench --example concurrent_loop -- /mnt/x 1024 4 30 limit intact
//! ```
//!
//! Contenders are named by the first word of their report name: `intact`, `atomic-write-file`,
//! `atomicwrites`, `limit`, `intact-named`, `intact-data`, `intact-none`, `intact-batch`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use intact_bench::concurrent::{Contender, THREADS, files_in};
use intact_bench::payload;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, size, passes, rounds, names @ ..] = args.as_slice() else {
        eprintln!("usage: concurrent_loop DIR SIZE_BYTES PASSES ROUNDS CONTENDER...");
        return ExitCode::from(2);
    };
    match run(dir, size, passes, rounds, names) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("concurrent_loop: {message}");
            ExitCode::from(2)
        }
    }
}

fn parse(name: &str) -> Result<Contender, String> {
    Contender::ALL
        .into_iter()
        .find(|contender| contender.name().split(' ').next() == Some(name))
        .ok_or_else(|| format!("unknown contender `{name}`"))
}

fn number(text: &str, what: &str) -> Result<usize, String> {
    match text.parse() {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(format!("bad {what} `{text}`")),
    }
}

fn run(dir: &str, size: &str, passes: &str, rounds: &str, names: &[String]) -> Result<(), String> {
    let size = number(size, "size")?;
    let passes = number(passes, "passes")?;
    let rounds = number(rounds, "rounds")?;
    let contenders: Vec<Contender> = names
        .iter()
        .map(|name| parse(name))
        .collect::<Result<_, _>>()?;
    if contenders.is_empty() {
        return Err("name at least one contender".into());
    }
    let payload = payload(size);
    let mut files = Vec::new();
    for (index, contender) in contenders.iter().enumerate() {
        let own = PathBuf::from(dir).join(format!("c{index}"));
        std::fs::create_dir_all(&own).map_err(|error| format!("{}: {error}", own.display()))?;
        let seeded = contender.run(&files_in(&own), 1, &payload);
        seeded.map_err(|error| format!("{contender}: {error}"))?;
        files.push(files_in(&own));
    }
    let mut seconds = vec![Vec::with_capacity(rounds); contenders.len()];
    let mut cpu_seconds = vec![0.0; contenders.len()];
    for round in 0..rounds {
        // Rotated: each contender goes first in turn.
        for step in 0..contenders.len() {
            let index = (round + step) % contenders.len();
            let (start, cpu_start_seconds) = (Instant::now(), process_cpu_seconds()?);
            let ran = contenders[index].run(&files[index], passes, &payload);
            ran.map_err(|error| format!("{}: {error}", contenders[index]))?;
            seconds[index].push(start.elapsed().as_secs_f64());
            cpu_seconds[index] += process_cpu_seconds()? - cpu_start_seconds;
        }
    }
    let files_per_round = (THREADS * passes) as f64;
    let cpu_us_per_file: Vec<f64> = cpu_seconds
        .iter()
        .map(|total| total * 1e6 / (files_per_round * rounds as f64))
        .collect();
    report(names, &seconds, &cpu_us_per_file, files_per_round);
    Ok(())
}

/// User and system CPU time of this process so far (all its threads, the finished ones
/// included), in seconds.
fn process_cpu_seconds() -> Result<f64, String> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(|errno| format!("getrusage: {errno}"))?;
    let seconds =
        |time: nix::sys::time::TimeVal| time.tv_sec() as f64 + time.tv_usec() as f64 * 1e-6;
    Ok(seconds(usage.user_time()) + seconds(usage.system_time()))
}

fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// Files per second at the median round, the per-round ratio first's time over this one's
/// (median, p10–p90), and the CPU time per file over all rounds.
fn report(names: &[String], seconds: &[Vec<f64>], cpu_us_per_file: &[f64], files: f64) {
    for ((name, own), cpu_us) in names.iter().zip(seconds).zip(cpu_us_per_file) {
        let median = quantile(&mut own.clone(), 0.5);
        let mut ratios: Vec<f64> = own
            .iter()
            .zip(&seconds[0])
            .map(|(t, first)| first / t)
            .collect();
        let (low, mid, high) = (
            quantile(&mut ratios, 0.1),
            quantile(&mut ratios, 0.5),
            quantile(&mut ratios, 0.9),
        );
        println!(
            "{name:<20} {:>8.0} files/s  x first {mid:.2} ({low:.2}-{high:.2})  cpu {cpu_us:.1} us/file",
            files / median
        );
    }
}
