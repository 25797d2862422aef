//! The report in `reports/bench/<run>/`: `summary.md` for people, `results.json` for machines,
//! SVG charts, and `syscalls.md` with the traced syscall sequence of each strategy.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::chart::{self, Bar, BarChart, Group, Marker, Unit};
use super::error::BenchError;
use super::plan::{format_size, size_slug};
use super::results::{FsResult, RunResult, StrategyRow, TargetCheck};
use super::stats::Spread;

/// Writes every report file into `dir` (created if needed); returns the summary's path.
pub fn write_report(dir: &Path, run: &RunResult) -> Result<PathBuf, BenchError> {
    fs::create_dir_all(dir)
        .map_err(|error| BenchError::io("create report directory", dir, error))?;
    let json = serde_json::to_string_pretty(run)
        .map_err(|error| BenchError::io("serialise results for", dir, error.into()))?;
    write_file(&dir.join("results.json"), &(json + "\n"))?;
    let charts = write_charts(dir, run)?;
    write_file(&dir.join("syscalls.md"), &syscalls_markdown(run))?;
    let summary = dir.join("summary.md");
    write_file(&summary, &summary_markdown(run, &charts))?;
    Ok(summary)
}

fn write_file(path: &Path, text: &str) -> Result<(), BenchError> {
    fs::write(path, text).map_err(|error| BenchError::io("write", path, error))
}

/// Sizes in plan order that at least one filesystem measured.
fn measured_sizes(run: &RunResult) -> Vec<u64> {
    run.plan
        .sizes_bytes
        .iter()
        .copied()
        .filter(|&size| run.filesystems.iter().any(|fs| fs.size(size).is_some()))
        .collect()
}

fn fs_labels(run: &RunResult) -> Vec<String> {
    run.filesystems.iter().map(|fs| fs.label.clone()).collect()
}

/// A chart file name and what it shows, for the summary.
struct ChartFile {
    file: String,
    caption: String,
}

fn write_charts(dir: &Path, run: &RunResult) -> Result<Vec<ChartFile>, BenchError> {
    let mut charts = Vec::new();
    for size in measured_sizes(run) {
        let slug = size_slug(size);
        let rate = ChartFile {
            file: format!("files-per-second-{slug}.svg"),
            caption: format!("Files per second at {}", format_size(size)),
        };
        render(dir, &rate, &rate_chart(run, size))?;
        charts.push(rate);
        let ratio = ChartFile {
            file: format!("overhead-vs-plain-{slug}.svg"),
            caption: format!("Time relative to plain at {}", format_size(size)),
        };
        render(dir, &ratio, &overhead_chart(run, size))?;
        charts.push(ratio);
    }
    if run.filesystems.iter().any(|fs| fs.batch.is_some()) {
        let batch = ChartFile {
            file: "batch.svg".into(),
            caption: "Batch against sequential writes".into(),
        };
        render(dir, &batch, &batch_chart(run))?;
        charts.push(batch);
    }
    Ok(charts)
}

fn render(dir: &Path, file: &ChartFile, chart: &BarChart) -> Result<(), BenchError> {
    let path = dir.join(&file.file);
    chart::render_svg(chart, &path)
        .map_err(|message| BenchError::io("draw chart", &path, std::io::Error::other(message)))
}

fn strategy_names(run: &RunResult) -> Vec<&'static str> {
    run.plan
        .strategies
        .iter()
        .map(|strategy| strategy.name())
        .collect()
}

fn row<'a>(fs: &'a FsResult, size: u64, strategy: &str) -> Option<&'a StrategyRow> {
    fs.size(size)?
        .rows
        .iter()
        .find(|row| row.strategy == strategy)
}

