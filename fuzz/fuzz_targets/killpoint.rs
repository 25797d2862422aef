//! Kill point parsing (`byte:N`, `syscall:N`) from raw bytes, checked against the grammar
//! written out independently, and the Display/parse and serde round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torture_core::killpoint::{KillPoint, KillPointParseError, parse_kill_point_bytes};

fuzz_target!(|input: &[u8]| {
    let parsed = parse_kill_point_bytes(input);
    assert_eq!(
        parsed,
        expected(input),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    match parsed {
        Ok(point) => {
            assert_canonical(point, input);
            assert_round_trips(point);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    // Every point, not only the ones the fuzzer managed to spell, prints and parses back.
    if let Some(number) = input.first_chunk::<8>().map(|b| u64::from_le_bytes(*b)) {
        assert_round_trips(KillPoint::Syscall(number));
        assert_round_trips(KillPoint::Byte(number.max(1)));
    }
});

/// The grammar: `byte:` then a decimal u64 >= 1, or `syscall:` then a decimal u64; digits
/// only (no sign, no spaces), leading zeros allowed. The first `:` splits kind from number.
fn expected(input: &[u8]) -> Result<KillPoint, KillPointParseError> {
    let text = std::str::from_utf8(input).map_err(|_| KillPointParseError::NotUtf8)?;
    let unknown = || KillPointParseError::UnknownKind(text.to_owned());
    let colon = text.find(':').ok_or_else(unknown)?;
    let (kind, number) = (&text[..colon], &text[colon + 1..]);
    let number = || decimal(number).ok_or_else(|| KillPointParseError::BadNumber(text.to_owned()));
    match kind {
        "byte" => match number()? {
            0 => Err(KillPointParseError::ByteZero),
            k => Ok(KillPoint::Byte(k)),
        },
        "syscall" => Ok(KillPoint::Syscall(number()?)),
        _ => Err(unknown()),
    }
}

/// A non-empty run of ASCII digits whose value fits in a u64.
fn decimal(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |value, byte| {
        let digit = byte.checked_sub(b'0').filter(|d| *d <= 9)?;
        value.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// What parsed prints as the input without leading zeros in the number.
fn assert_canonical(point: KillPoint, input: &[u8]) {
    let text = std::str::from_utf8(input).expect("a parsed kill point is UTF-8");
    let (kind, number) = text
        .split_once(':')
        .expect("a parsed kill point has a colon");
    let number = number.trim_start_matches('0');
    let number = if number.is_empty() { "0" } else { number };
    assert_eq!(point.to_string(), format!("{kind}:{number}"));
}

fn assert_round_trips(point: KillPoint) {
    let text = point.to_string();
    assert_eq!(parse_kill_point_bytes(text.as_bytes()), Ok(point), "{text}");
    let json = serde_json::to_string(&point).expect("a kill point serialises");
    assert_eq!(json, format!("\"{text}\""));
    let back: KillPoint = serde_json::from_str(&json).expect("a serialised kill point parses");
    assert_eq!(back, point);
}
