//! The incremental findings engine: sees each sealed `pi_leak` / `sdk_contact` record
//! once, in chain order, and raises or grows findings.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::country::CountryLookup;
use super::rules::{RuleId, RuleTable, Severity};
use crate::capture::Timestamp;
use crate::record::{Body, Common, FindingFields, PiLeakFields, PiMethod, Record};
use crate::session::{Audience, EventKind, Session, SessionSet};

/// `LT-FREQUENCY`: the same PI type to the same destination more than this many times
/// within [`DEFAULT_FREQUENCY_WINDOW_SECS`] (findings.md default).
pub const DEFAULT_FREQUENCY_MAX: u32 = 10;
/// `LT-FREQUENCY`: the window of [`DEFAULT_FREQUENCY_MAX`] (findings.md: 60 s).
pub const DEFAULT_FREQUENCY_WINDOW_SECS: u32 = 60;
/// `LT-FREQUENCY` for location PI: more than this many within
/// [`DEFAULT_LOCATION_WINDOW_SECS`] (findings.md: 1 per 30 s).
pub const DEFAULT_LOCATION_MAX: u32 = 1;
/// `LT-FREQUENCY` for location PI: the window of [`DEFAULT_LOCATION_MAX`].
pub const DEFAULT_LOCATION_WINDOW_SECS: u32 = 30;
/// `LT-DEVICE-ID-CROSS-APP`: distinct third-party SDKs one identifier must reach
/// (findings.md: ≥ 3).
pub const DEFAULT_CROSS_APP_MIN_SDKS: u32 = 3;
/// Findings kept per run. A badly behaved app yields tens; 13 rules × destinations ×
/// PI types of a long capture of many phones stays well below this.
pub const DEFAULT_MAX_FINDINGS: usize = 10_000;
/// `refs` kept per finding. A report links each; beyond this the finding still counts
/// every proving record (`count`) but lists only the first ones.
pub const DEFAULT_MAX_REFS_PER_FINDING: usize = 10_000;
/// Frequency windows and cross-app identifier sets tracked at once (one per session ×
/// destination × PI type): bounds the engine's memory on captures with very many
/// destinations.
pub const DEFAULT_MAX_TRACKED_KEYS: usize = 100_000;
/// Distinct SDKs remembered per identifier for `LT-DEVICE-ID-CROSS-APP`; only the count
/// up to the threshold matters, the rest is for the record.
const MAX_SDKS_PER_IDENTIFIER: usize = 256;

/// Thresholds and limits of the engine (`[findings]` in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// See [`DEFAULT_FREQUENCY_MAX`].
    pub frequency_max: u32,
    /// See [`DEFAULT_FREQUENCY_WINDOW_SECS`].
    pub frequency_window_secs: u32,
    /// See [`DEFAULT_LOCATION_MAX`].
    pub location_max: u32,
    /// See [`DEFAULT_LOCATION_WINDOW_SECS`].
    pub location_window_secs: u32,
    /// See [`DEFAULT_CROSS_APP_MIN_SDKS`].
    pub cross_app_min_sdks: u32,
    /// See [`DEFAULT_MAX_FINDINGS`].
    pub max_findings: usize,
    /// See [`DEFAULT_MAX_REFS_PER_FINDING`].
    pub max_refs_per_finding: usize,
    /// See [`DEFAULT_MAX_TRACKED_KEYS`].
    pub max_tracked_keys: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            frequency_max: DEFAULT_FREQUENCY_MAX,
            frequency_window_secs: DEFAULT_FREQUENCY_WINDOW_SECS,
            location_max: DEFAULT_LOCATION_MAX,
            location_window_secs: DEFAULT_LOCATION_WINDOW_SECS,
            cross_app_min_sdks: DEFAULT_CROSS_APP_MIN_SDKS,
            max_findings: DEFAULT_MAX_FINDINGS,
            max_refs_per_finding: DEFAULT_MAX_REFS_PER_FINDING,
            max_tracked_keys: DEFAULT_MAX_TRACKED_KEYS,
        }
    }
}

