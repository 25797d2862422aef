//! Tracer tests with real processes (`/bin/sh` writers; the built binaries are only reachable
//! from integration tests). They run in parallel threads, as campaign workers do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::*;
use std::os::unix::fs::MetadataExt;
use torture_core::killpoint::When;

use torture_core::fault::Fault;
use torture_core::trace::{AckKind, ExitStatus, InitialState, Op};

struct Sandbox(PathBuf);

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let dir = std::env::temp_dir().join(format!("intact-tracer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Sandbox(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn read(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.0.join(name)).ok()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sh(script: &str) -> WriterCommand {
    WriterCommand {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    }
}

fn limits() -> RunLimits {
    RunLimits {
        timeout_ms: 20_000,
        cancel: Arc::new(AtomicBool::new(false)),
    }
}

/// Three separate `write` calls of 4, 3 and 5 bytes to out.txt (dash's printf writes at once).
const THREE_WRITES: &str = "printf aaaa > out.txt; printf bbb >> out.txt; printf ccccc >> out.txt";

#[test]
fn golden_counts_exactly_the_bytes_written_to_sandbox_files() {
    let sb = Sandbox::new("golden-count");
    let golden = record_golden(
        &sh(&format!(
            "{THREE_WRITES}; printf ignored; printf x > /dev/null"
        )),
        sb.path(),
        Path::new("out.txt"),
        &limits(),
    )
    .unwrap();
    assert_eq!(golden.exit_code, 0);
    assert_eq!(golden.stdout, b"ignored");
    assert_eq!(golden.space.total_bytes, 12);
    assert_eq!(sb.read("out.txt").unwrap(), b"aaaabbbccccc");
    assert!(golden.unmodelled.is_empty(), "{:?}", golden.unmodelled);
}

#[test]
fn golden_trace_rebuilds_the_file() {
    let sb = Sandbox::new("golden-trace");
    let golden =
        record_golden(&sh(THREE_WRITES), sb.path(), Path::new("target"), &limits()).unwrap();
    golden.trace.validate().unwrap();
    let mut rebuilt = Vec::new();
    for event in &golden.trace.events {
        if let Op::Write {
            path,
            offset_bytes,
            data,
            ..
        } = &event.op
        {
            assert_eq!(path, "out.txt");
            let end = *offset_bytes as usize + data.len();
            rebuilt.resize(rebuilt.len().max(end), 0);
            rebuilt[*offset_bytes as usize..end].copy_from_slice(data);
        }
    }
    assert_eq!(rebuilt, b"aaaabbbccccc");
    let opens: Vec<(bool, bool)> = golden
        .trace
        .events
        .iter()
        .filter_map(|e| {
            if let Op::Open {
                created, truncated, ..
            } = &e.op
            {
                Some((*created, *truncated))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(
        opens,
        [(true, false), (false, false), (false, false)],
        "create, then two appends"
    );
    let parsed = torture_core::trace::Trace::parse_bytes(&golden.trace.to_jsonl()).unwrap();
    assert_eq!(parsed, golden.trace);
}

#[test]
fn golden_lists_boundaries_before_and_after_in_program_order() {
    let sb = Sandbox::new("golden-boundaries");
    let golden = record_golden(
        &sh("printf x > a; mv a b"),
        sb.path(),
        Path::new("b"),
        &limits(),
    )
    .unwrap();
    let b = &golden.space.boundaries;
    let labels: Vec<(&str, When)> = b.iter().map(|b| (b.path.as_str(), b.when)).collect();
    assert!(
        labels.starts_with(&[("a", When::Before), ("a", When::After)]),
        "{labels:?}"
    );
    let rename = b
        .iter()
        .find(|b| b.syscall.starts_with("rename"))
        .expect("a rename boundary");
    assert_eq!(rename.path, "a -> b");
    assert_eq!(rename.when, When::Before);
    assert_eq!(b[rename.index as usize + 1].when, When::After);
    for (i, boundary) in b.iter().enumerate() {
        assert_eq!(boundary.index, i as u64);
    }
}

#[test]
fn byte_kill_leaves_exactly_the_prefix() {
    for k in [1u64, 4, 5, 7, 11, 12] {
        let sb = Sandbox::new(&format!("byte-{k}"));
        let end = run_to_kill(&sh(THREE_WRITES), sb.path(), KillPoint::Byte(k), &limits())
            .unwrap()
            .outcome;
        assert_eq!(
            end,
            Outcome::Killed {
                point: KillPoint::Byte(k)
            }
        );
        let expected = &b"aaaabbbccccc"[..k as usize];
        assert_eq!(sb.read("out.txt").unwrap(), expected, "byte:{k}");
    }
}

#[test]
fn byte_kill_shrinks_a_vectored_write() {
    let sb = Sandbox::new("byte-writev");
    // Python's os.writev issues one writev with three iovecs (3 + 4 + 5 bytes).
    let script = "import os\nfd = os.open('v', os.O_WRONLY | os.O_CREAT)\nos.writev(fd, [b'abc', b'defg', b'hijkl'])\n";
    let cmd = WriterCommand {
        program: "python3".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    };
    let golden = record_golden(&cmd, sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(golden.space.total_bytes, 12);
    let data: Vec<u8> = golden
        .trace
        .events
        .iter()
        .filter_map(|e| {
            if let Op::Write { data, .. } = &e.op {
                Some(data.clone())
            } else {
                None
            }
        })
        .flatten()
        .collect();
    assert_eq!(data, b"abcdefghijkl");
    for k in [2u64, 3, 6, 12] {
        let sb = Sandbox::new(&format!("byte-writev-{k}"));
        let end = run_to_kill(&cmd, sb.path(), KillPoint::Byte(k), &limits())
            .unwrap()
            .outcome;
        assert_eq!(
            end,
            Outcome::Killed {
                point: KillPoint::Byte(k)
            }
        );
        assert_eq!(
            sb.read("v").unwrap(),
            &b"abcdefghijkl"[..k as usize],
            "byte:{k}"
        );
    }
}

#[test]
fn byte_point_past_the_end_is_not_reached() {
    let sb = Sandbox::new("byte-past");
    let end = run_to_kill(&sh(THREE_WRITES), sb.path(), KillPoint::Byte(13), &limits())
        .unwrap()
        .outcome;
    assert_eq!(
        end,
        Outcome::NotReached {
            exit: ExitStatus::Code(0)
        }
    );
    assert!(matches!(
        run_to_kill(&sh(THREE_WRITES), sb.path(), KillPoint::Byte(0), &limits()),
        Err(TraceError::InvalidPoint { .. })
    ));
}

fn rename_boundary(sb: &Sandbox) -> (u64, u64) {
    let golden = record_golden(
        &sh("printf x > a; mv a b"),
        sb.path(),
        Path::new("b"),
        &limits(),
    )
    .unwrap();
    let rename = golden
        .space
        .boundaries
        .iter()
        .find(|b| b.syscall.starts_with("rename"))
        .unwrap();
    (rename.index, rename.index + 1)
}

#[test]
fn syscall_kill_before_a_rename_leaves_it_undone() {
    let sb = Sandbox::new("before-rename");
    let (before, _) = rename_boundary(&sb);
    let sb = Sandbox::new("before-rename-trial");
    let end = run_to_kill(
        &sh("printf x > a; mv a b"),
        sb.path(),
        KillPoint::Syscall(before),
        &limits(),
    )
    .unwrap()
    .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Syscall(before)
        }
    );
    assert_eq!(sb.names(), ["a"]);
}

#[test]
fn syscall_kill_after_a_rename_leaves_it_done() {
    let sb = Sandbox::new("after-rename");
    let (_, after) = rename_boundary(&sb);
    let sb = Sandbox::new("after-rename-trial");
    let end = run_to_kill(
        &sh("printf x > a; mv a b"),
        sb.path(),
        KillPoint::Syscall(after),
        &limits(),
    )
    .unwrap()
    .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Syscall(after)
        }
    );
    assert_eq!(sb.names(), ["b"]);
}

#[test]
fn syscall_kill_before_the_first_open_leaves_nothing() {
    let sb = Sandbox::new("before-open");
    let end = run_to_kill(
        &sh(THREE_WRITES),
        sb.path(),
        KillPoint::Syscall(0),
        &limits(),
    )
    .unwrap()
    .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Syscall(0)
        }
    );
    assert!(sb.names().is_empty(), "{:?}", sb.names());
}

