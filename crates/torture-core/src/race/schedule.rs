//! Schedules as values: which writer ran at each step, and the compact id that names them.
//!
//! The id grammar (what `--schedule` takes and every replay line prints):
//!
//! ```text
//! id    = body [ "-k" writer "@" step ]     the optional suffix: SIGKILL `writer` at step `step`
//! body  = "none" | run *( "." run )         "none": no recorded choice at all
//! run   = writer [ "x" count ]              `writer` runs `count` steps in a row (default 1)
//! ```
//!
//! Writers are numbered from 1 (`TORTURE_WRITER`), counts from 1, steps from 0; numbers are
//! decimal digits only. `1x3.2x2.1` is writer 1 for three steps, writer 2 for two, writer 1 for
//! one. Printing is canonical (adjacent runs of one writer merged, `x1` left out), so
//! `parse(print(s)) == s` for every schedule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One writer of a race: its instance number, from 1 (`TORTURE_WRITER`). Its generation is
/// the number plus one (`TORTURE_GENERATION`; generation 1 is the old version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WriterId(pub u32);

impl fmt::Display for WriterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "writer {}", self.0)
    }
}

/// `count` steps in a row of one writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Run {
    /// Who runs.
    pub writer: WriterId,
    /// How many steps (at least 1 in a [`Schedule`]).
    pub count: u64,
}

/// A SIGKILL of one writer, at the first boundary at or after step `step` where it is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KillAt {
    /// Who is killed.
    pub writer: WriterId,
    /// The step (0-based) before which it is killed.
    pub step: u64,
}

/// The choices of one interleaving, as runs of one writer each, plus an optional kill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    // Canonical: every count >= 1, no two adjacent runs of the same writer.
    runs: Vec<Run>,
    kill: Option<KillAt>,
}

/// Why a schedule id did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleParseError {
    /// Nothing at all.
    #[error("empty schedule id: write runs like `1x3.2x2.1`, or `none`")]
    Empty,
    /// A run is not `W` or `WxN`.
    #[error("`{0}` is not a run: write `W` or `WxN` (writer W >= 1 runs N >= 1 steps)")]
    BadRun(String),
    /// The kill suffix is not `-kW@S`.
    #[error("`{0}` is not a kill: write `-kW@S` (kill writer W >= 1 at step S)")]
    BadKill(String),
    /// The steps add up to more than 2^64 - 1.
    #[error("the runs add up to more than 2^64 - 1 steps")]
    TooLong,
}

impl Schedule {
    /// A schedule from runs in any form: zero-count runs are dropped, neighbours merged.
    pub fn from_runs(runs: impl IntoIterator<Item = Run>) -> Self {
        let mut schedule = Schedule::default();
        for run in runs {
            schedule.push_run(run);
        }
        schedule
    }

    /// A schedule from one choice per step.
    pub fn from_steps(steps: impl IntoIterator<Item = WriterId>) -> Self {
        Schedule::from_runs(steps.into_iter().map(|writer| Run { writer, count: 1 }))
    }

    /// The same choices with this kill (or none).
    pub fn with_kill(mut self, kill: Option<KillAt>) -> Self {
        self.kill = kill;
        self
    }

    fn push_run(&mut self, run: Run) {
        if run.count == 0 {
            return;
        }
        match self.runs.last_mut() {
            Some(last) if last.writer == run.writer => {
                last.count = last.count.saturating_add(run.count);
            }
            Some(_) | None => self.runs.push(run),
        }
    }

    /// The runs, canonical.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The kill, if any.
    pub fn kill(&self) -> Option<KillAt> {
        self.kill
    }

