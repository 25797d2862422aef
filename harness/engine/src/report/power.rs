//! What a power run tells people and CI: a fixed-width status line per subject, its findings
//! (diagnosis and `--state` replay command each), one summary line, and `summary.md`,
//! `results.jsonl` (a line per finding, per failed recovery run and per subject) and `junit.xml`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::{Value, json};

use super::terminal::{Style, count_of, format_seconds};
use crate::campaign::power::{PowerResult, PowerRun, PowerSettings, StateReplay};
use crate::campaign::{RunEnd, Settings, Subject, SubjectKind, initial_name, shell_quote};
use torture_core::oracle::{SubjectStatus, Tally, Violation};
use torture_core::power::{ClassCounts, CrashState, Fill, Finding, Model, Torn};

/// The model's name, with the `weak` warning.
pub fn model_label(model: Model) -> String {
    match model {
        Model::Weak => "weak (for information: over-reports)".to_owned(),
        Model::Posix | Model::Ext4 | Model::Xfs | Model::Btrfs | Model::Process => {
            model.name().to_owned()
        }
    }
}

/// The chosen models' names, with the `weak` warning.
pub fn models_label(power: &PowerSettings) -> String {
    let labels: Vec<String> = power.models().into_iter().map(model_label).collect();
    labels.join(", ")
}

/// The command that replays one crash state of `subject`, built under `model`.
pub fn replay_command(
    subject: &Subject,
    settings: &Settings,
    power: &PowerSettings,
    model: Model,
    state: &CrashState,
) -> String {
    let mut options: Vec<(&str, String)> = Vec::new();
    if let SubjectKind::Builtin { size_bytes } = &subject.kind {
        options.push(("--subject", subject.name.clone()));
        options.push(("--size", size_bytes.to_string()));
    }
    if settings.setup.is_none() {
        options.push(("--initial", initial_name(settings.initial).to_owned()));
    }
    options.push(("--model", model.name().to_owned()));
    if power.options.torn != Torn::Block {
        options.push(("--torn", power.options.torn.to_string()));
    }
    if power.options.fill != Fill::Zeros {
        options.push(("--fill", power.options.fill.name().to_owned()));
    }
    options.extend(crate::campaign::differing_options(settings));
    if matches!(subject.kind, SubjectKind::Command { .. })
        && subject.expect == torture_core::oracle::Expect::Caught
    {
        options.push(("--expect", "caught".to_owned()));
    }
    let saved = power.saved_traces.iter().find(|s| s.label == subject.label);
    if let Some(saved) = saved {
        options.push(("--trace", saved.path.to_string_lossy().into_owned()));
    }
    options.push(("--state", state.to_string()));
    let mut words = vec!["torture".to_owned(), "power".to_owned()];
    for (flag, value) in options {
        words.push(flag.to_owned());
        words.push(shell_quote(&value));
    }
    if let (SubjectKind::Command { argv }, None) = (&subject.kind, saved) {
        words.push("--".into());
        words.extend(argv.iter().map(|arg| shell_quote(&arg.to_string_lossy())));
    }
    words.join(" ")
}

fn classes(counts: ClassCounts) -> String {
    format!(
        "absent {:<4} old {:<4} new {:<4} torn {:<4}",
        counts.absent, counts.old, counts.new, counts.torn
    )
}

/// `    CAUGHT [  81920 states] rename  distinct 412  before ack: absent 0 ... after ack: ...`
pub fn status_line(result: &PowerResult, style: Style) -> String {
    let e = &result.exploration;
    let after = e.after_ack;
    let mut line = format!(
        "{} [{:>7} states] {:<17} distinct {:<6} before ack: {} after ack: {} violations {:<5} {:>9.0} states/s",
        style.status(result.status()),
        e.states_checked,
        result.subject.label,
        e.distinct_states,
        classes(e.classes.minus(after)),
        classes(after),
        result.violations(),
        result.states_per_second(),
    );
    let failures = result.recovery_failures();
    line.push_str(&format!(
        "  recovered {}/{}",
        result.recoveries.len() as u64 - failures,
        result.recoveries.len()
    ));
    if let Some(checks) = checked_trees(result) {
        line.push_str(&format!("  {checks}"));
    }
    if let Some(bound) = not_exhaustive(result) {
        line.push_str(&format!("  {bound}"));
    }
    line
}

