//! Diagnoses: a violating state is cut down to the fewest lost or torn operations that still
//! show the violation (delta debugging, one operation at a time, to a fixed point), then told in
//! one or two sentences naming the syscalls (`#seq`, path) and ending with a fix from
//! [`FIXES`].

use super::explore::Explorer;
use super::judge::{AckPoint, PowerViolation, TargetClass};
use super::plan::{DirOp, Step, StepKind};
use super::state::CrashState;
use super::tree::{FsTree, Ino, Node};

/// The known patterns of crash bugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// A rename (or link) put a file in place whose writes had not reached the disk.
    RenameBeforeData,
    /// The rename publishing the target never became durable.
    NameNotDurable,
    /// The create or link naming the target never became durable.
    NewNameNotDurable,
    /// The target's data was acknowledged but never made durable.
    DataNotDurable,
    /// The target was changed in place and the crash caught it half done.
    InPlaceUpdate,
    /// The target was unlinked before its replacement was durable.
    UnlinkBeforeReplace,
    /// A unit's marker reached the disk before the files it vouches for (`--marker`).
    MarkerBeforeUnit,
    /// Some files of a unit reached the disk at one version and some at the other.
    UnitMixed,
    /// An unlink was lost: the file it removed (a rollback journal, a lock) is back.
    UnlinkNotDurable,
    /// None of the above.
    Other,
}

/// The fix for each pattern.
pub const FIXES: &[(Pattern, &str)] = &[
    (
        Pattern::RenameBeforeData,
        "fsync the temp file before the rename",
    ),
    (
        Pattern::NameNotDurable,
        "fsync the directory after the rename",
    ),
    (
        Pattern::NewNameNotDurable,
        "fsync the directory after creating or linking the file",
    ),
    (
        Pattern::DataNotDurable,
        "fsync the file (and, if it is new, its directory) before acknowledging",
    ),
    (
        Pattern::InPlaceUpdate,
        "never write the target in place: write a temp file, fsync it, rename it over the target, fsync the directory",
    ),
    (
        Pattern::UnlinkBeforeReplace,
        "rename the new file over the target instead of unlinking it first (rename replaces in one step)",
    ),
    (
        Pattern::MarkerBeforeUnit,
        "fsync each file of the unit and its directory before creating the marker",
    ),
    (
        Pattern::UnitMixed,
        "publish the unit in one step (write it to a new directory, fsync each file and the directory, rename the directory into place), or create a marker last (--marker) after fsyncing each file and the directory",
    ),
    (
        Pattern::UnlinkNotDurable,
        "fsync the directory after the unlink before acknowledging (a lost unlink brings the file back)",
    ),
    (
        Pattern::Other,
        "make each step durable before a later one depends on it: fsync files before renaming them into place and the directory after",
    ),
];

/// One explained violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Which known pattern it is.
    pub pattern: Pattern,
    /// One or two sentences ending with `Fix: ...`.
    pub text: String,
}

/// The fix sentence for a pattern.
pub fn fix(pattern: Pattern) -> &'static str {
    FIXES
        .iter()
        .find(|(p, _)| *p == pattern)
        .map_or("", |(_, text)| text)
}

/// Cuts `state` down while it stays legal and `shows` still reports `violation`.
pub(crate) fn minimise(
    explorer: &Explorer,
    state: &CrashState,
    violation: PowerViolation,
    shows: &mut dyn FnMut(&CrashState) -> Option<PowerViolation>,
) -> CrashState {
    let mut best = state.clone();
    loop {
        let mut candidates = Vec::new();
        if best.partial.is_some() {
            candidates.push(CrashState {
                partial: None,
                ..best.clone()
            });
        }
        for i in (0..best.dropped.len()).rev() {
            let mut smaller = best.clone();
            smaller.dropped.remove(i);
            candidates.push(smaller);
        }
        for i in (0..best.sized.len()).rev() {
            let mut smaller = best.clone();
            smaller.sized.remove(i);
            candidates.push(smaller);
        }
        let better = candidates
            .into_iter()
            .find(|c| explorer.check(c).is_ok() && shows(c) == Some(violation));
        match better {
            Some(c) => best = c,
            None => return best,
        }
    }
}

