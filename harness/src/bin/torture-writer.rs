//! `torture-writer STRATEGY [--target PATH] [--size BYTES]`: writes the payload of generation
//! `$TORTURE_GENERATION` (default 1) to the target with one built-in strategy, then prints
//! `committed <path>` (the acknowledgement). The target defaults to `$TORTURE_TARGET`.
//!
//! Exit codes: 0 committed; 1 the write failed; 2 bad usage. Kept tiny: it starts thousands of
//! times per campaign.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use intact_harness::payload::payload;
use intact_harness::strategies::Strategy;

const DEFAULT_SIZE_BYTES: usize = 64 * 1024;

struct Args {
    strategy: Strategy,
    target: PathBuf,
    size_bytes: usize,
    generation: u64,
}

fn main() -> ExitCode {
    let args = match parse(std::env::args_os().skip(1).collect()) {
        Ok(Some(args)) => args,
        Ok(None) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("torture-writer: {message}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    let contents = payload(args.size_bytes, args.generation);
    if let Err(error) = args.strategy.write(&args.target, &contents) {
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
    let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
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
            for s in Strategy::ALL {
                println!(
                    "{:<18} {:<7} {}",
                    s.name(),
                    s.expect().to_string(),
                    s.description()
                );
            }
            return Ok(None);
        }
        "--help" | "-h" => {
            println!("{}", usage());
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

fn parse_size(value: &OsString) -> Result<usize, String> {
    value.to_str().and_then(|v| v.parse().ok()).ok_or(format!(
        "--size must be a whole number of bytes, not `{}`",
        value.to_string_lossy()
    ))
}
