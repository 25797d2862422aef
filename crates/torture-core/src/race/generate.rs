//! Schedule generators: who runs next, given the writers that are runnable now.
//!
//! The driver (the tracer) does not know the interleaving tree in advance, so every generator
//! is fed one runnable set at a time. A [`Scheduler`] drives one interleaving per
//! [`Scheduler::next_schedule`]: the returned schedule is the prefix it will replay (empty for
//! the random generators), then [`Scheduler::choose`] is called at every boundary until no
//! writer is left, and [`Scheduler::finish`] returns the schedule that was taken.

use std::collections::{BTreeMap, BTreeSet};

use crate::rng::SplitMix64;

use super::schedule::{KillAt, Run, Schedule, WriterId};

/// Which search a [`Scheduler`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// A seeded random walk: each step picks uniformly among the runnable writers. Endless.
    Random,
    /// PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte, "A Randomized Scheduler with
    /// Probabilistic Guarantees of Finding Bugs", ASPLOS 2010): random distinct priorities,
    /// the highest-priority runnable writer runs, and at `depth - 1` random steps (out of
    /// `steps_hint`) the running writer drops below all others. Finds a bug of depth `d` among
    /// `n` writers and `k` steps with probability at least `1 / (n k^(d-1))` per schedule. Endless.
    Pct {
        /// The bug depth `d` aimed at (1 = no priority change), at most [`MAX_PCT_DEPTH`].
        depth: u32,
        /// The expected number of steps `k` of one interleaving (all writers together).
        steps_hint: u64,
    },
    /// Every schedule with at most `preemptions` preemptions, depth first (Musuvathi and
    /// Qadeer, "Iterative Context Bounding for Systematic Testing of Multithreaded Programs",
    /// PLDI 2007, the CHESS search). A preemption switches away from a writer that could have
    /// gone on; switching when it stopped being runnable is free. Finite.
    Bounded {
        /// The preemption bound K.
        preemptions: u32,
    },
}

/// The largest PCT depth accepted: deeper bugs need more schedules than anyone runs.
pub const MAX_PCT_DEPTH: u32 = 1_000;

/// Why a search cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// PCT depth 0 or above [`MAX_PCT_DEPTH`].
    #[error("PCT depth {depth} is out of range: give 1 to {MAX_PCT_DEPTH}")]
    PctDepth {
        /// The depth asked for.
        depth: u32,
    },
}

/// Why a step could not be chosen, or a run did not replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `choose` was called with an empty runnable set.
    #[error("no writer is runnable at step {step}")]
    NothingRunnable {
        /// The step.
        step: u64,
    },
    /// Replaying a prefix, the runnable set differed from the recorded one: the writers are
    /// not deterministic, so the systematic search cannot trust its tree.
    #[error(
        "the writers diverged from the recorded run at step {step}: runnable {}, recorded {} \
         (a writer is nondeterministic; use the random search)",
        list(got),
        list(recorded)
    )]
    Diverged {
        /// The step.
        step: u64,
        /// The runnable set recorded when the prefix was first explored.
        recorded: Vec<WriterId>,
        /// The runnable set offered now.
        got: Vec<WriterId>,
    },
    /// The run ended inside the prefix it was meant to replay.
    #[error("the writers ended at step {step}, inside the {prefix_steps}-step prefix to replay")]
    EndedEarly {
        /// Steps taken.
        step: u64,
        /// Steps the prefix has.
        prefix_steps: u64,
    },
}

fn list(writers: &[WriterId]) -> String {
    let numbers: Vec<String> = writers.iter().map(|w| w.0.to_string()).collect();
    format!("{{{}}}", numbers.join(","))
}

/// The state of one search, one variant per [`Search`] plus the replay of a given schedule.
#[derive(Debug, Clone)]
pub enum Generator {
    /// See [`Search::Random`].
    Random(RandomWalk),
    /// See [`Search::Pct`].
    Pct(Pct),
    /// See [`Search::Bounded`].
    Bounded(Bounded),
    /// One given schedule (`--schedule ID`).
    Replay(Replay),
}

/// The driver's handle: a generator, the record of the current interleaving, and its kill.
#[derive(Debug, Clone)]
pub struct Scheduler {
    generator: Generator,
    kill: Option<KillAt>,
    killed: bool,
    taken: Vec<WriterId>,
}

