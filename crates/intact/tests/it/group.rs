//! Group commit (concurrent writers into one directory), `create_parents` and `symlink`.

use std::path::Path;
use std::sync::Arc;
use std::thread;

use intact::{Durability, Options};

use crate::util::TestDir;

#[test]
fn concurrent_writers_into_one_directory_all_commit_their_own_content() {
    let dir = Arc::new(TestDir::new("group"));
    let writers: Vec<_> = (0..16)
        .map(|writer| {
            let dir = Arc::clone(&dir);
            thread::spawn(move || {
                for round in 0..20 {
                    let path = dir.join(format!("file-{writer}"));
                    let content = format!("writer {writer} round {round}");
                    match writer % 4 {
                        0 => intact::write(&path, &content).unwrap(),
                        1 => Options::new()
                            .write_with(&path, |mut file| {
                                std::io::Write::write_all(&mut file, content.as_bytes())
                            })
                            .unwrap(),
                        2 => intact::write_json(&path, &content).unwrap(),
                        _ => {
                            let mut file = intact::AtomicFile::create(&path).unwrap();
                            std::io::Write::write_all(&mut file, content.as_bytes()).unwrap();
                            file.commit().unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    for writer in 0..16 {
        let content = std::fs::read_to_string(dir.join(format!("file-{writer}"))).unwrap();
        let expected = format!("writer {writer} round 19");
        let expected = match writer % 4 {
            2 => format!("\"{expected}\""),
            _ => expected,
        };
        assert_eq!(content, expected);
    }
    assert!(dir.temp_names().is_empty(), "{:?}", dir.temp_names());
}

#[test]
fn missing_parents_are_created_only_when_asked() {
    let dir = TestDir::new("parents");
    let path = dir.join("a/b/c/out.txt");
    let error = intact::write(&path, "x").unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert!(
        !dir.join("a").exists(),
        "nothing created without the option"
    );
    for durability in [Durability::None, Durability::Data, Durability::Full] {
        let path = dir.join(format!("{durability:?}/b/c/out.txt"));
        let options = Options::new().durability(durability).create_parents(true);
        options.write(&path, "x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }
    // Existing parents are fine, and a relative path works.
    Options::new()
        .create_parents(true)
        .write(&path, "y")
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"y");
}

#[test]
fn a_parent_that_is_a_file_is_an_error_naming_it() {
    let dir = TestDir::new("parents-file");
    std::fs::write(dir.join("a"), "file").unwrap();
    let path = dir.join("a/b/out.txt");
    let error = Options::new()
        .create_parents(true)
        .write(&path, "x")
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotADirectory, "{error}");
    assert!(
        error
            .to_string()
            .contains(&*dir.join("a/b").to_string_lossy()),
        "{error}"
    );
    assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"file");
}

#[test]
fn a_symlink_is_created_and_repointed_at_every_durability() {
    let dir = TestDir::new("symlink");
    std::fs::create_dir(dir.join("run-41")).unwrap();
    std::fs::create_dir(dir.join("run-42")).unwrap();
    let current = dir.join("current");
    for durability in [Durability::None, Durability::Data, Durability::Full] {
        let options = Options::new().durability(durability);
        options.symlink("run-41", &current).unwrap();
        assert_eq!(std::fs::read_link(&current).unwrap(), Path::new("run-41"));
        // The old link points at a directory: it is replaced, not followed into.
        options.symlink("run-42", &current).unwrap();
        assert_eq!(std::fs::read_link(&current).unwrap(), Path::new("run-42"));
    }
    assert!(dir.join("run-41").read_dir().unwrap().next().is_none());
    assert!(dir.temp_names().is_empty(), "{:?}", dir.temp_names());
}

#[test]
fn a_symlink_replaces_a_file_but_never_a_directory() {
    let dir = TestDir::new("symlink-over");
    std::fs::write(dir.join("file"), "old").unwrap();
    intact::symlink("elsewhere", dir.join("file")).unwrap();
    assert_eq!(
        std::fs::read_link(dir.join("file")).unwrap(),
        Path::new("elsewhere")
    );
    std::fs::create_dir(dir.join("sub")).unwrap();
    let error = intact::symlink("elsewhere", dir.join("sub")).unwrap_err();
    assert!(error.to_string().contains("sub"), "{error}");
    assert!(dir.join("sub").is_dir());
    assert!(dir.temp_names().is_empty(), "{:?}", dir.temp_names());
    let error = intact::symlink("x", dir.join("missing/link")).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    Options::new()
        .create_parents(true)
        .symlink("x", dir.join("missing/link"))
        .unwrap();
    assert_eq!(
        std::fs::read_link(dir.join("missing/link")).unwrap(),
        Path::new("x")
    );
}
