//! What a writer's trace shows of a run that failed: the call that failed first and whether
//! it changed the target before it gave up. A writer may fail in a race (a second Git run finds
//! `index.lock` and exits 255); that is allowed when it left the target alone, and the verdict
//! then says what happened instead of calling it a violation.

use std::fmt;

use crate::fault::Errno;
use crate::trace::{Op, Trace};

/// A call on the sandbox that returned an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCall {
    /// The syscall, e.g. `openat`.
    pub syscall: String,
    /// The file it named (`from -> to` for renames and links).
    pub path: String,
    /// What it returned.
    pub errno: Errno,
    /// An `O_CREAT|O_EXCL` open: the writer tried to claim the name (a lock file).
    pub exclusive_create: bool,
}

/// A failed writer's run, from its trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    /// Its first call on the sandbox that failed, if any did.
    pub first_failure: Option<FailedCall>,
    /// Whether a call that succeeded changed the target: wrote it, truncated it, renamed or
    /// linked over it, or removed it.
    pub touched_target: bool,
}

impl Trail {
    /// Reads the trail of `trace`; `target` is relative to the sandbox, as trace paths are.
    pub fn of(trace: &Trace, target: &str) -> Trail {
        let first_failure = trace.events.iter().find(|e| e.ret < 0).and_then(|event| {
            let errno = Errno::new(i32::try_from(-event.ret).ok()?)?;
            Some(FailedCall {
                syscall: event.syscall.clone(),
                path: event.op.paths().join(" -> "),
                errno,
                exclusive_create: matches!(
                    event.op,
                    Op::Open {
                        excl: true,
                        flags,
                        ..
                    } if flags & O_CREAT != 0
                ),
            })
        });
        let touched_target = trace
            .events
            .iter()
            .any(|e| e.ret >= 0 && e.op.changed_paths().contains(&target));
        Trail {
            first_failure,
            touched_target,
        }
    }
}

/// `O_CREAT` on Linux (every architecture the tracer decodes).
const O_CREAT: u64 = 0o100;

impl fmt::Display for FailedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exclusive_create && self.errno.name() == Some("EEXIST") {
            return write!(
                f,
                "found `{}` already there ({} O_CREAT|O_EXCL: EEXIST)",
                self.path, self.syscall
            );
        }
        write!(
            f,
            "got {} from {} `{}`",
            self.errno, self.syscall, self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Event;

    fn event(seq: u64, ret: i64, op: Op) -> Event {
        let syscall = if matches!(op, Op::Open { .. }) {
            "openat"
        } else {
            "rename"
        };
        Event {
            seq,
            pid: 1,
            syscall: syscall.to_owned(),
            ret,
            op,
        }
    }

    fn open(path: &str, excl: bool, truncated: bool) -> Op {
        Op::Open {
            path: path.to_owned(),
            ino: None,
            flags: O_CREAT | if excl { 0o200 } else { 0o1000 },
            created: !truncated,
            truncated,
            tmpfile: false,
            directory: false,
            append: false,
            excl,
            sync: crate::trace::WriteSync::No,
        }
    }

    fn trace(events: Vec<Event>) -> Trace {
        let mut trace = Trace::new("x".to_owned(), Vec::new());
        trace.events = events;
        trace
    }

    #[test]
    fn a_writer_that_finds_the_lock_is_named_and_left_the_target_alone() {
        let refused = trace(vec![event(0, -17, open("x.lock", true, false))]);
        let trail = Trail::of(&refused, "x");
        assert!(!trail.touched_target);
        assert_eq!(
            trail.first_failure.unwrap().to_string(),
            "found `x.lock` already there (openat O_CREAT|O_EXCL: EEXIST)"
        );
    }

    #[test]
    fn a_writer_that_truncated_or_replaced_the_target_touched_it() {
        let truncated = trace(vec![
            event(0, 3, open("x", false, true)),
            event(1, -28, open("y", false, false)),
        ]);
        let trail = Trail::of(&truncated, "x");
        assert!(trail.touched_target);
        assert_eq!(
            trail.first_failure.unwrap().to_string(),
            "got ENOSPC from openat `y`"
        );
        let rename = || Op::Rename {
            from: "x.tmp".to_owned(),
            to: "x".to_owned(),
            noreplace: false,
            exchange: false,
            from_ino: None,
            to_ino: None,
        };
        assert!(Trail::of(&trace(vec![event(0, 0, rename())]), "x").touched_target);
        // A rename that failed changed nothing.
        assert!(!Trail::of(&trace(vec![event(0, -2, rename())]), "x").touched_target);
    }
}
