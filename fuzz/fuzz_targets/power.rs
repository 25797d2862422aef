//! The power-loss explorer over random traces: it never panics, every state it builds replays,
//! and every finding's id replays under the explorer's own model check.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use torture_core::power::{
    AckSelect, Explorer, Fill, Model, PowerOptions, TargetClass, Torn, ack_point,
};
use torture_core::trace::{Ack, AckKind, InitialState, Op, Trace, WriteSync};

const NAMES: [&str; 5] = ["t", "a", "d/b", "d", "#7"];

#[derive(Debug, Arbitrary)]
enum FuzzOp {
    Open {
        name: u8,
        created: bool,
        truncated: bool,
        tmpfile: bool,
    },
    Write {
        name: u8,
        offset: u16,
        len: u16,
        sync: u8,
    },
    Fsync {
        name: u8,
        data_only: bool,
    },
    Rename {
        from: u8,
        to: u8,
        exchange: bool,
    },
    Link {
        from: u8,
        to: u8,
    },
    Unlink {
        name: u8,
    },
    Mkdir,
    Rmdir,
    Truncate {
        name: u8,
        len: u16,
    },
    Fallocate {
        name: u8,
        mode: u8,
        offset: u16,
        len: u16,
    },
    Sync,
    Syncfs,
    Failed,
}

#[derive(Debug, Arbitrary)]
struct Input {
    old: Option<Vec<u8>>,
    ops: Vec<FuzzOp>,
    ack_at: Option<u8>,
    model: u8,
    torn: u8,
    garbage: bool,
    seed: u64,
}

fn name(n: u8) -> String {
    NAMES[usize::from(n) % NAMES.len()].to_owned()
}

fn event(op: &FuzzOp) -> (&'static str, i64, Op) {
    match *op {
        FuzzOp::Open {
            name: n,
            created,
            truncated,
            tmpfile,
        } => {
            let op = Op::Open {
                path: name(n),
                ino: Some(u64::from(n)),
                flags: 0,
                created,
                truncated: truncated && !created,
                tmpfile,
                directory: false,
                append: false,
                excl: false,
                sync: WriteSync::No,
            };
            ("openat", 3, op)
        }
        FuzzOp::Write {
            name: n,
            offset,
            len,
            sync,
        } => {
            let len = usize::from(len % 9000);
            let sync = [WriteSync::No, WriteSync::Data, WriteSync::Full][usize::from(sync % 3)];
            let op = Op::Write {
                path: name(n),
                ino: Some(u64::from(n)),
                fd: 3,
                offset_bytes: u64::from(offset),
                len_bytes: len as u64,
                data: vec![b'x'; len],
                sync,
            };
            ("pwrite64", len as i64, op)
        }
        FuzzOp::Fsync {
            name: n,
            data_only: false,
        } => (
            "fsync",
            0,
            Op::Fsync {
                path: name(n),
                ino: None,
            },
        ),
        FuzzOp::Fsync {
            name: n,
            data_only: true,
        } => (
            "fdatasync",
            0,
            Op::Fdatasync {
                path: name(n),
                ino: Some(u64::from(n)),
            },
        ),
        FuzzOp::Rename { from, to, exchange } => (
            "renameat2",
            0,
            Op::Rename {
                from: name(from),
                to: name(to),
                noreplace: false,
                exchange,
                from_ino: None,
                to_ino: None,
            },
        ),
        FuzzOp::Link { from, to } => (
            "linkat",
            0,
            Op::Link {
                from: name(from),
                from_ino: None,
                to: name(to),
            },
        ),
        FuzzOp::Unlink { name: n } => (
            "unlink",
            0,
            Op::Unlink {
                path: name(n),
                ino: None,
            },
        ),
        FuzzOp::Mkdir => (
            "mkdir",
            0,
            Op::Mkdir {
                path: "d".into(),
                mode: 0o755,
            },
        ),
        FuzzOp::Rmdir => ("rmdir", 0, Op::Rmdir { path: "d".into() }),
        FuzzOp::Truncate { name: n, len } => (
            "ftruncate",
            0,
            Op::Truncate {
                path: name(n),
                ino: None,
                len_bytes: u64::from(len),
            },
        ),
        FuzzOp::Fallocate {
            name: n,
            mode,
            offset,
            len,
        } => (
            "fallocate",
            0,
            Op::Fallocate {
                path: name(n),
                ino: None,
                mode: i32::from(mode),
                offset_bytes: u64::from(offset),
                len_bytes: u64::from(len),
            },
        ),
        FuzzOp::Sync => ("sync", 0, Op::Sync),
        FuzzOp::Syncfs => (
            "syncfs",
            0,
            Op::Syncfs {
                path: Some(".".into()),
            },
        ),
        FuzzOp::Failed => (
            "unlink",
            -2,
            Op::Unlink {
                path: "t".into(),
                ino: None,
            },
        ),
    }
}

fuzz_target!(|input: Input| {
    let mut trace = Trace::new("/sb".into(), vec!["w".into()]);
    trace.header.target = Some("t".into());
    trace.header.initial = Some(match input.old {
        Some(data) => InitialState::Old { data },
        None => InitialState::Absent,
    });
    for op in input.ops.iter().take(24) {
        let (syscall, ret, op) = event(op);
        trace.push(1, syscall, ret, op);
    }
    if let Some(at) = input.ack_at {
        let events_before = u64::from(at).min(trace.events.len() as u64);
        trace.header.acks.push(Ack {
            events_before,
            kind: AckKind::Exit,
        });
    }
    let options = PowerOptions {
        model: Model::ALL[usize::from(input.model) % Model::ALL.len()],
        torn: [Torn::Block, Torn::Sector, Torn::Bytes(8), Torn::None][usize::from(input.torn) % 4],
        fill: if input.garbage {
            Fill::Garbage
        } else {
            Fill::Zeros
        },
        max_states: 64,
        seed: input.seed,
        budget_ms: None,
        partition: None,
        max_findings: 4,
        lost_writes: Default::default(),
    };
    let explorer = Explorer::new(&trace, options).expect("the header names the target");
    explorer.for_each_state(&mut |state| {
        if let Err(error) = explorer.replay(state) {
            panic!("the explorer built {state}, which its own check refuses: {error}");
        }
    });
    let new = explorer.new_version();
    let ack = ack_point(&trace.header, AckSelect::Exit);
    let found = explorer.explore(ack.as_ref(), &mut |state| {
        if *state == new {
            TargetClass::New
        } else {
            TargetClass::Torn
        }
    });
    assert!(found.distinct_states <= found.states_checked);
    for finding in &found.findings {
        let id = finding.state.to_string();
        assert_eq!(id.parse().ok().as_ref(), Some(&finding.state), "{id}");
        assert!(explorer.replay(&finding.state).is_ok(), "{id}");
    }
});
