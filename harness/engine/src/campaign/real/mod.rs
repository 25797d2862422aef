//! Real file systems as ground truth for the power-loss model (`torture power --real`).
//!
//! Per file-system configuration a clone store is made ([`crate::realfs::CloneStore`]: an xfs
//! on a loop device over a sparse file in `--dir`, default `/dev/shm`), and per subject one
//! loop-mounted scratch file system with its image on the store. A generation-1 run makes the
//! old version, a traced golden run the new version and the trace. Then, for each crash point k
//! (all events, or a seeded sample), a fresh sandbox is seeded with the old version made durable
//! (`syncfs`), the writer is started with `hold@SYSCALL#k` (held at the entry of event k, after
//! events 0..k-1 completed), the image is cloned while the writer is held ([`ImageSnapshot`]: one
//! `FICLONE`, atomic, O(extents)), and the writer is resumed to its end; the clone is mounted and
//! read on a thread of its own while the next crash point's writer runs (a clone is frozen);
//! under `--check` it is mounted once, in line, and read, recovered and checked in that mount.
//! After every subject, one more sandbox per subject runs to its exit, and the image is copied
//! at once (`+0ms`) and then at doubling intervals up to `--settle-ms` (ext4 commits every 5 s,
//! dirty data expires after 30 s): the states after the acknowledgement.
//!
//! Each copy is mounted beside the original (its journal replays, as after a reboot), only that
//! run's sandbox is read back, and it is judged twice:
//! - by the oracle (`absent`/`old`/`new`/`torn` and the violations of
//!   [`torture_core::power::verdict_rule`]): the *real* verdict;
//! - by the model check: some crash state `e{k}:...` that the `linux` model allows on this run's
//!   own trace must leave exactly this tree ([`Explorer::states_at`]). A tree outside the model is
//!   a model bug: reported, the copy and the trace kept, a replay line printed, the run fails.
//!
//! Each crash point costs one writer run: the cost is reported (`Timing`).

mod check;
mod probe;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::loopfs::{FsKind, LoopError};
#[cfg(doc)]
use crate::realfs::ImageSnapshot;
use torture_core::power::{Assume, CrashState, PowerViolation, Reach, RuleId, TargetClass};

use super::error::CampaignError;
use super::subject::Subject;
use crate::tracer::TraceError;

pub use check::real_tree;

/// A file-system configuration the check runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealFs {
    /// ext4 as mounted by default (`data=ordered`, `auto_da_alloc`).
    Ext4,
    /// ext4 mounted with `noauto_da_alloc`: no flush of data before a replacing rename.
    Ext4NoAutoDaAlloc,
    /// xfs (copies mount with `nouuid`).
    Xfs,
    /// btrfs (copies mount with a temporary fsid, Linux 6.7+).
    Btrfs,
}

impl RealFs {
    /// Every configuration, in table order.
    pub const ALL: [RealFs; 4] = [
        RealFs::Ext4,
        RealFs::Ext4NoAutoDaAlloc,
        RealFs::Xfs,
        RealFs::Btrfs,
    ];