    /// Every step's writer, in order.
    pub fn steps(&self) -> impl Iterator<Item = WriterId> + '_ {
        self.runs
            .iter()
            .flat_map(|run| (0..run.count).map(move |_| run.writer))
    }

    /// Total steps (saturating).
    pub fn len_steps(&self) -> u64 {
        self.runs
            .iter()
            .fold(0u64, |sum, run| sum.saturating_add(run.count))
    }

    /// How many times the writer changes: runs minus one. Minimisation drives this down.
    pub fn switches(&self) -> usize {
        self.runs.len().saturating_sub(1)
    }

    /// The first `steps` steps (the kill is kept).
    pub fn prefix(&self, steps: u64) -> Schedule {
        let mut left = steps;
        let runs = self.runs.iter().map(|run| {
            let count = run.count.min(left);
            left -= count;
            Run { count, ..*run }
        });
        Schedule::from_runs(runs.collect::<Vec<_>>()).with_kill(self.kill)
    }
}

/// Preemptions in one run: steps that switch away from a writer that was still runnable (the
/// CHESS measure). `runnable[i]` is the set offered at step `i`, `chosen[i]` the writer taken.
pub fn preemptions(runnable: &[Vec<WriterId>], chosen: &[WriterId]) -> usize {
    chosen
        .windows(2)
        .zip(runnable.iter().skip(1))
        .filter(|(pair, offered)| pair[0] != pair[1] && offered.contains(&pair[0]))
        .count()
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.runs.is_empty() {
            f.write_str("none")?;
        }
        for (index, run) in self.runs.iter().enumerate() {
            let dot = if index == 0 { "" } else { "." };
            match run.count {
                1 => write!(f, "{dot}{}", run.writer.0)?,
                count => write!(f, "{dot}{}x{count}", run.writer.0)?,
            }
        }
        match self.kill {
            Some(kill) => write!(f, "-k{}@{}", kill.writer.0, kill.step),
            None => Ok(()),
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ScheduleParseError::Empty);
        }
        let (body, kill) = match text.split_once("-k") {
            Some((body, kill)) => (body, Some(parse_kill(kill)?)),
            None => (text, None),
        };
        let runs = match body {
            "none" => Vec::new(),
            _ => body.split('.').map(parse_run).collect::<Result<_, _>>()?,
        };
        let schedule = Schedule::from_runs(runs).with_kill(kill);
        let total = schedule
            .runs
            .iter()
            .try_fold(0u64, |sum, run| sum.checked_add(run.count));
        match total {
            Some(_) => Ok(schedule),
            None => Err(ScheduleParseError::TooLong),
        }
    }
}

fn parse_run(text: &str) -> Result<Run, ScheduleParseError> {
    let bad = || ScheduleParseError::BadRun(text.to_owned());
    let (writer, count) = match text.split_once('x') {
        Some((writer, count)) => (writer, decimal(count).ok_or_else(bad)?),
        None => (text, 1),
    };
    let writer = decimal(writer).and_then(|w| u32::try_from(w).ok());
    match (writer, count) {
        (Some(writer), count) if writer >= 1 && count >= 1 => Ok(Run {
            writer: WriterId(writer),
            count,
        }),
        (Some(_) | None, _) => Err(bad()),
    }
}

fn parse_kill(text: &str) -> Result<KillAt, ScheduleParseError> {
    let bad = || ScheduleParseError::BadKill(format!("-k{text}"));
    let (writer, step) = text.split_once('@').ok_or_else(bad)?;
    let writer = decimal(writer)
        .and_then(|w| u32::try_from(w).ok())
        .filter(|&w| w >= 1)
        .ok_or_else(bad)?;
    let step = decimal(step).ok_or_else(bad)?;
    Ok(KillAt {
        writer: WriterId(writer),
        step,
    })
}