impl Scheduler {
    /// A search whose every choice follows from `seed`.
    pub fn new(search: Search, seed: u64) -> Result<Self, SearchError> {
        let generator = match search {
            Search::Random => Generator::Random(RandomWalk::new(seed)),
            Search::Pct { depth, steps_hint } => {
                if !(1..=MAX_PCT_DEPTH).contains(&depth) {
                    return Err(SearchError::PctDepth { depth });
                }
                Generator::Pct(Pct::new(seed, depth, steps_hint))
            }
            Search::Bounded { preemptions } => Generator::Bounded(Bounded::new(preemptions)),
        };
        Ok(Scheduler::with_generator(generator, None))
    }

    /// Replays one schedule, kill included; yields exactly one interleaving.
    pub fn replay(schedule: Schedule) -> Self {
        let kill = schedule.kill();
        Scheduler::with_generator(Generator::Replay(Replay::new(schedule)), kill)
    }

    fn with_generator(generator: Generator, kill: Option<KillAt>) -> Self {
        Scheduler {
            generator,
            kill,
            killed: false,
            taken: Vec::new(),
        }
    }

    /// Every interleaving of this scheduler kills `kill.writer` at `kill.step` (`--kill`).
    pub fn with_kill(mut self, kill: KillAt) -> Self {
        self.kill = Some(kill);
        self
    }

    /// The generator, for inspection.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// Starts the next interleaving: the prefix it will replay, or `None` when the search is
    /// exhausted (only [`Search::Bounded`] and a replay end).
    pub fn next_schedule(&mut self) -> Option<Schedule> {
        self.taken.clear();
        self.killed = false;
        let prefix = match &mut self.generator {
            Generator::Random(_) | Generator::Pct(_) => Some(Schedule::default()),
            Generator::Bounded(bounded) => bounded.start(),
            Generator::Replay(replay) => replay.start(),
        };
        if let Generator::Pct(pct) = &mut self.generator {
            pct.start();
        }
        prefix.map(|prefix| prefix.with_kill(self.kill))
    }

    /// Whether to SIGKILL a writer now, before choosing this step: once, at the first step at
    /// or after the kill step where that writer is runnable.
    pub fn kill_due(&mut self, runnable: &[WriterId]) -> Option<WriterId> {
        let kill = self.kill?;
        let due =
            !self.killed && self.taken.len() as u64 >= kill.step && runnable.contains(&kill.writer);
        self.killed |= due;
        due.then_some(kill.writer)
    }

    /// Whether this interleaving's kill has happened.
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// The writer to run for one step; always one of `runnable` (any order, duplicates ignored).
    pub fn choose(&mut self, runnable: &[WriterId]) -> Result<WriterId, ScheduleError> {
        let step = self.taken.len() as u64;
        let runnable = normalise(runnable);
        if runnable.is_empty() {
            return Err(ScheduleError::NothingRunnable { step });
        }
        let prev = self.taken.last().copied();
        let writer = match &mut self.generator {
            Generator::Random(walk) => walk.choose(&runnable),
            Generator::Pct(pct) => pct.choose(&runnable),
            Generator::Bounded(bounded) => bounded.choose(step, prev, runnable)?,
            Generator::Replay(replay) => replay.choose(prev, &runnable),
        };
        self.taken.push(writer);
        Ok(writer)
    }

    /// Ends the interleaving (no writer left) and returns the schedule it took.
    pub fn finish(&mut self) -> Result<Schedule, ScheduleError> {
        let steps = self.taken.len();
        if let Generator::Bounded(bounded) = &mut self.generator {
            bounded.finish(steps)?;
        }
        Ok(Schedule::from_steps(self.taken.iter().copied()).with_kill(self.kill))
    }
}

/// Sorted, without duplicates: generators must not depend on the order the driver lists them.
fn normalise(runnable: &[WriterId]) -> Vec<WriterId> {
    let set: BTreeSet<WriterId> = runnable.iter().copied().collect();
    set.into_iter().collect()
}

/// Picks a kill for `--kill`: a writer among `1..=writers` and a step below `steps_hint`.
pub fn sample_kill(rng: &mut SplitMix64, writers: u32, steps_hint: u64) -> KillAt {
    let writer = rng.below(u64::from(writers.max(1))) as u32 + 1;
    KillAt {
        writer: WriterId(writer),
        step: rng.below(steps_hint.max(1)),
    }
}

/// State of [`Search::Random`].
#[derive(Debug, Clone)]
pub struct RandomWalk {
    rng: SplitMix64,
}

impl RandomWalk {
    fn new(seed: u64) -> Self {
        RandomWalk {
            rng: SplitMix64::new(seed),
        }
    }

