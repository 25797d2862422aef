//! Whole-file writes: every strategy at 1 KiB, 64 KiB, 1 MiB and 16 MiB, each iteration
//! overwriting an existing target of the same size.
//!
//! `cargo bench -p intact-bench --bench write`; set `INTACT_BENCH_DIR` to bench another
//! filesystem. Sample counts are kept small for a 2-core machine: fsync dominates and varies.
//!
//! `paired/{size}` is the single-writer comparison of issue 17 (`intact` at `Durability::Full`
//! against `atomic-write-file`, 1 KiB, 64 KiB, 1 MiB), interleaved: every timed write of one
//! is followed by an untimed write of the other, so both estimates come from the same stretch
//! of a shared disk (a disk whose speed drifts between the two benchmarks, as this one does
//! while other jobs build, otherwise moves their ratio more than the writers do).

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use intact_bench::{BENCHED, Strategy, payload, write};

mod common;

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

/// The pair of `paired/{size}`: the first is timed, the second runs after it untimed.
const PAIRS: [(Strategy, Strategy); 2] = [
    (Strategy::Intact, Strategy::AtomicWriteFile),
    (Strategy::AtomicWriteFile, Strategy::Intact),
];

fn bench_paired(c: &mut Criterion) {
    let dir = common::scratch_dir("paired-");
    for (size_bytes, label) in &SIZES[..3] {
        let payload = payload(*size_bytes);
        let mut group = c.benchmark_group(format!("paired/{label}"));
        group.throughput(Throughput::Bytes(*size_bytes as u64));
        configure(&mut group, *size_bytes);
        for (timed, other) in PAIRS {
            let target = |strategy: Strategy| dir.path().join(format!("{strategy}-{label}.dat"));
            let (timed_target, other_target) = (target(timed), target(other));
            for path in [&timed_target, &other_target] {
                std::fs::write(path, &payload).expect("seed the target with the old version");
            }
            group.bench_function(timed.name(), |bencher| {
                bencher.iter_custom(|iterations| {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iterations {
                        let start = std::time::Instant::now();
                        write(timed, &timed_target, &payload).expect("benchmarked write");
                        elapsed += start.elapsed();
                        write(other, &other_target, &payload).expect("the untimed write");
                    }
                    elapsed
                });
            });
        }
        group.finish();
    }
}

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

criterion_group!(benches, bench_paired, bench_writes);
criterion_main!(benches);
