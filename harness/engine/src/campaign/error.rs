//! Harness errors: each names what went wrong and what to do. All map to exit code 2.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::sandbox::SandboxError;
use crate::tracer::TraceError;

/// Why a campaign could not run (or could not go on).
#[derive(Debug)]
pub enum CampaignError {
    /// Options that do not fit this writer (e.g. `--kill-at` outside its kill space).
    Usage(String),
    /// `torture-writer` is not next to `torture`.
    WriterMissing {
        /// Where it was looked for.
        path: PathBuf,
        /// Why it is not usable.
        reason: String,
    },
    /// The user's command does not resolve to an executable.
    CommandNotFound(String),
    /// The harness's own sandbox handling failed.
    Sandbox(SandboxError),
    /// The tracer failed (a harness error, not a verdict on the writer).
    Trace {
        /// Subject being traced.
        subject: String,
        /// The tracer's error.
        source: TraceError,
    },
    /// An uncrashed run of the writer failed, so there is nothing to compare crashes with.
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
    WritesNothing {
        /// Subject.
        subject: String,
        /// Details.
        what: String,
    },
    /// Any other I/O failure of the harness itself.
    Io {
        /// What the harness was doing.
        what: String,
        /// The error.
        source: io::Error,
    },
}

impl fmt::Display for CampaignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CampaignError::Usage(message) | CampaignError::CommandNotFound(message) => {
                f.write_str(message)
            }
            CampaignError::WriterMissing { path, reason } => {
                // `cargo run --bin torture` builds only torture; the writer is a sibling binary.
                let release = path.components().any(|c| c.as_os_str() == "release");
                let build = if release {
                    "cargo build --release -p torture"
                } else {
                    "cargo build -p torture"
                };
                write!(
                    f,
                    "the built-in writer {} is missing ({reason})\n  hint: build it with `{build}` (it must sit \
                     next to the torture binary; `cargo run --bin torture` alone does not build it)",
                    path.display()
                )
            }
            CampaignError::Sandbox(e) => write!(f, "{e}"),
            CampaignError::Trace { subject, source } => {
                write!(
                    f,
                    "harness error while tracing {subject}: {source}\n  hint: this is a bug or a limit of the tracer, not a verdict on the writer"
                )
            }
            CampaignError::Golden {
                subject,
                what,
                stderr_tail,
                hint,
            } => {
                write!(f, "{subject}: {what}")?;
                if !stderr_tail.is_empty() {
                    write!(f, "\n  its stderr ends with:")?;
                    for line in stderr_tail.lines() {
                        write!(f, "\n    | {line}")?;
                    }
                }
                write!(f, "\n  hint: {hint}")
            }
            CampaignError::WritesNothing { subject, what } => write!(
                f,
                "{subject}: the writer wrote nothing at the target: {what}\n  hint: the command must write the \
                 file whose path it gets as `{{target}}` in its arguments or $TORTURE_TARGET in its environment"
            ),
            CampaignError::Io { what, source } => write!(f, "cannot {what}: {source}"),
        }
    }
}

impl std::error::Error for CampaignError {}

impl From<SandboxError> for CampaignError {
    fn from(e: SandboxError) -> Self {
        CampaignError::Sandbox(e)
    }
}
