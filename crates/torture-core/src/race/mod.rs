//! Racing writers (`torture race`), the pure half: schedules, their generators, the race
//! oracle, minimisation and diagnosis. The tracer runs N instances of a writer on one sandbox
//! and, at every traced syscall boundary, asks a [`generate::Scheduler`] which one goes next
//! while it holds the others stopped; this module never sees a process.
//!
//! **Generating.** [`generate::Search`] picks one of three searches, all seeded:
//! - a random walk (a uniform pick among the runnable writers at each step);
//! - PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with
//!   Probabilistic Guarantees of Finding Bugs", ASPLOS 2010): random priorities, the highest
//!   runnable writer runs, and `depth - 1` random steps demote the running writer, which finds
//!   any bug of depth `d` with probability at least `1 / (n k^(d-1))` per interleaving;
//! - preemption-bounded enumeration (Musuvathi and Qadeer, "Iterative Context Bounding for
//!   Systematic Testing of Multithreaded Programs", PLDI 2007, as in CHESS): every interleaving
//!   with at most K preemptions, a preemption being a switch away from a writer that could have
//!   gone on. The tree is not known in advance: the scheduler keeps a depth-first choice stack;
//!   [`generate::Scheduler::next_schedule`] returns the prefix the next interleaving replays,
//!   exploration continues past it, and [`generate::Scheduler::finish`] backtracks. A writer
//!   that is not deterministic shows up as [`generate::ScheduleError::Diverged`].
//!
//! **Replaying.** Every interleaving is a [`schedule::Schedule`] with a printable id
//! (`1x3.2x2.1`, writer 1 three steps, writer 2 two, writer 1 one, optionally `-k2@5` for a
//! SIGKILL of writer 2 at step 5; grammar in [`schedule`]). [`generate::Scheduler::replay`]
//! follows an id: given the same runnable sets it makes the same choices, so a violation's
//! replay line is `--seed S --schedule <id>`. When the runs are used up, the current writer
//! goes on while it can, then the lowest-numbered runnable one: an id only needs the switches.
//!
//! **Judging.** Between steps the harness reads the target; [`oracle::judge`] checks the reads,
//! the writers' ends, the final target, leftovers and a clean recovery run against the rules
//! listed in [`oracle`], with [`classify`] naming what each read is (which versions a torn file
//! mixes, over which byte ranges).
//!
//! **Minimising and diagnosing.** [`minimise::minimise`] cuts a violating schedule down to the
//! fewest switches by delta debugging over its runs, replaying candidates through a closure.
//! [`diagnose::diagnose`] then tells the replayed steps as three lines:
//!
//! ```text
//! interleaving 2x2.1 (1 switch, then each writer runs to its end): writer 2 #0-#1, writer 1 #2-#6, ...
//! writer 1 opened `target.json.tmp` with O_TRUNC at #2 while writer 2 had written 4 KiB to it;
//!   writer 1 renamed it to `target.json` at #6, and writer 2 went on writing to it at #7: a read
//!   after #7 saw a torn target: 4 KiB of writer 1's version (bytes 0..4096) followed by ...
//! Fix: a unique temp name per run (O_TMPFILE, mkstemp).
//! ```
//!
//! The first line is the order the writers ran in (`#N` is the step, all writers together;
//! each step is one traced syscall). The second names the syscalls that make the violation,
//! then the violation. The third is the fix for the recognised [`diagnose::Pattern`]: a shared
//! temp name, writing the target in place, or a no-clobber check separate from the create.
pub mod classify;
pub mod diagnose;
pub mod generate;
pub mod minimise;
pub mod oracle;
pub mod schedule;
#[cfg(test)]
mod sim;
pub mod trail;

#[cfg(test)]
mod tests {
    use super::diagnose::{Diagnosis, Pattern, diagnose};
    use super::generate::{Scheduler, Search};
    use super::minimise::minimise;
    use super::oracle::{Mode, Violation, judge};
    use super::schedule::{KillAt, Schedule, WriterId};
    use super::sim::{self, Outcome, SimOp, TARGET};

    struct Race {
        programs: Vec<Vec<SimOp>>,
        mode: Mode,
        old: Option<Vec<u8>>,
    }

    impl Race {
        fn new(writer: fn(u32) -> Vec<SimOp>, writers: u32, mode: Mode) -> Self {
            Race {
                programs: (1..=writers).map(writer).collect(),
                mode,
                old: None,
            }
        }

        fn run(&self, scheduler: &mut Scheduler) -> Outcome {
            sim::run(&self.programs, self.mode, self.old.as_deref(), scheduler)
        }

        fn replay(&self, schedule: &Schedule) -> Outcome {
            let mut scheduler = Scheduler::replay(schedule.clone());
            scheduler.next_schedule();
            self.run(&mut scheduler)
        }

        /// The first violating interleaving of up to `limit` from this search.
        fn search(&self, search: Search, limit: usize) -> Option<(Outcome, Violation)> {
            let mut scheduler = Scheduler::new(search, 42).unwrap();
            for _ in 0..limit {
                scheduler.next_schedule()?;
                let outcome = self.run(&mut scheduler);
                if let Some(violation) = judge(&outcome.facts).into_iter().next() {
                    return Some((outcome, violation));
                }
            }
            None
        }