fn common_notes(run: &RunResult) -> Vec<String> {
    let mut notes =
        vec!["Bars: median of the run's rounds; whiskers: p10–p90. Log scale.".to_owned()];
    let fake: Vec<&str> = run
        .filesystems
        .iter()
        .filter(|fs| !fs.facts.fsync_real)
        .map(|fs| fs.label.as_str())
        .collect();
    if !fake.is_empty() {
        notes.push(format!(
            "fsync is NOT real on: {} (grey for tmpfs); durable bars there show syscall cost only.",
            fake.join(", ")
        ));
    }
    notes.push(format!(
        "kernel {}, {} CPUs; run {}.",
        run.machine.kernel, run.machine.cpus, run.run_id
    ));
    notes
}

fn rate_chart(run: &RunResult, size: u64) -> BarChart {
    let groups = strategy_names(run)
        .into_iter()
        .map(|name| Group {
            label: name.to_owned(),
            bars: run
                .filesystems
                .iter()
                .map(|fs| {
                    let row = row(fs, size, name)?;
                    Some(rate_bar(row.files_per_s, &row.latency_ns, 1))
                })
                .collect(),
        })
        .collect();
    let mut notes =
        vec!["Higher is better. Each write replaces an existing file of the same size.".to_owned()];
    notes.extend(common_notes(run));
    BarChart {
        title: format!(
            "Whole-file writes per second, {} payload",
            format_size(size)
        ),
        notes,
        axis_label: "files per second (log scale)".into(),
        series: fs_labels(run),
        groups,
        markers: Vec::new(),
        baseline: None,
        unit: Unit::PerSecond,
    }
}

fn spread_bar(spread: Option<Spread>) -> Option<Bar> {
    spread.map(|spread| Bar {
        value: spread.median,
        low: spread.p10,
        high: spread.p90,
    })
}

fn overhead_chart(run: &RunResult, size: u64) -> BarChart {
    let groups = strategy_names(run)
        .into_iter()
        .filter(|&name| name != "plain")
        .map(|name| Group {
            label: name.to_owned(),
            bars: run
                .filesystems
                .iter()
                .map(|fs| spread_bar(row(fs, size, name)?.ratio_to_plain))
                .collect(),
        })
        .collect();
    let mut notes = vec!["Lower is better: each write's time divided by plain's in the same round; bars start at plain (1×).".to_owned()];
    notes.extend(common_notes(run));
    BarChart {
        title: format!(
            "What atomic and durable writes cost over plain, {} payload",
            format_size(size)
        ),
        notes,
        axis_label: "time relative to plain File::create + write_all (log scale)".into(),
        series: fs_labels(run),
        groups,
        markers: vec![Marker {
            at: 1.0,
            label: "plain (1×)".into(),
        }],
        baseline: Some(1.0),
        unit: Unit::Times,
    }
}

fn batch_chart(run: &RunResult) -> BarChart {
    let modes = ["intact-batch", "intact-sequential"];
    let groups = modes
        .iter()
        .map(|&mode| Group {
            label: mode.to_owned(),
            bars: run
                .filesystems
                .iter()
                .map(|fs| {
                    let batch = fs.batch.as_ref()?;
                    let row = batch.rows.iter().find(|row| row.mode == mode)?;
                    Some(rate_bar(row.files_per_s, &row.latency_ns, batch.files))
                })
                .collect(),
        })
        .collect();
    let files = run
        .filesystems
        .iter()
        .find_map(|fs| fs.batch.as_ref())
        .map_or(0, |batch| batch.files);
    let mut notes = vec![format!(
        "Higher is better. {files} files of 1 KiB, fully durable, replacing existing files."
    )];
    notes.extend(common_notes(run));
    BarChart {
        title: format!(
            "{files} small files: one intact::Batch against {files} intact::write calls"
        ),
        notes,
        axis_label: "files per second (log scale)".into(),
        series: fs_labels(run),
        groups,
        markers: Vec::new(),
        baseline: None,
        unit: Unit::PerSecond,
    }
}

