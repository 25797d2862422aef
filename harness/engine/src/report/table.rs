//! The main job's table: one row per writer, one column per crash kind (`CrashKind`), each cell
//! the subject's verdict under that kind and, when it showed a violation, its smallest diagnosis.
//! Columns are generic: a new crash kind adds a column by filling its cells with [`CrashTable::set`].

use std::fmt::Write as _;

use crate::campaign::power::PowerResult;
use crate::campaign::{Settings, SubjectResult};
use torture_core::oracle::{CrashKind, SubjectStatus};

/// One cell: a verdict and the smallest diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// How the subject compared with its expectation under this crash kind.
    pub status: SubjectStatus,
    /// The smallest violation, in a phrase (caught and failed cells).
    pub diagnosis: Option<String>,
}

/// One writer under one crash kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// Not filled: the run could not judge it, so the table cannot pass.
    Missing,
    /// Not run by design (the main job's extra kill sweep has no other column).
    NotRun,
    /// Judged.
    Filled(Cell),
}

/// One writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The subject's label.
    pub label: String,
    /// A slot per column.
    pub cells: Vec<Slot>,
}

/// Writers × crash kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashTable {
    /// The columns.
    pub kinds: Vec<CrashKind>,
    /// The rows, in the order they were first set.
    pub rows: Vec<Row>,
}

impl Cell {
    /// The verdict word: `passes`, `caught`, `FAILED`, `NOT CAUGHT`, `pending`, `UNMODELLED`.
    pub fn verdict(&self) -> &'static str {
        match self.status {
            SubjectStatus::Passed => "passes",
            SubjectStatus::Caught => "caught",
            SubjectStatus::Failed => "FAILED",
            SubjectStatus::NotCaught => "NOT CAUGHT",
            SubjectStatus::NotCaughtInShard => "pending",
            SubjectStatus::NotModelled => "UNMODELLED",
            SubjectStatus::Incomplete => "INCOMPLETE",
        }
    }

    /// `caught: <diagnosis>`.
    pub fn text(&self) -> String {
        match &self.diagnosis {
            Some(diagnosis) => format!("{}: {diagnosis}", self.verdict()),
            None => self.verdict().to_owned(),
        }
    }
}

impl Slot {
    /// The cell's verdict word, `MISSING`, or `-`.
    fn verdict(&self) -> &'static str {
        match self {
            Slot::Missing => "MISSING",
            Slot::NotRun => "-",
            Slot::Filled(cell) => cell.verdict(),
        }
    }

    /// Whether the slot lets the table pass.
    fn as_expected(&self) -> bool {
        match self {
            Slot::Missing => false,
            Slot::NotRun => true,
            Slot::Filled(cell) => cell.status.as_expected(),
        }
    }
}

/// `text` cut to `max_chars` characters, ending in `…` when cut.
pub fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", text[..at].trim_end()),
        None => text.to_owned(),
    }
}