/// "checked 37 distinct trees of 412 states (120 trees/s)", under `--check`.
pub fn checked_trees(result: &PowerResult) -> Option<String> {
    let checks = result.checks.as_ref()?;
    Some(format!(
        "checked {} of {} ({:.0} trees/s)",
        count_of(checks.distinct_trees, "distinct tree", "distinct trees"),
        count_of(result.exploration.states_checked, "state", "states"),
        checks.trees_per_second()
    ))
}

/// "not exhaustive: 500 of 65 539 states judged (time budget spent)", when it applies.
pub fn not_exhaustive(result: &PowerResult) -> Option<String> {
    let e = &result.exploration;
    if e.exhaustive || result.replay.is_some() {
        return None;
    }
    let why = match e.budget_spent {
        true => " (time budget spent)",
        false => "",
    };
    Some(format!(
        "not exhaustive: {} of {} states judged{why}",
        e.states_checked, e.state_space
    ))
}

/// The smallest diagnosis of a subject: its first finding's, else its first failed recovery.
pub fn smallest_diagnosis(result: &PowerResult) -> Option<String> {
    if let Some(finding) = result.exploration.findings.first() {
        return Some(match &finding.reason {
            Some(reason) => format!("the checker said {reason:?}: {}", finding.diagnosis.text),
            None => finding.diagnosis.text.clone(),
        });
    }
    result
        .recoveries
        .iter()
        .find_map(|r| r.failure)
        .map(|failure| format!("after a power cut, {}", Violation::Recovery(failure)))
}

fn finding_phrase(finding: &Finding) -> String {
    let side = match finding.before_ack {
        true => "before the acknowledgement",
        false => "after the acknowledgement",
    };
    if let Some(reason) = &finding.reason {
        return format!(
            "{} at {}: the checker said {reason:?}; {}",
            finding.violation.name(),
            finding.state,
            finding.diagnosis.text
        );
    }
    format!(
        "{} ({}, target {}) at {}: {}",
        finding.violation.name(),
        side,
        finding.class.name(),
        finding.state,
        finding.diagnosis.text
    )
}

/// Lines under a status line: notes, the replayed state, and findings and failed recoveries with
/// replay commands (every one for a subject that must pass, the smallest for a caught canary).
pub fn detail_lines(
    result: &PowerResult,
    settings: &Settings,
    power: &PowerSettings,
) -> Vec<String> {
    let indent = " ".repeat(11);
    let mut lines: Vec<String> = result
        .notes
        .iter()
        .map(|note| format!("{indent}note: {note}"))
        .collect();
    let replay = |model: Model, state: &CrashState| {
        replay_command(&result.subject, settings, power, model, state)
    };
    let shown = match result.status() {
        SubjectStatus::Passed => 0,
        SubjectStatus::Caught | SubjectStatus::NotCaughtInShard => 1,
        SubjectStatus::Failed
        | SubjectStatus::NotCaught
        | SubjectStatus::NotModelled
        | SubjectStatus::Incomplete => usize::MAX,
    };
    if let Some(holds) = &result.holds {
        lines.push(format!("{indent}{holds}"));
    }
    if let Some(replayed) = &result.replay {
        lines.extend(replay_lines(replayed, &indent));
    }
    for finding in result.exploration.findings.iter().take(shown) {
        lines.push(format!("{indent}{}", finding_phrase(finding)));
        lines.push(format!(
            "{indent}  replay: {}",
            replay(finding.model, &finding.state)
        ));
    }
    for recovery in result
        .recoveries
        .iter()
        .filter(|r| r.failure.is_some())
        .take(shown)
    {
        if let Some(failure) = recovery.failure {
            lines.push(format!(
                "{indent}after crash state {}: {}{}",
                recovery.state,
                Violation::Recovery(failure),
                checker_said(recovery.reason.as_deref())
            ));
            lines.push(format!(
                "{indent}  replay: {}",
                replay(recovery.model, &recovery.state)
            ));
        }
    }
    for (seq, why) in &result.exploration.unmodelled {
        lines.push(format!("{indent}not modelled: #{seq}: {why}"));
    }
    lines
}

/// `; the checker said "row 3 lost"`, when a checker gave a reason.
fn checker_said(reason: Option<&str>) -> String {
    reason.map_or(String::new(), |r| format!("; the checker said {r:?}"))
}