/// A non-empty run of ASCII digits that fits in a u64 (no sign, no spaces).
fn decimal(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(n: u32) -> WriterId {
        WriterId(n)
    }

    #[test]
    fn ids_print_runs_and_parse_back() {
        let schedule = Schedule::from_steps([w(1), w(1), w(1), w(2), w(2), w(1)]);
        assert_eq!(schedule.to_string(), "1x3.2x2.1");
        assert_eq!("1x3.2x2.1".parse(), Ok(schedule.clone()));
        assert_eq!(schedule.switches(), 2);
        assert_eq!(schedule.len_steps(), 6);
        let killed = schedule.with_kill(Some(KillAt {
            writer: w(2),
            step: 4,
        }));
        assert_eq!(killed.to_string(), "1x3.2x2.1-k2@4");
        assert_eq!("1x3.2x2.1-k2@4".parse(), Ok(killed));
        assert_eq!(Schedule::default().to_string(), "none");
        assert_eq!("none".parse(), Ok(Schedule::default()));
    }

    #[test]
    fn non_canonical_ids_parse_to_the_canonical_schedule() {
        let schedule: Schedule = "1x1.1x2.2".parse().unwrap();
        assert_eq!(schedule.to_string(), "1x3.2");
    }

    #[test]
    fn bad_ids_are_refused_with_the_offending_part() {
        let cases = [
            ("", ScheduleParseError::Empty),
            ("0", ScheduleParseError::BadRun("0".into())),
            ("1x0", ScheduleParseError::BadRun("1x0".into())),
            ("1.", ScheduleParseError::BadRun(String::new())),
            ("1x+2", ScheduleParseError::BadRun("1x+2".into())),
            ("a", ScheduleParseError::BadRun("a".into())),
            ("1-k0@3", ScheduleParseError::BadKill("-k0@3".into())),
            ("1-k2", ScheduleParseError::BadKill("-k2".into())),
            ("1x18446744073709551615.2", ScheduleParseError::TooLong),
        ];
        for (text, error) in cases {
            assert_eq!(text.parse::<Schedule>(), Err(error.clone()), "{text}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn prefix_cuts_inside_a_run() {
        let schedule: Schedule = "1x3.2x2.1".parse().unwrap();
        assert_eq!(schedule.prefix(4).to_string(), "1x3.2");
        assert_eq!(schedule.prefix(0).to_string(), "none");
        assert_eq!(schedule.prefix(99), schedule);
    }

    #[test]
    fn preemptions_count_only_switches_away_from_a_runnable_writer() {
        let both = vec![w(1), w(2)];
        let only_two = vec![w(2)];
        // 1 1 2 2: the switch at step 2 happens after writer 1 finished.
        let runnable = [
            both.clone(),
            both.clone(),
            only_two.clone(),
            only_two.clone(),
        ];
        assert_eq!(preemptions(&runnable, &[w(1), w(1), w(2), w(2)]), 0);
        // 1 2 1 2 with both runnable until the end: two preemptions (the last switch is forced).
        let runnable = [both.clone(), both.clone(), both, only_two];
        assert_eq!(preemptions(&runnable, &[w(1), w(2), w(1), w(2)]), 2);
    }

    fn any_schedule() -> impl Strategy<Value = Schedule> {
        let run = (1u32..6, 1u64..1_000).prop_map(|(writer, count)| Run {
            writer: WriterId(writer),
            count,
        });
        let kill =
            proptest::option::of((1u32..6, 0u64..10_000).prop_map(|(writer, step)| KillAt {
                writer: WriterId(writer),
                step,
            }));
        (proptest::collection::vec(run, 0..20), kill)
            .prop_map(|(runs, kill)| Schedule::from_runs(runs).with_kill(kill))
    }

    proptest! {
        #[test]
        fn ids_round_trip(schedule in any_schedule()) {
            let id = schedule.to_string();
            prop_assert_eq!(id.parse::<Schedule>(), Ok(schedule.clone()), "{}", id);
            prop_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.@".contains(&b)));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "[0-9xk@.\\-none]{0,24}") {
            if let Ok(schedule) = text.parse::<Schedule>() {
                prop_assert_eq!(schedule.to_string().parse::<Schedule>(), Ok(schedule));
            }
        }
    }
}
