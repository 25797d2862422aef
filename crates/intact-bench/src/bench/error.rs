//! Everything that stops `torture bench`, each with a message that says what to do.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a benchmark run stopped before writing its full report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Arguments that cannot work together or do not parse.
    #[error("{0}")]
    Usage(String),
    /// `--fs` without root.
    #[error(
        "--fs needs root (it attaches loop devices and mounts filesystems); run it as root, or benchmark \
         directories that already exist with --dir DIR (repeatable)"
    )]
    NeedsRoot,
    /// A program `--fs` needs is not installed.
    #[error(
        "{tool} not found: install the Debian package {package} (apt-get install {package}), or leave that \
         filesystem out of --fs"
    )]
    MissingTool { tool: String, package: String },
    /// A setup program (losetup, mkfs, mount) failed.
    #[error("{}", tool_failed(command, status, stderr))]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    /// A file operation of the harness itself failed.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A benchmarked write failed: the numbers would be meaningless.
    #[error("benchmarked write `{strategy}` to {} failed: {source}", path.display())]
    Write {
        strategy: String,
        path: PathBuf,
        source: io::Error,
    },
    /// Ctrl-C (or SIGTERM/SIGHUP): everything made was removed; a partial report may exist.
    #[error("{}", cancelled(report.as_deref()))]
    Cancelled { report: Option<PathBuf> },
}

fn tool_failed(command: &str, status: &str, stderr: &str) -> String {
    match stderr.trim() {
        "" => format!("`{command}` failed ({status})"),
        stderr => format!("`{command}` failed ({status}): {stderr}"),
    }
}

fn cancelled(report: Option<&Path>) -> String {
    match report {
        Some(path) => format!(
            "interrupted: scratch filesystems removed; partial report in {}",
            path.display()
        ),
        None => "interrupted: scratch filesystems removed; nothing measured yet".to_owned(),
    }
}

impl BenchError {
    /// 130 after Ctrl-C (the shell convention for SIGINT), 2 for every usage or harness error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            BenchError::Cancelled { .. } => ExitCode::from(130),
            BenchError::Usage(_)
            | BenchError::NeedsRoot
            | BenchError::MissingTool { .. }
            | BenchError::Tool { .. }
            | BenchError::Io { .. }
            | BenchError::Write { .. } => ExitCode::from(2),
        }
    }

    pub(crate) fn io(what: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        BenchError::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let missing = BenchError::MissingTool {
            tool: "mkfs.xfs".into(),
            package: "xfsprogs".into(),
        };
        assert!(missing.to_string().contains("apt-get install xfsprogs"));
        assert!(BenchError::NeedsRoot.to_string().contains("--dir"));
        assert_eq!(missing.exit_code(), ExitCode::from(2));
        assert_eq!(
            BenchError::Cancelled { report: None }.exit_code(),
            ExitCode::from(130)
        );
    }

    #[test]
    fn io_causes_stay_reachable_through_source() {
        use std::error::Error as _;
        let error = BenchError::io("create", "/mnt/x", io::Error::other("read-only"));
        assert_eq!(error.to_string(), "cannot create /mnt/x: read-only");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("read-only")
        );
        assert!(BenchError::NeedsRoot.source().is_none());
    }
}
