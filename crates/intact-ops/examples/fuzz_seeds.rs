//! Writes every scenario, encoded as fuzzer input, to the directory given
//! (default `fuzz/seeds/ops`, relative to the workspace root):
//!
//! ```text
//! cargo run -p intact-ops --example fuzz_seeds -- fuzz/seeds/ops
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("fuzz/seeds/ops"), PathBuf::from);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("error: creating {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    for (name, ops) in intact_ops::scenarios() {
        let path = dir.join(name);
        if let Err(error) = std::fs::write(&path, intact_ops::encode(&ops)) {
            eprintln!("error: writing {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
