//! The basic promises: replace, nothing visible before commit, drop and abort discard, no temp
//! file left behind, Seek + Write, a failed commit hands the file back.

use std::io::{Read, Seek, SeekFrom, Write};

use intact::{AtomicFile, CommitFailure, Durability, Options, Overwrite, Temp};

use std::os::unix::fs::PermissionsExt;

use crate::util::{TestDir, child_arg, child_role, is_root, report, spawn_child};

const TEMPS: [Temp; 3] = [Temp::Auto, Temp::Named, Temp::Anonymous];

/// Options with `temp`, or `None` when this filesystem has no `O_TMPFILE` for `Anonymous`.
fn options_for(dir: &TestDir, temp: Temp) -> Option<Options> {
    let options = Options::new().temp(temp);
    match options.create(dir.join("probe")) {
        Ok(_) => Some(options),
        Err(error) if error.kind() == std::io::ErrorKind::Unsupported => {
            println!(
                "Temp::Anonymous unsupported on {}: {error}",
                dir.path().display()
            );
            None
        }
        Err(error) => panic!("create probe: {error}"),
    }
}

#[test]
fn write_creates_then_replaces() {
    let dir = TestDir::new("write");
    let path = dir.join("out.txt");
    intact::write(&path, b"first").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    intact::write(&path, "second, longer").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
    intact::write(&path, b"").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"");
    assert_eq!(dir.names(), ["out.txt"]);
}

#[test]
fn every_durability_and_temp_kind_publishes() {
    let dir = TestDir::new("levels");
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        for durability in [Durability::None, Durability::Data, Durability::Full] {
            let path = dir.join("out");
            let contents = format!("{temp:?} {durability:?}");
            options
                .clone()
                .durability(durability)
                .write(&path, &contents)
                .unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
        }
    }
    assert_eq!(dir.names(), ["out"]);
}

#[test]
fn target_is_untouched_until_commit() {
    let dir = TestDir::new("invisible");
    let path = dir.join("data");
    std::fs::write(&path, b"old").unwrap();
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        let mut file = options.create(&path).unwrap();
        file.write_all(b"new content").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"old",
            "{temp:?}: visible before commit"
        );
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new content");
        std::fs::write(&path, b"old").unwrap();
    }
}

#[test]
fn drop_discards_and_leaves_no_temp_file() {
    let dir = TestDir::new("drop");
    let path = dir.join("data");
    std::fs::write(&path, b"old").unwrap();
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        let mut file = options.create(&path).unwrap();
        file.write_all(b"never published").unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "{temp:?}");
        assert_eq!(dir.names(), ["data"], "{temp:?}");
    }
}

#[test]
fn abort_discards_and_leaves_no_temp_file() {
    let dir = TestDir::new("abort");
    let path = dir.join("data");
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        let mut file = options.create(&path).unwrap();
        file.write_all(b"never published").unwrap();
        file.abort().unwrap();
        assert!(!path.exists(), "{temp:?}: abort created the target");
        assert!(dir.names().is_empty(), "{temp:?}: left {:?}", dir.names());
    }
}

#[test]
fn named_temp_exists_while_writing_and_is_gone_after_commit() {
    let dir = TestDir::new("named");
    let path = dir.join("report.csv");
    let file = Options::new().temp(Temp::Named).create(&path).unwrap();
    let temps = dir.temp_names();
    assert_eq!(temps.len(), 1, "{temps:?}");
    assert!(temps[0].starts_with(".report.csv."), "{}", temps[0]);
    file.commit().unwrap();
    assert_eq!(dir.names(), ["report.csv"]);
}

#[test]
fn auto_uses_an_unnamed_temp_file_where_the_filesystem_has_one() {
    let dir = TestDir::new("auto");
    let anonymous_works = options_for(&dir, Temp::Anonymous).is_some();
    let file = AtomicFile::create(dir.join("out")).unwrap();
    let expected_names = usize::from(!anonymous_works);
    assert_eq!(
        dir.temp_names().len(),
        expected_names,
        "Temp::Auto picked the wrong kind"
    );
    file.commit().unwrap();
    assert_eq!(dir.names(), ["out"]);
}

