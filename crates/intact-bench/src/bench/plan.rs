//! Pure planning: which filesystems, sizes and strategies, how many rounds, and in what order.

use crate::{BENCHED, Strategy};
use serde::Serialize;

pub use torture_engine::loopfs::FsKind;

/// How long to keep measuring one (filesystem, size) cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rounds {
    pub min: usize,
    pub max: usize,
    /// Keep starting rounds (beyond `min`) until this much wall time has passed.
    pub budget_ms: u64,
}

impl Rounds {
    /// Whether to start another round after `done` rounds and `elapsed_ms` of wall time.
    pub fn wants_another(&self, done: usize, elapsed_ms: u64) -> bool {
        done < self.min || (done < self.max && elapsed_ms < self.budget_ms)
    }
}

/// The batch comparison: `files` files of `file_bytes`, batch against sequential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchPlan {
    pub files: usize,
    pub file_bytes: u64,
    pub rounds: Rounds,
}

/// Everything one run measures, per filesystem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub quick: bool,
    pub sizes_bytes: Vec<u64>,
    #[serde(serialize_with = "serialize_strategies")]
    pub strategies: Vec<Strategy>,
    pub rounds: Rounds,
    pub batch: Option<BatchPlan>,
    pub concurrent: Option<super::concurrent::ConcurrentPlan>,
}

fn serialize_strategies<S: serde::Serializer>(
    strategies: &[Strategy],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(strategies.iter().map(|strategy| strategy.name()))
}

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;

impl Plan {
    /// Under a minute for four filesystems on two cores: three sizes, a few seconds each.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            sizes_bytes: vec![KIB, 64 * KIB, MIB],
            strategies: BENCHED.to_vec(),
            rounds: Rounds {
                min: 8,
                max: 5_000,
                budget_ms: 1_800,
            },
            // 1,000 sequential durable writes take seconds on a busy disk: a tenth of that here.
            batch: Some(BatchPlan {
                files: 100,
                file_bytes: KIB,
                rounds: Rounds {
                    min: 3,
                    max: 20,
                    budget_ms: 1_000,
                },
            }),
            concurrent: Some(super::concurrent::ConcurrentPlan {
                file_bytes: KIB,
                passes: 2,
                rounds: Rounds {
                    min: 5,
                    max: 100,
                    budget_ms: 3_000,
                },
            }),
        }
    }

    /// The full comparison behind `just bench-fs`.
    pub fn full() -> Plan {
        Plan {
            quick: false,
            sizes_bytes: vec![KIB, 64 * KIB, MIB, 16 * MIB],
            strategies: BENCHED.to_vec(),
            rounds: Rounds {
                min: 30,
                max: 20_000,
                budget_ms: 15_000,
            },
            batch: Some(BatchPlan {
                files: 1_000,
                file_bytes: KIB,
                rounds: Rounds {
                    min: 10,
                    max: 200,
                    budget_ms: 20_000,
                },
            }),
            concurrent: Some(super::concurrent::ConcurrentPlan {
                file_bytes: KIB,
                passes: 4,
                rounds: Rounds {
                    min: 10,
                    max: 200,
                    budget_ms: 20_000,
                },
            }),
        }
    }

    /// Restricts the strategies to `chosen`, keeping the references `plain` and `plain-fsync`
    /// (every ratio is taken against them) and the order of [`BENCHED`].
    pub fn with_strategies(mut self, chosen: &[Strategy]) -> Plan {
        self.strategies = BENCHED
            .into_iter()
            .filter(|strategy| {
                chosen.contains(strategy)
                    || matches!(strategy, Strategy::Plain | Strategy::PlainFsync)
            })
            .collect();
        self
    }
}

/// The order of the `count` strategies in round `round`: rotated so that round r starts at
/// strategy r mod count, and each strategy follows each position equally often.
pub fn rotation(round: usize, count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(move |offset| (round + offset) % count)
}

pub use torture_core::size::{format_size, parse_size_bytes as parse_size};

/// `format_size` without the space, for file names (`64KiB`).
pub fn size_slug(bytes: u64) -> String {
    format_size(bytes).replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert_eq, proptest};

    #[test]
    fn round_r_starts_at_strategy_r_mod_n() {
        assert_eq!(rotation(0, 3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(rotation(1, 3).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(rotation(5, 3).collect::<Vec<_>>(), [2, 0, 1]);
    }

    #[test]
    fn every_strategy_takes_every_position_once_per_cycle() {
        let count = 10;
        for strategy in 0..count {
            let mut positions: Vec<usize> = (0..count)
                .map(|round| rotation(round, count).position(|s| s == strategy).unwrap())
                .collect();
            positions.sort_unstable();
            assert_eq!(positions, (0..count).collect::<Vec<_>>());
        }
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1KiB"), Ok(KIB));
        assert_eq!(parse_size("64K"), Ok(64 * KIB));
        assert_eq!(parse_size("16MiB"), Ok(16 * MIB));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1TiB").unwrap_err().contains("1TiB"));
        assert!(parse_size("KiB").is_err());
        assert_eq!(format_size(64 * KIB), "64 KiB");
        assert_eq!(format_size(16 * MIB), "16 MiB");
        assert_eq!(format_size(1500), "1500 B");
        assert_eq!(size_slug(KIB), "1KiB");
    }

    #[test]
    fn filesystems_parse_and_name_their_package() {
        assert_eq!("xfs".parse::<FsKind>(), Ok(FsKind::Xfs));
        assert!("zfs".parse::<FsKind>().unwrap_err().contains("zfs"));
        assert_eq!(FsKind::Btrfs.debian_package(), Some("btrfs-progs"));
        assert_eq!(FsKind::Tmpfs.mkfs(), None);
    }

    #[test]
    fn a_strategy_subset_keeps_the_references() {
        let plan = Plan::quick().with_strategies(&[Strategy::Intact]);
        assert_eq!(
            plan.strategies,
            [Strategy::Plain, Strategy::PlainFsync, Strategy::Intact]
        );
    }

    #[test]
    fn rounds_respect_minimum_budget_and_maximum() {
        let rounds = Rounds {
            min: 3,
            max: 10,
            budget_ms: 100,
        };
        assert!(rounds.wants_another(2, 1_000));
        assert!(rounds.wants_another(5, 50));
        assert!(!rounds.wants_another(5, 100));
        assert!(!rounds.wants_another(10, 0));
    }

    proptest! {
        #[test]
        fn formatted_sizes_parse_back(kib in 1u64..100_000) {
            let bytes = kib * KIB;
            prop_assert_eq!(parse_size(&size_slug(bytes)), Ok(bytes));
        }
    }
}