/// Counters of the engine; every limit hit is counted here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingStats {
    /// `pi_leak` and `sdk_contact` records evaluated.
    pub records_evaluated: u64,
    /// Findings raised.
    pub raised: u64,
    /// Findings not raised because [`Settings::max_findings`] was reached.
    pub dropped_max_findings: u64,
    /// Proving records not listed in `refs` because [`Settings::max_refs_per_finding`]
    /// was reached (still counted in the finding's `count`).
    pub refs_dropped: u64,
    /// Frequency or cross-app keys not tracked because [`Settings::max_tracked_keys`]
    /// was reached.
    pub tracked_keys_dropped: u64,
    /// Records naming a session id that is not in the session set.
    pub unknown_session: u64,
    /// `pi_leak` destinations the country database does not know (`LT-CROSS-BORDER`).
    pub country_unknown: u64,
}

impl FindingStats {
    /// Non-zero anomaly counters as (kind, count), kinds from a fixed set.
    pub fn anomalies(&self) -> Vec<(&'static str, u64)> {
        [
            ("dropped_max_findings", self.dropped_max_findings),
            ("refs_dropped", self.refs_dropped),
            ("tracked_keys_dropped", self.tracked_keys_dropped),
            ("unknown_session", self.unknown_session),
            ("country_unknown", self.country_unknown),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// A rule that did not run, and why (for the summary and the report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOff {
    pub rule: RuleId,
    /// English reason, lower case.
    pub reason_en: &'static str,
    /// Chinese reason.
    pub reason_zh: &'static str,
}

/// One finding: a rule broken in one session, for one destination and PI type.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    pub session_id: String,
    /// Host (else destination address) the finding is about; `None` for findings that
    /// span several destinations (`LT-DEVICE-ID-CROSS-APP`).
    pub destination: Option<String>,
    /// The PI type; `None` for `LT-PRECONSENT-SDK` (no PI needs to be visible).
    pub pi_type: Option<String>,
    /// `seq` of the proving records, ascending, at most
    /// [`Settings::max_refs_per_finding`].
    pub refs: Vec<u64>,
    /// Number of proving records, including any not listed in `refs`.
    pub count: u64,
    /// Capture time of the record that raised it.
    pub raised_at: Timestamp,
    /// Capture time of the last proving record.
    pub last_at: Timestamp,
    /// Common fields of the record that raised it (flow, host, SDK, phase).
    pub trigger: Common,
    /// Highest `seq` counted so far: once `refs` is full, a proving record at or
    /// below it was already counted.
    last_seq: u64,
}

/// What happened to a finding when a record was observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A proving record was added to an existing finding.
    Grew,
    /// The finding is new.
    Raised,
}

/// One change caused by [`FindingEngine::observe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindingUpdate {
    /// Index of the finding in [`FindingEngine::findings`].
    pub finding: usize,
    pub rule: RuleId,
    pub change: Change,
    /// `seq` of the observed record.
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FindingKey {
    session: String,
    rule: RuleId,
    destination: Option<String>,
    pi_type: Option<String>,
}

/// Identifier reach for `LT-DEVICE-ID-CROSS-APP`.
#[derive(Debug, Default)]
struct Reach {
    sdks: Vec<String>,
    /// Proving records seen before the threshold was reached.
    pending: Vec<(u64, Timestamp)>,
    /// Proving records beyond the refs limit before the threshold was reached.
    pending_dropped: u64,
    finding: Option<usize>,
}

