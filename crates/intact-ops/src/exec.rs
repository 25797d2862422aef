//! Applies ops to real `AtomicFile`s and checks the directory against the
//! model after every one.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::discrepancy::{Difference, Discrepancy, Step};
use crate::model::{Model, ModelFile, Outcome, TempKind};
use crate::op::{Bytes, Durability, Op, OpenSpec, Overwrite, SLOT_COUNT, SeekTo, Slot, Temp};

/// File name of the target inside the run's directory.
pub const TARGET_NAME: &str = "target.bin";

/// Scratch name `ReplaceTarget` writes before renaming over the target; it
/// never outlives the op.
const EXTERNAL_WRITER_NAME: &str = "external-writer.part";

/// Runs `ops` in `dir`, which must exist and be empty, then drops every file
/// still open. Checks after every op that the target holds exactly the
/// model's bytes and that the directory holds nothing but the target and the
/// named temp files of the `AtomicFile`s still open. Never panics.
pub fn run(dir: &Path, ops: &[Op]) -> Result<(), Discrepancy> {
    let mut run = Run::start(dir)?;
    for op in ops {
        run.step(op)?;
    }
    run.finish()
}

/// A sequence in progress: `run` one op at a time, so that a test can
/// tamper with the directory between ops and see the check catch it.
pub struct Run {
    dir: PathBuf,
    target: PathBuf,
    model: Model,
    files: [Option<intact::AtomicFile>; SLOT_COUNT],
    next_index: usize,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("dir", &self.dir)
            .field("model", &self.model)
            .field("next_index", &self.next_index)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// Starts on `dir`, which must exist and be empty.
    pub fn start(dir: &Path) -> Result<Run, Discrepancy> {
        let at_setup = |difference| Discrepancy {
            step: Step::Setup,
            difference,
        };
        let dir =
            fs::canonicalize(dir).map_err(|e| at_setup(io_difference("resolving dir", &e)))?;
        if let Some(name) = directory_names(&dir).map_err(at_setup)?.into_iter().next() {
            return Err(at_setup(Difference::NotEmpty { name }));
        }
        let model = Model::new(anonymous_supported(&dir));
        Ok(Run {
            target: dir.join(TARGET_NAME),
            dir,
            model,
            files: [None, None, None],
            next_index: 0,
        })
    }

    /// The (canonical) path of the target this run writes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Applies `op` to the model and to reality, then checks everything.
    pub fn step(&mut self, op: &Op) -> Result<(), Discrepancy> {
        let index = self.next_index;
        self.next_index += 1;
        let at = |difference| Discrepancy {
            step: Step::Op {
                index,
                op: op.clone(),
            },
            difference,
        };
        let expected = self.model.apply(op);
        let found = self.apply_real(op);
        if expected != found {
            return Err(at(Difference::Outcome { expected, found }));
        }
        self.check().map_err(at)
    }

    /// Drops every open file, model and real, and checks that only the
    /// target is left.
    pub fn finish(mut self) -> Result<(), Discrepancy> {
        self.files = [None, None, None];
        self.model.drop_all();
        self.check().map_err(|difference| Discrepancy {
            step: Step::End,
            difference,
        })
    }

