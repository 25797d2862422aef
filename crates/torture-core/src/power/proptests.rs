//! Property tests: random traces never panic the explorer, and an independent checker, reading
//! only the raw trace events, confirms every state the explorer builds obeys its model.

use proptest::prelude::*;

use super::*;
use crate::trace::{Op, Trace, WriteSync};

const NAMES: [&str; 4] = ["t", "a", "d/b", "d"];

#[derive(Debug, Clone)]
pub(super) enum Gen {
    Create(usize),
    Write(usize, u64, usize, bool),
    Fsync(usize),
    FsyncDir(bool),
    Rename(usize, usize),
    Link(usize, usize),
    Unlink(usize),
    Truncate(usize, u64),
    Mkdir,
    Sync,
    Fail,
}

fn gen_op() -> impl Strategy<Value = Gen> {
    gen_op_up_to(9000)
}

/// An operation whose writes are shorter than `max_len_bytes`.
pub(super) fn gen_op_up_to(max_len_bytes: usize) -> impl Strategy<Value = Gen> {
    let name = 0usize..3;
    prop_oneof![
        name.clone().prop_map(Gen::Create),
        (
            name.clone(),
            0u64..9000,
            1usize..max_len_bytes,
            any::<bool>()
        )
            .prop_map(|(n, o, l, s)| Gen::Write(n, o, l, s && l % 7 == 0)),
        name.clone().prop_map(Gen::Fsync),
        any::<bool>().prop_map(Gen::FsyncDir),
        (name.clone(), name.clone()).prop_map(|(a, b)| Gen::Rename(a, b)),
        (name.clone(), name.clone()).prop_map(|(a, b)| Gen::Link(a, b)),
        name.clone().prop_map(Gen::Unlink),
        (name, 0u64..9000).prop_map(|(n, l)| Gen::Truncate(n, l)),
        Just(Gen::Mkdir),
        Just(Gen::Sync),
        Just(Gen::Fail),
    ]
}

/// Builds a trace; recorded inode numbers follow names, so the checker can use them.
pub(super) fn build(ops: &[Gen], old: bool) -> Trace {
    let mut trace = Trace::new("/sb".into(), vec!["w".into()]);
    trace.header.target = Some("t".into());
    trace.header.initial = Some(if old {
        crate::trace::InitialState::Old {
            data: b"old".to_vec(),
        }
    } else {
        crate::trace::InitialState::Absent
    });
    let mut inos = [1u64, 2, 3];
    let mut next = 10;
    for op in ops {
        let (syscall, ret, op) = match *op {
            Gen::Create(n) => {
                next += 1;
                inos[n] = next;
                let op = Op::Open {
                    path: NAMES[n].into(),
                    ino: Some(next),
                    flags: 0,
                    created: true,
                    truncated: false,
                    tmpfile: false,
                    directory: false,
                    append: false,
                    excl: false,
                    sync: WriteSync::No,
                };
                ("openat", 3, op)
            }
            Gen::Write(n, offset_bytes, len, sync) => {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let sync = if sync { WriteSync::Data } else { WriteSync::No };
                (
                    "pwrite64",
                    len as i64,
                    Op::Write {
                        path: NAMES[n].into(),
                        ino: Some(inos[n]),
                        fd: 3,
                        offset_bytes,
                        len_bytes: len as u64,
                        data,
                        sync,
                    },
                )
            }
            Gen::Fsync(n) => (
                "fsync",
                0,
                Op::Fsync {
                    path: NAMES[n].into(),
                    ino: Some(inos[n]),
                },
            ),
            Gen::FsyncDir(sub) => (
                "fsync",
                0,
                Op::Fsync {
                    path: if sub { "d" } else { "." }.into(),
                    ino: None,
                },
            ),
            Gen::Rename(a, b) => {
                inos[b] = inos[a];
                (
                    "rename",
                    0,
                    Op::Rename {
                        from: NAMES[a].into(),
                        to: NAMES[b].into(),
                        noreplace: false,
                        exchange: false,
                        from_ino: Some(inos[a]),
                        to_ino: None,
                    },
                )
            }
            Gen::Link(a, b) => {
                inos[b] = inos[a];
                (
                    "linkat",
                    0,
                    Op::Link {
                        from: NAMES[a].into(),
                        from_ino: Some(inos[a]),
                        to: NAMES[b].into(),
                    },
                )
            }
            Gen::Unlink(n) => (
                "unlink",
                0,
                Op::Unlink {
                    path: NAMES[n].into(),
                    ino: Some(inos[n]),
                },
            ),
            Gen::Truncate(n, len_bytes) => (
                "ftruncate",
                0,
                Op::Truncate {
                    path: NAMES[n].into(),
                    ino: Some(inos[n]),
                    len_bytes,
                },
            ),
            Gen::Mkdir => (
                "mkdir",
                0,
                Op::Mkdir {
                    path: NAMES[3].into(),
                    mode: 0o755,
                },
            ),
            Gen::Sync => ("sync", 0, Op::Sync),
            Gen::Fail => (
                "unlink",
                -2,
                Op::Unlink {
                    path: NAMES[0].into(),
                    ino: None,
                },
            ),
        };
        trace.push(1, syscall, ret, op);
    }
    trace
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or(".", |(dir, _)| dir)
}

