//! The main job's table: one row per writer, one column per crash kind (`CrashKind`), each cell
//! the subject's verdict under that kind and, when it showed a violation, its smallest diagnosis.
//! Columns are generic: a new crash kind adds a column by filling its cells with [`CrashTable::set`].

use std::fmt::Write as _;

use crate::campaign::power::PowerResult;
use crate::campaign::{Settings, SubjectResult};
use torture_core::oracle::{CrashKind, SubjectStatus};

/// Characters of a diagnosis shown in a terminal cell.
pub const TERMINAL_DIAGNOSIS_CHARS: usize = 34;

/// One cell: a verdict and the smallest diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// How the subject compared with its expectation under this crash kind.
    pub status: SubjectStatus,
    /// The smallest violation, in a phrase (caught and failed cells).
    pub diagnosis: Option<String>,
}

/// One writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The subject's label.
    pub label: String,
    /// A cell per column, `None` where the kind was not run for this subject.
    pub cells: Vec<Option<Cell>>,
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
        }
    }

    /// `caught: <diagnosis>`, the diagnosis cut to `max_chars`.
    pub fn text(&self, max_chars: usize) -> String {
        match &self.diagnosis {
            Some(diagnosis) => format!("{}: {}", self.verdict(), shorten(diagnosis, max_chars)),
            None => self.verdict().to_owned(),
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
        let Some(column) = self.kinds.iter().position(|k| *k == kind) else {
            return;
        };
        let row = match self.rows.iter().position(|r| r.label == label) {
            Some(at) => &mut self.rows[at],
            None => {
                self.rows.push(Row {
                    label: label.to_owned(),
                    cells: vec![None; self.kinds.len()],
                });
                let last = self.rows.len() - 1;
                &mut self.rows[last]
            }
        };
        row.cells[column] = Some(cell);
    }

    /// Every filled cell is as expected.
    pub fn all_as_expected(&self) -> bool {
        self.rows
            .iter()
            .flat_map(|r| r.cells.iter().flatten())
            .all(|c| c.status.as_expected())
    }

    /// Fixed-width lines for the terminal.
    pub fn terminal_lines(&self) -> Vec<String> {
        let width = TERMINAL_DIAGNOSIS_CHARS + 14;
        let label_width = self
            .rows
            .iter()
            .map(|r| r.label.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut header = format!("{:<label_width$}", "writer");
        for kind in &self.kinds {
            header.push_str(&format!("  {:<width$}", kind.heading()));
        }
        let mut lines = vec![header.trim_end().to_owned()];
        for row in &self.rows {
            let mut line = format!("{:<label_width$}", row.label);
            for cell in &row.cells {
                let text = cell
                    .as_ref()
                    .map_or("-".to_owned(), |c| c.text(TERMINAL_DIAGNOSIS_CHARS));
                line.push_str(&format!("  {text:<width$}"));
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
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
            for cell in &row.cells {
                let text = cell
                    .as_ref()
                    .map_or("-".to_owned(), |c| c.text(usize::MAX).replace('|', "\\|"));
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out
    }
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

    #[test]
    fn rows_fill_by_kind_and_judge_every_cell() {
        let mut table = CrashTable::new(&CrashKind::ALL);
        table.set(
            "plain",
            CrashKind::Kill,
            cell(SubjectStatus::Caught, Some("torn at byte:1")),
        );
        table.set(
            "intact",
            CrashKind::Power,
            cell(SubjectStatus::Passed, None),
        );
        table.set(
            "plain",
            CrashKind::Power,
            cell(SubjectStatus::Caught, Some("lost")),
        );
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1].cells[0], None);
        assert!(table.all_as_expected());
        let lines = table.terminal_lines();
        assert!(
            lines[0].starts_with("writer") && lines[0].contains("power cut"),
            "{lines:?}"
        );
        assert!(lines[1].contains("caught: torn at byte:1"), "{lines:?}");
        assert!(table.markdown().contains("| `intact` | - | passes |"));
        table.set(
            "intact",
            CrashKind::Kill,
            cell(SubjectStatus::Failed, Some("a|b")),
        );
        assert!(!table.all_as_expected());
        assert!(table.markdown().contains("FAILED: a\\|b"));
    }

    #[test]
    fn long_diagnoses_are_shortened_on_a_char_boundary() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("ééééé", 2), "éé…");
        let long = cell(SubjectStatus::Caught, Some(&"x".repeat(200)));
        assert_eq!(long.text(10), format!("caught: {}…", "x".repeat(10)));
    }
}
