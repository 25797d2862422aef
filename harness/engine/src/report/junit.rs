//! `junit.xml`: a test suite per subject. CI readers see one test case for the subject's
//! expectation, plus one failing test case per unexpected violation (the first
//! [`MAX_VIOLATION_CASES`]), each carrying its replay command. A canary that was caught is a
//! passing test case; a canary that was not caught is a failure (in one `--partition` shard it is
//! skipped: only the merge can judge it). An interrupted or failed run adds an error test case,
//! so a partial report never shows green.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::records::describe_violations;
use crate::campaign::{self, RunEnd, RunResult, Settings, SubjectResult};
use torture_core::oracle::SubjectStatus;

/// Failing test cases per subject; the rest are counted in the expectation case's message.
pub const MAX_VIOLATION_CASES: usize = 100;

/// Renders the report.
pub fn junit(run: &RunResult) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("torture");
    report.set_time(run.elapsed);
    for result in &run.subjects {
        report.add_test_suite(suite(result, &run.settings));
    }
    let unfinished = match &run.end {
        RunEnd::Completed => None,
        RunEnd::Interrupted => Some((
            "run interrupted",
            "the run was interrupted (Ctrl-C) before every trial ran: the results are incomplete"
                .to_owned(),
        )),
        RunEnd::Failed(e) => Some(("harness error", e.to_string())),
    };
    if let Some((name, message)) = unfinished {
        let mut suite = TestSuite::new("torture harness");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(message);
        suite.add_test_case(TestCase::new(name, status));
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn suite(result: &SubjectResult, settings: &Settings) -> TestSuite {
    let mut suite = TestSuite::new(format!("torture::{}", result.subject.label));
    suite.set_time(result.trial_time);
    suite.add_test_case(expectation_case(result, settings));
    if result.status() == SubjectStatus::Failed {
        let violating = result.trials.iter().filter(|t| !t.violations.is_empty());
        for trial in violating.take(MAX_VIOLATION_CASES) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let replay = campaign::replay_command(&result.subject, settings, trial.point);
            status.set_message(describe_violations(trial));
            status.set_description(format!("replay: {replay}"));
            let mut case = TestCase::new(format!("kill at {}", trial.point), status);
            case.set_classname(format!("torture::{}", result.subject.label));
            suite.add_test_case(case);
        }
    }
    suite
}

fn expectation_case(result: &SubjectResult, settings: &Settings) -> TestCase {
    let counts = result.counts();
    let summary = format!(
        "{}: absent {} old {} new {} torn {}, orphans {}, recovery failures {}, violations {}",
        super::terminal::count_of(counts.trials, "trial", "trials"),
        counts.absent,
        counts.old,
        counts.new,
        counts.torn,
        counts.orphans,
        counts.recovery_failures,
        counts.violations
    );
    let smallest = super::records::smallest(result, settings)
        .map(|s| {
            format!(
                "\nsmallest violating kill point {}: {}\nreplay: {}",
                s.kill_point, s.violation, s.replay
            )
        })
        .unwrap_or_default();
    let (name, status) = match result.status() {
        SubjectStatus::Passed => ("no violation under SIGKILL", TestCaseStatus::success()),
        SubjectStatus::Caught => ("canary caught", TestCaseStatus::success()),
        SubjectStatus::Failed => (
            "no violation under SIGKILL",
            failure(format!(
                "{} with violations",
                super::terminal::count_of(counts.violations, "trial", "trials")
            )),
        ),
        SubjectStatus::NotCaught => (
            "canary caught",
            failure("canary not caught: the harness itself has failed".to_owned()),
        ),
        SubjectStatus::NotCaughtInShard => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(
                "canary not caught in this shard: `torture merge` judges it across the shards",
            );
            ("canary caught", status)
        }
        SubjectStatus::Incomplete => (
            "no violation under SIGKILL",
            failure("the run stopped before this subject was judged".to_owned()),
        ),
        SubjectStatus::NotModelled => (
            "no violation under SIGKILL",
            failure(
                "the writer does something the tracer does not model; the pass cannot be trusted"
                    .to_owned(),
            ),
        ),
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("torture::{}", result.subject.label));
    case.set_time(result.trial_time);
    case.set_system_out(format!("{summary}{smallest}"));
    case
}

fn failure(message: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_message(message);
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use torture_core::oracle::Expect;

    #[test]
    fn failures_are_visible_and_caught_canaries_are_not() {
        let run = fixture::run(vec![
            fixture::subject("plain", Expect::Caught, 4, 4),
            fixture::subject("intact", Expect::Pass, 4, 2),
            fixture::subject("plain-fsync", Expect::Caught, 4, 0),
        ]);
        let xml = junit(&run).expect("serializes");
        let report = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!(report.test_suites.len(), 3);
        // intact: its expectation case + one case per violating trial; plain-fsync: not caught.
        assert_eq!(report.failures, 1 + 2 + 1, "{xml}");
        assert!(xml.contains("replay: torture kill --subject intact --size 4096 --initial old --seed 7 --kill-at byte:1"), "{xml}");
        assert!(
            xml.contains("canary not caught: the harness itself has failed"),
            "{xml}"
        );
    }

    #[test]
    fn an_interrupted_run_is_not_green() {
        let mut run = fixture::run(vec![fixture::subject("intact", Expect::Pass, 4, 0)]);
        run.end = RunEnd::Interrupted;
        let xml = junit(&run).expect("serializes");
        let report = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!((report.failures, report.errors), (0, 1), "{xml}");
        assert!(xml.contains("run interrupted"), "{xml}");
        assert!(xml.contains("results are incomplete"), "{xml}");
    }
}
