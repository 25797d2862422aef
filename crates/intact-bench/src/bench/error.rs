//! Everything that stops `torture bench`, each with a message that says what to do.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use torture_engine::loopfs::LoopError;

/// Why a benchmark run stopped before writing its full report.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Arguments that cannot work together or do not parse.
    #[error("{0}")]
    Usage(String),
    /// `--fs` without root.
    #[error(
        "--fs needs root (it attaches loop devices and mounts filesystems); run it as root, or \
         benchmark directories that already exist with --dir DIR (repeatable)"
    )]
    NeedsRoot,
    /// A scratch filesystem could not be made or removed (a missing tool, a failed mkfs).
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A file operation of the harness itself failed.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A benchmarked write failed: the numbers would be meaningless.
    #[error("benchmarked write `{strategy}` to {} failed: {source}", .path.display())]
    Write {
        strategy: String,
        path: PathBuf,
        source: io::Error,
    },
    /// Ctrl-C (or SIGTERM/SIGHUP): everything made was removed; a partial report may exist.
    #[error("interrupted: scratch filesystems removed; {}", cancelled_report(.report))]
    Cancelled { report: Option<PathBuf> },
}

fn cancelled_report(report: &Option<PathBuf>) -> String {
    match report {
        Some(path) => format!("partial report in {}", path.display()),
        None => "nothing measured yet".to_owned(),
    }
}

impl BenchError {
    /// 130 after Ctrl-C (the shell convention for SIGINT), 2 for every usage or harness error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            BenchError::Cancelled { .. } => ExitCode::from(130),
            BenchError::Usage(_)
            | BenchError::NeedsRoot
            | BenchError::Loop(_)
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
    use std::error::Error as _;

    #[test]
    fn messages_say_what_to_do() {
        let missing = BenchError::from(LoopError::MissingTool {
            tool: "mkfs.xfs".into(),
            package: "xfsprogs".into(),
        });
        assert!(missing.to_string().contains("apt-get install xfsprogs"));
        assert!(BenchError::NeedsRoot.to_string().contains("--dir"));
        assert_eq!(missing.exit_code(), ExitCode::from(2));
        assert_eq!(
            BenchError::Cancelled { report: None }.exit_code(),
            ExitCode::from(130)
        );
    }

    #[test]
    fn io_errors_keep_their_source() {
        let error = BenchError::io("read", "/x", io::Error::from_raw_os_error(2));
        let source = error.source().expect("a source");
        assert!(source.to_string().contains("No such file"), "{source}");
    }
}
