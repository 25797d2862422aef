//! `torture errors`' pure half on any bytes: the first byte picks fault kinds, the second a
//! seed and trial count, the rest is parsed as a trace. On every trace that parses: the fault
//! space holds only successful sandbox calls, each injection prints and parses back and becomes
//! an injector fault on the same call, sampling is a deterministic subset, the fsyncgate lost
//! writes of every failed fsync are earlier buffered writes, and the verdict and diagnosis of
//! each injection under facts drawn from the input never panic. The same bytes as text go
//! through the `--fault` and `--inject` parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torture_core::errors::diagnose::diagnose;
use torture_core::errors::gate::fsyncgate_lost_writes;
use torture_core::errors::verdict::{ErrorsFacts, Position, Recovery, TargetClass, judge};
use torture_core::errors::{FaultKind, Injection, fault_space, in_sandbox, publish_point, sample};
use torture_core::oracle::{Initial, RunExit};
use torture_core::trace::{Op, Trace};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = FaultKind::parse_list(text);
        if let Ok(injection) = text.parse::<Injection>() {
            assert_eq!(injection.to_string().parse::<Injection>(), Ok(injection));
        }
    }
    let [kinds_byte, seed_byte, rest @ ..] = bytes else {
        return;
    };
    let Ok(trace) = Trace::parse_bytes(rest) else {
        return;
    };
    let kinds: Vec<FaultKind> = FaultKind::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| kinds_byte & (1 << i) != 0)
        .map(|(_, kind)| kind)
        .collect();
    let space = fault_space(&trace, &kinds);
    check_space(&trace, &kinds, &space);
    check_sample(&space, *seed_byte);
    check_gate(&trace);
    for (i, injection) in space.iter().enumerate() {
        check_judging(&trace, injection, bytes[i % bytes.len()]);
    }
});

fn check_space(trace: &Trace, kinds: &[FaultKind], space: &[Injection]) {
    for injection in space {
        let event = &trace.events[injection.call.seq as usize];
        assert!(event.ret >= 0, "{injection} on a failed call");
        assert!(
            event.op.paths().into_iter().any(in_sandbox),
            "{injection} outside"
        );
        assert_eq!(injection.call.syscall, event.syscall);
        assert!(kinds.contains(&injection.action.kind()) || is_short(injection, kinds));
        assert_eq!(
            injection.to_string().parse::<Injection>().as_ref(),
            Ok(injection)
        );
        assert_eq!(injection.fault().call(), Some(&injection.call));
    }
    assert_eq!(space, fault_space(trace, kinds));
}

/// A half of 2 or 3 bytes is one byte: `short-half` alone may yield a `short-one` action.
fn is_short(injection: &Injection, kinds: &[FaultKind]) -> bool {
    injection.action.kind() == FaultKind::ShortOne && kinds.contains(&FaultKind::ShortHalf)
}

fn check_sample(space: &[Injection], seed_byte: u8) {
    let trials = u64::from(seed_byte % 16);
    let seed = u64::from(seed_byte).wrapping_mul(0x9e37_79b9);
    let chosen = sample(space, trials, seed);
    assert_eq!(chosen, sample(space, trials, seed));
    assert_eq!(chosen.len() as u64, trials.min(space.len() as u64));
    assert!(chosen.iter().all(|c| space.contains(c)));
}

fn check_gate(trace: &Trace) {
    for event in &trace.events {
        if let Ok(lost) = fsyncgate_lost_writes(trace, event.seq) {
            for seq in lost {
                assert!(seq < event.seq);
                let write = &trace.events[seq as usize];
                assert!(matches!(write.op, Op::Write { .. }) && write.ret > 0);
            }
        }
    }
}

fn check_judging(trace: &Trace, injection: &Injection, byte: u8) {
    let class = |b: u8| match b % 4 {
        0 => TargetClass::Absent,
        1 => TargetClass::Old,
        2 => TargetClass::New,
        _ => TargetClass::Torn,
    };
    let exit = match byte % 5 {
        0 | 1 => RunExit::Code(i32::from(byte % 3)),
        2 => RunExit::Signal(9),
        _ => RunExit::TimedOut,
    };
    let facts = ErrorsFacts {
        injection: injection.clone(),
        position: Position::of(injection.call.seq, publish_point(trace)),
        initial: if byte & 1 == 0 {
            Initial::Old
        } else {
            Initial::Absent
        },
        exit,
        target: class(byte >> 2),
        power_safe: [None, Some(true), Some(false)][usize::from(byte % 3)],
        ack_line: [None, Some(true), Some(false)][usize::from((byte >> 3) % 3)],
        recovery: (byte & 8 != 0).then(|| Recovery {
            exit,
            target: class(byte >> 4),
        }),
        leftovers: usize::from(byte >> 6),
        strict: byte & 16 != 0,
    };
    for violation in judge(&facts) {
        let text = diagnose(&facts, &violation, trace);
        assert!(text.ends_with('.') && text.contains(". Fix: "), "{text}");
    }
}
