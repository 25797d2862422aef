//! Group commit: concurrent commits into one directory share its `fsync`s.
//!
//! A commit with [`Durability::Full`](crate::Durability::Full) needs, after its rename
//! returned, one `fsync` of the directory that *began after the rename returned*: that `fsync`
//! writes out every change the directory had when it began, the rename included. Whose
//! descriptor issues it does not matter (an `fsync` acts on the inode), nor that it syncs other
//! commits' renames too. So commits into one directory queue up behind the `fsync` in flight
//! and the next one serves all of them, as a database's group commit shares its log flush.
//!
//! Per directory (keyed by device and inode, see [`for_dir`]) a [`Group`] numbers its `fsync`s
//! ("rounds") 1, 2, ... in the order they begin, one at a time. Under the group's lock:
//!
//! - after its rename returned, a commit reads the number of the last round begun: its
//!   [`Ticket`]. Any round with a higher number was begun (numbered, under the same lock, then
//!   issued) after the ticket was read, so after the rename returned.
//! - at its `fsync` step the commit joins the round in flight if its number is above the
//!   ticket; otherwise (the round in flight may have begun before the rename) it joins the
//!   next round, which has no number yet and will get one above the ticket.
//! - when no round is in flight, a commit waiting for the next round begins it, with its own
//!   descriptor, for every commit waiting then; the others sleep until it ends.
//! - every commit that joined a round gets that round's result: an `fsync` error reaches
//!   all of them (each reports the new content published but not durable).
//! - before it begins a round, its leader *gathers*: it waits until every commit of the
//!   directory that was already between the start of its file `fsync` and its ticket (an
//!   [`Arrival`]) has taken its ticket, so that one round serves them too; at most
//!   [`GATHER_BOUND_FSYNCS`] times as long as the directory's last round took or the last
//!   file `fsync` of a commit took, whichever is longer (the second is known before the first
//!   round), so a slow file `fsync` delays others by a few `fsync`s, no more. Those commits
//!   need a round anyway; without the wait they would need the next one, and the file
//!   `fsync`s of the stragglers would run beside the directory `fsync` (on btrfs each slows
//!   the other). With the wait, concurrent writers fall into step: one round per pass of all
//!   of them, as in the measured limit of `torture bench`. Nothing waits when no other commit
//!   is arriving (a lone writer never does).
//!
//! No thread is added: the `fsync` runs on one of the committing threads. A lone writer pays
//! one uncontended lock more than a plain `fsync` (two with its arrival), and an `fstat` of
//! the directory (its key); no `futex` call, as nobody sleeps to be woken.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::dest::Dir;
use crate::sys;

/// How many `fsync`s' time (the longer of the directory's last round and the last file
/// `fsync` of a commit) a gathering leader waits at most for the commits arriving.
///
/// More than one, because an arrival's time from its file `fsync` to its ticket is that
/// `fsync` plus its link and rename plus the wait for a core: with 16 writers on 2 cores, a
/// leader that waited one `fsync`'s time often gave up on stragglers just before they took
/// their tickets, so they needed another round (on ext4 one more journal commit). Three
/// made 16 writers on ext4 and btrfs faster, and on xfs no slower (README, "Concurrent
/// writers in one directory"). A lone writer never gathers, so it never waits.
pub(crate) const GATHER_BOUND_FSYNCS: u32 = 3;

