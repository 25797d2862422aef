//! Random op sequences against the model, the hand-written scenarios, the
//! fuzz seeds' encoding, and proof that the executor catches a broken reality.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use intact_ops::{
    Bytes, Difference, Discrepancy, Durability, Model, Op, OpenSpec, Outcome, Overwrite, Run,
    SeekTo, Slot, Step, TARGET_NAME, Temp, encode, is_named_temp, run, scenarios,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use tempfile::TempDir;

fn slot() -> impl Strategy<Value = Slot> {
    prop_oneof![Just(Slot::A), Just(Slot::B), Just(Slot::C)]
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=24).prop_map(Bytes::new)
}

fn spec() -> impl Strategy<Value = OpenSpec> {
    let durability = prop_oneof![
        Just(Durability::None),
        Just(Durability::Data),
        Just(Durability::Full)
    ];
    let overwrite = prop_oneof![Just(Overwrite::Replace), Just(Overwrite::NoClobber)];
    let temp = prop_oneof![Just(Temp::Auto), Just(Temp::Named), Just(Temp::Anonymous)];
    (durability, overwrite, temp).prop_map(|(durability, overwrite, temp)| OpenSpec {
        durability,
        overwrite,
        temp,
    })
}

fn seek_to() -> impl Strategy<Value = SeekTo> {
    prop_oneof![
        (0u8..40).prop_map(SeekTo::Start),
        (-20i8..20).prop_map(SeekTo::Current),
        (-20i8..20).prop_map(SeekTo::End),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (slot(), spec()).prop_map(|(slot, spec)| Op::Open { slot, spec }),
        4 => (slot(), bytes()).prop_map(|(slot, bytes)| Op::Write { slot, bytes }),
        2 => (slot(), seek_to()).prop_map(|(slot, to)| Op::Seek { slot, to }),
        1 => (slot(), 0u8..40).prop_map(|(slot, len_bytes)| Op::SetLen { slot, len_bytes }),
        3 => slot().prop_map(|slot| Op::Commit { slot }),
        1 => slot().prop_map(|slot| Op::Abort { slot }),
        1 => slot().prop_map(|slot| Op::Drop { slot }),
        1 => bytes().prop_map(|bytes| Op::ReplaceTarget { bytes }),
        1 => Just(Op::RemoveTarget),
        1 => Just(Op::Sweep),
    ]
}

/// Failures are kept in `proptest-regressions/ops.txt` (committed) and
/// replayed first on every run. Set explicitly because proptest's default
/// looks for a `lib.rs` beside the test file and, for `tests/`, finds none.
fn config(cases: u32) -> ProptestConfig {
    let regressions = FileFailurePersistence::Direct("proptest-regressions/ops.txt");
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(regressions)),
        ..ProptestConfig::default()
    }
}

