//! `intact_io._intact`: the Rust half of the `intact_io` Python package.
//!
//! The Python half (`python/intact_io`) is the API people use: `open`, `write_bytes`, `Batch`,
//! the exceptions. This module gives it the calls into `intact` (through `bridge`, the one file
//! that uses that crate), each with the GIL released for its I/O and `fsync`s, and raises the
//! exceptions the Python half defines.

mod bridge;

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use bridge::{BatchFailures, Failure, Settings};

/// The exception the Python layer makes for `failure` (`intact_io._errors.from_failure`).
fn raise(py: Python<'_>, failure: Failure) -> PyErr {
    let made = py.import("intact_io._errors").and_then(|errors| {
        errors.getattr("from_failure")?.call1((
            failure.errno,
            failure.message,
            failure.path,
            failure.published,
        ))
    });
    match made {
        Ok(exception) => PyErr::from_value(exception),
        Err(error) => error,
    }
}

/// The exception for a failed batch (`intact_io._errors.from_batch_failures`).
fn raise_batch(py: Python<'_>, failures: BatchFailures) -> PyErr {
    let errors: Vec<PyErr> = failures
        .failures
        .into_iter()
        .map(|failure| raise(py, failure))
        .collect();
    let made = py.import("intact_io._errors").and_then(|module| {
        let values: Vec<Bound<'_, PyAny>> = errors
            .into_iter()
            .map(|error| error.into_value(py).into_bound(py).into_any())
            .collect();
        module
            .getattr("from_batch_failures")?
            .call1((failures.committed, values))
    });
    match made {
        Ok(exception) => PyErr::from_value(exception),
        Err(error) => error,
    }
}

/// The settings of one call; `durability` is checked here, the rest are booleans.
fn settings(
    durability: &str,
    no_clobber: bool,
    preserve_mode: bool,
    follow_symlinks: bool,
) -> PyResult<Settings> {
    let durability = bridge::durability(durability).ok_or_else(|| {
        PyValueError::new_err(format!(
            "durability must be \"full\", \"data\" or \"none\", not {durability:?}"
        ))
    })?;
    Ok(Settings {
        durability,
        no_clobber,
        preserve_mode,
        follow_symlinks,
    })
}

/// Writes `data` to `path` atomically (the GIL is released meanwhile).
#[pyfunction]
fn write_bytes(
    py: Python<'_>,
    path: PathBuf,
    data: &[u8],
    durability: &str,
    no_clobber: bool,
    preserve_mode: bool,
    follow_symlinks: bool,
) -> PyResult<()> {
    let settings = settings(durability, no_clobber, preserve_mode, follow_symlinks)?;
    py.detach(|| bridge::write_bytes(&path, data, settings))
        .map_err(|failure| raise(py, failure))
}

/// Removes (or with `dry_run` lists) dead writers' temp files in `dir`:
/// `(removed, live, skipped, removed_bytes)`.
#[pyfunction]
#[allow(clippy::type_complexity)] // the tuple is the Python return value, unpacked there
fn sweep(
    py: Python<'_>,
    dir: PathBuf,
    dry_run: bool,
) -> PyResult<(Vec<PathBuf>, Vec<PathBuf>, Vec<PathBuf>, u64)> {
    let report = py
        .detach(|| bridge::sweep(&dir, dry_run))
        .map_err(|failure| raise(py, failure))?;
    Ok((
        report.removed,
        report.live,
        report.skipped,
        report.removed_bytes,
    ))
}

/// The temp file of one `intact_io.open`: written, then committed or discarded.
#[pyclass(module = "intact_io._intact")]
#[derive(Debug)]
struct Writer {
    inner: bridge::Writer,
}

#[pymethods]
impl Writer {
    #[new]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        durability: &str,
        no_clobber: bool,
        preserve_mode: bool,
        follow_symlinks: bool,
    ) -> PyResult<Writer> {
        let settings = settings(durability, no_clobber, preserve_mode, follow_symlinks)?;
        let inner = py
            .detach(|| bridge::Writer::create(&path, settings))
            .map_err(|failure| raise(py, failure))?;
        Ok(Writer { inner })
    }

    /// Appends `data` (all of it) to the temp file.
    fn write(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<usize> {
        let inner = &mut self.inner;
        py.detach(|| inner.write(data))
            .map_err(|failure| raise(py, failure))?;
        Ok(data.len())
    }

    /// Publishes the file (and syncs it, per the durability).
    fn commit(&mut self, py: Python<'_>) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.commit())
            .map_err(|failure| raise(py, failure))
    }

    /// Removes the temp file; the target stays as it was.
    fn discard(&mut self, py: Python<'_>) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.discard())
            .map_err(|failure| raise(py, failure))
    }

    /// The target path as given.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_path_buf()
    }
}

/// Files published together, each atomically (`intact_io.Batch` wraps this).
#[pyclass(module = "intact_io._intact")]
#[derive(Debug)]
struct BatchWriter {
    inner: bridge::BatchWriter,
}

#[pymethods]
impl BatchWriter {
    #[new]
    fn new(
        durability: &str,
        no_clobber: bool,
        preserve_mode: bool,
        follow_symlinks: bool,
    ) -> PyResult<BatchWriter> {
        let settings = settings(durability, no_clobber, preserve_mode, follow_symlinks)?;
        Ok(BatchWriter {
            inner: bridge::BatchWriter::new(settings),
        })
    }

    /// Adds a file to publish at commit.
    fn add(&mut self, py: Python<'_>, path: PathBuf, data: Vec<u8>) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.add(&path, data))
            .map_err(|failure| raise(py, failure))
    }

    /// Publishes every file added.
    fn commit(&mut self, py: Python<'_>) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.commit())
            .map_err(|failures| raise_batch(py, failures))
    }

    /// Forgets every file added.
    fn discard(&mut self) {
        self.inner.discard();
    }
}

#[pymodule]
fn _intact(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(write_bytes, module)?)?;
    module.add_function(wrap_pyfunction!(sweep, module)?)?;
    module.add_class::<Writer>()?;
    module.add_class::<BatchWriter>()?;
    Ok(())
}