    fn apply_real(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Open { slot, spec } => self.open(*slot, *spec),
            Op::Write { slot, bytes } => self.with_file(*slot, |file| {
                outcome(file.write_all(bytes.as_slice()), Outcome::Wrote)
            }),
            Op::Seek { slot, to } => self.with_file(*slot, |file| seek(file, *to)),
            Op::SetLen { slot, len_bytes } => self.with_file(*slot, |file| {
                let resized = file.as_file().set_len(u64::from(*len_bytes));
                outcome(resized, Outcome::Resized)
            }),
            Op::Commit { slot } => self.commit(*slot),
            Op::Abort { slot } => {
                self.take_file(*slot, |file| outcome(file.abort(), Outcome::Discarded))
            }
            Op::Drop { slot } => self.take_file(*slot, |file| {
                drop(file);
                Outcome::Discarded
            }),
            Op::ReplaceTarget { bytes } => {
                outcome(self.replace_target(bytes), Outcome::TargetReplaced)
            }
            Op::RemoveTarget => outcome(remove_if_present(&self.target), Outcome::TargetRemoved),
            Op::Sweep => sweep(&self.dir),
        }
    }

    fn open(&mut self, slot: Slot, spec: OpenSpec) -> Outcome {
        self.files[slot.index()] = None;
        match intact_options(spec).create(&self.target) {
            Ok(file) => {
                self.files[slot.index()] = Some(file);
                Outcome::Opened
            }
            Err(error)
                if spec.temp == Temp::Anonymous && error.kind() == io::ErrorKind::Unsupported =>
            {
                Outcome::OpenRefused
            }
            Err(error) => failed(&error),
        }
    }

    fn commit(&mut self, slot: Slot) -> Outcome {
        let Some(file) = self.files[slot.index()].take() else {
            return Outcome::EmptySlot;
        };
        match file.commit() {
            Ok(()) => Outcome::Published,
            Err(error) => {
                let refused = error.kind() == io::ErrorKind::AlreadyExists && !error.is_published();
                let outcome = if refused {
                    Outcome::RefusedExisting
                } else {
                    Outcome::Failed {
                        kind: error.kind(),
                        message: error.to_string(),
                    }
                };
                // The promise under test: a failed commit hands the file back, still usable.
                self.files[slot.index()] = Some(error.into_file());
                outcome
            }
        }
    }

    // Another process's atomic replace, done with plain std calls.
    fn replace_target(&self, bytes: &Bytes) -> io::Result<()> {
        let scratch = self.dir.join(EXTERNAL_WRITER_NAME);
        fs::write(&scratch, bytes.as_slice())?;
        fs::rename(&scratch, &self.target)
    }

    fn take_file(
        &mut self,
        slot: Slot,
        apply: impl FnOnce(intact::AtomicFile) -> Outcome,
    ) -> Outcome {
        match self.files[slot.index()].take() {
            Some(file) => apply(file),
            None => Outcome::EmptySlot,
        }
    }

    fn with_file(
        &mut self,
        slot: Slot,
        apply: impl FnOnce(&mut intact::AtomicFile) -> Outcome,
    ) -> Outcome {
        match self.files[slot.index()].as_mut() {
            Some(file) => apply(file),
            None => Outcome::EmptySlot,
        }
    }

    fn check(&mut self) -> Result<(), Difference> {
        check_target(&self.target, self.model.target())?;
        let mut named_temps = Vec::new();
        for slot in Slot::ALL {
            if let Some(name) = self.check_slot(slot)? {
                named_temps.push(name);
            }
        }
        check_entries(&self.dir, &named_temps)
    }

    /// Checks one slot's temp file; returns its name if it is a named temp.
    fn check_slot(&mut self, slot: Slot) -> Result<Option<OsString>, Difference> {
        let expected = self.model.slot(slot);
        let real = self.files[slot.index()].as_mut();
        let (expected, real) = match (expected, real) {
            (None, None) => return Ok(None),
            (Some(expected), Some(real)) => (expected, real),
            (expected, real) => {
                return Err(Difference::SlotOpen {
                    slot,
                    expected: expected.is_some(),
                    found: real.is_some(),
                });
            }
        };
        let name = check_temp_kind(&self.dir, slot, expected.temp, real)?;
        check_temp_contents(slot, expected, real)?;
        Ok(name)
    }
}

fn intact_options(spec: OpenSpec) -> intact::Options {
    let durability = match spec.durability {
        Durability::None => intact::Durability::None,
        Durability::Data => intact::Durability::Data,
        Durability::Full => intact::Durability::Full,
    };
    let overwrite = match spec.overwrite {
        Overwrite::Replace => intact::Overwrite::Replace,
        Overwrite::NoClobber => intact::Overwrite::NoClobber,
    };
    let temp = match spec.temp {
        Temp::Auto => intact::Temp::Auto,
        Temp::Named => intact::Temp::Named,
        Temp::Anonymous => intact::Temp::Anonymous,
    };
    intact::Options::new()
        .durability(durability)
        .overwrite(overwrite)
        .temp(temp)
}

fn seek(file: &mut intact::AtomicFile, to: SeekTo) -> Outcome {
    match file.seek(to.into()) {
        Ok(position) => Outcome::Sought { position },
        Err(error) if error.kind() == io::ErrorKind::InvalidInput => Outcome::SeekRejected,
        Err(error) => failed(&error),
    }
}

fn sweep(dir: &Path) -> Outcome {
    match intact::sweep(dir) {
        Ok(report) => Outcome::Swept {
            removed: report.removed().len(),
            live: report.live().len(),
            skipped: report.skipped().len(),
        },
        Err(error) => failed(&error),
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        removed => removed,
    }
}

/// `done` on success, the error otherwise.
fn outcome(result: io::Result<()>, done: Outcome) -> Outcome {
    match result {
        Ok(()) => done,
        Err(error) => failed(&error),
    }
}

