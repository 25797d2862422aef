//! `summary.md`: tables a person reads, fit for a CI step summary.

use std::fmt::Write as _;

use super::records::describe_violations;
use super::terminal::format_seconds;
use crate::campaign::{self, RunEnd, RunResult, SubjectKind, SubjectResult, TrialRecord};
use torture_core::oracle::{Expect, SubjectStatus};

/// Violations listed per subject in the Markdown; the rest are in `results.jsonl`.
const MAX_LISTED_VIOLATIONS: usize = 10;

/// Renders the whole summary.
pub fn summary(run: &RunResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# torture kill: run {}\n", run.run_id);
    let _ = writeln!(out, "{}\n", headline(run));
    let _ = writeln!(out, "{}\n", settings_line(run));
    subjects_table(&mut out, run);
    speed_table(&mut out, run);
    violations_section(&mut out, run);
    spaces_table(&mut out, run);
    notes_section(&mut out, run);
    out
}

fn headline(run: &RunResult) -> String {
    match &run.end {
        RunEnd::Interrupted => "**INTERRUPTED** (Ctrl-C): partial results below.".to_owned(),
        RunEnd::Failed(e) => format!("**HARNESS ERROR**: {}", first_line(&e.to_string())),
        RunEnd::Completed if run.all_as_expected() => {
            "**PASS**: every subject behaved as expected (correct writers never torn, canaries caught).".to_owned()
        }
        RunEnd::Completed => {
            let bad: Vec<String> = run
                .subjects
                .iter()
                .filter(|s| !s.status().as_expected())
                .map(|s| format!("`{}` ({})", s.subject.label, s.status()))
                .collect();
            format!("**FAIL**: {}.", bad.join(", "))
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn settings_line(run: &RunResult) -> String {
    let s = &run.settings;
    let partition = match s.partition {
        Some(partition) => format!(" · partition `{partition}`"),
        None => String::new(),
    };
    format!(
        "{}{partition} · `--initial {}` · seed `{}` · {} · per-run timeout {} ms · sandboxes under `{}` · {}",
        campaign::selection_name(s.selection),
        campaign::initial_name(s.initial),
        s.seed,
        super::terminal::count_of(s.jobs as u64, "job", "jobs"),
        s.timeout_ms,
        s.dir.display(),
        format_seconds(run.elapsed)
    )
}

fn subjects_table(out: &mut String, run: &RunResult) {
    let _ = writeln!(out, "## Subjects\n");
    let _ = writeln!(
        out,
        "| subject | expected | result | trials | absent | old | new | torn | orphans | orphans after recovery | recovery failures | violations | smallest violating kill point | trials/s |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
    );
    for result in &run.subjects {
        let c = result.counts();
        let (by_byte, by_syscall) = result.smallest_violations();
        let smallest: Vec<String> = [by_byte, by_syscall]
            .into_iter()
            .flatten()
            .map(|t| format!("`{}`", t.point))
            .collect();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            result.subject.label,
            result.subject.expect.label(),
            status_text(result.status()),
            c.trials,
            if result.incomplete {
                format!(" of {}", result.planned_trials)
            } else {
                String::new()
            },
            c.absent,
            c.old,
            c.new,
            c.torn,
            c.orphans,
            c.orphans_after_recovery,
            c.recovery_failures,
            c.violations,
            if smallest.is_empty() {
                "–".to_owned()
            } else {
                smallest.join(", ")
            },
            result.trials_per_second()
        );
    }
    let _ = writeln!(
        out,
        "\n`orphans`: trials whose crash left files besides the target; `orphans after recovery`: trials where \
         they were still there after the writer ran again (a failure under `--strict`). A canary (`caught`) must \
         show violations; if it does not, the harness itself has failed.\n"
    );
}

fn status_text(status: SubjectStatus) -> String {
    match status {
        SubjectStatus::Passed | SubjectStatus::Caught => format!("✅ {status}"),
        SubjectStatus::NotCaughtInShard => format!("⏳ {status} (not caught in this shard)"),
        SubjectStatus::Failed
        | SubjectStatus::NotCaught
        | SubjectStatus::NotModelled
        | SubjectStatus::Incomplete => {
            format!("❌ **{status}**")
        }
    }
}

fn speed_table(out: &mut String, run: &RunResult) {
    let _ = writeln!(out, "## Speed\n");
    let _ = writeln!(
        out,
        "| subject | trials/s | baseline runs/s | ratio | baseline |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|---|");
    for result in &run.subjects {
        let rate = result.trials_per_second();
        let (baseline, ratio, what) = match &result.baseline {
            Some(b) if b.per_second > 0.0 => (
                format!("{:.1}", b.per_second),
                format!("{:.2}x", rate / b.per_second),
                b.what.clone(),
            ),
            Some(_) | None => ("–".to_owned(), "–".to_owned(), "not measured".to_owned()),
        };
        let _ = writeln!(
            out,
            "| `{}` | {rate:.1} | {baseline} | {ratio} | {what} |",
            result.subject.label
        );
    }
    let _ = writeln!(
        out,
        "\nEach baseline is measured in this run, right before the subject's trials, with the same `--jobs` ({}). \
         A trial is a traced run to the kill point, the oracle's checks and an uncrashed recovery run (built-in \
         writers recover in-process: the same strategy code `torture-writer` runs, without a process start); \
         target ratio for built-in writers: at least 0.5x.\n",
        run.settings.jobs
    );
    if let Some(speed) = super::terminal::speed_phrase(run) {
        let _ = writeln!(out, "Built-in writers overall: {speed}.\n");
    }
}

fn violations_section(out: &mut String, run: &RunResult) {
    let with_violations: Vec<&SubjectResult> = run
        .subjects
        .iter()
        .filter(|s| s.counts().violations > 0)
        .collect();
    if with_violations.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Violations\n");
    for result in with_violations {
        let label = match result.subject.expect {
            Expect::Caught => "canary: violations expected",
            Expect::Pass => "**unexpected**",
        };
        let _ = writeln!(out, "### `{}` ({label})\n", result.subject.label);
        let violating: Vec<&TrialRecord> = match result.status() {
            // A caught canary: its smallest examples say enough.
            SubjectStatus::Caught => {
                let (by_byte, by_syscall) = result.smallest_violations();
                [by_byte, by_syscall].into_iter().flatten().collect()
            }
            SubjectStatus::Passed
            | SubjectStatus::Failed
            | SubjectStatus::NotCaught
            | SubjectStatus::NotCaughtInShard
            | SubjectStatus::NotModelled
            | SubjectStatus::Incomplete => result
                .trials
                .iter()
                .filter(|t| !t.violations.is_empty())
                .collect(),
        };
        for trial in violating.iter().take(MAX_LISTED_VIOLATIONS) {
            let replay = campaign::replay_command(&result.subject, &run.settings, trial.point);
            let _ = writeln!(
                out,
                "- `{}`: {}  \n  replay: `{replay}`",
                trial.point,
                describe_violations(trial)
            );
        }
        let unlisted = result
            .counts()
            .violations
            .saturating_sub(violating.len().min(MAX_LISTED_VIOLATIONS) as u64);
        if unlisted > 0 {
            let _ = writeln!(
                out,
                "- … and {unlisted} more: every trial with its replay command is in `results.jsonl`"
            );
        }
        let _ = writeln!(out);
    }
}

fn spaces_table(out: &mut String, run: &RunResult) {
    let _ = writeln!(out, "## Writers\n");
    let _ = writeln!(
        out,
        "| subject | runs | kill space: bytes | syscall boundaries | old size | new size | content check |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|---|");
    for result in &run.subjects {
        let runs = match &result.subject.kind {
            SubjectKind::Builtin { size_bytes } => {
                format!("built-in, {size_bytes}-byte JSON payload")
            }
            SubjectKind::Command { argv } => {
                let words: Vec<String> = argv
                    .iter()
                    .map(|a| campaign::shell_quote(&a.to_string_lossy()))
                    .collect();
                format!("`{}`", words.join(" "))
            }
        };
        let Some(golden) = &result.golden else {
            continue;
        };
        let _ = writeln!(
            out,
            "| `{}` | {runs} | {} | {} | {} | {} | {} |",
            result.subject.label,
            golden.space.total_bytes,
            golden.space.boundaries.len(),
            golden
                .old_len
                .map_or_else(|| "–".to_owned(), |n| n.to_string()),
            golden.new_len,
            golden.validation
        );
    }
    let _ = writeln!(out);
}

fn notes_section(out: &mut String, run: &RunResult) {
    let notes: Vec<String> = run
        .subjects
        .iter()
        .flat_map(|s| {
            let golden_notes = s.golden.iter().flat_map(|g| g.notes.iter().cloned());
            golden_notes.map(move |note| format!("- `{}`: {note}", s.subject.label))
        })
        .collect();
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Notes\n");
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use torture_core::oracle::Expect;

    #[test]
    fn a_failing_run_names_the_subject_and_lists_its_violations() {
        let run = fixture::run(vec![
            fixture::subject("plain", Expect::Caught, 4, 4),
            fixture::subject("intact", Expect::Pass, 4, 2),
        ]);
        let md = summary(&run);
        assert!(md.contains("**FAIL**: `intact` (FAIL)."), "{md}");
        assert!(
            md.contains("| `intact` | pass | ❌ **FAIL** | 4 | 0 | 2 | 0 | 2 |"),
            "{md}"
        );
        assert!(md.contains("### `intact` (**unexpected**)"), "{md}");
        assert!(md.contains("replay: `torture kill --subject intact --size 4096 --initial old --seed 7 --kill-at byte:2`"), "{md}");
        assert!(md.contains("| `plain` | 8.0 | 400.0 | 0.02x |"), "{md}");
    }

    #[test]
    fn a_passing_run_says_pass() {
        let run = fixture::run(vec![fixture::subject("intact", Expect::Pass, 4, 0)]);
        let md = summary(&run);
        assert!(
            md.starts_with("# torture kill: run 20260101-000000-1\n\n**PASS**"),
            "{md}"
        );
        assert!(!md.contains("## Violations"), "{md}");
    }
}