#[test]
fn forked_children_are_followed() {
    let sb = Sandbox::new("fork");
    // The subshell and `cat` are separate processes; cat writes 'kid' via an exec'd binary.
    let script = "(printf parent > p); printf kid | cat > c; wait";
    let golden = record_golden(&sh(script), sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(golden.space.total_bytes, 9);
    let pids: std::collections::BTreeSet<i32> = golden.trace.events.iter().map(|e| e.pid).collect();
    assert!(pids.len() >= 2, "events from {pids:?}");
    let sb = Sandbox::new("fork-trial");
    let end = run_to_kill(&sh(script), sb.path(), KillPoint::Byte(8), &limits())
        .unwrap()
        .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Byte(8)
        }
    );
    assert_eq!(sb.read("p").unwrap(), b"parent");
    assert_eq!(sb.read("c").unwrap(), b"ki");
}

#[test]
fn a_hung_writer_times_out() {
    let sb = Sandbox::new("hung");
    let limits = RunLimits {
        timeout_ms: 300,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let started = std::time::Instant::now();
    let end = run_to_kill(
        &sh("printf x > a; sleep 30"),
        sb.path(),
        KillPoint::Byte(2),
        &limits,
    )
    .unwrap()
    .outcome;
    assert!(
        matches!(end, Outcome::TimedOut { elapsed_ms } if elapsed_ms >= 300),
        "{end:?}"
    );
    assert!(started.elapsed().as_secs() < 10);
    let golden = record_golden(&sh("sleep 30"), sb.path(), Path::new("target"), &limits);
    assert!(
        matches!(golden, Err(TraceError::TimedOut { .. })),
        "{golden:?}"
    );
}

#[test]
fn cancel_kills_the_writer() {
    let sb = Sandbox::new("cancel");
    let cancel = Arc::new(AtomicBool::new(false));
    let limits = RunLimits {
        timeout_ms: 60_000,
        cancel: Arc::clone(&cancel),
    };
    let flag = Arc::clone(&cancel);
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let end = run_to_kill(&sh("sleep 30"), sb.path(), KillPoint::Byte(1), &limits)
        .unwrap()
        .outcome;
    canceller.join().unwrap();
    assert_eq!(end, Outcome::Cancelled);
}

#[test]
fn a_writer_that_never_writes_in_the_sandbox_has_no_bytes() {
    let sb = Sandbox::new("no-writes");
    let outside = Sandbox::new("no-writes-outside");
    let script = format!(
        "printf x > {}/f; cat /etc/hostname > /dev/null; true",
        outside.path().display()
    );
    let golden = record_golden(&sh(&script), sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(golden.space.total_bytes, 0);
    assert!(
        golden.space.boundaries.is_empty(),
        "{:?}",
        golden.space.boundaries
    );
    assert!(golden.trace.events.is_empty());
}

#[test]
fn a_missing_program_is_a_spawn_error() {
    let sb = Sandbox::new("missing");
    let cmd = WriterCommand {
        program: "no-such-writer-anywhere".into(),
        args: Vec::new(),
        env: Vec::new(),
    };
    let err = record_golden(&cmd, sb.path(), Path::new("target"), &limits()).unwrap_err();
    assert!(matches!(err, TraceError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("no-such-writer-anywhere"), "{err}");
}

#[test]
fn a_writer_killed_by_another_signal_is_a_harness_error() {
    let sb = Sandbox::new("segv");
    let err = run_to_kill(
        &sh("echo oops >&2; kill -SEGV $$"),
        sb.path(),
        KillPoint::Byte(1),
        &limits(),
    )
    .unwrap_err();
    assert!(matches!(err, TraceError::UnexpectedEnd { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("SIGSEGV") && message.contains("oops"),
        "{message}"
    );
}

#[test]
fn env_and_cwd_reach_the_writer() {
    let sb = Sandbox::new("env");
    let mut cmd = sh("printf %s \"$TORTURE_TARGET\" > \"$TORTURE_TARGET\"");
    let target = sb.path().join("t");
    cmd.env.push((
        OsString::from("TORTURE_TARGET"),
        target.clone().into_os_string(),
    ));
    let golden = record_golden(&cmd, sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(golden.space.total_bytes, target.as_os_str().len() as u64);
    let relative = sh("pwd > here");
    record_golden(&relative, sb.path(), Path::new("target"), &limits()).unwrap();
    let here = String::from_utf8(sb.read("here").unwrap()).unwrap();
    assert_eq!(
        Path::new(here.trim()),
        std::fs::canonicalize(sb.path()).unwrap()
    );
}

/// Gone, or a zombie: an orphaned grandchild is reaped by init, not by the tracer.
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains("zombie")),
    }
}

fn read_pids(path: &Path) -> Vec<i32> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

#[test]
fn a_kill_takes_the_whole_tree_even_outside_the_process_group() {
    let sb = Sandbox::new("tree");
    let outside = Sandbox::new("tree-pids");
    let pids = outside.path().join("pids");
    // One background child in the writer's group, one in a session of its own; both hang.
    let script = format!(
        "sleep 30 & echo $! >> {p}; setsid sleep 30 & echo $! >> {p}; sleep 0.2; printf abc > f; sleep 30",
        p = pids.display()
    );
    let end = run_to_kill(&sh(&script), sb.path(), KillPoint::Byte(2), &limits())
        .unwrap()
        .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Byte(2)
        }
    );
    let children = read_pids(&pids);
    for pid in children {
        assert!(dead(pid), "pid {pid} survived the kill");
    }
    assert_eq!(sb.read("f").unwrap(), b"ab");
}

#[test]
fn threads_and_spawned_subprocesses_are_followed() {
    let sb = Sandbox::new("threads");
    // Two threads write their own files; then subprocess (vfork/posix_spawn) runs a shell that
    // writes a third.
    let script = "import threading, subprocess\n\
        def w(name):\n    with open(name, 'wb') as f:\n        f.write(b'x' * 100)\n\
        ts = [threading.Thread(target=w, args=(n,)) for n in ('t1', 't2')]\n\
        [t.start() for t in ts]\n[t.join() for t in ts]\n\
        subprocess.run(['/bin/sh', '-c', 'printf 12345 > s'], check=True)\n";
    let cmd = WriterCommand {
        program: "python3".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    };
    let golden = record_golden(&cmd, sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(
        golden.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&golden.stderr)
    );
    assert_eq!(golden.space.total_bytes, 205);
    let sb = Sandbox::new("threads-trial");
    let end = run_to_kill(&cmd, sb.path(), KillPoint::Byte(203), &limits())
        .unwrap()
        .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Byte(203)
        }
    );
    assert_eq!(sb.read("s").unwrap(), b"123");
}

