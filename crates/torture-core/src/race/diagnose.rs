//! Diagnosis: a few lines that tell a minimised interleaving as a story and end with a fix.
//!
//! ```text
//! interleaving 1x2.2x2.1x3 (2 switches): writer 1 #0-#1, writer 2 #2-#3, writer 1 #4-#6, ...
//! writer 2 opened `target.json.tmp` with O_TRUNC at #2 while writer 1 had written 12 KiB to it;
//!   writer 1 renamed it to `target.json` at #6: the final target is torn: 12 KiB of ...
//! Fix: a unique temp name per run (O_TMPFILE, mkstemp).
//! ```
//!
//! `#N` is the step of the interleaving (0-based, all writers together); each step is one
//! traced syscall of one writer. The first line is the replayed order of writers; the second
//! names the syscalls that make the violation, then the violation; the third comes from a table
//! of known patterns ([`Pattern`]).

use std::fmt;

use super::classify::format_bytes;
use super::oracle::{CheckPoint, Mode, Violation};
use super::schedule::{Schedule, WriterId};

/// What one step did, as far as diagnosis needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `open`/`openat`/`creat` of a path.
    Open {
        /// The path, relative to the sandbox.
        path: String,
        /// `O_TRUNC`.
        truncate: bool,
        /// `O_CREAT`.
        create: bool,
        /// `O_EXCL`.
        exclusive: bool,
    },
    /// A write to a path.
    Write {
        /// The path the descriptor was opened with.
        path: String,
        /// Bytes this writer has written through that path so far, this write included.
        written_bytes: u64,
    },
    /// `rename`/`renameat`/`renameat2`.
    Rename {
        /// Old name.
        from: String,
        /// New name.
        to: String,
        /// `RENAME_NOREPLACE`.
        no_replace: bool,
    },
    /// `link`/`linkat` (never replaces).
    Link {
        /// Existing name.
        from: String,
        /// New name.
        to: String,
    },
    /// `unlink`/`unlinkat`.
    Unlink {
        /// The name removed.
        path: String,
    },
    /// Anything else on a path (fsync, close, truncate).
    Other {
        /// The path.
        path: String,
    },
}

/// One step of a replayed interleaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Position in the interleaving (`#N`).
    pub index: u64,
    /// Who ran.
    pub writer: WriterId,
    /// The event's `seq` in that writer's trace.
    pub seq: u64,
    /// The syscall, e.g. `openat`.
    pub syscall: String,
    /// What it did.
    pub op: Op,
}

/// A known way to lose a race, with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Several writers share one temp name: one truncates the file another is writing.
    FixedTempName {
        /// The shared name.
        path: String,
    },
    /// A writer writes the target itself, so readers see it half written.
    InPlaceWrite,
    /// No-clobber checked that the target was absent, then created it in a separate step.
    CheckThenCreate,
    /// A killed writer left the name it claimed with O_EXCL (a lock file), and the next run
    /// gave up on it.
    StaleLock {
        /// The lock's name.
        path: String,
    },
    /// None of the above.
    Unrecognised,
}

impl Pattern {
    /// The fix, one sentence.
    pub fn fix(&self) -> &'static str {
        match self {
            Pattern::FixedTempName { .. } => "a unique temp name per run (O_TMPFILE, mkstemp)",
            Pattern::InPlaceWrite => {
                "write a temp file and rename it over the target; never open the target with O_TRUNC"
            }
            Pattern::CheckThenCreate => {
                "check and create in one step: renameat2(RENAME_NOREPLACE), link + unlink, or O_CREAT|O_EXCL"
            }
            Pattern::StaleLock { .. } => {
                "a lock that dies with its owner (flock or fcntl on an open file), or one the next \
                 run can prove stale (its owner is gone) and remove"
            }
            Pattern::Unrecognised => "no known pattern: replay the interleaving and read its trace",
        }
    }
}

/// The lines of a diagnosis, and the pattern it recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Which pattern.
    pub pattern: Pattern,
    /// The lines, without newlines.
    pub lines: Vec<String>,
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("\n"))
    }
}

