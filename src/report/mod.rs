//! The investigator report of one test session: `report.json` (schema
//! `schemas/report.schema.json`) and a self-contained `report.html`.
//!
//! Takes the session, the sealed records of a run (the `pi_leak`, `sdk_contact` and
//! `finding` records are used; others are ignored), the rule table, and facts about the
//! run and its input files (paths, SHA-256, sizes — hashing is the caller's I/O).
//! Emits a [`Report`] value, its JSON, and its HTML ([`Report::to_html`]): findings
//! first, then the consent timeline as inline SVG, destinations × PI types, every
//! transmission and contact, the session facts and the input files with their hashes.
//!
//! The HTML loads nothing: inline CSS, inline SVG, no script, no external reference,
//! and a Content-Security-Policy of `default-src 'none'` so a browser refuses any
//! request even if one slipped in. Every string that comes from traffic or from a
//! session file is HTML-escaped. Values are masked (records arrive masked; device
//! identifiers from the session are masked here). Times are shown in Beijing time
//! (UTC+8), with the UTC storage stated; JSON times are RFC 3339 UTC.
//!
//! Limits: at most [`MAX_TRANSMISSIONS`] transmissions are listed (the rest are
//! counted and named in a note) and at most [`MAX_EVIDENCE_PER_FINDING`] evidence
//! entries per finding; the timeline draws at most [`svg::MAX_LANES`] destination rows
//! and [`svg::MAX_MARKS`] marks. Must not: do I/O, read the clock (the caller passes
//! the generation facts), or show an unmasked value.

mod html;
mod i18n;
mod svg;

pub use i18n::{Lang, Msg};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::capture::Timestamp;
use crate::finding::{RuleOff, RuleTable};
use crate::output::beijing_time;
use crate::record::{mask, Body, FlowTuple, Record};
use crate::session::Session;

/// Schema tag of report.json.
pub const SCHEMA: &str = "leaktap-report/1";
/// Transmissions listed in a report; a test session of minutes has hundreds. Beyond
/// this the report lists the first ones and says how many more are in records.jsonl.
pub const MAX_TRANSMISSIONS: usize = 20_000;
/// Evidence entries (referenced records with their flows) listed per finding.
pub const MAX_EVIDENCE_PER_FINDING: usize = 1_000;

/// One input file of the run and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputFile {
    /// `capture`, `keylog`, `session` or `records`.
    pub role: &'static str,
    /// As given on the command line.
    pub path: String,
    /// SHA-256, 64 lower-case hex characters.
    pub sha256: String,
    pub bytes: u64,
}

/// Facts about the run that produced the records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunFacts {
    pub packets: u64,
    pub bytes: u64,
    /// First and last capture time, RFC 3339 UTC.
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    /// Records in the chain (all event types, findings included).
    pub records: u64,
    /// `hash` of the last record of the chain.
    pub chain_head: String,
    /// Problems with input files, one line each.
    pub file_problems: Vec<String>,
}

/// A note shown near the top of the report, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Note {
    pub zh: String,
    pub en: String,
}

/// What [`Report::build`] needs.
pub struct ReportInput<'a> {
    pub session: &'a Session,
    /// Sealed records of the run, in chain order.
    pub records: &'a [Record],
    pub rules: &'a RuleTable,
    pub rules_off: &'a [RuleOff],
    pub inputs: Vec<InputFile>,
    pub run: RunFacts,
    pub notes: Vec<Note>,
    /// `leaktap <version>`.
    pub generator: String,
    pub lang: Lang,
}

/// The report (serialised as report.json).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generator: String,
    pub lang: &'static str,
    /// Offset used for display times (`+08:00`); stored times are UTC.
    pub display_utc_offset: &'static str,
    pub session: SessionFacts,
    pub run: RunFacts,
    pub inputs: Vec<InputFile>,
    pub notes: Vec<Note>,
    pub rules_off: Vec<RuleOffFacts>,
    /// Most severe first, then by rule order and time.
    pub findings: Vec<FindingFacts>,
    pub timeline: Timeline,
    pub destinations: DestinationTable,
    pub transmissions: Vec<Transmission>,
    /// Transmissions not listed because of [`MAX_TRANSMISSIONS`].
    pub transmissions_not_listed: u64,
    /// The clause abbreviations used, with full titles.
    pub regulations: Vec<RegulationFacts>,
}