#[test]
fn concurrent_runs_in_threads_see_only_their_own_tracees() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let sb = Sandbox::new(&format!("parallel-{i}"));
                for k in [3u64, 9] {
                    let end =
                        run_to_kill(&sh(THREE_WRITES), sb.path(), KillPoint::Byte(k), &limits())
                            .unwrap()
                            .outcome;
                    assert_eq!(
                        end,
                        Outcome::Killed {
                            point: KillPoint::Byte(k)
                        }
                    );
                    assert_eq!(sb.read("out.txt").unwrap(), &b"aaaabbbccccc"[..k as usize]);
                }
                let golden =
                    record_golden(&sh(THREE_WRITES), sb.path(), Path::new("target"), &limits())
                        .unwrap();
                assert_eq!(golden.space.total_bytes, 12);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

fn python(script: &str) -> WriterCommand {
    WriterCommand {
        program: "python3".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    }
}

fn writes(golden: &GoldenRun) -> Vec<(String, u64, Vec<u8>)> {
    let write = |e: &torture_core::trace::Event| {
        if let Op::Write {
            path,
            offset_bytes,
            data,
            ..
        } = &e.op
        {
            Some((path.clone(), *offset_bytes, data.clone()))
        } else {
            None
        }
    };
    golden.trace.events.iter().filter_map(write).collect()
}

