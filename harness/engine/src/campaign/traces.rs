//! Golden traces as files: `--save-trace FILE` writes what a command recorded, `torture power
//! --trace FILE` reads it back and explores it without running the writer.
//!
//! One subject: FILE is the trace (`intact-trace` JSON lines). Several: FILE is a directory
//! holding one `<subject>.jsonl` each. The trace is written as it is held, whatever its version.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use torture_core::trace::Trace;

use super::subject::Subject;

/// Writes each subject's golden trace: to `path` itself when `several` is false (one subject),
/// else to `path/<subject>.jsonl` (the directory is created). Returns the files written.
pub fn save(path: &Path, traces: &[(&Subject, &Trace)], several: bool) -> io::Result<Vec<PathBuf>> {
    if several {
        fs::create_dir_all(path)?;
    }
    let mut written = Vec::new();
    for (subject, trace) in traces {
        let file = match several {
            true => path.join(format!(
                "{}.jsonl",
                crate::sandbox::plain_component(&subject.label)
            )),
            false => path.to_owned(),
        };
        let mut out = BufWriter::new(fs::File::create(&file)?);
        trace.write_jsonl(&mut out)?;
        out.flush()?;
        written.push(file);
    }
    Ok(written)
}

/// A trace read back from a file, with the name its subject is reported under.
#[derive(Debug, Clone)]
pub struct SavedTrace {
    /// The subject's label: the file's stem in a directory, else the writer's program name.
    pub label: String,
    /// The trace.
    pub trace: Trace,
    /// The file it was read from (replay lines name it).
    pub path: PathBuf,
}

/// Reads `path`: one trace file, or a directory of `*.jsonl` traces (sorted by name). A file
/// that is not a trace is a usage error naming it.
pub fn load(path: &Path) -> Result<Vec<SavedTrace>, String> {
    let metadata = fs::metadata(path).map_err(|e| format!("--trace {}: {e}", path.display()))?;
    if !metadata.is_dir() {
        let trace = read(path)?;
        let label = program_name(&trace);
        let path = path.to_owned();
        return Ok(vec![SavedTrace { label, trace, path }]);
    }
    let entries = fs::read_dir(path).map_err(|e| format!("--trace {}: {e}", path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "--trace {}: the directory holds no `*.jsonl` trace (write one with --save-trace)",
            path.display()
        ));
    }
    files
        .iter()
        .map(|file| {
            let stem = file.file_stem().unwrap_or_default();
            Ok(SavedTrace {
                label: stem.to_string_lossy().into_owned(),
                trace: read(file)?,
                path: file.clone(),
            })
        })
        .collect()
}

fn read(path: &Path) -> Result<Trace, String> {
    let bytes = fs::read(path).map_err(|e| format!("--trace {}: {e}", path.display()))?;
    Trace::parse_bytes(&bytes).map_err(|e| {
        format!(
            "--trace {}: not an intact-trace file ({e}); write one with --save-trace",
            path.display()
        )
    })
}

/// The writer's program name, from the trace header (`trace` when it names none).
fn program_name(trace: &Trace) -> String {
    trace
        .header
        .command
        .first()
        .and_then(|program| Path::new(program).file_name())
        .map_or_else(|| "trace".to_owned(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::Subject;
    use torture_core::oracle::Expect;

    #[test]
    fn saved_traces_read_back_equal_one_file_or_a_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut trace = Trace::new("/sb".into(), vec!["/usr/bin/python3".into(), "w.py".into()]);
        trace.header.target = Some("t.json".into());
        let subject = Subject::command(vec!["python3".into()], Expect::Pass);
        let file = dir.path().join("one.jsonl");
        save(&file, &[(&subject, &trace)], false).expect("save one");
        let back = load(&file).expect("load one");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].trace, trace);
        assert_eq!(back[0].label, "python3");
        let many = dir.path().join("many");
        let written = save(&many, &[(&subject, &trace)], true).expect("save many");
        assert_eq!(written, vec![many.join("python3.jsonl")]);
        assert_eq!(load(&many).expect("load many")[0].trace, trace);
        std::fs::write(dir.path().join("bad.jsonl"), b"not json").expect("write");
        let error = load(&dir.path().join("bad.jsonl")).expect_err("not a trace");
        assert!(error.contains("not an intact-trace file"), "{error}");
    }
}