fn is_dir_op(op: &Op) -> bool {
    matches!(
        op,
        Op::Open { created: true, .. }
            | Op::Rename { .. }
            | Op::Link { .. }
            | Op::Unlink { .. }
            | Op::Mkdir { .. }
    )
}

fn data_ino(op: &Op) -> Option<u64> {
    if let Op::Write { ino, .. } | Op::Truncate { ino, .. } = op {
        *ino
    } else {
        None
    }
}

/// Whether event `later` makes event `earlier` durable, read off the raw events.
fn covers(trace: &Trace, later: usize, earlier: usize) -> bool {
    let (a, b) = (&trace.events[earlier], &trace.events[later]);
    if b.ret < 0 {
        return false;
    }
    let same_file = |ino: &Option<u64>| data_ino(&a.op).is_some() && data_ino(&a.op) == *ino;
    if let Op::Fsync { path, ino: None } = &b.op {
        // A link changes only the directory of its new name.
        let names = if let Op::Link { to, .. } = &a.op {
            vec![to.as_str()]
        } else {
            a.op.paths()
        };
        return is_dir_op(&a.op) && names.iter().any(|p| parent(p) == path);
    }
    if let Op::Fsync { ino, .. } = &b.op {
        return same_file(ino);
    }
    if let Op::Write {
        ino,
        sync: WriteSync::Data | WriteSync::Full,
        ..
    } = &b.op
    {
        return same_file(ino);
    }
    matches!(b.op, Op::Sync)
}

/// Under `process`: nothing lost, at most the crash event's write torn inside.
fn obeys_process(trace: &Trace, state: &CrashState) -> Result<(), String> {
    if !state.dropped.is_empty() {
        return Err("process lost something".into());
    }
    let Some(p) = state.partial else {
        return Ok(());
    };
    let len = if let Op::Write { data, .. } = &trace.events[p.seq].op {
        data.len() as u64
    } else {
        0
    };
    if p.seq + 1 == state.events && p.kept > 0 && p.kept < len && !p.fill {
        Ok(())
    } else {
        Err(format!("process tore {p:?}"))
    }
}

