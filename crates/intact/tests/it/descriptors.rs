//! A batch succeeds at any `RLIMIT_NOFILE` that lets one write succeed, however many
//! descriptors the application already holds and however many directories the batch spans.

use std::path::{Path, PathBuf};

use intact::{Batch, Durability, Options, Temp};

use crate::util::{TestDir, child_arg, child_role, report, spawn_child};

const FILES: usize = 1000;
const DIRECTORIES: usize = 250;
const LOW_LIMIT: &str = "batch-at-a-low-descriptor-limit";
const TEST: &str = "descriptors::a_batch_succeeds_at_any_limit_that_one_write_succeeds_at";

/// (soft RLIMIT_NOFILE, descriptors the application holds) of the report.
const CASES: [(u64, usize); 5] = [(16, 0), (20, 0), (24, 0), (32, 0), (64, 16)];

fn target(dir: &Path, batch: usize, index: usize) -> PathBuf {
    dir.join(format!("d{:03}/b{batch}-{index:04}", index % DIRECTORIES))
}

#[test]
fn a_batch_succeeds_at_any_limit_that_one_write_succeeds_at() {
    if child_role().as_deref() == Some(LOW_LIMIT) {
        return batches_under_the_limit();
    }
    let dir = TestDir::new("nofile");
    for (limit, held) in CASES {
        let case = dir.join(format!("limit-{limit}-held-{held}"));
        for d in 0..DIRECTORIES {
            std::fs::create_dir_all(case.join(format!("d{d:03}"))).unwrap();
        }
        // Half the targets exist (replaced), half are new.
        for index in (0..FILES).step_by(2) {
            std::fs::write(target(&case, 0, index), b"old").unwrap();
        }
        let (limit_text, held_text) = (limit.to_string(), held.to_string());
        let args = [
            ("DIR", case.as_path()),
            ("LIMIT", Path::new(&limit_text)),
            ("HELD", Path::new(&held_text)),
        ];
        let reports = spawn_child(TEST, LOW_LIMIT, &args).finish();
        let all = format!("{FILES} of {FILES} committed");
        let expected = ["one write: ok".to_string(), all.clone(), all];
        assert_eq!(reports, expected, "limit {limit}, {held} held");
        for batch in 0..2 {
            for index in 0..FILES {
                let written = std::fs::read(target(&case, batch, index)).unwrap();
                assert_eq!(written, format!("{batch} {index}").as_bytes());
            }
        }
    }
}

/// Child: lower the soft limit, hold descriptors, then one write and two batches (fully
/// durable with unnamed temp files; named temp files, which also probe the new-file mode,
/// without fsync to keep the test short).
fn batches_under_the_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let number = |name| {
        child_arg(name)
            .into_string()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let (limit, held) = (number("LIMIT"), number("HELD"));
    let dir = PathBuf::from(child_arg("DIR"));
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, limit, hard).expect("lower RLIMIT_NOFILE");
    let _held: Vec<std::fs::File> = (0..held)
        .map(|_| std::fs::File::open("/dev/null").expect("hold a descriptor"))
        .collect();
    match intact::write(dir.join("single"), b"one") {
        Ok(()) => report("one write: ok"),
        Err(error) => report(&format!("one write: {error}")),
    }
    let full = Options::new();
    let named = Options::new()
        .temp(Temp::Named)
        .durability(Durability::None);
    for (batch, options) in [full, named].into_iter().enumerate() {
        report(&run_batch(&dir, batch, options));
    }
}

fn run_batch(dir: &Path, batch: usize, options: Options) -> String {
    let mut files = Batch::with_options(options);
    for index in 0..FILES {
        let contents = format!("{batch} {index}").into_bytes();
        if let Err(error) = files.add(target(dir, batch, index), contents) {
            return format!("add {index} failed: {error}");
        }
    }
    match files.commit() {
        Ok(()) => format!("{FILES} of {FILES} committed"),
        Err(error) => format!("{} of {FILES} failed: {error}", error.failures().len()),
    }
}