        /// Minimises on "the same kind of violation persists", then diagnoses the result.
        fn explain(&self, schedule: &Schedule, violation: &Violation) -> (Schedule, Diagnosis) {
            let kind = violation.kind();
            let fails = |s: &Schedule| {
                judge(&self.replay(s).facts)
                    .iter()
                    .any(|v| v.kind() == kind)
            };
            let minimised = minimise(schedule, 500, fails).schedule;
            let outcome = self.replay(&minimised);
            let violation = judge(&outcome.facts)
                .into_iter()
                .find(|v| v.kind() == kind)
                .expect("the minimised schedule still fails");
            let diagnosis = diagnose(&violation, &minimised, &outcome.steps, TARGET, self.mode);
            eprintln!("{diagnosis}");
            (minimised, diagnosis)
        }
    }

    #[test]
    fn a_fixed_temp_name_is_caught_and_cut_down_to_two_switches() {
        let race = Race::new(sim::fixed_temp, 3, Mode::Replace);
        let (outcome, violation) = race
            .search(Search::Random, 50)
            .expect("the canary is caught");
        assert!(outcome.schedule.switches() > 2, "{}", outcome.schedule);
        let (minimised, diagnosis) = race.explain(&outcome.schedule, &violation);
        assert!(minimised.switches() <= 2, "{minimised}");
        assert_eq!(
            diagnosis.pattern,
            Pattern::FixedTempName {
                path: format!("{TARGET}.tmp")
            }
        );
        assert_eq!(diagnosis.lines.len(), 3);
        assert!(diagnosis.lines[0].starts_with(&format!("interleaving {minimised} (")));
        assert!(
            diagnosis.lines[1].contains("opened `target.json.tmp` with O_TRUNC at #"),
            "{diagnosis}"
        );
        assert!(diagnosis.lines[1].contains("renamed it to `target.json` at #"));
        assert_eq!(
            diagnosis.lines[2],
            "Fix: a unique temp name per run (O_TMPFILE, mkstemp)."
        );
    }

    #[test]
    fn unique_temp_names_survive_every_search() {
        let race = Race::new(sim::unique_temp, 3, Mode::Replace);
        assert_eq!(race.search(Search::Random, 300).map(|v| v.1), None);
        let pct = Search::Pct {
            depth: 3,
            steps_hint: 15,
        };
        assert_eq!(race.search(pct, 300).map(|v| v.1), None);
        let two = Race::new(sim::unique_temp, 2, Mode::Replace);
        let bounded = Search::Bounded { preemptions: 2 };
        assert_eq!(two.search(bounded, 10_000).map(|v| v.1), None);
    }

    #[test]
    fn the_bounded_search_catches_the_fixed_temp_name_with_one_preemption() {
        let race = Race::new(sim::fixed_temp, 2, Mode::Replace);
        assert_eq!(
            race.search(Search::Bounded { preemptions: 0 }, 1_000)
                .map(|v| v.1),
            None
        );
        let (outcome, _) = race
            .search(Search::Bounded { preemptions: 1 }, 1_000)
            .expect("one preemption is enough");
        assert!(outcome.schedule.switches() <= 2, "{}", outcome.schedule);
    }

    #[test]
    fn an_in_place_writer_is_diagnosed_as_such() {
        let race = Race {
            old: Some(sim::version(9)),
            ..Race::new(sim::in_place, 2, Mode::Replace)
        };
        let (outcome, violation) = race.search(Search::Random, 50).expect("caught");
        let (_, diagnosis) = race.explain(&outcome.schedule, &violation);
        assert_eq!(diagnosis.pattern, Pattern::InPlaceWrite);
        assert!(
            diagnosis.lines[1]
                .contains("opened `target.json` itself with O_TRUNC at #0 and had written nothing"),
            "{diagnosis}"
        );
    }

    #[test]
    fn no_clobber_needs_an_atomic_check() {
        let broken = Race::new(sim::check_then_rename, 2, Mode::NoClobber);
        let (outcome, violation) = broken.search(Search::Random, 100).expect("caught");
        let (minimised, diagnosis) = broken.explain(&outcome.schedule, &violation);
        assert!(minimised.switches() <= 2, "{minimised}");
        assert_eq!(diagnosis.pattern, Pattern::CheckThenCreate);
        assert!(diagnosis.lines[2].contains("renameat2(RENAME_NOREPLACE)"));
        let correct = Race::new(sim::no_replace, 2, Mode::NoClobber);
        let bounded = Search::Bounded { preemptions: 2 };
        assert_eq!(correct.search(bounded, 10_000).map(|v| v.1), None);
    }

    #[test]
    fn a_killed_writer_leaves_its_temp_file_and_strict_counts_it() {
        let race = Race::new(sim::unique_temp, 2, Mode::Replace);
        let kill = KillAt {
            writer: WriterId(1),
            step: 2,
        };
        let schedule: Schedule = "1x5.2x5".parse().unwrap();
        let outcome = race.replay(&schedule.with_kill(Some(kill)));
        assert_eq!(judge(&outcome.facts), [Violation::Leftovers { count: 1 }]);
        assert_eq!(outcome.schedule.to_string(), "1x2.2x5-k1@2");
    }
}
