//! Explaining a violation: one or two sentences naming the fault, the call (seq, path, errno),
//! what the writer did next (retried the call, published the target, exited), the consequence,
//! and a fix from a table of patterns ([`Fix`]).
//!
//! For example: "fsync returned EIO at #9 (t.tmp), its pages dropped (fsyncgate); the writer
//! retried it at #10, renamed t.tmp to target.json at #11 and exited 0: a power cut can leave
//! target.json without the new version. Fix: treat a failed fsync as fatal; write a new temp
//! file." The replay fragment is [`super::Injection::replay_arg`].

use super::verdict::{ErrorsFacts, ErrorsViolation, Position, TargetClass};
use super::{Action, CallFamily, FaultKind, publishes};
use crate::oracle::RunExit;
use crate::trace::{Event, Op, Trace};

/// The fix a violation calls for, by the pattern of fault, reaction and outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fix {
    /// A failed fsync was retried and the writer went on.
    FsyncRetried,
    /// A failed fsync was ignored.
    FsyncIgnored,
    /// A short write was taken for a whole one.
    ShortWriteIgnored,
    /// A failed write was ignored.
    WriteErrorIgnored,
    /// A call interrupted with `EINTR` was not restarted.
    EintrNotRetried,
    /// A call after the publish failed and the writer still exited 0.
    ErrorAfterPublishIgnored,
    /// Some other failed call was ignored.
    ErrorIgnored,
    /// The writer failed with the target half-written: it writes in place.
    InPlace,
    /// The writer went on changing files after the failed call, then failed with the target
    /// torn: it must stop at the first error.
    StopOnFirstError,
    /// SQLite went on after a failed statement (the sqlite3 shell without `-bail` runs the
    /// rest).
    SqliteBail,
    /// The writer failed after removing the old target.
    KeepOldUntilRename,
    /// The writer failed, yet published first.
    PublishedAfterError,
    /// The writer hung.
    BoundRetries,
    /// The run after the failure did not recover.
    CleanUpOnStart,
    /// Files were left behind.
    RemoveTempOnFailure,
    /// The writer printed its `--ack-line` acknowledgement, then failed before publishing.
    AckBeforePublish,
}

impl Fix {
    /// The hint, without the final full stop.
    pub fn text(self) -> &'static str {
        match self {
            Fix::FsyncRetried => "treat a failed fsync as fatal; write a new temp file",
            Fix::FsyncIgnored => "treat a failed fsync as fatal: exit non-zero without renaming",
            Fix::ShortWriteIgnored => "loop until every byte is written (write_all)",
            Fix::WriteErrorIgnored => "check every write's result and exit non-zero",
            Fix::EintrNotRetried => "restart a call that fails with EINTR",
            Fix::ErrorAfterPublishIgnored => {
                "exit non-zero when a call after the rename fails: the new version is not durable yet"
            }
            Fix::ErrorIgnored => "check every call's result and exit non-zero when one fails",
            Fix::InPlace => {
                "write a temp file and rename it over the target only after every write and fsync succeeded"
            }
            Fix::StopOnFirstError => {
                "stop at the first failed call and exit non-zero, before changing anything more"
            }
            Fix::SqliteBail => {
                "stop at the first failed statement and exit non-zero, so the journal rolls the \
                 transaction back (the sqlite3 shell: run it with -bail)"
            }
            Fix::KeepOldUntilRename => {
                "never remove the old target first: rename the new version over it"
            }
            Fix::PublishedAfterError => {
                "stop at the first failed call: never rename after an error"
            }
            Fix::BoundRetries => "give up after a bounded number of retries and exit non-zero",
            Fix::CleanUpOnStart => {
                "on start, remove or ignore what a failed run left behind (a stale temp file)"
            }
            Fix::RemoveTempOnFailure => "remove the temp file when a step fails",
            Fix::AckBeforePublish => {
                "print the acknowledgement only after the rename that publishes the new version"
            }
        }
    }
}

/// The diagnosis of one violation of a faulted run, from its facts and its trace.
pub fn diagnose(facts: &ErrorsFacts, violation: &ErrorsViolation, faulted: &Trace) -> String {
    let target = faulted.header.target.as_deref().unwrap_or("the target");
    let story = Story::read(facts, faulted);
    format!(
        "{}; the writer {}: {}. Fix: {}.",
        story.fault_text(facts),
        story.reaction_text(facts),
        consequence(violation, target),
        fix_for(facts, violation, &story).text()
    )
}

/// What the faulted trace shows around the fault.
#[derive(Debug)]
struct Story<'a> {
    /// The faulted event (absent when the trace does not reach it).
    event: Option<&'a Event>,
    /// The first later call that repeats it (for a short write: writes the rest).
    retry: Option<u64>,
    /// The first later publish of the target.
    publish: Option<&'a Event>,
    /// Whether a later call that succeeded changed a file: the writer went on after the error.
    went_on: bool,
    /// The writer is SQLite (the sqlite3 shell in its command, or a rollback journal or WAL
    /// beside the target in its trace), and its command has no `-bail`.
    sqlite: bool,
    /// The failed call was on the target itself (a writer that writes it in place).
    failed_on_target: bool,
}