/// Tells how `steps` (the replay of the minimised `schedule`) produce `violation`.
pub fn diagnose(
    violation: &Violation,
    schedule: &Schedule,
    steps: &[Step],
    target: &str,
    mode: Mode,
) -> Diagnosis {
    let (pattern, story) = match stale_lock_story(violation, schedule, steps, target) {
        Some((path, story)) => (Pattern::StaleLock { path }, Some(story)),
        None => recognise(steps, target, mode, seen_after(violation)),
    };
    // The checker saw what the target's rules did not: look beside the target.
    let beside =
        matches!(violation, Violation::CheckFailed(_)) && matches!(pattern, Pattern::Unrecognised);
    let (pattern, story) = match beside.then(|| beside_story(steps)).flatten() {
        Some((path, story)) => (Pattern::FixedTempName { path }, Some(story)),
        None => (pattern, story),
    };
    let story = story.unwrap_or_else(|| runs_story(steps));
    Diagnosis {
        lines: vec![
            order_line(schedule, steps),
            format!("{story}: {violation}."),
            format!("Fix: {}.", pattern.fix()),
        ],
        pattern,
    }
}

/// The first pattern that fits, with its story when the steps show it.
fn recognise(
    steps: &[Step],
    target: &str,
    mode: Mode,
    seen: Option<u64>,
) -> (Pattern, Option<String>) {
    if let Some((path, story)) = fixed_temp_story(steps, target) {
        return (Pattern::FixedTempName { path }, Some(story));
    }
    if let Some(story) = in_place_story(steps, target, seen) {
        return (Pattern::InPlaceWrite, Some(story));
    }
    match (mode, check_then_create_story(steps, target)) {
        (Mode::NoClobber, Some(story)) => (Pattern::CheckThenCreate, Some(story)),
        (Mode::NoClobber | Mode::Replace, _) => (Pattern::Unrecognised, None),
    }
}

/// A failed clean run after a writer was killed holding a name it created with O_EXCL.
fn stale_lock_story(
    violation: &Violation,
    schedule: &Schedule,
    steps: &[Step],
    target: &str,
) -> Option<(String, String)> {
    if !matches!(violation, Violation::RecoveryFailed { .. }) {
        return None;
    }
    let kill = schedule.kill()?;
    let claim = steps.iter().find(|s| {
        s.writer == kill.writer
            && matches!(&s.op, Op::Open { path, create: true, exclusive: true, .. } if path != target)
    })?;
    let Op::Open { path, .. } = &claim.op else {
        return None;
    };
    let released = steps.iter().any(|s| {
        s.writer == kill.writer
            && s.index > claim.index
            && match &s.op {
                Op::Rename { from, .. } => from == path,
                Op::Unlink { path: removed } => removed == path,
                Op::Open { .. } | Op::Write { .. } | Op::Link { .. } | Op::Other { .. } => false,
            }
    });
    let story = format!(
        "{} created `{path}` with O_EXCL at #{} and was killed before #{} with it still there",
        kill.writer, claim.index, kill.step
    );
    (!released).then(|| (path.clone(), story))
}

/// `interleaving 1x2.2 (1 switch): writer 1 #0-#1, writer 2 #2`.
fn order_line(schedule: &Schedule, steps: &[Step]) -> String {
    let mut spans: Vec<(WriterId, u64, u64)> = Vec::new();
    for step in steps {
        match spans.last_mut() {
            Some((writer, _, last)) if *writer == step.writer => *last = step.index,
            Some(_) | None => spans.push((step.writer, step.index, step.index)),
        }
    }
    let spans: Vec<String> = spans
        .iter()
        .map(|(writer, first, last)| match first == last {
            true => format!("{writer} #{first}"),
            false => format!("{writer} #{first}-#{last}"),
        })
        .collect();
    let switches = schedule.switches();
    let plural = if switches == 1 { "" } else { "es" };
    format!(
        "interleaving {schedule} ({switches} switch{plural}, then each writer runs to its end): {}",
        spans.join(", ")
    )
}

