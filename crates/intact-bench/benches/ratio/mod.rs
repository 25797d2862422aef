//! A criterion measurement whose value is a ratio of two times (see `paired/` in `write.rs`).

use criterion::Throughput;
use criterion::measurement::{Measurement, ValueFormatter};

/// A ratio of times, measured by the benchmark itself through `iter_custom` (each sample's
/// value is the ratio times the sample's iterations); printed as `1.02×`.
pub struct Ratio;

impl Measurement for Ratio {
    type Intermediate = ();
    type Value = f64;

    fn start(&self) -> Self::Intermediate {}

    /// Only `iter_custom` yields a ratio: a plain `iter` has one routine, nothing to divide.
    fn end(&self, _started: Self::Intermediate) -> Self::Value {
        unreachable!("a Ratio is measured with iter_custom only")
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        v1 + v2
    }

    fn zero(&self) -> Self::Value {
        0.0
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &RatioFormatter
    }
}

struct RatioFormatter;

impl ValueFormatter for RatioFormatter {
    fn format_value(&self, value: f64) -> String {
        format!("{value:.4}×")
    }

    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "×"
    }

    /// A ratio has no throughput; the paired groups set none, so this only names the unit.
    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "×"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ratio"
    }
}
