use proptest::prelude::*;

use super::fixtures::{
    self, NEW, TARGET, arb_trace, fsync, injection, plain_writer, temp_rename_writer, write,
};
use super::*;
use crate::trace::{Op, WriteSync};

fn strings(space: &[Injection]) -> Vec<String> {
    space.iter().map(Injection::to_string).collect()
}

#[test]
fn kinds_parse_by_name_in_a_fixed_order() {
    for kind in FaultKind::ALL {
        assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        assert_eq!(kind.to_string(), kind.name());
    }
    assert_eq!(
        FaultKind::parse_list("short-one, EIO,eio"),
        Ok(vec![FaultKind::Eio, FaultKind::ShortOne])
    );
    assert_eq!(FaultKind::parse_list("all"), Ok(FaultKind::ALL.to_vec()));
}

#[test]
fn bad_kind_lists_name_the_known_kinds() {
    let err = FaultKind::parse_list("eio,ebusy").unwrap_err();
    assert_eq!(
        err,
        FaultKindParseError::Unknown {
            name: "ebusy".into()
        }
    );
    let text = err.to_string();
    for kind in FaultKind::ALL {
        assert!(text.contains(kind.name()), "{text}");
    }
    assert_eq!(
        FaultKind::parse_list(" , "),
        Err(FaultKindParseError::Empty)
    );
}

#[test]
fn injections_print_and_parse_as_the_inject_flag() {
    for text in [
        "fsync#9:EIO",
        "write#5:short=1",
        "pwrite64#5:short=2048",
        "fsync#9:fsyncgate",
        "renameat2#11:ENOSPC",
        "openat#0:EDQUOT",
        "write#3:EINTR",
    ] {
        assert_eq!(injection(text).to_string(), text);
    }
    assert_eq!(injection("fsync#9:eio").to_string(), "fsync#9:EIO");
    assert_eq!(
        injection("fsync#9:EIO").replay_arg(),
        "--inject fsync#9:EIO"
    );
}

#[test]
fn bad_injections_are_errors_that_say_how_to_write_them() {
    for bad in [
        "",
        "fsync#9",
        "fsync:EIO",
        "fsync#9:EBUSY",
        "write#5:short=0",
        "write#5:short=+1",
        "write#5:short=",
        "write#5:short",
        "Fsync#9:EIO",
    ] {
        let err = bad.parse::<Injection>().unwrap_err();
        assert!(!err.to_string().is_empty(), "{bad}");
    }
}

#[test]
fn injections_become_the_injectors_faults() {
    let fault = |text: &str| injection(text).fault().to_string();
    assert_eq!(fault("fsync#9:EIO"), "errno@fsync#9:EIO");
    assert_eq!(
        fault("fsync#9:fsyncgate"),
        "errno@fsync#9:EIO",
        "fsyncgate runs as EIO; only the judging differs"
    );
    assert_eq!(fault("write#5:short=1"), "short@write#5:1");
    assert_eq!(fault("write#5:EDQUOT"), "errno@write#5:EDQUOT");
    assert_eq!(fault("write#5:EINTR"), "errno@write#5:EINTR");
}

#[test]
fn actions_belong_to_their_kinds() {
    assert_eq!(Action::Short { len_bytes: 1 }.kind(), FaultKind::ShortOne);
    assert_eq!(Action::Short { len_bytes: 7 }.kind(), FaultKind::ShortHalf);
    assert_eq!(Action::FsyncGate.kind(), FaultKind::FsyncGate);
    assert_eq!(Action::Short { len_bytes: 7 }.errno(), None);
    assert_eq!(Action::Edquot.errno().map(Errno::number), Some(122));
    assert_eq!(Action::Eintr.errno().map(Errno::number), Some(4));
}