/// A second writer truncating a name a first one is writing, and a rename of it to the target.
fn fixed_temp_story(steps: &[Step], target: &str) -> Option<(String, String)> {
    steps.iter().enumerate().find_map(|(at, step)| {
        let Op::Open {
            path,
            truncate,
            create,
            ..
        } = &step.op
        else {
            return None;
        };
        if path == target || !(*truncate || *create) {
            return None;
        }
        let earlier = &steps[..at];
        let other = earlier
            .iter()
            .find(|s| s.writer != step.writer && opens(s, path))?;
        let rename = steps[at..].iter().find(|s| renames(s, path, target))?;
        let written = written_before(earlier, other.writer, path);
        let mode = if *truncate {
            "with O_TRUNC"
        } else {
            "with O_CREAT"
        };
        let mut story = format!(
            "{} opened `{path}` {mode} at #{} while {} {}; {} renamed it to `{target}` at #{}",
            step.writer,
            step.index,
            other.writer,
            holding(written),
            rename.writer,
            rename.index
        );
        story += &went_on_writing(steps, rename, path);
        Some((path.clone(), story))
    })
}

/// A whole tree `--check` rejected while the target was fine: a fixed temp name renamed onto
/// another file of the tree (an index, a manifest).
fn beside_story(steps: &[Step]) -> Option<(String, String)> {
    steps.iter().find_map(|step| match &step.op {
        Op::Rename { to, .. } => fixed_temp_story(steps, to),
        Op::Open { .. }
        | Op::Write { .. }
        | Op::Link { .. }
        | Op::Unlink { .. }
        | Op::Other { .. } => None,
    })
}

/// Another writer still writing through its descriptor after the file was renamed away.
fn went_on_writing(steps: &[Step], rename: &Step, path: &str) -> String {
    let later = steps
        .iter()
        .find(|s| s.index > rename.index && s.writer != rename.writer && writes(s, path));
    match later {
        Some(write) => format!(
            ", and {} went on writing to it at #{}",
            write.writer, write.index
        ),
        None => String::new(),
    }
}

fn holding(written_bytes: u64) -> String {
    match written_bytes {
        0 => "had it open".to_owned(),
        bytes => format!("had written {} to it", format_bytes(bytes)),
    }
}

fn opens(step: &Step, name: &str) -> bool {
    matches!(&step.op, Op::Open { path, .. } if path == name)
}

fn writes(step: &Step, name: &str) -> bool {
    matches!(&step.op, Op::Write { path, .. } if path == name)
}

fn renames(step: &Step, name: &str, target: &str) -> bool {
    matches!(&step.op, Op::Rename { from, to, .. } if from == name && to == target)
}

/// The bytes `writer` had written through `name` by the end of `steps`.
fn written_before(steps: &[Step], writer: WriterId, name: &str) -> u64 {
    steps
        .iter()
        .rev()
        .find_map(|s| match &s.op {
            Op::Write {
                path,
                written_bytes,
            } if s.writer == writer && path == name => Some(*written_bytes),
            Op::Open { .. }
            | Op::Write { .. }
            | Op::Rename { .. }
            | Op::Link { .. }
            | Op::Unlink { .. }
            | Op::Other { .. } => None,
        })
        .unwrap_or(0)
}

/// A writer opening the target itself with O_TRUNC (or writing it), seen at step `seen`.
fn in_place_story(steps: &[Step], target: &str, seen: Option<u64>) -> Option<String> {
    let open = steps.iter().find(|s| {
        matches!(&s.op, Op::Open { path, truncate: true, .. } if path == target)
            || writes(s, target)
    })?;
    let seen = seen.unwrap_or(u64::MAX);
    let upto: Vec<Step> = steps.iter().filter(|s| s.index <= seen).cloned().collect();
    let written = written_before(&upto, open.writer, target);
    let when = match seen {
        u64::MAX => "by the end".to_owned(),
        step => format!("by #{step}"),
    };
    let done = match written {
        0 => format!("had written nothing to it {when}"),
        bytes => format!("had written {} to it {when}", format_bytes(bytes)),
    };
    let action = match &open.op {
        Op::Open { .. } => format!("opened `{target}` itself with O_TRUNC"),
        Op::Write { .. }
        | Op::Rename { .. }
        | Op::Link { .. }
        | Op::Unlink { .. }
        | Op::Other { .. } => {
            format!("wrote `{target}` itself")
        }
    };
    Some(format!(
        "{} {action} at #{} and {done}",
        open.writer, open.index
    ))
}