/// Turns records into findings, incrementally.
///
/// Feed it every record of the chain, after sealing (it needs `seq`), in chain order;
/// it looks at `pi_leak` and `sdk_contact` records of records that belong to a session
/// (not `no_session`) and ignores the rest. Each rule of findings.md is evaluated per
/// record; a finding is raised once per (session, rule, destination, PI type) and then
/// grows its `refs`. [`FindingEngine::finish`] turns the findings into `finding`
/// records, which the caller appends to the chain after all other records: their
/// `refs` then point backwards to records already sealed, and are complete.
///
/// Must not: log PI (it sees only masked values and logs nothing), or grow without
/// bound (see [`Settings`]).
pub struct FindingEngine {
    rules: RuleTable,
    settings: Settings,
    countries: Option<Arc<dyn CountryLookup>>,
    findings: Vec<Finding>,
    index: HashMap<FindingKey, usize>,
    windows: HashMap<(String, String, String), VecDeque<(Timestamp, u64)>>,
    reach: HashMap<(String, String), Reach>,
    stats: FindingStats,
}

impl FindingEngine {
    /// An engine with the given rule table and thresholds. `countries` is the
    /// IP-to-country database; `None` turns `LT-CROSS-BORDER` off.
    pub fn new(
        rules: RuleTable,
        settings: Settings,
        countries: Option<Arc<dyn CountryLookup>>,
    ) -> FindingEngine {
        FindingEngine {
            rules,
            settings,
            countries,
            findings: Vec::new(),
            index: HashMap::new(),
            windows: HashMap::new(),
            reach: HashMap::new(),
            stats: FindingStats::default(),
        }
    }

    /// The rule table in use.
    pub fn rules(&self) -> &RuleTable {
        &self.rules
    }

    /// Rules that cannot run with this configuration.
    pub fn rules_off(&self) -> Vec<RuleOff> {
        let mut off = Vec::new();
        if self.countries.is_none() {
            off.push(RuleOff {
                rule: RuleId::CrossBorder,
                reason_en: "no IP-to-country database configured \
                            (--ip-country FILE or findings.ip_country_csv)",
                reason_zh: "未配置IP归属地数据库（--ip-country 文件或 findings.ip_country_csv）",
            });
        }
        off
    }

    /// The findings so far, in the order they were raised.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// Counters.
    pub fn stats(&self) -> &FindingStats {
        &self.stats
    }

    /// Evaluates one sealed record (`seq` set) against every rule.
    pub fn observe(&mut self, record: &Record, sessions: &SessionSet) -> Vec<FindingUpdate> {
        let mut updates = Vec::new();
        if !matches!(record.body, Body::PiLeak(_) | Body::SdkContact(_)) {
            return updates;
        }
        let Some(session_id) = record.common.session_id.as_deref() else {
            return updates;
        };
        if record.common.consent_phase == "no_session" {
            return updates;
        }
        let Some(session) = sessions.sessions().iter().find(|s| s.id == session_id) else {
            self.stats.unknown_session += 1;
            return updates;
        };
        self.stats.records_evaluated += 1;
        match &record.body {
            Body::PiLeak(leak) => self.pi_leak(record, leak, session, &mut updates),
            Body::SdkContact(_) => self.sdk_contact(record, session, &mut updates),
            _ => {}
        }
        updates
    }

    /// The findings as `finding` records (unsealed: `seq` 0), in the order raised.
    ///
    /// Each record carries the capture time and common fields (flow, host, SDK, phase)
    /// of the record that raised the finding; for `LT-DEVICE-ID-CROSS-APP`, which spans
    /// several destinations, `host` and `sdk` are empty.
    pub fn finish(&self) -> Vec<Record> {
        self.findings
            .iter()
            .map(|f| {
                let spec = self.rules.get(f.rule);
                let mut common = f.trigger.clone();
                if f.destination.is_none() {
                    common.host = None;
                    common.sdk = None;
                }
                Record::new(
                    f.raised_at,
                    common,
                    Body::Finding(FindingFields {
                        rule: f.rule.as_str().to_string(),
                        title: spec.title(),
                        severity: f.severity.as_str().to_string(),
                        regulation: spec.regulation.clone(),
                        refs: f.refs.clone(),
                        pi_type: f.pi_type.clone(),
                        destination: f.destination.clone(),
                        count: f.count,
                    }),
                )
            })
            .collect()
    }

