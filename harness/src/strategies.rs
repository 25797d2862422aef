//! The built-in writer strategies: ways to replace a file, from plainly broken to correct.
//!
//! `torture-writer` (src/bin/torture-writer.rs) runs one of them; the campaign knows each one's
//! expected verdict under SIGKILL. A canary ([`Expect::Caught`]) is a strategy known to be
//! broken: if the harness does not catch it, the harness itself has failed.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Size of each `write` call of the in-place strategies: several calls, like a buffered writer.
pub const PLAIN_CHUNK_BYTES: usize = 4096;

/// A built-in writer strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Strategy {
    Plain,
    PlainFsync,
    Rename,
    RenameFsync,
    FixedTemp,
    Intact,
    IntactNamed,
    IntactAnonymous,
}

/// What a strategy must show under SIGKILL testing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expect {
    /// No violation at any kill point.
    Pass,
    /// A canary: at least one violation must be found.
    Caught,
}

impl Strategy {
    /// Every strategy, canaries first.
    pub const ALL: [Strategy; 8] = [
        Strategy::Plain,
        Strategy::PlainFsync,
        Strategy::Rename,
        Strategy::RenameFsync,
        Strategy::FixedTemp,
        Strategy::Intact,
        Strategy::IntactNamed,
        Strategy::IntactAnonymous,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Plain => "plain",
            Strategy::PlainFsync => "plain-fsync",
            Strategy::Rename => "rename",
            Strategy::RenameFsync => "rename-fsync",
            Strategy::FixedTemp => "fixed-temp",
            Strategy::Intact => "intact",
            Strategy::IntactNamed => "intact-named",
            Strategy::IntactAnonymous => "intact-anonymous",
        }
    }

    /// One line saying what the strategy does.
    pub fn description(self) -> &'static str {
        match self {
            Strategy::Plain => "truncate the target and write it in place, 4 KiB per write call",
            Strategy::PlainFsync => "like plain, then fsync the target",
            Strategy::Rename => {
                "write a randomly named temp file, rename it over the target (no fsync)"
            }
            Strategy::RenameFsync => {
                "like rename, with fsync of the temp file (not of the directory)"
            }
            Strategy::FixedTemp => {
                "truncate and write `<target>.tmp` (one fixed name), rename it over the target"
            }
            Strategy::Intact => "intact::sweep, then intact::write with default options",
            Strategy::IntactNamed => "intact::sweep, then intact with Temp::Named",
            Strategy::IntactAnonymous => "intact with Temp::Anonymous (O_TMPFILE + linkat)",
        }
    }

    /// The expected verdict under SIGKILL.
    pub fn expect(self) -> Expect {
        match self {
            Strategy::Plain | Strategy::PlainFsync => Expect::Caught,
            Strategy::Rename
            | Strategy::RenameFsync
            | Strategy::FixedTemp
            | Strategy::Intact
            | Strategy::IntactNamed
            | Strategy::IntactAnonymous => Expect::Pass,
        }
    }

    /// Replaces `target` with `contents` the way this strategy does.
    pub fn write(self, target: &Path, contents: &[u8]) -> io::Result<()> {
        match self {
            Strategy::Plain => write_in_place(target, contents, false),
            Strategy::PlainFsync => write_in_place(target, contents, true),
            Strategy::Rename => {
                write_and_rename(&random_temp_name(target)?, target, contents, false)
            }
            Strategy::RenameFsync => {
                write_and_rename(&random_temp_name(target)?, target, contents, true)
            }
            Strategy::FixedTemp => {
                write_and_rename(&fixed_temp_name(target), target, contents, false)
            }
            Strategy::Intact => {
                sweep_parent(target)?;
                intact::write(target, contents)
            }
            Strategy::IntactNamed => {
                sweep_parent(target)?;
                intact::Options::new()
                    .temp(intact::Temp::Named)
                    .write(target, contents)
            }
            Strategy::IntactAnonymous => intact::Options::new()
                .temp(intact::Temp::Anonymous)
                .write(target, contents),
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy(pub String);

impl fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
        write!(
            f,
            "unknown strategy `{}` (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownStrategy {}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| UnknownStrategy(name.to_owned()))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Pass => "pass",
            Expect::Caught => "caught",
        })
    }
}

