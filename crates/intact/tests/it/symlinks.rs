//! Symlinks::Follow writes through links and keeps them; Symlinks::Replace replaces the link.

use std::io::ErrorKind;
use std::os::unix::fs::{PermissionsExt, symlink};

use intact::{Options, Symlinks, Temp};

use crate::util::{TestDir, errno_of, mode_of};

#[test]
fn follow_keeps_the_link_and_updates_the_file_it_points_to() {
    let dir = TestDir::new("follow");
    std::fs::write(dir.join("real"), b"old").unwrap();
    std::fs::set_permissions(dir.join("real"), std::fs::Permissions::from_mode(0o640)).unwrap();
    symlink("real", dir.join("link")).unwrap();
    for temp in [Temp::Named, Temp::Auto] {
        Options::new()
            .temp(temp)
            .write(dir.join("link"), b"through the link")
            .unwrap();
        let link_text = std::fs::read_link(dir.join("link")).unwrap();
        assert_eq!(
            link_text,
            std::path::Path::new("real"),
            "{temp:?}: link changed"
        );
        assert_eq!(
            std::fs::read(dir.join("real")).unwrap(),
            b"through the link"
        );
        assert_eq!(
            mode_of(&dir.join("real")),
            0o640,
            "{temp:?}: pointee mode not kept"
        );
    }
    assert_eq!(dir.names(), ["link", "real"]);
}

#[test]
fn follow_resolves_a_chain_across_directories() {
    let dir = TestDir::new("chain");
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::write(dir.join("a/b/real"), b"old").unwrap();
    // c/first -> ../a/mid (relative to c), a/mid -> b/real (relative to a), then absolute.
    symlink("../a/mid", dir.join("c/first")).unwrap();
    symlink("b/real", dir.join("a/mid")).unwrap();
    symlink(dir.join("c/first"), dir.join("absolute")).unwrap();
    intact::write(dir.join("absolute"), b"new").unwrap();
    assert_eq!(std::fs::read(dir.join("a/b/real")).unwrap(), b"new");
    assert!(
        std::fs::symlink_metadata(dir.join("c/first"))
            .unwrap()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(dir.join("a/mid"))
            .unwrap()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(dir.join("absolute"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(crate::util::names_in(&dir.join("a/b")), ["real"]);
}

#[test]
fn follow_creates_its_temp_file_next_to_the_real_file() {
    let dir = TestDir::new("follow-temp");
    std::fs::create_dir(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/real"), b"old").unwrap();
    symlink("data/real", dir.join("link")).unwrap();
    let file = Options::new()
        .temp(Temp::Named)
        .create(dir.join("link"))
        .unwrap();
    let in_data = crate::util::names_in(&dir.join("data"));
    assert_eq!(
        in_data.len(),
        2,
        "temp file not next to the real file: {in_data:?}"
    );
    assert!(in_data.iter().any(|name| name.starts_with(".real.")));
    file.commit().unwrap();
}

#[test]
fn replace_replaces_the_link_itself() {
    let dir = TestDir::new("replace-link");
    std::fs::write(dir.join("real"), b"untouched").unwrap();
    symlink("real", dir.join("link")).unwrap();
    let reference = dir.join("reference");
    std::fs::File::create(&reference).unwrap();
    for temp in [Temp::Named, Temp::Auto] {
        let options = Options::new().temp(temp).symlinks(Symlinks::Replace);
        options
            .write(dir.join("link"), b"a regular file now")
            .unwrap();
        let meta = std::fs::symlink_metadata(dir.join("link")).unwrap();
        assert!(meta.file_type().is_file(), "{temp:?}: link not replaced");
        assert_eq!(std::fs::read(dir.join("real")).unwrap(), b"untouched");
        // Never the link's own 0777: a new file's mode.
        assert_eq!(mode_of(&dir.join("link")), mode_of(&reference), "{temp:?}");
        std::fs::remove_file(dir.join("link")).unwrap();
        symlink("real", dir.join("link")).unwrap();
    }
}

#[test]
fn replace_replaces_a_dangling_link() {
    let dir = TestDir::new("replace-dangling");
    symlink("nowhere", dir.join("link")).unwrap();
    Options::new()
        .symlinks(Symlinks::Replace)
        .write(dir.join("link"), b"x")
        .unwrap();
    assert!(
        std::fs::symlink_metadata(dir.join("link"))
            .unwrap()
            .is_file()
    );
    assert_eq!(dir.names(), ["link"]);
}

#[test]
fn follow_refuses_a_dangling_link_naming_both_paths() {
    let dir = TestDir::new("dangling");
    symlink("missing-file", dir.join("link")).unwrap();
    symlink("missing-dir/file", dir.join("link2")).unwrap();
    for (link, missing) in [("link", "missing-file"), ("link2", "missing-dir/file")] {
        let error = intact::write(dir.join(link), b"x").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&dir.join(link).display().to_string()),
            "{message}"
        );
        assert!(message.contains(missing), "{message}");
    }
    assert_eq!(
        dir.names(),
        ["link", "link2"],
        "nothing created, links untouched"
    );
}

#[test]
fn follow_refuses_a_symlink_loop() {
    let dir = TestDir::new("loop");
    symlink("b", dir.join("a")).unwrap();
    symlink("a", dir.join("b")).unwrap();
    let error = intact::write(dir.join("a"), b"x").unwrap_err();
    assert_eq!(errno_of(&error), Some(libc::ELOOP), "{error}");
    assert!(
        error
            .to_string()
            .contains(&dir.join("a").display().to_string()),
        "{error}"
    );
    assert_eq!(dir.names(), ["a", "b"]);
}

#[test]
fn destination_is_the_file_at_the_end_of_the_chain() {
    let dir = TestDir::new("destination");
    std::fs::create_dir(dir.join("real")).unwrap();
    std::fs::write(dir.join("real/data"), b"old version").unwrap();
    symlink("real/data", dir.join("hop")).unwrap();
    symlink("hop", dir.join("link")).unwrap();
    let file = Options::new().create(dir.join("link")).unwrap();
    assert_eq!(file.target(), dir.join("link"));
    assert_eq!(file.destination(), dir.join("real/data"));
    assert_eq!(std::fs::read(file.destination()).unwrap(), b"old version");
    let replace = Options::new()
        .symlinks(Symlinks::Replace)
        .create(dir.join("link"))
        .unwrap();
    assert_eq!(replace.destination(), dir.join("link"));
}