impl<'a> Story<'a> {
    fn read(facts: &ErrorsFacts, faulted: &'a Trace) -> Story<'a> {
        let seq = facts.injection.call.seq;
        let event = faulted.events.iter().find(|e| e.seq == seq);
        let later = || {
            faulted
                .events
                .iter()
                .filter(move |e| e.seq > seq && e.ret >= 0)
        };
        let retry = event.and_then(|event| {
            later()
                .find(|e| repeats(event, e, facts.injection.action))
                .map(|e| e.seq)
        });
        let publish = faulted
            .header
            .target
            .as_deref()
            .and_then(|target| later().find(|e| publishes(&e.op, target)));
        let went_on = later().any(|e| !e.op.changed_paths().is_empty());
        let target = faulted.header.target.as_deref();
        let failed_on_target = event
            .and_then(|e| e.op.paths().first().copied())
            .is_some_and(|path| Some(path) == target);
        Story {
            event,
            retry,
            publish,
            went_on,
            sqlite: sqlite_without_bail(faulted),
            failed_on_target,
        }
    }

    fn family(&self) -> Option<CallFamily> {
        self.event.and_then(CallFamily::of)
    }

    fn fault_text(&self, facts: &ErrorsFacts) -> String {
        let call = &facts.injection.call;
        let place = match self.event.and_then(|e| e.op.paths().first().copied()) {
            Some(path) => format!("at #{} ({path})", call.seq),
            None => format!("at #{}", call.seq),
        };
        match (facts.injection.action, facts.injection.action.errno()) {
            (Action::Short { len_bytes }, _) => {
                format!("{} wrote only {len_bytes} byte(s) {place}", call.syscall)
            }
            (Action::FsyncGate, _) => format!(
                "{} returned EIO {place}, its pages dropped (fsyncgate)",
                call.syscall
            ),
            (_, errno) => format!(
                "{} returned {} {place}",
                call.syscall,
                errno.map_or_else(|| "an error".to_owned(), |e| e.to_string())
            ),
        }
    }

    fn reaction_text(&self, facts: &ErrorsFacts) -> String {
        let short = matches!(facts.injection.action, Action::Short { .. });
        let mut steps = Vec::new();
        match (self.retry, short) {
            (Some(seq), true) => steps.push(format!("wrote the rest at #{seq}")),
            (Some(seq), false) => steps.push(format!("retried it at #{seq}")),
            (None, true) => steps.push("did not write the rest".to_owned()),
            (None, false) => {}
        }
        if let Some(event) = self.publish {
            steps.push(publish_text(event));
        }
        steps.push(exit_text(facts.exit));
        join_steps(&steps)
    }
}

/// Whether the writer is SQLite, by its command (`sqlite3`, directly or in `sh -c`) or by the
/// rollback journal or WAL it keeps beside the target, and its command has no `-bail`.
fn sqlite_without_bail(faulted: &Trace) -> bool {
    let words = || {
        let command = faulted.header.command.iter();
        command.flat_map(|arg| arg.split_whitespace())
    };
    let shell = words().any(|w| w.rsplit('/').next() == Some("sqlite3"));
    let journal = faulted.header.target.as_deref().is_some_and(|target| {
        let beside = [format!("{target}-journal"), format!("{target}-wal")];
        let paths = faulted.events.iter().flat_map(|e| e.op.paths());
        paths
            .into_iter()
            .any(|path| beside.iter().any(|b| b == path))
    });
    (shell || journal) && !words().any(|w| w == "-bail")
}

/// Whether `later` repeats the faulted call: same family, same file; for a short write, the
/// write of the bytes that follow the short part.
fn repeats(faulted: &Event, later: &Event, action: Action) -> bool {
    if CallFamily::of(faulted) != CallFamily::of(later) || !same_file(&faulted.op, &later.op) {
        return false;
    }
    match (action, &faulted.op, &later.op) {
        (
            Action::Short { len_bytes },
            Op::Write { offset_bytes, .. },
            Op::Write {
                offset_bytes: next, ..
            },
        ) => offset_bytes.checked_add(len_bytes) == Some(*next),
        (Action::Short { .. }, _, _) => false,
        (_, _, _) => true,
    }
}

/// Same file: by inode when both events know it, else by the paths they name.
fn same_file(a: &Op, b: &Op) -> bool {
    match (ino_of(a), ino_of(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(_) | None, None) | (None, Some(_)) => a.paths() == b.paths(),
    }
}

fn ino_of(op: &Op) -> Option<u64> {
    match op {
        Op::Open { ino, .. }
        | Op::Write { ino, .. }
        | Op::Unlink { ino, .. }
        | Op::Fsync { ino, .. }
        | Op::Fdatasync { ino, .. }
        | Op::SyncFileRange { ino, .. }
        | Op::Truncate { ino, .. }
        | Op::Fallocate { ino, .. }
        | Op::Chmod { ino, .. }
        | Op::Chown { ino, .. }
        | Op::Close { ino, .. }
        | Op::Mmap { ino, .. } => *ino,
        Op::Rename { from_ino, .. } | Op::Link { from_ino, .. } => *from_ino,
        Op::Symlink { .. }
        | Op::Rmdir { .. }
        | Op::Mkdir { .. }
        | Op::Sync
        | Op::Syncfs { .. }
        | Op::Msync { .. }
        | Op::IoUringSetup { .. } => None,
    }
}

fn publish_text(event: &Event) -> String {
    if let Op::Link { from, to, .. } = &event.op {
        format!("linked {from} to {to} at #{}", event.seq)
    } else if let Op::Rename { from, to, .. } = &event.op {
        format!("renamed {from} to {to} at #{}", event.seq)
    } else {
        format!("published the target at #{}", event.seq)
    }
}

fn exit_text(exit: RunExit) -> String {
    match exit {
        RunExit::Code(code) => format!("exited {code}"),
        RunExit::Signal(signal) => format!("was killed by signal {signal}"),
        RunExit::TimedOut => "hung".to_owned(),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_steps(steps: &[String]) -> String {
    match steps {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn consequence(violation: &ErrorsViolation, target: &str) -> String {
    match violation {
        ErrorsViolation::AckedNotNew {
            target: TargetClass::Absent,
        } => format!("{target} is absent"),
        ErrorsViolation::AckedNotNew { target: class } => {
            format!("{target} is {class}, not the new version")
        }
        ErrorsViolation::AckedLostAtPowerCut => {
            format!("a power cut can leave {target} without the new version")
        }
        ErrorsViolation::Torn => format!("{target} is torn"),
        ErrorsViolation::OldLost => format!("the old {target} is gone"),
        ErrorsViolation::FailedButNotOld => {
            format!("{target} holds the new version although the writer reported failure")
        }
        ErrorsViolation::Hung => "it was killed at the timeout".to_owned(),
        ErrorsViolation::RecoveryFailed {
            exit,
            target: class,
        } => {
            format!("the next run, without faults, ended with {exit} and left {target} {class}")
        }
        ErrorsViolation::Leftovers { count } => {
            format!("{count} file(s) besides {target} remain after the next run")
        }
    }
}

/// The table of patterns: the fix for a violation. A writer that went on after an error on
/// another file than the target (a journal, a temp file) is told to stop there; the sqlite3
/// shell that went on is told to use `-bail`, whatever it left.
fn fix_for(facts: &ErrorsFacts, violation: &ErrorsViolation, story: &Story<'_>) -> Fix {
    let fix = pattern_fix(facts, violation, story);
    let goes_on = matches!(
        fix,
        Fix::StopOnFirstError | Fix::WriteErrorIgnored | Fix::ErrorIgnored | Fix::InPlace
    );
    if goes_on && story.went_on && story.sqlite {
        Fix::SqliteBail
    } else {
        fix
    }
}

fn pattern_fix(facts: &ErrorsFacts, violation: &ErrorsViolation, story: &Story<'_>) -> Fix {
    match violation {
        ErrorsViolation::Hung => Fix::BoundRetries,
        ErrorsViolation::RecoveryFailed { .. } => Fix::CleanUpOnStart,
        ErrorsViolation::Leftovers { .. } => Fix::RemoveTempOnFailure,
        ErrorsViolation::FailedButNotOld => Fix::PublishedAfterError,
        ErrorsViolation::OldLost => Fix::KeepOldUntilRename,
        ErrorsViolation::Torn
            if facts.exit != RunExit::Code(0) && story.went_on && !story.failed_on_target =>
        {
            Fix::StopOnFirstError
        }
        ErrorsViolation::Torn if facts.exit != RunExit::Code(0) => Fix::InPlace,
        // Acknowledged by its `--ack-line`, not by an exit 0 it never made.
        ErrorsViolation::AckedNotNew { .. } if facts.exit != RunExit::Code(0) => {
            Fix::AckBeforePublish
        }
        ErrorsViolation::Torn
        | ErrorsViolation::AckedNotNew { .. }
        | ErrorsViolation::AckedLostAtPowerCut => ignored_fix(facts, story),
    }
}

/// The writer exited 0 over a failed call: which failure it ignored.
fn ignored_fix(facts: &ErrorsFacts, story: &Story<'_>) -> Fix {
    let family = story.family();
    match facts.injection.action.kind() {
        FaultKind::ShortHalf | FaultKind::ShortOne => Fix::ShortWriteIgnored,
        FaultKind::Eintr => Fix::EintrNotRetried,
        FaultKind::Eio | FaultKind::Enospc | FaultKind::Edquot | FaultKind::FsyncGate => {
            match (family, story.retry, facts.position) {
                (Some(CallFamily::Fsync), Some(_), _) => Fix::FsyncRetried,
                (
                    Some(CallFamily::Fsync),
                    None,
                    Position::BeforePublish | Position::Unpublished,
                ) => Fix::FsyncIgnored,
                (_, _, Position::AfterPublish) => Fix::ErrorAfterPublishIgnored,
                (Some(CallFamily::Write), _, _) => Fix::WriteErrorIgnored,
                (_, _, Position::BeforePublish | Position::Unpublished) => Fix::ErrorIgnored,
            }
        }
    }
}

#[cfg(test)]
mod tests;
