//! 16 threads, one 1 KiB file each in one directory, each replacing its file durably again and
//! again: `intact::write` (group commit) against the peers and the measured limit, and beside
//! them intact without directory `fsync`s, one thread alone, and a `Batch` (see
//! `intact_bench::concurrent`).
//!
//! `cargo bench -p intact-bench --bench concurrent`; set `INTACT_BENCH_DIR` to bench another
//! filesystem. Throughput is in files (elements) per second.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use intact_bench::concurrent::{Contender, THREADS, files_in};
use intact_bench::payload;

mod common;

const FILE_BYTES: usize = 1 << 10;
/// Times each thread replaces its file per iteration.
const PASSES: usize = 4;

fn bench_concurrent(c: &mut Criterion) {
    let payload = payload(FILE_BYTES);
    let mut group = c.benchmark_group("concurrent/16x1KiB");
    group
        .throughput(Throughput::Elements((THREADS * PASSES) as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    for contender in Contender::ALL {
        let dir = common::scratch_dir("concurrent-");
        let files = files_in(dir.path());
        for file in &files {
            std::fs::write(file, &payload).expect("seed the targets with the old version");
        }
        group.bench_function(contender.name(), |bencher| {
            bencher.iter(|| {
                contender
                    .run(&files, PASSES, &payload)
                    .expect("benchmarked writes")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_concurrent);
criterion_main!(benches);
