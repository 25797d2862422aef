//! What a run tells people and CI: terminal output (progress bar on a terminal, plain lines
//! otherwise, or `--format json`), and `reports/<run>/` with `summary.md`, `results.jsonl`,
//! `subjects.jsonl`, `run.json`, `junit.xml` and the golden traces. The JSON files read back
//! ([`records::read_run`]), so `torture merge` ([`merge`]) can join the shards of a campaign.

pub mod errors;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod power;
pub mod race;
pub mod records;
pub mod summary;
pub mod table;
pub mod terminal;

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::campaign::{
    GoldenSummary, Observer, Plan, RunResult, Selection, Subject, SubjectResult, TrialRecord,
};
use terminal::Style;
use torture_core::trace::Trace;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Status lines for people.
    Human,
    /// One JSON object per subject per line on stdout.
    Json,
}

/// Creates `<base>/<run_id>/traces/` and returns `<base>/<run_id>`.
pub fn prepare_dir(base: &Path, run_id: &str) -> io::Result<PathBuf> {
    let dir = base.join(run_id);
    fs::create_dir_all(dir.join("traces"))?;
    Ok(dir)
}

/// Removes a report directory that never got anything but its empty `traces/`.
pub fn discard_empty_dir(dir: &Path) {
    let _ = fs::remove_dir(dir.join("traces"));
    let _ = fs::remove_dir(dir);
}

/// Prints progress and results, and writes the report files.
#[derive(Debug)]
pub struct Reporter {
    format: OutputFormat,
    style: Style,
    interactive: bool,
    progress: Option<ProgressBar>,
    report_dir: Option<PathBuf>,
    settings: crate::campaign::Settings,
    warnings: Vec<String>,
    /// Violating trials of the current subject, for the progress bar.
    violations_so_far: u64,
}

impl Reporter {
    /// A reporter for `plan`; `report_dir` is `None` with `--no-report`.
    pub fn new(format: OutputFormat, plan: &Plan, report_dir: Option<PathBuf>) -> Reporter {
        let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Reporter {
            format,
            style: Style { color },
            interactive: io::stderr().is_terminal(),
            progress: None,
            report_dir,
            settings: plan.settings.clone(),
            warnings: Vec::new(),
            violations_so_far: 0,
        }
    }

    /// Prints what the run is about to do.
    pub fn header(&self, plan: &Plan) {
        if self.format == OutputFormat::Json {
            return;
        }
        let s = &plan.settings;
        let selection = match s.selection {
            Selection::Sample { trials } => format!("{trials} kill points each"),
            Selection::Exhaustive => "every kill point".to_owned(),
            Selection::One(point) => format!("replaying {point}"),
        };
        let names: Vec<String> = plan
            .subjects
            .iter()
            .map(|s| match s.selection {
                Some(Selection::Exhaustive) => format!("{}: every kill point", s.label),
                Some(Selection::Sample { trials }) => format!("{}: {trials} kill points", s.label),
                Some(Selection::One(point)) => format!("{}: {point}", s.label),
                None => s.label.clone(),
            })
            .collect();
        let partition = match s.partition {
            Some(partition) => format!(", partition {partition}"),
            None => String::new(),
        };
        self.print(&format!(
            "  Starting {} ({}): {selection}{partition}, --initial {}, seed {}, {}, sandboxes in {}",
            terminal::count_of(plan.subjects.len() as u64, "subject", "subjects"),
            names.join(", "),
            crate::campaign::initial_name(s.initial),
            s.seed,
            terminal::count_of(s.jobs as u64, "job", "jobs"),
            s.dir.display()
        ));
    }

