//! Kill points: where a trial SIGKILLs the writer, and how a campaign picks them.
//!
//! Pure code: no processes, no I/O. The tracer (`tracer.rs`) records a [`KillSpace`] in the
//! golden run and later stops the writer at one [`KillPoint`] per trial.
//!
//! - [`KillPoint::Byte`]`(k)`, `1 <= k <= total_bytes`: kill once exactly `k` bytes in total have been
//!   written to regular files under the sandbox. The call that crosses `k` is shrunk so it writes
//!   only up to `k`, and the writer is killed when it returns.
//! - [`KillPoint::Syscall`]`(i)`: the `i`-th (0-based) syscall boundary on sandbox files, in program
//!   order. Each traced boundary syscall contributes two boundaries: [`When::Before`] (the syscall
//!   never runs) then [`When::After`] (it took effect).
//!
//! A campaign can be split across machines with [`Partition`] (`--partition M/N`): shard `M`
//! takes every `N`-th point of the selected list, so the shards are disjoint and together are
//! exactly the unpartitioned selection. [`KillSpace::fingerprint`] tells whether shards ran the
//! same writer with the same kill space, so their results may be merged.

use std::fmt;
use std::str::FromStr;

use crate::rng::SplitMix64;

use serde::{Deserialize, Serialize};

/// One place to kill the writer. Written as `byte:N` or `syscall:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KillPoint {
    /// Kill once this many bytes in total have been written (1-based).
    Byte(u64),
    /// Kill at this syscall boundary (0-based index into [`KillSpace::boundaries`]).
    Syscall(u64),
}

/// Which side of a boundary syscall a [`Boundary`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// At syscall entry: the syscall never runs.
    Before,
    /// At syscall exit: the syscall took effect.
    After,
}

/// One syscall boundary on a sandbox file, as seen in the golden run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Boundary {
    /// Position in program order; equals this boundary's index in [`KillSpace::boundaries`].
    pub index: u64,
    /// Before or after the syscall.
    pub when: When,
    /// Syscall name, e.g. `renameat2`.
    pub syscall: String,
    /// Path the syscall acts on, relative to the sandbox.
    pub path: String,
    /// The `seq` of the syscall's event in the golden run's trace.
    #[serde(default)]
    pub seq: Option<u64>,
}

/// Every kill point a writer offers, recorded by its golden run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSpace {
    /// Bytes written to regular files under the sandbox in the whole golden run.
    pub total_bytes: u64,
    /// Syscall boundaries on sandbox files, in program order.
    pub boundaries: Vec<Boundary>,
}

/// Why a kill point did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KillPointParseError {
    /// Neither `byte:` nor `syscall:` in front.
    #[error("`{0}` is not a kill point: write `byte:N` (N >= 1) or `syscall:N` (N >= 0)")]
    UnknownKind(String),
    /// The number after the colon is not a non-negative integer.
    #[error("`{0}` is not a kill point: the part after `:` must be a whole number")]
    BadNumber(String),
    /// `byte:0` names no write at all.
    #[error(
        "`byte:0` is not a kill point: byte offsets start at 1 (to kill before the first write, use `syscall:N`)"
    )]
    ByteZero,
    /// The input is not UTF-8 (only from [`parse_kill_point_bytes`]).
    #[error("a kill point must be UTF-8 text")]
    NotUtf8,
}

/// One shard of a campaign split across machines: `--partition M/N`, `M` 1-based (nextest's
/// spelling). Shard `M` runs the points at positions `M-1, M-1+N, M-1+2N, ...` of the
/// unpartitioned list, so byte offsets and boundaries spread evenly over the shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    /// `M`: which shard, 1-based.
    pub index: u64,
    /// `N`: how many shards.
    pub count: u64,
}