#[test]
fn golden_records_offsets_of_pwrite_append_and_copy_file_range() {
    let sb = Sandbox::new("offsets");
    let outside = Sandbox::new("offsets-src");
    std::fs::write(outside.path().join("src"), b"0123456789").unwrap();
    let script = format!(
        "import os\n\
         fd = os.open('f', os.O_WRONLY | os.O_CREAT)\n\
         os.write(fd, b'abc')\n\
         os.pwrite(fd, b'xyz', 10)\n\
         a = os.open('f', os.O_WRONLY | os.O_APPEND)\n\
         os.write(a, b'END')\n\
         src = os.open('{}', os.O_RDONLY)\n\
         dst = os.open('g', os.O_WRONLY | os.O_CREAT)\n\
         os.lseek(dst, 2, 0)\n\
         os.copy_file_range(src, dst, 6)\n\
         os.sendfile(dst, src, 0, 4)\n",
        outside.path().join("src").display()
    );
    let golden =
        record_golden(&python(&script), sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(
        golden.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&golden.stderr)
    );
    let expected = [
        ("f", 0, &b"abc"[..]),
        ("f", 10, b"xyz"),
        ("f", 13, b"END"),
        ("g", 2, b"012345"),
        ("g", 8, b"0123"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(p, o, d)| (p.to_string(), *o, d.to_vec()))
        .collect();
    assert_eq!(writes(&golden), expected);
    assert_eq!(golden.space.total_bytes, 19);
    let sb = Sandbox::new("offsets-trial");
    let end = run_to_kill(&python(&script), sb.path(), KillPoint::Byte(13), &limits())
        .unwrap()
        .outcome;
    assert_eq!(
        end,
        Outcome::Killed {
            point: KillPoint::Byte(13)
        }
    );
    assert_eq!(sb.read("g").unwrap(), b"\x00\x000123");
}

#[test]
fn shared_writable_mmap_and_io_uring_are_reported_as_unmodelled() {
    let sb = Sandbox::new("mmap");
    let script = "import os, mmap, ctypes\n\
        fd = os.open('m', os.O_RDWR | os.O_CREAT)\n\
        os.ftruncate(fd, 4096)\n\
        with mmap.mmap(fd, 4096) as m:\n    m[0:2] = b'hi'\n\
        params = ctypes.create_string_buffer(120)\n\
        ctypes.CDLL(None, use_errno=True).syscall(425, 4, params)\n";
    let golden = record_golden(&python(script), sb.path(), Path::new("target"), &limits()).unwrap();
    assert_eq!(
        golden.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&golden.stderr)
    );
    // io_uring is seen at once; a mapping without any msync only at the end of the run.
    assert_eq!(golden.unmodelled.len(), 2, "{:?}", golden.unmodelled);
    assert!(golden.unmodelled[0].contains("io_uring"));
    assert!(golden.unmodelled[1].contains("mmap") && golden.unmodelled[1].contains("no msync"));
    let kinds: Vec<&str> = golden.trace.events.iter().map(|e| e.op.kind()).collect();
    assert!(
        kinds.contains(&"mmap") && kinds.contains(&"io_uring_setup"),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"truncate"), "{kinds:?}");
}

