//! Where a verdict holds: the models a writer breaks under and those it holds on, and the one
//! rule a holding model leans on to exclude what breaks the others.
//!
//! "breaks under posix; holds on ext4, xfs and btrfs (relies on fsync persisting a file's new
//! name)": the writer passes on those file systems only because they do more than POSIX
//! promises. A gate for portable code asks `--model posix`.

use std::fmt;

use super::explore::Explorer;
use super::model::{Model, Pending, RuleId, rule};
use super::state::CrashState;

/// The models a writer breaks under and holds on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holds {
    /// Models under which some crash state violates.
    pub breaks: Vec<Model>,
    /// Models under which none does, every state judged.
    pub holds: Vec<Model>,
    /// Models under which no state judged violates, but not every state was judged (a time
    /// budget or `--max-states` cut the exploration): neither breaks nor holds is known.
    pub unsettled: Vec<Model>,
    /// The rule the holding models lean on, when one rule tells them apart.
    pub relies: Option<RuleId>,
}

impl Holds {
    /// From each model's count of violating states and whether it judged every state, and a
    /// violating state of a breaking model (`witness`) to ask which rule excludes it on the
    /// first holding one. A model with no violating state among some of its states only is
    /// unsettled, never said to hold.
    pub fn new(
        explorer: &Explorer,
        verdicts: &[(Model, u64, bool)],
        witness: Option<&CrashState>,
    ) -> Holds {
        let pick = |keep: fn(&(Model, u64, bool)) -> bool| -> Vec<Model> {
            verdicts.iter().filter(|v| keep(v)).map(|v| v.0).collect()
        };
        let breaks = pick(|v| v.1 > 0);
        let holds = pick(|v| v.1 == 0 && v.2);
        let unsettled = pick(|v| v.1 == 0 && !v.2);
        let relies = match (witness, breaks.first(), holds.first()) {
            (Some(state), Some(&broke), Some(&held)) => explorer.relies_on(state, broke, held),
            (None, _, _) | (_, None, _) | (_, _, None) => None,
        };
        Holds {
            breaks,
            holds,
            unsettled,
            relies,
        }
    }
}

fn list(models: &[Model]) -> String {
    let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.breaks.is_empty(), self.holds.is_empty()) {
            (true, _) => write!(f, "holds on {}", list(&self.holds))?,
            (false, true) => write!(f, "breaks under {}", list(&self.breaks))?,
            (false, false) => write!(
                f,
                "breaks under {}; holds on {}",
                list(&self.breaks),
                list(&self.holds)
            )?,
        }
        if let Some(id) = self.relies {
            write!(f, " (relies on {})", rule(id).relied)?;
        }
        match self.unsettled.is_empty() {
            true => Ok(()),
            false => write!(
                f,
                "; not settled under {} (not every state judged)",
                list(&self.unsettled)
            ),
        }
    }
}

impl Explorer {
    /// The rule by which `held` excludes `state`, which `broke` allows: the one difference
    /// between their tables that, toggled in `held`'s, lets the state in.
    pub fn relies_on(&self, state: &CrashState, broke: Model, held: Model) -> Option<RuleId> {
        let plan = self.plan();
        let options = self.options();
        let allows = |rules| {
            Pending::with_rules(held, rules, &options.lost_writes)
                .advanced(plan, state.events)
                .check(plan, state, options.torn)
                .is_ok()
        };
        let held_rules = held.rule_set();
        if state.events > plan.steps.len() || allows(held_rules) {
            return None;
        }
        held_rules
            .differences(broke.rule_set())
            .into_iter()
            .find(|&id| allows(held_rules.toggled(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Writer;
    use super::super::{AckSelect, PowerOptions, TargetClass, ack_point, exact_classifier};
    use super::*;
    use crate::oracle::TargetState;

    #[test]
    fn a_renamed_file_fsynced_without_its_directory_holds_on_linux_file_systems_only() {
        let mut w = Writer::new("t.json", None);
        w.create("t.tmp");
        w.write("t.tmp", 0, b"data");
        w.fsync("t.tmp");
        w.rename("t.tmp", "t.json");
        w.fsync("t.json");
        let trace = w.exit();
        let ack = ack_point(&trace.header, AckSelect::Exit);
        let mut verdicts = Vec::new();
        let mut witness = None;
        for model in Model::FILE_SYSTEMS {
            let options = PowerOptions {
                model,
                ..PowerOptions::default()
            };
            let explorer = Explorer::new(&trace, options).unwrap();
            let mut classify = exact_classifier(None, b"data");
            let found = explorer.explore(ack.as_ref(), &mut classify);
            if let Some(finding) = found.findings.first() {
                assert_eq!(finding.class, TargetClass::Absent);
                witness.get_or_insert(finding.state.clone());
            }
            verdicts.push((model, found.violating_states, found.exhaustive));
        }
        let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
        let holds = Holds::new(&explorer, &verdicts, witness.as_ref());
        assert_eq!(
            holds.to_string(),
            "breaks under posix; holds on ext4, xfs and btrfs (relies on fsync persisting a file's new name)"
        );
        assert_eq!(
            explorer.new_version(),
            TargetState::Regular(b"data".to_vec())
        );
    }

    #[test]
    fn a_model_judged_in_part_without_a_violation_is_not_said_to_hold() {
        let mut w = Writer::new("t.json", None);
        w.create("t.json");
        let trace = w.exit();
        let explorer = Explorer::new(&trace, PowerOptions::default()).unwrap();
        let verdicts = [
            (Model::Posix, 3, true),
            (Model::Ext4, 0, true),
            (Model::Xfs, 0, false),
        ];
        let holds = Holds::new(&explorer, &verdicts, None);
        assert_eq!(holds.holds, vec![Model::Ext4]);
        assert_eq!(holds.unsettled, vec![Model::Xfs]);
        assert_eq!(
            holds.to_string(),
            "breaks under posix; holds on ext4; not settled under xfs (not every state judged)"
        );
    }
}
