//! The async front (feature `tokio`).

use std::io::Write;
use std::path::Path;

use crate::util::TestDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_from_many_tasks_commit_off_the_workers() {
    let dir = TestDir::new("tokio");
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let path = dir.join(format!("file-{task}"));
            tokio::spawn(async move {
                for round in 0..5 {
                    intact::tokio::write(path.clone(), format!("{task}:{round}")).await?;
                }
                Ok::<_, std::io::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for task in 0..16 {
        let content = std::fs::read_to_string(dir.join(format!("file-{task}"))).unwrap();
        assert_eq!(content, format!("{task}:4"));
    }
    assert!(dir.temp_names().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn json_commit_symlink_and_errors_come_back_to_the_task() {
    let dir = TestDir::new("tokio-more");
    intact::tokio::write_json(dir.join("state.json"), &[1, 2])
        .await
        .unwrap();
    assert_eq!(std::fs::read(dir.join("state.json")).unwrap(), b"[1,2]");
    let mut file = intact::AtomicFile::create(dir.join("streamed")).unwrap();
    file.write_all(b"streamed").unwrap();
    intact::tokio::commit(file).await.unwrap();
    assert_eq!(std::fs::read(dir.join("streamed")).unwrap(), b"streamed");
    intact::tokio::symlink("streamed", dir.join("link"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap(),
        Path::new("streamed")
    );
    let error = intact::tokio::write(dir.join("missing/x"), "x")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
}

#[tokio::test(flavor = "current_thread")]
#[should_panic(expected = "from the blocking pool")]
async fn a_panic_in_blocking_work_reaches_the_task() {
    let _: Result<(), std::io::Error> =
        intact::tokio::blocking(|| panic!("from the blocking pool")).await;
}
