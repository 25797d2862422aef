//! Every Markdown table in the top-level docs is well-formed: a header row, the separator right
//! under it and nowhere else, and the same number of cells in every row. A table pasted from two
//! runs (a `|---|` row in the middle) or with a missing cell does not render; this catches it.

use std::path::{Path, PathBuf};

/// The documents checked, relative to the workspace root.
const DOCS: [&str; 5] = [
    "README.md",
    "harness/apps/README.md",
    "ARCHITECTURE.md",
    "fuzz/README.md",
    "reports/README.md",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A table row's cells: split on `|` not escaped with a backslash, outer pipes dropped.
fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in row.trim().chars() {
        match (c, escaped) {
            ('|', false) => cells.push(String::new()),
            _ => cells.last_mut().expect("one cell").push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    // `| a | b |` splits into "", " a ", " b ", "": the outer pipes are not cells.
    cells.remove(0);
    if row.trim_end().ends_with('|') && !row.trim_end().ends_with("\\|") {
        cells.pop();
    }
    cells
}

fn is_separator(row: &str) -> bool {
    let cells = cells(row);
    !cells.is_empty()
        && cells.iter().all(|cell| {
            let cell = cell.trim();
            let dashes = cell.trim_start_matches(':').trim_end_matches(':');
            !dashes.is_empty() && dashes.chars().all(|c| c == '-')
        })
}

/// The tables of `text` outside code fences: (first line number, rows).
fn tables(text: &str) -> Vec<(usize, Vec<&str>)> {
    let mut tables = Vec::new();
    let mut fence: Option<&str> = None;
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => fence = Some(m),
            (Some(open), Some(m)) if open == m => fence = None,
            _ => {}
        }
        let in_table = fence.is_none() && marker.is_none() && trimmed.starts_with('|');
        match (in_table, current.as_mut()) {
            (true, Some((_, rows))) => rows.push(line),
            (true, None) => current = Some((index + 1, vec![line])),
            (false, _) => tables.extend(current.take()),
        }
    }
    tables.extend(current);
    tables
}

/// What is wrong with one table, if anything.
fn problems(rows: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    if rows.len() < 2 || !is_separator(rows[1]) {
        found.push("the second row is not a `|---|` separator under the header".to_owned());
    }
    let width = cells(rows[0]).len();
    for (i, row) in rows.iter().enumerate() {
        if i > 1 && is_separator(row) {
            found.push(format!(
                "row {}: a second separator (two tables pasted together?)",
                i + 1
            ));
        }
        let n = cells(row).len();
        if n != width {
            found.push(format!("row {}: {n} cells, the header has {width}", i + 1));
        }
    }
    found
}

#[test]
fn every_table_in_the_docs_is_well_formed() {
    let mut report = Vec::new();
    let mut checked = 0;
    for doc in DOCS {
        let text = std::fs::read_to_string(workspace_root().join(doc))
            .unwrap_or_else(|e| panic!("read {doc}: {e}"));
        for (line, rows) in tables(&text) {
            checked += 1;
            for problem in problems(&rows) {
                report.push(format!("{doc}:{line}: {problem}"));
            }
        }
    }
    assert!(
        checked >= 8,
        "found only {checked} tables: is the parser blind?"
    );
    assert!(
        report.is_empty(),
        "malformed tables:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_finds_what_breaks_a_table() {
    let good = "| a | b |\n|---|:-:|\n| `x \\| y` | 2 |\n";
    assert_eq!(tables(good).len(), 1);
    assert!(problems(&tables(good)[0].1).is_empty());
    let pasted = "| a | b |\n|---|---|\n| 1 | 2 |\n|---|---|\n| 3 | 4 |\n";
    assert_eq!(
        problems(&tables(pasted)[0].1).len(),
        1,
        "a second separator"
    );
    let short = "| a | b |\n|---|---|\n| 1 |\n";
    assert_eq!(problems(&tables(short)[0].1).len(), 1, "a missing cell");
    let headless = "| a | b |\n| 1 | 2 |\n";
    assert_eq!(problems(&tables(headless)[0].1).len(), 1, "no separator");
    let fenced = "```\n| a |\n| 1 | 2 |\n```\n";
    assert!(tables(fenced).is_empty(), "code fences are not tables");
}
