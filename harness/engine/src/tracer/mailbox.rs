//! Which session of a thread a `waitpid` report belongs to.
//!
//! Several sessions may live in one thread (a scheduler racing writers holds one while another
//! runs), and `waitpid` cannot be asked for one session's tracees only. So every report goes
//! through the thread's [`Mailbox`]: a report about another session's tracee is parked until
//! that session waits again.
//!
//! A brand-new process or thread can report (its first `SIGSTOP`) before its parent's fork
//! event has told any session about it. It belongs to the session of the process it came from
//! (its thread group's leader, else its parent), read from `/proc`, not to whichever session
//! happens to be waiting: a held session's shell can fork while it reads a pipe, and if the
//! waiting session took the child, the held one would wait forever for a child that another
//! session had already reaped.

use std::cell::RefCell;
use std::collections::HashMap;

use nix::unistd::Pid;

use crate::sys::Wait;

/// How many generations up an unknown tracee's ancestry is followed to a known one.
const ANCESTRY_DEPTH: usize = 4;

/// Reports parked for other sessions of this thread, and which session owns which tracee.
#[derive(Debug, Default)]
struct Mailbox {
    owner: HashMap<Pid, u64>,
    parked: Vec<Wait>,
    next_session: u64,
}

thread_local! {
    static MAILBOX: RefCell<Mailbox> = RefCell::new(Mailbox::default());
}

impl Mailbox {
    /// The session that owns `pid`, following an unknown tracee up its ancestry (`came_from`)
    /// to a known one and recording the answer.
    fn owner_of(&mut self, pid: Pid, came_from: impl Fn(Pid) -> Option<Pid>) -> Option<u64> {
        // Every report of a run passes here: a known tracee costs one lookup, nothing more.
        if let Some(id) = self.owner.get(&pid) {
            return Some(*id);
        }
        let mut at = pid;
        for _ in 0..ANCESTRY_DEPTH {
            at = came_from(at)?;
            if let Some(id) = self.owner.get(&at).copied() {
                self.owner.insert(pid, id);
                return Some(id);
            }
        }
        None
    }

    /// `Some(report)` when it is `waiting`'s to handle; `None` when it was parked for its
    /// owner. A report no session owns goes to the one waiting.
    fn route(
        &mut self,
        waiting: u64,
        report: Wait,
        came_from: impl Fn(Pid) -> Option<Pid>,
    ) -> Option<Wait> {
        match self.owner_of(report.pid(), came_from) {
            Some(id) if id != waiting => {
                self.parked.push(report);
                None
            }
            Some(_) | None => Some(report),
        }
    }

    /// The oldest report parked for session `id`.
    fn take_parked(&mut self, id: u64) -> Option<Wait> {
        let owner = &self.owner;
        let at = self
            .parked
            .iter()
            .position(|w| owner.get(&w.pid()) == Some(&id))?;
        Some(self.parked.remove(at))
    }

    /// Forgets session `id`: its parked reports are about tracees that are gone.
    fn close(&mut self, id: u64) {
        self.owner.retain(|_, owner| *owner != id);
        let owner = &self.owner;
        self.parked
            .retain(|w| owner.get(&w.pid()).is_some_and(|other| *other != id));
    }
}

/// A new session owning `main`; returns its id.
pub(super) fn open(main: Pid) -> u64 {
    MAILBOX.with(|m| {
        let mut m = m.borrow_mut();
        m.next_session += 1;
        let id = m.next_session;
        m.owner.insert(main, id);
        id
    })
}

/// The oldest report parked for session `id`.
pub(super) fn take_parked(id: u64) -> Option<Wait> {
    MAILBOX.with(|m| m.borrow_mut().take_parked(id))
}

/// `Some(report)` when it belongs to session `waiting`; otherwise parks it for its owner.
pub(super) fn route(waiting: u64, report: Wait) -> Option<Wait> {
    MAILBOX.with(|m| m.borrow_mut().route(waiting, report, came_from))
}

/// Session `id` owns `pid` from now on.
pub(super) fn own(id: u64, pid: Pid) {
    MAILBOX.with(|m| m.borrow_mut().owner.insert(pid, id));
}

