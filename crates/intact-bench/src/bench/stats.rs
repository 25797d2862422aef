//! Pure statistics over latency samples: percentiles and paired ratios.
//!
//! Ratios are paired by round: strategies run interleaved, so the samples of one round were taken
//! moments apart and share whatever the machine was doing. The median of per-round ratios cancels
//! that drift better than a ratio of two medians taken over the whole run.

use serde::Serialize;

/// Median and spread of a set of samples (nanoseconds, or a unitless ratio).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub samples: usize,
}

/// The `q`-quantile (0.0 ..= 1.0) of sorted values, linearly interpolated between ranks.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = q.clamp(0.0, 1.0) * last as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    let weight = rank - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * weight)
}

/// Median, p10 and p90 of `values`; `None` when there are none or any is not a number.
pub fn spread(values: &[f64]) -> Option<Spread> {
    if values.iter().any(|value| value.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Spread {
        median: quantile(&sorted, 0.5)?,
        p10: quantile(&sorted, 0.1)?,
        p90: quantile(&sorted, 0.9)?,
        samples: sorted.len(),
    })
}

/// Spread of latency samples given in nanoseconds.
pub fn latency_spread(samples_ns: &[u64]) -> Option<Spread> {
    let values: Vec<f64> = samples_ns.iter().map(|&ns| ns as f64).collect();
    spread(&values)
}

/// Spread of the per-round ratios `numerator[r] / denominator[r]`, over the rounds both have.
/// Rounds where the denominator is zero (a clock that did not tick) are left out.
pub fn paired_ratio(numerator_ns: &[u64], denominator_ns: &[u64]) -> Option<Spread> {
    let ratios: Vec<f64> = numerator_ns
        .iter()
        .zip(denominator_ns)
        .filter(|&(_, &denominator)| denominator > 0)
        .map(|(&numerator, &denominator)| numerator as f64 / denominator as f64)
        .collect();
    spread(&ratios)
}

/// Operations per second at a given latency.
pub fn per_second(latency_ns: f64, operations: f64) -> f64 {
    if latency_ns > 0.0 {
        operations * 1e9 / latency_ns
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let sorted = [10.0, 20.0, 30.0, 40.0, 50.0];
        assert_eq!(quantile(&sorted, 0.5), Some(30.0));
        assert_eq!(quantile(&sorted, 0.1), Some(14.0));
        assert_eq!(quantile(&sorted, 0.9), Some(46.0));
        assert_eq!(quantile(&sorted, 0.0), Some(10.0));
        assert_eq!(quantile(&sorted, 1.0), Some(50.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn spread_sorts_its_input_and_rejects_nan() {
        let spread = latency_spread(&[50, 10, 40, 20, 30]).unwrap();
        assert_eq!((spread.median, spread.samples), (30.0, 5));
        assert_eq!(super::spread(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn paired_ratio_divides_round_by_round() {
        // A drift that doubles everything in round 2 leaves the paired ratio untouched.
        let slow = [200, 400, 200];
        let fast = [100, 200, 100];
        let ratio = paired_ratio(&slow, &fast).unwrap();
        assert_eq!((ratio.median, ratio.p10, ratio.p90), (2.0, 2.0, 2.0));
        assert_eq!(paired_ratio(&[5], &[0]), None);
    }

    #[test]
    fn per_second_inverts_latency() {
        assert_eq!(per_second(1e6, 1.0), 1000.0);
        assert_eq!(per_second(1e9, 1000.0), 1000.0);
        assert!(per_second(0.0, 1.0).is_infinite());
    }

    proptest! {
        #[test]
        fn percentiles_are_ordered_and_within_range(samples in prop::collection::vec(0u64..1_000_000, 1..200)) {
            let spread = latency_spread(&samples).unwrap();
            let min = *samples.iter().min().unwrap() as f64;
            let max = *samples.iter().max().unwrap() as f64;
            prop_assert!(min <= spread.p10 && spread.p10 <= spread.median);
            prop_assert!(spread.median <= spread.p90 && spread.p90 <= max);
        }
    }
}
