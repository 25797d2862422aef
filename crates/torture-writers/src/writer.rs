//! `torture-writer STRATEGY [--target PATH] [--size BYTES]`: writes the payload of generation
//! `$TORTURE_GENERATION` (default 1) to the target with one built-in strategy, then prints
//! `committed <path>` (the acknowledgement). The target defaults to `$TORTURE_TARGET`.
//!
//! Exit codes: 0 committed; 1 the write failed; 2 bad usage. Kept tiny: it starts thousands of
//! times per campaign.
//!
//! The `torture-writer` binary is [`run`] and nothing else. `torture __writer ...` runs it too,
//! so a `torture` built alone (`cargo run --bin torture`) still has its built-in writers.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::strategies::Strategy;
use torture_core::payload::payload;

const DEFAULT_SIZE_BYTES: usize = 64 * 1024;
/// The payload is built in memory: refuse sizes that would only exhaust it.
const MAX_SIZE_BYTES: usize = 1 << 30;

struct Args {
    strategy: Strategy,
    target: PathBuf,
    size_bytes: usize,
    generation: u64,
}

/// The hidden `torture` subcommand that runs the writer: `torture __writer STRATEGY ...`.
pub const SUBCOMMAND: &str = "__writer";

/// Runs the writer with `args` (without the program name) and returns its exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let args = match parse(args) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("torture-writer: {message}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let contents = payload(args.size_bytes, args.generation);
    if let Err(error) = args.strategy.run_step(&args.target, &contents) {
        eprintln!("torture-writer: {}: {error}", args.strategy);
        return ExitCode::from(1);
    }
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "committed {}", args.target.display()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("torture-writer: cannot print the acknowledgement: {error}");
            ExitCode::from(1)
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = Strategy::EVERY.iter().map(|s| s.name()).collect();
    format!(
        "usage: torture-writer STRATEGY [--target PATH] [--size BYTES]\n       torture-writer --list\n\
         strategies: {}\nenvironment: TORTURE_TARGET (when --target is absent), TORTURE_GENERATION (default 1)",
        names.join(", ")
    )
}

/// `Ok(None)`: a listing or help was printed, nothing to write.
fn parse(raw: Vec<OsString>) -> Result<Option<Args>, String> {
    let mut raw = raw.into_iter();
    let first = raw.next().ok_or("missing STRATEGY")?;
    let first = first.to_str().ok_or("STRATEGY must be UTF-8")?;
    match first {
        "--list" => {
            let lines: Vec<String> = Strategy::EVERY
                .iter()
                .map(|s| {
                    format!(
                        "{:<18} {:<7} {}\n",
                        s.name(),
                        s.expect_kill().to_string(),
                        s.description()
                    )
                })
                .collect();
            print_ignoring_broken_pipe(&lines.concat());
            return Ok(None);
        }
        "--help" | "-h" => {
            print_ignoring_broken_pipe(&format!("{}\n", usage()));
            return Ok(None);
        }
        _ => {}
    }
    let strategy: Strategy = first.parse().map_err(|e| format!("{e}"))?;
    let (mut target, mut size_bytes) = (None, DEFAULT_SIZE_BYTES);
    while let Some(flag) = raw.next() {
        let mut value = || {
            raw.next()
                .ok_or(format!("{} needs a value", flag.to_string_lossy()))
        };
        match flag.to_str() {
            Some("--target") => target = Some(PathBuf::from(value()?)),
            Some("--size") => size_bytes = parse_size(&value()?)?,
            _ => return Err(format!("unexpected argument `{}`", flag.to_string_lossy())),
        }
    }
    let target = target
        .or_else(|| std::env::var_os("TORTURE_TARGET").map(PathBuf::from))
        .ok_or("no target: pass --target PATH or set TORTURE_TARGET")?;
    let generation = match std::env::var_os("TORTURE_GENERATION") {
        None => 1,
        Some(g) => g.to_str().and_then(|g| g.parse().ok()).ok_or(format!(
            "TORTURE_GENERATION must be a whole number, not `{}`",
            g.to_string_lossy()
        ))?,
    };
    Ok(Some(Args {
        strategy,
        target,
        size_bytes,
        generation,
    }))
}

/// `println!` would panic when stdout is closed early (`torture-writer --list | head -1`).
fn print_ignoring_broken_pipe(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn parse_size(value: &OsString) -> Result<usize, String> {
    let text = value
        .to_str()
        .ok_or_else(|| format!("--size `{}` is not UTF-8", value.to_string_lossy()))?;
    let size = usize::try_from(torture_core::size::parse_size_bytes(text)?).unwrap_or(usize::MAX);
    if size > MAX_SIZE_BYTES {
        return Err(format!(
            "--size {size} is above the limit of {MAX_SIZE_BYTES} bytes"
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<Option<Args>, String> {
        parse(words.iter().map(OsString::from).collect())
    }

    #[test]
    fn parses_strategy_target_and_size() {
        let parsed = args(&["rename-fsync", "--target", "/x/t.json", "--size", "100"])
            .unwrap()
            .unwrap();
        assert_eq!(parsed.strategy, Strategy::RenameFsync);
        assert_eq!(parsed.target, PathBuf::from("/x/t.json"));
        assert_eq!(parsed.size_bytes, 100);
        let defaults = args(&["plain", "--target", "t"]).unwrap().unwrap();
        assert_eq!(defaults.size_bytes, DEFAULT_SIZE_BYTES);
    }

    #[test]
    fn rejects_bad_usage_with_a_reason() {
        let err = |words: &[&str]| args(words).err().unwrap();
        assert!(err(&[]).contains("missing STRATEGY"));
        assert!(err(&["fsync-only", "--target", "t"]).contains("unknown strategy"));
        assert!(err(&["plain", "--target"]).contains("--target needs a value"));
        assert!(err(&["plain", "--target", "t", "--size", "1 parsec"]).contains("not a size"));
        assert!(err(&["plain", "--target", "t", "--size", "9999999999999"]).contains("limit"));
        assert!(
            err(&["plain", "--target", "t", "--fast"]).contains("unexpected argument `--fast`")
        );
    }
}