    /// `ext4`, `ext4-noauto_da_alloc`, `xfs`, `btrfs`.
    pub const fn name(self) -> &'static str {
        match self {
            RealFs::Ext4 => "ext4",
            RealFs::Ext4NoAutoDaAlloc => "ext4-noauto_da_alloc",
            RealFs::Xfs => "xfs",
            RealFs::Btrfs => "btrfs",
        }
    }

    /// The file system made.
    pub const fn kind(self) -> FsKind {
        match self {
            RealFs::Ext4 | RealFs::Ext4NoAutoDaAlloc => FsKind::Ext4,
            RealFs::Xfs => FsKind::Xfs,
            RealFs::Btrfs => FsKind::Btrfs,
        }
    }

    /// Mount options of the original.
    pub const fn mount_options(self) -> Option<&'static str> {
        match self {
            RealFs::Ext4NoAutoDaAlloc => Some("noauto_da_alloc"),
            RealFs::Ext4 | RealFs::Xfs | RealFs::Btrfs => None,
        }
    }

    /// The persistence model of this file system: the one its real states are checked against.
    /// Both ext4 configurations use `ext4`, which does not lean on `auto_da_alloc`.
    pub const fn model(self) -> torture_core::power::Model {
        match self {
            RealFs::Ext4 | RealFs::Ext4NoAutoDaAlloc => torture_core::power::Model::Ext4,
            RealFs::Xfs => torture_core::power::Model::Xfs,
            RealFs::Btrfs => torture_core::power::Model::Btrfs,
        }
    }

    /// Image size: xfs refuses less than 300 MiB, btrfs less than about 110 MiB (sparse: only
    /// what mkfs writes is allocated and copied).
    pub const fn image_mib(self) -> u64 {
        match self {
            RealFs::Ext4 | RealFs::Ext4NoAutoDaAlloc => 32,
            RealFs::Xfs => 300,
            RealFs::Btrfs => 128,
        }
    }
}

impl fmt::Display for RealFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RealFs {
    type Err = String;

    fn from_str(text: &str) -> Result<RealFs, String> {
        RealFs::ALL
            .into_iter()
            .find(|fs| fs.name() == text.trim())
            .ok_or_else(|| {
                format!(
                    "unknown file system `{text}` (expected ext4, ext4-noauto_da_alloc, xfs or btrfs)"
                )
            })
    }
}

/// Which crash points (held events) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoints {
    /// Every event of the golden trace.
    All,
    /// At most this many, drawn with the seed (the first and last always among them).
    Sample { count: usize },
    /// Exactly one: `e{k}` held, or `e{N}` (after exit) when k is the event count (replay).
    One { events: usize },
}

/// Options of one configuration's check.
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// The configuration.
    pub fs: RealFs,
    /// More mount options for the original (`--mount-options`).
    pub mount_options: Option<String>,
    /// Which crash points.
    pub crash_points: CrashPoints,
    /// Seeds the sample.
    pub seed: u64,
    /// After-exit snapshots stop here.
    pub settle_ms: u64,
    /// Where images and copies go (tmpfs keeps copies fast).
    pub scratch: PathBuf,
    /// Where the copy and trace of a model bug are kept.
    pub keep_dir: PathBuf,
    /// Per writer run.
    pub timeout_ms: u64,
    /// The model asked (a deliberately optimistic one in tests).
    pub assume: Assume,
    /// States built per crash point at most, for the model check.
    pub max_states: u64,
    /// Set by Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// `--target`, `--ack-line`, `--check`, `--setup`, `--recover`, `--initial`.
    pub tree: RealTreeOptions,
}

/// The options `power --real` shares with the simulation: what is written, how it starts, and
/// how a state is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealTreeOptions {
    /// The target, relative to each sandbox.
    pub target: PathBuf,
    /// `--ack-line REGEX` (every match counts in `$TORTURE_ACKS`).
    pub ack_line: Option<String>,
    /// `--check CMD`: judges each real tree on the mounted copy (its exit the verdict).
    pub check: Option<String>,
    /// `--setup CMD`: the starting tree of every run.
    pub setup: Option<String>,
    /// `--recover CMD`: runs on the mounted copy before `--check`.
    pub recover: Option<String>,
    /// `--initial absent`: no old version (without `--setup`).
    pub initial_absent: bool,
}

impl Default for RealTreeOptions {
    fn default() -> RealTreeOptions {
        RealTreeOptions {
            target: PathBuf::from(super::DEFAULT_TARGET),
            ack_line: None,
            check: None,
            setup: None,
            recover: None,
            initial_absent: false,
        }
    }
}

/// Where a real state was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RealPoint {
    /// The writer held before event `events`: crash point `e{events}`, before its exit.
    Held { events: usize },
    /// After the writer exited (crash point `e{events}`, all its events), `settle_ms` later
    /// (the time the copy was taken; `0`: at once).
    AfterExit { events: usize, settle_ms: u64 },
}