    fn choose(&mut self, runnable: &[WriterId]) -> WriterId {
        runnable[self.rng.below(runnable.len() as u64) as usize]
    }
}

/// State of [`Search::Pct`].
#[derive(Debug, Clone)]
pub struct Pct {
    rng: SplitMix64,
    depth: u32,
    steps_hint: u64,
    priorities: BTreeMap<WriterId, u64>,
    // change_points[i] is the step after which the running writer drops to priority i + 1.
    change_points: Vec<u64>,
    step: u64,
}

impl Pct {
    fn new(seed: u64, depth: u32, steps_hint: u64) -> Self {
        Pct {
            rng: SplitMix64::new(seed),
            depth,
            steps_hint,
            priorities: BTreeMap::new(),
            change_points: Vec::new(),
            step: 0,
        }
    }

    /// The steps of the current interleaving after which the running writer is demoted.
    pub fn change_points(&self) -> &[u64] {
        &self.change_points
    }

    fn start(&mut self) {
        self.priorities.clear();
        self.step = 0;
        let wanted = u64::from(self.depth - 1).min(self.steps_hint);
        self.change_points = distinct_below(&mut self.rng, wanted, self.steps_hint);
    }

    fn choose(&mut self, runnable: &[WriterId]) -> WriterId {
        let depth = u64::from(self.depth);
        for writer in runnable {
            // Initial priorities are at least `depth`, above every change point's 1..depth-1.
            let random = self.rng.next_u64() >> 1;
            self.priorities.entry(*writer).or_insert(depth + random);
        }
        let writer = *runnable
            .iter()
            .max_by_key(|w| (self.priorities[w], std::cmp::Reverse(**w)))
            .expect("runnable is not empty");
        if let Some(index) = self.change_points.iter().position(|&s| s == self.step) {
            self.priorities.insert(writer, index as u64 + 1);
        }
        self.step += 1;
        writer
    }
}

/// `count` distinct values in `0..bound` (`count <= bound`), in random order.
fn distinct_below(rng: &mut SplitMix64, count: u64, bound: u64) -> Vec<u64> {
    if count.saturating_mul(2) > bound {
        // Dense: shuffle all of them (bound <= 2 * MAX_PCT_DEPTH here).
        let mut all: Vec<u64> = (0..bound).collect();
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i as u64 + 1) as usize);
        }
        all.truncate(count as usize);
        return all;
    }
    let mut seen = BTreeSet::new();
    let mut values = Vec::new();
    while (values.len() as u64) < count {
        let value = rng.below(bound);
        if seen.insert(value) {
            values.push(value);
        }
    }
    values
}

/// State of [`Search::Bounded`]: the depth-first choice stack of the current interleaving.
#[derive(Debug, Clone)]
pub struct Bounded {
    bound: u32,
    stack: Vec<Frame>,
    // Steps of `stack` the current interleaving replays before it explores.
    replay_steps: usize,
    used: u32,
    exhausted: bool,
}

/// One step of the choice stack.
#[derive(Debug, Clone)]
struct Frame {
    runnable: Vec<WriterId>,
    chosen: WriterId,
    // Alternatives not yet explored, the next one last.
    untried: Vec<WriterId>,
}

impl Bounded {
    fn new(bound: u32) -> Self {
        Bounded {
            bound,
            stack: Vec::new(),
            replay_steps: 0,
            used: 0,
            exhausted: false,
        }
    }

    fn start(&mut self) -> Option<Schedule> {
        if self.exhausted {
            return None;
        }
        self.used = 0;
        let prefix = self.stack[..self.replay_steps].iter().map(|f| f.chosen);
        Some(Schedule::from_steps(prefix))
    }

    fn choose(
        &mut self,
        step: u64,
        prev: Option<WriterId>,
        runnable: Vec<WriterId>,
    ) -> Result<WriterId, ScheduleError> {
        let index = step as usize;
        let writer = match self.stack.get(index) {
            Some(frame) if index < self.replay_steps => {
                if frame.runnable != runnable {
                    return Err(ScheduleError::Diverged {
                        step,
                        recorded: frame.runnable.clone(),
                        got: runnable,
                    });
                }
                frame.chosen
            }
            Some(_) | None => self.explore(index, prev, runnable),
        };
        self.used += preempts(prev, &self.stack[index].runnable, writer);
        Ok(writer)
    }

