use proptest::prelude::*;

use super::*;
use crate::errors::fixtures::{
    self, arb_trace, fsync, fsync_retrying_run, temp_rename_writer, write,
};

fn seqs(set: &BTreeSet<u64>) -> Vec<u64> {
    set.iter().copied().collect()
}

#[test]
fn a_failed_fsync_drops_the_writes_before_it_even_when_retried() {
    let run = fsync_retrying_run();
    assert_eq!(
        fsyncgate_lost_writes(&run, 2).map(|s| seqs(&s)),
        Ok(vec![1])
    );
}

#[test]
fn an_earlier_successful_barrier_protects_what_it_covered() {
    let mut t = fixtures::trace();
    t.push(1, "write", 2, write("t.tmp", 20, 0, b"ab"));
    t.push(1, "fsync", 0, fsync("t.tmp", 20));
    t.push(1, "write", 2, write("t.tmp", 20, 2, b"cd"));
    t.push(1, "write", 2, write("other", 21, 0, b"ef"));
    t.push(1, "fsync", -5, fsync("t.tmp", 20));
    t.push(1, "write", 2, write("t.tmp", 20, 4, b"gh"));
    assert_eq!(fsyncgate_lost_writes(&t, 4).map(|s| seqs(&s)), Ok(vec![2]));
}

#[test]
fn failed_barriers_do_not_protect_and_sync_does() {
    let mut t = fixtures::trace();
    t.push(1, "write", 2, write("a", 5, 0, b"ab"));
    t.push(1, "sync", 0, Op::Sync);
    t.push(1, "write", 2, write("a", 5, 2, b"cd"));
    t.push(1, "fsync", -5, fsync("a", 5));
    t.push(
        1,
        "syncfs",
        -5,
        Op::Syncfs {
            path: Some(".".into()),
        },
    );
    t.push(1, "write", 2, write("a", 5, 4, b"ef"));
    t.push(
        1,
        "fdatasync",
        -5,
        Op::Fdatasync {
            path: "a".into(),
            ino: Some(5),
        },
    );
    assert_eq!(
        fsyncgate_lost_writes(&t, 6).map(|s| seqs(&s)),
        Ok(vec![2, 5]),
        "the failed fsync and syncfs are no barrier; sync is"
    );
}

#[test]
fn synchronous_writes_are_never_lost_and_files_match_by_inode_then_path() {
    let mut t = fixtures::trace();
    let mut dsync = write("t.tmp", 20, 0, b"ab");
    if let Op::Write { sync, .. } = &mut dsync {
        *sync = WriteSync::Data;
    }
    t.push(1, "pwrite64", 2, dsync);
    t.push(1, "write", 2, write("renamed-since", 20, 2, b"cd"));
    t.push(1, "write", 2, write("t.tmp", 99, 4, b"ef"));
    t.push(
        1,
        "write",
        2,
        Op::Write {
            path: "t.tmp".into(),
            ino: None,
            fd: 3,
            offset_bytes: 6,
            len_bytes: 2,
            data: b"gh".to_vec(),
            sync: WriteSync::No,
        },
    );
    t.push(1, "fsync", -5, fsync("t.tmp", 20));
    assert_eq!(
        fsyncgate_lost_writes(&t, 4).map(|s| seqs(&s)),
        Ok(vec![1, 3])
    );
}

#[test]
fn the_event_must_be_a_failed_fsync() {
    let golden = temp_rename_writer();
    assert_eq!(
        fsyncgate_lost_writes(&golden, 2),
        Err(GateError::DidNotFail { seq: 2, ret: 0 })
    );
    assert!(matches!(
        fsyncgate_lost_writes(&golden, 1),
        Err(GateError::NotAnFsync { seq: 1, .. })
    ));
    assert_eq!(
        fsyncgate_lost_writes(&golden, 99),
        Err(GateError::NoSuchEvent { seq: 99 })
    );
    assert_eq!(
        fsyncgate_lost_writes(&golden, u64::MAX),
        Err(GateError::NoSuchEvent { seq: u64::MAX })
    );
    assert!(unsynced_writes(&golden.events, 99).is_empty());
    assert_eq!(seqs(&unsynced_writes(&golden.events, 2)), [1]);
}

proptest! {
    #[test]
    fn lost_writes_are_earlier_buffered_writes(trace in arb_trace(), seq in 0u64..30) {
        if let Ok(lost) = fsyncgate_lost_writes(&trace, seq) {
            for s in lost {
                prop_assert!(s < seq);
                let event = &trace.events[s as usize];
                let is_write = matches!(event.op, Op::Write { sync: WriteSync::No, .. });
                prop_assert!(is_write && event.ret > 0);
            }
        }
    }
}