fn run_in_fresh_dir(ops: &[Op]) -> Result<(), Discrepancy> {
    let dir = TempDir::new().expect("temp dir");
    run(dir.path(), ops)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_sequences_match_the_model(ops in prop::collection::vec(op(), 0..48)) {
        if let Err(discrepancy) = run_in_fresh_dir(&ops) {
            prop_assert!(false, "{discrepancy}");
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    // The fuzz target's path: sequences decoded by `arbitrary` from raw bytes.
    #[test]
    fn sequences_decoded_from_random_bytes_match_the_model(
        data in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let ops = Vec::<Op>::arbitrary_take_rest(Unstructured::new(&data))
            .expect("decoding never fails");
        if let Err(discrepancy) = run_in_fresh_dir(&ops) {
            prop_assert!(false, "{discrepancy}");
        }
    }
}

#[test]
fn every_scenario_matches_the_model_and_ends_with_the_expected_target() {
    let expected_targets: [(&str, &[u8]); 5] = [
        ("replace-twice", b"Second"),
        ("no-clobber-race", b"mine"),
        ("live-writers-and-sweep", b"b"),
        ("holes-and-truncation", b"ab\0\0\0Z"),
        ("discard-keeps-target", b"old"),
    ];
    let scenarios = scenarios();
    assert_eq!(scenarios.len(), expected_targets.len());
    for ((name, ops), (expected_name, expected_target)) in scenarios.iter().zip(expected_targets) {
        assert_eq!(*name, expected_name);
        let dir = TempDir::new().expect("temp dir");
        run(dir.path(), ops).unwrap_or_else(|discrepancy| panic!("{name}: {discrepancy}"));
        let target = fs::read(dir.path().join(TARGET_NAME)).expect("target");
        assert_eq!(target, expected_target, "{name}");
    }
}

#[test]
fn committed_fuzz_seeds_are_the_encoded_scenarios() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/ops");
    for (name, ops) in scenarios() {
        let seed = fs::read(seeds.join(name)).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        assert!(
            seed == encode(&ops),
            "fuzz/seeds/ops/{name} is stale: run `cargo run -p intact-ops --example fuzz_seeds`"
        );
    }
}

#[test]
fn the_generator_reaches_every_outcome_the_model_can_predict() {
    let mut runner = TestRunner::deterministic();
    let sequences = prop::collection::vec(op(), 0..48);
    let mut seen = HashSet::new();
    for _ in 0..256 {
        let ops = sequences.new_tree(&mut runner).expect("generate").current();
        let mut model = Model::new(true);
        for op in &ops {
            seen.insert(outcome_kind(&model.apply(op)));
        }
    }
    let every = [
        "EmptySlot",
        "Opened",
        "Wrote",
        "Sought",
        "SeekRejected",
        "Resized",
        "Published",
        "RefusedExisting",
        "Discarded",
        "TargetReplaced",
        "TargetRemoved",
        "SweptLive",
    ];
    for kind in every {
        assert!(seen.contains(kind), "no generated sequence reaches {kind}");
    }
}

fn outcome_kind(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::EmptySlot => "EmptySlot",
        Outcome::Opened => "Opened",
        Outcome::OpenRefused => "OpenRefused",
        Outcome::Wrote => "Wrote",
        Outcome::Sought { .. } => "Sought",
        Outcome::SeekRejected => "SeekRejected",
        Outcome::Resized => "Resized",
        Outcome::Published => "Published",
        Outcome::RefusedExisting => "RefusedExisting",
        Outcome::Discarded => "Discarded",
        Outcome::TargetReplaced => "TargetReplaced",
        Outcome::TargetRemoved => "TargetRemoved",
        Outcome::Swept { live: 0, .. } => "Swept",
        Outcome::Swept { .. } => "SweptLive",
        Outcome::Failed { .. } => "Failed",
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn encoded_sequences_decode_back_unchanged(ops in prop::collection::vec(op(), 0..48)) {
        let decoded = Vec::<Op>::arbitrary_take_rest(Unstructured::new(&encode(&ops)));
        prop_assert_eq!(decoded.expect("decodes"), ops);
    }
}

// From here on reality is sabotaged behind the executor's back: each test
// proves one of the checks can fail.

fn started(dir: &TempDir) -> Run {
    Run::start(dir.path()).expect("empty dir")
}

fn step_all(run: &mut Run, ops: &[Op]) {
    for op in ops {
        run.step(op).expect("matches the model before sabotage");
    }
}

fn only_named_temp(dir: &Path) -> PathBuf {
    let temps: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.file_name().is_some_and(is_named_temp))
        .collect();
    assert_eq!(temps.len(), 1, "{temps:?}");
    temps[0].clone()
}

