//! The versioned JSON-lines trace format: parse any bytes; what parses is valid, writes out
//! canonically and parses back to the same trace: parse(write(parse(x))) == parse(x).
#![no_main]

use libfuzzer_sys::fuzz_target;
use torture_core::oracle::is_json_lines;
use torture_core::trace::{Trace, TraceParseError};

fuzz_target!(|bytes: &[u8]| {
    match Trace::parse_bytes(bytes) {
        Ok(trace) => check_round_trip(&trace),
        Err(error) => check_error(bytes, &error),
    }
});

fn check_round_trip(trace: &Trace) {
    if let Err(error) = trace.validate() {
        panic!("a parsed trace fails validation: {error}");
    }
    let written = trace.to_jsonl();
    let reparsed = match Trace::parse_bytes(&written) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!(
            "the written trace does not parse: {error}\n{}",
            String::from_utf8_lossy(&written)
        ),
    };
    assert_eq!(&reparsed, trace);
    assert_eq!(reparsed.to_jsonl(), written, "writing is not canonical");
    assert!(
        is_json_lines(&written),
        "the written trace is not JSON lines"
    );
    let lines = written.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        lines,
        trace.events.len() + 1,
        "one header line plus one per event"
    );
}

/// Errors point inside the input: reading fails only on non-UTF-8, and an event error names
/// a line after the header that exists.
fn check_error(bytes: &[u8], error: &TraceParseError) {
    assert!(!error.to_string().is_empty());
    let utf8 = std::str::from_utf8(bytes).is_ok();
    match error {
        TraceParseError::Io(_) => assert!(!utf8, "read error on UTF-8 input: {error}"),
        TraceParseError::BadEvent { line, .. } | TraceParseError::Invalid { line, .. } => {
            let line_count = bytes.split(|&b| b == b'\n').count();
            assert!(
                (2..=line_count).contains(line),
                "{error} (input has {line_count} lines)"
            );
        }
        TraceParseError::Empty => assert!(
            std::str::from_utf8(bytes).is_ok_and(|text| text.trim().is_empty()),
            "Empty for a trace with text"
        ),
        TraceParseError::BadHeader { .. }
        | TraceParseError::WrongFormat { .. }
        | TraceParseError::UnsupportedVersion { .. } => {}
    }
}
