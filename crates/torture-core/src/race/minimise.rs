//! Cutting a violating schedule down to the fewest switches.
//!
//! Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input",
//! TSE 2002) over the runs of the schedule: remove chunks of runs (halves, then quarters, down
//! to single runs), keep any removal after which the violation persists, and merge the
//! neighbours a removal brings together. A replay is lenient (see [`super::generate::Replay`]),
//! so every candidate runs: the steps of a removed run happen later, when the schedule lets
//! that writer go on. The kill is dropped first when the violation does not need it. The
//! caller's closure replays a candidate and says whether the violation persists.

use std::collections::HashSet;

use super::schedule::{Run, Schedule};

/// The result of [`minimise`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minimised {
    /// The smallest violating schedule found (the input when nothing smaller still fails).
    pub schedule: Schedule,
    /// How many candidates were replayed.
    pub tries: usize,
}

/// Minimises `schedule`, which must already fail, replaying at most `max_tries` candidates.
pub fn minimise(
    schedule: &Schedule,
    max_tries: usize,
    mut still_fails: impl FnMut(&Schedule) -> bool,
) -> Minimised {
    let mut search = Search {
        tried: HashSet::from([schedule.clone()]),
        tries: 0,
        max_tries,
        still_fails: &mut still_fails,
    };
    let mut current = schedule.clone();
    if current.kill().is_some() {
        let unkilled = current.clone().with_kill(None);
        if search.fails(&unkilled) {
            current = unkilled;
        }
    }
    let current = remove_runs(&mut search, current);
    Minimised {
        schedule: current,
        tries: search.tries,
    }
}

struct Search<'a, F: FnMut(&Schedule) -> bool> {
    tried: HashSet<Schedule>,
    tries: usize,
    max_tries: usize,
    still_fails: &'a mut F,
}

impl<F: FnMut(&Schedule) -> bool> Search<'_, F> {
    /// Replays a candidate not seen before, within the budget.
    fn fails(&mut self, candidate: &Schedule) -> bool {
        if self.tries >= self.max_tries || !self.tried.insert(candidate.clone()) {
            return false;
        }
        self.tries += 1;
        (self.still_fails)(candidate)
    }

    fn exhausted(&self) -> bool {
        self.tries >= self.max_tries
    }
}

/// ddmin over the runs: try dropping each of `chunks` chunks; on success keep the smaller
/// schedule and coarsen, otherwise refine until chunks are single runs.
fn remove_runs<F: FnMut(&Schedule) -> bool>(
    search: &mut Search<'_, F>,
    start: Schedule,
) -> Schedule {
    let mut current = start;
    let mut chunks = 2;
    while current.runs().len() >= 2 && !search.exhausted() {
        let runs = current.runs().to_vec();
        let chunks_now = chunks.min(runs.len());
        match first_failing_removal(search, &current, &runs, chunks_now) {
            Some(smaller) => {
                current = smaller;
                chunks = (chunks_now - 1).max(2);
            }
            None if chunks_now >= runs.len() => break,
            None => chunks = (chunks_now * 2).min(runs.len()),
        }
    }
    current
}

fn first_failing_removal<F: FnMut(&Schedule) -> bool>(
    search: &mut Search<'_, F>,
    current: &Schedule,
    runs: &[Run],
    chunks: usize,
) -> Option<Schedule> {
    let size = runs.len().div_ceil(chunks);
    (0..runs.len()).step_by(size).find_map(|start| {
        let end = (start + size).min(runs.len());
        let kept = runs[..start].iter().chain(&runs[end..]).copied();
        let candidate = Schedule::from_runs(kept.collect::<Vec<_>>()).with_kill(current.kill());
        search.fails(&candidate).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::race::schedule::WriterId;

    #[test]
    fn keeps_only_the_runs_the_failure_needs() {
        // Fails while writer 2 runs before some run of writer 3: the one pair is enough.
        let fails = |s: &Schedule| {
            let steps: Vec<WriterId> = s.steps().collect();
            let two = steps.iter().position(|w| *w == WriterId(2));
            let three = steps.iter().rposition(|w| *w == WriterId(3));
            matches!((two, three), (Some(a), Some(b)) if a < b)
        };
        let start: Schedule = "1.2.1.3.1.2.3.1x4.2.3".parse().unwrap();
        assert!(fails(&start));
        let found = minimise(&start, 1_000, fails);
        assert_eq!(found.schedule.to_string(), "2.3");
        assert!(found.tries < 40, "{} tries", found.tries);
    }

    #[test]
    fn drops_an_unneeded_kill_and_respects_the_budget() {
        let start: Schedule = "1.2.1.2-k1@2".parse().unwrap();
        let found = minimise(&start, 1_000, |s| s.steps().any(|w| w == WriterId(2)));
        assert_eq!(found.schedule.to_string(), "2");
        let mut calls = 0;
        let found = minimise(&start, 3, |_| {
            calls += 1;
            false
        });
        assert_eq!((found.schedule, found.tries, calls), (start, 3, 3));
    }
}
