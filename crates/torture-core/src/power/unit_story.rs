//! Diagnoses of multi-file units: which files of the unit a crash left behind, and which fsyncs
//! the writer never issued before it created the marker.

use super::diagnose::{Diagnosis, Facts, Pattern, describe_step, fix, publishes};
use super::explore::Explorer;
use super::plan::{Barrier, Step, StepKind};
use super::tree::{Node, parent};
use crate::oracle::unit::UnitVerdict;

/// The diagnosis of a state whose unit is mixed or whose marker came too early (`None` when the
/// explorer judges no unit, or the unit is fine and the violation is the target's own).
pub(crate) fn describe(explorer: &Explorer, facts: &Facts<'_>) -> Option<Diagnosis> {
    let verdict = explorer.unit_verdict(facts.tree)?;
    let reason = verdict.reason()?;
    Some(match &verdict {
        UnitVerdict::MarkerEarly { marker, incomplete } => {
            let files: Vec<&str> = incomplete.iter().map(|(path, _)| path.as_str()).collect();
            marker_early(explorer, facts, marker, &files, &reason)
        }
        UnitVerdict::Mixed { .. } | UnitVerdict::Absent | UnitVerdict::Old | UnitVerdict::New => {
            Diagnosis {
                pattern: Pattern::UnitMixed,
                text: format!(
                    "after a power cut at e{}, {reason}. Fix: {}.",
                    facts.state.events,
                    fix(Pattern::UnitMixed)
                ),
            }
        }
    })
}

/// `` `out/_SUCCESS` survived but `out/part-2.csv` did not: ... ``, naming the missing fsyncs.
fn marker_early(
    explorer: &Explorer,
    facts: &Facts<'_>,
    marker: &str,
    files: &[&str],
    reason: &str,
) -> Diagnosis {
    let steps = &explorer.plan().steps[..facts.state.events];
    let created = steps
        .iter()
        .rev()
        .find(|s| publishes(s, marker) && !facts.state.is_dropped(s.seq));
    let limit = created.map_or(steps.len(), |s| s.seq);
    let mut missing: Vec<String> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        let dir = dir_name(parent(file));
        if !dirs.contains(&dir) {
            dirs.push(dir.clone());
        }
        if !file_synced(explorer, &steps[..limit], file) {
            missing.push(format!("`{file}`"));
        }
        let what = format!("the directory {dir}");
        if !dir_synced(&steps[..limit], file) && !missing.contains(&what) {
            missing.push(what);
        }
    }
    let before = match created {
        Some(step) => format!("before {}", describe_step(step)),
        None => "before the marker".to_owned(),
    };
    let why = match missing.is_empty() {
        true => String::new(),
        false => format!(
            ": no fsync of {} came {before}",
            crate::words::join_and(&missing)
        ),
    };
    let text = format!(
        "after a power cut at e{}, {reason}{why}. Fix: fsync each partition and {} before creating the marker.",
        facts.state.events,
        match dirs.as_slice() {
            [one] => format!("the directory {one}"),
            many => format!("the directories {}", crate::words::join_and(many)),
        }
    );
    Diagnosis {
        pattern: Pattern::MarkerBeforeUnit,
        text,
    }
}

/// `` `out/` ``, or `the sandbox` for the sandbox itself.
fn dir_name(dir: &str) -> String {
    match dir {
        "." | "" => "`.` (the sandbox)".to_owned(),
        dir => format!("`{dir}/`"),
    }
}

/// Whether `file`'s data was fsynced (or everything synced) in `steps`.
fn file_synced(explorer: &Explorer, steps: &[Step], file: &str) -> bool {
    let ino = match explorer.plan().final_tree().node(file) {
        Some(Node::File(ino)) => Some(*ino),
        Some(Node::Dir | Node::Symlink(_)) | None => None,
    };
    steps.iter().any(|s| match &s.kind {
        StepKind::Barrier(Barrier::File { ino: synced }) => Some(*synced) == ino,
        StepKind::Barrier(Barrier::All) => true,
        StepKind::Barrier(Barrier::Dir { .. })
        | StepKind::Write { .. }
        | StepKind::Resize { .. }
        | StepKind::Dir(_)
        | StepKind::NewInode { .. }
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => false,
    })
}

/// Whether `file`'s directory was fsynced (or everything synced) in `steps` after the last step
/// that put `file` in place.
fn dir_synced(steps: &[Step], file: &str) -> bool {
    let dir = parent(file);
    let placed = steps.iter().rposition(|s| publishes(s, file)).unwrap_or(0);
    steps[placed..].iter().any(|s| match &s.kind {
        StepKind::Barrier(Barrier::Dir { path }) => path == dir || (dir == "." && path.is_empty()),
        StepKind::Barrier(Barrier::All) => true,
        StepKind::Barrier(Barrier::File { .. })
        | StepKind::Write { .. }
        | StepKind::Resize { .. }
        | StepKind::Dir(_)
        | StepKind::NewInode { .. }
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Writer;
    use super::super::{AckSelect, Explorer, PowerOptions, TargetClass, ack_point};
    use super::*;
    use crate::trace::Trace;

    /// Three partitions, then the marker; with `careful`, each partition and the directory are
    /// fsynced before the marker is created, and the directory again after it (exiting 0
    /// acknowledges the output, so the marker must be durable by then).
    fn pipeline(careful: bool) -> Trace {
        let mut w = Writer::new("_SUCCESS", None);
        for i in 1..=3 {
            let path = format!("part-{i}.csv");
            w.create(&path);
            w.write(&path, 0, format!("{i},partition\n").as_bytes());
            if careful {
                w.fsync(&path);
            }
            w.close(&path);
        }
        if careful {
            w.fsync(".");
        }
        w.create("_SUCCESS");
        w.close("_SUCCESS");
        if careful {
            w.fsync(".");
        }
        w.exit()
    }

    fn explore(trace: &Trace) -> crate::power::Exploration {
        let explorer = Explorer::new(trace, PowerOptions::default()).unwrap();
        let unit = explorer.with_unit(&["part-*.csv".to_owned()], Some("_SUCCESS"));
        assert_eq!(unit.unit().map(|u| u.files.len()), Some(4));
        let ack = ack_point(&trace.header, AckSelect::Exit);
        let mut never = |_: &crate::oracle::TargetState| -> TargetClass {
            panic!("a unit is judged without the target classifier")
        };
        unit.explore(ack.as_ref(), &mut never)
    }

    #[test]
    fn a_marker_created_before_its_partitions_are_durable_is_caught_and_named() {
        let found = explore(&pipeline(false));
        assert!(found.violating_states > 0);
        let finding = found
            .findings
            .iter()
            .find(|f| f.diagnosis.pattern == Pattern::MarkerBeforeUnit)
            .unwrap_or_else(|| panic!("{:#?}", found.findings));
        let text = &finding.diagnosis.text;
        assert!(text.contains("`_SUCCESS` survived but `part-"), "{text}");
        assert!(text.contains("no fsync of `part-"), "{text}");
        assert!(text.contains("the directory `.` (the sandbox)"), "{text}");
        assert!(text.contains("Fix: fsync each partition"), "{text}");
    }

    #[test]
    fn partitions_and_directory_fsynced_before_the_marker_pass() {
        let found = explore(&pipeline(true));
        assert_eq!(found.violating_states, 0, "{:#?}", found.findings);
        assert!(found.classes.new > 0 && found.classes.absent > 0);
    }
}