/// 850 ns, 41.2 µs, 1.23 ms, 2.50 s.
pub fn duration(ns: f64) -> String {
    if ns < 0.5 {
        return "0".to_owned();
    }
    let (value, unit) = match ns {
        ns if ns >= 1e9 => (ns / 1e9, "s"),
        ns if ns >= 1e6 => (ns / 1e6, "ms"),
        ns if ns >= 1e3 => (ns / 1e3, "µs"),
        ns => (ns, "ns"),
    };
    match value {
        v if v >= 100.0 => format!("{v:.0} {unit}"),
        v if v >= 10.0 => format!("{v:.1} {unit}"),
        v => format!("{v:.2} {unit}"),
    }
}

fn ratio(spread: Option<Spread>) -> String {
    spread.map_or_else(|| "–".into(), |spread| format!("{:.2}×", spread.median))
}

fn summary_markdown(run: &RunResult, charts: &[ChartFile]) -> String {
    let mut md = String::new();
    let kind = if run.plan.quick {
        "quick run"
    } else {
        "full run"
    };
    let _ = writeln!(md, "# torture bench: {}\n", run.run_id);
    let _ = writeln!(
        md,
        "{kind}{}. Command: `{}`\n",
        if run.partial {
            ", **interrupted: partial results**"
        } else {
            ""
        },
        run.command
    );
    md.push_str(&warnings_markdown(run));
    md.push_str(&glance_markdown(run));
    md.push_str(&context_markdown(run));
    md.push_str(&targets_markdown(&run.targets));
    md.push_str("## Charts\n\n");
    for chart in charts {
        let _ = writeln!(
            md,
            "### {}\n\n![{}]({})\n",
            chart.caption, chart.caption, chart.file
        );
    }
    for fs in &run.filesystems {
        md.push_str(&fs_markdown(fs));
    }
    md.push_str(&batch_markdown(run));
    md.push_str(&super::concurrent::markdown(&run.filesystems));
    md.push_str(&syscall_counts_markdown(run));
    md.push_str(&method_markdown(run));
    md
}

/// The size a person looks at first: 64 KiB when measured, else the first size.
fn headline_size(run: &RunResult) -> Option<u64> {
    let sizes = measured_sizes(run);
    sizes
        .iter()
        .copied()
        .find(|&size| size == 64 * super::plan::KIB)
        .or_else(|| sizes.first().copied())
}

/// Files/s of every strategy on every filesystem at the headline size, with the time relative
/// to plain: the table a README can quote.
fn glance_markdown(run: &RunResult) -> String {
    let Some(size) = headline_size(run) else {
        return String::new();
    };
    let labels = fs_labels(run);
    let mut md = format!(
        "## At a glance: {}\n\nWhole-file writes per second (median), and in brackets the time relative to `plain` in the same round.\n\n| strategy | atomic | durable | {} |\n|---|---|---|{}\n",
        format_size(size),
        labels.join(" | "),
        "---:|".repeat(labels.len())
    );
    for strategy in &run.plan.strategies {
        let cells: Vec<String> = run
            .filesystems
            .iter()
            .map(|fs| row(fs, size, strategy.name()).map_or_else(|| "–".to_owned(), glance_cell))
            .collect();
        let yes_no = |flag: bool| if flag { "yes" } else { "no" };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            strategy.name(),
            yes_no(strategy.atomic()),
            yes_no(strategy.durable()),
            cells.join(" | ")
        );
    }
    md.push('\n');
    md
}

fn glance_cell(row: &StrategyRow) -> String {
    format!(
        "{} ({})",
        chart::compact(row.files_per_s),
        ratio(row.ratio_to_plain)
    )
}

fn warnings_markdown(run: &RunResult) -> String {
    let mut md = String::new();
    for fs in &run.filesystems {
        for warning in &fs.facts.warnings {
            let _ = writeln!(md, "> **WARNING ({}): {warning}.**\n", fs.label);
        }
    }
    md
}