#[test]
fn a_mapping_with_msync_is_killed_at_its_msyncs_and_noted() {
    let sb = Sandbox::new("msync");
    let script = "import os, mmap\n\
        fd = os.open('m', os.O_RDWR | os.O_CREAT)\n\
        os.ftruncate(fd, 8192)\n\
        with mmap.mmap(fd, 8192) as m:\n    m[0:2] = b'hi'\n    m.flush(0, 4096)\n    m[4096:4098] = b'yo'\n    m.flush(4096, 4096)\n";
    let golden = record_golden(&python(script), sb.path(), Path::new("target"), &limits()).unwrap();
    assert!(golden.unmodelled.is_empty(), "{:?}", golden.unmodelled);
    assert!(
        golden.notes.iter().any(|n| n.contains("2 msync calls")),
        "{:?}",
        golden.notes
    );
    let msync_boundaries = golden
        .space
        .boundaries
        .iter()
        .filter(|b| b.syscall == "msync")
        .count();
    assert_eq!(msync_boundaries, 4, "before and after each msync");
}

/// The seq of the first event of `op` kind in a golden trace, with its syscall name.
fn first_event(golden: &GoldenRun, kind: &str) -> torture_core::fault::CallRef {
    let event = golden
        .trace
        .events
        .iter()
        .find(|e| e.op.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} event in {:?}", golden.trace.events));
    torture_core::fault::CallRef {
        syscall: event.syscall.clone(),
        seq: event.seq,
    }
}

/// Writes `f`, fsyncs it and prints what fsync said; exits 3 when it failed.
const FSYNC_WRITER: &str = "import os, sys\n\
    fd = os.open('f', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n\
    os.write(fd, b'hello')\n\
    try:\n    os.fsync(fd)\n    print('ok')\n\
    except OSError as e:\n    print('fsync failed', e.errno)\n    sys.exit(3)\n";

#[test]
fn an_injected_eio_on_fsync_reaches_the_writer_and_the_call_never_runs() {
    let sb = Sandbox::new("errno-golden");
    let golden =
        record_golden(&python(FSYNC_WRITER), sb.path(), Path::new("f"), &limits()).unwrap();
    assert_eq!(golden.stdout, b"ok\n");
    let call = first_event(&golden, "fsync");
    let fault: Fault = format!("errno@{call}:EIO").parse().unwrap();
    let sb = Sandbox::new("errno-trial");
    let run = run_fault(
        &python(FSYNC_WRITER),
        sb.path(),
        Path::new("f"),
        &fault,
        &limits(),
    )
    .unwrap();
    assert_eq!(
        run.outcome,
        Outcome::Injected {
            fault: fault.clone(),
            exit: ExitStatus::Code(3)
        }
    );
    assert_eq!(run.ack.stdout, b"fsync failed 5\n");
    assert_eq!(run.ack.exit, Some(ExitStatus::Code(3)));
    let trace = run.trace.unwrap();
    let fsync = &trace.events[call.seq as usize];
    assert_eq!((fsync.syscall.as_str(), fsync.ret), ("fsync", -5));
    assert_eq!(sb.read("f").unwrap(), b"hello");
    // Not an fsync at that seq: refused, not injected somewhere else.
    let wrong: Fault = format!("errno@write#{}:EIO", call.seq).parse().unwrap();
    let err = run_fault(
        &python(FSYNC_WRITER),
        sb.path(),
        Path::new("f"),
        &wrong,
        &limits(),
    )
    .unwrap_err();
    assert!(matches!(err, TraceError::FaultMismatch { .. }), "{err}");
}