impl RealPoint {
    /// The crash point of the model.
    pub fn events(self) -> usize {
        match self {
            RealPoint::Held { events } | RealPoint::AfterExit { events, .. } => events,
        }
    }

    /// Whether the writer had acknowledged (exited 0) when the copy was taken.
    pub fn after_ack(self) -> bool {
        match self {
            RealPoint::Held { .. } => false,
            RealPoint::AfterExit { .. } => true,
        }
    }
}

impl fmt::Display for RealPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealPoint::Held { events } => write!(f, "e{events}"),
            RealPoint::AfterExit { events, settle_ms } => write!(f, "e{events}+{settle_ms}ms"),
        }
    }
}

/// A real state outside the model: everything needed to look at it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelBug {
    /// The kept image copy.
    pub snapshot: PathBuf,
    /// The run's trace.
    pub trace: PathBuf,
    /// What the sandbox held, one line per name.
    pub tree: String,
    /// Re-runs just this crash point.
    pub replay: String,
}

/// One real state, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealState {
    /// Where it was taken.
    pub point: RealPoint,
    /// What the target was.
    pub class: TargetClass,
    /// The oracle's violation, if any.
    pub violation: Option<PowerViolation>,
    /// Whether the model leaves this tree.
    pub reach: Reach,
    /// Names other than the target.
    pub leftovers: Vec<String>,
    /// Set when the tree is outside the model.
    pub model_bug: Option<ModelBug>,
    /// Under `--check`: the checker's first line when it rejected the tree.
    pub reason: Option<String>,
    /// Under `--check`, a rejected tree the model places: the simulation's diagnosis of the
    /// state it is (ending `Fix: ...`), as a simulated `check-failed` state gets.
    pub diagnosis: Option<String>,
}

/// What the model says of the golden trace (the simulation's verdict).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelVerdict {
    /// Distinct violating states the simulation found.
    pub violating_states: u64,
    /// Its first diagnosis.
    pub diagnosis: Option<String>,
    /// The simulated target classes seen (distinct states).
    pub classes: Vec<TargetClass>,
}

/// Model states seen for real.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RealCoverage {
    /// Distinct trees the model allows at the crash points that ran (summed over points).
    pub model_distinct: u64,
    /// Distinct real trees inside the model (summed over points).
    pub seen_distinct: u64,
    /// The rules the matched states lean on.
    pub rules: Vec<RuleId>,
    /// Crash points with more states than the limit (the check says "unknown" there).
    pub incomplete_points: u64,
}

/// One subject on one configuration.
#[derive(Debug, Clone)]
pub struct RealSubject {
    /// The report name.
    pub label: String,
    /// Every real state, in order of crash point.
    pub states: Vec<RealState>,
    /// The simulation's verdict on the golden trace.
    pub model: ModelVerdict,
    /// Model states seen for real.
    pub coverage: RealCoverage,
    /// Crash points that could not be held (the writer took another path), with why.
    pub skipped: Vec<String>,
}

impl RealSubject {
    /// The first real violation, if any.
    pub fn first_violation(&self) -> Option<&RealState> {
        self.states.iter().find(|s| s.violation.is_some())
    }

    /// Real states outside the model.
    pub fn model_bugs(&self) -> impl Iterator<Item = &RealState> {
        self.states.iter().filter(|s| s.model_bug.is_some())
    }
}

/// Where the time went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// Making the file system.
    pub setup_ms: u64,
    /// Seeding sandboxes (write, syncfs).
    pub seed_ms: u64,
    /// Writer runs (traced, held, resumed).
    pub runs_ms: u64,
    /// Copying the image.
    pub copy_ms: u64,
    /// Mounting copies, reading the sandbox, unmounting.
    pub mount_ms: u64,
    /// The model check and the simulation.
    pub model_ms: u64,
    /// Waiting for after-exit snapshot times.
    pub settle_ms: u64,
    /// Everything.
    pub total_ms: u64,
}