/// The rounds of `fsync` of one directory.
#[derive(Debug, Default)]
pub(crate) struct Group {
    state: Mutex<State>,
    /// Signalled when a round ends: the commits waiting for a round sleep on it.
    ended: Condvar,
    /// Signalled when the last arrival a gathering leader waits for takes its ticket (or gives
    /// up): only that leader sleeps on it. Two condition variables, so that each of the many
    /// tickets taken while commits wait for their round wakes nobody but, at most once per
    /// gathering, the leader (one wake for all sleepers cost 3.9 to 4.6 `futex` calls per write
    /// with 16 writers, each waking threads that went straight back to sleep).
    arrived: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The number of the last round begun (0: none yet).
    begun: u64,
    /// The round whose `fsync` is running, with its number.
    in_flight: Option<(u64, Arc<Round>)>,
    /// The round the commits that cannot join the one in flight wait for; not yet numbered.
    next: Option<Arc<Round>>,
    /// A commit is gathering the arrivals for the next round before it begins it: it waits
    /// for the arrivals numbered up to this one.
    gathering: Option<u64>,
    /// The commits between the start of their file `fsync` and their ticket, by arrival number.
    arriving: BTreeSet<u64>,
    /// The number of the last arrival.
    arrivals: u64,
    /// How long the last round's `fsync` took, and the last file `fsync` of an arrival: the
    /// longer is the bound of a gathering (the second is known from a group's first round on).
    last_round: Duration,
    last_file_sync: Duration,
    /// The number and result of the last round that ended (rounds end in the order they
    /// begin): a commit whose ticket is below it is done, even if it never waited for it.
    last_ended: Option<(u64, Result<(), Errno>)>,
    /// Commits asleep on `ended`: a round's end wakes them only if there are any, so that a lone
    /// writer makes no `futex` call (it is counted under the lock before sleeping, and a
    /// commit that comes to sleep later sees the change under the lock first).
    sleeping: usize,
}

/// One `fsync` of the directory, shared by the commits that joined it.
#[derive(Debug, Default)]
struct Round {
    /// Set, under the group's lock, when the `fsync` returned.
    result: Mutex<Option<Result<(), Errno>>>,
}

impl Round {
    fn result(&self) -> Option<Result<(), Errno>> {
        *self
            .result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_result(&self, result: Result<(), Errno>) {
        *self
            .result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(result);
    }
}

/// The number of the last round begun when a commit's rename had returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Group {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a ticket: call it after the rename returned.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.lock().begun)
    }

    /// Registers a commit about to `fsync` its file, rename it and take its ticket (see
    /// [`Arrival`]): a leader gathering for the next round waits for it.
    pub(crate) fn arrive(self: &Arc<Group>) -> Arrival {
        let mut state = self.lock();
        state.arrivals += 1;
        let number = state.arrivals;
        state.arriving.insert(number);
        Arrival {
            group: Arc::clone(self),
            number,
        }
    }

    fn wait<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.sleeping += 1;
        let mut state = self
            .ended
            .wait(state)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.sleeping -= 1;
        state
    }

    /// The gathering leader's sleep: until an arrival wakes it, or for at most `timeout`.
    fn wait_for_arrivals<'a>(
        &self,
        state: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.arrived
            .wait_timeout(state, timeout)
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
    }

    /// Releases the lock, then wakes the commits asleep until a round ends, if any.
    fn wake_sleepers(&self, state: MutexGuard<'_, State>) {
        let sleeping = state.sleeping > 0;
        drop(state);
        if sleeping {
            self.ended.notify_all();
        }
    }

    /// Releases the lock, then wakes the gathering leader if no arrival it waits for is left.
    /// Called when an arrival ends: only the last one it waits for changes what it decides.
    fn wake_gatherer(&self, state: MutexGuard<'_, State>) {
        let gathered = state
            .gathering
            .is_some_and(|last_arrival| !state.still_arriving(last_arrival));
        drop(state);
        if gathered {
            self.arrived.notify_one();
        }
    }

    /// Returns once a round of `fsync` numbered above `ticket` has ended, with its result;
    /// runs `fsync` (this commit's own `fsync` of the directory) if this commit begins it.
    pub(crate) fn sync(
        &self,
        ticket: Ticket,
        fsync: impl FnOnce() -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let mut state = self.lock();
        if let Some((number, result)) = state.last_ended {
            if number > ticket.0 {
                // A gathering leader began it after this commit's rename returned.
                return result;
            }
        }
        let round = state.join(ticket);
        loop {
            if let Some(result) = round.result() {
                return result;
            }
            if state.in_flight.is_none() && state.gathering.is_none() {
                // Our round is the next one (one in flight is never left without a result).
                state = self.gather(state);
                return self.lead(state, &round, fsync);
            }
            state = self.wait(state);
        }
    }

    /// Waits until the commits arriving now have taken their tickets (they then wait for the
    /// next round, this leader's), or for [`GATHER_BOUND_FSYNCS`] times as long as the last
    /// round or the last file `fsync` took, whichever is longer.
    fn gather<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let one_fsync = state.last_round.max(state.last_file_sync);
        let (last_arrival, bound) = (state.arrivals, one_fsync * GATHER_BOUND_FSYNCS);
        let deadline = Instant::now() + bound;
        state.gathering = Some(last_arrival);
        loop {
            let arriving = state.still_arriving(last_arrival);
            let left = deadline.saturating_duration_since(Instant::now());
            if !arriving || left.is_zero() {
                state.gathering = None;
                return state;
            }
            state = self.wait_for_arrivals(state, left);
        }
    }

    /// Begins `round` (the next one), runs the `fsync` without the lock, and ends the round.
    fn lead(
        &self,
        mut state: MutexGuard<'_, State>,
        round: &Arc<Round>,
        fsync: impl FnOnce() -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let next = state.next.take();
        debug_assert!(next.is_some_and(|next| Arc::ptr_eq(&next, round)));
        state.begun += 1;
        let number = state.begun;
        state.in_flight = Some((number, Arc::clone(round)));
        drop(state);
        let began = Instant::now();
        let result = fsync();
        let mut state = self.lock();
        state.last_round = began.elapsed();
        state.last_ended = Some((number, result));
        round.set_result(result);
        state.in_flight = None;
        self.wake_sleepers(state);
        result
    }
}