#[test]
fn a_short_write_of_one_byte_returns_one_and_writes_one() {
    let script = "import os\n\
        fd = os.open('f', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n\
        print(os.write(fd, b'hello'))\n";
    let sb = Sandbox::new("short-golden");
    let golden = record_golden(&python(script), sb.path(), Path::new("f"), &limits()).unwrap();
    let call = first_event(&golden, "write");
    let fault = Fault::Short {
        call: call.clone(),
        len_bytes: 1,
    };
    let sb = Sandbox::new("short-trial");
    let run = run_fault(
        &python(script),
        sb.path(),
        Path::new("f"),
        &fault,
        &limits(),
    )
    .unwrap();
    assert_eq!(
        run.outcome,
        Outcome::Injected {
            fault,
            exit: ExitStatus::Code(0)
        }
    );
    assert_eq!(run.ack.stdout, b"1\n");
    assert_eq!(sb.read("f").unwrap(), b"h");
    let trace = run.trace.unwrap();
    let write = &trace.events[call.seq as usize];
    assert!(
        matches!(&write.op, Op::Write { data, len_bytes: 1, .. } if data == b"h"),
        "{write:?}"
    );
    trace.validate().unwrap();
}

#[test]
fn acks_sit_between_the_events_around_the_line() {
    let sb = Sandbox::new("acks");
    let script = "printf aaaa > a; echo done; printf bbb > b; printf 'no newline'";
    let golden = record_golden(&sh(script), sb.path(), Path::new("b"), &limits()).unwrap();
    let acks = &golden.trace.header.acks;
    assert_eq!(acks.len(), 2, "{acks:?}");
    assert_eq!(
        acks[0].kind,
        AckKind::Line {
            text: "done".into()
        }
    );
    let at = acks[0].events_before as usize;
    let events = &golden.trace.events;
    assert!(at > 0 && at < events.len(), "{at} of {}", events.len());
    assert!(
        events[..at].iter().all(|e| e.op.paths() == ["a"]),
        "{events:?}"
    );
    assert!(
        events[at..].iter().all(|e| e.op.paths() == ["b"]),
        "{events:?}"
    );
    assert_eq!(acks[1].kind, AckKind::Exit);
    assert_eq!(acks[1].events_before, events.len() as u64);
    golden.trace.validate().unwrap();
}

#[test]
fn chmod_chown_and_the_syncs_are_recorded() {
    let sb = Sandbox::new("chmod");
    let script = "import os, ctypes\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        fd = os.open('f', os.O_WRONLY | os.O_CREAT, 0o600)\n\
        os.fchmod(fd, 0o640)\n\
        os.chmod('f', 0o644)\n\
        os.fchown(fd, -1, os.getgid())\n\
        os.chown('f', os.getuid(), -1)\n\
        os.sync()\n\
        assert libc.syncfs(fd) == 0\n\
        assert libc.sync_file_range(fd, ctypes.c_long(0), ctypes.c_long(0), 2) == 0\n";
    let golden = record_golden(&python(script), sb.path(), Path::new("f"), &limits()).unwrap();
    assert_eq!(
        golden.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&golden.stderr)
    );
    let ino = std::fs::metadata(sb.path().join("f")).unwrap().ino();
    let ops: Vec<(&str, &Op)> = golden
        .trace
        .events
        .iter()
        .filter(|e| e.op.kind() != "open" && e.op.kind() != "close")
        .map(|e| (e.syscall.as_str(), &e.op))
        .collect();
    let meta = std::fs::metadata(sb.path().join("f")).unwrap();
    let (uid, gid) = (meta.uid(), meta.gid());
    let chmod = |mode| Op::Chmod {
        path: "f".into(),
        ino: Some(ino),
        mode,
    };
    let chown = |uid, gid| Op::Chown {
        path: "f".into(),
        ino: Some(ino),
        uid,
        gid,
    };
    assert_eq!(ops[0], ("fchmod", &chmod(0o640)));
    assert!(
        ops[1].0.starts_with("chmod") || ops[1].0.starts_with("fchmodat"),
        "{:?}",
        ops[1]
    );
    assert_eq!(ops[1].1, &chmod(0o644));
    assert_eq!(ops[2], ("fchown", &chown(None, Some(gid))));
    assert_eq!(ops[3].1, &chown(Some(uid), None));
    assert_eq!(ops[4], ("sync", &Op::Sync));
    assert_eq!(
        ops[5],
        (
            "syncfs",
            &Op::Syncfs {
                path: Some("f".into())
            }
        )
    );
    assert!(
        matches!(
            ops[6],
            ("sync_file_range", Op::SyncFileRange { flags: 2, .. })
        ),
        "{:?}",
        ops[6]
    );
    golden.trace.validate().unwrap();
}

#[test]
fn every_boundary_points_at_its_event() {
    let sb = Sandbox::new("boundary-seq");
    let golden = record_golden(
        &sh("printf x > a; mv a b; rm b"),
        sb.path(),
        Path::new("b"),
        &limits(),
    )
    .unwrap();
    let events = &golden.trace.events;
    assert!(!golden.space.boundaries.is_empty());
    for boundary in &golden.space.boundaries {
        let seq = boundary
            .seq
            .unwrap_or_else(|| panic!("{boundary:?} has no seq"));
        let event = &events[seq as usize];
        assert_eq!(event.syscall, boundary.syscall, "{boundary:?} -> {event:?}");
        assert_eq!(event.op.paths().join(" -> "), boundary.path);
    }
}