fn replay_lines(replayed: &StateReplay, indent: &str) -> Vec<String> {
    let side = match replayed.before_ack {
        true => "before",
        false => "after",
    };
    let verdict = match replayed.violation {
        Some(violation) => format!("violation: {}", violation.name()),
        None => "no violation".to_owned(),
    };
    let mut lines = vec![format!(
        "{indent}state {}: target {} ({side} the acknowledgement): {verdict}{}",
        replayed.state,
        replayed.class.name(),
        checker_said(replayed.reason.as_deref())
    )];
    if !replayed.leftovers.is_empty() {
        lines.push(format!(
            "{indent}other files: {}",
            replayed.leftovers.join(", ")
        ));
    }
    if let Some(dir) = &replayed.materialized {
        lines.push(format!("{indent}written to {}", dir.display()));
    }
    lines
}

/// `   Summary [  1.2s] 81920 states, 13 subjects: 5 passed, 8 caught, 0 failed; ...`
pub fn summary_line(run: &PowerRun, style: Style) -> String {
    let tally = Tally::of(run.subjects.iter().map(|s| s.status()));
    let failed = tally.failed;
    let states: u64 = run
        .subjects
        .iter()
        .map(|s| s.exploration.states_checked)
        .sum();
    let recoveries: usize = run.subjects.iter().map(|s| s.recoveries.len()).sum();
    let code = match run.all_as_expected() && matches!(run.end, RunEnd::Completed) {
        true => "1;32",
        false => "1;31",
    };
    format!(
        "{:>width$} [{:>7}] {}, {}: {} passed, {} caught, {failed} failed; model {}; {:.0} states/s in memory; {}",
        style.paint(code, "Summary"),
        format_seconds(run.elapsed),
        count_of(states, "crash state", "crash states"),
        count_of(run.subjects.len() as u64, "subject", "subjects"),
        tally.passed,
        count_of(tally.caught as u64, "canary", "canaries"),
        models_label(&run.power),
        rate(run),
        count_of(recoveries as u64, "recovery run", "recovery runs"),
        width = if style.color { 10 + 11 } else { 10 },
    )
}

/// Crash states per second over every subject's in-memory exploration.
pub fn rate(run: &PowerRun) -> f64 {
    let seconds: f64 = run
        .subjects
        .iter()
        .map(|s| s.explore_time.as_secs_f64())
        .sum();
    let states: u64 = run
        .subjects
        .iter()
        .map(|s| s.exploration.states_checked)
        .sum();
    match seconds > 0.0 {
        true => states as f64 / seconds,
        false => 0.0,
    }
}

/// One `results.jsonl` object for the subject.
pub fn subject_json(result: &PowerResult, power: &PowerSettings) -> Value {
    let e = &result.exploration;
    let counts =
        |c: ClassCounts| json!({"absent": c.absent, "old": c.old, "new": c.new, "torn": c.torn});
    json!({
        "kind": "subject",
        "subject": result.subject.label,
        "status": result.status().to_string(),
        "expect": result.subject.expect.to_string(),
        "model": power.options.model.name(),
        "models": power.models().iter().map(|m| m.name()).collect::<Vec<_>>(),
        "holds": result.holds.as_ref().map(ToString::to_string),
        "torn": power.options.torn.to_string(),
        "fill": power.options.fill.name(),
        "states_checked": e.states_checked,
        "distinct_states": e.distinct_states,
        "exhaustive": e.exhaustive,
        "budget_spent": e.budget_spent,
        "not_exhaustive": not_exhaustive(result),
        "state_space": e.state_space,
        "before_ack": counts(e.classes.minus(e.after_ack)),
        "after_ack": counts(e.after_ack),
        "violating_states": e.violating_states,
        "violations": result.violations(),
        "recovery_runs": result.recoveries.len(),
        "recovery_failures": result.recovery_failures(),
        "states_per_second": result.states_per_second(),
        "explore_seconds": result.explore_time.as_secs_f64(),
        "recovery_seconds": result.recovery_time.as_secs_f64(),
        "acknowledgement": result.ack.as_ref().map(|a| a.said.clone()),
        "diagnosis": smallest_diagnosis(result),
        "notes": result.notes,
        "outside_writes": result.golden.outside_writes,
        "replayed_state": result.replay.as_ref().map(|r| json!({
            "state": r.state.to_string(), "class": r.class.name(), "before_ack": r.before_ack,
            "violation": r.violation.map(|v| v.name()), "reason": r.reason,
        })),
        "distinct_trees_checked": result.checks.map(|c| c.distinct_trees),
        "trees_per_second": result.checks.map(|c| c.trees_per_second()),
        "check_seconds": result.checks.map(|c| c.check_time.as_secs_f64()),
    })
}

