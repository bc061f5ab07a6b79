//! The rule table: id, severity, bilingual title and regulation clauses of every
//! finding rule, read from `signatures/rules/findings.toml` (a copy is embedded in the
//! binary) so clause texts can be corrected without touching code.
//!
//! Takes the TOML text and the path it came from; emits a [`RuleTable`] holding exactly
//! one [`RuleSpec`] per [`RuleId`], or an [`Error::Rules`] naming the file, the line and
//! the reason. Validation: unknown keys, unknown or duplicate ids, missing rules,
//! unknown severities, empty titles or clause lists, and clauses that do not start with
//! one of the abbreviations of findings.md are all errors.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Error;
use crate::config::line_of;

/// The rule table shipped with leaktap, embedded at build time.
pub const EMBEDDED_RULES: &str = include_str!("../../signatures/rules/findings.toml");
/// Path reported in errors about the embedded table, relative to the crate root.
pub const EMBEDDED_RULES_PATH: &str = "signatures/rules/findings.toml";

/// Largest rule file read, in bytes: the table is a few KiB of hand-written text.
pub const MAX_RULE_FILE_BYTES: usize = 1 << 20;
/// Most clauses one rule may cite; findings.md uses at most five.
pub const MAX_CLAUSES_PER_RULE: usize = 32;

/// Abbreviations a clause may start with (findings.md, "Clause abbreviations"), each
/// with the regulation's full title in Chinese and English for report legends.
pub const CLAUSE_SOURCES: &[ClauseSource] = &[
    ClauseSource {
        prefix: "PIPL Art. ",
        abbreviation: "PIPL",
        title_zh: "《中华人民共和国个人信息保护法》（2021）",
        title_en: "Personal Information Protection Law of the PRC (2021)",
    },
    ClauseSource {
        prefix: "认定方法 ",
        abbreviation: "认定方法",
        title_zh: "《App违法违规收集使用个人信息行为认定方法》（2019）",
        title_en: "Methods for Identifying Illegal Collection and Use of PI by Apps (2019)",
    },
    ClauseSource {
        prefix: "35273 §",
        abbreviation: "35273",
        title_zh: "GB/T 35273-2020《信息安全技术 个人信息安全规范》",
        title_en: "GB/T 35273-2020 Information security technology — PI security specification",
    },
    ClauseSource {
        prefix: "必要范围规定 Art. ",
        abbreviation: "必要范围规定",
        title_zh: "《常见类型移动互联网应用程序必要个人信息范围规定》（2021）",
        title_en: "Provisions on the Scope of Necessary PI for Common Types of Mobile Apps (2021)",
    },
];

/// One regulation a clause may cite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClauseSource {
    /// What a clause citing it starts with, e.g. `PIPL Art. `.
    pub prefix: &'static str,
    /// Short name used in clauses.
    pub abbreviation: &'static str,
    /// Full title in Chinese.
    pub title_zh: &'static str,
    /// Full title in English.
    pub title_en: &'static str,
}

/// A finding rule of findings.md. Variants are alphabetical; [`RuleId::ALL`] lists them
/// in the order of findings.md's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// `LT-AFTER-DENIAL`: PI after the user refused.
    AfterDenial,
    /// `LT-AFTER-WITHDRAWAL`: PI after consent was withdrawn.
    AfterWithdrawal,
    /// `LT-BEYOND-SCOPE`: PI type the policy does not declare.
    BeyondScope,
    /// `LT-CROSS-BORDER`: PI to an address outside mainland China.
    CrossBorder,
    /// `LT-DEVICE-ID-CROSS-APP`: one device identifier to several third-party SDKs.
    DeviceIdCrossApp,
    /// `LT-FREQUENCY`: the same PI to the same destination too often.
    Frequency,
    /// `LT-MINOR`: PI in a children's app before guardian consent.
    Minor,
    /// `LT-PLAINTEXT`: PI over an unencrypted protocol.
    Plaintext,
    /// `LT-PRECONSENT`: PI before consent.
    Preconsent,
    /// `LT-PRECONSENT-SDK`: a third-party SDK contacted before consent.
    PreconsentSdk,
    /// `LT-SENSITIVE-NO-SEPARATE-CONSENT`: sensitive PI without separate consent.
    SensitiveNoSeparateConsent,
    /// `LT-UNDISCLOSED-SDK`: PI to an undisclosed third party.
    UndisclosedSdk,
    /// `LT-UNNECESSARY`: PI beyond the app type's necessary set.
    Unnecessary,
}