fn context_markdown(run: &RunResult) -> String {
    let machine = &run.machine;
    let mut md = String::from("## What these numbers depend on\n\n");
    let _ = writeln!(
        md,
        "Kernel {}; {} CPUs ({}); {} MiB RAM; LD_PRELOAD {}.\n",
        machine.kernel,
        machine.cpus,
        machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        machine
            .memory_mib
            .map_or_else(|| "?".into(), |mib| mib.to_string()),
        machine
            .ld_preload
            .as_deref()
            .map_or_else(|| "unset".into(), |value| format!("`{value}`")),
    );
    md.push_str(
        "| filesystem | fstype | mount options | device | fsync real? |\n|---|---|---|---|---|\n",
    );
    for fs in &run.filesystems {
        let options = fs
            .facts
            .mount
            .as_ref()
            .map_or_else(|| "?".into(), |mount| mount.all_options().join(","));
        let _ = writeln!(
            md,
            "| {} | {} | `{}` | {} | {} |",
            fs.label,
            fs.facts.fstype(),
            options,
            device_text(fs),
            if fs.facts.fsync_real {
                "yes (as far as we can tell)"
            } else {
                "**no**"
            }
        );
    }
    md.push('\n');
    md
}

fn device_text(fs: &FsResult) -> String {
    let device = &fs.facts.device;
    let mut text = device.source.clone();
    if let Some(backing) = &device.loop_backing_file {
        let _ = write!(text, " → image {backing}");
        if let Some(fstype) = &device.loop_backing_fstype {
            let _ = write!(text, " on {fstype}");
        }
        if device.loop_direct_io == Some(true) {
            text.push_str(" (direct I/O)");
        }
    }
    if let Some(cache) = &device.write_cache {
        let _ = write!(text, ", cache: {cache}");
    }
    text
}

fn targets_markdown(targets: &[TargetCheck]) -> String {
    let mut md = String::from(
        "## Targets\n\nMedian of per-round ratios within this run (p10–p90 in the JSON); ✓ met, ✗ missed. \
         Latency ratios must stay at or under the limit; the batch speedup must reach it. \
         A filesystem marked * cannot make fsync real: there the check compares syscall overhead only.\n\n",
    );
    if targets.is_empty() {
        md.push_str("No target could be checked (strategies or sizes missing).\n\n");
        return md;
    }
    md.push_str(&targets_matrix(targets));
    let missed: Vec<&TargetCheck> = targets.iter().filter(|check| !check.met).collect();
    let _ = writeln!(
        md,
        "\n{} of {} checks met.\n",
        targets.len() - missed.len(),
        targets.len()
    );
    if !missed.is_empty() {
        md.push_str("### Missed, by how much and why\n\n");
    }
    for check in missed {
        let why = check
            .explanation
            .as_deref()
            .unwrap_or("no explanation recorded");
        let fs = if check.fsync_real {
            check.filesystem.clone()
        } else {
            format!("{}*", check.filesystem)
        };
        let _ = writeln!(
            md,
            "- **{}, {fs}, {}**: {why}\n",
            check.statement,
            format_size(check.size_bytes)
        );
    }
    md
}