    fn sdk_contact(
        &mut self,
        record: &Record,
        session: &Session,
        updates: &mut Vec<FindingUpdate>,
    ) {
        let c = &record.common;
        if c.sdk.is_none() || !c.third_party || c.consent_phase != "before_consent" {
            return;
        }
        let destination = destination_of(c);
        let severity = self.rules.get(RuleId::PreconsentSdk).severity;
        self.raise(
            RuleId::PreconsentSdk,
            severity,
            session,
            Some(destination),
            None,
            record,
            &[(record.seq, record.ts)],
            updates,
        );
    }

    fn pi_leak(
        &mut self,
        record: &Record,
        leak: &PiLeakFields,
        session: &Session,
        updates: &mut Vec<FindingUpdate>,
    ) {
        let c = &record.common;
        let phase = c.consent_phase;
        let destination = destination_of(c);
        let app = &session.app;
        let here = [(record.seq, record.ts)];
        let plaintext = is_plaintext(record, leak);
        let outside_mainland = self.outside_mainland(c);
        for (i, item) in leak.pi.iter().enumerate() {
            // One evaluation per PI type per record: items of the same type (the plain
            // and the hashed form) prove the same thing.
            if leak.pi.iter().take(i).any(|p| p.pi_type == item.pi_type) {
                continue;
            }
            let same_type = || leak.pi.iter().filter(|p| p.pi_type == item.pi_type);
            let sensitive = same_type().any(|p| p.sensitive);
            let pi_type = item.pi_type.as_str();
            let mut hits: Vec<(RuleId, bool)> = Vec::with_capacity(8);
            match phase {
                "before_consent" => hits.push((RuleId::Preconsent, false)),
                "after_denial" => hits.push((RuleId::AfterDenial, false)),
                "after_withdrawal" => hits.push((RuleId::AfterWithdrawal, false)),
                _ => {}
            }
            let undisclosed = match &c.sdk {
                Some(sdk) => !app.declared_sdks.iter().any(|d| d == &sdk.id),
                // A host outside the app's declared domains; without declared domains
                // there is no way to tell the app's own back end from a third party.
                None => c.third_party && !app.first_party_domains.is_empty(),
            };
            if undisclosed {
                hits.push((RuleId::UndisclosedSdk, false));
            }
            if !app.declared_pi.iter().any(|d| d == pi_type) {
                hits.push((RuleId::BeyondScope, false));
            }
            if let Some(category) = app.category_info() {
                let unnecessary = !category.necessary_pi.contains(&pi_type);
                if category.needs_no_pi() || (unnecessary && phase == "after_denial") {
                    hits.push((RuleId::Unnecessary, false));
                }
            }
            if sensitive && !session.has_event_before(EventKind::SensitiveConsentGranted, record.ts)
            {
                hits.push((RuleId::SensitiveNoSeparateConsent, false));
            }
            if app.audience == Audience::Children
                && !session.has_event_before(EventKind::GuardianConsentGranted, record.ts)
            {
                hits.push((RuleId::Minor, false));
            }
            if plaintext {
                hits.push((RuleId::Plaintext, sensitive));
            }
            if outside_mainland {
                hits.push((RuleId::CrossBorder, false));
            }
            for (rule, sensitive_severity) in hits {
                let severity = self.rules.get(rule).severity_for(sensitive_severity);
                self.raise(
                    rule,
                    severity,
                    session,
                    Some(destination.clone()),
                    Some(pi_type),
                    record,
                    &here,
                    updates,
                );
            }
            let location = item.category == "location";
            self.frequency(session, &destination, pi_type, location, record, updates);
            let known_device_id =
                same_type().any(|p| p.method == PiMethod::KnownValue && p.category == "device");
            if known_device_id {
                if let Some(sdk) = &c.sdk {
                    let sdk_id = sdk.id.clone();
                    self.cross_app(session, pi_type, &sdk_id, record, updates);
                }
            }
        }
    }

