use proptest::prelude::*;

use super::*;
use crate::errors::fixtures::{
    self, NEW, TARGET, arb_trace, clean_facts, fsync_retrying_run, plain_writer,
    temp_rename_writer, write,
};
use crate::errors::verdict::{Recovery, judge};
use crate::errors::{FaultKind, Injection, fault_space};
use crate::oracle::Initial;
use crate::trace::{ExitStatus, Trace};

/// The faulted run of the golden `temp_rename_writer` when the writer ignores the fault at
/// `seq` (the event fails with `ret`) and goes on to the end.
fn ignoring_run(seq: usize, ret: i64) -> Trace {
    let mut run = temp_rename_writer();
    run.events[seq].ret = ret;
    run
}

fn diagnosis(facts: &ErrorsFacts, trace: &Trace) -> String {
    let violations = judge(facts);
    assert_eq!(violations.len(), 1, "{violations:?}");
    diagnose(facts, &violations[0], trace)
}

#[test]
fn a_retried_fsync_under_fsyncgate() {
    let mut facts = clean_facts("fsync#2:fsyncgate");
    facts.power_safe = Some(false);
    assert_eq!(
        diagnosis(&facts, &fsync_retrying_run()),
        "fsync returned EIO at #2 (t.tmp), its pages dropped (fsyncgate); the writer retried it \
         at #3, renamed t.tmp to target.json at #5 and exited 0: a power cut can leave \
         target.json without the new version. Fix: treat a failed fsync as fatal; write a new \
         temp file."
    );
}

#[test]
fn an_ignored_fsync_failure() {
    let mut facts = clean_facts("fsync#2:EIO");
    facts.power_safe = Some(false);
    let text = diagnosis(&facts, &ignoring_run(2, -5));
    assert!(text.starts_with("fsync returned EIO at #2 (t.tmp); the writer renamed t.tmp to target.json at #4 and exited 0:"), "{text}");
    assert!(
        text.ends_with("Fix: treat a failed fsync as fatal: exit non-zero without renaming."),
        "{text}"
    );
}

#[test]
fn an_ignored_short_write() {
    let mut run = temp_rename_writer();
    run.events[1].op = write("t.tmp", 20, 0, &NEW[..1]);
    run.events[1].ret = 1;
    let mut facts = clean_facts("write#1:short=1");
    facts.target = TargetClass::Torn;
    assert_eq!(
        diagnosis(&facts, &run),
        "write wrote only 1 byte(s) at #1 (t.tmp); the writer did not write the rest, renamed \
         t.tmp to target.json at #4 and exited 0: target.json is torn. Fix: loop until every \
         byte is written (write_all)."
    );
}

#[test]
fn a_short_write_completed_names_the_rest() {
    let mut run = fixtures::trace();
    run.push(1, "write", 1, write("t.tmp", 20, 0, &NEW[..1]));
    run.push(
        1,
        "write",
        NEW.len() as i64 - 1,
        write("t.tmp", 20, 1, &NEW[1..]),
    );
    run.push(1, "rename", 0, fixtures::rename("t.tmp", TARGET, 20));
    let mut facts = clean_facts("write#0:short=1");
    facts.target = TargetClass::Old;
    let text = diagnosis(&facts, &run);
    assert!(
        text.contains("the writer wrote the rest at #1, renamed"),
        "{text}"
    );
}

#[test]
fn enospc_on_a_write_then_exit_0() {
    let mut facts = clean_facts("write#1:ENOSPC");
    facts.target = TargetClass::Torn;
    let text = diagnosis(&facts, &ignoring_run(1, -28));
    assert!(
        text.starts_with("write returned ENOSPC at #1 (t.tmp);"),
        "{text}"
    );
    assert!(
        text.ends_with("Fix: check every write's result and exit non-zero."),
        "{text}"
    );
}

#[test]
fn an_ignored_eintr() {
    let mut facts = clean_facts("write#1:EINTR");
    facts.target = TargetClass::Torn;
    let text = diagnosis(&facts, &ignoring_run(1, -4));
    assert!(
        text.ends_with("Fix: restart a call that fails with EINTR."),
        "{text}"
    );
}

#[test]
fn an_error_after_the_publish_with_exit_0() {
    let mut facts = clean_facts("fsync#6:EIO");
    facts.position = Position::AfterPublish;
    facts.power_safe = Some(false);
    let text = diagnosis(&facts, &ignoring_run(6, -5));
    assert!(
        text.starts_with("fsync returned EIO at #6 (.); the writer exited 0: a power cut"),
        "{text}"
    );
    assert!(
        text.contains("Fix: exit non-zero when a call after the rename fails"),
        "{text}"
    );
    let mut rename_failed = clean_facts("rename#4:EIO");
    rename_failed.target = TargetClass::Old;
    let text = diagnosis(&rename_failed, &ignoring_run(4, -5));
    assert!(
        text.contains("target.json is old, not the new version"),
        "{text}"
    );
    assert!(
        text.ends_with("Fix: check every call's result and exit non-zero when one fails."),
        "{text}"
    );
}

/// The plain writer whose first write failed with ENOSPC, exit 1 with the target torn: its
/// faulted run and its facts.
fn plain_write_failed() -> (Trace, ErrorsFacts) {
    let mut run = plain_writer();
    run.events[1].ret = -28;
    run.header.exit = Some(ExitStatus::Code(1));
    let mut facts = clean_facts("write#1:ENOSPC");
    facts.exit = RunExit::Code(1);
    facts.target = TargetClass::Torn;
    facts.position = Position::Unpublished;
    (run, facts)
}

