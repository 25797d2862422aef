//! Multi-file units in the campaigns: the glue between `--target`/`--marker` ([`UnitSpec`]) and
//! the unit judge of `torture_core::oracle::unit`, for every crash kind.

use torture_core::oracle::unit::{self, Unit, UnitFile, UnitVerdict};
use torture_core::oracle::{TargetState, Validity, Verdict};
use torture_core::power::Explorer;

use super::UnitSpec;
use crate::sandbox::{Orphan, Sandbox, SandboxError};

/// The explorer that judges `spec`'s unit, or `explorer` itself for a single target. A unit
/// whose names match fewer than two files of the trace is a usage error.
pub(crate) fn judge_unit(explorer: Explorer, spec: &UnitSpec) -> Result<Explorer, String> {
    if !spec.is_unit() {
        return Ok(explorer);
    }
    let judging = explorer.with_unit(&spec.targets, spec.marker.as_deref());
    let paths: Vec<String> = judging.unit().map_or(Vec::new(), |u| {
        u.files.iter().map(|f| f.path.clone()).collect()
    });
    match paths.len() {
        0 | 1 => Err(too_few(spec, &paths)),
        _ => Ok(judging),
    }
}

fn too_few(spec: &UnitSpec, paths: &[String]) -> String {
    let mut named: Vec<String> = spec
        .targets
        .iter()
        .map(|t| format!("--target {t}"))
        .collect();
    named.extend(spec.marker.iter().map(|m| format!("--marker {m}")));
    format!(
        "{} match only {} of the golden run: a unit needs two files or more (check the glob)",
        named.join(" "),
        paths
            .first()
            .map_or("no file".to_owned(), |p| format!("`{p}`"))
    )
}

/// The report's note on a unit: which files are judged as one, and what a violation is.
pub(crate) fn note(unit: &Unit) -> String {
    let files: Vec<String> = unit
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| match Some(i) == unit.marker {
            true => format!("the marker `{}`", f.path),
            false => format!("`{}`", f.path),
        })
        .collect();
    let rule = match unit.marker {
        Some(_) => "the marker present with any other file not new",
        None => "some files new and some not",
    };
    format!(
        "judged as one unit: {} ({rule} is counted torn)",
        torture_core::words::join_and(&files)
    )
}

/// `orphans` less the unit's own files (and the directories holding them).
pub(crate) fn not_in_unit(orphans: Vec<Orphan>, unit: Option<&Unit>) -> Vec<Orphan> {
    let Some(unit) = unit else {
        return orphans;
    };
    let ours = |name: &str| {
        let dir = name.trim_end_matches('/');
        unit.files
            .iter()
            .any(|f| f.path == name || f.path.starts_with(&format!("{dir}/")))
    };
    orphans.into_iter().filter(|o| !ours(&o.name)).collect()
}

/// What a sandbox holds: each name that is not a directory, and what is there.
pub(crate) type Snapshot = Vec<(String, TargetState)>;

/// Reads every file of `sandbox`.
pub(crate) fn snapshot(sandbox: &Sandbox) -> Result<Snapshot, SandboxError> {
    let files = sandbox.files()?;
    files
        .into_iter()
        .map(|path| sandbox.read_relative(&path).map(|state| (path, state)))
        .collect()
}

/// The unit `spec` names, its globs expanded against the sandbox before the golden run
/// (`before`) and after it (`after`), each file's versions read from the two (`None` for a
/// single target). A unit none of whose names matched a file is a usage error.
pub(crate) fn unit_of(
    spec: &UnitSpec,
    before: &Snapshot,
    after: &Snapshot,
) -> Result<Option<Unit>, String> {
    if !spec.is_unit() {
        return Ok(None);
    }
    let mut named = spec.targets.clone();
    named.extend(spec.marker.clone());
    let candidates: Vec<&str> = before
        .iter()
        .chain(after)
        .map(|(path, _)| path.as_str())
        .collect();
    let paths = unit::expand(&named, &candidates);
    if paths.len() < 2 {
        return Err(too_few(spec, &paths));
    }
    let version = |snapshot: &Snapshot, path: &str| {
        snapshot
            .iter()
            .find(|(p, _)| p == path)
            .map_or(TargetState::Absent, |(_, state)| state.clone())
    };
    let marker = spec.marker.as_ref();
    Ok(Some(Unit {
        marker: marker.and_then(|m| paths.iter().position(|p| p == m)),
        files: paths
            .iter()
            .map(|path| UnitFile {
                path: path.clone(),
                old: version(before, path),
                new: version(after, path),
            })
            .collect(),
    }))
}

/// What `sandbox` leaves of `unit`, as the target verdict the campaigns count and judge: a mix,
/// or a marker ahead of its files, is torn.
pub(crate) fn judge_sandbox(unit: &Unit, sandbox: &Sandbox) -> Result<Verdict, SandboxError> {
    let states = unit
        .files
        .iter()
        .map(|file| sandbox.read_relative(&file.path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match unit.judge(&states) {
        UnitVerdict::Absent => Verdict::Absent,
        UnitVerdict::Old => Verdict::Old,
        UnitVerdict::New => Verdict::New { index: Some(0) },
        UnitVerdict::Mixed { .. } | UnitVerdict::MarkerEarly { .. } => Verdict::Torn {
            parses: Validity::Unchecked,
            first_diff_offset: 0,
            len_bytes: 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular(bytes: &[u8]) -> TargetState {
        TargetState::Regular(bytes.to_vec())
    }

    #[test]
    fn a_unit_reads_its_versions_from_the_two_snapshots() {
        let spec = UnitSpec {
            targets: vec!["out/part-*.csv".to_owned()],
            marker: Some("out/_SUCCESS".to_owned()),
        };
        let before: Snapshot = Vec::new();
        let after: Snapshot = vec![
            ("out/_SUCCESS".to_owned(), regular(b"")),
            ("out/part-1.csv".to_owned(), regular(b"1")),
            ("out/part-2.csv".to_owned(), regular(b"2")),
            ("out/tmp".to_owned(), regular(b"x")),
        ];
        let unit = unit_of(&spec, &before, &after)
            .expect("unit")
            .expect("some");
        let paths: Vec<&str> = unit.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["out/part-1.csv", "out/part-2.csv", "out/_SUCCESS"]);
        assert_eq!(unit.marker, Some(2));
        assert_eq!(unit.files[0].old, TargetState::Absent);
        assert_eq!(unit.files[1].new, regular(b"2"));
        assert_eq!(
            note(&unit),
            "judged as one unit: `out/part-1.csv`, `out/part-2.csv` and the marker `out/_SUCCESS` \
             (the marker present with any other file not new is counted torn)"
        );
        assert_eq!(unit_of(&UnitSpec::default(), &before, &after), Ok(None));
        let lonely = UnitSpec {
            targets: vec!["none-*".to_owned()],
            marker: Some("out/_SUCCESS".to_owned()),
        };
        assert!(unit_of(&lonely, &before, &after).is_err());
    }
}