/// One row per target and size, one column per filesystem.
fn targets_matrix(targets: &[TargetCheck]) -> String {
    let mut filesystems: Vec<(&str, bool)> = Vec::new();
    let mut rows: Vec<(&str, u64)> = Vec::new();
    for check in targets {
        if !filesystems
            .iter()
            .any(|(name, _)| *name == check.filesystem)
        {
            filesystems.push((&check.filesystem, check.fsync_real));
        }
        if !rows.contains(&(check.statement, check.size_bytes)) {
            rows.push((check.statement, check.size_bytes));
        }
    }
    let header: Vec<String> = filesystems
        .iter()
        .map(|(name, real)| {
            if *real {
                (*name).to_owned()
            } else {
                format!("{name}*")
            }
        })
        .collect();
    let mut md = format!(
        "| target | size | limit | {} |\n|---|---|---|{}\n",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    for (statement, size) in rows {
        let find = |fs: &str| {
            targets
                .iter()
                .find(|c| c.statement == statement && c.size_bytes == size && c.filesystem == fs)
        };
        let limit = targets
            .iter()
            .find(|c| c.statement == statement)
            .map_or(0.0, |c| c.limit);
        let cells: Vec<String> = filesystems
            .iter()
            .map(|(fs, _)| find(fs).map_or_else(|| "–".to_owned(), target_cell))
            .collect();
        let _ = writeln!(
            md,
            "| {statement} | {} | {limit:.2} | {} |",
            format_size(size),
            cells.join(" | ")
        );
    }
    md
}

fn target_cell(check: &TargetCheck) -> String {
    if check.met {
        format!("{:.2} ✓", check.measured.median)
    } else {
        format!("**{:.2} ✗**", check.measured.median)
    }
}

fn fs_markdown(fs: &FsResult) -> String {
    let mut md = format!("## {} ({})\n\n", fs.label, fs.origin);
    let _ = writeln!(md, "Directory `{}`.", fs.facts.dir.display());
    for command in &fs.setup {
        let _ = writeln!(md, "Setup: `{command}`");
    }
    for note in &fs.notes {
        let _ = writeln!(md, "Note: {note}");
    }
    md.push('\n');
    for size in &fs.sizes {
        let _ = writeln!(
            md,
            "### {} at {} ({} rounds, {:.1} s)\n",
            fs.label,
            format_size(size.size_bytes),
            size.rounds,
            size.elapsed_ms as f64 / 1e3
        );
        md.push_str("| strategy | median | p10 | p90 | files/s | MB/s | × plain | × plain-fsync |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in &size.rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.1} | {} | {} |",
                row.strategy,
                duration(row.latency_ns.median),
                duration(row.latency_ns.p10),
                duration(row.latency_ns.p90),
                chart::compact(row.files_per_s),
                row.mb_per_s,
                ratio(row.ratio_to_plain),
                ratio(row.ratio_to_plain_fsync)
            );
        }
        md.push('\n');
    }
    md
}

fn batch_markdown(run: &RunResult) -> String {
    let batches: Vec<(&FsResult, &super::results::BatchResult)> = run
        .filesystems
        .iter()
        .filter_map(|fs| Some((fs, fs.batch.as_ref()?)))
        .collect();
    if batches.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## Batch\n\nOne `intact::Batch` (fully durable; each file atomic on its own, not the group) against as many sequential `intact::write` calls, replacing existing 1 KiB files.\n\n",
    );
    md.push_str("| filesystem | files | rounds | batch: time | batch: files/s | sequential: time | sequential: files/s | speedup |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (fs, batch) in batches {
        let find = |mode: &str| batch.rows.iter().find(|row| row.mode == mode);
        let cell = |mode: &str| {
            find(mode).map_or_else(
                || ("–".to_owned(), "–".to_owned()),
                |row| {
                    (
                        duration(row.latency_ns.median),
                        chart::compact(row.files_per_s),
                    )
                },
            )
        };
        let (batch_time, batch_rate) = cell("intact-batch");
        let (sequential_time, sequential_rate) = cell("intact-sequential");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {batch_time} | {batch_rate} | {sequential_time} | {sequential_rate} | {} |",
            fs.label,
            batch.files,
            batch.rounds,
            ratio(batch.speedup)
        );
    }
    md.push('\n');
    md
}

/// Syscalls worth a column when any traced write made them: the ones that touch the disk or a
/// directory, and the ones intact adds (flock, fchmod, linkat).
const COUNTED: [&str; 14] = [
    "openat",
    "write",
    "fsync",
    "fdatasync",
    "flock",
    "fchmod",
    "fchown",
    "linkat",
    "renameat",
    "renameat2",
    "mkdir",
    "unlinkat",
    "rmdir",
    "close",
];