/// Why a `--partition` did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionParseError {
    /// Not two whole numbers around a `/`.
    #[error("`{0}` is not a partition: write M/N with whole numbers, e.g. 1/3")]
    NotMOverN(String),
    /// `M` is 0 or larger than `N`.
    #[error("`{0}` is not a partition: M counts from 1 to N, e.g. 1/3, 2/3 and 3/3")]
    OutOfRange(String),
}

impl fmt::Display for KillPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillPoint::Byte(k) => write!(f, "byte:{k}"),
            KillPoint::Syscall(i) => write!(f, "syscall:{i}"),
        }
    }
}

impl FromStr for KillPoint {
    type Err = KillPointParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (kind, number) = input
            .split_once(':')
            .ok_or_else(|| KillPointParseError::UnknownKind(input.to_owned()))?;
        let parse_number = || {
            // `u64::from_str` accepts a leading `+`; a kill point is digits only.
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(KillPointParseError::BadNumber(input.to_owned()));
            }
            number
                .parse::<u64>()
                .map_err(|_| KillPointParseError::BadNumber(input.to_owned()))
        };
        match kind {
            "byte" => match parse_number()? {
                0 => Err(KillPointParseError::ByteZero),
                k => Ok(KillPoint::Byte(k)),
            },
            "syscall" => Ok(KillPoint::Syscall(parse_number()?)),
            _ => Err(KillPointParseError::UnknownKind(input.to_owned())),
        }
    }
}

impl Serialize for KillPoint {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KillPoint {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a kill point from raw bytes: the entry point for fuzzing.
pub fn parse_kill_point_bytes(input: &[u8]) -> Result<KillPoint, KillPointParseError> {
    std::str::from_utf8(input)
        .map_err(|_| KillPointParseError::NotUtf8)?
        .parse()
}

impl KillSpace {
    /// Number of kill points: every byte offset plus every boundary.
    pub fn len(&self) -> u64 {
        self.total_bytes
            .saturating_add(self.boundaries.len() as u64)
    }

    /// True when the writer offers no kill point at all (it wrote nothing under the sandbox).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `point` exists in this space.
    pub fn contains(&self, point: KillPoint) -> bool {
        match point {
            KillPoint::Byte(k) => (1..=self.total_bytes).contains(&k),
            KillPoint::Syscall(i) => self.boundaries.iter().any(|b| b.index == i),
        }
    }

    /// The boundary a `syscall:N` point names, for messages.
    pub fn boundary(&self, index: u64) -> Option<&Boundary> {
        self.boundaries.iter().find(|b| b.index == index)
    }

    /// Every kill point: byte offsets ascending, then boundaries in program order.
    pub fn all(&self) -> Vec<KillPoint> {
        let bytes = (1..=self.total_bytes).map(KillPoint::Byte);
        let syscalls = self.boundaries.iter().map(|b| KillPoint::Syscall(b.index));
        bytes.chain(syscalls).collect()
    }

    /// `trials` distinct kill points drawn with `seed`, spread over byte offsets and boundaries.
    ///
    /// Boundaries get up to half the trials (all of them when they fit), because each one is a
    /// distinct step of the writer while neighbouring byte offsets often behave alike. Within each
    /// kind the range is cut into equal strata with one point per stratum, so points spread over
    /// the whole write instead of clustering. The same space, `trials` and `seed` always give the
    /// same points. When `trials` covers the space, this is [`KillSpace::all`].
    pub fn sample(&self, trials: u64, seed: u64) -> Vec<KillPoint> {
        if trials >= self.len() {
            return self.all();
        }
        let (byte_quota, boundary_quota) = self.split_quota(trials);
        let mut rng = SplitMix64::new(seed);
        let mut points: Vec<KillPoint> = stratified(self.total_bytes, byte_quota, &mut rng)
            .into_iter()
            .map(|offset| KillPoint::Byte(offset + 1))
            .collect();
        let boundary_count = self.boundaries.len() as u64;
        points.extend(
            stratified(boundary_count, boundary_quota, &mut rng)
                .into_iter()
                .map(|position| KillPoint::Syscall(self.boundaries[position as usize].index)),
        );
        points
    }