/// The step a violation was seen after, when it was seen between steps.
fn seen_after(violation: &Violation) -> Option<u64> {
    match violation {
        Violation::TornRead { after_step, .. } | Violation::Vanished { after_step } => {
            Some(*after_step)
        }
        Violation::SuccessOverwrittenByTorn { after_step, .. } => *after_step,
        Violation::CheckFailed(failure) => match failure.at {
            CheckPoint::AfterStep(step) => Some(step),
            CheckPoint::End | CheckPoint::AfterRecovery => None,
        },
        Violation::TornFinal { .. }
        | Violation::FinalNotFromSuccessfulWriter { .. }
        | Violation::WriterFailed { .. }
        | Violation::NoWriterSucceeded
        | Violation::SeveralWinners { .. }
        | Violation::LoserExitedZero { .. }
        | Violation::Leftovers { .. }
        | Violation::RecoveryFailed { .. } => None,
    }
}

/// Two writers publishing the target with steps that do not refuse an existing one.
fn check_then_create_story(steps: &[Step], target: &str) -> Option<String> {
    let publishes: Vec<&Step> = steps
        .iter()
        .filter(|s| match &s.op {
            Op::Rename { to, no_replace, .. } => to == target && !*no_replace,
            Op::Open {
                path,
                create,
                exclusive,
                ..
            } => path == target && *create && !*exclusive,
            Op::Write { .. } | Op::Link { .. } | Op::Unlink { .. } | Op::Other { .. } => false,
        })
        .collect();
    let first = publishes.first()?;
    let second = publishes.iter().find(|s| s.writer != first.writer)?;
    let check = steps.iter().find(|s| {
        s.writer == second.writer
            && s.index < first.index
            && matches!(&s.op, Op::Other { path } if path == target)
    });
    let checked = match check {
        Some(check) => format!(
            "{} checked `{target}` with {} at #{} and found nothing; ",
            check.writer, check.syscall, check.index
        ),
        None => String::new(),
    };
    Some(format!(
        "{checked}{} published `{target}` with {} at #{}, then {} with {} at #{}, neither refusing an existing target",
        first.writer, first.syscall, first.index, second.writer, second.syscall, second.index
    ))
}