/// What [`describe`] needs to know about a state.
#[derive(Debug)]
pub(crate) struct Facts<'a> {
    pub state: &'a CrashState,
    pub violation: PowerViolation,
    pub class: TargetClass,
    pub tree: &'a FsTree,
    pub ack: Option<&'a AckPoint>,
    pub before_ack: bool,
}

impl Explorer {
    /// The diagnosis of a tree a whole-tree checker rejected outside the simulation (a real
    /// file system's), placed at `state`, a state of this model that leaves it: the state cut
    /// down to the fewest losses that leave the same tree (a loss that changes nothing is not
    /// blamed), then told as the simulation tells a `check-failed` state.
    pub fn diagnose_rejected(&self, state: &CrashState) -> Diagnosis {
        let tree = self.tree(state);
        let rejected = PowerViolation::CheckFailed;
        let mut same =
            |candidate: &CrashState| self.tree(candidate).same_content(&tree).then_some(rejected);
        let small = minimise(self, state, rejected, &mut same);
        let facts = Facts {
            state: &small,
            violation: rejected,
            class: TargetClass::Torn,
            tree: &tree,
            ack: None,
            before_ack: true,
        };
        describe(self, &facts)
    }
}

/// Tells a (cut down) violating state in one or two sentences.
pub(crate) fn describe(explorer: &Explorer, facts: &Facts<'_>) -> Diagnosis {
    if facts.violation == PowerViolation::CheckFailed {
        return describe_tree(explorer, facts);
    }
    if let Some(diagnosis) = super::unit_story::describe(explorer, facts) {
        return diagnosis;
    }
    let plan = explorer.plan();
    let target = plan.target.as_str();
    let outcome = outcome(facts, target);
    let lost: Vec<&Step> = facts
        .state
        .dropped
        .iter()
        .map(|&s| &plan.steps[s])
        .collect();
    let publish_lost = lost.iter().find(|s| publishes(s, target));
    if let (Some(op), PowerViolation::AckedLost | PowerViolation::OldLost) =
        (publish_lost, facts.violation)
    {
        return name_lost(explorer, facts, op, &outcome);
    }
    if facts.state.dropped.is_empty() && facts.state.partial.is_none() {
        if let Some(diagnosis) = mid_update(explorer, facts, &outcome) {
            return diagnosis;
        }
    }
    let ino = match facts.tree.node(target) {
        Some(Node::File(ino)) => Some(*ino),
        Some(Node::Dir | Node::Symlink(_)) | None => None,
    };
    let hurt: Vec<&Step> = ino.map_or(Vec::new(), |ino| data_hurt(explorer, facts.state, ino));
    if let (Some(ino), false) = (ino, hurt.is_empty()) {
        return data_lost(explorer, facts, ino, &hurt, &outcome);
    }
    let mut what = seq_list(&facts.state.dropped);
    if let Some(p) = facts.state.partial {
        what = format!("{what} (#{} in part)", p.seq);
    }
    let text = format!(
        "after a power cut at e{} that lost {what}, {outcome}.",
        facts.state.events
    );
    finish(Pattern::Other, text)
}

/// A state the whole-tree checker rejected: which operations it lost or tore, and the fix for
/// the first of them that is a known pattern (the checker's own reason is the caller's).
fn describe_tree(explorer: &Explorer, facts: &Facts<'_>) -> Diagnosis {
    let plan = explorer.plan();
    let state = facts.state;
    let lost: Vec<&Step> = state.dropped.iter().map(|&s| &plan.steps[s]).collect();
    let mut parts: Vec<String> = lost.iter().map(|s| describe_step(s)).collect();
    if let Some(p) = state.partial {
        parts.push(format!(
            "{} after {} bytes (torn)",
            describe_step(&plan.steps[p.seq]),
            p.kept
        ));
    }
    let pattern = lost
        .iter()
        .filter(|step| !recreates_unlinked(&lost, step))
        .map(|step| lost_pattern(plan, state, step))
        .min_by_key(|p| FIXES.iter().position(|(known, _)| known == p))
        .unwrap_or(match state.partial {
            Some(_) => Pattern::InPlaceUpdate,
            None => Pattern::Other,
        });
    let text = match parts.is_empty() {
        true => format!(
            "the checker rejects the tree a crash right after e{} leaves, with nothing lost: the \
             writer's own steps leave a state it calls broken.",
            state.events
        ),
        false => format!(
            "after a power cut at e{} that lost {}, the checker rejects the tree.",
            state.events,
            lost_list(&parts)
        ),
    };
    finish(pattern, text)
}