impl RuleId {
    /// Every rule, in the order of findings.md's table.
    pub const ALL: [RuleId; 13] = [
        RuleId::Preconsent,
        RuleId::PreconsentSdk,
        RuleId::AfterDenial,
        RuleId::AfterWithdrawal,
        RuleId::UndisclosedSdk,
        RuleId::BeyondScope,
        RuleId::Unnecessary,
        RuleId::SensitiveNoSeparateConsent,
        RuleId::Minor,
        RuleId::Plaintext,
        RuleId::Frequency,
        RuleId::CrossBorder,
        RuleId::DeviceIdCrossApp,
    ];

    /// The stable id, e.g. `LT-PRECONSENT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RuleId::AfterDenial => "LT-AFTER-DENIAL",
            RuleId::AfterWithdrawal => "LT-AFTER-WITHDRAWAL",
            RuleId::BeyondScope => "LT-BEYOND-SCOPE",
            RuleId::CrossBorder => "LT-CROSS-BORDER",
            RuleId::DeviceIdCrossApp => "LT-DEVICE-ID-CROSS-APP",
            RuleId::Frequency => "LT-FREQUENCY",
            RuleId::Minor => "LT-MINOR",
            RuleId::Plaintext => "LT-PLAINTEXT",
            RuleId::Preconsent => "LT-PRECONSENT",
            RuleId::PreconsentSdk => "LT-PRECONSENT-SDK",
            RuleId::SensitiveNoSeparateConsent => "LT-SENSITIVE-NO-SEPARATE-CONSENT",
            RuleId::UndisclosedSdk => "LT-UNDISCLOSED-SDK",
            RuleId::Unnecessary => "LT-UNNECESSARY",
        }
    }

    /// Parses a rule id (exact, case-sensitive).
    pub fn from_id(s: &str) -> Option<RuleId> {
        RuleId::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Position in [`RuleId::ALL`], for stable sorting.
    pub fn order(self) -> usize {
        RuleId::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity of a finding. Variants are alphabetical; [`Severity::rank`] orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    High,
    Low,
    Medium,
}

impl Severity {
    /// `high`, `medium` or `low`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Low => "low",
            Severity::Medium => "medium",
        }
    }

    /// Parses `high`, `medium` or `low`.
    pub fn from_id(s: &str) -> Option<Severity> {
        match s {
            "high" => Some(Severity::High),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            _ => None,
        }
    }

    /// 0 for high, 1 for medium, 2 for low: most severe first when sorted.
    pub const fn rank(self) -> u8 {
        match self {
            Severity::High => 0,
            Severity::Medium => 1,
            Severity::Low => 2,
        }
    }
}

/// One rule as the table describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub id: RuleId,
    /// Severity of a finding of this rule.
    pub severity: Severity,
    /// Severity instead of [`RuleSpec::severity`] when the PI involved is sensitive.
    pub severity_sensitive: Option<Severity>,
    pub title_zh: String,
    pub title_en: String,
    /// Clauses, each starting with one of [`CLAUSE_SOURCES`]' prefixes.
    pub regulation: Vec<String>,
}

impl RuleSpec {
    /// The one-line title of finding records: `title_zh / title_en`.
    pub fn title(&self) -> String {
        format!("{} / {}", self.title_zh, self.title_en)
    }

    /// The severity for PI that is (or is not) sensitive.
    pub fn severity_for(&self, sensitive: bool) -> Severity {
        match (sensitive, self.severity_sensitive) {
            (true, Some(s)) => s,
            _ => self.severity,
        }
    }
}

/// Every rule's description, one per [`RuleId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTable {
    /// In the order of [`RuleId::ALL`].
    rules: Vec<RuleSpec>,
}

impl RuleTable {
    /// The table embedded in the binary ([`EMBEDDED_RULES`]).
    pub fn embedded() -> Result<RuleTable, Error> {
        RuleTable::parse(EMBEDDED_RULES, Path::new(EMBEDDED_RULES_PATH))
    }

