//! Whole-file writes: every strategy at 1 KiB, 64 KiB, 1 MiB and 16 MiB, each iteration
//! overwriting an existing target of the same size.
//!
//! `cargo bench -p intact-bench --bench write`; set `INTACT_BENCH_DIR` to bench another
//! filesystem. Sample counts are kept small for a 2-core machine: fsync dominates and varies.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use intact_bench::{BENCHED, payload, write};

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

criterion_group!(benches, bench_writes);
criterion_main!(benches);