#[test]
fn failed_commit_hands_the_file_back_for_a_retry() {
    let dir = TestDir::new("retry");
    let path = dir.join("data");
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        std::fs::write(&path, b"in the way").unwrap();
        let mut file = options
            .clone()
            .overwrite(Overwrite::NoClobber)
            .create(&path)
            .unwrap();
        file.write_all(b"retried").unwrap();
        let error = file.commit().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists, "{temp:?}");
        assert_eq!(error.failure(), CommitFailure::NotPublished);
        assert!(!error.is_published());
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        std::fs::remove_file(&path).unwrap();
        let file = error.into_file();
        assert_eq!(file.target(), path);
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"retried", "{temp:?}");
        assert_eq!(dir.names(), ["data"], "{temp:?}");
    }
}

#[test]
fn failed_commit_leaves_no_temp_file_when_dropped() {
    let dir = TestDir::new("failed-drop");
    let path = dir.join("data");
    std::fs::write(&path, b"old").unwrap();
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        let mut file = options
            .overwrite(Overwrite::NoClobber)
            .create(&path)
            .unwrap();
        file.write_all(b"new").unwrap();
        let error: std::io::Error = file.commit().unwrap_err().into();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(dir.names(), ["data"], "{temp:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}

#[test]
fn aborting_a_handed_back_file_leaves_no_temp_file() {
    let dir = TestDir::new("failed-abort");
    let path = dir.join("data");
    std::fs::write(&path, b"old").unwrap();
    let file = Options::new()
        .temp(Temp::Named)
        .overwrite(Overwrite::NoClobber)
        .create(&path)
        .unwrap();
    file.commit().unwrap_err().into_file().abort().unwrap();
    assert_eq!(dir.names(), ["data"]);
}

#[test]
fn seek_and_write_behave_like_a_file() {
    let dir = TestDir::new("seek");
    let path = dir.join("data");
    let mut file = AtomicFile::create(&path).unwrap();
    file.write_all(b"hello world").unwrap();
    assert_eq!(file.stream_position().unwrap(), 11);
    file.seek(SeekFrom::Start(6)).unwrap();
    file.write_all(b"WORLD").unwrap();
    file.seek(SeekFrom::Current(-11)).unwrap();
    file.write_all(b"H").unwrap();
    assert_eq!(file.seek(SeekFrom::End(0)).unwrap(), 11);
    file.seek(SeekFrom::End(3)).unwrap();
    file.write_all(b"!").unwrap();
    let mut read_back = Vec::new();
    let mut reader = file.as_file();
    reader.seek(SeekFrom::Start(0)).unwrap();
    reader.read_to_end(&mut read_back).unwrap();
    assert_eq!(read_back, b"Hello WORLD\0\0\0!");
    file.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"Hello WORLD\0\0\0!");
}

#[test]
fn set_len_through_as_file_truncates_before_commit() {
    let dir = TestDir::new("set-len");
    let path = dir.join("data");
    let mut file = AtomicFile::create(&path).unwrap();
    file.write_all(b"0123456789").unwrap();
    file.as_file().set_len(4).unwrap();
    file.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"0123");
}

#[test]
fn large_writes_arrive_whole() {
    let dir = TestDir::new("large");
    let path = dir.join("big");
    let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    intact::write(&path, &contents).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), contents);
}

#[test]
fn debug_output_names_the_target() {
    let dir = TestDir::new("debug");
    let file = AtomicFile::create(dir.join("shown")).unwrap();
    let debug = format!("{file:?}");
    assert!(
        debug.contains("shown") && debug.contains("AtomicFile"),
        "{debug}"
    );
}

const LINK_AFTER_SETUID: &str = "link-after-setuid";

#[test]
fn an_unnamed_file_is_linked_through_proc_where_at_empty_path_is_refused() {
    // `linkat(fd, "", AT_EMPTY_PATH)` is refused (ENOENT) for a file opened under other
    // credentials (and, before Linux 6.10, to anyone without CAP_DAC_READ_SEARCH); the commit
    // must then link through /proc/self/fd. A child opens as root and commits as `nobody`.
    if child_role().as_deref() == Some(LINK_AFTER_SETUID) {
        return link_after_setuid();
    }
    if !is_root() {
        crate::util::skip("needs root to open a file as one user and link it as another");
        return;
    }
    let dir = TestDir::new("link-proc");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let test = "write::an_unnamed_file_is_linked_through_proc_where_at_empty_path_is_refused";
    let reports = spawn_child(test, LINK_AFTER_SETUID, &[("DIR", dir.path())]).finish();
    assert_eq!(reports, ["AT_EMPTY_PATH refused", "committed"]);
    for name in ["first", "second"] {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), name.as_bytes());
    }
    assert_eq!(dir.names(), ["first", "second"]);
}

