//! Multi-file units in the campaigns: the glue between `--target`/`--marker` ([`UnitSpec`]) and
//! the unit judge of `torture_core::oracle::unit`, for every crash kind.

use torture_core::power::Explorer;

use super::UnitSpec;

/// The explorer that judges `spec`'s unit, or `explorer` itself for a single target.
pub(crate) fn judge_unit(explorer: Explorer, spec: &UnitSpec) -> Explorer {
    match spec.is_unit() {
        true => explorer.with_unit(&spec.targets, spec.marker.as_deref()),
        false => explorer,
    }
}
