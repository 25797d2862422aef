use proptest::prelude::*;

use super::*;
use crate::errors::fixtures::clean_facts;

fn judged(change: impl FnOnce(&mut ErrorsFacts)) -> Vec<ErrorsViolation> {
    let mut facts = clean_facts("fsync#2:EIO");
    change(&mut facts);
    judge(&facts)
}

#[test]
fn a_clean_run_has_no_violation() {
    assert_eq!(judged(|_| {}), []);
    assert_eq!(
        judged(|f| f.power_safe = None),
        [],
        "not computed is no verdict"
    );
}

#[test]
fn acknowledged_means_new() {
    for target in [TargetClass::Old, TargetClass::Absent] {
        assert_eq!(
            judged(|f| f.target = target),
            [ErrorsViolation::AckedNotNew { target }]
        );
    }
    assert_eq!(judged(|f| f.target = TargetClass::New), []);
}

#[test]
fn with_ack_line_the_printed_line_is_the_acknowledgement_not_the_exit() {
    let failed_after_its_ack = judged(|f| {
        f.exit = RunExit::Code(1);
        f.ack_line = Some(true);
        f.target = TargetClass::Old;
    });
    assert_eq!(
        failed_after_its_ack,
        [ErrorsViolation::AckedNotNew {
            target: TargetClass::Old
        }]
    );
    let exited_0_unacknowledged = judged(|f| {
        f.ack_line = Some(false);
        f.target = TargetClass::Old;
    });
    assert_eq!(exited_0_unacknowledged, []);
}

#[test]
fn acknowledged_means_new_after_a_power_cut() {
    assert_eq!(
        judged(|f| f.power_safe = Some(false)),
        [ErrorsViolation::AckedLostAtPowerCut]
    );
    assert_eq!(
        judged(|f| {
            f.power_safe = Some(false);
            f.exit = RunExit::Code(1);
            f.target = TargetClass::Old;
        }),
        [],
        "a writer that reported failure promised nothing"
    );
}

#[test]
fn torn_is_always_a_violation() {
    for exit in [RunExit::Code(0), RunExit::Code(1), RunExit::Signal(6)] {
        assert_eq!(
            judged(|f| {
                f.target = TargetClass::Torn;
                f.exit = exit;
            }),
            [ErrorsViolation::Torn]
        );
    }
}

#[test]
fn a_failure_keeps_the_old_version() {
    let failed = |target, initial| {
        judged(|f| {
            f.exit = RunExit::Code(1);
            f.target = target;
            f.initial = initial;
        })
    };
    assert_eq!(failed(TargetClass::Old, Initial::Old), []);
    assert_eq!(failed(TargetClass::Absent, Initial::Absent), []);
    assert_eq!(
        failed(TargetClass::Absent, Initial::Old),
        [ErrorsViolation::OldLost]
    );
    assert_eq!(
        failed(TargetClass::New, Initial::Old),
        [ErrorsViolation::FailedButNotOld]
    );
}

#[test]
fn a_failure_after_the_publish_may_leave_the_new_version() {
    let failed_new = |position| {
        judged(|f| {
            f.exit = RunExit::Code(1);
            f.target = TargetClass::New;
            f.position = position;
        })
    };
    assert_eq!(failed_new(Position::AfterPublish), []);
    assert_eq!(
        failed_new(Position::BeforePublish),
        [ErrorsViolation::FailedButNotOld]
    );
    assert_eq!(
        failed_new(Position::Unpublished),
        [ErrorsViolation::FailedButNotOld]
    );
}

#[test]
fn positions_against_the_publish_point() {
    assert_eq!(Position::of(3, Some(4)), Position::BeforePublish);
    assert_eq!(
        Position::of(4, Some(4)),
        Position::BeforePublish,
        "the publish itself"
    );
    assert_eq!(Position::of(6, Some(4)), Position::AfterPublish);
    assert_eq!(Position::of(6, None), Position::Unpublished);
}

#[test]
fn a_hang_is_a_violation_and_the_target_is_judged_unacknowledged() {
    assert_eq!(
        judged(|f| {
            f.exit = RunExit::TimedOut;
            f.target = TargetClass::Old;
        }),
        [ErrorsViolation::Hung]
    );
    assert_eq!(
        judged(|f| f.exit = RunExit::TimedOut),
        [ErrorsViolation::FailedButNotOld, ErrorsViolation::Hung]
    );
}

