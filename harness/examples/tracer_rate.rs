//! Trial rate of the tracer against the rate of merely spawning and reaping the same writer.
//!
//! ```text
//! cargo build --release -p intact-harness --bins --example tracer_rate
//! target/release/examples/tracer_rate [STRATEGY] [SIZE_BYTES] [TRIALS] [JOBS]
//! ```
//!
//! Defaults: `intact`, 65536 bytes, 300 trials, 1 job. Each trial (traced or not) gets a fresh
//! sandbox seeded with the old version, exactly as a campaign trial does; sandbox setup is in
//! both figures. Kill points are spread evenly over the golden run's kill space.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use intact_harness::killpoint::KillPoint;
use intact_harness::payload::payload;
use intact_harness::tracer::{self, RunLimits, TrialEnd, WriterCommand};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let strategy = args.first().cloned().unwrap_or_else(|| "intact".into());
    let size: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64 * 1024);
    let trials: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let jobs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let writer = writer_binary();
    let root = std::env::temp_dir().join(format!("tracer-rate-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("scratch dir");
    let old = payload(size, 1);
    let command = |sandbox: &Path| WriterCommand {
        program: writer.clone(),
        args: vec![
            strategy.clone().into(),
            "--size".into(),
            size.to_string().into(),
        ],
        env: vec![
            (
                OsString::from("TORTURE_TARGET"),
                sandbox.join("target.json").into_os_string(),
            ),
            (OsString::from("TORTURE_GENERATION"), OsString::from("2")),
        ],
    };
    let limits = RunLimits {
        timeout_ms: 10_000,
        cancel: Arc::new(AtomicBool::new(false)),
    };

    let sandbox = fresh(&root, "golden", &old);
    let started = Instant::now();
    let golden = tracer::record_golden(&command(&sandbox), &sandbox, &limits).expect("golden run");
    if std::env::var_os("TRACER_RATE_DUMP").is_some() {
        std::io::Write::write_all(&mut std::io::stdout(), &golden.trace.to_jsonl())
            .expect("stdout");
        for b in &golden.space.boundaries {
            println!("boundary {} {:?} {} {}", b.index, b.when, b.syscall, b.path);
        }
    }
    println!(
        "golden: {:.1} ms, {} bytes, {} boundaries, {} events, exit {}",
        started.elapsed().as_secs_f64() * 1e3,
        golden.space.total_bytes,
        golden.space.boundaries.len(),
        golden.trace.events.len(),
        golden.exit_code
    );
    let points = golden.space.sample(trials as u64, 42);

    let untraced = per_second(trials, jobs, |i| {
        let sandbox = fresh(&root, &format!("plain-{i}"), &old);
        let cmd = command(&sandbox);
        let status = Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&sandbox)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("spawn");
        assert!(status.success());
        std::fs::remove_dir_all(&sandbox).expect("cleanup");
    });
    // The floor of any trial: a process that starts and exits at once, in a fresh sandbox.
    let noop = per_second(trials, jobs, |i| {
        let sandbox = fresh(&root, &format!("noop-{i}"), &old);
        let status = Command::new(&writer)
            .arg("--help")
            .current_dir(&sandbox)
            .stdout(Stdio::null())
            .status();
        assert!(status.expect("spawn").success());
        std::fs::remove_dir_all(&sandbox).expect("cleanup");
    });
    let traced = per_second(points.len(), jobs, |i| {
        let sandbox = fresh(&root, &format!("trial-{i}"), &old);
        let end =
            tracer::run_to_kill(&command(&sandbox), &sandbox, points[i], &limits).expect("trial");
        assert!(
            matches!(end, TrialEnd::Killed { .. }),
            "{end:?} at {}",
            points[i]
        );
        std::fs::remove_dir_all(&sandbox).expect("cleanup");
    });
    let bytes = points
        .iter()
        .filter(|p| matches!(p, KillPoint::Byte(_)))
        .count();
    println!(
        "spawn+reap (whole write): {untraced:.0}/s   spawn+reap (--help): {noop:.0}/s   run_to_kill: {traced:.0}/s"
    );
    println!(
        "ratio to whole write: {:.2}   ratio to --help: {:.2}",
        traced / untraced,
        traced / noop
    );
    println!(
        "({} trials: {bytes} byte points, {} boundary points; {jobs} job(s))",
        points.len(),
        points.len() - bytes
    );
    std::fs::remove_dir_all(&root).expect("cleanup");
}

fn per_second(count: usize, jobs: usize, run: impl Fn(usize) + Sync) -> f64 {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    run(i);
                }
            });
        }
    });
    count as f64 / started.elapsed().as_secs_f64()
}

fn fresh(root: &Path, name: &str, old: &[u8]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("sandbox");
    std::fs::write(dir.join("target.json"), old).expect("old version");
    dir
}

fn writer_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let writer = dir.join("torture-writer");
    assert!(
        writer.exists(),
        "{} not found: build it first (cargo build --release -p intact-harness --bins)",
        writer.display()
    );
    writer
}
