//! The oracle's own JSON validator against serde_json on the same bytes.
//!
//! The contract (`torture_core::oracle::json`): `validate` accepts exactly the UTF-8 texts
//! that are one JSON value (RFC 8259 grammar) with optional surrounding whitespace, at any
//! depth. The reference is UTF-8 validation plus serde_json skipping one value
//! (`IgnoredAny`), which walks the grammar with an explicit stack (no depth limit) but does
//! not look inside strings; so the differential is exact. serde_json's full parse into a
//! `Value` (recursion limit disabled) is stricter (it rejects lone surrogate escapes such as
//! `"\ud800"` and numbers out of f64 range), so it only implies acceptance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize as _;
use torture_core::oracle::{is_json, is_json_lines, json};

fuzz_target!(|bytes: &[u8]| {
    let ours = json::validate(bytes);
    let reference = serde_accepts_one_value(bytes);
    assert_eq!(
        ours.is_ok(),
        reference,
        "validate: {ours:?}, serde_json: {reference}, input {:?}",
        String::from_utf8_lossy(bytes)
    );
    if let Err(error) = &ours {
        assert!(error.offset <= bytes.len(), "{error} past the end");
    }
    assert_eq!(is_json(bytes), ours.is_ok());
    if openers(bytes) <= MAX_VALUE_DEPTH && serde_parses_value(bytes) {
        assert!(
            ours.is_ok(),
            "serde_json parses a Value, validate says {ours:?}"
        );
    }
    assert_eq!(is_json_lines(bytes), reference_json_lines(bytes));
});

/// serde_json's verdict, with the UTF-8 check it skips for ignored strings (RFC 8259 section
/// 8.1 requires UTF-8 for the whole text).
fn serde_accepts_one_value(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

/// Building and dropping a `Value` recurses once per level: keep the depth far below what the
/// 8 MiB main-thread stack holds, yet well past serde_json's default limit of 128.
const MAX_VALUE_DEPTH: usize = 1024;

/// An upper bound on the nesting depth: every level is opened by one of these bytes.
fn openers(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'[' || b == b'{').count()
}

fn serde_parses_value(bytes: &[u8]) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.disable_recursion_limit();
    serde_json::Value::deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok()
}

/// JSON lines as `is_json_lines` documents them: every line (split at `\n`) that is not blank
/// is one value; blank means only ASCII whitespace (`u8::is_ascii_whitespace`, which, unlike
/// JSON, counts form feed).
fn reference_json_lines(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(|&b| b" \t\r\x0c\n".contains(&b)))
        .all(serde_accepts_one_value)
}