#[test]
fn catches_a_target_rewritten_in_place() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    step_all(
        &mut run,
        &[
            Op::open_durable(Slot::A, Overwrite::Replace, Temp::Auto),
            Op::write_bytes(Slot::A, b"complete"),
        ],
    );
    step_all(&mut run, &[Op::Commit { slot: Slot::A }]);
    fs::write(run.target(), b"comp").expect("sabotage");
    let discrepancy = run
        .step(&Op::Sweep)
        .expect_err("a torn target must be caught");
    assert_eq!(
        discrepancy,
        Discrepancy {
            step: Step::Op {
                index: 3,
                op: Op::Sweep
            },
            difference: Difference::Target {
                expected: Some(b"complete".to_vec()),
                found: Some(b"comp".to_vec()),
            },
        }
    );
}

#[test]
fn catches_an_orphaned_temp_file() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    let orphan = format!(".{TARGET_NAME}.deadbeef.intact-tmp");
    fs::write(dir.path().join(&orphan), b"half").expect("sabotage");
    // Not Sweep: sweep may rightly remove a dead writer's temp.
    let discrepancy = run
        .step(&Op::RemoveTarget)
        .expect_err("an orphan must be caught");
    assert_eq!(
        discrepancy.difference,
        Difference::StrayEntry {
            name: orphan.into()
        }
    );
}

#[test]
fn catches_a_leftover_file_at_the_end() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    step_all(
        &mut run,
        &[Op::open_durable(Slot::C, Overwrite::Replace, Temp::Named)],
    );
    fs::write(dir.path().join("leftover"), b"x").expect("sabotage");
    let discrepancy = run.finish().expect_err("a leftover must be caught");
    assert_eq!(discrepancy.step, Step::End);
    assert_eq!(
        discrepancy.difference,
        Difference::StrayEntry {
            name: "leftover".into()
        }
    );
}

#[test]
fn catches_a_live_temp_removed_behind_its_writer() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    step_all(
        &mut run,
        &[Op::open_durable(Slot::B, Overwrite::Replace, Temp::Named)],
    );
    fs::remove_file(only_named_temp(dir.path())).expect("sabotage");
    let discrepancy = run
        .step(&Op::write_bytes(Slot::B, b"x"))
        .expect_err("a vanished temp must be caught");
    assert!(
        matches!(
            discrepancy.difference,
            Difference::TempKind { slot: Slot::B, .. }
        ),
        "{discrepancy}"
    );
}

#[test]
fn catches_temp_contents_changed_behind_its_writer() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    step_all(
        &mut run,
        &[
            Op::open_durable(Slot::A, Overwrite::Replace, Temp::Named),
            Op::write_bytes(Slot::A, b"abc"),
        ],
    );
    fs::write(only_named_temp(dir.path()), b"xyz").expect("sabotage");
    let discrepancy = run
        .step(&Op::Sweep)
        .expect_err("changed contents must be caught");
    assert_eq!(
        discrepancy.difference,
        Difference::TempContents {
            slot: Slot::A,
            expected: b"abc".to_vec(),
            found: b"xyz".to_vec(),
        }
    );
}

#[test]
fn catches_a_commit_that_does_not_do_what_the_model_says() {
    let dir = TempDir::new().expect("temp dir");
    let mut run = started(&dir);
    step_all(
        &mut run,
        &[Op::open_durable(Slot::A, Overwrite::NoClobber, Temp::Auto)],
    );
    // The model believes the target is absent, so it predicts a publish.
    fs::write(run.target(), b"unannounced").expect("sabotage");
    let discrepancy = run
        .step(&Op::Commit { slot: Slot::A })
        .expect_err("must be caught");
    assert_eq!(
        discrepancy.difference,
        Difference::Outcome {
            expected: Outcome::Published,
            found: Outcome::RefusedExisting,
        }
    );
}

#[test]
fn refuses_to_start_in_a_directory_that_is_not_empty() {
    let dir = TempDir::new().expect("temp dir");
    fs::write(dir.path().join("old"), b"").expect("setup");
    let discrepancy = Run::start(dir.path()).expect_err("must refuse");
    assert_eq!(discrepancy.step, Step::Setup);
    assert_eq!(
        discrepancy.difference,
        Difference::NotEmpty { name: "old".into() }
    );
}