    /// True when the destination address maps outside the mainland.
    fn outside_mainland(&mut self, c: &Common) -> bool {
        let Some(countries) = &self.countries else {
            return false;
        };
        // Records are oriented from the device: the peer is the destination, unless the
        // device is the server of the flow.
        let peer = match &c.device {
            Some(d) if d.ip == Some(c.flow.dst_ip) => c.flow.src_ip,
            _ => c.flow.dst_ip,
        };
        match countries.country(peer) {
            Some(code) => !code.is_mainland(),
            None => {
                self.stats.country_unknown += 1;
                false
            }
        }
    }

    fn frequency(
        &mut self,
        session: &Session,
        destination: &str,
        pi_type: &str,
        location: bool,
        record: &Record,
        updates: &mut Vec<FindingUpdate>,
    ) {
        let (max, window_secs) = if location {
            (
                self.settings.location_max,
                self.settings.location_window_secs,
            )
        } else {
            (
                self.settings.frequency_max,
                self.settings.frequency_window_secs,
            )
        };
        let window_micros = u64::from(window_secs) * 1_000_000;
        let key = (
            session.id.clone(),
            destination.to_string(),
            pi_type.to_string(),
        );
        if !self.windows.contains_key(&key)
            && self.windows.len() + self.reach.len() >= self.settings.max_tracked_keys
        {
            self.stats.tracked_keys_dropped += 1;
            return;
        }
        let window = self.windows.entry(key).or_default();
        window.push_back((record.ts, record.seq));
        while window
            .front()
            .is_some_and(|(ts, _)| record.ts.micros_since(*ts) >= window_micros)
        {
            window.pop_front();
        }
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if window.len() <= max {
            return;
        }
        let proof: Vec<(u64, Timestamp)> = window.iter().map(|(ts, seq)| (*seq, *ts)).collect();
        // Keep `max` entries: the next record inside the window exceeds again and adds
        // itself; the window never holds more than max + 1 entries.
        while window.len() > max {
            window.pop_front();
        }
        let severity = self.rules.get(RuleId::Frequency).severity;
        self.raise(
            RuleId::Frequency,
            severity,
            session,
            Some(destination.to_string()),
            Some(pi_type),
            record,
            &proof,
            updates,
        );
    }

    fn cross_app(
        &mut self,
        session: &Session,
        pi_type: &str,
        sdk_id: &str,
        record: &Record,
        updates: &mut Vec<FindingUpdate>,
    ) {
        let key = (session.id.clone(), pi_type.to_string());
        if !self.reach.contains_key(&key)
            && self.windows.len() + self.reach.len() >= self.settings.max_tracked_keys
        {
            self.stats.tracked_keys_dropped += 1;
            return;
        }
        let max_refs = self.settings.max_refs_per_finding;
        let min_sdks = usize::try_from(self.settings.cross_app_min_sdks).unwrap_or(usize::MAX);
        let reach = self.reach.entry(key).or_default();
        if !reach.sdks.iter().any(|s| s == sdk_id) && reach.sdks.len() < MAX_SDKS_PER_IDENTIFIER {
            reach.sdks.push(sdk_id.to_string());
        }
        if let Some(index) = reach.finding {
            self.grow(
                index,
                &[(record.seq, record.ts)],
                updates,
                RuleId::DeviceIdCrossApp,
            );
            return;
        }
        if reach.pending.len() < max_refs {
            reach.pending.push((record.seq, record.ts));
        } else {
            reach.pending_dropped += 1;
        }
        if reach.sdks.len() < min_sdks {
            return;
        }
        let proof = std::mem::take(&mut reach.pending);
        let unlisted = std::mem::take(&mut reach.pending_dropped);
        let severity = self.rules.get(RuleId::DeviceIdCrossApp).severity;
        let index = self.raise(
            RuleId::DeviceIdCrossApp,
            severity,
            session,
            None,
            Some(pi_type),
            record,
            &proof,
            updates,
        );
        if let (Some(index), Some(reach)) = (
            index,
            self.reach
                .get_mut(&(session.id.clone(), pi_type.to_string())),
        ) {
            reach.finding = Some(index);
            if let Some(f) = self.findings.get_mut(index) {
                f.count += unlisted;
                self.stats.refs_dropped += unlisted;
            }
        }
    }