impl CrashTable {
    /// An empty table with these columns.
    pub fn new(kinds: &[CrashKind]) -> CrashTable {
        CrashTable {
            kinds: kinds.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Sets the cell of `label` under `kind` (a kind not among the columns is ignored).
    pub fn set(&mut self, label: &str, kind: CrashKind, cell: Cell) {
        self.put(label, kind, Slot::Filled(cell));
    }

    /// Marks the cell of `label` under `kind` as not run by design.
    pub fn not_run(&mut self, label: &str, kind: CrashKind) {
        self.put(label, kind, Slot::NotRun);
    }

    fn put(&mut self, label: &str, kind: CrashKind, slot: Slot) {
        let Some(column) = self.kinds.iter().position(|k| *k == kind) else {
            return;
        };
        let row = match self.rows.iter().position(|r| r.label == label) {
            Some(at) => &mut self.rows[at],
            None => {
                self.rows.push(Row {
                    label: label.to_owned(),
                    cells: vec![Slot::Missing; self.kinds.len()],
                });
                let last = self.rows.len() - 1;
                &mut self.rows[last]
            }
        };
        row.cells[column] = slot;
    }

    /// Every cell is filled and as expected, or not run by design: an empty table, or a cell
    /// the run could not fill, is no pass.
    pub fn all_as_expected(&self) -> bool {
        !self.rows.is_empty()
            && self
                .rows
                .iter()
                .flat_map(|r| r.cells.iter())
                .all(Slot::as_expected)
    }

    /// Lines for the terminal: verdict words in fixed-width columns, each diagnosis in full
    /// below the table, numbered (a diagnosis is too long for a column).
    pub fn terminal_lines(&self) -> Vec<String> {
        let mut notes: Vec<String> = Vec::new();
        let mut grid: Vec<Vec<String>> = vec![self.header()];
        for row in &self.rows {
            let mut line = vec![row.label.clone()];
            for (kind, slot) in self.kinds.iter().zip(&row.cells) {
                let word = slot.verdict().to_owned();
                match slot {
                    Slot::Filled(Cell {
                        diagnosis: Some(diagnosis),
                        ..
                    }) => {
                        notes.push(format!(
                            "[{}] {}, {}: {diagnosis}",
                            notes.len() + 1,
                            row.label,
                            kind.heading()
                        ));
                        line.push(format!("{word} [{}]", notes.len()));
                    }
                    Slot::Filled(_) | Slot::Missing | Slot::NotRun => line.push(word),
                }
            }
            grid.push(line);
        }
        let mut lines = aligned(&grid);
        if !notes.is_empty() {
            lines.push(String::new());
            lines.extend(notes);
        }
        lines
    }

    fn header(&self) -> Vec<String> {
        let mut header = vec!["writer".to_owned()];
        header.extend(self.kinds.iter().map(|k| k.heading().to_owned()));
        header
    }

    /// A Markdown table (full diagnoses).
    pub fn markdown(&self) -> String {
        let mut out = String::from("| writer |");
        for kind in &self.kinds {
            let _ = write!(out, " {} |", kind.heading());
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(self.kinds.len()));
        out.push('\n');
        for row in &self.rows {
            let _ = write!(out, "| `{}` |", row.label);
            for slot in &row.cells {
                let text = match slot {
                    Slot::Filled(cell) => cell.text().replace('|', "\\|"),
                    Slot::Missing | Slot::NotRun => slot.verdict().to_owned(),
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out
    }
}

/// Rows of words in columns as wide as their widest word.
fn aligned(grid: &[Vec<String>]) -> Vec<String> {
    let columns = grid.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            grid.iter()
                .filter_map(|r| r.get(c))
                .map(|w| w.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    grid.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(word, width)| format!("{word:<width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect()
}

/// The SIGKILL cell of a kill campaign's subject: its smallest violating kill point.
pub fn kill_cell(result: &SubjectResult, settings: &Settings) -> Cell {
    Cell {
        status: result.status(),
        diagnosis: super::records::smallest(result, settings)
            .map(|s| format!("{} at {}", s.violation, s.kill_point)),
    }
}

/// The power-cut cell of a power campaign's subject.
pub fn power_cell(result: &PowerResult) -> Cell {
    Cell {
        status: result.status(),
        diagnosis: super::power::smallest_diagnosis(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(status: SubjectStatus, diagnosis: Option<&str>) -> Cell {
        Cell {
            status,
            diagnosis: diagnosis.map(str::to_owned),
        }
    }

    fn filled(table: &mut CrashTable, label: &str) {
        for kind in CrashKind::ALL {
            table.set(label, kind, cell(SubjectStatus::Passed, None));
        }
    }

    #[test]
    fn rows_fill_by_kind_and_judge_every_cell() {
        let mut table = CrashTable::new(&CrashKind::ALL);
        assert!(!table.all_as_expected(), "an empty table is no pass");
        filled(&mut table, "plain");
        filled(&mut table, "intact");
        let long = "torn at byte:1, a diagnosis much longer than any column of a terminal table";
        table.set(
            "plain",
            CrashKind::Kill,
            cell(SubjectStatus::Caught, Some(long)),
        );
        assert!(table.all_as_expected());
        let lines = table.terminal_lines();
        assert!(
            lines[0].starts_with("writer") && lines[0].contains("power cut"),
            "{lines:?}"
        );
        assert!(lines[1].contains("caught [1]"), "{lines:?}");
        assert!(
            lines.contains(&format!("[1] plain, SIGKILL: {long}")),
            "{lines:?}"
        );
        table.set(
            "intact",
            CrashKind::Kill,
            cell(SubjectStatus::Failed, Some("a|b")),
        );
        assert!(!table.all_as_expected());
        assert!(table.markdown().contains("FAILED: a\\|b"));
    }

    #[test]
    fn an_unfilled_cell_fails_and_a_cell_not_run_by_design_does_not() {
        let mut table = CrashTable::new(&CrashKind::ALL);
        filled(&mut table, "intact");
        table.set("sweep", CrashKind::Kill, cell(SubjectStatus::Passed, None));
        assert!(
            !table.all_as_expected(),
            "three cells of `sweep` are missing"
        );
        assert!(table.markdown().contains("| `sweep` | passes | MISSING |"));
        for kind in [CrashKind::Power, CrashKind::Errors, CrashKind::Race] {
            table.not_run("sweep", kind);
        }
        assert!(table.all_as_expected());
        assert!(
            table
                .markdown()
                .contains("| `sweep` | passes | - | - | - |")
        );
    }
}