/// A commit between the start of its file `fsync` and its ticket; the next round's leader
/// waits for it (see the module docs). Dropped without [`Arrival::ticket`] (a failed
/// `fsync` or rename), it stops being waited for.
#[derive(Debug)]
pub(crate) struct Arrival {
    group: Arc<Group>,
    number: u64,
}

impl Arrival {
    /// Takes the ticket (call it after the rename returned) and ends the arrival, atomically:
    /// a leader that stops waiting for it has its ticket, so begins a round numbered above it.
    /// `file_sync` is how long its file `fsync` took (see `State::last_file_sync`).
    pub(crate) fn ticket(self, file_sync: Duration) -> (Ticket, Arc<Group>) {
        let mut state = self.group.lock();
        state.arriving.remove(&self.number);
        state.last_file_sync = file_sync;
        let ticket = Ticket(state.begun);
        self.group.wake_gatherer(state);
        (ticket, Arc::clone(&self.group))
    }
}

impl Drop for Arrival {
    fn drop(&mut self) {
        let mut state = self.group.lock();
        if state.arriving.remove(&self.number) {
            self.group.wake_gatherer(state);
        }
    }
}

impl State {
    /// Whether an arrival numbered up to `last_arrival` has yet to take its ticket.
    fn still_arriving(&self, last_arrival: u64) -> bool {
        self.arriving
            .first()
            .is_some_and(|&first| first <= last_arrival)
    }

    /// The round a commit holding `ticket` waits for: the one in flight if it began after the
    /// ticket was taken, else the next one.
    fn join(&mut self, ticket: Ticket) -> Arc<Round> {
        match &self.in_flight {
            Some((number, round)) if *number > ticket.0 => Arc::clone(round),
            Some(_) | None => Arc::clone(self.next.get_or_insert_with(Arc::default)),
        }
    }
}

/// The groups of the directories being committed into, by (device, inode). A directory's
/// group lives while some commit holds it; dead entries are dropped as the map grows.
#[derive(Debug)]
struct Registry {
    groups: HashMap<(u64, u64), Weak<Group>>,
    /// Entries before the next purge of dead ones.
    purge_at: usize,
}