    /// Reads and validates a rule file.
    pub fn load(path: &Path) -> Result<RuleTable, Error> {
        let read_error = |reason: String| Error::Read {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?;
        if meta.len() > MAX_RULE_FILE_BYTES as u64 {
            return Err(read_error(format!(
                "file is larger than {MAX_RULE_FILE_BYTES} bytes"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        RuleTable::parse(&text, path)
    }

    /// Parses and validates rule text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RuleTable, Error> {
        let err = |offset: usize, reason: String| Error::Rules {
            path: path.to_path_buf(),
            line: line_of(text, offset),
            reason,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            err(
                e.span().map_or(0, |s| s.start),
                e.message().trim_end_matches('\n').to_string(),
            )
        })?;
        let mut slots: Vec<Option<RuleSpec>> = vec![None; RuleId::ALL.len()];
        let mut lines: Vec<usize> = vec![0; RuleId::ALL.len()];
        for raw_rule in raw.rule {
            let rule_offset = raw_rule.span().start;
            let raw_rule = raw_rule.into_inner();
            let id_at = raw_rule.id.span().start;
            let Some(id) = RuleId::from_id(raw_rule.id.get_ref()) else {
                return Err(err(
                    id_at,
                    format!("unknown rule id '{}'", raw_rule.id.get_ref()),
                ));
            };
            let slot = id.order();
            if let Some(Some(_)) = slots.get(slot) {
                let first = lines.get(slot).copied().unwrap_or(0);
                return Err(err(
                    id_at,
                    format!("rule {id} is defined twice (first at line {first})"),
                ));
            }
            let severity = parse_severity(&raw_rule.severity).map_err(|r| err(r.0, r.1))?;
            let severity_sensitive = raw_rule
                .severity_sensitive
                .as_ref()
                .map(parse_severity)
                .transpose()
                .map_err(|r| err(r.0, r.1))?;
            for (title, key) in [
                (&raw_rule.title_zh, "title_zh"),
                (&raw_rule.title_en, "title_en"),
            ] {
                let t = title.get_ref();
                if t.trim().is_empty() || t.contains(['\n', '\r']) {
                    return Err(err(
                        title.span().start,
                        format!("{key} must be one non-empty line"),
                    ));
                }
            }
            let clauses = raw_rule.regulation.get_ref();
            if clauses.is_empty() {
                return Err(err(
                    raw_rule.regulation.span().start,
                    "regulation must list at least one clause".into(),
                ));
            }
            if clauses.len() > MAX_CLAUSES_PER_RULE {
                return Err(err(
                    raw_rule.regulation.span().start,
                    format!("regulation lists more than {MAX_CLAUSES_PER_RULE} clauses"),
                ));
            }
            let mut regulation = Vec::with_capacity(clauses.len());
            for clause in clauses {
                let text_of = clause.get_ref();
                let valid = CLAUSE_SOURCES.iter().any(|src| {
                    text_of
                        .strip_prefix(src.prefix)
                        .is_some_and(|rest| !rest.trim().is_empty())
                });
                if !valid || text_of.contains(['\n', '\r']) {
                    let prefixes: Vec<&str> =
                        CLAUSE_SOURCES.iter().map(|s| s.prefix.trim_end()).collect();
                    return Err(err(
                        clause.span().start,
                        format!(
                            "clause '{text_of}' must start with one of: {} followed by its number",
                            prefixes.join(", ")
                        ),
                    ));
                }
                if regulation.contains(text_of) {
                    return Err(err(
                        clause.span().start,
                        format!("clause '{text_of}' is listed twice"),
                    ));
                }
                regulation.push(text_of.clone());
            }
            if let (Some(s), Some(l)) = (slots.get_mut(slot), lines.get_mut(slot)) {
                *l = line_of(text, rule_offset);
                *s = Some(RuleSpec {
                    id,
                    severity,
                    severity_sensitive,
                    title_zh: raw_rule.title_zh.into_inner(),
                    title_en: raw_rule.title_en.into_inner(),
                    regulation,
                });
            }
        }
        let mut rules = Vec::with_capacity(RuleId::ALL.len());
        for (id, slot) in RuleId::ALL.iter().zip(slots) {
            match slot {
                Some(spec) => rules.push(spec),
                None => {
                    return Err(Error::Rules {
                        path: path.to_path_buf(),
                        line: line_of(text, text.len()),
                        reason: format!("rule {id} is missing (every rule needs an entry)"),
                    })
                }
            }
        }
        Ok(RuleTable { rules })
    }

    /// The description of one rule.
    pub fn get(&self, id: RuleId) -> &RuleSpec {
        // `parse` fills one entry per RuleId::ALL slot, so the index exists; the
        // fallback is the first rule rather than a panic.
        let i = id.order();
        match self.rules.get(i).or_else(|| self.rules.first()) {
            Some(spec) => spec,
            None => unreachable_table(),
        }
    }

    /// Every rule in the order of [`RuleId::ALL`].
    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }
}

/// A table without rules cannot be built (`parse` rejects missing rules).
#[cold]
fn unreachable_table() -> ! {
    unreachable!("a RuleTable always holds every rule")
}

fn parse_severity(s: &Spanned<String>) -> Result<Severity, (usize, String)> {
    Severity::from_id(s.get_ref()).ok_or_else(|| {
        (
            s.span().start,
            format!(
                "unknown severity '{}' (expected high, medium or low)",
                s.get_ref()
            ),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    severity: Spanned<String>,
    severity_sensitive: Option<Spanned<String>>,
    title_zh: Spanned<String>,
    title_en: Spanned<String>,
    regulation: Spanned<Vec<Spanned<String>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RuleTable, Error> {
        RuleTable::parse(text, Path::new("rules.toml"))
    }

    /// The embedded table with one substring replaced (the edit must apply).
    fn edited(from: &str, to: &str) -> String {
        assert!(EMBEDDED_RULES.contains(from), "{from}");
        EMBEDDED_RULES.replacen(from, to, 1)
    }

    fn line_containing(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .map_or(0, |i| i + 1)
    }

    #[test]
    fn embedded_table_has_every_rule() {
        let table = RuleTable::embedded().unwrap();
        assert_eq!(table.rules().len(), 13);
        for (spec, id) in table.rules().iter().zip(RuleId::ALL) {
            assert_eq!(spec.id, id);
            assert!(!spec.regulation.is_empty());
        }
        let pre = table.get(RuleId::Preconsent);
        assert_eq!(pre.severity, Severity::High);
        assert_eq!(
            pre.title(),
            "征得同意前收集个人信息 / PI collected before consent"
        );
        assert_eq!(
            pre.regulation,
            ["PIPL Art. 13", "PIPL Art. 14", "认定方法 3-1"]
        );
        let plain = table.get(RuleId::Plaintext);
        assert_eq!(plain.severity_for(false), Severity::Medium);
        assert_eq!(plain.severity_for(true), Severity::High);
        assert_eq!(table.get(RuleId::DeviceIdCrossApp).severity, Severity::Low);
        for id in RuleId::ALL {
            assert_eq!(RuleId::from_id(id.as_str()), Some(id));
        }
        // Every clause carries a source comment in the file.
        for line in EMBEDDED_RULES.lines() {
            let t = line.trim_start();
            if t.starts_with('"') {
                assert!(t.contains("# "), "clause without a source comment: {line}");
            }
        }
    }

    #[test]
    fn a_corrected_clause_needs_no_code_change() {
        let text = edited("\"PIPL Art. 51\"", "\"PIPL Art. 9\"");
        let table = parse(&text).unwrap();
        assert_eq!(table.get(RuleId::Plaintext).regulation[0], "PIPL Art. 9");
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = edited("id = \"LT-MINOR\"", "id = \"LT-MAJOR\"");
        let e = parse(&text).unwrap_err().to_string();
        let line = line_containing(&text, "LT-MAJOR");
        assert_eq!(e, format!("rules.toml:{line}: unknown rule id 'LT-MAJOR'"));

        let text = edited("severity = \"low\"", "severity = \"tiny\"");
        let e = parse(&text).unwrap_err().to_string();
        let line = line_containing(&text, "\"tiny\"");
        assert!(
            e.starts_with(&format!("rules.toml:{line}: unknown severity 'tiny'")),
            "{e}"
        );

        let text = edited("\"PIPL Art. 24\"", "\"Art. 24\"");
        let e = parse(&text).unwrap_err().to_string();
        let line = line_containing(&text, "\"Art. 24\"");
        assert!(
            e.starts_with(&format!("rules.toml:{line}: clause 'Art. 24'")),
            "{e}"
        );

        let text = edited("title_en = \"PI of a child user\"", "title_en = \"\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("title_en must be one non-empty line"), "{e}");

        let text = edited(
            "title_zh = \"超频次收集\"",
            "title_zh = \"超频次收集\"\ncolour = \"red\"",
        );
        let e = parse(&text).unwrap_err().to_string();
        let line = line_containing(&text, "colour");
        assert!(
            e.starts_with(&format!("rules.toml:{line}: unknown field `colour`")),
            "{e}"
        );

        let text = edited(
            "regulation = [\n    \"PIPL Art. 38\"",
            "regulation = [\n    \"PIPL Art. 39\"",
        );
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("clause 'PIPL Art. 39' is listed twice"), "{e}");

        let e = parse("[[rule]]\nid = \"LT-PRECONSENT\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("rules.toml:1: missing field `severity`"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_and_missing_rules() {
        let text = edited("id = \"LT-MINOR\"", "id = \"LT-PRECONSENT\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.contains("rule LT-PRECONSENT is defined twice (first at line"),
            "{e}"
        );

        let cut = EMBEDDED_RULES
            .find("[[rule]]\nid = \"LT-DEVICE-ID-CROSS-APP\"")
            .unwrap();
        let text = &EMBEDDED_RULES[..cut];
        let e = parse(text).unwrap_err().to_string();
        assert!(e.contains("rule LT-DEVICE-ID-CROSS-APP is missing"), "{e}");
    }

    #[test]
    fn severity_order() {
        let mut s = [Severity::Low, Severity::High, Severity::Medium];
        s.sort_by_key(|s| s.rank());
        assert_eq!(s, [Severity::High, Severity::Medium, Severity::Low]);
    }
}