/// `results.jsonl` lines: each finding, each failed recovery run, then the subject.
pub fn result_lines(result: &PowerResult, run: &PowerRun) -> Vec<Value> {
    let replay = |model: Model, state: &CrashState| {
        replay_command(&result.subject, &run.settings, &run.power, model, state)
    };
    let mut lines: Vec<Value> = result
        .exploration
        .findings
        .iter()
        .map(|f| {
            json!({
                "kind": "finding", "subject": result.subject.label, "model": f.model.name(),
                "state": f.state.to_string(), "violation": f.violation.name(),
                "target": f.class.name(), "before_ack": f.before_ack, "leftovers": f.leftovers,
                "diagnosis": f.diagnosis.text, "reason": f.reason,
                "replay": replay(f.model, &f.state),
            })
        })
        .collect();
    for recovery in &result.recoveries {
        if let Some(failure) = recovery.failure {
            lines.push(json!({
                "kind": "recovery", "subject": result.subject.label,
                "model": recovery.model.name(), "state": recovery.state.to_string(),
                "diagnosis": format!("after a power cut, {}", Violation::Recovery(failure)),
                "reason": recovery.reason,
                "replay": replay(recovery.model, &recovery.state),
            }));
        }
    }
    lines.push(subject_json(result, &run.power));
    lines
}

/// Writes `summary.md`, `results.jsonl` and `junit.xml` into `dir`.
pub fn write_files(dir: &Path, run: &PowerRun) -> io::Result<()> {
    let mut results = String::new();
    for result in &run.subjects {
        for line in result_lines(result, run) {
            results.push_str(&serde_json::to_string(&line)?);
            results.push('\n');
        }
    }
    fs::write(dir.join("results.jsonl"), results)?;
    fs::write(dir.join("summary.md"), markdown(run))?;
    fs::write(dir.join("junit.xml"), junit(run).map_err(io::Error::other)?)
}

/// `summary.md`.
pub fn markdown(run: &PowerRun) -> String {
    let mut out = String::new();
    let o = &run.power.options;
    let _ = writeln!(out, "# torture power: {}\n", run.run_id);
    match &run.end {
        RunEnd::Completed => {}
        RunEnd::Interrupted => {
            out.push_str("**INTERRUPTED**: the run was stopped; this report is partial.\n\n")
        }
        RunEnd::Failed(e) => {
            let _ = writeln!(out, "**HARNESS ERROR**: {e}; this report is partial.\n");
        }
    }
    if run.subjects.is_empty() {
        out.push_str("No subject finished.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Models `{}`, torn unit `{}`, fill `{}`, at most {} states per subject, seed {}, `--initial {}`, \
         acknowledgement: {}.\n",
        models_label(&run.power),
        o.torn,
        o.fill.name(),
        o.max_states,
        o.seed,
        initial_name(run.settings.initial),
        run.settings
            .ack_line
            .as_ref()
            .map_or("exit 0".to_owned(), |r| format!(
                "first stdout line matching `{r}`"
            ))
    );
    let _ = writeln!(
        out,
        "| status | subject | states | distinct | before ack (absent/old/new/torn) | after ack (absent/old/new/torn) | violations | recovery runs (failed) | states/s |\n|---|---|---:|---:|---|---|---:|---:|---:|"
    );
    for r in &run.subjects {
        let e = &r.exploration;
        let c = |c: ClassCounts| format!("{}/{}/{}/{}", c.absent, c.old, c.new, c.torn);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} ({}) | {:.0} |",
            r.status(),
            r.subject.label,
            e.states_checked,
            e.distinct_states,
            c(e.classes.minus(e.after_ack)),
            c(e.after_ack),
            r.violations(),
            r.recoveries.len(),
            r.recovery_failures(),
            r.states_per_second()
        );
    }
    out.push_str(&speed_section(run));
    out.push_str(&findings_section(run));
    out
}