/// Entries the registry keeps before it first purges dead ones.
const REGISTRY_MIN_ENTRIES: usize = 64;

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The group of the directory with this (device, inode). Two open descriptors with the same
/// key are the same directory (an inode number is reused only once the inode is gone, and
/// both are held open), so whoever's `fsync` serves all of them.
fn group_for(key: (u64, u64)) -> Arc<Group> {
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let registry = registry.get_or_insert_with(|| Registry {
        groups: HashMap::new(),
        purge_at: REGISTRY_MIN_ENTRIES,
    });
    if let Some(group) = registry.groups.get(&key).and_then(Weak::upgrade) {
        return group;
    }
    let group = Arc::new(Group::default());
    registry.groups.insert(key, Arc::downgrade(&group));
    if registry.groups.len() > registry.purge_at {
        registry.groups.retain(|_, group| group.strong_count() > 0);
        registry.purge_at = (2 * registry.groups.len()).max(REGISTRY_MIN_ENTRIES);
    }
    group
}

/// The group of `dir` (one `fstat` of it, cached in `dir`).
pub(crate) fn for_dir(dir: &Dir) -> std::io::Result<Arc<Group>> {
    let meta = dir.meta()?;
    Ok(group_for((meta.dev, meta.ino)))
}

/// Protocol step 6 through the group: returns once an `fsync` of `dir` that began after
/// `ticket` was taken has ended.
pub(crate) fn sync_directory(group: &Group, ticket: Ticket, dir: &Dir) -> Result<(), Errno> {
    group.sync(ticket, || sys::sync_directory(dir.fd.as_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    /// Waits (polling) until `check` holds of the group's state; fails after 20 s, which
    /// only a commit waiting for the wrong round takes.
    fn wait_until(group: &Group, check: impl Fn(&State) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !check(&group.lock()) {
            assert!(std::time::Instant::now() < deadline, "{:?}", *group.lock());
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Commits waiting for the next round (the state's own reference aside).
    fn waiting_for_next(state: &State) -> usize {
        state
            .next
            .as_ref()
            .map_or(0, |next| Arc::strong_count(next) - 1)
    }

    /// Sends round 1's result; the thread that leads round 1.
    type FirstRound = (
        mpsc::Sender<Result<(), Errno>>,
        thread::JoinHandle<Result<(), Errno>>,
    );

    /// Starts round 1 on another thread with an `fsync` that blocks until `release` is sent.
    fn blocked_first_round(group: &Arc<Group>, fsyncs: &Arc<AtomicUsize>) -> FirstRound {
        let (release, wait) = mpsc::channel::<Result<(), Errno>>();
        let (group2, fsyncs2) = (Arc::clone(group), Arc::clone(fsyncs));
        let leader = thread::spawn(move || {
            let ticket = group2.ticket();
            group2.sync(ticket, || {
                fsyncs2.fetch_add(1, Ordering::SeqCst);
                wait.recv().unwrap()
            })
        });
        wait_until(group, |state| state.in_flight.is_some());
        (release, leader)
    }

    fn counting(fsyncs: &Arc<AtomicUsize>) -> impl FnOnce() -> Result<(), Errno> + use<> {
        let fsyncs = Arc::clone(fsyncs);
        move || {
            fsyncs.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_rename_after_an_fsync_began_is_not_served_by_it() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        let (release, leader) = blocked_first_round(&group, &fsyncs);
        // This commit's rename returns while round 1 is in flight: round 1 may have read the
        // directory before the rename, so it must wait for a round that begins later.
        let ticket = group.ticket();
        assert_eq!(ticket, Ticket(1));
        let (group2, fsyncs2) = (Arc::clone(&group), Arc::clone(&fsyncs));
        let late = thread::spawn(move || group2.sync(ticket, counting(&fsyncs2)));
        wait_until(&group, |state| waiting_for_next(state) == 1);
        release.send(Ok(())).unwrap();
        assert_eq!(leader.join().unwrap(), Ok(()));
        assert_eq!(late.join().unwrap(), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 2, "round 2 was needed");
        assert_eq!(group.lock().begun, 2);
    }

    #[test]
    fn a_rename_before_an_fsync_began_joins_it() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        // The rename returned before round 1 began: round 1 serves it.
        let early = group.ticket();
        let (release, leader) = blocked_first_round(&group, &fsyncs);
        let (group2, fsyncs2) = (Arc::clone(&group), Arc::clone(&fsyncs));
        let joined = thread::spawn(move || group2.sync(early, counting(&fsyncs2)));
        wait_until(&group, |state| {
            state
                .in_flight
                .as_ref()
                .is_some_and(|(_, round)| Arc::strong_count(round) == 3)
        });
        release.send(Err(Errno::IO)).unwrap();
        assert_eq!(leader.join().unwrap(), Err(Errno::IO));
        assert_eq!(
            joined.join().unwrap(),
            Err(Errno::IO),
            "the round's error is shared"
        );
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn every_commit_waiting_shares_the_next_round() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        let (release, leader) = blocked_first_round(&group, &fsyncs);
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let (group2, fsyncs2) = (Arc::clone(&group), Arc::clone(&fsyncs));
                let ticket = group.ticket();
                thread::spawn(move || group2.sync(ticket, counting(&fsyncs2)))
            })
            .collect();
        wait_until(&group, |state| waiting_for_next(state) == 8);
        release.send(Ok(())).unwrap();
        assert_eq!(leader.join().unwrap(), Ok(()));
        for waiter in waiters {
            assert_eq!(waiter.join().unwrap(), Ok(()));
        }
        assert_eq!(fsyncs.load(Ordering::SeqCst), 2, "one round for all eight");
    }

    #[test]
    fn a_lone_commit_runs_its_own_fsync_each_time() {
        let (group, fsyncs) = (Group::default(), Arc::new(AtomicUsize::new(0)));
        for round in 1..=3 {
            let ticket = group.ticket();
            assert_eq!(group.sync(ticket, counting(&fsyncs)), Ok(()));
            assert_eq!(fsyncs.load(Ordering::SeqCst), round);
        }
    }

    /// Starts a commit on another thread that leads the next round (no round in flight) and
    /// counts its `fsync`.
    fn leading(
        group: &Arc<Group>,
        fsyncs: &Arc<AtomicUsize>,
    ) -> thread::JoinHandle<Result<(), Errno>> {
        let (group2, fsyncs2) = (Arc::clone(group), Arc::clone(fsyncs));
        thread::spawn(move || {
            let ticket = group2.ticket();
            group2.sync(ticket, counting(&fsyncs2))
        })
    }

    #[test]
    fn a_leader_gathers_the_commits_arriving_and_one_round_serves_them() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        group.lock().last_round = Duration::from_secs(60);
        // Another commit is between its file fsync and its rename when the leader comes.
        let arrival = group.arrive();
        let leader = leading(&group, &fsyncs);
        wait_until(&group, |state| state.gathering.is_some());
        let (ticket, group2) = arrival.ticket(Duration::ZERO);
        assert_eq!(ticket, Ticket(0), "the leader's round has not begun");
        assert_eq!(group2.sync(ticket, counting(&fsyncs)), Ok(()));
        assert_eq!(leader.join().unwrap(), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1, "one round for both");
        assert_eq!(group.lock().begun, 1);
    }

    #[test]
    fn an_arrival_that_fails_before_its_rename_is_no_longer_waited_for() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        group.lock().last_round = Duration::from_secs(60);
        let arrival = group.arrive();
        let leader = leading(&group, &fsyncs);
        wait_until(&group, |state| state.gathering.is_some());
        drop(arrival);
        assert_eq!(leader.join().unwrap(), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
        assert!(group.lock().arriving.is_empty());
    }

    #[test]
    fn a_first_round_gathers_for_as_long_as_a_file_fsync_took() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        // No round yet; one commit has reported a slow file fsync with its ticket.
        let (_, _) = group.arrive().ticket(Duration::from_secs(60));
        let arrival = group.arrive();
        let leader = leading(&group, &fsyncs);
        wait_until(&group, |state| state.gathering.is_some());
        let (ticket, group2) = arrival.ticket(Duration::ZERO);
        assert_eq!(group2.sync(ticket, counting(&fsyncs)), Ok(()));
        assert_eq!(leader.join().unwrap(), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1, "one round for both");
    }

    #[test]
    fn a_gathering_ends_after_its_bound_of_the_last_rounds_time() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        let last_round = Duration::from_millis(50);
        group.lock().last_round = last_round;
        // An arrival that never takes its ticket (say its file fsync hangs).
        let stuck = group.arrive();
        let started = Instant::now();
        let leader = leading(&group, &fsyncs);
        wait_until(&group, |state| {
            state.begun == 1 && state.arriving.len() == 1
        });
        assert_eq!(leader.join().unwrap(), Ok(()), "the bound ended the wait");
        // Waits can run late on a busy machine, never early.
        let waited = started.elapsed();
        assert!(
            waited >= last_round * GATHER_BOUND_FSYNCS,
            "gave up after {waited:?}"
        );
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
        drop(stuck);
    }

    #[test]
    fn a_gathering_waits_only_for_the_commits_arriving_when_it_began() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        group.lock().last_round = Duration::from_secs(60);
        let early = group.arrive();
        let leader = leading(&group, &fsyncs);
        wait_until(&group, |state| state.gathering.is_some());
        let later = group.arrive();
        drop(early);
        // Fails (after 20 s) if the leader waited for `later` too.
        wait_until(&group, |state| {
            state.begun == 1 && state.arriving.len() == 1
        });
        assert_eq!(leader.join().unwrap(), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
        drop(later);
    }

    #[test]
    fn a_round_that_began_after_the_ticket_and_ended_serves_it_without_waiting() {
        let (group, fsyncs) = (Group::default(), Arc::new(AtomicUsize::new(0)));
        let early = group.ticket();
        assert_eq!(
            group.sync(group.ticket(), || Err(Errno::IO)),
            Err(Errno::IO)
        );
        assert_eq!(
            group.sync(early, counting(&fsyncs)),
            Err(Errno::IO),
            "its result"
        );
        assert_eq!(fsyncs.load(Ordering::SeqCst), 0);
        // A ticket taken after that round began needs a new one.
        assert_eq!(group.sync(group.ticket(), counting(&fsyncs)), Ok(()));
        assert_eq!(fsyncs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_lone_commit_with_its_arrival_never_gathers() {
        let (group, fsyncs) = (Arc::new(Group::default()), Arc::new(AtomicUsize::new(0)));
        group.lock().last_round = Duration::from_secs(60);
        for round in 1..=3 {
            let (ticket, group2) = group.arrive().ticket(Duration::ZERO);
            assert_eq!(group2.sync(ticket, counting(&fsyncs)), Ok(()));
            assert_eq!(fsyncs.load(Ordering::SeqCst), round);
        }
    }

    #[test]
    fn one_directory_one_group_and_dead_groups_are_purged() {
        let key = (u64::MAX - 3, 1);
        let first = group_for(key);
        assert!(Arc::ptr_eq(&first, &group_for(key)));
        assert!(!Arc::ptr_eq(&first, &group_for((u64::MAX - 3, 2))));
        drop(first);
        for ino in 0..(4 * REGISTRY_MIN_ENTRIES as u64) {
            drop(group_for((u64::MAX - 4, ino)));
        }
        let registry = REGISTRY.lock().unwrap();
        let live = registry.as_ref().unwrap().groups.len();
        assert!(live <= 2 * REGISTRY_MIN_ENTRIES + 1, "{live} entries kept");
    }
}