/// Child: create unnamed temp files as root, become `nobody`, check that `AT_EMPTY_PATH` is
/// refused, then commit them (the second after the refusal is remembered).
fn link_after_setuid() {
    use std::os::fd::AsFd;
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let dir = std::path::PathBuf::from(child_arg("DIR"));
    let options = Options::new().temp(Temp::Anonymous);
    let mut files = Vec::new();
    for name in ["first", "second"] {
        let mut file = options.create(dir.join(name)).unwrap();
        file.write_all(name.as_bytes()).unwrap();
        files.push(file);
    }
    let dir_fd = std::fs::File::open(&dir).unwrap();
    let flags = rustix::fs::OFlags::TMPFILE | rustix::fs::OFlags::RDWR;
    let probe =
        rustix::fs::openat(&dir_fd, ".", flags, rustix::fs::Mode::from_raw_mode(0o666)).unwrap();
    let nobody = 65534;
    nix::unistd::setgroups(&[]).expect("setgroups");
    nix::unistd::setgid(nix::unistd::Gid::from_raw(nobody)).expect("setgid");
    nix::unistd::setuid(nix::unistd::Uid::from_raw(nobody)).expect("setuid");
    let empty_path = rustix::fs::AtFlags::EMPTY_PATH;
    let refused = rustix::fs::linkat(probe.as_fd(), "", &dir_fd, "probe", empty_path);
    assert_eq!(refused, Err(rustix::io::Errno::NOENT), "precondition");
    report("AT_EMPTY_PATH refused");
    for file in files {
        file.commit().unwrap();
    }
    report("committed");
}

#[test]
fn write_with_commits_on_ok_and_discards_on_a_user_error() {
    use intact::WriteWithError;
    let dir = TestDir::new("write-with");
    let path = dir.join("data");
    std::fs::write(&path, b"old").unwrap();
    for temp in TEMPS {
        let Some(options) = options_for(&dir, temp) else {
            continue;
        };
        #[derive(Debug, PartialEq)]
        struct Refused;
        let failed = options.write_with(&path, |mut file| {
            file.write_all(b"half").map_err(|_| Refused)?;
            Err::<(), _>(Refused)
        });
        assert!(
            matches!(failed, Err(WriteWithError::User(Refused))),
            "{temp:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "{temp:?}");
        assert_eq!(dir.names(), ["data"], "{temp:?}: temp file left");
        let len = options
            .write_with(&path, |mut file| -> std::io::Result<u64> {
                file.write_all(b"new content")?;
                file.metadata().map(|meta| meta.len())
            })
            .unwrap();
        assert_eq!(len, 11);
        assert_eq!(std::fs::read(&path).unwrap(), b"new content", "{temp:?}");
        std::fs::write(&path, b"old").unwrap();
    }
    // Errors of the crate are `Io`, and `?` makes an io::Error of either kind.
    let missing = Options::new().write_with(dir.join("missing/x"), |_| Ok::<_, std::io::Error>(()));
    assert!(
        matches!(missing, Err(WriteWithError::Io(ref e)) if e.kind() == std::io::ErrorKind::NotFound)
    );
    let as_io: std::io::Error = missing.unwrap_err().into();
    assert_eq!(intact::raw_os_error(&as_io), Some(libc::ENOENT));
}

#[test]
fn as_file_writes_through_the_temp_file() {
    let dir = TestDir::new("as-file");
    let path = dir.join("data");
    let file = AtomicFile::create(&path).unwrap();
    {
        let mut out = std::io::BufWriter::new(file.as_file());
        out.write_all(b"through BufWriter<&File>").unwrap();
        out.flush().unwrap();
    }
    file.as_file().set_len(7).unwrap();
    file.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"through");
}
