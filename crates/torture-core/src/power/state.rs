//! Crash states as values, and their compact ids.
//!
//! An id reads left to right:
//!
//! ```text
//! e12:d5,7-9:t10@4096
//! ```
//!
//! - `e12`: the crash comes after the first 12 events (seq 0 to 11) were issued; `e0` is before
//!   the first, `eN` (N events) after the writer's exit.
//! - `d5,7-9` (optional): the effects of events 5, 7, 8 and 9 never reached the disk. Runs of
//!   consecutive events are written `first-last`.
//! - `t10@4096` (optional): event 10 reached the disk in part: a write its first 4096 bytes (the
//!   file ends there if the write grew it); a rename under the `weak` model its first 1 or 2 of
//!   three steps (1: destination dropped; 2: source dropped too).
//! - `f10@4096` instead: a write's first 4096 bytes and its new size, the rest of the grown range
//!   reading as the fill (`f10@0`: only the size reached the disk).
//! - `s140,143` (optional, before `t`/`f`): writes whose new size reached the disk without any of
//!   their data, as `f140@0` and `f143@0` at once: a size journaled as metadata (ext4, a write
//!   ending in a block the file holds) persists for many files at one commit.
//!
//! Ids are canonical: [`CrashState`]'s `Display` writes the one id `FromStr` reads back to the
//! same state.

use std::fmt;
use std::str::FromStr;

/// One operation that reached the disk in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partial {
    /// The event.
    pub seq: usize,
    /// Bytes of a write, or steps of a rename, that reached the disk.
    pub kept: u64,
    /// The write's new size reached the disk too; the rest reads as the fill.
    pub fill: bool,
}

/// What a power cut left: a crash point, the operations lost, at most one torn.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CrashState {
    /// Events issued before the crash.
    pub events: usize,
    /// Events (seq, ascending, each below `events`) whose effects were lost.
    pub dropped: Vec<usize>,
    /// Writes (seq, ascending, none dropped or torn) whose new size reached the disk without
    /// any of their data: the grown range reads as the fill.
    pub sized: Vec<usize>,
    /// The event that reached the disk in part.
    pub partial: Option<Partial>,
}

/// Why a crash-state id does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrashIdError {
    /// It does not start with `e<events>`.
    #[error("crash state `{0}` must start with `e<events>`, e.g. `e12:d5,7:t9@4096`")]
    NoCrashPoint(String),
    /// A part is neither `d...`, `t...@...` nor `f...@...`.
    #[error("`{0}` is not a part of a crash state id (expected `d5,7-9`, `t9@4096` or `f9@0`)")]
    BadPart(String),
    /// A number does not parse.
    #[error("`{0}` is not a number")]
    BadNumber(String),
    /// Dropped events are not ascending, repeat, or lie at or past the crash point.
    #[error("dropped events must be ascending, distinct and below the crash point e{0}")]
    BadDropped(usize),
    /// A part repeats, comes out of order, or the torn event lies past the crash point.
    #[error(
        "crash state `{0}` is not canonical: parts repeat, come out of order, or name events past the crash point"
    )]
    NotCanonical(String),
}

impl CrashState {
    /// The crash right after `events` events, with nothing lost that was issued: what `SIGKILL`
    /// leaves.
    pub fn prefix(events: usize) -> CrashState {
        CrashState {
            events,
            dropped: Vec::new(),
            sized: Vec::new(),
            partial: None,
        }
    }

    /// The first event whose effect differs from program order.
    pub fn divergence(&self) -> usize {
        let dropped = self.dropped.first().copied().unwrap_or(usize::MAX);
        let sized = self.sized.first().copied().unwrap_or(usize::MAX);
        let partial = self.partial.map_or(usize::MAX, |p| p.seq);
        dropped.min(sized).min(partial)
    }

    /// Whether `seq` reached the disk as its size only.
    pub fn is_sized(&self, seq: usize) -> bool {
        self.sized.binary_search(&seq).is_ok()
    }

    /// Whether `seq` was lost.
    pub fn is_dropped(&self, seq: usize) -> bool {
        self.dropped.binary_search(&seq).is_ok()
    }
}

