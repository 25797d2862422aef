//! Harness errors: each names what went wrong and what to do. All map to exit code 2.

use std::io;
use std::path::{Path, PathBuf};

use crate::sandbox::SandboxError;
use crate::tracer::TraceError;

/// Why a campaign could not run (or could not go on). Messages carry their cause's text (the
/// CLI prints one message); `source()` still hands the cause on for callers that walk the chain.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// Options that do not fit this writer (e.g. `--kill-at` outside its kill space).
    #[error("{0}")]
    Usage(String),
    /// `torture-writer` is not next to `torture`.
    #[error("{}", writer_missing(path, reason))]
    WriterMissing {
        /// Where it was looked for.
        path: PathBuf,
        /// Why it is not usable.
        reason: String,
    },
    /// The user's command does not resolve to an executable.
    #[error("{0}")]
    CommandNotFound(String),
    /// The harness's own sandbox handling failed.
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    /// The tracer failed, or a run hit its timeout (a harness error, not a verdict on the
    /// writer).
    #[error("{}", trace_error(subject, source))]
    Trace {
        /// Subject being traced.
        subject: String,
        /// The tracer's error.
        source: TraceError,
    },
    /// An uncrashed run of the writer failed, so there is nothing to compare crashes with.
    #[error("{}", golden(subject, what, stderr_tail, hint))]
    Golden {
        /// Subject.
        subject: String,
        /// What happened.
        what: String,
        /// The end of its stderr.
        stderr_tail: String,
        /// What to do.
        hint: String,
    },
    /// The writer wrote nothing at the target.
    #[error(
        "{subject}: the writer wrote nothing at the target: {what}\n  hint: the command must write the file whose path \
         it gets as `{{target}}` in its arguments or $TORTURE_TARGET in its environment"
    )]
    WritesNothing {
        /// Subject.
        subject: String,
        /// Details.
        what: String,
    },
    /// Any other I/O failure of the harness itself.
    #[error("cannot {what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The error.
        source: io::Error,
    },
}

/// `cargo run --bin torture` builds only torture; the writer is a sibling binary.
fn writer_missing(path: &Path, reason: &str) -> String {
    let release = path.components().any(|c| c.as_os_str() == "release");
    let build = if release {
        "cargo build --release -p torture"
    } else {
        "cargo build -p torture"
    };
    format!(
        "the built-in writer {} is missing ({reason})\n  hint: build it with `{build}` (it must sit next to the \
         torture binary; `cargo run --bin torture` alone does not build it)",
        path.display()
    )
}

fn golden(subject: &str, what: &str, stderr_tail: &str, hint: &str) -> String {
    let mut message = format!("{subject}: {what}");
    if !stderr_tail.is_empty() {
        message.push_str("\n  its stderr ends with:");
        for line in stderr_tail.lines() {
            message.push_str(&format!("\n    | {line}"));
        }
    }
    message.push_str(&format!("\n  hint: {hint}"));
    message
}

/// A tracer error in words: a run stopped at its timeout explains itself (it is no bug); any
/// other is the tracer's failure, which says nothing about the writer.
fn trace_error(subject: &str, source: &TraceError) -> String {
    match source {
        TraceError::Stalled { .. } => format!("harness timeout while running {subject}: {source}"),
        TraceError::Sandbox { .. }
        | TraceError::Spawn { .. }
        | TraceError::Ptrace { .. }
        | TraceError::UnexpectedEnd { .. }
        | TraceError::Inspect { .. }
        | TraceError::InvalidPoint { .. }
        | TraceError::Overshoot { .. }
        | TraceError::TimedOut { .. }
        | TraceError::Cancelled
        | TraceError::FaultMismatch { .. } => format!(
            "harness error while tracing {subject}: {source}\n  hint: this is a bug or a limit of \
             the tracer, not a verdict on the writer"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn causes_stay_reachable_through_source() {
        let io = CampaignError::Io {
            what: "run the recovery run of plain".to_owned(),
            source: io::Error::other("disk on fire"),
        };
        assert_eq!(
            io.to_string(),
            "cannot run the recovery run of plain: disk on fire"
        );
        let cause = io.source().expect("an io error has a source");
        assert_eq!(cause.to_string(), "disk on fire");
        assert!(CampaignError::Usage("bad".to_owned()).source().is_none());
    }

    #[test]
    fn golden_errors_show_the_stderr_tail_and_a_hint() {
        let error = CampaignError::Golden {
            subject: "python3".to_owned(),
            what: "an uncrashed run failed".to_owned(),
            stderr_tail: "Traceback\nKeyError".to_owned(),
            hint: "run it by hand".to_owned(),
        };
        assert_eq!(
            error.to_string(),
            "python3: an uncrashed run failed\n  its stderr ends with:\n    | Traceback\n    | KeyError\n  hint: run it by hand"
        );
        let missing = CampaignError::WriterMissing {
            path: PathBuf::from("/t/release/torture-writer"),
            reason: "no such file".to_owned(),
        };
        assert!(
            missing
                .to_string()
                .contains("cargo build --release -p torture")
        );
    }
}
