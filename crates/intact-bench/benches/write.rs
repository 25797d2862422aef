//! Whole-file writes: every strategy at 1 KiB, 64 KiB, 1 MiB and 16 MiB, each iteration
//! overwriting an existing target of the same size.
//!
//! `cargo bench -p intact-bench --bench write`; set `INTACT_BENCH_DIR` to bench another
//! filesystem. Sample counts are kept small for a 2-core machine: fsync dominates and varies.
//!
//! `paired/{size}` is the single-writer comparison of issue 17 (`intact` at `Durability::Full`
//! against `atomic-write-file`, 1 KiB, 64 KiB, 1 MiB): the two alternate write for write in
//! one directory and criterion measures the ratio of their times (intact's over
//! atomic-write-file's, `1.02×`), with its interval, rather than two times taken apart (a disk
//! whose speed drifts between two benchmarks, as this one does while other jobs build, moves
//! their ratio more than the writers do). `cargo bench -p intact-bench --bench write --
//! '^paired/'` runs only it.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use intact_bench::paired::run_pairs;
use intact_bench::{BENCHED, Strategy, payload, write};
use ratio::Ratio;

mod common;
mod ratio;

const SIZES: [(usize, &str); 4] = [
    (1 << 10, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
    (16 << 20, "16MiB"),
];

fn bench_writes(c: &mut Criterion) {
    let dir = common::scratch_dir("write-");
    for (size_bytes, label) in SIZES {
        let payload = payload(size_bytes);
        let mut group = c.benchmark_group(format!("write/{label}"));
        group.throughput(Throughput::Bytes(size_bytes as u64));
        configure(&mut group, size_bytes);
        for strategy in BENCHED {
            let target = dir.path().join(format!("{strategy}-{label}.dat"));
            std::fs::write(&target, &payload).expect("seed the target with the old version");
            group.bench_function(strategy.name(), |bencher| {
                bencher.iter(|| write(strategy, &target, &payload).expect("benchmarked write"));
            });
        }
        group.finish();
    }
}

/// `paired/{size}`: `intact` (`Durability::Full`) against `atomic-write-file`, write for write
/// into one directory ([`intact_bench::paired`]). Each sample's value is intact's summed time
/// over atomic-write-file's in that sample, so criterion's estimate and interval are of the
/// ratio itself (printed as `1.02×`), not of two times measured apart.
fn bench_paired(c: &mut Criterion<Ratio>) {
    let dir = common::scratch_dir("paired-");
    for (size_bytes, label) in &SIZES[..3] {
        let payload = payload(*size_bytes);
        let mut group = c.benchmark_group(format!("paired/{label}"));
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(PAIRED_SAMPLES)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(PAIRED_MEASURE_S));
        let target = |strategy: Strategy| dir.path().join(format!("{strategy}-{label}.dat"));
        let (intact, peer) = (target(Strategy::Intact), target(Strategy::AtomicWriteFile));
        for path in [&intact, &peer] {
            std::fs::write(path, &payload).expect("seed the target with the old version");
        }
        group.bench_function("intact-over-atomic-write-file", |bencher| {
            bencher.iter_custom(|pairs| {
                let times = run_pairs(
                    pairs,
                    || write(Strategy::Intact, &intact, &payload),
                    || write(Strategy::AtomicWriteFile, &peer, &payload),
                )
                .expect("benchmarked write");
                // Per pair, as criterion divides a sample's value by its iterations.
                times.ratio().expect("a durable write takes time") * pairs as f64
            });
        });
        group.finish();
    }
}

/// Samples of `paired/{size}` and seconds to spend on them: each sample is many pairs, so the
/// interval is of a ratio over hundreds of writes (one durable write's time swings by several
/// times on a shared disk).
const PAIRED_SAMPLES: usize = 30;
const PAIRED_MEASURE_S: u64 = 60;

/// Flat sampling (every sample the same number of iterations): a durable write takes
/// milliseconds, too slow for criterion's default linear ramp. Fewer samples as files grow.
fn configure(group: &mut BenchmarkGroup<'_, WallTime>, size_bytes: usize) {
    let (samples, warm_up_ms, measure_ms) = match size_bytes {
        0..=65_536 => (20, 500, 2_000),
        65_537..=1_048_576 => (15, 500, 3_000),
        _ => (10, 1_000, 5_000),
    };
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(warm_up_ms))
        .measurement_time(Duration::from_millis(measure_ms));
}

criterion_group!(writes, bench_writes);
criterion_group! {
    name = paired;
    config = Criterion::default().with_measurement(Ratio);
    targets = bench_paired
}
criterion_main!(paired, writes);