fn failed(error: &io::Error) -> Outcome {
    Outcome::Failed {
        kind: error.kind(),
        message: error.to_string(),
    }
}

fn io_difference(doing: &str, error: &io::Error) -> Difference {
    Difference::Io {
        doing: doing.to_owned(),
        error: error.to_string(),
    }
}

fn check_target(target: &Path, expected: Option<&[u8]>) -> Result<(), Difference> {
    let found = match fs::symlink_metadata(target) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(io_difference("reading target metadata", &error)),
        Ok(metadata) if !metadata.is_file() => return Err(Difference::TargetNotAFile),
        Ok(_) => Some(fs::read(target).map_err(|e| io_difference("reading target", &e))?),
    };
    if found.as_deref() == expected {
        return Ok(());
    }
    Err(Difference::Target {
        expected: expected.map(<[u8]>::to_vec),
        found,
    })
}

/// Every entry must be the target or one of `named_temps`.
fn check_entries(dir: &Path, named_temps: &[OsString]) -> Result<(), Difference> {
    for name in directory_names(dir)? {
        if name != TARGET_NAME && !named_temps.contains(&name) {
            return Err(Difference::StrayEntry { name });
        }
    }
    Ok(())
}

fn directory_names(dir: &Path) -> Result<Vec<OsString>, Difference> {
    let listing = fs::read_dir(dir).map_err(|e| io_difference("listing dir", &e))?;
    listing
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| io_difference("listing dir", &e))
}

/// The kernel's name for an open file: `/dir/name` while linked,
/// `/dir/#inode (deleted)` for an `O_TMPFILE` file.
fn fd_path(file: &File) -> Result<String, Difference> {
    let link = fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|e| io_difference("reading /proc/self/fd link", &e))?;
    Ok(link.to_string_lossy().into_owned())
}

/// Checks the temp is the expected kind; returns its name if it is named.
fn check_temp_kind(
    dir: &Path,
    slot: Slot,
    expected: TempKind,
    real: &intact::AtomicFile,
) -> Result<Option<OsString>, Difference> {
    let found = fd_path(real.as_file())?;
    let named = Path::new(&found)
        .file_name()
        .filter(|name| is_named_temp(name) && Path::new(&found).parent() == Some(dir));
    let anonymous = found
        .strip_prefix(&format!("{}/#", dir.display()))
        .is_some_and(|rest| rest.ends_with(" (deleted)"));
    match (expected, named, anonymous) {
        (TempKind::Named, Some(name), _) => Ok(Some(name.to_owned())),
        (TempKind::Anonymous, None, true) => Ok(None),
        (TempKind::Named | TempKind::Anonymous, _, _) => Err(Difference::TempKind {
            slot,
            expected,
            found,
        }),
    }
}

/// `.{target}.{random}.intact-tmp`, the only temp name `intact` may use.
pub fn is_named_temp(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    name.strip_prefix(&format!(".{TARGET_NAME}."))
        .and_then(|rest| rest.strip_suffix(".intact-tmp"))
        .is_some_and(|random| !random.is_empty())
}

fn check_temp_contents(
    slot: Slot,
    expected: &ModelFile,
    real: &mut intact::AtomicFile,
) -> Result<(), Difference> {
    // Reopening through /proc reads even a write-only or anonymous temp
    // without touching the writer's own cursor.
    let path = format!("/proc/self/fd/{}", real.as_file().as_raw_fd());
    let mut found = Vec::new();
    File::open(&path)
        .and_then(|mut reader| reader.read_to_end(&mut found))
        .map_err(|e| io_difference("reading temp through /proc/self/fd", &e))?;
    if found != expected.contents {
        return Err(Difference::TempContents {
            slot,
            expected: expected.contents.clone(),
            found,
        });
    }
    let cursor = real
        .stream_position()
        .map_err(|e| io_difference("reading cursor", &e))?;
    if cursor != expected.cursor_bytes {
        return Err(Difference::Cursor {
            slot,
            expected: expected.cursor_bytes,
            found: cursor,
        });
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn anonymous_supported(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
        .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn anonymous_supported(_dir: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_temp_pattern_needs_prefix_random_part_and_suffix() {
        assert!(is_named_temp(OsStr::new(".target.bin.x7Q.intact-tmp")));
        assert!(!is_named_temp(OsStr::new(".target.bin..intact-tmp")));
        assert!(!is_named_temp(OsStr::new(".other.x7Q.intact-tmp")));
        assert!(!is_named_temp(OsStr::new("target.bin.x7Q.intact-tmp")));
        assert!(!is_named_temp(OsStr::new(".target.bin.x7Q.tmp")));
    }
}
