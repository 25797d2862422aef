//! write_json: serialises into the temp file; a value that cannot be serialised publishes
//! nothing.

use std::collections::BTreeMap;

use crate::util::TestDir;

#[derive(serde::Serialize)]
struct Record<'a> {
    name: &'a str,
    values: Vec<u32>,
}

#[test]
fn write_json_writes_the_value() {
    let dir = TestDir::new("json");
    let path = dir.join("record.json");
    let record = Record {
        name: "x",
        values: vec![1, 2, 3],
    };
    intact::write_json(&path, &record).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"name":"x","values":[1,2,3]}"#
    );
    // Unsized values work too.
    intact::write_json(&path, &[1, 2][..]).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1,2]");
}

#[test]
fn write_json_streams_a_large_value() {
    let dir = TestDir::new("json-large");
    let path = dir.join("large.json");
    let values: Vec<u64> = (0..200_000).collect();
    intact::write_json(&path, &values).unwrap();
    let back: Vec<u64> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back, values);
}

#[test]
fn unserialisable_value_leaves_the_target_and_no_temp_file() {
    let dir = TestDir::new("json-error");
    let path = dir.join("state.json");
    std::fs::write(&path, b"{}").unwrap();
    // JSON object keys must be strings.
    let mut bad = BTreeMap::new();
    bad.insert(vec![1u8], "value");
    let error = intact::write_json(&path, &bad).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"{}");
    assert_eq!(dir.names(), ["state.json"]);
}
