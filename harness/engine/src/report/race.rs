//! Reports of `torture race`: one fixed-width status line per subject, the smallest diagnosis
//! and its replay line, one summary line, and `summary.md`, `results.jsonl`, `junit.xml`.

use std::io;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use crate::campaign::race::{RaceResult, RaceSettings};
use torture_core::oracle::SubjectStatus;
use torture_core::race::oracle::Mode;

/// `    CAUGHT [    12 interleavings] fixed-temp        steps 340    reads 340    leftovers 1   41.2 interleavings/s`
pub fn status_line(result: &RaceResult) -> String {
    let mut line = format!(
        "{:>10} [{:>6} interleavings] {:<17} steps {:<7} reads {:<7} leftovers {:<3} {:>7.1} interleavings/s",
        result.status.to_string(),
        result.explored,
        result.label,
        result.steps,
        result.reads_checked,
        result.max_leftovers,
        result.interleavings_per_second(),
    );
    if result.exhaustive {
        line.push_str("  (every schedule within the bound)");
    }
    line
}

/// The lines under a subject's status line, indented: its notes, the writers that failed
/// cleanly, then the diagnosis and replay line; empty without any.
pub fn finding_lines(result: &RaceResult) -> Vec<String> {
    let mut lines: Vec<String> = result
        .notes
        .iter()
        .map(|note| format!("    note: {note}"))
        .collect();
    lines.extend(clean_failure_lines(result));
    let Some(finding) = &result.finding else {
        return lines;
    };
    lines.extend(
        finding
            .diagnosis
            .lines
            .iter()
            .map(|line| format!("    {line}")),
    );
    lines.push(format!("    replay: {}", finding.replay));
    lines
}

/// `    allowed (4 runs failed cleanly): writer 2 found ... without touching the target`.
fn clean_failure_lines(result: &RaceResult) -> Vec<String> {
    result
        .clean_failures
        .iter()
        .map(|told| {
            format!(
                "    allowed ({} runs failed cleanly): {told}",
                result.clean_failure_runs
            )
        })
        .collect()
}

/// `race: 5 subjects, 3 passed, 2 caught, 0 failed; 412 interleavings in 9.1 s (45.2/s)`.
pub fn summary_line(results: &[RaceResult], elapsed: Duration) -> String {
    let count = |status: SubjectStatus| results.iter().filter(|r| r.status == status).count();
    let explored: u64 = results.iter().map(|r| r.explored).sum();
    let failed = results.iter().filter(|r| !r.status.as_expected()).count();
    format!(
        "race: {} subjects, {} passed, {} caught, {} not as expected; {} interleavings in {:.1} s ({:.1}/s)",
        results.len(),
        count(SubjectStatus::Passed),
        count(SubjectStatus::Caught),
        failed,
        explored,
        elapsed.as_secs_f64(),
        per_second(explored, elapsed),
    )
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Replace => "replace",
        Mode::NoClobber => "no-clobber",
    }
}

/// `summary.md`: a table of subjects with interleavings explored per second, then findings.
pub fn markdown(results: &[RaceResult], settings: &RaceSettings, elapsed: Duration) -> String {
    let mut out = format!(
        "# torture race\n\n{} writers per race, seed {}, {} random + {} PCT schedules, bounded search up to {} preemptions{}.\n\n",
        settings.writers,
        settings.seed,
        settings.schedules,
        settings.schedules,
        settings.preemptions,
        if settings.kill {
            ", one writer SIGKILLed per schedule"
        } else {
            ""
        },
    );
    out.push_str("| subject | mode | expected | verdict | interleavings | steps | reads checked | leftovers | interleavings explored per second |\n");
    out.push_str("|---|---|---|---|---:|---:|---:|---:|---:|\n");
    for r in results {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {:.1} |\n",
            r.label,
            mode_name(r.mode),
            r.expect.label(),
            r.status,
            r.explored,
            r.steps,
            r.reads_checked,
            r.max_leftovers,
            r.interleavings_per_second()
        ));
    }
    out.push_str(&format!("\n{}\n", summary_line(results, elapsed)));
    for r in results {
        for note in &r.notes {
            out.push_str(&format!("\n`{}`: note: {note}\n", r.label));
        }
        for told in &r.clean_failures {
            out.push_str(&format!(
                "\n`{}`: allowed ({} runs failed cleanly): {told}\n",
                r.label, r.clean_failure_runs
            ));
        }
        if let Some(finding) = &r.finding {
            out.push_str(&format!(
                "\n## `{}`: {}\n\n```text\n",
                r.label, finding.kind
            ));
            out.push_str(&finding.diagnosis.to_string());
            out.push_str(&format!("\n```\n\nReplay: `{}`\n", finding.replay));
        }
    }
    out
}

/// `results.jsonl`: one line per subject.
pub fn jsonl(results: &[RaceResult], settings: &RaceSettings) -> String {
    results
        .iter()
        .map(|r| {
            let finding = r.finding.as_ref().map(|f| {
                json!({
                    "kind": f.kind,
                    "violation": f.violation,
                    "found": f.found.to_string(),
                    "schedule": f.schedule.to_string(),
                    "diagnosis": f.diagnosis.lines,
                    "replay": f.replay,
                })
            });
            let line = json!({
                "subject": r.label,
                "mode": mode_name(r.mode),
                "expect": r.expect.label(),
                "status": r.status.to_string(),
                "as_expected": r.status.as_expected(),
                "seed": settings.seed,
                "writers": settings.writers,
                "interleavings": r.explored,
                "steps": r.steps,
                "reads_checked": r.reads_checked,
                "max_leftovers": r.max_leftovers,
                "exhaustive": r.exhaustive,
                "elapsed_ms": r.elapsed.as_millis() as u64,
                "interleavings_per_second": r.interleavings_per_second(),
                "finding": finding,
                "clean_failures": r.clean_failures,
                "clean_failure_runs": r.clean_failure_runs,
                "notes": r.notes,
            });
            format!("{line}\n")
        })
        .collect()
}

/// `junit.xml`: one suite per subject, one case for its expectation.
pub fn junit(
    results: &[RaceResult],
    elapsed: Duration,
) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("torture race");
    report.set_time(elapsed);
    for r in results {
        let mut suite = TestSuite::new(format!("torture-race::{}", r.label));
        suite.set_time(r.elapsed);
        let status = if r.status.as_expected() {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(format!("{}: expected {}", r.status, r.expect.label()));
            if let Some(f) = &r.finding {
                status.set_description(format!("{}\nreplay: {}", f.diagnosis, f.replay));
            }
            status
        };
        let mut case = TestCase::new(format!("races as expected ({})", r.expect.label()), status);
        case.set_classname(format!("torture-race::{}", r.label));
        suite.add_test_case(case);
        report.add_test_suite(suite);
    }
    report.to_string()
}

/// Writes `summary.md`, `results.jsonl` and `junit.xml` into `dir`.
pub fn write_files(
    dir: &Path,
    results: &[RaceResult],
    settings: &RaceSettings,
    elapsed: Duration,
) -> io::Result<()> {
    std::fs::write(dir.join("summary.md"), markdown(results, settings, elapsed))?;
    std::fs::write(dir.join("results.jsonl"), jsonl(results, settings))?;
    let xml = junit(results, elapsed).map_err(io::Error::other)?;
    std::fs::write(dir.join("junit.xml"), xml)
}