    /// Raises the finding of `rule` for this key, or grows it; returns its index.
    #[allow(clippy::too_many_arguments)]
    fn raise(
        &mut self,
        rule: RuleId,
        severity: Severity,
        session: &Session,
        destination: Option<String>,
        pi_type: Option<&str>,
        record: &Record,
        proof: &[(u64, Timestamp)],
        updates: &mut Vec<FindingUpdate>,
    ) -> Option<usize> {
        let key = FindingKey {
            session: session.id.clone(),
            rule,
            destination,
            pi_type: pi_type.map(str::to_string),
        };
        if let Some(&index) = self.index.get(&key) {
            self.grow(index, proof, updates, rule);
            return Some(index);
        }
        if self.findings.len() >= self.settings.max_findings {
            self.stats.dropped_max_findings += 1;
            return None;
        }
        let index = self.findings.len();
        self.findings.push(Finding {
            rule,
            severity,
            session_id: key.session.clone(),
            destination: key.destination.clone(),
            pi_type: key.pi_type.clone(),
            refs: Vec::new(),
            count: 0,
            raised_at: record.ts,
            last_at: record.ts,
            trigger: record.common.clone(),
            last_seq: 0,
        });
        self.index.insert(key, index);
        self.stats.raised += 1;
        self.add_refs(index, proof);
        updates.push(FindingUpdate {
            finding: index,
            rule,
            change: Change::Raised,
            seq: record.seq,
        });
        Some(index)
    }

    fn grow(
        &mut self,
        index: usize,
        proof: &[(u64, Timestamp)],
        updates: &mut Vec<FindingUpdate>,
        rule: RuleId,
    ) {
        let added = self.add_refs(index, proof);
        if let (true, Some(&(seq, _))) = (added, proof.last()) {
            updates.push(FindingUpdate {
                finding: index,
                rule,
                change: Change::Grew,
                seq,
            });
        }
    }

    /// Adds proving records to a finding's refs (sorted, no duplicates, bounded);
    /// returns whether any was new.
    fn add_refs(&mut self, index: usize, proof: &[(u64, Timestamp)]) -> bool {
        let max = self.settings.max_refs_per_finding;
        let Some(finding) = self.findings.get_mut(index) else {
            return false;
        };
        let mut added = false;
        for &(seq, ts) in proof {
            let Err(pos) = finding.refs.binary_search(&seq) else {
                continue;
            };
            let full = finding.refs.len() >= max;
            if full && seq <= finding.last_seq {
                continue;
            }
            added = true;
            finding.count += 1;
            finding.last_seq = finding.last_seq.max(seq);
            if ts > finding.last_at {
                finding.last_at = ts;
            }
            if full {
                self.stats.refs_dropped += 1;
                continue;
            }
            finding.refs.insert(pos, seq);
        }
        added
    }
}

/// The host a record went to, else its destination address.
pub(super) fn destination_of(c: &Common) -> String {
    match &c.host {
        Some(h) if !h.is_empty() => h.trim_end_matches('.').to_ascii_lowercase(),
        _ => c.flow.dst_ip.to_string(),
    }
}

/// True when the PI was visible on the wire without decryption: no TLS session (a
/// decrypted request carries its `tls` object) and not a TLS or QUIC flow.
pub(super) fn is_plaintext(record: &Record, leak: &PiLeakFields) -> bool {
    use crate::record::AppProto;
    leak.tls.is_none() && !matches!(record.common.app_proto, AppProto::Tls | AppProto::Quic)
}