#[test]
fn the_careful_writer_admits_every_rule_once() {
    let space = fault_space(&temp_rename_writer(), &FaultKind::ALL);
    let half = format!("write#1:short={}", NEW.len() / 2);
    let expected = [
        "openat#0:EIO",
        "openat#0:ENOSPC",
        "openat#0:EDQUOT",
        "openat#0:EINTR",
        "write#1:EIO",
        "write#1:ENOSPC",
        "write#1:EDQUOT",
        "write#1:EINTR",
        &half,
        "write#1:short=1",
        "fsync#2:EIO",
        "fsync#2:ENOSPC",
        "fsync#2:EDQUOT",
        "fsync#2:EINTR",
        "fsync#2:fsyncgate",
        "close#3:EIO",
        "close#3:ENOSPC",
        "close#3:EDQUOT",
        "rename#4:EIO",
        "rename#4:ENOSPC",
        "rename#4:EDQUOT",
        "openat#5:EIO",
        "openat#5:EINTR",
        "fsync#6:EIO",
        "fsync#6:ENOSPC",
        "fsync#6:EDQUOT",
        "fsync#6:EINTR",
        "close#7:EIO",
        "close#7:ENOSPC",
        "close#7:EDQUOT",
    ];
    assert_eq!(strings(&space), expected);
}

#[test]
fn kinds_restrict_the_space() {
    let trace = temp_rename_writer();
    let gate = fault_space(&trace, &[FaultKind::FsyncGate]);
    assert_eq!(
        strings(&gate),
        ["fsync#2:fsyncgate"],
        "the directory fsync drops no write: no gate trial there"
    );
    let eintr = fault_space(&trace, &[FaultKind::Eintr]);
    assert!(
        strings(&eintr).iter().all(|s| !s.starts_with("close")),
        "close is never restarted: {eintr:?}"
    );
    assert!(fault_space(&trace, &[]).is_empty());
}

#[test]
fn short_writes_need_two_bytes_and_are_kept_once() {
    let mut trace = fixtures::trace();
    trace.push(1, "write", 1, write("a", 1, 0, b"x"));
    trace.push(1, "write", 2, write("a", 1, 1, b"xy"));
    trace.push(1, "write", 3, write("a", 1, 3, b"xyz"));
    trace.push(1, "write", 4, write("a", 1, 6, b"wxyz"));
    let shorts = [FaultKind::ShortHalf, FaultKind::ShortOne];
    assert_eq!(
        strings(&fault_space(&trace, &shorts)),
        [
            "write#1:short=1",
            "write#2:short=1",
            "write#3:short=2",
            "write#3:short=1"
        ]
    );
    assert_eq!(
        strings(&fault_space(&trace, &[FaultKind::ShortHalf])),
        ["write#1:short=1", "write#2:short=1", "write#3:short=2"]
    );
}

#[test]
fn failed_and_outside_calls_and_other_families_get_nothing() {
    let mut trace = fixtures::trace();
    trace.push(1, "fsync", -5, fsync("t.tmp", 20));
    trace.push(1, "write", 2, write("/tmp/outside", 3, 0, b"ab"));
    trace.push(1, "sync", 0, Op::Sync);
    trace.push(
        1,
        "mkdir",
        0,
        Op::Mkdir {
            path: "d".into(),
            mode: 0o755,
        },
    );
    trace.push(
        1,
        "fdatasync",
        0,
        Op::Fsync {
            path: "t.tmp".into(),
            ino: None,
        },
    );
    assert_eq!(fault_space(&trace, &FaultKind::ALL), []);
}