/// The lost operations, in full when they are few; else how many, the first and the last three
/// (a real crash state can lose every directory operation since the last journal commit, and a
/// diagnosis is one or two sentences).
fn lost_list(parts: &[String]) -> String {
    const LISTED_MAX: usize = 6;
    match parts {
        [first, .., a, b, c] if parts.len() > LISTED_MAX => format!(
            "{} operations (the first {first}; the last three {a}, {b}, {c})",
            parts.len()
        ),
        _ => parts.join(", "),
    }
}

/// Whether `step` creates (or links) a name whose earlier unlink was lost too: losing it only
/// leaves the old file there, which the lost unlink brought back; the unlink is the cause.
fn recreates_unlinked(lost: &[&Step], step: &Step) -> bool {
    let StepKind::Dir(DirOp::Create { path, .. } | DirOp::Link { path, .. }) = &step.kind else {
        return false;
    };
    lost.iter().any(|earlier| {
        earlier.seq < step.seq
            && matches!(&earlier.kind, StepKind::Dir(DirOp::Unlink { path: gone }) if gone == path)
    })
}

/// The pattern a lost operation stands for in a whole-tree state.
fn lost_pattern(plan: &super::plan::Plan, state: &CrashState, step: &Step) -> Pattern {
    match &step.kind {
        StepKind::Dir(DirOp::Unlink { .. } | DirOp::Rmdir { .. }) => Pattern::UnlinkNotDurable,
        StepKind::Dir(DirOp::Rename { .. }) => Pattern::NameNotDurable,
        StepKind::Dir(DirOp::Link { .. } | DirOp::Create { .. } | DirOp::Symlink { .. })
        | StepKind::Dir(DirOp::Mkdir { .. }) => Pattern::NewNameNotDurable,
        StepKind::Write { .. } | StepKind::Resize { .. } => {
            let ino = step.kind.data_ino();
            let renamed_later = plan.steps[step.seq..state.events].iter().any(|s| {
                !state.is_dropped(s.seq)
                    && matches!(&s.kind, StepKind::Dir(DirOp::Rename { node: Node::File(i), .. }) if Some(*i) == ino)
            });
            match renamed_later {
                true => Pattern::RenameBeforeData,
                false => Pattern::DataNotDurable,
            }
        }
        StepKind::NewInode { .. }
        | StepKind::Barrier(_)
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => Pattern::Other,
    }
}

/// Nothing was lost: the crash came between two steps of an update that is not atomic.
fn mid_update(explorer: &Explorer, facts: &Facts<'_>, outcome: &str) -> Option<Diagnosis> {
    let plan = explorer.plan();
    let target_ino = match facts.tree.node(&plan.target) {
        Some(Node::File(ino)) => Some(*ino),
        Some(Node::Dir | Node::Symlink(_)) | None => None,
    };
    let last = plan.steps[..facts.state.events].iter().rev().find(|s| {
        (target_ino.is_some() && s.kind.data_ino() == target_ino) || unlinks(s, &plan.target)
    })?;
    let pattern = if unlinks(last, &plan.target) {
        Pattern::UnlinkBeforeReplace
    } else {
        Pattern::InPlaceUpdate
    };
    let text = format!(
        "the crash came right after {}, before the update was complete: {outcome}.",
        describe_step(last)
    );
    Some(finish(pattern, text))
}

