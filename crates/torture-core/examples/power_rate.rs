//! How fast the power-loss explorer judges crash states, on hand-built 64 KiB writer traces.
//!
//! `cargo run --release -p torture-core --example power_rate`

use std::time::Instant;

use torture_core::oracle::TargetState;
use torture_core::power::{
    AckSelect, Exploration, Explorer, Model, PowerOptions, ack_point, exact_classifier,
};
use torture_core::trace::{Ack, AckKind, ExitStatus, InitialState, Op, Trace, WriteSync};

const SIZE_BYTES: usize = 64 << 10;
const CHUNK_BYTES: usize = 8 << 10;

fn open(path: &str, created: bool, truncated: bool) -> Op {
    Op::Open {
        path: path.into(),
        ino: None,
        flags: 0,
        created,
        truncated,
        tmpfile: false,
        directory: false,
        append: false,
        excl: created,
        sync: WriteSync::No,
    }
}

fn write(path: &str, offset: usize, data: &[u8]) -> Op {
    Op::Write {
        path: path.into(),
        ino: None,
        fd: 3,
        offset_bytes: offset as u64,
        len_bytes: data.len() as u64,
        data: data.to_vec(),
        sync: WriteSync::No,
    }
}

/// A writer of `SIZE_BYTES` of new content, in place or through a temp file and a rename.
fn writer(in_place: bool, chunk_bytes: usize) -> Trace {
    let new: Vec<u8> = (0..SIZE_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    let mut trace = Trace::new("/sb".into(), vec!["writer".into()]);
    trace.header.target = Some("t.json".into());
    trace.header.initial = Some(InitialState::Old {
        data: b"{\"old\": true}".to_vec(),
    });
    let file = if in_place { "t.json" } else { ".t.json.tmp" };
    trace.push(1, "openat", 3, open(file, !in_place, in_place));
    for (i, chunk) in new.chunks(chunk_bytes).enumerate() {
        trace.push(
            1,
            "write",
            chunk.len() as i64,
            write(file, i * chunk_bytes, chunk),
        );
    }
    trace.push(
        1,
        "close",
        0,
        Op::Close {
            path: file.into(),
            ino: None,
            fd: 3,
        },
    );
    if !in_place {
        let rename = Op::Rename {
            from: file.into(),
            to: "t.json".into(),
            noreplace: false,
            exchange: false,
            from_ino: None,
            to_ino: None,
        };
        trace.push(1, "rename", 0, rename);
    }
    trace.header.exit = Some(ExitStatus::Code(0));
    trace.header.acks.push(Ack {
        events_before: trace.events.len() as u64,
        kind: AckKind::Exit,
    });
    trace
}

fn run(name: &str, trace: &Trace, model: Model) -> Exploration {
    let options = PowerOptions {
        model,
        ..PowerOptions::default()
    };
    let started = Instant::now();
    let explorer = Explorer::new(trace, options).expect("the trace names its target");
    let TargetState::Regular(new) = explorer.new_version() else {
        unreachable!("a file")
    };
    let old = explorer.plan().old.clone();
    let mut classify = exact_classifier(old.as_deref(), &new);
    let ack = ack_point(&trace.header, AckSelect::Exit);
    let found = explorer.explore(ack.as_ref(), &mut classify);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<34} {model:<8} {:>8} states {:>8} distinct {:>7.3} s {:>9.0} states/s  {:>6} violating  {}",
        found.states_checked,
        found.distinct_states,
        secs,
        found.states_checked as f64 / secs,
        found.violating_states,
        if found.exhaustive {
            "exhaustive"
        } else {
            "families+samples"
        },
    );
    found
}

fn main() {
    let temp = writer(false, CHUNK_BYTES);
    let plain = writer(true, CHUNK_BYTES);
    let temp_one_write = writer(false, SIZE_BYTES);
    let plain_one_write = writer(true, SIZE_BYTES);
    run("temp+rename, 8 KiB writes", &temp, Model::Ext4);
    run("temp+rename, 8 KiB writes", &temp, Model::Weak);
    run(
        "temp+rename, one 64 KiB write",
        &temp_one_write,
        Model::Ext4,
    );
    run(
        "temp+rename, one 64 KiB write",
        &temp_one_write,
        Model::Process,
    );
    run(
        "in place, one 64 KiB write",
        &plain_one_write,
        Model::Process,
    );
    run("in place, 8 KiB writes", &plain, Model::Process);
    let found = run("in place, 8 KiB writes", &plain, Model::Ext4);
    if let Some(finding) = found.findings.first() {
        println!("e.g. {}: {}", finding.state, finding.diagnosis.text);
    }
}