#[test]
fn unlink_and_truncate_never_run_out_of_space() {
    let mut trace = fixtures::trace();
    trace.push(
        1,
        "unlinkat",
        0,
        Op::Unlink {
            path: "a".into(),
            ino: Some(2),
        },
    );
    trace.push(
        1,
        "ftruncate",
        0,
        Op::Truncate {
            path: "a".into(),
            ino: Some(2),
            len_bytes: 0,
        },
    );
    trace.push(
        1,
        "fallocate",
        0,
        Op::Fallocate {
            path: "a".into(),
            ino: Some(2),
            mode: 0,
            offset_bytes: 0,
            len_bytes: 9,
        },
    );
    let mut copy = write("a", 2, 0, b"abcd");
    if let Op::Write { sync, .. } = &mut copy {
        *sync = WriteSync::Full;
    }
    trace.push(1, "copy_file_range", 4, copy);
    assert_eq!(
        strings(&fault_space(&trace, &FaultKind::ALL)),
        [
            "unlinkat#0:EIO",
            "ftruncate#1:EIO",
            "ftruncate#1:EINTR",
            "fallocate#2:EIO",
            "fallocate#2:ENOSPC",
            "fallocate#2:EDQUOT",
            "fallocate#2:EINTR",
            "copy_file_range#3:EIO",
            "copy_file_range#3:ENOSPC",
            "copy_file_range#3:EDQUOT",
            "copy_file_range#3:short=2",
            "copy_file_range#3:short=1",
        ]
    );
}

#[test]
fn the_publish_point_is_the_first_successful_rename_or_link_to_the_target() {
    assert_eq!(publish_point(&temp_rename_writer()), Some(4));
    assert_eq!(publish_point(&plain_writer()), None);
    let mut untargeted = temp_rename_writer();
    untargeted.header.target = None;
    assert_eq!(publish_point(&untargeted), None);
    let mut trace = fixtures::trace();
    trace.push(1, "rename", -18, fixtures::rename("t.tmp", TARGET, 20));
    trace.push(1, "rename", 0, fixtures::rename("t.tmp", "other", 20));
    trace.push(
        1,
        "linkat",
        0,
        Op::Link {
            from: "#20".into(),
            from_ino: Some(20),
            to: TARGET.into(),
        },
    );
    assert_eq!(publish_point(&trace), Some(2));
}

#[test]
fn sampling_covers_small_spaces_and_is_seeded() {
    let space = fault_space(&temp_rename_writer(), &FaultKind::ALL);
    assert_eq!(sample(&space, 30, 1), space);
    assert_eq!(sample(&space, 1000, 1), space);
    assert_eq!(select(&space, None, 1), space, "30 <= EXHAUSTIVE_LIMIT");
    let a = sample(&space, 5, 42);
    assert_eq!(a.len(), 5);
    assert_eq!(a, sample(&space, 5, 42));
    assert_ne!(a, sample(&space, 5, 43));
    assert!(sample(&space, 0, 1).is_empty());
}

proptest! {
    #[test]
    fn the_space_holds_only_successful_sandbox_calls(trace in arb_trace()) {
        let space = fault_space(&trace, &FaultKind::ALL);
        for injected in &space {
            let event = &trace.events[injected.call.seq as usize];
            prop_assert!(event.ret >= 0, "{injected} on a failed call");
            prop_assert!(event.op.paths().into_iter().any(in_sandbox), "{injected} outside");
            prop_assert_eq!(&injected.call.syscall, &event.syscall);
            prop_assert!(CallFamily::of(event).is_some());
            prop_assert_eq!(injected.to_string().parse::<Injection>(), Ok(injected.clone()));
        }
        let mut unique = space.clone();
        unique.dedup();
        prop_assert_eq!(unique.len(), space.len(), "each injection once");
        prop_assert_eq!(&space, &fault_space(&trace, &FaultKind::ALL));
    }

    #[test]
    fn sampling_is_deterministic_and_a_subset(
        trace in arb_trace(),
        trials in 0u64..40,
        seed in any::<u64>(),
    ) {
        let space = fault_space(&trace, &FaultKind::ALL);
        let chosen = sample(&space, trials, seed);
        prop_assert_eq!(&chosen, &sample(&space, trials, seed));
        prop_assert_eq!(chosen.len() as u64, trials.min(space.len() as u64));
        let mut positions = chosen.iter().map(|c| space.iter().position(|s| s == c));
        prop_assert!(positions.all(|p| p.is_some()));
        let seqs: Vec<_> = chosen.iter().map(|c| (c.call.seq, c.to_string())).collect();
        let mut sorted = seqs.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted.len(), seqs.len(), "distinct");
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = text.parse::<Injection>();
        let _ = FaultKind::parse_list(&text);
    }
}
