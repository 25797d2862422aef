//! Paired single-writer comparison: two writers alternate, write for write, into one
//! directory, and what is compared is the ratio of their summed times over the same stretch.
//!
//! On a disk shared with other jobs the time of one durable write swings by several times
//! from one second to the next; two benchmarks measured one after the other then differ by
//! more than the writers do (±30% intervals in the criterion `write/` groups on this machine).
//! Measured in pairs, a slow stretch slows both sides of the ratio alike. Within a pair the
//! order alternates (`a b`, then `b a`), so neither writer always runs right after the other's
//! journal commit.

use std::io;
use std::time::{Duration, Instant};

/// The summed times of the two writers over some pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairTimes {
    pub first: Duration,
    pub second: Duration,
}

impl PairTimes {
    /// `first`'s time over `second`'s (1.05: `first` took 5% longer); `None` when `second`
    /// took no measurable time (no ratio exists).
    pub fn ratio(&self) -> Option<f64> {
        let second_s = self.second.as_secs_f64();
        (second_s > 0.0).then(|| self.first.as_secs_f64() / second_s)
    }
}

/// Runs `pairs` pairs of `first` and `second`, alternating which goes first, timing each.
pub fn run_pairs(
    pairs: u64,
    mut first: impl FnMut() -> io::Result<()>,
    mut second: impl FnMut() -> io::Result<()>,
) -> io::Result<PairTimes> {
    let mut times = PairTimes::default();
    for pair in 0..pairs {
        if pair % 2 == 0 {
            times.first += timed(&mut first)?;
            times.second += timed(&mut second)?;
        } else {
            times.second += timed(&mut second)?;
            times.first += timed(&mut first)?;
        }
    }
    Ok(times)
}

fn timed(write: &mut impl FnMut() -> io::Result<()>) -> io::Result<Duration> {
    let start = Instant::now();
    write()?;
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn pairs_alternate_their_order_and_sum_each_side() {
        let order = RefCell::new(String::new());
        let times = run_pairs(
            4,
            || {
                order.borrow_mut().push('a');
                std::thread::sleep(Duration::from_millis(2));
                Ok(())
            },
            || {
                order.borrow_mut().push('b');
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(order.into_inner(), "abbaabba");
        assert!(times.first >= Duration::from_millis(8), "{times:?}");
        assert!(times.ratio().unwrap() > 1.0, "{times:?}");
    }

    #[test]
    fn an_error_of_either_side_is_returned() {
        let failed = run_pairs(3, || Ok(()), || Err(io::Error::other("disk full")));
        assert_eq!(failed.unwrap_err().to_string(), "disk full");
    }

    #[test]
    fn no_ratio_over_nothing() {
        let times = PairTimes {
            first: Duration::from_millis(1),
            second: Duration::ZERO,
        };
        assert_eq!(times.ratio(), None);
        let times = PairTimes {
            first: Duration::from_millis(3),
            second: Duration::from_millis(2),
        };
        assert_eq!(times.ratio(), Some(1.5));
    }
}