#[test]
fn the_plain_writer_fails_in_place() {
    let (run, facts) = plain_write_failed();
    let text = diagnosis(&facts, &run);
    assert!(
        text.starts_with(
            "write returned ENOSPC at #1 (target.json); the writer exited 1: target.json is torn."
        ),
        "{text}"
    );
    assert!(
        text.contains("Fix: write a temp file and rename it over the target"),
        "{text}"
    );
}

#[test]
fn a_writer_that_went_on_after_the_error_is_told_to_stop_there() {
    // The plain writer, but its first write went to a log, failed, and it wrote the
    // target on and then exited 1.
    let (mut run, mut facts) = plain_write_failed();
    run.events[1].op = write("target.json.log", 11, 0, b"page");
    run.push(1, "write", 4, write(TARGET, 10, 4, b"more"));
    let text = diagnosis(&facts, &run);
    assert!(
        text.ends_with(
            "Fix: stop at the first failed call and exit non-zero, before changing anything more."
        ),
        "{text}"
    );
    // The sqlite3 shell without -bail: the fix is -bail, also when it exited 0.
    run.header.command = vec!["sqlite3".into(), "db.sqlite".into(), ".read x.sql".into()];
    assert!(diagnosis(&facts, &run).contains("(the sqlite3 shell: run it with -bail)"));
    facts.exit = RunExit::Code(0);
    run.header.exit = Some(ExitStatus::Code(0));
    assert!(diagnosis(&facts, &run).contains("(the sqlite3 shell: run it with -bail)"));
    run.header.command.push("-bail".into());
    assert!(!diagnosis(&facts, &run).contains("-bail"));
    // SQLite behind a script: known by the rollback journal beside the target.
    run.header.command = vec!["./update.sh".into()];
    if let Op::Write { path, .. } = &mut run.events[1].op {
        *path = format!("{TARGET}-journal");
    }
    assert!(diagnosis(&facts, &run).contains("(the sqlite3 shell: run it with -bail)"));
    // Python's `with` flushing the rest into the target after a failed write on the target
    // itself: the writer writes in place, and that is the fix.
    let (mut run, facts) = plain_write_failed();
    run.push(1, "write", 4, write(TARGET, 10, 4, b"more"));
    let text = diagnosis(&facts, &run);
    assert!(
        text.contains("Fix: write a temp file and rename it"),
        "{text}"
    );
}

#[test]
fn failures_that_publish_lose_or_leave_things() {
    let failed = |change: &dyn Fn(&mut ErrorsFacts)| {
        let mut facts = clean_facts("fsync#2:EIO");
        facts.exit = RunExit::Code(1);
        facts.target = TargetClass::Old;
        change(&mut facts);
        diagnosis(&facts, &ignoring_run(2, -5))
    };
    let text = failed(&|f| f.target = TargetClass::New);
    assert!(text.contains("target.json holds the new version although the writer reported failure. Fix: stop at the first failed call"), "{text}");
    let text = failed(&|f| f.target = TargetClass::Absent);
    assert!(
        text.contains("the old target.json is gone. Fix: never remove the old target first"),
        "{text}"
    );
    let text = failed(&|f| f.exit = RunExit::TimedOut);
    assert!(text.contains("renamed t.tmp to target.json at #4 and hung: it was killed at the timeout. Fix: give up after a bounded number"), "{text}");
    let text = failed(&|f| {
        f.recovery = Some(Recovery {
            exit: RunExit::Code(1),
            target: TargetClass::Old,
        })
    });
    assert!(text.contains("the next run, without faults, ended with exit status 1 and left target.json old. Fix: on start, remove or ignore"), "{text}");
    let text = failed(&|f| {
        f.leftovers = 1;
        f.strict = true;
    });
    assert!(text.ends_with("1 file(s) besides target.json remain after the next run. Fix: remove the temp file when a step fails."), "{text}");
}

#[test]
fn a_trace_without_the_event_still_explains() {
    let mut facts = clean_facts("fsync#40:EIO");
    facts.power_safe = Some(false);
    let mut trace = Trace::new("/sb".into(), vec![]);
    trace.header.target = None;
    let text = diagnosis(&facts, &trace);
    assert_eq!(
        text,
        "fsync returned EIO at #40; the writer exited 0: a power cut can leave the target \
         without the new version. Fix: check every call's result and exit non-zero when one \
         fails."
    );
}

proptest! {
    #[test]
    fn diagnosing_any_violation_never_panics(
        trace in arb_trace(),
        facts in crate::errors::verdict::tests::facts(),
        pick in any::<prop::sample::Index>(),
        initial_old in any::<bool>(),
    ) {
        let space = fault_space(&trace, &FaultKind::ALL);
        let injection: Injection = if space.is_empty() {
            "fsync#0:EIO".parse().unwrap()
        } else {
            space[pick.index(space.len())].clone()
        };
        let facts = ErrorsFacts {
            injection,
            initial: if initial_old { Initial::Old } else { Initial::Absent },
            ..facts
        };
        for violation in judge(&facts) {
            let text = diagnose(&facts, &violation, &trace);
            let call = format!("at #{}", facts.injection.call.seq);
            prop_assert!(text.contains(&call), "{}", text);
            prop_assert!(text.ends_with('.') && text.contains(". Fix: "), "{}", text);
        }
    }
}