/// Session `id` no longer owns `pid` (gone); a pid another session owns is left to it.
pub(super) fn disown(id: u64, pid: Pid) {
    MAILBOX.with(|m| {
        let mut m = m.borrow_mut();
        if m.owner.get(&pid) == Some(&id) {
            m.owner.remove(&pid);
        }
    });
}

/// Forgets session `id` and the reports parked for it.
pub(super) fn close(id: u64) {
    MAILBOX.with(|m| m.borrow_mut().close(id));
}

/// The process `pid` came from: its thread group's leader when it is a thread, else its
/// parent (`/proc/PID/status`); `None` once it is gone.
fn came_from(pid: Pid) -> Option<Pid> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<i32> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].trim().parse().ok()
    };
    let leader = field("Tgid:")?;
    if leader != pid.as_raw() {
        return Some(Pid::from_raw(leader));
    }
    field("PPid:").filter(|p| *p > 0).map(Pid::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: i32) -> Pid {
        Pid::from_raw(n)
    }

    fn first_stop(n: i32) -> Wait {
        Wait::Signal {
            pid: pid(n),
            signal: libc::SIGSTOP,
        }
    }

    /// Session 1 owns 100, session 2 owns 200; 201 is 200's child, 202 is 201's.
    fn two_sessions() -> (Mailbox, impl Fn(Pid) -> Option<Pid>) {
        let mut mailbox = Mailbox::default();
        mailbox.owner.insert(pid(100), 1);
        mailbox.owner.insert(pid(200), 2);
        let parents = HashMap::from([(201, 200), (202, 201)]);
        let came_from = move |p: Pid| parents.get(&p.as_raw()).copied().map(Pid::from_raw);
        (mailbox, came_from)
    }

    #[test]
    fn a_newcomer_whose_parent_is_held_is_parked_for_the_parents_session() {
        let (mut mailbox, came_from) = two_sessions();
        // Session 1 is waiting; 201 was forked by session 2's 200, which is held.
        assert_eq!(mailbox.route(1, first_stop(201), &came_from), None);
        assert_eq!(mailbox.take_parked(1), None);
        assert_eq!(mailbox.take_parked(2), Some(first_stop(201)));
        assert_eq!(mailbox.owner.get(&pid(201)), Some(&2));
    }

    #[test]
    fn a_newcomer_two_generations_down_still_finds_its_session() {
        let (mut mailbox, came_from) = two_sessions();
        assert_eq!(
            mailbox.route(2, first_stop(202), &came_from),
            Some(first_stop(202))
        );
        assert_eq!(mailbox.owner.get(&pid(202)), Some(&2));
    }

    #[test]
    fn an_orphan_no_session_knows_goes_to_the_waiting_session() {
        let (mut mailbox, came_from) = two_sessions();
        assert_eq!(
            mailbox.route(1, first_stop(999), &came_from),
            Some(first_stop(999))
        );
        assert!(mailbox.parked.is_empty());
    }

    #[test]
    fn closing_a_session_drops_its_parked_reports_and_keeps_the_others() {
        let (mut mailbox, came_from) = two_sessions();
        assert_eq!(mailbox.route(1, first_stop(200), &came_from), None);
        assert_eq!(mailbox.route(2, first_stop(100), &came_from), None);
        mailbox.close(2);
        assert_eq!(mailbox.take_parked(2), None);
        assert_eq!(mailbox.take_parked(1), Some(first_stop(100)));
    }

    #[test]
    fn a_child_process_comes_from_its_parent_and_a_thread_from_its_leader() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("spawn sleep");
        let me = Pid::from_raw(std::process::id() as i32);
        assert_eq!(came_from(Pid::from_raw(child.id() as i32)), Some(me));
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let live = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid()).expect("send");
            done_rx.recv().ok();
        });
        let tid = rx.recv().expect("tid");
        assert_eq!(came_from(tid), Some(me));
        done_tx.send(()).expect("release");
        live.join().expect("join");
        child.kill().expect("kill");
        child.wait().expect("reap");
    }
}