    /// Splits `trials` (< len) between byte offsets and boundaries.
    fn split_quota(&self, trials: u64) -> (u64, u64) {
        let boundary_count = self.boundaries.len() as u64;
        let boundary_quota = boundary_count.min(trials.div_ceil(2));
        let byte_quota = (trials - boundary_quota).min(self.total_bytes);
        // Bytes may be too few to take their share: the rest goes back to boundaries.
        (byte_quota, trials - byte_quota)
    }
}

impl Partition {
    /// The points of this shard, each with its position in the unpartitioned list (the trial
    /// number every shard and the merge agree on).
    pub fn shard(self, points: &[KillPoint]) -> Vec<(u64, KillPoint)> {
        (0..points.len() as u64)
            .zip(points.iter().copied())
            .skip((self.index - 1) as usize)
            .step_by(self.count as usize)
            .collect()
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = PartitionParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let not_m_over_n = || PartitionParseError::NotMOverN(input.to_owned());
        let (index, count) = input.split_once('/').ok_or_else(not_m_over_n)?;
        let number = |text: &str| {
            // Digits only: `u64::from_str` would accept `+1`.
            match !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                true => text.parse::<u64>().map_err(|_| not_m_over_n()),
                false => Err(not_m_over_n()),
            }
        };
        let (index, count) = (number(index)?, number(count)?);
        if index == 0 || index > count {
            return Err(PartitionParseError::OutOfRange(input.to_owned()));
        }
        Ok(Partition { index, count })
    }
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Partition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// 64-bit FNV-1a: a hash that stays the same across builds, machines and Rust versions (std's
/// hashers promise none of that), for fingerprints written to disk and compared later.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl KillSpace {
    /// A stable fingerprint (16 hex digits) of this space and `identity` (the campaign's
    /// description of the subject, payload size and initial state). Shards with the same
    /// fingerprint killed the same writer over the same kill points. Boundary paths are left out:
    /// temp files have random names, different on every run.
    pub fn fingerprint(&self, identity: &str) -> String {
        let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, identity.as_bytes());
        hash = fnv1a(hash, &self.total_bytes.to_le_bytes());
        for boundary in &self.boundaries {
            let when: &[u8] = match boundary.when {
                When::Before => b"<",
                When::After => b">",
            };
            hash = fnv1a(hash, &boundary.index.to_le_bytes());
            hash = fnv1a(hash, when);
            hash = fnv1a(hash, boundary.syscall.as_bytes());
            hash = fnv1a(hash, b"\0");
        }
        format!("{hash:016x}")
    }
}

/// `count` distinct values from `0..range_len` (requires `count <= range_len`), sorted: one per
/// equal stratum. With three or more strata the first and last strata take their outer ends, so
/// the very first and very last write positions are always tried.
fn stratified(range_len: u64, count: u64, rng: &mut SplitMix64) -> Vec<u64> {
    debug_assert!(count <= range_len);
    (0..count)
        .map(|stratum| {
            let start = stratum_start(range_len, count, stratum);
            let end = stratum_start(range_len, count, stratum + 1);
            match stratum {
                0 if count >= 3 => start,
                last if count >= 3 && last == count - 1 => end - 1,
                _ => start + rng.below(end - start),
            }
        })
        .collect()
}