fn speed_section(run: &PowerRun) -> String {
    let mut out = String::from("\n## Speed\n\n");
    let explore: f64 = run
        .subjects
        .iter()
        .map(|s| s.explore_time.as_secs_f64())
        .fold(0.0, |a, b| a + b);
    let recover: f64 = run
        .subjects
        .iter()
        .map(|s| s.recovery_time.as_secs_f64())
        .fold(0.0, |a, b| a + b);
    let recoveries: usize = run.subjects.iter().map(|s| s.recoveries.len()).sum();
    let _ = writeln!(
        out,
        "{:.0} crash states checked per second in memory ({:.2} s of exploration); {} in {:.2} s, \
         counted apart.",
        rate(run),
        explore,
        count_of(recoveries as u64, "recovery run", "recovery runs"),
        recover
    );
    for r in &run.subjects {
        if let Some(checks) = checked_trees(r) {
            let _ = writeln!(out, "\n`{}`: --check {checks}.", r.subject.label);
        }
    }
    if run.power.options.model == Model::Process {
        out.push_str(
            "\nThe `process` model covers every byte and every syscall boundary, as `torture kill --exhaustive` \
             does, without a process per point:\n\n| subject | kill points (`kill --exhaustive` spawns one traced writer and one recovery run each) | states judged in memory | exploration |\n|---|---:|---:|---:|\n",
        );
        for r in &run.subjects {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.3} s |",
                r.subject.label,
                r.golden.space.all().len(),
                r.exploration.states_checked,
                r.explore_time.as_secs_f64()
            );
        }
    }
    out
}

fn findings_section(run: &PowerRun) -> String {
    let mut out = String::new();
    for r in run.subjects.iter().filter(|r| r.violations() > 0) {
        let _ = writeln!(out, "\n## {} ({})\n", r.subject.label, r.status());
        for f in &r.exploration.findings {
            let _ = writeln!(out, "- {}", finding_phrase(f));
            let _ = writeln!(
                out,
                "  `{}`",
                replay_command(&r.subject, &run.settings, &run.power, f.model, &f.state)
            );
        }
        for recovery in r.recoveries.iter().filter(|x| x.failure.is_some()) {
            if let Some(failure) = recovery.failure {
                let _ = writeln!(
                    out,
                    "- after crash state {}: {}{}",
                    recovery.state,
                    Violation::Recovery(failure),
                    checker_said(recovery.reason.as_deref())
                );
            }
        }
    }
    out
}

/// `junit.xml`: a suite per subject, its expectation case, and a failing case per finding of a
/// subject that must pass.
pub fn junit(run: &PowerRun) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("torture power");
    report.set_time(run.elapsed);
    for result in &run.subjects {
        let name = format!("torture-power::{}", result.subject.label);
        let mut suite = TestSuite::new(name.clone());
        suite.set_time(result.explore_time + result.recovery_time);
        suite.add_test_case(expectation_case(result));
        if result.status() == SubjectStatus::Failed {
            for f in &result.exploration.findings {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(finding_phrase(f));
                status.set_description(format!(
                    "replay: {}",
                    replay_command(
                        &result.subject,
                        &run.settings,
                        &run.power,
                        f.model,
                        &f.state
                    )
                ));
                let mut case = TestCase::new(format!("power cut at {}", f.state), status);
                case.set_classname(name.clone());
                suite.add_test_case(case);
            }
        }
        report.add_test_suite(suite);
    }
    if let Some(message) = unfinished(&run.end) {
        let mut suite = TestSuite::new("torture harness");
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(message);
        suite.add_test_case(TestCase::new("power run incomplete", status));
        report.add_test_suite(suite);
    }
    report.to_string()
}

fn unfinished(end: &RunEnd) -> Option<String> {
    match end {
        RunEnd::Completed => None,
        RunEnd::Interrupted => {
            Some("the run was interrupted (Ctrl-C): results are incomplete".to_owned())
        }
        RunEnd::Failed(e) => Some(e.to_string()),
    }
}

fn expectation_case(result: &PowerResult) -> TestCase {
    let message = format!(
        "{} checked, {} distinct, {} violating; {}, {} failed; {}{}",
        count_of(
            result.exploration.states_checked,
            "crash state",
            "crash states"
        ),
        result.exploration.distinct_states,
        result.exploration.violating_states,
        count_of(
            result.recoveries.len() as u64,
            "recovery run",
            "recovery runs"
        ),
        result.recovery_failures(),
        smallest_diagnosis(result).unwrap_or_default(),
        not_exhaustive(result)
            .map(|bound| format!("; {bound}"))
            .unwrap_or_default()
    );
    let status = match result.status() {
        SubjectStatus::Passed | SubjectStatus::Caught | SubjectStatus::NotCaughtInShard => {
            TestCaseStatus::success()
        }
        SubjectStatus::Failed
        | SubjectStatus::NotCaught
        | SubjectStatus::NotModelled
        | SubjectStatus::Incomplete => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(message.clone());
            status
        }
    };
    let mut case = TestCase::new(
        format!("expect {} under a power cut", result.subject.expect),
        status,
    );
    case.set_system_out(message);
    case
}