/// Without a pattern: who did what in each run.
fn runs_story(steps: &[Step]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut start = 0;
    while start < steps.len() {
        let writer = steps[start].writer;
        let end = steps[start..]
            .iter()
            .position(|s| s.writer != writer)
            .map_or(steps.len(), |n| start + n);
        let calls: Vec<&str> = steps[start..end]
            .iter()
            .map(|s| s.syscall.as_str())
            .collect();
        parts.push(format!(
            "{writer} ran {} (#{}..#{})",
            calls.join(", "),
            steps[start].index,
            steps[end - 1].index
        ));
        start = end;
    }
    match parts.is_empty() {
        true => "no step ran".to_owned(),
        false => parts.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::super::oracle::CheckFailure;
    use super::*;

    fn step(index: u64, writer: u32, syscall: &str, op: Op) -> Step {
        Step {
            index,
            writer: WriterId(writer),
            seq: index,
            syscall: syscall.to_owned(),
            op,
        }
    }

    #[test]
    fn without_a_pattern_the_story_lists_each_run() {
        let other = |path: &str| Op::Other {
            path: path.to_owned(),
        };
        let steps = [
            step(0, 1, "fsync", other("a")),
            step(1, 1, "close", other("a")),
            step(2, 2, "unlink", Op::Unlink { path: "b".into() }),
        ];
        let schedule: Schedule = "1x2.2".parse().unwrap();
        let violation = Violation::Leftovers { count: 1 };
        let diagnosis = diagnose(&violation, &schedule, &steps, "t", Mode::Replace);
        assert_eq!(diagnosis.pattern, Pattern::Unrecognised);
        assert_eq!(
            diagnosis.to_string(),
            "interleaving 1x2.2 (1 switch, then each writer runs to its end): writer 1 #0-#1, writer 2 #2\n\
             writer 1 ran fsync, close (#0..#1); writer 2 ran unlink (#2..#2): \
             1 file(s) left beside the target (--strict).\n\
             Fix: no known pattern: replay the interleaving and read its trace."
        );
    }

    #[test]
    fn a_tree_check_failure_names_a_fixed_temp_name_beside_the_target() {
        let open = Op::Open {
            path: "t.idx.tmp".into(),
            truncate: true,
            create: true,
            exclusive: false,
        };
        let rename = Op::Rename {
            from: "t.idx.tmp".into(),
            to: "t.idx".into(),
            no_replace: false,
        };
        let steps = [
            step(0, 1, "openat", open.clone()),
            step(1, 2, "openat", open),
            step(2, 2, "rename", rename),
        ];
        let schedule: Schedule = "1.2x2".parse().unwrap();
        let failure = CheckFailure {
            at: CheckPoint::AfterStep(2),
            reason: "index torn".into(),
        };
        let checked = Violation::CheckFailed(failure);
        let diagnosis = diagnose(&checked, &schedule, &steps, "t", Mode::Replace);
        assert_eq!(
            diagnosis.pattern,
            Pattern::FixedTempName {
                path: "t.idx.tmp".into()
            },
            "{diagnosis}"
        );
        assert!(
            diagnosis.lines[1].contains("renamed it to `t.idx` at #2"),
            "{diagnosis}"
        );
        // The target's own rules look at the target only.
        let leftovers = Violation::Leftovers { count: 1 };
        let diagnosis = diagnose(&leftovers, &schedule, &steps, "t", Mode::Replace);
        assert_eq!(diagnosis.pattern, Pattern::Unrecognised);
    }

    #[test]
    fn a_killed_lock_holder_that_breaks_the_next_run_is_a_stale_lock() {
        let claim = Op::Open {
            path: "t.lock".into(),
            truncate: false,
            create: true,
            exclusive: true,
        };
        let steps = [
            step(0, 1, "openat", claim.clone()),
            step(
                1,
                1,
                "write",
                Op::Other {
                    path: "t.lock".into(),
                },
            ),
            step(2, 2, "openat", claim),
        ];
        let schedule: Schedule = "1x2.2-k1@2".parse().unwrap();
        let violation = Violation::RecoveryFailed {
            exit: crate::oracle::RunExit::Code(255),
            left: super::super::classify::Reading::Old,
        };
        let diagnosis = diagnose(&violation, &schedule, &steps, "t", Mode::Replace);
        assert_eq!(
            diagnosis.pattern,
            Pattern::StaleLock {
                path: "t.lock".into()
            }
        );
        assert!(
            diagnosis.lines[1].starts_with(
                "writer 1 created `t.lock` with O_EXCL at #0 and was killed before #2 with it still there"
            ),
            "{diagnosis}"
        );
        // Without the kill, the same steps are no stale lock.
        let unkilled: Schedule = "1x2.2".parse().unwrap();
        let diagnosis = diagnose(&violation, &unkilled, &steps, "t", Mode::Replace);
        assert_eq!(diagnosis.pattern, Pattern::Unrecognised);
    }

    #[test]
    fn a_shared_name_opened_before_any_write_says_so() {
        let open = |path: &str| Op::Open {
            path: path.to_owned(),
            truncate: true,
            create: true,
            exclusive: false,
        };
        let rename = Op::Rename {
            from: "t.tmp".into(),
            to: "t".into(),
            no_replace: false,
        };
        let steps = [
            step(0, 1, "openat", open("t.tmp")),
            step(1, 2, "openat", open("t.tmp")),
            step(2, 2, "rename", rename),
        ];
        let (pattern, story) = recognise(&steps, "t", Mode::Replace, None);
        assert_eq!(
            pattern,
            Pattern::FixedTempName {
                path: "t.tmp".into()
            }
        );
        assert_eq!(
            story.unwrap(),
            "writer 2 opened `t.tmp` with O_TRUNC at #1 while writer 1 had it open; \
             writer 2 renamed it to `t` at #2"
        );
    }
}