/// The rules of `model`, checked on the raw trace.
fn obeys(trace: &Trace, model: Model, state: &CrashState) -> Result<(), String> {
    let n = state.events;
    if n > trace.events.len() {
        return Err("crash point past the trace".into());
    }
    if model == Model::Process {
        return obeys_process(trace, state);
    }
    for &d in &state.dropped {
        let event = &trace.events[d];
        let losable = event.ret >= 0
            && (is_dir_op(&event.op)
                || matches!(
                    &event.op,
                    Op::Write {
                        sync: WriteSync::No,
                        ..
                    } | Op::Truncate { .. }
                ));
        if !losable {
            return Err(format!("#{d} ({}) cannot be lost", event.syscall));
        }
        if let Some(b) = (d + 1..n).find(|&b| covers(trace, b, d)) {
            return Err(format!("#{d} was lost though #{b} made it durable"));
        }
    }
    if model.follows(RuleId::DirOpsInOrder) {
        let dir_ops: Vec<usize> = (0..n)
            .filter(|&i| trace.events[i].ret >= 0 && is_dir_op(&trace.events[i].op))
            .collect();
        let kept_after_lost = dir_ops
            .iter()
            .skip_while(|i| !state.dropped.contains(i))
            .any(|i| !state.dropped.contains(i));
        if kept_after_lost {
            return Err("directory operations kept after a lost one".into());
        }
        // A lost directory operation: no later durable one (a dir fsync covering a later op).
        for &d in state
            .dropped
            .iter()
            .filter(|&&d| is_dir_op(&trace.events[d].op))
        {
            if dir_ops
                .iter()
                .any(|&j| j > d && (j + 1..n).any(|b| covers(trace, b, j)))
            {
                return Err(format!(
                    "#{d} lost though a later directory operation is durable"
                ));
            }
        }
    }
    if let Some(p) = state.partial {
        let event = &trace.events[p.seq].op;
        if let Op::Write {
            offset_bytes, data, ..
        } = event
        {
            let boundary = (offset_bytes + p.kept) % 4096 == 0 || (p.kept == 0 && p.fill);
            if !boundary || p.kept >= data.len() as u64 {
                return Err(format!("torn off a block boundary: {p:?}"));
            }
        } else if !(model == Model::Weak && matches!(event, Op::Rename { .. })) {
            return Err(format!("tore #{}", p.seq));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_state_obeys_its_model(ops in proptest::collection::vec(gen_op(), 0..10), old in any::<bool>(), model in proptest::sample::select(Model::ALL.to_vec()), max in 1u64..400) {
        let trace = build(&ops, old);
        let options = PowerOptions { model, max_states: max, ..PowerOptions::default() };
        let explorer = Explorer::new(&trace, options).unwrap();
        let mut failure = None;
        let mut count = 0u64;
        explorer.for_each_state(&mut |state| {
            count += 1;
            if failure.is_none() {
                if let Err(why) = obeys(&trace, model, state) {
                    failure = Some(format!("{state}: {why}"));
                } else if let Err(e) = explorer.replay(state) {
                    failure = Some(format!("{state}: the explorer's own check refuses it: {e}"));
                }
            }
        });
        prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
        prop_assert!(count >= 1);
    }

    #[test]
    fn random_traces_never_panic(ops in proptest::collection::vec(gen_op(), 0..14), old in any::<bool>(), model in proptest::sample::select(Model::ALL.to_vec()), fill in prop_oneof![Just(Fill::Zeros), Just(Fill::Garbage)]) {
        let trace = build(&ops, old);
        let options = PowerOptions { model, fill, max_states: 300, ..PowerOptions::default() };
        let explorer = Explorer::new(&trace, options).unwrap();
        let new = explorer.new_version();
        let found = explorer.explore(ack_point(&trace.header, AckSelect::Exit).as_ref(), &mut |state| {
            if *state == new { TargetClass::New } else { TargetClass::Torn }
        });
        prop_assert!(found.distinct_states <= found.states_checked);
        for finding in &found.findings {
            prop_assert!(finding.diagnosis.text.contains("Fix: "));
            prop_assert!(explorer.replay(&finding.state).is_ok());
        }
    }

    /// Explorations that share a memo (one per model, in turn, as `torture power` runs them)
    /// find what each finds alone.
    #[test]
    fn a_shared_memo_changes_no_exploration(ops in proptest::collection::vec(gen_op(), 0..10), old in any::<bool>(), max in 1u64..400) {
        let trace = build(&ops, old);
        let options = PowerOptions { max_states: max, ..PowerOptions::default() };
        let explorer = Explorer::new(&trace, options).unwrap();
        let new = explorer.new_version();
        let ack = ack_point(&trace.header, AckSelect::Exit);
        let mut classify = |state: &crate::oracle::TargetState| if *state == new { TargetClass::New } else { TargetClass::Torn };
        let mut memo = Memo::shared();
        for model in Model::ALL {
            let one = explorer.with_model(model);
            let alone = one.explore(ack.as_ref(), &mut classify);
            let shared = one.explore_with(ack.as_ref(), &mut classify, &mut memo, &|| false);
            let summary = |found: &Exploration| (
                found.states_checked,
                found.distinct_states,
                found.classes,
                found.after_ack,
                found.violating_states,
                found.findings.iter().map(|f| f.state.clone()).collect::<Vec<_>>(),
            );
            prop_assert_eq!(summary(&alone), summary(&shared), "{}", model);
        }
    }

    #[test]
    fn process_states_are_prefixes_of_program_order(ops in proptest::collection::vec(gen_op(), 0..10)) {
        let trace = build(&ops, true);
        let options = PowerOptions { model: Model::Process, ..PowerOptions::default() };
        let explorer = Explorer::new(&trace, options).unwrap();
        // Files that existed before the run (unknown contents) are part of every prefix's tree
        // only when the whole trace is lowered: compare traces that name none.
        prop_assume!(explorer.plan().notes.is_empty());
        let mut bad = None;
        explorer.for_each_state(&mut |state| {
            let mut prefix = trace.clone();
            prefix.events.truncate(state.events);
            let whole = Explorer::new(&prefix, PowerOptions::default()).unwrap().plan().final_tree();
            let tree = explorer.replay(state).unwrap();
            if state.partial.is_none() && whole.content_hash() != tree.content_hash() {
                bad = Some(state.to_string());
            }
        });
        prop_assert!(bad.is_none(), "{:?}", bad);
    }
}