impl fmt::Display for CrashState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.events)?;
        if !self.dropped.is_empty() {
            f.write_str(":d")?;
            write_runs(f, &self.dropped)?;
        }
        if !self.sized.is_empty() {
            f.write_str(":s")?;
            write_runs(f, &self.sized)?;
        }
        if let Some(p) = self.partial {
            let letter = if p.fill { 'f' } else { 't' };
            write!(f, ":{letter}{}@{}", p.seq, p.kept)?;
        }
        Ok(())
    }
}

fn write_runs(f: &mut fmt::Formatter<'_>, seqs: &[usize]) -> fmt::Result {
    let mut i = 0;
    while i < seqs.len() {
        let mut j = i;
        while j + 1 < seqs.len() && seqs[j + 1] == seqs[j] + 1 {
            j += 1;
        }
        let sep = if i == 0 { "" } else { "," };
        if j > i {
            write!(f, "{sep}{}-{}", seqs[i], seqs[j])?;
        } else {
            write!(f, "{sep}{}", seqs[i])?;
        }
        i = j + 1;
    }
    Ok(())
}

fn number<T: FromStr>(text: &str) -> Result<T, CrashIdError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CrashIdError::BadNumber(text.to_owned()));
    }
    text.parse()
        .map_err(|_| CrashIdError::BadNumber(text.to_owned()))
}

/// Ranges may not expand past this many events: an id is a handle, not a bulk format.
const MAX_RUN: usize = 1 << 24;

fn parse_dropped(list: &str, events: usize) -> Result<Vec<usize>, CrashIdError> {
    let mut dropped: Vec<usize> = Vec::new();
    for item in list.split(',') {
        let (first, last) = match item.split_once('-') {
            Some((a, b)) => (number::<usize>(a)?, number::<usize>(b)?),
            None => {
                let n = number(item)?;
                (n, n)
            }
        };
        let ascending = dropped.last().is_none_or(|&prev| first > prev);
        if !ascending || last < first || last >= events || last - first > MAX_RUN {
            return Err(CrashIdError::BadDropped(events));
        }
        dropped.extend(first..=last);
    }
    Ok(dropped)
}

/// The `s` part of id `text`, read after the parts before it: it comes once, before any tear,
/// and names no dropped event.
fn parse_sized(state: &CrashState, list: &str, text: &str) -> Result<Vec<usize>, CrashIdError> {
    let sized = parse_dropped(list, state.events)?;
    let canonical = state.sized.is_empty()
        && state.partial.is_none()
        && sized.iter().all(|&s| !state.is_dropped(s));
    match canonical {
        true => Ok(sized),
        false => Err(CrashIdError::NotCanonical(text.to_owned())),
    }
}

impl FromStr for CrashState {
    type Err = CrashIdError;