    /// A new step: the non-preemptive choice first, the others kept for backtracking.
    fn explore(
        &mut self,
        index: usize,
        prev: Option<WriterId>,
        runnable: Vec<WriterId>,
    ) -> WriterId {
        let mut options: Vec<WriterId> = Vec::with_capacity(runnable.len());
        let stay = prev.filter(|p| runnable.contains(p));
        options.extend(stay);
        if stay.is_none() || self.used < self.bound {
            options.extend(runnable.iter().filter(|w| Some(**w) != stay));
        }
        let chosen = options[0];
        let untried = options[1..].iter().rev().copied().collect();
        self.stack.truncate(index);
        self.stack.push(Frame {
            runnable,
            chosen,
            untried,
        });
        chosen
    }

    /// Backtracks to the deepest step with an untried alternative.
    fn finish(&mut self, steps: usize) -> Result<(), ScheduleError> {
        if steps < self.replay_steps {
            return Err(ScheduleError::EndedEarly {
                step: steps as u64,
                prefix_steps: self.replay_steps as u64,
            });
        }
        self.stack.truncate(steps);
        while let Some(top) = self.stack.last_mut() {
            if let Some(next) = top.untried.pop() {
                top.chosen = next;
                self.replay_steps = self.stack.len();
                return Ok(());
            }
            self.stack.pop();
        }
        self.exhausted = true;
        Ok(())
    }
}

fn preempts(prev: Option<WriterId>, runnable: &[WriterId], chosen: WriterId) -> u32 {
    match prev {
        Some(p) if p != chosen && runnable.contains(&p) => 1,
        Some(_) | None => 0,
    }
}

/// State of a replay: follows the runs leniently, so an edited schedule (minimisation) still
/// runs. A run whose writer is not runnable ends early; after the last run the current writer
/// goes on while it can, then the lowest-numbered runnable one.
#[derive(Debug, Clone)]
pub struct Replay {
    runs: Vec<Run>,
    run: usize,
    left: u64,
    started: bool,
    schedule: Schedule,
}

impl Replay {
    fn new(schedule: Schedule) -> Self {
        Replay {
            runs: schedule.runs().to_vec(),
            run: 0,
            left: 0,
            started: false,
            schedule,
        }
    }

    fn start(&mut self) -> Option<Schedule> {
        if self.started {
            return None;
        }
        self.started = true;
        self.run = 0;
        self.left = self.runs.first().map_or(0, |run| run.count);
        Some(self.schedule.clone())
    }

