//! The crash oracle (`classify_bytes`) on any file contents, old and new versions and content
//! check, checked against its documented contract.
//!
//! Input layout (easy to write by hand, see `seeds/oracle/`): one flags byte, then the new
//! version, the old version and some extra bytes, separated by `0xff` (never in UTF-8 text).
//! Without a second `0xff` there is no old version. Flags: bit 0 the new rule (set: exact bytes;
//! clear: valid and not old, with the extra bytes as a second new version), bits 1-3 the content
//! check, bits 4-7 how the file is built from new, old and extra ([`shape`]).
#![no_main]

use libfuzzer_sys::fuzz_target;
use torture_core::oracle::{
    Ack, Initial, NewRule, RunExit, TargetState, Validation, Validity, Verdict, Versions,
    Violation, classify, classify_bytes, crash_violations, first_diff_offset, is_json,
    is_json_lines, judge_recovery, needs_validation,
};

fuzz_target!(|input: &[u8]| {
    let Some((&flags, body)) = input.split_first() else {
        return;
    };
    let mut sections = body.splitn(3, |&b| b == SEPARATOR);
    let new = sections.next().unwrap_or_default();
    let old = sections.next();
    let extra = sections.next().unwrap_or_default();
    let versions = match flags & 1 {
        1 => Versions::one(old.map(<[u8]>::to_vec), new.to_vec()),
        _ => Versions {
            old: old.map(<[u8]>::to_vec),
            new: vec![new.to_vec(), extra.to_vec()],
            rule: NewRule::ValidNotOld,
        },
    };
    let validation = VALIDATIONS[usize::from(flags >> 1 & 0b111) % VALIDATIONS.len()];
    let file = shape(flags >> 4, new, old, extra);
    check(&file, &versions, &validation);
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

fn check(file: &[u8], versions: &Versions, validation: &Validation) {
    let verdict = classify_bytes(file, versions, validation);
    let state = TargetState::Regular(file.to_vec());
    assert_eq!(classify(&state, versions, validation), verdict);
    assert_eq!(classify_bytes(file, versions, validation), verdict);
    let parses = validation.check(file);
    check_validity(file, validation, parses);
    check_verdict(file, versions, parses, verdict);
    let exact = is_new(file, versions) || versions.old.as_deref() == Some(file);
    assert_eq!(needs_validation(&state, versions), !exact);
    check_consequences(verdict);
}

fn is_new(file: &[u8], versions: &Versions) -> bool {
    versions.new.iter().any(|new| new == file)
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

/// Exactly a new version is New with its (first) index (checked first: old may equal new);
/// otherwise exactly old is Old; under "valid and not old" a valid file is New without an
/// index; everything else is Torn with its exact facts.
fn check_verdict(file: &[u8], versions: &Versions, parses: Validity, verdict: Verdict) {
    let new_index = versions.new.iter().position(|new| new == file);
    let is_old = new_index.is_none() && versions.old.as_deref() == Some(file);
    let valid_new = new_index.is_none()
        && !is_old
        && versions.rule == NewRule::ValidNotOld
        && parses == Validity::Valid;
    match verdict {
        Verdict::New { index: Some(index) } => assert_eq!(Some(index), new_index, "{file:?}"),
        Verdict::New { index: None } => assert!(valid_new, "New without index for {file:?}"),
        Verdict::Old => assert!(is_old, "Old for {file:?}"),
        Verdict::Absent => panic!("a regular file classified as absent"),
        Verdict::Torn {
            parses: torn_parses,
            first_diff_offset: offset,
            len_bytes,
        } => {
            assert!(
                new_index.is_none() && !is_old && !valid_new,
                "Torn for {file:?}"
            );
            assert_eq!(torn_parses, parses);
            assert_eq!(len_bytes, file.len() as u64);
            check_first_diff(file, versions, offset);
        }
    }
}

/// The offset is the longest common prefix with any new version: equal before it with the
/// nearest one, different at it (or one side ends there), and no version shares more.
fn check_first_diff(file: &[u8], versions: &Versions, offset: u64) {
    let Some(nearest) = versions
        .new
        .iter()
        .find(|new| first_diff_offset(new, file) == offset)
    else {
        assert_eq!(offset, 0, "no new version to differ from");
        return;
    };
    for new in &versions.new {
        assert!(
            first_diff_offset(file, new) <= offset,
            "a nearer new version"
        );
    }
    let offset = usize::try_from(offset).expect("offset fits in memory");
    assert!(offset <= file.len().min(nearest.len()));
    assert_eq!(file[..offset], nearest[..offset]);
    if let (Some(a), Some(b)) = (file.get(offset), nearest.get(offset)) {
        assert_ne!(a, b, "bytes at the first difference are equal");
    }
}

/// What the rest of the oracle makes of a crash verdict of a regular file.
fn check_consequences(verdict: Verdict) {
    let name = verdict.name();
    assert!(verdict.to_string().starts_with(name));
    let torn = matches!(verdict, Verdict::Torn { .. });
    let new = matches!(verdict, Verdict::New { .. });
    for initial in [Initial::Absent, Initial::Old] {
        let pending = crash_violations(&verdict, initial, Ack::Pending);
        assert_eq!(!pending.is_empty(), torn);
        let acked = crash_violations(&verdict, initial, Ack::Acked);
        assert_eq!(acked.contains(&Violation::NotNewAfterAck), !new);
    }
    let recovered = judge_recovery(RunExit::Code(0), &verdict).is_none();
    assert_eq!(recovered, new);
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
