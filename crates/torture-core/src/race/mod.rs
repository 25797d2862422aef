//! Racing writers, the pure half: schedules, their generators, the race oracle, minimisation
//! and diagnosis.
pub mod generate;
pub mod schedule;
pub mod classify;
pub mod oracle;