    fn print(&self, line: &str) {
        match &self.progress {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    /// Prints the summary line and writes the report files. Returns the report directory.
    pub fn finish(&mut self, run: &RunResult) -> Option<PathBuf> {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        if self.format == OutputFormat::Human && !run.subjects.is_empty() {
            self.print(&terminal::summary_line(run, self.style));
        }
        let dir = self.report_dir.clone()?;
        match write_files(&dir, run) {
            Ok(()) => {
                link_latest(&dir);
                if self.format == OutputFormat::Human {
                    self.print(&format!("    Report {}", dir.join("summary.md").display()));
                }
            }
            Err(e) => eprintln!("error: cannot write the report to {}: {e}", dir.display()),
        }
        for warning in &self.warnings {
            eprintln!("warning: {warning}");
        }
        Some(dir)
    }

    fn write_trace(&mut self, subject: &Subject, trace: &Trace) {
        let Some(dir) = &self.report_dir else { return };
        let path = dir.join("traces").join(format!(
            "{}.trace.jsonl",
            crate::sandbox::plain_component(&subject.label)
        ));
        let written = fs::File::create(&path).and_then(|file| {
            let mut out = BufWriter::new(file);
            trace.write_jsonl(&mut out)?;
            out.flush()
        });
        if let Err(e) = written {
            self.warnings.push(format!(
                "cannot write the golden trace {}: {e}",
                path.display()
            ));
        }
    }

    fn start_progress(&mut self, subject: &Subject, golden: &GoldenSummary, planned: u64) {
        self.violations_so_far = 0;
        if !self.interactive {
            if self.format == OutputFormat::Human {
                self.print(&format!(
                    "     START {}: {} over {} and {}",
                    subject.label,
                    terminal::count_of(planned, "trial", "trials"),
                    terminal::count_of(golden.space.total_bytes, "byte", "bytes"),
                    terminal::count_of(
                        golden.space.boundaries.len() as u64,
                        "syscall boundary",
                        "syscall boundaries"
                    )
                ));
            }
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr());
        let template =
            "{prefix:>10.green.bold} [{elapsed_precise}] [{bar:30}] {pos:>6}/{len:6} {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix("Running");
        bar.set_message(subject.label.clone());
        bar.enable_steady_tick(Duration::from_millis(100));
        self.progress = Some(bar);
    }
}

impl Observer for Reporter {
    fn subject_started(
        &mut self,
        subject: &Subject,
        golden: &GoldenSummary,
        trace: &Trace,
        planned_trials: u64,
    ) {
        self.write_trace(subject, trace);
        self.start_progress(subject, golden, planned_trials);
    }

    fn trial_finished(&mut self, subject: &Subject, record: &TrialRecord) {
        if !record.violations.is_empty() {
            self.violations_so_far += 1;
        }
        if let Some(bar) = &self.progress {
            bar.inc(1);
            if !record.violations.is_empty() {
                bar.set_message(format!(
                    "{} ({} violating)",
                    subject.label, self.violations_so_far
                ));
            }
        }
    }

    fn subject_finished(&mut self, result: &SubjectResult) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        match self.format {
            OutputFormat::Human => {
                self.print(&terminal::status_line(result, self.style));
                for line in terminal::detail_lines(result, &self.settings, self.style) {
                    self.print(&line);
                }
                if matches!(self.settings.selection, Selection::One(_)) {
                    for line in terminal::replay_lines(result) {
                        self.print(&line);
                    }
                }
            }
            OutputFormat::Json => {
                let line =
                    records::subject_line(result, &self.settings, self.report_dir.as_deref());
                match serde_json::to_string(&line) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!(
                        "error: cannot encode the summary of {}: {e}",
                        result.subject.label
                    ),
                }
            }
        }
    }
}

/// Prints a whole run at once (what `torture merge` shows): a status line per subject with its
/// details, then the summary line; or, with `--format json`, a subject line each.
pub fn print_run(format: OutputFormat, run: &RunResult, report_dir: &Path) {
    let style = Style {
        color: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    for result in &run.subjects {
        match format {
            OutputFormat::Human => {
                println!("{}", terminal::status_line(result, style));
                for line in terminal::detail_lines(result, &run.settings, style) {
                    println!("{line}");
                }
            }
            OutputFormat::Json => {
                let line = records::subject_line(result, &run.settings, Some(report_dir));
                match serde_json::to_string(&line) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("error: cannot encode the summary of {}: {e}", line.subject)
                    }
                }
            }
        }
    }
    if format == OutputFormat::Human {
        println!("{}", terminal::summary_line(run, style));
        println!("    Report {}", report_dir.join("summary.md").display());
    }
}

/// Writes `results.jsonl`, `subjects.jsonl`, `run.json`, `summary.md` and `junit.xml` into `dir`.
pub fn write_files(dir: &Path, run: &RunResult) -> io::Result<()> {
    let mut results = BufWriter::new(fs::File::create(dir.join("results.jsonl"))?);
    let mut subjects = BufWriter::new(fs::File::create(dir.join("subjects.jsonl"))?);
    for result in &run.subjects {
        for trial in &result.trials {
            serde_json::to_writer(
                &mut results,
                &records::trial_line(result, &run.settings, trial),
            )?;
            results.write_all(b"\n")?;
        }
        let line = records::subject_line(result, &run.settings, Some(dir));
        serde_json::to_writer(&mut subjects, &line)?;
        subjects.write_all(b"\n")?;
    }
    results.flush()?;
    subjects.flush()?;
    let run_line = serde_json::to_vec_pretty(&records::run_line(run))?;
    fs::write(dir.join("run.json"), run_line)?;
    fs::write(dir.join("summary.md"), markdown::summary(run))?;
    let junit = junit::junit(run).map_err(io::Error::other)?;
    fs::write(dir.join("junit.xml"), junit)
}

