//! Stepping: a run that holds its writer at the entry of every step, so a scheduler can
//! interleave several writers one traced syscall at a time (`torture race`).
//!
//! A step is a write to a sandbox file or a boundary syscall on the sandbox: the same calls
//! kill campaigns kill at (opens, renames, links, unlinks, fsyncs, truncates, close). At each
//! one the writer stays stopped before the call runs; [`super::HeldRun::step`] lets it run and
//! drives on to the next step. The stepper also counts the kill point that the held position
//! equals, so a writer SIGKILLed while held ends as an ordinary [`super::Outcome::Killed`].

use torture_core::fault::CallRef;
use torture_core::killpoint::KillPoint;

use super::syscalls::{Role, Sys};

/// Where a stepped writer is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepAt {
    /// The syscall about to run and its event in the run's trace.
    pub call: CallRef,
    /// The sandbox file it acts on (`from -> to` for renames and links).
    pub path: String,
    /// The kill point that killing the writer here equals.
    pub point: KillPoint,
}

/// Counts what kill points count, and remembers the call the writer is held at.
#[derive(Debug, Default)]
pub struct Stepper {
    /// Whether to hold at the next step (off once the caller resumes to the end).
    pub active: bool,
    /// Boundaries passed, two per boundary syscall.
    boundaries: u64,
    /// Bytes written to sandbox files so far.
    written_bytes: u64,
    pub held: Option<StepAt>,
}

impl Stepper {
    pub fn new() -> Stepper {
        Stepper {
            active: true,
            ..Stepper::default()
        }
    }

    /// Notes a step at its entry; returns whether to hold there.
    pub fn enter(&mut self, sys: Sys, seq: u64, path: String) -> bool {
        let role = sys.role();
        let is_step = matches!(role, Role::Write | Role::Boundary);
        if !is_step {
            return false;
        }
        let point = self.point_before(role);
        if role == Role::Boundary {
            self.boundaries += 2;
        }
        self.held = Some(StepAt {
            call: CallRef {
                syscall: sys.name().to_owned(),
                seq,
            },
            path,
            point,
        });
        self.active
    }

    /// Counts the bytes a sandbox write returned.
    pub fn wrote(&mut self, ret: i64) {
        self.written_bytes += u64::try_from(ret).unwrap_or(0);
    }

    /// The kill point equal to stopping before a call of `role`: before a boundary it is that
    /// boundary's "before"; before a write, the bytes written so far (or, with none yet, the
    /// previous boundary's "after": nothing on the sandbox happened in between).
    fn point_before(&self, role: Role) -> KillPoint {
        match role {
            Role::Boundary => KillPoint::Syscall(self.boundaries),
            Role::Write | Role::RecordOnly if self.written_bytes > 0 => {
                KillPoint::Byte(self.written_bytes)
            }
            Role::Write | Role::RecordOnly => KillPoint::Syscall(self.boundaries.saturating_sub(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_held_position_names_the_equal_kill_point() {
        let mut stepper = Stepper::new();
        assert!(stepper.enter(Sys::Openat, 0, "t".into()));
        assert_eq!(stepper.held.as_ref().unwrap().point, KillPoint::Syscall(0));
        assert!(stepper.enter(Sys::Write, 1, "t".into()));
        assert_eq!(stepper.held.as_ref().unwrap().point, KillPoint::Syscall(1));
        stepper.wrote(5);
        assert!(stepper.enter(Sys::Write, 2, "t".into()));
        assert_eq!(stepper.held.as_ref().unwrap().point, KillPoint::Byte(5));
        assert!(stepper.enter(Sys::Close, 3, "t".into()));
        assert_eq!(stepper.held.as_ref().unwrap().point, KillPoint::Syscall(2));
        assert!(!stepper.enter(Sys::Fchmod, 4, "t".into()));
    }
}