    fn choose(&mut self, prev: Option<WriterId>, runnable: &[WriterId]) -> WriterId {
        while let Some(run) = self.runs.get(self.run) {
            if self.left > 0 && runnable.contains(&run.writer) {
                self.left -= 1;
                return run.writer;
            }
            self.run += 1;
            self.left = self.runs.get(self.run).map_or(0, |run| run.count);
        }
        prev.filter(|p| runnable.contains(p)).unwrap_or(runnable[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::race::schedule::preemptions;
    use proptest::prelude::*;

    fn w(n: u32) -> WriterId {
        WriterId(n)
    }

    /// One interleaving of writers that each take a fixed number of steps and then exit.
    struct Trace {
        runnable: Vec<Vec<WriterId>>,
        chosen: Vec<WriterId>,
        schedule: Schedule,
    }

    fn drive(scheduler: &mut Scheduler, steps: &[u64]) -> Trace {
        let mut left = steps.to_vec();
        let mut trace = Trace {
            runnable: Vec::new(),
            chosen: Vec::new(),
            schedule: Schedule::default(),
        };
        loop {
            let runnable: Vec<WriterId> = (0..left.len())
                .filter(|&i| left[i] > 0)
                .map(|i| WriterId(i as u32 + 1))
                .collect();
            if runnable.is_empty() {
                break;
            }
            let writer = scheduler.choose(&runnable).unwrap();
            assert!(runnable.contains(&writer), "{writer} not in {runnable:?}");
            left[writer.0 as usize - 1] -= 1;
            trace.runnable.push(runnable);
            trace.chosen.push(writer);
        }
        trace.schedule = scheduler.finish().unwrap();
        trace
    }

    fn all_bounded(bound: u32, steps: &[u64]) -> Vec<Trace> {
        let mut scheduler = Scheduler::new(Search::Bounded { preemptions: bound }, 0).unwrap();
        let mut traces = Vec::new();
        while let Some(prefix) = scheduler.next_schedule() {
            let trace = drive(&mut scheduler, steps);
            let taken: Vec<WriterId> = trace.schedule.steps().collect();
            assert!(taken.starts_with(&prefix.steps().collect::<Vec<_>>()));
            traces.push(trace);
            assert!(traces.len() < 100_000, "the search does not end");
        }
        traces
    }

    #[test]
    fn bounded_search_counts_match_the_hand_count_for_two_writers_of_two_steps() {
        // The 6 interleavings of 1 1 / 2 2: 1122 and 2211 need no preemption; 1221 and 2112
        // one (the first switch leaves a runnable writer, the second is forced); 1212 and 2121
        // two (the last switch is forced).
        let ids = |bound| -> Vec<String> {
            let mut ids: Vec<String> = all_bounded(bound, &[2, 2])
                .iter()
                .map(|t| t.schedule.to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(0), ["1x2.2x2", "2x2.1x2"]);
        assert_eq!(ids(1), ["1.2x2.1", "1x2.2x2", "2.1x2.2", "2x2.1x2"]);
        assert_eq!(
            ids(2),
            [
                "1.2.1.2", "1.2x2.1", "1x2.2x2", "2.1.2.1", "2.1x2.2", "2x2.1x2"
            ]
        );
        assert_eq!(ids(9).len(), 6);
    }

    /// Every interleaving of writers with these step counts, by brute force.
    fn brute_force(steps: &[u64]) -> Vec<(Vec<Vec<WriterId>>, Vec<WriterId>)> {
        let mut done = Vec::new();
        let mut partial = vec![(steps.to_vec(), Vec::new(), Vec::new())];
        while let Some((left, runnable_log, chosen)) = partial.pop() {
            let runnable: Vec<WriterId> = (0..left.len())
                .filter(|&i| left[i] > 0)
                .map(|i| WriterId(i as u32 + 1))
                .collect();
            if runnable.is_empty() {
                done.push((runnable_log, chosen));
                continue;
            }
            for writer in &runnable {
                let mut left = left.clone();
                left[writer.0 as usize - 1] -= 1;
                let mut log = runnable_log.clone();
                log.push(runnable.clone());
                let mut chosen = chosen.clone();
                chosen.push(*writer);
                partial.push((left, log, chosen));
            }
        }
        done
    }

    #[test]
    fn a_replay_diverging_from_the_recorded_tree_is_an_error() {
        let mut scheduler = Scheduler::new(Search::Bounded { preemptions: 1 }, 0).unwrap();
        scheduler.next_schedule();
        drive(&mut scheduler, &[1, 1]);
        let prefix = scheduler.next_schedule().unwrap();
        assert_eq!(prefix.to_string(), "2");
        // Writer 2 is gone this time: the writers are not deterministic.
        let error = scheduler.choose(&[w(1)]).unwrap_err();
        assert_eq!(
            error,
            ScheduleError::Diverged {
                step: 0,
                recorded: vec![w(1), w(2)],
                got: vec![w(1)]
            }
        );
        assert!(error.to_string().contains("runnable {1}, recorded {1,2}"));
    }

    #[test]
    fn the_same_seed_gives_the_same_choices() {
        for search in [
            Search::Random,
            Search::Pct {
                depth: 3,
                steps_hint: 12,
            },
        ] {
            let ids = |seed| -> Vec<String> {
                let mut scheduler = Scheduler::new(search, seed).unwrap();
                (0..20)
                    .map(|_| {
                        scheduler.next_schedule().unwrap();
                        drive(&mut scheduler, &[4, 4, 4]).schedule.to_string()
                    })
                    .collect()
            };
            assert_eq!(ids(7), ids(7), "{search:?}");
            assert_ne!(ids(7), ids(8), "{search:?}");
        }
    }

    #[test]
    fn pct_switches_only_right_after_a_change_point() {
        for seed in 0..200 {
            let search = Search::Pct {
                depth: 3,
                steps_hint: 20,
            };
            let mut scheduler = Scheduler::new(search, seed).unwrap();
            scheduler.next_schedule();
            let trace = drive(&mut scheduler, &[10, 10]);
            let Generator::Pct(pct) = scheduler.generator() else {
                panic!("not PCT");
            };
            let points = pct.change_points();
            assert_eq!(points.len(), 2);
            assert!(points.iter().all(|&p| p < 20) && points[0] != points[1]);
            for (step, pair) in trace.chosen.windows(2).enumerate() {
                let forced = !trace.runnable[step + 1].contains(&pair[0]);
                if pair[0] != pair[1] && !forced {
                    assert!(
                        points.contains(&(step as u64)),
                        "seed {seed}: switch after {step}"
                    );
                }
            }
            // The first change point always demotes the running writer below the other.
            let first = *points.iter().min().unwrap() as usize;
            if first + 1 < 20 && trace.runnable[first + 1].len() == 2 {
                assert_ne!(trace.chosen[first], trace.chosen[first + 1], "seed {seed}");
            }
        }
    }

    #[test]
    fn pct_depth_one_never_preempts_and_depth_zero_is_refused() {
        for seed in 0..50 {
            let search = Search::Pct {
                depth: 1,
                steps_hint: 10,
            };
            let mut scheduler = Scheduler::new(search, seed).unwrap();
            scheduler.next_schedule();
            let trace = drive(&mut scheduler, &[5, 5, 5]);
            assert_eq!(preemptions(&trace.runnable, &trace.chosen), 0);
        }
        let search = Search::Pct {
            depth: 0,
            steps_hint: 10,
        };
        assert_eq!(
            Scheduler::new(search, 0).unwrap_err(),
            SearchError::PctDepth { depth: 0 }
        );
    }

    #[test]
    fn a_replay_follows_its_runs_then_lets_the_current_writer_finish() {
        let schedule: Schedule = "1x2.2.1".parse().unwrap();
        let mut scheduler = Scheduler::replay(schedule);
        assert_eq!(scheduler.next_schedule().unwrap().to_string(), "1x2.2.1");
        let trace = drive(&mut scheduler, &[4, 2]);
        assert_eq!(trace.schedule.to_string(), "1x2.2.1x2.2");
        assert_eq!(scheduler.next_schedule(), None);
    }

    #[test]
    fn the_kill_is_due_once_at_its_step() {
        let kill = KillAt {
            writer: w(2),
            step: 2,
        };
        let mut scheduler = Scheduler::new(Search::Random, 1).unwrap().with_kill(kill);
        let prefix = scheduler.next_schedule().unwrap();
        assert_eq!(prefix.kill(), Some(kill));
        let both = [w(1), w(2)];
        assert_eq!(scheduler.kill_due(&both), None);
        scheduler.choose(&both).unwrap();
        scheduler.choose(&both).unwrap();
        assert_eq!(scheduler.kill_due(&both), Some(w(2)));
        assert_eq!(scheduler.kill_due(&[w(1)]), None);
        assert!(scheduler.killed());
        assert_eq!(scheduler.finish().unwrap().kill(), Some(kill));
    }

    #[test]
    fn choosing_from_nothing_is_an_error() {
        let mut scheduler = Scheduler::new(Search::Random, 1).unwrap();
        scheduler.next_schedule();
        assert_eq!(
            scheduler.choose(&[]),
            Err(ScheduleError::NothingRunnable { step: 0 })
        );
    }

    proptest! {
        #[test]
        fn bounded_search_is_exactly_the_interleavings_within_the_bound(
            steps in proptest::collection::vec(1u64..4, 1..4),
            bound in 0u32..3,
        ) {
            let found = all_bounded(bound, &steps);
            let mut ids: Vec<String> = found.iter().map(|t| t.schedule.to_string()).collect();
            let count = ids.len();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), count, "an interleaving was explored twice");
            for trace in &found {
                prop_assert!(preemptions(&trace.runnable, &trace.chosen) <= bound as usize);
            }
            let mut wanted: Vec<String> = brute_force(&steps)
                .into_iter()
                .filter(|(runnable, chosen)| preemptions(runnable, chosen) <= bound as usize)
                .map(|(_, chosen)| Schedule::from_steps(chosen).to_string())
                .collect();
            wanted.sort();
            prop_assert_eq!(ids, wanted);
        }

        #[test]
        fn every_generator_picks_only_runnable_writers_and_replays_from_its_id(
            seed in any::<u64>(),
            steps in proptest::collection::vec(1u64..6, 1..5),
            which in 0usize..3,
        ) {
            let search = [
                Search::Random,
                Search::Pct { depth: 3, steps_hint: 15 },
                Search::Bounded { preemptions: 2 },
            ][which];
            let mut scheduler = Scheduler::new(search, seed).unwrap();
            for _ in 0..5 {
                if scheduler.next_schedule().is_none() {
                    break;
                }
                let trace = drive(&mut scheduler, &steps);
                let mut replay = Scheduler::replay(trace.schedule.to_string().parse().unwrap());
                replay.next_schedule();
                prop_assert_eq!(drive(&mut replay, &steps).chosen, trace.chosen);
            }
        }
    }
}