/// One configuration's result.
#[derive(Debug, Clone)]
pub struct RealRun {
    /// The configuration.
    pub fs: RealFs,
    /// The original's mount options, as used.
    pub mount_options: Option<String>,
    /// Per subject.
    pub subjects: Vec<RealSubject>,
    /// Real states judged.
    pub states: u64,
    /// Where the time went.
    pub timing: Timing,
    /// Image copies taken.
    pub copies: u64,
    /// Of those, reflink clones (all of them unless the clone store lacks reflinks).
    pub cloned_copies: u64,
    /// Set when Ctrl-C stopped the run early.
    pub interrupted: bool,
}

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum RealError {
    /// Not root.
    #[error(
        "power --real needs root (to attach loop devices and mount file systems); run it as root, or use `torture power` for the simulation, which needs neither"
    )]
    NeedsRoot,
    /// A scratch file system, snapshot or tool failed.
    #[error(transparent)]
    Loop(#[from] LoopError),
    /// A subject could not be prepared or its golden run failed.
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    /// The tracer failed.
    #[error("{subject}: {source}")]
    Trace { subject: String, source: TraceError },
    /// A writer did not do what its golden run did, or left what cannot be modelled.
    #[error("{subject}: {what}")]
    Writer { subject: String, what: String },
    /// A file operation failed.
    #[error("cannot {what} {}: {source}", .path.display())]
    Io {
        what: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RealError {
    fn io(what: &str, path: &Path, source: std::io::Error) -> RealError {
        RealError::Io {
            what: what.to_owned(),
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Something to say while the check runs: one line per state.
pub type OnState<'a> = dyn FnMut(&str, &RealState) + 'a;

/// Runs the check of `subjects` on one configuration. Needs root.
pub fn run(
    subjects: &[Subject],
    options: &RealOptions,
    on_state: &mut OnState<'_>,
) -> Result<RealRun, RealError> {
    if !rustix::process::geteuid().is_root() {
        return Err(RealError::NeedsRoot);
    }
    // The clone store that holds the images is an xfs.
    crate::loopfs::check_tools(&[options.fs.kind(), FsKind::Xfs])?;
    probe::run_all(subjects, options, on_state)
}

/// The crash state a real tree matched, for reports: `e7:d5-6`.
pub fn matched_state(reach: &Reach) -> Option<&CrashState> {
    match reach {
        Reach::Inside { state } => Some(state),
        Reach::Outside | Reach::Unknown { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_parse_and_print() {
        for fs in RealFs::ALL {
            assert_eq!(fs.name().parse::<RealFs>(), Ok(fs));
        }
        assert!("zfs".parse::<RealFs>().unwrap_err().contains("xfs"));
        assert_eq!(RealFs::Ext4NoAutoDaAlloc.kind(), FsKind::Ext4);
        assert_eq!(
            RealFs::Ext4NoAutoDaAlloc.mount_options(),
            Some("noauto_da_alloc")
        );
        let after = RealPoint::AfterExit {
            events: 9,
            settle_ms: 500,
        };
        assert_eq!(after.to_string(), "e9+500ms");
        assert!(after.after_ack() && !RealPoint::Held { events: 3 }.after_ack());
    }

    #[test]
    fn without_root_the_error_names_root_and_the_simulation() {
        let text = RealError::NeedsRoot.to_string();
        assert!(
            text.contains("root") && text.contains("torture power"),
            "{text}"
        );
    }

    #[test]
    fn samples_keep_the_ends_and_settle_times_double() {
        assert_eq!(probe::select_points(3, CrashPoints::All, 1), vec![0, 1, 2]);
        let sample = probe::select_points(50, CrashPoints::Sample { count: 5 }, 7);
        assert_eq!(sample.len(), 5);
        assert!(sample.contains(&0) && sample.contains(&49));
        assert_eq!(
            probe::select_points(50, CrashPoints::One { events: 50 }, 1),
            Vec::<usize>::new()
        );
        assert_eq!(probe::settle_schedule(0), vec![0]);
        assert_eq!(probe::settle_schedule(3000), vec![0, 500, 1000, 2000, 3000]);
    }
}
