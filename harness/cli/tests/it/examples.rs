//! Every example in README.md and in `--help` runs as written (through `sh -c`, from a directory
//! that sees the repository's `harness/`), and exits as documented: 0, or the `# exit N` its
//! comment names. Examples that run a whole campaign over every built-in (minutes) are parsed
//! with `--help` appended instead, which checks every option and value they give.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::scratch_dir;

/// Whole campaigns over every built-in, shards the example before them would have written, or
/// Python writers raced by three (minutes in a debug build): exact commands, or prefixes ending
/// in `--`.
const PARSED_ONLY: [&str; 6] = [
    "torture",
    "torture race",
    "torture --seed 1 --partition 2/3 --report-dir shard-2",
    "torture merge shard-1 shard-2 shard-3 --report-dir merged",
    "torture race --writers 3 --schedules 50 --",
    "torture race --writers 3 --seed 1 --",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `torture ...` lines of the README's code blocks.
fn readme_examples() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut in_block = false;
    let mut examples = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
        } else if in_block && (line.starts_with("torture ") || line == "torture") {
            examples.push(line.to_owned());
        }
    }
    examples
}

/// The `Examples:` lines of every command's `--help`.
fn help_examples() -> Vec<String> {
    let mut examples = Vec::new();
    for command in [
        &[][..],
        &["kill"],
        &["power"],
        &["errors"],
        &["race"],
        &["merge"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_torture"))
            .args(command)
            .arg("--help")
            .output()
            .expect("torture --help");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines = help
            .lines()
            .skip_while(|l| !l.starts_with("Examples:"))
            .skip(1);
        examples.extend(
            lines
                .take_while(|l| l.starts_with("  torture"))
                .map(|l| l.trim().to_owned()),
        );
    }
    examples
}

/// The command without its comment, and the exit code the comment promises.
fn split_comment(example: &str) -> (String, i32) {
    let (command, comment) = match example.find("  #").or_else(|| example.find(" # ")) {
        Some(at) => (&example[..at], &example[at..]),
        None => (example, ""),
    };
    let code = comment
        .split("exit ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    (command.trim().to_owned(), code)
}

/// `--help` before the `--` of a command (clap checks everything before it).
fn parse_only(command: &str) -> String {
    match command.find(" -- ") {
        Some(at) => format!("{} --help{}", &command[..at], &command[at..]),
        None => format!("{command} --help"),
    }
}

fn run(command: &str, cwd: &Path) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_torture"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", command]).current_dir(cwd).env("PATH", path);
    crate::bounded_output(sh)
}

#[test]
fn every_example_in_the_readme_and_the_help_runs_as_written() {
    let dir = scratch_dir("examples");
    std::os::unix::fs::symlink(repo().join("harness"), dir.join("harness")).expect("symlink");
    let mut examples = readme_examples();
    let from_help = help_examples();
    assert!(from_help.len() >= 15, "{from_help:#?}");
    examples.extend(from_help);
    // The same command in the README and a help (comments aside) runs once.
    let mut examples: Vec<(String, i32)> = examples.iter().map(|e| split_comment(e)).collect();
    examples.sort();
    examples.dedup();
    let mut ran = 0;
    for (command, expected) in &examples {
        let (command, expected) = (command.clone(), *expected);
        let parsed_only = PARSED_ONLY
            .iter()
            .any(|p| command == *p || (p.ends_with("--") && command.starts_with(p)))
            || (command.contains("--real") && !testkit::is_root());
        let (line, code) = match parsed_only {
            true => (parse_only(&command), 0),
            false => (command.clone(), expected),
        };
        let began = std::time::Instant::now();
        let out = run(&line, &dir);
        // Which example took how long: a slow one is found from CI's log alone.
        eprintln!("example: {:.1} s: {line}", began.elapsed().as_secs_f64());
        assert_eq!(
            out.status.code(),
            Some(code),
            "{line}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += usize::from(!parsed_only);
    }
    assert!(ran >= 12, "{ran} of {} examples ran", examples.len());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
