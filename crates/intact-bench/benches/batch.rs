//! 1,000 files of 1 KiB, fully durable: one `intact::Batch` against 1,000 sequential
//! `intact::write` calls. Each iteration overwrites the same 1,000 existing files.
//!
//! `cargo bench -p intact-bench --bench batch`. Throughput is in files (elements) per second.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use intact_bench::{BatchMode, numbered_paths, payload, write_files};

mod common;

const FILES: usize = 1_000;
const FILE_BYTES: usize = 1 << 10;

fn bench_batch(c: &mut Criterion) {
    let dir = common::scratch_dir("batch-");
    let payload = payload(FILE_BYTES);
    let mut group = c.benchmark_group("batch/1000x1KiB");
    group
        .throughput(Throughput::Elements(FILES as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(15));
    for mode in BatchMode::ALL {
        let paths = numbered_paths(dir.path(), mode.name(), FILES);
        for path in &paths {
            std::fs::write(path, &payload).expect("seed the targets with the old version");
        }
        group.bench_function(mode.name(), |bencher| {
            bencher.iter(|| write_files(mode, &paths, &payload).expect("benchmarked batch"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_batch);
criterion_main!(benches);