fn write_in_place(target: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
    let mut file = File::create(target).map_err(|e| at(target, "open", e))?;
    for chunk in contents.chunks(PLAIN_CHUNK_BYTES) {
        file.write_all(chunk).map_err(|e| at(target, "write", e))?;
    }
    if fsync {
        file.sync_all().map_err(|e| at(target, "fsync", e))?;
    }
    Ok(())
}

fn write_and_rename(temp: &Path, target: &Path, contents: &[u8], fsync: bool) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)
        .map_err(|e| at(temp, "open", e))?;
    file.write_all(contents).map_err(|e| at(temp, "write", e))?;
    if fsync {
        file.sync_all().map_err(|e| at(temp, "fsync", e))?;
    }
    drop(file);
    std::fs::rename(temp, target).map_err(|e| at(target, "rename", e))
}

/// `.<name>.<16 hex digits>.tmp` beside the target; the digits come from std's per-process
/// random hash keys, so two runs pick different names.
fn random_temp_name(target: &Path) -> io::Result<PathBuf> {
    let name = file_name(target)?;
    let random = RandomState::new().hash_one(std::process::id());
    Ok(target.with_file_name(format!(".{name}.{random:016x}.tmp")))
}

fn fixed_temp_name(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn file_name(target: &Path) -> io::Result<String> {
    target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no file name", target.display()),
            )
        })
}

/// The documented recovery pattern: remove temp files of crashed intact writers before writing.
fn sweep_parent(target: &Path) -> io::Result<()> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        Some(_) | None => Path::new("."),
    };
    intact::sweep(parent)
        .map(drop)
        .map_err(|e| at(parent, "sweep", e))
}

/// Adds the step and the path to an error, keeping its kind.
fn at(path: &Path, step: &str, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{step} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("intact-strategies-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn names_parse_back_and_are_distinct() {
        for strategy in Strategy::ALL {
            assert_eq!(strategy.name().parse::<Strategy>(), Ok(strategy));
            assert!(!strategy.description().is_empty());
        }
        let err = "atomic".parse::<Strategy>().unwrap_err();
        assert!(err.to_string().contains("plain-fsync"), "{err}");
    }

    #[test]
    fn only_the_plain_strategies_are_canaries() {
        let canaries: Vec<_> = Strategy::ALL
            .into_iter()
            .filter(|s| s.expect() == Expect::Caught)
            .collect();
        assert_eq!(canaries, [Strategy::Plain, Strategy::PlainFsync]);
    }

    #[test]
    fn every_strategy_replaces_the_target_and_leaves_nothing_else() {
        for strategy in Strategy::ALL {
            let dir = scratch(strategy.name());
            let target = dir.join("target.json");
            std::fs::write(&target, b"old").unwrap();
            let contents = crate::payload::payload(10_000, 2);
            strategy
                .write(&target, &contents)
                .unwrap_or_else(|e| panic!("{strategy}: {e}"));
            assert_eq!(std::fs::read(&target).unwrap(), contents, "{strategy}");
            let names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["target.json"], "{strategy} left files behind");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn errors_name_the_path() {
        let missing = std::env::temp_dir().join("intact-no-such-dir/target.json");
        for strategy in Strategy::ALL {
            let err = strategy.write(&missing, b"x").unwrap_err();
            assert!(
                err.to_string().contains("intact-no-such-dir"),
                "{strategy}: {err}"
            );
        }
    }

    #[test]
    fn temp_names_sit_beside_the_target() {
        let target = Path::new("/d/t.json");
        assert_eq!(fixed_temp_name(target), PathBuf::from("/d/t.json.tmp"));
        let random = random_temp_name(target).unwrap();
        assert_eq!(random.parent(), Some(Path::new("/d")));
        assert!(
            random
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".t.json.")
        );
    }
}
