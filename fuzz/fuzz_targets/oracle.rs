//! The crash oracle (`classify_bytes`) on any file contents, old and new versions and content
//! check, checked against its documented contract.
//!
//! Input layout (easy to write by hand, see `seeds/oracle/`): one flags byte, then the new
//! version, the old version and some extra bytes, separated by `0xff` (never in UTF-8 text).
//! Without a second `0xff` there is no old version. Flags: bit 0 goldens agree, bits 1-3 the
//! content check, bits 4-7 how the file is built from new, old and extra ([`shape`]).
#![no_main]

use torture_core::oracle::{
    Expected, Initial, RunExit, TargetState, Validation, Validity, Verdict, classify,
    classify_bytes, crash_violation, first_diff_offset, is_json, is_json_lines, judge_recovery,
    needs_validation,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&flags, body)) = input.split_first() else {
        return;
    };
    let mut sections = body.splitn(3, |&b| b == SEPARATOR);
    let new = sections.next().unwrap_or_default();
    let old = sections.next();
    let extra = sections.next().unwrap_or_default();
    let expected = Expected {
        old,
        new,
        goldens_agree: flags & 1 == 1,
    };
    let validation = VALIDATIONS[usize::from(flags >> 1 & 0b111) % VALIDATIONS.len()];
    let file = shape(flags >> 4, new, old, extra);
    check(&file, &expected, &validation);
});

const SEPARATOR: u8 = 0xff;

const VALIDATIONS: [Validation; 6] = [
    Validation::Json,
    Validation::JsonLines,
    Validation::Bytes,
    Validation::Command(Validity::Valid),
    Validation::Command(Validity::Invalid),
    Validation::Command(Validity::Unchecked),
];

/// The file a crash left, built so that the interesting cases (exactly new or old, a prefix of
/// new, new with a torn tail) are one flag away instead of needing the fuzzer to copy bytes.
fn shape(selector: u8, new: &[u8], old: Option<&[u8]>, extra: &[u8]) -> Vec<u8> {
    let cut = extra.len() % (new.len() + 1);
    match selector % 6 {
        0 => extra.to_vec(),
        1 => new.to_vec(),
        2 => old.unwrap_or(extra).to_vec(),
        3 => new[..cut].to_vec(),
        4 => [&new[..cut], extra].concat(),
        _ => [new, extra].concat(),
    }
}

fn check(file: &[u8], expected: &Expected<'_>, validation: &Validation) {
    let verdict = classify_bytes(file, expected, validation);
    let state = TargetState::Regular(file.to_vec());
    assert_eq!(classify(&state, expected, validation), verdict);
    assert_eq!(classify_bytes(file, expected, validation), verdict);
    let parses = validation.check(file);
    check_validity(file, validation, parses);
    check_verdict(file, expected, parses, verdict);
    let exact = file == expected.new || expected.old == Some(file);
    assert_eq!(needs_validation(&state, expected), !exact);
    check_consequences(verdict);
}

/// Json and JsonLines answer from the validator, Bytes never vouches, a command's result is
/// passed through.
fn check_validity(file: &[u8], validation: &Validation, parses: Validity) {
    let from_bool = |valid: bool| {
        if valid {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    };
    let wanted = match validation {
        Validation::Json => from_bool(is_json(file)),
        Validation::JsonLines => from_bool(is_json_lines(file)),
        Validation::Bytes => Validity::Unchecked,
        Validation::Command(result) => *result,
    };
    assert_eq!(parses, wanted);
}

/// Exactly new is New (checked first: old may equal new); otherwise exactly old is Old; when
/// the goldens disagree a valid file is New; everything else is Torn with its exact facts.
fn check_verdict(file: &[u8], expected: &Expected<'_>, parses: Validity, verdict: Verdict) {
    let is_new = file == expected.new;
    let is_old = !is_new && expected.old == Some(file);
    let valid_new = !is_new && !is_old && !expected.goldens_agree && parses == Validity::Valid;
    match verdict {
        Verdict::New => assert!(is_new || valid_new, "New for {file:?}"),
        Verdict::Old => assert!(is_old, "Old for {file:?}"),
        Verdict::Absent => panic!("a regular file classified as absent"),
        Verdict::Torn {
            parses: torn_parses,
            first_diff_offset: offset,
            len_bytes,
        } => {
            assert!(!is_new && !is_old && !valid_new, "Torn for {file:?}");
            assert_eq!(torn_parses, parses);
            assert_eq!(len_bytes, file.len() as u64);
            check_first_diff(file, expected.new, offset);
        }
    }
}

/// The offset is the length of the common prefix: equal before it, different at it (or one
/// side ends there).
fn check_first_diff(file: &[u8], new: &[u8], offset: u64) {
    assert_eq!(offset, first_diff_offset(new, file), "not symmetric");
    let offset = usize::try_from(offset).expect("offset fits in memory");
    assert!(offset <= file.len().min(new.len()));
    assert_eq!(file[..offset], new[..offset]);
    if let (Some(a), Some(b)) = (file.get(offset), new.get(offset)) {
        assert_ne!(a, b, "bytes at the first difference are equal");
    }
}

/// What the rest of the oracle makes of a crash verdict of a regular file.
fn check_consequences(verdict: Verdict) {
    let name = verdict.name();
    assert!(verdict.to_string().starts_with(name));
    let torn = matches!(verdict, Verdict::Torn { .. });
    for initial in [Initial::Absent, Initial::Old] {
        assert_eq!(crash_violation(&verdict, initial).is_some(), torn);
    }
    let recovered = judge_recovery(RunExit::Code(0), &verdict).is_none();
    assert_eq!(recovered, verdict == Verdict::New);
    if let Verdict::Torn {
        first_diff_offset,
        len_bytes,
        ..
    } = verdict
    {
        let prefix = len_bytes > 0 && first_diff_offset == len_bytes;
        assert_eq!(verdict.to_string().contains("prefix"), prefix, "{verdict}");
    }
}