/// Points `<base>/latest` at this run, so CI can find it (`reports/latest/summary.md`).
/// Only ever replaces a symlink.
fn link_latest(dir: &Path) {
    let (Some(base), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let latest = base.join("latest");
    let replaceable = match fs::symlink_metadata(&latest) {
        Ok(metadata) => metadata.file_type().is_symlink() && fs::remove_file(&latest).is_ok(),
        Err(_) => true,
    };
    if replaceable {
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
}

/// Results built by hand for the formatting tests.
#[cfg(test)]
pub(crate) mod fixture {
    use std::path::PathBuf;
    use std::time::Duration;

    use crate::campaign::{
        Baseline, GoldenSummary, RecoveryRecord, RunEnd, RunResult, Selection, Settings, Subject,
        SubjectKind, SubjectResult, TrialRecord,
    };
    use torture_core::killpoint::{Boundary, KillPoint, KillSpace, When};
    use torture_core::oracle::{
        Ack, Coverage, Expect, Initial, RunExit, Validity, Verdict, Violation,
    };

    pub fn settings() -> Settings {
        Settings {
            initial: Initial::Old,
            validation: crate::campaign::ValidationChoice::Auto,
            selection: Selection::Sample { trials: 100 },
            seed: 7,
            jobs: 2,
            timeout_ms: crate::campaign::DEFAULT_TIMEOUT_MS,
            dir: crate::sandbox::default_dir(),
            target: PathBuf::from("target.json"),
            unit: crate::campaign::UnitSpec::default(),
            strict: false,
            partition: None,
            ack_line: None,
            setup: None,
            recover: None,
        }
    }

    fn trial(number: u64, point: KillPoint, torn: bool) -> TrialRecord {
        let verdict = match torn {
            true => Verdict::Torn {
                parses: Validity::Invalid,
                first_diff_offset: 5,
                len_bytes: 5,
            },
            false => Verdict::Old,
        };
        TrialRecord {
            number,
            point,
            end: crate::tracer::Outcome::Killed { point },
            writer: crate::tracer::WriterAck::default(),
            verdict,
            reason: None,
            ack: Ack::Pending,
            target_kind: None,
            orphans: Vec::new(),
            recovery: Some(RecoveryRecord {
                exit: RunExit::Code(0),
                verdict: Verdict::New { index: Some(0) },
                failure: None,
                reason: None,
                orphans: Vec::new(),
            }),
            violations: if torn {
                vec![Violation::Torn]
            } else {
                Vec::new()
            },
        }
    }

    /// `torn` of `trials` trials tear the target (byte points first, then one syscall point).
    pub fn subject(name: &str, expect: Expect, trials: u64, torn: u64) -> SubjectResult {
        let records = (0..trials)
            .map(|n| {
                let point = if n + 1 == trials {
                    KillPoint::Syscall(1)
                } else {
                    KillPoint::Byte(n + 1)
                };
                trial(n, point, n < torn)
            })
            .collect();
        let boundary = |index, when| Boundary {
            index,
            when,
            syscall: "openat".into(),
            path: "target.json".into(),
            seq: None,
        };
        SubjectResult {
            subject: Subject {
                name: name.into(),
                label: name.into(),
                kind: SubjectKind::Builtin { size_bytes: 4096 },
                expect,
                selection: None,
            },
            fingerprint: "0123456789abcdef".into(),
            coverage: Coverage::Whole,
            selected_points: trials,
            golden: Some(GoldenSummary {
                space: KillSpace {
                    total_bytes: 4096,
                    boundaries: vec![boundary(0, When::Before), boundary(1, When::After)],
                },
                old_len: Some(4096),
                new_len: 4096,
                goldens_agree: true,
                disagreement_offset: None,
                unmodelled: Vec::new(),
                validation: "json (auto)".into(),
                notes: Vec::new(),
                outside_writes: Vec::new(),
                outside_is_violation: false,
                left_running: Vec::new(),
                trace: torture_core::trace::Trace::new("/s".into(), vec!["w".into()]),
            }),
            trials: records,
            planned_trials: trials,
            trial_time: Duration::from_millis(500),
            baseline: Some(Baseline {
                what: "spawn and reap `torture-writer --help`".into(),
                runs: 100,
                per_second: 400.0,
            }),
            incomplete: false,
        }
    }

    pub fn run(subjects: Vec<SubjectResult>) -> RunResult {
        RunResult {
            run_id: "20260101-000000-1".into(),
            settings: settings(),
            subjects,
            end: RunEnd::Completed,
            elapsed: Duration::from_secs(1),
        }
    }
}
