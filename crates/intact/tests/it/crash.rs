//! Crash tests: a child process writing through intact is SIGKILLed; the target holds the old
//! bytes or one complete version, and `sweep` leaves the directory clean.

use std::io::Write;
use std::time::Duration;

use intact::{Durability, Options, Temp};

use crate::util::{TestDir, child_arg, child_role, report, spawn_child};

const SLOW_WRITER: &str = "slow-writer";
const SLOW_TEST: &str = "crash::killed_mid_write_leaves_the_old_bytes_and_sweep_cleans_up";

#[test]
fn killed_mid_write_leaves_the_old_bytes_and_sweep_cleans_up() {
    if child_role().as_deref() == Some(SLOW_WRITER) {
        return write_slowly_forever();
    }
    for temp in ["named", "anonymous"] {
        let dir = TestDir::new("crash-mid-write");
        let target = dir.join("target");
        std::fs::write(&target, b"old bytes").unwrap();
        let temp_arg = std::path::Path::new(temp);
        let mut child = spawn_child(
            SLOW_TEST,
            SLOW_WRITER,
            &[("TARGET", &target), ("TEMP", temp_arg)],
        );
        match child.next_report().as_str() {
            "unsupported" => continue,
            "writing" => {}
            other => panic!("unexpected report {other}"),
        }
        std::thread::sleep(Duration::from_millis(30));
        child.kill();

        assert_eq!(std::fs::read(&target).unwrap(), b"old bytes", "{temp}");
        let leftovers = dir.temp_names().len();
        assert_eq!(
            leftovers,
            usize::from(temp == "named"),
            "{temp}: {:?}",
            dir.names()
        );
        let swept = intact::sweep(dir.path()).unwrap();
        assert_eq!(swept.removed().len(), leftovers, "{temp}");
        assert_eq!(dir.names(), ["target"], "{temp}");
    }
}

/// Child: writes 4 KiB at a time, slowly, never committing.
fn write_slowly_forever() {
    let temp = match child_arg("TEMP").to_str() {
        Some("named") => Temp::Named,
        _ => Temp::Anonymous,
    };
    let mut file = match Options::new().temp(temp).create(child_arg("TARGET")) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
            return report("unsupported");
        }
        Err(error) => panic!("create: {error}"),
    };
    file.write_all(&[b'n'; 4096]).unwrap();
    report("writing");
    loop {
        file.write_all(&[b'n'; 4096]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}

const COMMIT_LOOP: &str = "commit-loop";
const LOOP_TEST: &str = "crash::killed_at_random_moments_of_a_commit_loop_leaves_one_whole_version";
const VERSION_BYTES: usize = 64 * 1024;

#[test]
fn killed_at_random_moments_of_a_commit_loop_leaves_one_whole_version() {
    if child_role().as_deref() == Some(COMMIT_LOOP) {
        return commit_versions_forever();
    }
    let dir = TestDir::new("crash-loop");
    let target = dir.join("target");
    std::fs::write(&target, version(0)).unwrap();
    for round in 0..12u64 {
        let mut child = spawn_child(LOOP_TEST, COMMIT_LOOP, &[("TARGET", &target)]);
        assert_eq!(child.next_report(), "started");
        // Spread the kills over the loop: every commit takes well under a millisecond.
        std::thread::sleep(Duration::from_micros(500 + round * 1_700));
        child.kill();
        let content = std::fs::read(&target).unwrap();
        assert!(
            is_whole_version(&content),
            "round {round}: torn target ({} bytes)",
            content.len()
        );
        intact::sweep(dir.path()).unwrap();
        assert_eq!(dir.names(), ["target"], "round {round}");
    }
}

/// Child: commits versions 1, 2, 3, ... of the target as fast as it can, alternating the
/// temp file kinds so kills land in both protocols.
fn commit_versions_forever() {
    let target = child_arg("TARGET");
    report("started");
    for n in 1u64.. {
        let temp = if n % 2 == 0 { Temp::Named } else { Temp::Auto };
        let options = Options::new().temp(temp).durability(Durability::None);
        let mut file = options.create(&target).unwrap();
        for chunk in version(n).chunks(8192) {
            file.write_all(chunk).unwrap();
        }
        file.commit().unwrap();
    }
}

/// Version `n`: a header line, then one filler byte derived from `n`.
fn version(n: u64) -> Vec<u8> {
    let mut bytes = format!("version {n}\n").into_bytes();
    bytes.resize(VERSION_BYTES, filler(n));
    bytes
}

fn filler(n: u64) -> u8 {
    b'a' + (n % 26) as u8
}

fn is_whole_version(content: &[u8]) -> bool {
    let Some(newline) = content.iter().position(|&b| b == b'\n') else {
        return false;
    };
    let header = std::str::from_utf8(&content[..newline]).unwrap_or("");
    let Some(n) = header
        .strip_prefix("version ")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return false;
    };
    content == version(n).as_slice()
}
