//! Trial rate of the tracer against the rate of merely spawning and reaping the same writer.
//!
//! ```text
//! cargo build --release -p torture --bins --example tracer_rate
//! target/release/examples/tracer_rate [STRATEGY] [SIZE_BYTES] [TRIALS] [JOBS]
//! ```
//!
//! Defaults: `intact`, 65536 bytes, 300 trials, 1 job. Each run (traced or not) gets a fresh
//! sandbox seeded with the old version, as a campaign trial does; sandbox setup is in every
//! figure. Kill points are drawn from the golden run's kill space (`KillSpace::sample`). The
//! three kinds of run are interleaved trial by trial, so a busy machine slows them alike; each
//! kind's rate is `jobs / mean latency`. `TRACER_RATE_DUMP=1` also prints the golden trace.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use torture_engine::killpoint::KillPoint;
use torture_engine::payload::payload;
use torture_engine::tracer::{self, GoldenRun, Outcome, RunLimits, WriterCommand};

struct Setup {
    writer: PathBuf,
    strategy: String,
    size: usize,
    root: PathBuf,
    old: Vec<u8>,
    limits: RunLimits,
}

impl Setup {
    fn command(&self, sandbox: &Path) -> WriterCommand {
        WriterCommand {
            program: self.writer.clone(),
            args: vec![
                self.strategy.clone().into(),
                "--size".into(),
                self.size.to_string().into(),
            ],
            env: vec![
                (
                    OsString::from("TORTURE_TARGET"),
                    sandbox.join("target.json").into_os_string(),
                ),
                (OsString::from("TORTURE_GENERATION"), OsString::from("2")),
            ],
        }
    }

    fn fresh(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("sandbox");
        std::fs::write(dir.join("target.json"), &self.old).expect("old version");
        dir
    }

    /// The whole write, untraced.
    fn untraced(&self, i: usize) {
        let sandbox = self.fresh(&format!("plain-{i}"));
        let cmd = self.command(&sandbox);
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
    }

    /// The floor of any trial: the binary starts and exits at once.
    fn noop(&self, i: usize) {
        let sandbox = self.fresh(&format!("noop-{i}"));
        let status = Command::new(&self.writer)
            .arg("--help")
            .current_dir(&sandbox)
            .stdout(Stdio::null())
            .status();
        assert!(status.expect("spawn").success());
        std::fs::remove_dir_all(&sandbox).expect("cleanup");
    }

    fn trial(&self, i: usize, point: KillPoint) {
        let sandbox = self.fresh(&format!("trial-{i}"));
        let end = tracer::run_to_kill(&self.command(&sandbox), &sandbox, point, &self.limits)
            .expect("trial")
            .outcome;
        assert!(matches!(end, Outcome::Killed { .. }), "{end:?} at {point}");
        std::fs::remove_dir_all(&sandbox).expect("cleanup");
    }

    fn golden(&self) -> GoldenRun {
        let sandbox = self.fresh("golden");
        let started = Instant::now();
        let golden = tracer::record_golden(
            &self.command(&sandbox),
            &sandbox,
            Path::new("target.json"),
            &self.limits,
        )
        .expect("golden run");
        if std::env::var_os("TRACER_RATE_DUMP").is_some() {
            print!("{}", String::from_utf8_lossy(&golden.trace.to_jsonl()));
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
        golden
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg =
        |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (size, trials, jobs) = (arg(1, 64 * 1024), arg(2, 300), arg(3, 1));
    let setup = Setup {
        writer: writer_binary(),
        strategy: args.first().cloned().unwrap_or_else(|| "intact".into()),
        size,
        root: std::env::temp_dir().join(format!("tracer-rate-{}", std::process::id())),
        old: payload(size, 1),
        limits: RunLimits {
            timeout_ms: 10_000,
            cancel: Arc::new(AtomicBool::new(false)),
        },
    };
    std::fs::create_dir_all(&setup.root).expect("scratch dir");
    let points = setup.golden().space.sample(trials as u64, 42);
    let [untraced, noop, traced] = rates(points.len(), jobs, |kind, i| match kind {
        0 => setup.untraced(i),
        1 => setup.noop(i),
        _ => setup.trial(i, points[i]),
    });
    let bytes = points
        .iter()
        .filter(|p| matches!(p, KillPoint::Byte(_)))
        .count();
    println!(
        "spawn+reap (whole write): {untraced:.0}/s   spawn+reap (--help): {noop:.0}/s   \
         run_to_kill: {traced:.0}/s"
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
    std::fs::remove_dir_all(&setup.root).expect("cleanup");
}

/// Runs kinds 0, 1, 2 for each index in turn on `jobs` threads; returns each kind's rate.
fn rates(count: usize, jobs: usize, run: impl Fn(usize, usize) + Sync) -> [f64; 3] {
    let next = AtomicUsize::new(0);
    let nanos = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    for (kind, total) in nanos.iter().enumerate() {
                        let started = Instant::now();
                        run(kind, i);
                        total.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    nanos.map(|n| jobs as f64 * count as f64 / (n.into_inner() as f64 / 1e9))
}

fn writer_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let writer = dir.join("torture-writer");
    assert!(
        writer.exists(),
        "{} not found: build it first (cargo build --release -p torture --bins)",
        writer.display()
    );
    writer
}