#[test]
fn the_v2_header_knows_target_initial_state_arch_fs_and_exit() {
    let sb = Sandbox::new("header");
    std::fs::write(sb.path().join("t.json"), b"{\"old\":1}").unwrap();
    let golden = record_golden(
        &sh("printf new > t.tmp; mv t.tmp t.json; exit 0"),
        sb.path(),
        &sb.path().join("t.json"),
        &limits(),
    )
    .unwrap();
    let header = &golden.trace.header;
    assert_eq!(header.target.as_deref(), Some("t.json"));
    assert_eq!(
        header.initial,
        Some(InitialState::Old {
            data: b"{\"old\":1}".to_vec()
        })
    );
    assert_eq!(header.arch, std::env::consts::ARCH);
    let fs = header.fs.as_ref().expect("the sandbox's file system");
    assert!(
        !fs.fs_type.is_empty() && !fs.mount_options.is_empty(),
        "{fs:?}"
    );
    assert_eq!(header.exit, Some(ExitStatus::Code(0)));
    let sb = Sandbox::new("header-absent");
    let golden = record_golden(&sh("printf x > t"), sb.path(), Path::new("t"), &limits()).unwrap();
    assert_eq!(golden.trace.header.initial, Some(InitialState::Absent));
    let parsed = torture_core::trace::Trace::parse_bytes(&golden.trace.to_jsonl()).unwrap();
    assert_eq!(parsed, golden.trace);
}

#[test]
fn a_held_writer_waits_while_another_runs_then_finishes() {
    let writer = sh("printf A > a.tmp; mv a.tmp t");
    let sb = Sandbox::new("hold-golden");
    let golden = record_golden(&writer, sb.path(), Path::new("t"), &limits()).unwrap();
    let fault = Fault::Hold {
        call: first_event(&golden, "rename"),
    };
    let sb = Sandbox::new("hold-race");
    let held = match start_fault(&writer, sb.path(), Path::new("t"), &fault, &limits()).unwrap() {
        Progress::Held(held) => held,
        Progress::Done(run) => panic!("not held: {run:?}"),
    };
    assert_eq!(Some(held.at()), fault.call());
    // The other writer runs on this same thread while the first is stopped before its rename.
    let other = sh("if test -e t; then echo seen; else echo unseen; fi; printf B > b");
    let second = record_golden(&other, sb.path(), Path::new("b"), &limits()).unwrap();
    assert_eq!(second.stdout, b"unseen\n");
    let run = match held.resume().unwrap() {
        Progress::Done(run) => run,
        Progress::Held(again) => panic!("held again at {:?}", again.at()),
    };
    assert_eq!(
        run.outcome,
        Outcome::Injected {
            fault,
            exit: ExitStatus::Code(0)
        }
    );
    assert_eq!(sb.read("t").unwrap(), b"A");
    assert_eq!(sb.read("b").unwrap(), b"B");
}

#[test]
fn a_dropped_held_writer_is_killed_and_reaped() {
    let writer = sh("printf A > a.tmp; mv a.tmp t");
    let sb = Sandbox::new("hold-drop-golden");
    let golden = record_golden(&writer, sb.path(), Path::new("t"), &limits()).unwrap();
    let fault = Fault::Hold {
        call: first_event(&golden, "rename"),
    };
    let sb = Sandbox::new("hold-drop");
    let Progress::Held(held) =
        start_fault(&writer, sb.path(), Path::new("t"), &fault, &limits()).unwrap()
    else {
        panic!("not held");
    };
    let pid = held.pid();
    drop(held);
    assert!(dead(pid), "the held tracee {pid} survived its drop");
    assert_eq!(sb.names(), ["a.tmp"]);
}

/// Steps a held writer to its next step, or returns its finished run.
fn step(progress: Progress) -> Result<HeldRun, Box<Run>> {
    match progress {
        Progress::Held(held) => Ok(held),
        Progress::Done(run) => Err(run),
    }
}

fn started(writer: &WriterCommand, sb: &Sandbox, target: &str) -> HeldRun {
    let progress = start_stepping(writer, sb.path(), Path::new(target), &limits()).unwrap();
    step(progress).expect("held at its first step")
}