#[test]
fn recovery_must_exit_0_with_the_new_version() {
    let recovered = |exit, target| judged(|f| f.recovery = Some(Recovery { exit, target }));
    assert_eq!(recovered(RunExit::Code(0), TargetClass::New), []);
    assert_eq!(
        recovered(RunExit::Code(0), TargetClass::Old),
        [ErrorsViolation::RecoveryFailed {
            exit: RunExit::Code(0),
            target: TargetClass::Old
        }]
    );
    assert_eq!(
        recovered(RunExit::Code(2), TargetClass::New),
        [ErrorsViolation::RecoveryFailed {
            exit: RunExit::Code(2),
            target: TargetClass::New
        }]
    );
}

#[test]
fn leftovers_count_only_under_strict() {
    assert_eq!(judged(|f| f.leftovers = 2), []);
    assert_eq!(
        judged(|f| {
            f.leftovers = 2;
            f.strict = true;
        }),
        [ErrorsViolation::Leftovers { count: 2 }]
    );
    assert_eq!(judged(|f| f.strict = true), []);
}

#[test]
fn violations_have_names_and_sentences() {
    let all = [
        ErrorsViolation::AckedNotNew {
            target: TargetClass::Old,
        },
        ErrorsViolation::AckedLostAtPowerCut,
        ErrorsViolation::Torn,
        ErrorsViolation::OldLost,
        ErrorsViolation::FailedButNotOld,
        ErrorsViolation::Hung,
        ErrorsViolation::RecoveryFailed {
            exit: RunExit::Signal(9),
            target: TargetClass::Torn,
        },
        ErrorsViolation::Leftovers { count: 1 },
    ];
    let mut names: Vec<_> = all.iter().map(|v| v.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len());
    assert!(all.iter().all(|v| !v.to_string().is_empty()));
}

fn target_class() -> impl Strategy<Value = TargetClass> {
    prop_oneof![
        Just(TargetClass::Absent),
        Just(TargetClass::Old),
        Just(TargetClass::New),
        Just(TargetClass::Torn)
    ]
}

fn run_exit() -> impl Strategy<Value = RunExit> {
    prop_oneof![
        any::<i32>().prop_map(RunExit::Code),
        any::<i32>().prop_map(RunExit::Signal),
        Just(RunExit::TimedOut)
    ]
}

prop_compose! {
    pub fn facts()(
        exit in run_exit(),
        target in target_class(),
        position in prop_oneof![
            Just(Position::BeforePublish),
            Just(Position::AfterPublish),
            Just(Position::Unpublished)
        ],
        old in any::<bool>(),
        power_safe in proptest::option::of(any::<bool>()),
        recovery in proptest::option::of((run_exit(), target_class())),
        leftovers in 0usize..3,
        strict in any::<bool>(),
    ) -> ErrorsFacts {
        ErrorsFacts {
            position,
            initial: if old { Initial::Old } else { Initial::Absent },
            exit,
            target,
            power_safe,
            recovery: recovery.map(|(exit, target)| Recovery { exit, target }),
            leftovers,
            strict,
            ..clean_facts("write#1:short=1")
        }
    }
}

proptest! {
    #[test]
    fn judging_any_facts_is_total_and_consistent(facts in facts()) {
        let violations = judge(&facts);
        let torn = violations.contains(&ErrorsViolation::Torn);
        prop_assert_eq!(torn, facts.target == TargetClass::Torn);
        prop_assert_eq!(violations.contains(&ErrorsViolation::Hung), facts.exit == RunExit::TimedOut);
        let acked_new = facts.exit == RunExit::Code(0) && facts.target == TargetClass::New;
        if acked_new && facts.power_safe != Some(false) {
            let blames_ack = violations.iter().any(|v| {
                matches!(v, ErrorsViolation::AckedNotNew { .. } | ErrorsViolation::AckedLostAtPowerCut)
            });
            prop_assert!(!blames_ack);
        }
        prop_assert!(violations.len() <= 4);
    }
}