fn stratum_start(range_len: u64, count: u64, stratum: u64) -> u64 {
    (u128::from(range_len) * u128::from(stratum) / u128::from(count)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn space(total_bytes: u64, boundary_count: u64) -> KillSpace {
        let boundaries = (0..boundary_count)
            .map(|index| Boundary {
                index,
                seq: Some(index / 2),
                when: if index % 2 == 0 {
                    When::Before
                } else {
                    When::After
                },
                syscall: "close".to_owned(),
                path: "target.json".to_owned(),
            })
            .collect();
        KillSpace {
            total_bytes,
            boundaries,
        }
    }

    #[test]
    fn display_and_parse_round_trip() {
        assert_eq!(KillPoint::Byte(4097).to_string(), "byte:4097");
        assert_eq!(KillPoint::Syscall(0).to_string(), "syscall:0");
        assert_eq!("byte:4097".parse(), Ok(KillPoint::Byte(4097)));
        assert_eq!("syscall:12".parse(), Ok(KillPoint::Syscall(12)));
    }

    #[test]
    fn parse_rejects_malformed_points_with_a_reason() {
        let err = |s: &str| s.parse::<KillPoint>().unwrap_err();
        assert_eq!(err("byte:0"), KillPointParseError::ByteZero);
        assert!(matches!(err("4097"), KillPointParseError::UnknownKind(_)));
        assert!(matches!(
            err("offset:3"),
            KillPointParseError::UnknownKind(_)
        ));
        assert!(matches!(err("byte:"), KillPointParseError::BadNumber(_)));
        assert!(matches!(err("byte:+3"), KillPointParseError::BadNumber(_)));
        assert!(matches!(err("byte:-3"), KillPointParseError::BadNumber(_)));
        assert!(matches!(
            err("syscall:99999999999999999999999"),
            KillPointParseError::BadNumber(_)
        ));
        assert!(err("offset:3").to_string().contains("byte:N"));
        assert_eq!(
            parse_kill_point_bytes(&[0xff, b':']),
            Err(KillPointParseError::NotUtf8)
        );
    }

    #[test]
    fn all_lists_bytes_then_boundaries() {
        let points = space(3, 2).all();
        let expected = [1, 2, 3]
            .map(KillPoint::Byte)
            .into_iter()
            .chain([0, 1].map(KillPoint::Syscall));
        assert_eq!(points, expected.collect::<Vec<_>>());
    }

    #[test]
    fn sample_covering_the_space_is_all() {
        let s = space(10, 4);
        assert_eq!(s.sample(14, 1), s.all());
        assert_eq!(s.sample(1000, 1), s.all());
    }

    #[test]
    fn sample_takes_every_boundary_when_they_fit_in_half() {
        let points = space(65_536, 24).sample(1000, 7);
        let syscalls = points
            .iter()
            .filter(|p| matches!(p, KillPoint::Syscall(_)))
            .count();
        assert_eq!(syscalls, 24);
        assert_eq!(points.len(), 1000);
        assert!(points.contains(&KillPoint::Byte(1)));
        assert!(points.contains(&KillPoint::Byte(65_536)));
    }

    #[test]
    fn sample_gives_leftover_byte_quota_to_boundaries() {
        let points = space(2, 40).sample(30, 3);
        let bytes = points
            .iter()
            .filter(|p| matches!(p, KillPoint::Byte(_)))
            .count();
        assert_eq!((bytes, points.len()), (2, 30));
    }

    #[test]
    fn sample_spreads_over_the_byte_range() {
        let points = space(100_000, 0).sample(10, 99);
        for (stratum, point) in points.iter().enumerate() {
            let KillPoint::Byte(k) = *point else {
                panic!("{point} is not a byte point")
            };
            let stratum = stratum as u64;
            assert!(
                (stratum * 10_000 + 1..=(stratum + 1) * 10_000).contains(&k),
                "{k} outside stratum {stratum}"
            );
        }
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 0 of the reference C implementation (Vigna, splitmix64.c).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn partitions_parse_and_reject_with_a_reason() {
        assert_eq!("2/3".parse(), Ok(Partition { index: 2, count: 3 }));
        assert_eq!(Partition { index: 1, count: 3 }.to_string(), "1/3");
        for bad in ["0/3", "4/3", "1/0"] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(matches!(err, PartitionParseError::OutOfRange(_)), "{bad}");
            assert!(err.to_string().contains("M counts from 1 to N"), "{err}");
        }
        for bad in [
            "",
            "3",
            "1/",
            "/3",
            "+1/3",
            "1/3/4",
            "a/b",
            "1/99999999999999999999999",
        ] {
            let err = bad.parse::<Partition>().unwrap_err();
            assert!(matches!(err, PartitionParseError::NotMOverN(_)), "{bad:?}");
        }
    }

    #[test]
    fn shards_interleave_and_keep_their_positions() {
        let points = space(5, 2).all();
        let second = Partition { index: 2, count: 3 }.shard(&points);
        assert_eq!(
            second,
            vec![(1, KillPoint::Byte(2)), (4, KillPoint::Byte(5))]
        );
    }

    #[test]
    fn fingerprints_are_stable_and_see_the_space_and_identity() {
        let s = space(4096, 4);
        assert_eq!(s.fingerprint("plain").len(), 16);
        assert_ne!(s.fingerprint("plain"), s.fingerprint("intact"));
        assert_ne!(s.fingerprint("plain"), space(4097, 4).fingerprint("plain"));
        assert_ne!(s.fingerprint("plain"), space(4096, 5).fingerprint("plain"));
        let mut renamed = s.clone();
        renamed.boundaries[0].path = ".target.json.x1y2.tmp".to_owned();
        renamed.boundaries[1].seq = Some(99);
        assert_eq!(renamed.fingerprint("plain"), s.fingerprint("plain"));
        // Pinned (and checked against a Python FNV-1a): fingerprints are compared across builds
        // and machines.
        assert_eq!(s.fingerprint("plain"), "e58a7da791534e13");
    }

    proptest! {
        #[test]
        fn shards_are_deterministic_disjoint_and_cover_the_selection(
            total_bytes in 0u64..3_000,
            boundary_count in 0u64..40,
            trials in 1u64..300,
            seed in any::<u64>(),
            count in 1u64..8,
        ) {
            let s = space(total_bytes, boundary_count);
            let whole = s.sample(trials, seed);
            let mut union: Vec<(u64, KillPoint)> = Vec::new();
            for index in 1..=count {
                let partition = Partition { index, count };
                let shard = partition.shard(&s.sample(trials, seed));
                prop_assert_eq!(&shard, &partition.shard(&whole), "not deterministic");
                union.extend(shard);
            }
            union.sort();
            let numbered: Vec<(u64, KillPoint)> = (0..whole.len() as u64).zip(whole).collect();
            prop_assert_eq!(union, numbered);
        }

        #[test]
        fn partition_display_parses_back(count in 1u64..1000, index in any::<prop::sample::Index>()) {
            let partition = Partition { index: index.index(count as usize) as u64 + 1, count };
            prop_assert_eq!(partition.to_string().parse::<Partition>(), Ok(partition));
        }

        #[test]
        fn parse_never_panics(input in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_kill_point_bytes(&input);
        }

        #[test]
        fn display_parses_back(point in prop_oneof![
            (1..=u64::MAX).prop_map(KillPoint::Byte),
            any::<u64>().prop_map(KillPoint::Syscall),
        ]) {
            prop_assert_eq!(point.to_string().parse::<KillPoint>(), Ok(point));
        }

        #[test]
        fn sample_is_deterministic_distinct_and_inside_the_space(
            total_bytes in 0u64..5_000,
            boundary_count in 0u64..60,
            trials in 0u64..400,
            seed in any::<u64>(),
        ) {
            let s = space(total_bytes, boundary_count);
            let points = s.sample(trials, seed);
            prop_assert_eq!(&points, &s.sample(trials, seed));
            prop_assert_eq!(points.len() as u64, trials.min(s.len()));
            let distinct: BTreeSet<_> = points.iter().copied().collect();
            prop_assert_eq!(distinct.len(), points.len());
            for point in &points {
                prop_assert!(s.contains(*point), "{} outside the space", point);
            }
        }
    }
}
