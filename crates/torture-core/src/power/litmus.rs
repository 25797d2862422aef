//! Litmus tests (Ferrite, Bornholt et al., ASPLOS'16, `uwplse/ferrite` `rosette/litmus/`) and
//! canonical writers.
//!
//! Ferrite's programs are compared as whole outcome sets: for each program and each of
//! Ferrite's models that runs it (SeqFS, AdvFS, ext4), Ferrite's set of final disk states beside
//! the exact set of `process`, `weak` and `ext4`, every outcome only ours reaches named with its
//! reason (the table is in the `power` module documentation).

use std::collections::BTreeSet;

use super::testkit::Writer;
use super::*;
use crate::oracle::TargetState;
use crate::trace::Trace;

/// Every combination of the given files' contents (`None`: absent) a model reaches.
fn outcomes(trace: &Trace, model: Model, files: &[&str]) -> BTreeSet<Vec<Option<Vec<u8>>>> {
    let options = PowerOptions {
        model,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(trace, options).unwrap();
    let mut seen = BTreeSet::new();
    explorer.for_each_state(&mut |state| {
        let tree = explorer
            .replay(state)
            .expect("the explorer builds legal states");
        let contents = files
            .iter()
            .map(|f| match tree.target_state(f) {
                TargetState::Regular(bytes) => Some(bytes),
                TargetState::Absent | TargetState::NotRegular(_) => None,
            })
            .collect();
        seen.insert(contents);
    });
    seen
}

/// Setup: file `0` holds `a`, durable. Test: create `1`, write `bb`, (fsync), rename `1` → `0`.
fn replace(fsync: bool) -> Trace {
    let mut w = Writer::new("0", Some(b"a"));
    w.create("1");
    w.write("1", 0, b"bb");
    if fsync {
        w.fsync("1");
    }
    w.rename("1", "0");
    w.exit()
}

/// Create `0`, write `bb`, (fsync), rename `0` → `1`. Allowed: `1` absent or `bb`.
fn create_rename(fsync: bool) -> Trace {
    let mut w = Writer::new("1", None);
    w.create("0");
    w.write("0", 0, b"bb");
    if fsync {
        w.fsync("0");
    }
    w.rename("0", "1");
    w.exit()
}

/// Create `0` and `1`, write `bb` to `0`, (fsync `0`), write `c` to `1`, fsync `1`.
fn two_appends(fsync: bool) -> Trace {
    let mut w = Writer::new("1", None);
    w.create("0");
    w.create("1");
    w.write("0", 0, b"bb");
    if fsync {
        w.fsync("0");
    }
    w.write("1", 0, b"c");
    w.fsync("1");
    w.exit()
}

// Canonical writers: what the explorer finds and how it explains it.

fn explore(trace: &Trace, model: Model) -> Exploration {
    let options = PowerOptions {
        model,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(trace, options).unwrap();
    let TargetState::Regular(new) = explorer.new_version() else {
        panic!("the writer leaves a regular file")
    };
    let old = explorer.plan().old.clone();
    let ack = ack_point(&trace.header, AckSelect::Exit);
    let mut classify = exact_classifier(old.as_deref(), &new);
    explorer.explore(ack.as_ref(), &mut classify)
}

fn violations(found: &Exploration) -> BTreeSet<PowerViolation> {
    found.findings.iter().map(|f| f.violation).collect()
}

fn diagnosis(found: &Exploration, pattern: Pattern) -> &Finding {
    found
        .findings
        .iter()
        .find(|f| f.diagnosis.pattern == pattern)
        .unwrap_or_else(|| panic!("no {pattern:?} among {:#?}", found.findings))
}

const OLD: &[u8] = b"{\"version\": 1}";

fn new_bytes() -> Vec<u8> {
    (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn plain_in_place_tears_under_linux_and_process() {
    let new = new_bytes();
    let mut w = Writer::new("t.json", Some(OLD));
    w.open_trunc("t.json");
    w.write("t.json", 0, &new[..6000]);
    w.write("t.json", 6000, &new[6000..]);
    w.close("t.json");
    let trace = w.exit();
    for model in [Model::Ext4, Model::Process] {
        let found = explore(&trace, model);
        assert!(
            violations(&found).contains(&PowerViolation::Torn),
            "{model}"
        );
        let finding = diagnosis(&found, Pattern::InPlaceUpdate);
        assert!(
            finding
                .diagnosis
                .text
                .contains("Fix: never write the target in place"),
            "{}",
            finding.diagnosis.text
        );
    }
    let process = explore(&trace, Model::Process);
    assert!(process.exhaustive);
    assert!(
        process.states_checked >= 10_000,
        "every byte: {}",
        process.states_checked
    );
    let inside = diagnosis(&process, Pattern::InPlaceUpdate);
    assert!(
        inside
            .diagnosis
            .text
            .starts_with("the crash came right after the"),
        "{}",
        inside.diagnosis.text
    );
}

fn temp_rename(fsync_file: bool, fsync_dir: bool) -> Trace {
    let mut w = Writer::new("t.json", Some(OLD));
    let new = new_bytes();
    w.create(".t.json.tmp");
    w.write(".t.json.tmp", 0, &new[..4096]);
    w.write(".t.json.tmp", 4096, &new[4096..]);
    if fsync_file {
        w.fsync(".t.json.tmp");
    }
    w.close(".t.json.tmp");
    w.rename(".t.json.tmp", "t.json");
    if fsync_dir {
        w.fsync(".");
    }
    w.exit()
}

#[test]
fn temp_rename_without_fsync_loses_the_data_under_linux_only() {
    let trace = temp_rename(false, false);
    let found = explore(&trace, Model::Ext4);
    let torn = diagnosis(&found, Pattern::RenameBeforeData);
    assert_eq!(torn.violation, PowerViolation::Torn);
    let text = &torn.diagnosis.text;
    assert!(
        text.starts_with(
            "the rename at #4 (`.t.json.tmp` → `t.json`) reached the disk but the write"
        ) && text.ends_with("Fix: fsync the temp file before the rename."),
        "{text}"
    );
    // Losing both writes leaves an empty target, told the same way.
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let empty = explorer.replay(&"e5:d1-2".parse().unwrap()).unwrap();
    assert_eq!(empty.leftovers("t.json"), Vec::<String>::new());
    assert_eq!(
        empty.target_state("t.json"),
        TargetState::Regular(Vec::new())
    );
    let back = diagnosis(&found, Pattern::NameNotDurable);
    assert_eq!(back.violation, PowerViolation::AckedLost);
    assert!(!back.before_ack);
    assert_eq!(explore(&trace, Model::Process).violating_states, 0);
}

#[test]
fn temp_fsync_rename_without_dir_fsync_brings_the_old_version_back() {
    let found = explore(&temp_rename(true, false), Model::Ext4);
    assert_eq!(
        violations(&found),
        BTreeSet::from([PowerViolation::AckedLost])
    );
    let back = diagnosis(&found, Pattern::NameNotDurable);
    assert_eq!(
        back.diagnosis.text,
        "the writer exited 0 (acknowledged) but the rename at #5 (`.t.json.tmp` → `t.json`) was never made durable: after a power cut the old version is back. Fix: fsync the directory after the rename."
    );
    assert_eq!(back.state.to_string(), "e6:d5");
    assert_eq!(back.leftovers, vec![".t.json.tmp".to_owned()]);
}

#[test]
fn the_durable_replace_passes_linux_and_weak_over_reports() {
    let trace = temp_rename(true, true);
    let linux = explore(&trace, Model::Ext4);
    assert_eq!(linux.violating_states, 0, "{:#?}", linux.findings);
    assert!(linux.exhaustive && linux.distinct_states > 3);
    assert_eq!(explore(&trace, Model::Process).violating_states, 0);
    // ALICE's three-step rename can leave neither name before the directory fsync.
    assert!(violations(&explore(&trace, Model::Weak)).contains(&PowerViolation::OldLost));
}

fn tmpfile_link(fsync_file: bool, fsync_dir: bool) -> Trace {
    let mut w = Writer::new("t.json", None);
    let anon = w.tmpfile();
    w.write(&anon, 0, &new_bytes());
    if fsync_file {
        w.fsync(&anon);
    }
    w.link(&anon, "t.json");
    if fsync_dir {
        w.fsync(".");
    }
    w.close(&anon);
    w.exit()
}

#[test]
fn tmpfile_and_linkat_behave_like_temp_and_rename() {
    assert_eq!(
        explore(&tmpfile_link(true, true), Model::Ext4).violating_states,
        0
    );
    let no_dir = explore(&tmpfile_link(true, false), Model::Ext4);
    assert_eq!(
        violations(&no_dir),
        BTreeSet::from([PowerViolation::AckedLost])
    );
    let finding = diagnosis(&no_dir, Pattern::NewNameNotDurable);
    assert!(
        finding
            .diagnosis
            .text
            .contains("the linkat at #3 (to `t.json`)"),
        "{}",
        finding.diagnosis.text
    );
    assert!(
        finding
            .diagnosis
            .text
            .ends_with("Fix: fsync the directory after creating or linking the file.")
    );
    let no_fsync = explore(&tmpfile_link(false, true), Model::Ext4);
    let torn = diagnosis(&no_fsync, Pattern::RenameBeforeData);
    assert!(
        torn.diagnosis
            .text
            .contains("the write to the unnamed O_TMPFILE file at #1 did not"),
        "{}",
        torn.diagnosis.text
    );
}

#[test]
fn synchronous_writes_and_sync_are_barriers() {
    let mut w = Writer::new("t.json", None);
    w.create("t.json");
    w.fsync(".");
    w.write_sync("t.json", 0, b"data", crate::trace::WriteSync::Full);
    w.write("t.json", 4, b"more");
    w.sync();
    let trace = w.exit();
    let options = PowerOptions {
        model: Model::Btrfs,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(&trace, options).unwrap();
    for legal in ["e3:f2@0", "e4:d3", "e4:f3@0"] {
        explorer
            .check(&legal.parse().unwrap())
            .unwrap_or_else(|e| panic!("{legal}: {e}"));
    }
    // A completed O_SYNC write, and everything before a sync, cannot be lost.
    for illegal in ["e4:d2", "e3:d0", "e5:d3", "e5:f3@0"] {
        assert!(
            explorer.check(&illegal.parse().unwrap()).is_err(),
            "{illegal}"
        );
    }
    let found = explore(&trace, Model::Ext4);
    assert!(
        found.findings.iter().all(|f| f.before_ack),
        "{:#?}",
        found.findings
    );
}

/// A new file written, fsynced, renamed into place and fsynced again; the directory never.
fn fsync_without_dir_fsync() -> Trace {
    let mut w = Writer::new("t.json", None);
    w.create("t.tmp");
    w.write("t.tmp", 0, b"data");
    w.fsync("t.tmp");
    w.rename("t.tmp", "t.json");
    w.fdatasync("t.json");
    w.exit()
}

#[test]
fn fsync_of_a_new_file_persists_its_name_on_linux_file_systems_not_under_posix() {
    let trace = fsync_without_dir_fsync();
    for model in Model::DEFAULT_SET {
        let found = explore(&trace, model);
        assert_eq!(found.violating_states, 0, "{model}: {:#?}", found.findings);
    }
    let found = explore(&trace, Model::Posix);
    let finding = diagnosis(&found, Pattern::NameNotDurable);
    assert_eq!(finding.class, TargetClass::Absent);
    assert!(!finding.before_ack);
}

#[test]
fn unlinking_before_the_replacement_is_durable_loses_the_old_version() {
    let mut w = Writer::new("t.json", Some(OLD));
    w.create("n");
    w.write("n", 0, b"new");
    w.fsync("n");
    w.unlink("t.json");
    w.rename("n", "t.json");
    let found = explore(&w.exit(), Model::Ext4);
    let finding = diagnosis(&found, Pattern::UnlinkBeforeReplace);
    assert_eq!(finding.violation, PowerViolation::OldLost);
    let ids: Vec<String> = found.findings.iter().map(|f| f.state.to_string()).collect();
    assert!(
        ids.contains(&"e4".to_owned()) && ids.contains(&"e5:d4".to_owned()),
        "{ids:?}"
    );
    // Losing the unlink too brings the old version back: the rename was not durable.
    let both = found
        .findings
        .iter()
        .find(|f| f.state.to_string() == "e5:d3-4")
        .unwrap();
    assert_eq!(both.diagnosis.pattern, Pattern::NameNotDurable);
}

#[test]
fn replayed_states_materialise_byte_for_byte() {
    let trace = temp_rename(false, false);
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let state: CrashState = "e5:d1-2".parse().unwrap();
    let tree = explorer.replay(&state).unwrap();
    let dir = std::env::temp_dir().join(format!("power-materialise-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    materialize(&tree, &dir).unwrap();
    assert_eq!(std::fs::read(dir.join("t.json")).unwrap(), b"");
    assert!(!dir.join(".t.json.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    // A state the model does not allow is refused with the rule.
    let err = explorer.replay(&"e5:d3".parse().unwrap()).unwrap_err();
    assert!(err.to_string().contains("#3 cannot be lost"), "{err}");
    let err = explorer.replay(&"e3:t1@7".parse().unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("cannot reach the disk as 7 bytes"),
        "{err}"
    );
}

#[test]
fn a_stdout_line_can_be_the_acknowledgement() {
    let mut w = Writer::new("t.json", Some(OLD));
    w.create("n");
    w.write("n", 0, b"new");
    w.fsync("n");
    w.rename("n", "t.json");
    w.say("committed");
    w.fsync(".");
    w.create("log");
    w.truncate("log", 100);
    let trace = w.exit();
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let committed = |line: &str| line == "committed";
    let ack = ack_point(&trace.header, AckSelect::FirstLine(&committed)).unwrap();
    assert_eq!(ack.events_before, 4);
    let mut classify = exact_classifier(Some(OLD), b"new");
    let found = explorer.explore(Some(&ack), &mut classify);
    let finding = diagnosis(&found, Pattern::NameNotDurable);
    assert!(
        finding
            .diagnosis
            .text
            .starts_with("the writer printed \"committed\" (acknowledged) but the rename at #3")
    );
    // Acknowledged at exit instead, the directory fsync came first: nothing to report.
    let exit = ack_point(&trace.header, AckSelect::Exit).unwrap();
    assert_eq!(
        explorer
            .explore(Some(&exit), &mut classify)
            .violating_states,
        0
    );
}

#[test]
fn lost_writes_stay_losable_after_a_later_fsync() {
    // The durable replace: create #0, writes #1 #2, fsync #3, close, rename, fsync(dir).
    let trace = temp_rename(true, true);
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    assert!(explorer.check(&"e7:d1".parse().unwrap()).is_err());
    // fsyncgate: the fsync at #3 "succeeded" after an earlier failed one dropped #1 and #2.
    let options = PowerOptions {
        lost_writes: BTreeSet::from([1, 2]),
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(&trace, options).unwrap();
    let state = "e7:d1".parse().unwrap();
    explorer
        .check(&state)
        .expect("a lost write may be dropped after the fsync");
    let mut zeros = vec![0u8; 4096];
    zeros.extend_from_slice(&new_bytes()[4096..]);
    assert_eq!(
        explorer.replay(&state).unwrap().target_state("t.json"),
        TargetState::Regular(zeros)
    );
    let TargetState::Regular(new) = explorer.new_version() else {
        panic!("a file")
    };
    let ack = ack_point(&trace.header, AckSelect::Exit);
    let mut classify = exact_classifier(Some(OLD), &new);
    let found = explorer.explore(ack.as_ref(), &mut classify);
    assert!(found.violating_states > 0);
    assert!(violations(&found).contains(&PowerViolation::Torn));
}

/// One file's content in an outcome (`None`: absent).
type File = Option<&'static [u8]>;

const GONE: File = None;
const EMPTY: File = Some(b"");

fn outcome(files: &[File]) -> Vec<Option<Vec<u8>>> {
    files.iter().map(|f| f.map(<[u8]>::to_vec)).collect()
}

/// Why our model reaches an outcome Ferrite's does not.
const BYTE: &str = "process: SIGKILL can stop a write after any byte; Ferrite's writes are atomic";
const UNSYNCED: &str = "weak: unsynced data may reach the disk; AdvFS writes data only at fsync";
const ZEROS: &str =
    "weak: a growing write's size may land before its data (zeros); AdvFS has no size without data";
const RENAME3: &str = "weak: a rename is three steps (ALICE), so a crash can drop the destination; AdvFS's rename is atomic";
const NAMES: &str = "weak: fsync of a file does not persist its name (POSIX); AdvFS's fsync is a barrier for every earlier operation";

/// One Ferrite litmus program under one of its models, beside one of ours: Ferrite's allowed
/// outcomes (files `0` and `1`), and the outcomes only ours reaches, each with its reason.
struct FerriteCase {
    program: &'static str,
    trace: Trace,
    ours: Model,
    ferrite: Vec<Vec<File>>,
    only_ours: Vec<(Vec<File>, &'static str)>,
}

fn ferrite_cases() -> Vec<FerriteCase> {
    let a: File = Some(b"a");
    let b: File = Some(b"b");
    let bb: File = Some(b"bb");
    let c: File = Some(b"c");
    let z1: File = Some(b"\0");
    let z2: File = Some(b"\0\0");
    let case =
        |program, trace, ours, ferrite: &[[File; 2]], only_ours: &[([File; 2], &'static str)]| {
            FerriteCase {
                program,
                trace,
                ours,
                ferrite: ferrite.iter().map(|o| o.to_vec()).collect(),
                only_ours: only_ours
                    .iter()
                    .map(|(o, why)| (o.to_vec(), *why))
                    .collect(),
            }
        };
    let replace_seq = [[a, GONE], [a, EMPTY], [a, bb], [bb, GONE]];
    let create_rename_seq = [[GONE, GONE], [EMPTY, GONE], [bb, GONE], [GONE, bb]];
    let two_appends_seq = [
        [GONE, GONE],
        [EMPTY, GONE],
        [EMPTY, EMPTY],
        [bb, EMPTY],
        [bb, c],
    ];
    vec![
        case(
            "replace",
            replace(false),
            Model::Process,
            &replace_seq,
            &[([a, b], BYTE)],
        ),
        case(
            "replace+fsync",
            replace(true),
            Model::Process,
            &replace_seq,
            &[([a, b], BYTE)],
        ),
        case(
            "replace",
            replace(false),
            Model::Weak,
            &[[a, GONE], [a, EMPTY], [EMPTY, GONE]],
            &[
                ([a, bb], UNSYNCED),
                ([bb, GONE], UNSYNCED),
                ([GONE, bb], UNSYNCED),
                ([a, z2], ZEROS),
                ([z2, GONE], ZEROS),
                ([GONE, GONE], RENAME3),
                ([GONE, EMPTY], RENAME3),
            ],
        ),
        case(
            "replace+fsync",
            replace(true),
            Model::Weak,
            &replace_seq,
            &[
                ([a, z2], ZEROS),
                ([GONE, GONE], RENAME3),
                ([GONE, bb], RENAME3),
            ],
        ),
        case(
            "create-rename",
            create_rename(false),
            Model::Process,
            &create_rename_seq,
            &[([b, GONE], BYTE)],
        ),
        case(
            "create-rename+fsync",
            create_rename(true),
            Model::Process,
            &create_rename_seq,
            &[([b, GONE], BYTE)],
        ),
        case(
            "create-rename",
            create_rename(false),
            Model::Weak,
            &[[GONE, GONE], [EMPTY, GONE], [GONE, EMPTY]],
            &[
                ([bb, GONE], UNSYNCED),
                ([GONE, bb], UNSYNCED),
                ([z2, GONE], ZEROS),
                ([GONE, z2], ZEROS),
            ],
        ),
        case(
            "create-rename+fsync",
            create_rename(true),
            Model::Weak,
            &create_rename_seq,
            &[([z2, GONE], ZEROS)],
        ),
        case(
            "create-rename",
            create_rename(false),
            Model::Ext4,
            &[
                [GONE, GONE],
                [EMPTY, GONE],
                [bb, GONE],
                [GONE, EMPTY],
                [GONE, bb],
            ],
            &[],
        ),
        case(
            "create-rename+fsync",
            create_rename(true),
            Model::Ext4,
            &create_rename_seq,
            &[],
        ),
        case(
            "two-appends",
            two_appends(false),
            Model::Process,
            &two_appends_seq,
            &[([b, EMPTY], BYTE)],
        ),
        case(
            "two-appends+fsync",
            two_appends(true),
            Model::Process,
            &two_appends_seq,
            &[([b, EMPTY], BYTE)],
        ),
        case(
            "two-appends",
            two_appends(false),
            Model::Weak,
            &[[GONE, GONE], [EMPTY, GONE], [EMPTY, EMPTY], [EMPTY, c]],
            &[
                ([GONE, EMPTY], NAMES),
                ([GONE, z1], NAMES),
                ([GONE, c], NAMES),
                ([EMPTY, z1], ZEROS),
                ([z2, GONE], ZEROS),
                ([z2, EMPTY], ZEROS),
                ([z2, c], ZEROS),
                ([bb, GONE], UNSYNCED),
                ([bb, EMPTY], UNSYNCED),
                ([bb, z1], UNSYNCED),
                ([bb, c], UNSYNCED),
            ],
        ),
        case(
            "two-appends+fsync",
            two_appends(true),
            Model::Weak,
            &two_appends_seq,
            &[
                ([GONE, EMPTY], NAMES),
                ([GONE, z1], NAMES),
                ([GONE, c], NAMES),
                ([bb, GONE], NAMES),
                ([z2, GONE], ZEROS),
                ([z2, EMPTY], ZEROS),
                ([bb, z1], ZEROS),
            ],
        ),
    ]
}

/// Ferrite's allowed outcome sets (`uwplse/ferrite`, `rosette/litmus/replace.rkt`,
/// `create-rename.rkt`, `two-appends.rkt`; the models in `rosette/seqfs.rkt`, `advfs.rkt`,
/// `ext4.rkt`; each set's size is the `all-outcomes` count those files check) against ours,
/// whole sets: ours are Ferrite's plus the named divergences, and nothing else.
#[test]
fn ferrite_outcome_sets_with_every_divergence_named() {
    for case in ferrite_cases() {
        let ours = outcomes(&case.trace, case.ours, &["0", "1"]);
        let mut expected: BTreeSet<Vec<Option<Vec<u8>>>> =
            case.ferrite.iter().map(|o| outcome(o)).collect();
        for (extra, why) in &case.only_ours {
            let extra = outcome(extra);
            assert!(
                !expected.contains(&extra),
                "{}: {why}: Ferrite allows it",
                case.program
            );
            expected.insert(extra);
        }
        assert_eq!(ours, expected, "{} under {}", case.program, case.ours);
    }
}

/// File `0` as `t_bytes` `T`s then `zeros` zero bytes.
fn chrome_length(t_bytes: usize, zeros: usize) -> Vec<Option<Vec<u8>>> {
    let mut bytes = vec![b'T'; t_bytes];
    bytes.resize(t_bytes + zeros, 0);
    vec![Some(bytes)]
}

/// Why our `ext4` lacks two of Ferrite's delalloc outcomes with unwritten bytes.
const WHOLE_SIZE: &str = "a write's size reaches the disk whole, at its end: Ferrite cracks the \
     2500-byte append at the block boundary and lets the size reach 4096 (D) without the bytes \
     before it; ours keep only the first append's size before its data (it ends in the block \
     the file holds, ext4_da_do_write_end)";

/// Ferrite's `rosette/litmus/append-chrome.rkt` (Chrome's log): file `0` holds 2509 `T`s,
/// durable; then appends of 13 and 2500 `T`s, no fsync. That file checks only the counts (3
/// under SeqFS, 7 under ext4, 4 under ext4 `nodelalloc`); the outcomes follow from
/// `rosette/ext4.rkt`, which cracks the appends into block operations: A write 13 at 2509,
/// B size 2522, C write 1574 at 2522, D size 4096, E extend block 4096 with 926 and size 5022.
/// With delayed allocation only A<C (same block), B<D<E (size updates) and A,C<E (a write before
/// an extend) stay ordered (`rosette/lang.rkt`: `same-file-block-deps?`,
/// `metadata-same-ino-deps?`, `file-write-extend-deps?`); a crash keeps an ideal of that order,
/// and the file is its size's first bytes, unwritten ones (`#f`) read here as zeros.
/// `nodelalloc` also keeps every write before a later size update, so the order is total.
#[test]
fn ferrite_chrome_append_sets() {
    let mut w = Writer::new("0", Some(&[b'T'; 2509]));
    w.write("0", 2509, &[b'T'; 13]);
    w.write("0", 2522, &[b'T'; 2500]);
    let trace = w.exit();
    let set = |lengths: &[(usize, usize)]| -> BTreeSet<_> {
        lengths.iter().map(|&(t, z)| chrome_length(t, z)).collect()
    };
    // SeqFS: each write atomic. Only ours (`process`): every length between, a write cut
    // after any byte.
    let seqfs = set(&[(2509, 0), (2522, 0), (5022, 0)]);
    let byte_cuts: BTreeSet<_> = (2509..=5022).map(|n| chrome_length(n, 0)).collect();
    assert!(seqfs.is_subset(&byte_cuts));
    assert_eq!(
        outcomes(&trace, Model::Process, &["0"]),
        byte_cuts,
        "{BYTE}"
    );
    // ext4 (delalloc), 7 outcomes: ours are 5 of them. The first append ends in the block the
    // file holds: its size may lead its data (2509 `T`s + 13 zeros, seen on real ext4 as Git's
    // reflog append read back as zeros). The second ends in a new block, allocated at writeback.
    let ferrite_ext4 = set(&[
        (2509, 0),
        (2509, 13),
        (2522, 0),
        (2509, 1587),
        (2522, 1574),
        (4096, 0),
        (5022, 0),
    ]);
    let only_ferrite = set(&[(2509, 1587), (2522, 1574)]);
    assert!(only_ferrite.is_subset(&ferrite_ext4));
    let ours: BTreeSet<_> = ferrite_ext4.difference(&only_ferrite).cloned().collect();
    assert_eq!(outcomes(&trace, Model::Ext4, &["0"]), ours, "{WHOLE_SIZE}");
    // ext4 nodelalloc, 4 outcomes: ours without the held block's size before its data.
    let ferrite_nodelalloc = set(&[(2509, 0), (2522, 0), (4096, 0), (5022, 0)]);
    let held_block = set(&[(2509, 13)]);
    assert_eq!(
        ours.difference(&held_block)
            .cloned()
            .collect::<BTreeSet<_>>(),
        ferrite_nodelalloc
    );
}

/// Seen on real ext4 (`power --real ext4`, Git with `core.fsync=all`): `.git/logs/HEAD` held
/// 156 durable bytes; Git appended 150 without fsync, then fsynced another file (the next
/// object). The copy read back 306 bytes, the last 150 zeros: the append ended in the block the
/// file held, so its size went to the journal with the fsync's commit, its data did not. The
/// `ext4` model must reach that state; a new file's first write (no block held) still never
/// reads as zeros under `ext4`, while `posix` and `btrfs` allow both and `xfs` neither (see
/// [`a_grown_size_never_reaches_an_xfs_disk_before_its_data`]).
#[test]
fn an_append_into_a_held_block_may_persist_its_size_before_its_data_on_ext4() {
    let durable = [b'L'; 156];
    let mut w = Writer::new("log", Some(&durable));
    w.write("log", 156, &[b'M'; 150]);
    w.create("obj");
    w.write("obj", 0, b"object");
    w.fsync("obj");
    let trace = w.exit();
    let mut zero_tail = durable.to_vec();
    zero_tail.resize(306, 0);
    let zero_log = vec![Some(zero_tail.clone()), Some(b"object".to_vec())];
    for model in [Model::Ext4, Model::Posix, Model::Btrfs] {
        let found = outcomes(&trace, model, &["log", "obj"]);
        assert!(found.contains(&zero_log), "{model:?}");
    }
    assert!(!outcomes(&trace, Model::Xfs, &["log", "obj"]).contains(&zero_log));
    // Without the fsync, the new object's own first write: zeros under posix, never on ext4.
    let mut w = Writer::new("log", Some(&durable));
    w.create("obj");
    w.write("obj", 0, b"object");
    let trace = w.exit();
    let zero_object = vec![Some(durable.to_vec()), Some(vec![0; 6])];
    assert!(outcomes(&trace, Model::Posix, &["log", "obj"]).contains(&zero_object));
    assert!(!outcomes(&trace, Model::Ext4, &["log", "obj"]).contains(&zero_object));
}

/// xfs moves a file's on-disk size only in the transaction that completes a write's I/O, to
/// that I/O's end (`fs/xfs/xfs_aops.c`: `xfs_end_ioend` calls `xfs_setfilesize`, "Update on-disk
/// file size now that data has been written to disk", clamped by `xfs_new_eof`): the block that
/// holds a grown size was written before the size, so a grown range never ends in zeros. This is
/// LevelDB's log append (4032 bytes after 4032 durable ones, its `fdatasync` not reached): the
/// old `xfs` model let it read back as its first 64 bytes and zeros, a "checksum mismatch" under
/// paranoid checks that no xfs can show. `btrfs` keeps it (with NO_HOLES, an ordered extent's
/// completion sets the on-disk size to the whole in-memory size, `btrfs_finish_one_ordered`), as
/// does `posix`; xfs keeps the old size, the append whole, or the append cut at the block.
#[test]
fn a_grown_size_never_reaches_an_xfs_disk_before_its_data() {
    let durable = [b'L'; 4032];
    let mut w = Writer::new("log", Some(&durable));
    w.write("log", 4032, &[b'M'; 4032]);
    w.create("obj");
    w.write("obj", 0, b"object");
    w.fsync("obj");
    let trace = w.exit();
    let with = |kept_bytes: usize, size_bytes: usize| {
        let mut bytes = durable.to_vec();
        bytes.extend(vec![b'M'; kept_bytes]);
        bytes.resize(size_bytes, 0);
        vec![Some(bytes)]
    };
    let (torn_tail, zero_tail) = (with(64, 8064), with(0, 8064));
    for (model, zeros) in [
        (Model::Xfs, false),
        (Model::Btrfs, true),
        (Model::Posix, true),
    ] {
        let found = outcomes(&trace, model, &["log"]);
        assert_eq!(found.contains(&torn_tail), zeros, "{model:?}");
        assert_eq!(found.contains(&zero_tail), zeros, "{model:?}");
    }
    let xfs = outcomes(&trace, Model::Xfs, &["log"]);
    let expected = BTreeSet::from([with(0, 4032), with(64, 4096), with(4032, 8064)]);
    assert_eq!(xfs, expected);
}

/// `--max-states` bounds every model, `process` included: a 64 KiB write has 65 535 tears.
#[test]
fn max_states_bounds_every_model_and_the_budget_stops_judging() {
    let new = new_bytes();
    let mut w = Writer::new("t.json", Some(OLD));
    w.open_trunc("t.json");
    w.write("t.json", 0, &[new.as_slice(); 7].concat());
    let trace = w.exit();
    for model in Model::ALL {
        let options = PowerOptions {
            model,
            max_states: 500,
            ..PowerOptions::default()
        };
        let explorer = Explorer::new(&trace, options).unwrap();
        let mut visited = 0u64;
        let exhaustive = explorer.for_each_state(&mut |_| visited += 1);
        assert!(visited <= 500, "{model}: {visited}");
        assert!(visited > 0, "{model}");
        assert_eq!(exhaustive, explorer.state_space() <= 500, "{model}");
    }
    let options = PowerOptions {
        model: Model::Process,
        budget_ms: Some(0),
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(&trace, options).unwrap();
    let long = [new.as_slice(); 7].concat();
    let mut classify = exact_classifier(Some(OLD), &long);
    let found = explorer.explore(None, &mut classify);
    assert!(found.budget_spent && !found.exhaustive);
    assert_eq!(found.states_checked, 1);
    assert!(found.state_space > 60_000);
}

/// Found by `--real` on ext4: `open(O_TRUNC)` then appends, none durable; the disk still held
/// the old version. Losing every write keeps no byte of any page, so the page rule allows it.
#[test]
fn losing_every_write_after_a_truncate_leaves_the_old_version_on_every_file_system() {
    let mut w = Writer::new("t.json", Some(OLD));
    w.open_trunc("t.json");
    w.write("t.json", 0, &new_bytes()[..3405]);
    w.write("t.json", 3405, &new_bytes()[..3405]);
    let trace = w.exit();
    for model in Model::FILE_SYSTEMS {
        let options = PowerOptions {
            model,
            ..PowerOptions::default()
        };
        let explorer = Explorer::new(&trace, options).unwrap();
        let state: CrashState = "e3:d0-2".parse().unwrap();
        let tree = explorer
            .replay(&state)
            .unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(
            tree.target_state("t.json"),
            TargetState::Regular(OLD.to_vec())
        );
    }
}

#[test]
fn a_stopped_exploration_ends_at_once_and_is_not_exhaustive() {
    let trace = two_appends(false);
    let whole = explore(&trace, Model::Posix);
    assert!(whole.exhaustive && whole.states_checked > 3, "{whole:?}");
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let TargetState::Regular(new) = explorer.new_version() else {
        panic!("the writer leaves a regular file")
    };
    let ack = ack_point(&trace.header, AckSelect::Exit);
    let mut classify = exact_classifier(None, &new);
    let asked = std::cell::Cell::new(0u64);
    let stop = || {
        asked.set(asked.get() + 1);
        asked.get() > 3
    };
    let stopped = explorer.explore_until(ack.as_ref(), &mut classify, &stop);
    assert_eq!(stopped.states_checked, 3, "judged until the stop");
    assert!(!stopped.exhaustive && !stopped.budget_spent);
}

#[test]
fn partition_shards_judge_disjoint_trees_whose_union_is_the_whole_run() {
    use crate::killpoint::Partition;
    let trace = replace(false);
    let explore_shard = |partition: Option<Partition>| {
        let options = PowerOptions {
            model: Model::Posix,
            torn: Torn::Bytes(1),
            partition,
            ..PowerOptions::default()
        };
        let explorer = Explorer::new(&trace, options).unwrap();
        let TargetState::Regular(new) = explorer.new_version() else {
            panic!("the writer leaves a regular file")
        };
        let old = explorer.plan().old.clone();
        let ack = ack_point(&trace.header, AckSelect::Exit);
        let mut classify = exact_classifier(old.as_deref(), &new);
        explorer.explore(ack.as_ref(), &mut classify)
    };
    let whole = explore_shard(None);
    assert!(
        whole.violating_states > 0 && whole.distinct_states > 3,
        "{whole:?}"
    );
    let shards: Vec<Exploration> = (1..=3)
        .map(|index| explore_shard(Some(Partition { index, count: 3 })))
        .collect();
    let sum = |field: fn(&Exploration) -> u64| shards.iter().map(field).sum::<u64>();
    assert_eq!(sum(|e| e.states_checked), whole.states_checked);
    assert_eq!(sum(|e| e.distinct_states), whole.distinct_states);
    assert_eq!(sum(|e| e.violating_states), whole.violating_states);
    let classes = shards
        .iter()
        .fold(ClassCounts::default(), |all, e| all.plus(e.classes));
    assert_eq!(classes, whole.classes);
    assert!(
        shards.iter().filter(|e| e.states_checked > 0).count() >= 2,
        "the trees spread over the shards: {:?}",
        shards.iter().map(|e| e.states_checked).collect::<Vec<_>>()
    );
}

/// A v3 trace's initial tree (what `--setup` prepared): a journal-like file the writer never
/// touches keeps its contents in every crash state of every model, and the target's bytes in it
/// are the old version.
#[test]
fn a_prepared_tree_is_durable_in_every_crash_state() {
    use crate::trace::{InitialEntry, InitialNode};
    let mut trace = replace(false);
    trace.header.initial_tree = Some(vec![
        InitialEntry {
            path: "0".into(),
            node: InitialNode::File {
                data: b"a".to_vec(),
            },
        },
        InitialEntry {
            path: "keep".into(),
            node: InitialNode::File {
                data: b"kept".to_vec(),
            },
        },
    ]);
    for model in [Model::Weak, Model::Posix, Model::Ext4] {
        let found = outcomes(&trace, model, &["keep", "0"]);
        assert!(!found.is_empty());
        for contents in &found {
            assert_eq!(contents[0].as_deref(), Some(&b"kept"[..]), "{model:?}");
        }
        let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
        assert_eq!(explorer.plan().old.as_deref(), Some(&b"a"[..]));
        assert!(
            explorer.plan().notes.is_empty(),
            "{:?}",
            explorer.plan().notes
        );
    }
}

/// A content-addressed whole-tree judge for tests: `holds` decides, asked once per distinct
/// (tree, epoch).
struct Asking<F: FnMut(&FsTree) -> bool> {
    holds: F,
    known: Vec<(FsTree, usize, bool)>,
    asked: u64,
}

impl<F: FnMut(&FsTree) -> bool> TreeJudge for Asking<F> {
    fn ticket(&mut self, tree: &FsTree, epoch: usize) -> Option<usize> {
        let found = self
            .known
            .iter()
            .position(|(known, e, _)| *e == epoch && known.same_content(tree));
        Some(found.unwrap_or_else(|| {
            self.asked += 1;
            let holds = (self.holds)(tree);
            self.known.push((tree.clone(), epoch, holds));
            self.known.len() - 1
        }))
    }

    fn verdict(&mut self, ticket: usize) -> Option<Checked> {
        let holds = self.known[ticket].2;
        Some(Checked { holds, late: false })
    }
}

fn asking<F: FnMut(&FsTree) -> bool>(holds: F) -> Asking<F> {
    Asking {
        holds,
        known: Vec::new(),
        asked: 0,
    }
}

/// Under a whole-tree check the caller's verdict decides: it is asked once per distinct
/// (tree, epoch), and each rejected state is a `check-failed` finding.
#[test]
fn a_whole_tree_judge_is_asked_once_per_distinct_tree_and_epoch() {
    let trace = replace(false);
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    for ack_events in [&[][..], &[2][..]] {
        let mut judge = asking(|_| true);
        let found = explorer.explore_trees(
            None,
            ack_events,
            &mut judge,
            (&mut Memo::default(), &|| false),
        );
        assert_eq!(found.violating_states, 0);
        assert_eq!(judge.asked, found.distinct_states, "{ack_events:?}");
        assert!(found.states_checked > found.distinct_states);
    }
    let mut empty_target =
        asking(|tree: &FsTree| tree.target_state("0") != TargetState::Regular(Vec::new()));
    let found = explorer.explore_trees(
        None,
        &[],
        &mut empty_target,
        (&mut Memo::default(), &|| false),
    );
    assert!(found.violating_states > 0);
    assert!(
        found
            .findings
            .iter()
            .all(|f| f.violation == PowerViolation::CheckFailed)
    );
}

/// Two models sharing a memo and a judge: the second walk asks for no tree the first met, and
/// finds what it finds alone.
#[test]
fn a_shared_memo_and_judge_check_each_tree_once_across_models() {
    let trace = replace(false);
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let holds = |tree: &FsTree| tree.target_state("0") != TargetState::Regular(Vec::new());
    let mut shared = asking(holds);
    let mut memo = Memo::shared();
    for model in [Model::Posix, Model::Ext4] {
        let one = explorer.with_model(model);
        let together = one.explore_trees(None, &[], &mut shared, (&mut memo, &|| false));
        let alone = one.explore_trees(
            None,
            &[],
            &mut asking(holds),
            (&mut Memo::default(), &|| false),
        );
        assert_eq!(together.states_checked, alone.states_checked, "{model:?}");
        assert_eq!(
            together.violating_states, alone.violating_states,
            "{model:?}"
        );
        assert_eq!(together.findings, alone.findings, "{model:?}");
    }
    let posix = explorer.with_model(Model::Posix);
    let mut fresh = asking(holds);
    posix.explore_trees(None, &[], &mut fresh, (&mut Memo::default(), &|| false));
    assert_eq!(shared.asked, fresh.asked, "ext4's trees are posix's");
}

/// A judge that checks late (past the budget) ends the count with that tree: not exhaustive,
/// budget spent, and only the states before the next new tree counted.
#[test]
fn a_late_verdict_ends_the_count_at_its_tree() {
    /// Trees met, and the ticket checked late.
    struct Late(Vec<FsTree>, Option<usize>);
    impl TreeJudge for Late {
        fn ticket(&mut self, tree: &FsTree, _: usize) -> Option<usize> {
            let found = self.0.iter().position(|t| t.same_content(tree));
            Some(found.unwrap_or_else(|| {
                self.0.push(tree.clone());
                self.0.len() - 1
            }))
        }
        fn verdict(&mut self, ticket: usize) -> Option<Checked> {
            Some(Checked {
                holds: true,
                late: self.1 == Some(ticket),
            })
        }
    }
    let trace = replace(false);
    let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
    let mut in_time = Late(Vec::new(), None);
    let whole = explorer.explore_trees(None, &[], &mut in_time, (&mut Memo::default(), &|| false));
    let mut late = Late(Vec::new(), Some(1));
    let cut = explorer.explore_trees(None, &[], &mut late, (&mut Memo::default(), &|| false));
    assert!(late.0.len() > 2, "{}", late.0.len());
    assert_eq!(cut.distinct_states, 2);
    assert!(cut.budget_spent && !cut.exhaustive, "{cut:?}");
    assert!(
        cut.states_checked >= 2 && cut.states_checked < whole.states_checked,
        "{cut:?}"
    );
}

/// A real tree a checker rejected, placed at a state that also lost a write the tree does not
/// show (it rewrote the same bytes): the diagnosis blames only the lost unlink, as the
/// simulation's does ("fsync the directory after the unlink").
#[test]
fn a_rejected_real_tree_is_diagnosed_by_the_fewest_losses_that_leave_it() {
    let mut w = Writer::new("db", Some(OLD));
    w.create("db-journal");
    w.write("db-journal", 0, b"undo");
    w.fsync("db-journal");
    w.write("db", 0, b"new");
    w.fsync("db");
    let unlink = w.unlink("db-journal");
    let rewrite = w.write("db", 0, b"new");
    let trace = w.exit();
    let (explorer, state) = posix_state_losing(&trace, vec![unlink, rewrite]);
    let diagnosis = explorer.diagnose_rejected(&state);
    assert_eq!(
        diagnosis.pattern,
        Pattern::UnlinkNotDurable,
        "{}",
        diagnosis.text
    );
    assert!(
        diagnosis
            .text
            .contains("fsync the directory after the unlink"),
        "{}",
        diagnosis.text
    );
}

/// The next transaction creates the journal again: a state that lost the unlink and that create
/// leaves the old journal, and the fix is still the unlink's (a real crash point a few events
/// later than the simulation's smallest state places there).
#[test]
fn a_lost_create_of_a_name_whose_unlink_was_lost_is_not_blamed() {
    let mut w = Writer::new("db", Some(OLD));
    w.create("db-journal");
    w.write("db-journal", 0, b"undo");
    w.fsync("db-journal");
    w.write("db", 0, b"new");
    w.fsync("db");
    let unlink = w.unlink("db-journal");
    let create = w.create("db-journal");
    let trace = w.exit();
    let (explorer, state) = posix_state_losing(&trace, vec![unlink, create]);
    let diagnosis = explorer.diagnose_rejected(&state);
    assert_eq!(
        diagnosis.pattern,
        Pattern::UnlinkNotDurable,
        "{}",
        diagnosis.text
    );
    let named = format!("#{create}");
    assert!(diagnosis.text.contains(&named), "{}", diagnosis.text);
}

/// Sampled points are walked twice, families first: a walk a time budget stops early has
/// already seen the last crash point's families (here the final, unsynced rename's loss).
#[test]
fn a_sampled_walk_visits_every_points_families_before_any_sample() {
    let new = new_bytes();
    let mut w = Writer::new("t.json", Some(OLD));
    for round in 0..4 {
        let tmp = format!("t.json.{round}");
        w.create(&tmp);
        w.write(&tmp, 0, &[new.as_slice(); 3].concat());
        w.rename(&tmp, "t.json");
    }
    let trace = w.exit();
    let options = PowerOptions {
        model: Model::Posix,
        max_states: 2_000,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(&trace, options).unwrap();
    assert!(explorer.state_space() > 2_000, "{}", explorer.state_space());
    let last_point = explorer.plan().steps.len();
    let mut points = Vec::new();
    explorer.for_each_state(&mut |state| points.push(state.events));
    let descent = points.windows(2).position(|w| w[1] < w[0]);
    let first_walk = &points[..=descent.expect("a second walk of samples")];
    assert_eq!(first_walk.last(), Some(&last_point), "{points:?}");
    assert!(
        (0..=last_point).all(|n| first_walk.contains(&n)),
        "{first_walk:?}"
    );
    assert!(points.len() <= 2_000);
}

/// A real state that lost dozens of operations is told in one sentence: how many, the first and
/// the last three, not every one.
#[test]
fn a_rejected_tree_that_lost_many_operations_is_told_briefly() {
    let mut w = Writer::new("t.json", None);
    let creates: Vec<usize> = (0..10).map(|i| w.create(&format!("f{i}"))).collect();
    let trace = w.exit();
    let (explorer, state) = posix_state_losing(&trace, creates);
    let text = explorer.diagnose_rejected(&state).text;
    assert!(text.contains("lost 10 operations (the first "), "{text}");
    assert!(text.contains("`f0`") && text.contains("`f9`"), "{text}");
    assert!(!text.contains("`f4`"), "{text}");
}

/// The posix explorer of `trace` and its legal state after the last event that lost `dropped`.
fn posix_state_losing(trace: &Trace, dropped: Vec<usize>) -> (Explorer, CrashState) {
    let options = PowerOptions {
        model: Model::Posix,
        ..PowerOptions::default()
    };
    let explorer = Explorer::new(trace, options).unwrap();
    let state = CrashState {
        events: explorer.plan().steps.len(),
        dropped,
        partial: None,
        sized: Vec::new(),
    };
    explorer.check(&state).unwrap();
    (explorer, state)
}
