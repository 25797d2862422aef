//! Everything this crate takes from `intact`, in one file: the options a Python call names,
//! the writer behind `intact_io.open`, the batch, the sweep, and errors as plain data (errno,
//! message, path, whether the new content was published) for the Python layer to raise.
//!
//! Nothing here knows about Python; `lib.rs` wraps it and releases the GIL around each call.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use intact::{AtomicFile, Batch, CommitFailed, Durability, Options, Overwrite, Symlinks};

/// The options every Python entry point takes, already parsed.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `"full"`, `"data"` or `"none"`.
    pub durability: Durability,
    /// `"x"` modes and `overwrite=False`: publish only if nothing is there.
    pub no_clobber: bool,
    /// Keep the replaced file's permission bits.
    pub preserve_mode: bool,
    /// Write through a symlink at the target (else replace the link).
    pub follow_symlinks: bool,
}

impl Settings {
    fn options(self) -> Options {
        let overwrite = match self.no_clobber {
            true => Overwrite::NoClobber,
            false => Overwrite::Replace,
        };
        let symlinks = match self.follow_symlinks {
            true => Symlinks::Follow,
            false => Symlinks::Replace,
        };
        Options::new()
            .durability(self.durability)
            .overwrite(overwrite)
            .preserve_mode(self.preserve_mode)
            .symlinks(symlinks)
    }
}

/// The durability level named `name`, as Python spells it.
pub fn durability(name: &str) -> Option<Durability> {
    match name {
        "full" => Some(Durability::Full),
        "data" => Some(Durability::Data),
        "none" => Some(Durability::None),
        _ => None,
    }
}

/// A failed call, as the Python layer raises it (`intact_io.IntactError` and subclasses).
#[derive(Debug)]
pub struct Failure {
    /// The OS error number, when there is one.
    pub errno: Option<i32>,
    /// What went wrong, naming the path.
    pub message: String,
    /// The path the caller gave.
    pub path: PathBuf,
    /// The new content is in place but the directory `fsync` failed.
    pub published: bool,
}

impl Failure {
    fn new(error: &io::Error, path: &Path) -> Failure {
        let published = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<CommitFailed>())
            .is_some_and(CommitFailed::is_published);
        Failure {
            errno: intact::raw_os_error(error).or_else(|| error.raw_os_error()),
            message: error.to_string(),
            path: path.to_path_buf(),
            published,
        }
    }

    fn closed(path: &Path) -> Failure {
        Failure {
            errno: None,
            message: format!(
                "{}: the file was already committed or discarded",
                path.display()
            ),
            path: path.to_path_buf(),
            published: false,
        }
    }
}

/// Writes `contents` to `path` atomically, with `settings`.
pub fn write_bytes(path: &Path, contents: &[u8], settings: Settings) -> Result<(), Failure> {
    settings
        .options()
        .write(path, contents)
        .map_err(|error| Failure::new(&error, path))
}

/// The temp file behind one `intact_io.open`, until it is committed or discarded.
#[derive(Debug)]
pub struct Writer {
    file: Option<AtomicFile>,
    path: PathBuf,
}

impl Writer {
    /// Creates the temp file for `path`.
    pub fn create(path: &Path, settings: Settings) -> Result<Writer, Failure> {
        let file = settings
            .options()
            .create(path)
            .map_err(|error| Failure::new(&error, path))?;
        Ok(Writer {
            file: Some(file),
            path: path.to_path_buf(),
        })
    }

    /// Appends `data` to the temp file.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Failure> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Failure::closed(&self.path))?;
        file.write_all(data)
            .map_err(|error| Failure::new(&error, &self.path))
    }

    /// Publishes the temp file under the target's name (and syncs, per the durability).
    pub fn commit(&mut self) -> Result<(), Failure> {
        let file = self
            .file
            .take()
            .ok_or_else(|| Failure::closed(&self.path))?;
        file.commit()
            .map_err(|error| Failure::new(&io::Error::from(error), &self.path))
    }

    /// Removes the temp file; the target stays as it was. Does nothing once committed.
    pub fn discard(&mut self) -> Result<(), Failure> {
        match self.file.take() {
            Some(file) => file
                .abort()
                .map_err(|error| Failure::new(&error, &self.path)),
            None => Ok(()),
        }
    }

    /// The target path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Files added one by one and published together (each atomically, not the group).
#[derive(Debug)]
pub struct BatchWriter {
    batch: Option<Batch>,
}

/// A failed batch commit: what was published, and each file that was not.
#[derive(Debug)]
pub struct BatchFailures {
    /// Targets whose new content is in place and durable.
    pub committed: Vec<PathBuf>,
    /// One failure per target that is not.
    pub failures: Vec<Failure>,
}

impl BatchWriter {
    /// An empty batch with `settings` for every file.
    pub fn new(settings: Settings) -> BatchWriter {
        BatchWriter {
            batch: Some(Batch::with_options(settings.options())),
        }
    }

    /// Adds a file; its target is resolved now.
    pub fn add(&mut self, path: &Path, contents: Vec<u8>) -> Result<(), Failure> {
        let batch = self.batch.as_mut().ok_or_else(|| Failure::closed(path))?;
        batch
            .add(path, contents)
            .map_err(|error| Failure::new(&error, path))
    }

    /// Publishes every file added; the batch is spent either way.
    pub fn commit(&mut self) -> Result<(), BatchFailures> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        batch.commit().map_err(|error| BatchFailures {
            committed: error.committed().to_vec(),
            failures: error
                .into_failures()
                .into_iter()
                .map(|failure| Failure {
                    errno: failure.raw_os_error(),
                    message: failure.error().to_string(),
                    path: failure.target().to_path_buf(),
                    published: failure.is_published(),
                })
                .collect(),
        })
    }

    /// Drops every file added (nothing was written to the targets yet).
    pub fn discard(&mut self) {
        self.batch = None;
    }
}

/// What `sweep` removed (or would remove), what it left to live writers, and what it skipped.
#[derive(Debug)]
pub struct SweepReport {
    /// Temp files of dead writers removed (or, in a dry run, that would be).
    pub removed: Vec<PathBuf>,
    /// Temp files still locked by a live writer.
    pub live: Vec<PathBuf>,
    /// Temp-shaped names that are not regular files, or vanished meanwhile.
    pub skipped: Vec<PathBuf>,
    /// Bytes freed (or that would be).
    pub removed_bytes: u64,
}

/// Removes the temp files of dead writers in `dir` (or only lists them, with `dry_run`).
pub fn sweep(dir: &Path, dry_run: bool) -> Result<SweepReport, Failure> {
    let result = match dry_run {
        true => intact::sweep_dry_run(dir),
        false => intact::sweep(dir),
    };
    let swept = result.map_err(|error| Failure::new(&error, dir))?;
    Ok(SweepReport {
        removed: swept.removed().to_vec(),
        live: swept.live().to_vec(),
        skipped: swept.skipped().to_vec(),
        removed_bytes: swept.removed_bytes(),
    })
}