    fn from_str(text: &str) -> Result<CrashState, CrashIdError> {
        let mut parts = text.split(':');
        let head = parts.next().unwrap_or_default();
        let events = head
            .strip_prefix('e')
            .ok_or_else(|| CrashIdError::NoCrashPoint(text.to_owned()))
            .and_then(number)?;
        let mut state = CrashState::prefix(events);
        for part in parts {
            let not_canonical = || CrashIdError::NotCanonical(text.to_owned());
            if let Some(list) = part.strip_prefix('d') {
                if !state.dropped.is_empty() || !state.sized.is_empty() || state.partial.is_some() {
                    return Err(not_canonical());
                }
                state.dropped = parse_dropped(list, events)?;
            } else if let Some(list) = part.strip_prefix('s') {
                state.sized = parse_sized(&state, list, text)?;
            } else if let Some(("t" | "f", rest)) = part.split_at_checked(1) {
                let letter = &part[..1];
                let (seq, kept) = rest
                    .split_once('@')
                    .ok_or_else(|| CrashIdError::BadPart(part.to_owned()))?;
                let partial = Partial {
                    seq: number(seq)?,
                    kept: number(kept)?,
                    fill: letter == "f",
                };
                if state.partial.is_some()
                    || partial.seq >= events
                    || state.is_dropped(partial.seq)
                    || state.is_sized(partial.seq)
                {
                    return Err(not_canonical());
                }
                state.partial = Some(partial);
            } else {
                return Err(CrashIdError::BadPart(part.to_owned()));
            }
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_and_writes_the_documented_example() {
        let state: CrashState = "e12:d5,7-9:t10@4096".parse().unwrap();
        assert_eq!(state.events, 12);
        assert_eq!(state.dropped, vec![5, 7, 8, 9]);
        assert_eq!(
            state.partial,
            Some(Partial {
                seq: 10,
                kept: 4096,
                fill: false
            })
        );
        assert_eq!(state.to_string(), "e12:d5,7-9:t10@4096");
        assert_eq!(
            "e3:f2@0".parse::<CrashState>().unwrap().to_string(),
            "e3:f2@0"
        );
        assert_eq!(
            "e4:d1,2".parse::<CrashState>().unwrap().to_string(),
            "e4:d1-2"
        );
        let sized: CrashState = "e12:d5:s7,9:f10@0".parse().unwrap();
        assert_eq!(sized.sized, vec![7, 9]);
        assert_eq!(sized.to_string(), "e12:d5:s7,9:f10@0");
    }

    #[test]
    fn rejects_bad_ids_with_a_reason() {
        let cases = [
            ("", "must start with"),
            ("x12", "must start with"),
            ("e", "not a number"),
            ("e-1", "not a number"),
            ("e12:d7,5", "ascending"),
            ("e12:d5,5", "ascending"),
            ("e12:d12", "below the crash point"),
            ("e12:t12@1", "not canonical"),
            ("e12:t3@1:d2", "not canonical"),
            ("e12:d3:t3@1", "not canonical"),
            ("e12:t3", "not a part"),
            ("e12:d3:s3", "not canonical"),
            ("e12:s4:t4@0", "not canonical"),
            ("e12:s4:d3", "not canonical"),
            ("e12:q3", "not a part"),
            ("e12:d+1", "not a number"),
            ("e99999999999999999999999", "not a number"),
            ("e99999999:d0-99999998", "below the crash point"),
        ];
        for (text, needle) in cases {
            let err = text.parse::<CrashState>().unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: `{err}` lacks `{needle}`");
        }
    }

    fn crash_state() -> impl Strategy<Value = CrashState> {
        (
            1usize..200,
            proptest::collection::btree_set(0usize..200, 0..12),
            any::<Option<(u64, bool)>>(),
            any::<u16>(),
            any::<u16>(),
        )
            .prop_map(|(events, lost, partial, pick, sized_mask)| {
                let lost: Vec<usize> = lost.into_iter().filter(|&d| d < events).collect();
                // Each lost event is dropped or, by the mask, sized.
                let (mut sized, mut dropped) = (Vec::new(), Vec::new());
                for (i, &seq) in lost.iter().enumerate() {
                    match sized_mask >> (i % 16) & 1 == 1 {
                        true => sized.push(seq),
                        false => dropped.push(seq),
                    }
                }
                let free: Vec<usize> = (0..events).filter(|s| !lost.contains(s)).collect();
                let partial = partial.and_then(|(kept, fill)| {
                    let seq = *free.get(usize::from(pick) % free.len().max(1))?;
                    Some(Partial { seq, kept, fill })
                });
                CrashState {
                    events,
                    dropped,
                    sized,
                    partial,
                }
            })
    }

    proptest! {
        #[test]
        fn ids_round_trip(state in crash_state()) {
            let id = state.to_string();
            let parsed: CrashState = id.parse().map_err(|e: CrashIdError| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&parsed, &state);
            prop_assert_eq!(parsed.to_string(), id);
        }

        #[test]
        fn any_text_never_panics(text in "[edtfs0-9:,@-]{0,30}") {
            if let Ok(state) = text.parse::<CrashState>() {
                prop_assert_eq!(state.to_string().parse::<CrashState>(), Ok(state));
            }
        }
    }
}
