//! Findings: rules that turn the records of a test session into statements an
//! investigator can cite (findings.md).
//!
//! Owns the rule table ([`RuleTable`], read from `signatures/rules/findings.toml` and
//! embedded in the binary), the incremental engine ([`FindingEngine`]) and the pluggable
//! IP-to-country lookup behind `LT-CROSS-BORDER` ([`CountryLookup`], [`CidrTable`]).
//!
//! Takes sealed records (with `seq`) in chain order plus the [`SessionSet`] they were
//! built with. Emits [`FindingUpdate`]s as records arrive and, at the end, `finding`
//! records whose `refs` list the `seq` of every record that proves them.
//!
//! **When finding records are written.** A finding can grow until the last record of a
//! run, so its record is written once, at the end: `analyze --findings` and `report`
//! append the finding records after every other record of the run, sealed into the same
//! hash chain. Their `seq` is therefore higher than every `seq` in their `refs`, the
//! chain stays one unbroken sequence, and `refs` are complete. The live daemon will use
//! [`FindingUpdate`]s to show findings as they appear and write the records when a
//! session ends.
//!
//! Limits: findings per run, refs per finding and tracked frequency/identifier keys are
//! bounded ([`Settings`], `[findings]` in the configuration); each hit is counted in
//! [`FindingStats`]. Must not: see raw PI (records arrive masked), log anything about a
//! record's content, or read the clock (all times are record times).

mod country;
mod engine;
mod rules;

#[cfg(test)]
pub(crate) mod tests;

use std::path::PathBuf;

pub use country::{CidrTable, CountryCode, CountryLookup, DEFAULT_MAX_ENTRIES, MAINLAND};
pub use engine::{
    Change, Finding, FindingEngine, FindingStats, FindingUpdate, RuleOff, Settings,
    DEFAULT_CROSS_APP_MIN_SDKS, DEFAULT_FREQUENCY_MAX, DEFAULT_FREQUENCY_WINDOW_SECS,
    DEFAULT_LOCATION_MAX, DEFAULT_LOCATION_WINDOW_SECS, DEFAULT_MAX_FINDINGS,
    DEFAULT_MAX_REFS_PER_FINDING, DEFAULT_MAX_TRACKED_KEYS,
};
pub use rules::{
    ClauseSource, RuleId, RuleSpec, RuleTable, Severity, CLAUSE_SOURCES, EMBEDDED_RULES,
    EMBEDDED_RULES_PATH,
};

use crate::record::{Chain, Record};
use crate::session::SessionSet;

/// A rule file or country table that cannot be used: which file, where, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    /// A problem in the rule table.
    #[error("{}:{line}: {reason}", path.display())]
    Rules {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A problem in the IP-to-country CSV.
    #[error("{}:{line}: {reason}", path.display())]
    Countries {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

/// The test seam and offline driver: seals `records` into `chain` in order, runs the
/// engine over them, then seals the finding records after them.
///
/// Returns the sealed input records followed by the sealed finding records — exactly
/// the order `analyze --findings` writes. Used by tests that build `pi_leak` /
/// `sdk_contact` records themselves and by the report.
pub fn evaluate(
    records: Vec<Record>,
    sessions: &SessionSet,
    engine: &mut FindingEngine,
    chain: &mut Chain,
) -> Vec<Record> {
    let mut out = Vec::with_capacity(records.len());
    for mut record in records {
        chain.seal(&mut record);
        engine.observe(&record, sessions);
        out.push(record);
    }
    for mut finding in engine.finish() {
        chain.seal(&mut finding);
        out.push(finding);
    }
    out
}
