//! Hand-built v2 traces and facts for the tests of `errors` and its modules.

use super::Injection;
use super::verdict::{ErrorsFacts, Position, TargetClass};
use crate::oracle::{Initial, RunExit};
use crate::trace::{ExitStatus, InitialState, Op, Trace, WriteSync};

pub const TARGET: &str = "target.json";
pub const NEW: &[u8] = br#"{"generation":2}"#;
pub const OLD: &[u8] = br#"{"generation":1}"#;
const PID: i32 = 40;

pub fn trace() -> Trace {
    let mut trace = Trace::new("/sb".into(), vec!["writer".into()]);
    trace.header.target = Some(TARGET.into());
    trace.header.initial = Some(InitialState::Old { data: OLD.to_vec() });
    trace
}

pub fn open(path: &str, ino: u64, created: bool, directory: bool) -> Op {
    Op::Open {
        path: path.into(),
        ino: Some(ino),
        flags: 0,
        created,
        truncated: false,
        tmpfile: false,
        directory,
        append: false,
        excl: false,
        sync: WriteSync::No,
    }
}

pub fn write(path: &str, ino: u64, offset_bytes: u64, data: &[u8]) -> Op {
    Op::Write {
        path: path.into(),
        ino: Some(ino),
        fd: 3,
        offset_bytes,
        len_bytes: data.len() as u64,
        data: data.to_vec(),
        sync: WriteSync::No,
    }
}

pub fn fsync(path: &str, ino: u64) -> Op {
    Op::Fsync {
        path: path.into(),
        ino: Some(ino),
    }
}

pub fn close(path: &str, ino: u64, fd: i32) -> Op {
    Op::Close {
        path: path.into(),
        ino: Some(ino),
        fd,
    }
}

pub fn rename(from: &str, to: &str, from_ino: u64) -> Op {
    Op::Rename {
        from: from.into(),
        to: to.into(),
        noreplace: false,
        exchange: false,
        from_ino: Some(from_ino),
        to_ino: Some(10),
    }
}

/// Temp file, fsync, rename, directory fsync: the careful writer's golden run.
/// `#0 open t.tmp, #1 write, #2 fsync t.tmp, #3 close, #4 rename, #5 open ., #6 fsync ., #7 close .`
pub fn temp_rename_writer() -> Trace {
    let mut t = trace();
    t.push(PID, "openat", 3, open("t.tmp", 20, true, false));
    t.push(PID, "write", NEW.len() as i64, write("t.tmp", 20, 0, NEW));
    t.push(PID, "fsync", 0, fsync("t.tmp", 20));
    t.push(PID, "close", 0, close("t.tmp", 20, 3));
    t.push(PID, "rename", 0, rename("t.tmp", TARGET, 20));
    t.push(PID, "openat", 4, open(".", 1, false, true));
    t.push(PID, "fsync", 0, fsync(".", 1));
    t.push(PID, "close", 0, close(".", 1, 4));
    t.header.exit = Some(ExitStatus::Code(0));
    t
}

/// The plain in-place writer: `#0 open target.json (O_TRUNC), #1 write, #2 close`.
pub fn plain_writer() -> Trace {
    let mut t = trace();
    let mut truncating = open(TARGET, 10, false, false);
    if let Op::Open { truncated, .. } = &mut truncating {
        *truncated = true;
    }
    t.push(PID, "openat", 3, truncating);
    t.push(PID, "write", NEW.len() as i64, write(TARGET, 10, 0, NEW));
    t.push(PID, "close", 0, close(TARGET, 10, 3));
    t
}

/// The faulted run of a writer that retries a failed fsync: `#2 fsync` returned `-EIO`, `#3`
/// retried it, `#5` renamed, exit 0.
pub fn fsync_retrying_run() -> Trace {
    let mut t = trace();
    t.push(PID, "openat", 3, open("t.tmp", 20, true, false));
    t.push(PID, "write", NEW.len() as i64, write("t.tmp", 20, 0, NEW));
    t.push(PID, "fsync", -5, fsync("t.tmp", 20));
    t.push(PID, "fsync", 0, fsync("t.tmp", 20));
    t.push(PID, "close", 0, close("t.tmp", 20, 3));
    t.push(PID, "rename", 0, rename("t.tmp", TARGET, 20));
    t.header.exit = Some(ExitStatus::Code(0));
    t
}

pub fn injection(text: &str) -> Injection {
    text.parse().expect("a test injection")
}

/// Facts of a clean run: the writer exited 0 leaving the new version, power-safe, recovered.
pub fn clean_facts(text: &str) -> ErrorsFacts {
    ErrorsFacts {
        injection: injection(text),
        position: Position::BeforePublish,
        initial: Initial::Old,
        exit: RunExit::Code(0),
        ack_line: None,
        target: TargetClass::New,
        power_safe: Some(true),
        recovery: None,
        leftovers: 0,
        strict: false,
    }
}

/// Arbitrary traces for proptests: a handful of files inside and outside the sandbox, every
/// injectable family and some that are not, calls that succeed and calls that fail. The events
/// are not always consistent (a write may name another inode than its open); the functions under
/// test must cope.
pub fn arb_trace() -> impl proptest::strategy::Strategy<Value = Trace> {
    use proptest::prelude::*;
    let path = prop_oneof![Just("t.tmp"), Just(TARGET), Just("."), Just("/tmp/outside")];
    let event = (0u8..12, path, 1u64..4, any::<bool>(), 0usize..6);
    proptest::collection::vec(event, 0..24).prop_map(|events| {
        let mut t = trace();
        for (op, path, ino, fails, len) in events {
            let (syscall, ok_ret, op) = arb_op(op, path, ino, len);
            let ret = if fails { -5 } else { ok_ret };
            t.push(PID, syscall, ret, op);
        }
        t
    })
}

fn arb_op(which: u8, path: &str, ino: u64, len: usize) -> (&'static str, i64, Op) {
    let data = vec![b'x'; len];
    match which {
        0 => ("openat", 3, open(path, ino, len % 2 == 0, false)),
        1 => ("pwrite64", len as i64, write(path, ino, 0, &data)),
        2 => ("copy_file_range", len as i64, write(path, ino, 4, &data)),
        3 => ("fsync", 0, fsync(path, ino)),
        4 => (
            "fdatasync",
            0,
            Op::Fdatasync {
                path: path.into(),
                ino: None,
            },
        ),
        5 => ("renameat2", 0, rename(path, TARGET, ino)),
        6 => ("close", 0, close(path, ino, 3)),
        7 => (
            "unlinkat",
            0,
            Op::Unlink {
                path: path.into(),
                ino: Some(ino),
            },
        ),
        8 => ("sync", 0, Op::Sync),
        9 => (
            "ftruncate",
            0,
            Op::Truncate {
                path: path.into(),
                ino: Some(ino),
                len_bytes: 0,
            },
        ),
        10 => (
            "linkat",
            0,
            Op::Link {
                from: format!("#{ino}"),
                from_ino: Some(ino),
                to: path.into(),
            },
        ),
        _ => (
            "mkdirat",
            0,
            Op::Mkdir {
                path: path.into(),
                mode: 0o755,
            },
        ),
    }
}