fn unlinks(step: &Step, target: &str) -> bool {
    matches!(&step.kind, StepKind::Dir(DirOp::Unlink { path }) if path == target)
}

fn finish(pattern: Pattern, text: String) -> Diagnosis {
    Diagnosis {
        pattern,
        text: format!("{text} Fix: {}.", fix(pattern)),
    }
}

fn outcome(facts: &Facts<'_>, target: &str) -> String {
    match (facts.class, facts.tree.node(target)) {
        (TargetClass::Absent, _) => format!("`{target}` is gone"),
        (TargetClass::Old, _) => "the old version is back".to_owned(),
        (TargetClass::New, _) => format!("`{target}` is the new version"),
        (TargetClass::Torn, Some(Node::File(ino))) => {
            let len = facts.tree.inode(*ino).map_or(0, |i| i.data().len());
            if len == 0 {
                format!("`{target}` is 0 bytes")
            } else {
                format!("`{target}` holds {len} bytes that are neither the old nor the new version")
            }
        }
        (TargetClass::Torn, _) => format!("`{target}` is not a regular file"),
    }
}

/// The step is a directory operation that puts something at the target.
pub(crate) fn publishes(step: &Step, target: &str) -> bool {
    match &step.kind {
        StepKind::Dir(DirOp::Rename { to, .. }) => to == target,
        StepKind::Dir(
            DirOp::Link { path, .. } | DirOp::Create { path, .. } | DirOp::Symlink { path, .. },
        ) => path == target,
        StepKind::Dir(DirOp::Mkdir { .. } | DirOp::Unlink { .. } | DirOp::Rmdir { .. })
        | StepKind::Write { .. }
        | StepKind::Resize { .. }
        | StepKind::NewInode { .. }
        | StepKind::Barrier(_)
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => false,
    }
}

pub(crate) fn describe_step(step: &Step) -> String {
    match &step.kind {
        StepKind::Dir(DirOp::Rename { from, to, .. }) => {
            format!("the {} at #{} (`{from}` → `{to}`)", step.syscall, step.seq)
        }
        StepKind::Dir(DirOp::Link { path, .. }) => {
            format!("the {} at #{} (to `{path}`)", step.syscall, step.seq)
        }
        StepKind::Dir(_)
        | StepKind::Write { .. }
        | StepKind::Resize { .. }
        | StepKind::NewInode { .. }
        | StepKind::Barrier(_)
        | StepKind::Nothing
        | StepKind::Unmodelled { .. } => {
            format!("the {} of `{}` at #{}", step.syscall, step.path, step.seq)
        }
    }
}

fn name_lost(explorer: &Explorer, facts: &Facts<'_>, op: &Step, outcome: &str) -> Diagnosis {
    let plan = explorer.plan();
    let unlinked = plan.steps[..op.seq]
        .iter()
        .rev()
        .find(|s| unlinks(s, &plan.target) && !facts.state.is_dropped(s.seq));
    let op_text = describe_step(op);
    if let (Some(unlink), PowerViolation::OldLost) = (unlinked, facts.violation) {
        let text = format!(
            "{} reached the disk but {op_text} did not: {outcome}.",
            describe_step(unlink)
        );
        return finish(Pattern::UnlinkBeforeReplace, text);
    }
    let text = match (facts.ack, facts.before_ack) {
        (Some(ack), false) => format!(
            "the writer {} (acknowledged) but {op_text} was never made durable: after a power cut {outcome}.",
            ack.said
        ),
        (Some(_) | None, _) => {
            format!("{op_text} was never made durable: after a power cut {outcome}.")
        }
    };
    let pattern = if matches!(op.kind, StepKind::Dir(DirOp::Rename { .. })) {
        Pattern::NameNotDurable
    } else {
        Pattern::NewNameNotDurable
    };
    finish(pattern, text)
}

/// Writes and size changes of `ino` lost or torn in `state`.
fn data_hurt<'p>(explorer: &'p Explorer, state: &CrashState, ino: Ino) -> Vec<&'p Step> {
    let plan = explorer.plan();
    let torn = state.partial.map(|p| p.seq);
    plan.steps[..state.events]
        .iter()
        .filter(|s| {
            s.kind.data_ino() == Some(ino) && (state.is_dropped(s.seq) || torn == Some(s.seq))
        })
        .collect()
}

