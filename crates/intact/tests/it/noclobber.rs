//! Overwrite::NoClobber: refuses an existing target, keeps its bytes, one racing writer wins.

use std::io::ErrorKind;
use std::sync::{Arc, Barrier};

use intact::{Options, Overwrite, Temp};

use crate::util::TestDir;

/// Named and, where the filesystem has `O_TMPFILE`, Anonymous (`linkat` is the no-clobber).
fn kinds(dir: &TestDir) -> Vec<Temp> {
    let probe = Options::new()
        .temp(Temp::Anonymous)
        .create(dir.join("probe"));
    match probe {
        Ok(_) => vec![Temp::Named, Temp::Anonymous],
        Err(error) if error.kind() == ErrorKind::Unsupported => vec![Temp::Named],
        Err(error) => panic!("probe: {error}"),
    }
}

#[test]
fn no_clobber_refuses_an_existing_target_and_keeps_its_bytes() {
    let dir = TestDir::new("noclobber");
    for temp in kinds(&dir) {
        let path = dir.join("exists");
        std::fs::write(&path, b"original").unwrap();
        let options = Options::new().temp(temp).overwrite(Overwrite::NoClobber);
        let error = options.write(&path, b"intruder").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{temp:?}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"original", "{temp:?}");
        assert_eq!(dir.names(), ["exists"], "{temp:?}: temp file left");
    }
}

#[test]
fn no_clobber_creates_an_absent_target() {
    let dir = TestDir::new("noclobber-new");
    for temp in kinds(&dir) {
        let path = dir.join(format!("new-{temp:?}"));
        let options = Options::new().temp(temp).overwrite(Overwrite::NoClobber);
        options.write(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first", "{temp:?}");
    }
    assert_eq!(dir.temp_names(), Vec::<String>::new());
}

#[test]
fn no_clobber_checks_at_commit_time() {
    // The target appears after create: the commit must still refuse it.
    let dir = TestDir::new("noclobber-late");
    for temp in kinds(&dir) {
        let path = dir.join("late");
        let _ = std::fs::remove_file(&path);
        let file = Options::new()
            .temp(temp)
            .overwrite(Overwrite::NoClobber)
            .create(&path)
            .unwrap();
        std::fs::write(&path, b"arrived first").unwrap();
        let error = file.commit().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{temp:?}");
        drop(error);
        assert_eq!(std::fs::read(&path).unwrap(), b"arrived first");
        assert_eq!(dir.names(), ["late"]);
    }
}

#[test]
fn exactly_one_of_racing_no_clobber_writers_wins() {
    const WRITERS: usize = 8;
    let dir = TestDir::new("noclobber-race");
    for temp in kinds(&dir) {
        for round in 0..10 {
            let path = Arc::new(dir.join(format!("race-{temp:?}-{round}")));
            let barrier = Arc::new(Barrier::new(WRITERS));
            let handles: Vec<_> = (0..WRITERS)
                .map(|writer| {
                    let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
                    std::thread::spawn(move || {
                        let options = Options::new().temp(temp).overwrite(Overwrite::NoClobber);
                        let file = options.create(path.as_path()).unwrap();
                        let mut file = file;
                        std::io::Write::write_all(&mut file, format!("writer {writer}").as_bytes())
                            .unwrap();
                        barrier.wait();
                        file.commit().map(|()| writer).map_err(|error| error.kind())
                    })
                })
                .collect();
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            let winners: Vec<usize> = results.iter().filter_map(|r| r.ok()).collect();
            assert_eq!(winners.len(), 1, "{temp:?}: {results:?}");
            let losers = results
                .iter()
                .filter(|r| **r == Err(ErrorKind::AlreadyExists))
                .count();
            assert_eq!(losers, WRITERS - 1, "{results:?}");
            let content = std::fs::read_to_string(path.as_path()).unwrap();
            assert_eq!(content, format!("writer {}", winners[0]));
        }
    }
    assert_eq!(dir.temp_names(), Vec::<String>::new());
}