#[test]
fn stepping_writers_interleave_one_syscall_at_a_time() {
    let sb = Sandbox::new("stepping");
    let writer = |name: &str| sh(&format!("printf {name} > {name}.tmp; mv {name}.tmp t"));
    let mut a = started(&writer("A"), &sb, "t");
    let b = started(&writer("B"), &sb, "t");
    let first = a.step_at().unwrap().clone();
    assert_eq!(
        (first.call.syscall.as_str(), first.path.as_str()),
        ("openat", "A.tmp")
    );
    assert_eq!(first.point, KillPoint::Syscall(0));
    // Both are held before their opens: nothing exists yet.
    assert!(sb.names().is_empty(), "{:?}", sb.names());
    let mut seen = Vec::new();
    let run_a = loop {
        let at = a.step_at().unwrap();
        seen.push(format!("{}:{}", at.call.syscall, at.path));
        match step(a.step().unwrap()) {
            Ok(next) => a = next,
            Err(run) => break run,
        }
    };
    assert_eq!(seen.first().map(String::as_str), Some("openat:A.tmp"));
    assert!(seen.contains(&"write:A.tmp".to_owned()), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("renameat2:A.tmp -> t")
    );
    assert_eq!(run_a.ack.exit, Some(ExitStatus::Code(0)));
    assert_eq!(sb.read("t").unwrap(), b"A");
    // B was held all along; it now runs to its end at once.
    let run_b = match b.resume().unwrap() {
        Progress::Done(run) => run,
        Progress::Held(held) => panic!("held again at {:?}", held.step_at()),
    };
    assert_eq!(run_b.ack.exit, Some(ExitStatus::Code(0)));
    assert_eq!(sb.read("t").unwrap(), b"B");
    assert_eq!(sb.names(), ["t"]);
}

#[test]
fn a_stepping_writer_killed_where_it_is_held_leaves_what_that_kill_point_leaves() {
    let sb = Sandbox::new("stepping-kill");
    let mut held = started(&sh("printf A > a.tmp; mv a.tmp t"), &sb, "t");
    while held.step_at().unwrap().call.syscall != "write" {
        held = step(held.step().unwrap()).expect("reaches its write");
    }
    let pid = held.pid();
    let run = held.kill().unwrap();
    assert!(dead(pid));
    // Before the first write is after the boundary before it (the shell's open and its close
    // of the fd it duplicated).
    let Outcome::Killed {
        point: KillPoint::Syscall(after),
    } = run.outcome
    else {
        panic!("{:?}", run.outcome);
    };
    assert_eq!(after % 2, 1, "an after-boundary point");
    assert_eq!(run.ack.exit, Some(ExitStatus::Signal(libc::SIGKILL)));
    assert_eq!(sb.read("a.tmp").unwrap(), b"");
    let trace = run.trace.unwrap();
    assert_eq!(
        trace.events.len() as u64,
        after.div_ceil(2),
        "one event per boundary"
    );
}

/// The harness holding a writer is not the writer hanging: a stepping writer held three times
/// its timeout, at every step, still runs to its end; its clock starts afresh at each release.
#[test]
fn a_held_writer_is_not_timed_out_however_long_it_is_held() {
    let sb = Sandbox::new("held-long");
    let limits = RunLimits {
        timeout_ms: 200,
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let writer = sh("printf A > A.tmp; mv A.tmp t");
    let progress = start_stepping(&writer, sb.path(), Path::new("t"), &limits).unwrap();
    let mut held = step(progress).expect("held at its first step");
    let run = loop {
        std::thread::sleep(std::time::Duration::from_millis(600));
        match step(held.step().unwrap()) {
            Ok(next) => held = next,
            Err(run) => break run,
        }
    };
    assert_eq!(run.ack.exit, Some(ExitStatus::Code(0)), "{:?}", run.outcome);
    assert_eq!(sb.read("t").unwrap(), b"A");
}

#[test]
fn a_writer_that_leaves_a_child_running_is_told_and_the_child_ends_with_it() {
    let sb = Sandbox::new("left-running");
    let outside = Sandbox::new("left-running-pids");
    let pids = outside.path().join("pids");
    // Detached into a session of its own, it would outlive a process-group kill.
    let script = format!(
        "setsid sleep 300 & echo $! >> {p}; printf abc > f; exit 0",
        p = pids.display()
    );
    let started = std::time::Instant::now();
    let golden = record_golden(&sh(&script), sb.path(), Path::new("f"), &limits()).unwrap();
    assert_eq!(golden.exit_code, 0);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the run ends with the writer, not at the timeout"
    );
    let note = super::left_running_note(&golden.left_running)
        .unwrap_or_else(|| panic!("no child named: {:?}", golden.left_running));
    assert!(
        note.contains("left 1 process running") && note.contains("sleep 300"),
        "{note}"
    );
    for pid in read_pids(&pids) {
        assert!(dead(pid), "pid {pid} outlived the writer");
    }
    // A writer that waits for its children leaves nothing and is told nothing.
    let waits = record_golden(
        &sh("sleep 0.1 & wait; printf x > f"),
        sb.path(),
        Path::new("f"),
        &limits(),
    )
    .unwrap();
    assert!(waits.left_running.is_empty(), "{:?}", waits.left_running);
}
