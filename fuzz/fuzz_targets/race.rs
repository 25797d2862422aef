//! Racing-writer schedules and the race classifier on arbitrary input: generators fed arbitrary
//! runnable sets never pick a writer that is not runnable, never exceed their preemption bound,
//! and replay from their printed id; schedule ids parse or are refused; the classifier's pieces
//! cover any file exactly.
//!
//! Input layout: one byte choosing the search, eight bytes of seed, then one byte per step
//! whose low four bits are the runnable set (writers 1-4) of that step; the same bytes, after
//! a `0xff`, are also a file to classify against versions cut from the rest and a schedule id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use torture_core::race::classify::{Versions, classify_bytes, mix};
use torture_core::race::generate::{Scheduler, Search};
use torture_core::race::schedule::{Schedule, WriterId, preemptions};

fuzz_target!(|input: &[u8]| {
    let Some((&which, rest)) = input.split_first() else {
        return;
    };
    let (seed, steps) = match rest.split_first_chunk::<8>() {
        Some((seed, steps)) => (u64::from_le_bytes(*seed), steps),
        None => (0, rest),
    };
    let sets: Vec<Vec<WriterId>> = steps.iter().take(64).map(|b| runnable(*b)).collect();
    schedules(which, seed, &sets);
    classify(input);
    if let Ok(text) = std::str::from_utf8(input) {
        if let Ok(schedule) = text.parse::<Schedule>() {
            assert_eq!(schedule.to_string().parse::<Schedule>(), Ok(schedule));
        }
    }
});

fn runnable(byte: u8) -> Vec<WriterId> {
    (0..4)
        .filter(|bit| byte >> bit & 1 == 1)
        .map(|bit| WriterId(bit + 1))
        .collect()
}

fn schedules(which: u8, seed: u64, sets: &[Vec<WriterId>]) {
    let bound = u32::from(which >> 2 & 3);
    let search = match which & 3 {
        0 => Search::Random,
        1 => Search::Pct {
            depth: u32::from(which >> 4) + 1,
            steps_hint: sets.len() as u64,
        },
        _ => Search::Bounded { preemptions: bound },
    };
    let mut scheduler = Scheduler::new(search, seed).expect("depths 1-16 are valid");
    for _ in 0..4 {
        if scheduler.next_schedule().is_none() {
            return;
        }
        // The runnable sets do not depend on the choices here, so a bounded search never
        // diverges; an empty set ends the interleaving.
        let offered: Vec<Vec<WriterId>> =
            sets.iter().take_while(|s| !s.is_empty()).cloned().collect();
        let chosen = drive(&mut scheduler, &offered);
        let schedule = scheduler.finish().expect("the prefix was replayed");
        if let Search::Bounded { preemptions: bound } = search {
            assert!(preemptions(&offered, &chosen) <= bound as usize);
        }
        let mut replay = Scheduler::replay(schedule.to_string().parse().expect("ids parse"));
        replay.next_schedule();
        assert_eq!(drive(&mut replay, &offered), chosen);
    }
}

fn drive(scheduler: &mut Scheduler, offered: &[Vec<WriterId>]) -> Vec<WriterId> {
    offered
        .iter()
        .map(|set| {
            let writer = scheduler.choose(set).expect("a non-empty set");
            assert!(set.contains(&writer), "{writer} is not runnable in {set:?}");
            writer
        })
        .collect()
}

fn classify(input: &[u8]) {
    let mut sections = input.split(|&b| b == 0xff);
    let file = sections.next().unwrap_or_default();
    let old = sections.next();
    let writers: Vec<Vec<u8>> = sections.take(4).map(<[u8]>::to_vec).collect();
    let versions = Versions {
        old,
        writers: &writers,
    };
    let _ = classify_bytes(file, &versions).to_string();
    let mix = mix(file, &versions);
    let covered: u64 = mix.pieces.iter().map(|p| p.len_bytes).sum();
    assert_eq!(covered, file.len() as u64);
}
