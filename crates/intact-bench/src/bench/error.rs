//! Everything that stops `torture bench`, each with a message that says what to do.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

/// Why a benchmark run stopped before writing its full report.
#[derive(Debug)]
pub enum BenchError {
    /// Arguments that cannot work together or do not parse.
    Usage(String),
    /// `--fs` without root.
    NeedsRoot,
    /// A program `--fs` needs is not installed.
    MissingTool { tool: String, package: String },
    /// A setup program (losetup, mkfs, mount) failed.
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    /// A file operation of the harness itself failed.
    Io {
        what: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A benchmarked write failed: the numbers would be meaningless.
    Write {
        strategy: String,
        path: PathBuf,
        source: io::Error,
    },
    /// Ctrl-C (or SIGTERM/SIGHUP): everything made was removed; a partial report may exist.
    Cancelled { report: Option<PathBuf> },
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

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Usage(message) => write!(f, "{message}"),
            BenchError::NeedsRoot => write!(
                f,
                "--fs needs root (it attaches loop devices and mounts filesystems); run it as \
                 root, or benchmark directories that already exist with --dir DIR (repeatable)"
            ),
            BenchError::MissingTool { tool, package } => write!(
                f,
                "{tool} not found: install the Debian package {package} (apt-get install {package}), \
                 or leave that filesystem out of --fs"
            ),
            BenchError::Tool {
                command,
                status,
                stderr,
            } => {
                write!(f, "`{command}` failed ({status})")?;
                if !stderr.trim().is_empty() {
                    write!(f, ": {}", stderr.trim())?;
                }
                Ok(())
            }
            BenchError::Io { what, path, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())
            }
            BenchError::Write {
                strategy,
                path,
                source,
            } => write!(
                f,
                "benchmarked write `{strategy}` to {} failed: {source}",
                path.display()
            ),
            BenchError::Cancelled { report: Some(path) } => write!(
                f,
                "interrupted: scratch filesystems removed; partial report in {}",
                path.display()
            ),
            BenchError::Cancelled { report: None } => {
                write!(
                    f,
                    "interrupted: scratch filesystems removed; nothing measured yet"
                )
            }
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Io { source, .. } | BenchError::Write { source, .. } => Some(source),
            BenchError::Usage(_)
            | BenchError::NeedsRoot
            | BenchError::MissingTool { .. }
            | BenchError::Tool { .. }
            | BenchError::Cancelled { .. } => None,
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
}