/// The session as the report shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SessionFacts {
    pub id: String,
    pub file: String,
    pub device: DeviceFacts,
    pub app: AppFacts,
    pub events: Vec<EventFacts>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeviceFacts {
    pub name: String,
    pub mac: Option<String>,
    pub ips: Vec<String>,
    /// PI type → masked values the lab recorded for the phone.
    pub identifiers: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AppFacts {
    pub name: String,
    pub package: String,
    pub declared_pi: Vec<String>,
    pub declared_sdks: Vec<String>,
    pub first_party_domains: Vec<String>,
    pub category: Option<String>,
    pub category_name_zh: Option<String>,
    pub audience: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventFacts {
    /// RFC 3339 UTC.
    pub at: String,
    /// Beijing time for display.
    pub at_beijing: String,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleOffFacts {
    pub rule: &'static str,
    pub reason_zh: &'static str,
    pub reason_en: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct RegulationFacts {
    pub abbreviation: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
}

/// One finding with its evidence.
#[derive(Clone, Debug, Serialize)]
pub struct FindingFacts {
    /// `seq` of the finding record.
    pub seq: u64,
    pub rule: String,
    pub severity: String,
    pub title_zh: String,
    pub title_en: String,
    pub regulation: Vec<String>,
    pub pi_type: Option<String>,
    pub destination: Option<String>,
    pub count: u64,
    pub refs: Vec<u64>,
    /// Capture time of the record that raised it, RFC 3339 UTC.
    pub ts: String,
    pub consent_phase: String,
    pub evidence: Vec<EvidenceRef>,
}

/// A record a finding refers to, with where to find its packets.
#[derive(Clone, Debug, Serialize)]
pub struct EvidenceRef {
    pub seq: u64,
    pub ts: String,
    pub event_type: &'static str,
    pub flow_id: u64,
    pub community_id: String,
    pub flow: FlowFacts,
    pub host: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowFacts {
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
    pub proto: String,
}

impl From<&FlowTuple> for FlowFacts {
    fn from(f: &FlowTuple) -> Self {
        FlowFacts {
            src_ip: f.src_ip.to_string(),
            src_port: f.src_port,
            dst_ip: f.dst_ip.to_string(),
            dst_port: f.dst_port,
            proto: f.proto.to_string(),
        }
    }
}

/// The consent timeline: phases as spans, the events, the time range drawn.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    pub start: String,
    pub end: String,
    pub phases: Vec<PhaseSpan>,
    pub events: Vec<EventFacts>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PhaseSpan {
    pub phase: &'static str,
    pub start: String,
    pub end: String,
}

/// One `pi_leak` or `sdk_contact` record.
#[derive(Clone, Debug, Serialize)]
pub struct Transmission {
    pub seq: u64,
    pub ts: String,
    pub ts_beijing: String,
    /// `pi_leak` or `sdk_contact`.
    pub event_type: &'static str,
    pub consent_phase: String,
    pub destination: String,
    pub host: Option<String>,
    pub sdk: Option<SdkFacts>,
    pub third_party: bool,
    pub flow_id: u64,
    pub community_id: String,
    pub flow: FlowFacts,
    pub app_proto: &'static str,
    /// Seen inside TLS/QUIC (decrypted) rather than in the clear.
    pub encrypted: bool,
    /// For `sdk_contact`: `dns`, `tls_sni`, `quic_sni` or `http_host`.
    pub via: Option<&'static str>,
    /// Method and masked URL of the HTTP request, if any.
    pub http: Option<String>,
    pub pi: Vec<PiFacts>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SdkFacts {
    pub id: String,
    pub name: String,
    pub vendor: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PiFacts {
    #[serde(rename = "type")]
    pub pi_type: String,
    pub category: String,
    pub sensitive: bool,
    #[serde(rename = "where")]
    pub location: String,
    pub encoding: String,
    pub method: &'static str,
    /// Masked.
    pub value: String,
}

/// Destinations × PI types.
#[derive(Clone, Debug, Serialize)]
pub struct DestinationTable {
    /// The PI type columns, in taxonomy order.
    pub pi_types: Vec<String>,
    pub rows: Vec<DestinationRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DestinationRow {
    pub destination: String,
    pub sdk: Option<SdkFacts>,
    /// `first` or `third`.
    pub party: &'static str,
    /// PI type → transmissions carrying it.
    pub pi_counts: BTreeMap<String, u64>,
    pub pi_leaks: u64,
    pub sdk_contacts: u64,
    pub first_ts: String,
    pub last_ts: String,
    /// Consent phases in which it was contacted.
    pub phases: Vec<String>,
}

impl Report {
    /// Builds the report from a run.
    pub fn build(input: ReportInput<'_>) -> Report {
        let session = input.session;
        let by_seq: HashMap<u64, &Record> = input
            .records
            .iter()
            .filter(|r| matches!(r.body, Body::PiLeak(_) | Body::SdkContact(_)))
            .map(|r| (r.seq, r))
            .collect();
        let mut findings = Vec::new();
        let mut transmissions = Vec::new();
        let mut not_listed = 0u64;
        let mut rows: BTreeMap<String, DestinationRow> = BTreeMap::new();
        let mut pi_types: BTreeSet<String> = BTreeSet::new();
        for record in input.records {
            match &record.body {
                Body::Finding(f) => {
                    if record.common.session_id.as_deref() != Some(session.id.as_str()) {
                        continue;
                    }
                    let (title_zh, title_en) = input
                        .rules
                        .rules()
                        .iter()
                        .find(|r| r.id.as_str() == f.rule)
                        .map_or_else(
                            || split_title(&f.title),
                            |r| (r.title_zh.clone(), r.title_en.clone()),
                        );
                    let evidence = f
                        .refs
                        .iter()
                        .filter_map(|seq| by_seq.get(seq))
                        .take(MAX_EVIDENCE_PER_FINDING)
                        .map(|r| EvidenceRef {
                            seq: r.seq,
                            ts: r.ts.to_rfc3339(),
                            event_type: r.event_type.as_str(),
                            flow_id: r.common.flow_id,
                            community_id: r.common.community_id.clone(),
                            flow: FlowFacts::from(&r.common.flow),
                            host: r.common.host.clone(),
                        })
                        .collect();
                    findings.push(FindingFacts {
                        seq: record.seq,
                        rule: f.rule.clone(),
                        severity: f.severity.clone(),
                        title_zh,
                        title_en,
                        regulation: f.regulation.clone(),
                        pi_type: f.pi_type.clone(),
                        destination: f.destination.clone(),
                        count: f.count,
                        refs: f.refs.clone(),
                        ts: record.ts.to_rfc3339(),
                        consent_phase: record.common.consent_phase.to_string(),
                        evidence,
                    });
                }
                Body::PiLeak(_) | Body::SdkContact(_) => {
                    if record.common.session_id.as_deref() != Some(session.id.as_str()) {
                        continue;
                    }
                    let t = transmission(record);
                    let row = rows
                        .entry(t.destination.clone())
                        .or_insert_with(|| DestinationRow {
                            destination: t.destination.clone(),
                            sdk: t.sdk.clone(),
                            party: if t.third_party { "third" } else { "first" },
                            pi_counts: BTreeMap::new(),
                            pi_leaks: 0,
                            sdk_contacts: 0,
                            first_ts: t.ts.clone(),
                            last_ts: t.ts.clone(),
                            phases: Vec::new(),
                        });
                    if row.sdk.is_none() {
                        row.sdk.clone_from(&t.sdk);
                    }
                    if t.third_party {
                        row.party = "third";
                    }
                    if t.ts < row.first_ts {
                        row.first_ts.clone_from(&t.ts);
                    }
                    if t.ts > row.last_ts {
                        row.last_ts.clone_from(&t.ts);
                    }
                    if !row.phases.contains(&t.consent_phase) {
                        row.phases.push(t.consent_phase.clone());
                    }
                    if t.event_type == "pi_leak" {
                        row.pi_leaks += 1;
                        let mut seen: Vec<&str> = Vec::new();
                        for p in &t.pi {
                            if !seen.contains(&p.pi_type.as_str()) {
                                seen.push(&p.pi_type);
                                *row.pi_counts.entry(p.pi_type.clone()).or_default() += 1;
                                pi_types.insert(p.pi_type.clone());
                            }
                        }
                    } else {
                        row.sdk_contacts += 1;
                    }
                    if transmissions.len() < MAX_TRANSMISSIONS {
                        transmissions.push(t);
                    } else {
                        not_listed += 1;
                    }
                }
                _ => {}
            }
        }
        findings.sort_by(|a, b| {
            let rank = |f: &FindingFacts| {
                crate::finding::Severity::from_id(&f.severity).map_or(3, |s| s.rank())
            };
            let order = |f: &FindingFacts| {
                crate::finding::RuleId::from_id(&f.rule).map_or(usize::MAX, |r| r.order())
            };
            rank(a)
                .cmp(&rank(b))
                .then(order(a).cmp(&order(b)))
                .then(a.seq.cmp(&b.seq))
        });
        let mut rows: Vec<DestinationRow> = rows.into_values().collect();
        rows.sort_by(|a, b| {
            (a.party != "third")
                .cmp(&(b.party != "third"))
                .then(a.first_ts.cmp(&b.first_ts))
                .then(a.destination.cmp(&b.destination))
        });
        let taxonomy_order = |t: &str| {
            crate::pi::taxonomy::builtin_types()
                .iter()
                .position(|i| i.id == t)
                .unwrap_or(usize::MAX)
        };
        let mut pi_types: Vec<String> = pi_types.into_iter().collect();
        pi_types.sort_by_key(|t| (taxonomy_order(t), t.clone()));
        let timeline = timeline(session, &transmissions);
        let mut used: Vec<&'static str> = Vec::new();
        for f in &findings {
            for clause in &f.regulation {
                if let Some(src) = crate::finding::CLAUSE_SOURCES
                    .iter()
                    .find(|s| clause.starts_with(s.prefix))
                {
                    if !used.contains(&src.abbreviation) {
                        used.push(src.abbreviation);
                    }
                }
            }
        }
        let regulations = crate::finding::CLAUSE_SOURCES
            .iter()
            .filter(|s| used.contains(&s.abbreviation))
            .map(|s| RegulationFacts {
                abbreviation: s.abbreviation,
                title_zh: s.title_zh,
                title_en: s.title_en,
            })
            .collect();
        Report {
            schema: SCHEMA,
            generator: input.generator,
            lang: input.lang.as_str(),
            display_utc_offset: "+08:00",
            session: session_facts(session),
            run: input.run,
            inputs: input.inputs,
            notes: input.notes,
            rules_off: input
                .rules_off
                .iter()
                .map(|o| RuleOffFacts {
                    rule: o.rule.as_str(),
                    reason_zh: o.reason_zh,
                    reason_en: o.reason_en,
                })
                .collect(),
            findings,
            timeline,
            destinations: DestinationTable { pi_types, rows },
            transmissions,
            transmissions_not_listed: not_listed,
            regulations,
        }
    }

    /// report.json: pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialisation cannot fail; the fallback keeps
        // the signature simple.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// report.html in the report's language.
    pub fn to_html(&self) -> String {
        let lang = Lang::from_id(self.lang).unwrap_or_default();
        html::render(self, lang)
    }
}

fn split_title(title: &str) -> (String, String) {
    match title.split_once(" / ") {
        Some((zh, en)) => (zh.to_string(), en.to_string()),
        None => (title.to_string(), title.to_string()),
    }
}

fn transmission(r: &Record) -> Transmission {
    let c = &r.common;
    let destination = match &c.host {
        Some(h) if !h.is_empty() => h.trim_end_matches('.').to_ascii_lowercase(),
        _ => c.flow.dst_ip.to_string(),
    };
    let (via, http, pi, encrypted) = match &r.body {
        Body::PiLeak(l) => (
            None,
            l.http.as_ref().map(|h| format!("{} {}", h.method, h.url)),
            l.pi.iter()
                .map(|p| PiFacts {
                    pi_type: p.pi_type.clone(),
                    category: p.category.clone(),
                    sensitive: p.sensitive,
                    location: p.location.clone(),
                    encoding: p.encoding.clone(),
                    method: match p.method {
                        crate::record::PiMethod::KnownValue => "known_value",
                        crate::record::PiMethod::Pattern => "pattern",
                    },
                    value: p.value.clone(),
                })
                .collect(),
            l.tls.is_some(),
        ),
        Body::SdkContact(s) => (Some(s.via), None, Vec::new(), false),
        _ => (None, None, Vec::new(), false),
    };
    let encrypted = encrypted
        || matches!(
            c.app_proto,
            crate::record::AppProto::Tls | crate::record::AppProto::Quic
        );
    Transmission {
        seq: r.seq,
        ts: r.ts.to_rfc3339(),
        ts_beijing: beijing_time(r.ts),
        event_type: r.event_type.as_str(),
        consent_phase: c.consent_phase.to_string(),
        destination,
        host: c.host.clone(),
        sdk: c.sdk.as_ref().map(|s| SdkFacts {
            id: s.id.clone(),
            name: s.name.clone(),
            vendor: s.vendor.clone(),
        }),
        third_party: c.third_party,
        flow_id: c.flow_id,
        community_id: c.community_id.clone(),
        flow: FlowFacts::from(&c.flow),
        app_proto: c.app_proto.as_str(),
        encrypted,
        via,
        http,
        pi,
    }
}

fn session_facts(s: &Session) -> SessionFacts {
    let mut identifiers: BTreeMap<String, Vec<String>> = s
        .identifiers
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.iter().map(|x| mask(x)).collect()))
        .collect();
    if let Some((lat, lng)) = s.identifiers.gps {
        identifiers.insert("gps_location".into(), vec![mask(&format!("{lat},{lng}"))]);
    }
    if !s.identifiers.installed_apps.is_empty() {
        identifiers.insert(
            "installed_apps".into(),
            vec![format!("{} packages", s.identifiers.installed_apps.len())],
        );
    }
    let category = s.app.category_info();
    SessionFacts {
        id: s.id.clone(),
        file: s.path.display().to_string(),
        device: DeviceFacts {
            name: s.device.name.clone(),
            mac: s.device.mac.map(crate::pipeline::format_mac),
            ips: s.device.ips.iter().map(|ip| ip.to_string()).collect(),
            identifiers,
        },
        app: AppFacts {
            name: s.app.name.clone(),
            package: s.app.package.clone(),
            declared_pi: s.app.declared_pi.clone(),
            declared_sdks: s.app.declared_sdks.clone(),
            first_party_domains: s.app.first_party_domains.clone(),
            category: s.app.category.clone(),
            category_name_zh: category.map(|c| c.name_zh.to_string()),
            audience: s.app.audience.as_str(),
        },
        events: s.events.iter().map(event_facts).collect(),
    }
}

fn event_facts(e: &crate::session::Event) -> EventFacts {
    EventFacts {
        at: e.at.to_rfc3339(),
        at_beijing: beijing_time(e.at),
        kind: e.kind.as_str(),
    }
}

/// The drawn time range and the phase spans within it.
fn timeline(s: &Session, transmissions: &[Transmission]) -> Timeline {
    let mut times: Vec<Timestamp> = s.events.iter().map(|e| e.at).collect();
    for t in transmissions {
        if let Some(ts) = parse_ts(&t.ts) {
            times.push(ts);
        }
    }
    let min = times.iter().min().copied().unwrap_or_default();
    let max = times.iter().max().copied().unwrap_or_default();
    // At least a minute, with 3 % padding on each side, so marks at the edges show.
    let span = (max.as_micros() - min.as_micros()).max(60_000_000);
    let pad = span / 33;
    let start = Timestamp::from_micros(min.as_micros() - pad);
    let end = Timestamp::from_micros(min.as_micros() + span + pad);
    // Phase changes: every event that changes the phase, clipped to the range.
    let mut phases = Vec::new();
    let mut current = s.phase_at(start).as_str();
    let mut from = start;
    for e in &s.events {
        if e.at <= start || e.at >= end {
            continue;
        }
        let next = s.phase_at(e.at).as_str();
        if next != current {
            phases.push(PhaseSpan {
                phase: current,
                start: from.to_rfc3339(),
                end: e.at.to_rfc3339(),
            });
            current = next;
            from = e.at;
        }
    }
    phases.push(PhaseSpan {
        phase: current,
        start: from.to_rfc3339(),
        end: end.to_rfc3339(),
    });
    Timeline {
        start: start.to_rfc3339(),
        end: end.to_rfc3339(),
        phases,
        events: s.events.iter().map(event_facts).collect(),
    }
}

/// Parses the `YYYY-MM-DDTHH:MM:SS.ffffffZ` form [`Timestamp`] prints.
pub(crate) fn parse_ts(s: &str) -> Option<Timestamp> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    let micros = t.unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).ok().map(Timestamp::from_micros)
}

#[cfg(test)]
mod tests;