fn syscall_counts_markdown(run: &RunResult) -> String {
    let Some(fs) = run.filesystems.iter().find(|fs| !fs.syscalls.is_empty()) else {
        return String::new();
    };
    let columns: Vec<&str> = COUNTED
        .into_iter()
        .filter(|name| {
            fs.syscalls
                .iter()
                .any(|trace| trace.counts().contains_key(name))
        })
        .collect();
    let mut md = format!(
        "## Syscalls of one write ({}, traced with strace)\n\nFull sequences in [syscalls.md](syscalls.md). \
         Time is what strace measured inside the calls (tracing slows the cheap ones).\n\n\
         | strategy | syscalls | fsync-family | {} | time in fsyncs | time in all |\n|---|---:|---:|{}---:|---:|\n",
        fs.label,
        columns.join(" | "),
        "---:|".repeat(columns.len())
    );
    for trace in &fs.syscalls {
        let counts = trace.counts();
        let cells: Vec<String> = columns
            .iter()
            .map(|name| counts.get(name).copied().unwrap_or(0).to_string())
            .collect();
        let (sync_seconds, all_seconds) = trace.seconds();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            trace.subject,
            trace.calls.len(),
            trace.sync_calls(),
            cells.join(" | "),
            duration(sync_seconds * 1e9),
            duration(all_seconds * 1e9)
        );
    }
    md.push('\n');
    md
}

fn syscalls_markdown(run: &RunResult) -> String {
    let mut md = format!(
        "# Syscall sequences: {}\n\nOne write of each strategy after the measurements, traced with `strace -T` attached to the writing thread. `<dir>` is the benchmark directory; `<0.000123>` is the time spent in the call.\n\n",
        run.run_id
    );
    for fs in run.filesystems.iter().filter(|fs| !fs.syscalls.is_empty()) {
        let _ = writeln!(md, "## {}\n", fs.label);
        for trace in &fs.syscalls {
            let _ = writeln!(
                md,
                "### {} ({} syscalls, {} fsync-family)\n\n```",
                trace.subject,
                trace.calls.len(),
                trace.sync_calls()
            );
            for call in &trace.calls {
                let _ = writeln!(md, "{}", call.line);
            }
            md.push_str("```\n\n");
        }
    }
    md
}

fn method_markdown(run: &RunResult) -> String {
    let rounds = &run.plan.rounds;
    format!(
        "## How this was measured\n\n\
         - Each timed write replaces an existing file of the same size (the previous round's), one target file per strategy.\n\
         - Strategies run interleaved; round r starts at strategy r mod n, so drift on a shared machine hits all alike.\n\
         - Before every timed write the filesystem is synced (`syncfs`, not timed): no strategy pays for another's writeback, and non-durable strategies are not charged for the writeback they leave behind.\n\
         - One untimed warm-up round first. Then at least {} rounds, more until {:.1} s have passed per size (at most {}).\n\
         - Ratios (× plain, × plain-fsync, targets) are the median over rounds of this strategy's time divided by the reference's time in the same round.\n\
         - files/s = 1 / median latency; MB/s = size / median latency, with MB = 10^6 bytes.\n\
         - Strategies: {}.\n",
        rounds.min,
        rounds.budget_ms as f64 / 1e3,
        rounds.max,
        run.plan
            .strategies
            .iter()
            .map(|strategy| format!("`{}` ({})", strategy.name(), strategy.description()))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

/// A files/s bar whose whiskers are the rates at the p90 (slow) and p10 (fast) latencies of a
/// round that wrote `files` files.
fn rate_bar(files_per_s: f64, latency_ns: &super::stats::Spread, files: usize) -> Bar {
    let rate = |ns: f64| super::stats::per_second(ns, files as f64);
    Bar {
        value: files_per_s,
        low: rate(latency_ns.p90),
        high: rate(latency_ns.p10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(850.0), "850 ns");
        assert_eq!(duration(41_200.0), "41.2 µs");
        assert_eq!(duration(1_234_000.0), "1.23 ms");
        assert_eq!(duration(2.5e9), "2.50 s");
        assert_eq!(duration(0.0), "0");
    }
}