fn data_lost(
    explorer: &Explorer,
    facts: &Facts<'_>,
    ino: Ino,
    hurt: &[&Step],
    outcome: &str,
) -> Diagnosis {
    let plan = explorer.plan();
    let first_hurt = hurt.first().map_or(0, |s| s.seq);
    let publisher = plan.steps[first_hurt..facts.state.events].iter().find(|s| {
        let names_ino = matches!(&s.kind, StepKind::Dir(DirOp::Rename { node, .. }) if *node == Node::File(ino))
            || matches!(&s.kind, StepKind::Dir(DirOp::Link { ino: linked, .. }) if *linked == ino);
        !facts.state.is_dropped(s.seq) && names_ino && publishes(s, &plan.target)
    });
    let seqs: Vec<usize> = hurt.iter().map(|s| s.seq).collect();
    let noun = writes_noun(hurt);
    let path = display_path(&hurt[0].path);
    if let Some(op) = publisher {
        let text = format!(
            "{} reached the disk but the {noun} to {path} at {} did not: {outcome}.",
            describe_step(op),
            seq_list(&seqs)
        );
        return finish(Pattern::RenameBeforeData, text);
    }
    if let (Some(ack), false) = (facts.ack, facts.before_ack) {
        let text = format!(
            "the writer {} (acknowledged) but the {noun} to {path} at {} never became durable: {outcome}.",
            ack.said,
            seq_list(&seqs)
        );
        return finish(Pattern::DataNotDurable, text);
    }
    finish(
        Pattern::InPlaceUpdate,
        in_place_text(explorer, facts, hurt, outcome),
    )
}

/// `` `name` ``, or what an `O_TMPFILE` inode (`#<ino>`) is.
fn display_path(path: &str) -> String {
    if path.starts_with('#') {
        "the unnamed O_TMPFILE file".to_owned()
    } else {
        format!("`{path}`")
    }
}

fn writes_noun(hurt: &[&Step]) -> &'static str {
    let resize = hurt
        .iter()
        .all(|s| matches!(s.kind, StepKind::Resize { .. }));
    match (resize, hurt.len()) {
        (true, 1) => "size change",
        (true, _) => "size changes",
        (false, 1) => "write",
        (false, _) => "writes",
    }
}

fn in_place_text(explorer: &Explorer, facts: &Facts<'_>, hurt: &[&Step], outcome: &str) -> String {
    let plan = explorer.plan();
    let path = display_path(&hurt[0].path);
    match facts.state.partial {
        Some(p) if p.seq + 1 == facts.state.events && facts.state.dropped.is_empty() => {
            let len = plan.steps[p.seq].kind.write_len().unwrap_or(0);
            format!(
                "the crash came inside the {} at #{} to {path} after {} of {len} bytes: {outcome}.",
                plan.steps[p.seq].syscall, p.seq, p.kept
            )
        }
        Some(_) | None => {
            let seqs: Vec<usize> = hurt.iter().map(|s| s.seq).collect();
            let kept = plan.steps[..facts.state.events]
                .iter()
                .rev()
                .find(|s| s.kind.data_ino() == hurt[0].kind.data_ino() && !seqs.contains(&s.seq));
            let lost = format!(
                "the {} to {path} at {} did not",
                writes_noun(hurt),
                seq_list(&seqs)
            );
            match kept {
                Some(step) => format!(
                    "{} reached the disk but {lost}: {outcome}.",
                    describe_step(step)
                ),
                None => format!("{lost} reach the disk: {outcome}."),
            }
        }
    }
}

/// `#5–#9, #12`.
pub fn seq_list(seqs: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < seqs.len() {
        let mut j = i;
        while j + 1 < seqs.len() && seqs[j + 1] == seqs[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("#{}–#{}", seqs[i], seqs[j])
        } else {
            format!("#{}", seqs[i])
        });
        i = j + 1;
    }
    if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}
