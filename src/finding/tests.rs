//! One test that triggers and one that must not trigger, for every rule of findings.md,
//! on records built the way the pipeline builds them (phase and third-party flag from
//! the session), plus the engine's keying, limits and the finding records it writes.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::capture::Timestamp;
use crate::pi::taxonomy;
use crate::record::{
    mask, verify_line, AppProto, AppRef, Body, Common, DeviceRef, FlowTuple, PiItem, PiLeakFields,
    PiMethod, Record, SdkContactFields, SdkRef, TlsRef, GENESIS_HASH,
};
use crate::session::{self, Event, EventKind, KnownIds, Session, SessionSet};

const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z, app_launched

const BASE: &str = r#"
[device]
name = "lab phone 3"
mac = "02:1a:2b:3c:4d:5e"
ip = ["192.0.2.23"]

[device.identifiers]
imei = "861234567890127"
android_id = "3a5f9c2e8b7d6140"

[app]
name = "Example Reader"
package = "com.example.reader"
declared_pi = ["phone_number", "android_id", "imei", "gps_location", "id_card"]
declared_sdks = ["umeng"]
first_party_domains = ["example-reader.cn"]

[[events]]
at = "2026-03-02T09:00:00Z"
kind = "app_launched"

[[events]]
at = "2026-03-02T09:00:40Z"
kind = "consent_granted"
"#;

pub(crate) fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(T0 + secs)
}

/// The base session: launched at 0 s, consent granted at 40 s.
pub(crate) fn base() -> Session {
    match session::parse(BASE, Path::new("lab3-reader.toml"), &KnownIds::builtin()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Replaces the timeline (seconds after T0).
pub(crate) fn with_events(mut s: Session, events: &[(i64, EventKind)]) -> Session {
    s.events = events
        .iter()
        .map(|&(secs, kind)| Event {
            at: at(secs),
            kind,
            line: 0,
        })
        .collect();
    s
}

pub(crate) fn set(s: Session) -> SessionSet {
    match SessionSet::new(vec![s]) {
        Ok(set) => set,
        Err(e) => panic!("{e}"),
    }
}

pub(crate) fn sdk(id: &str) -> SdkRef {
    SdkRef {
        id: id.into(),
        name: format!("{id} SDK"),
        vendor: format!("{id} vendor"),
        category: "analytics".into(),
    }
}

/// A PI item as detection reports it (taxonomy category and sensitivity).
pub(crate) fn item(pi_type: &str, method: PiMethod) -> PiItem {
    let info = taxonomy::pi_type(pi_type);
    PiItem {
        pi_type: pi_type.into(),
        category: info.map_or("other", |i| i.category).into(),
        sensitive: info.is_some_and(|i| i.sensitive),
        location: format!("url.query:{pi_type}"),
        encoding: "plain".into(),
        method,
        value: mask("861234567890127"),
        confidence: 1.0,
        distance_m: None,
    }
}

/// How a record is sent.
#[derive(Clone, Copy)]
pub(crate) struct Wire<'a> {
    pub host: &'a str,
    pub dst: &'a str,
    pub sdk: Option<&'a str>,
    pub tls: bool,
}

pub(crate) const UMENG: Wire = Wire {
    host: "ulogs.umeng.com",
    dst: "203.0.113.10",
    sdk: Some("umeng"),
    tls: false,
};
pub(crate) const OWN_API: Wire = Wire {
    host: "api.example-reader.cn",
    dst: "198.51.100.7",
    sdk: None,
    tls: true,
};

/// Common fields as the pipeline fills them for a flow of the session's device.
pub(crate) fn common(s: &Session, secs: i64, wire: Wire<'_>, port: u16) -> Common {
    let ts = at(secs);
    Common {
        session_id: Some(s.id.clone()),
        device: Some(DeviceRef {
            name: s.device.name.clone(),
            mac: Some("02:1a:2b:3c:4d:5e".into()),
            ip: "192.0.2.23".parse().ok(),
        }),
        app: Some(AppRef {
            name: s.app.name.clone(),
            package: s.app.package.clone(),
        }),
        flow_id: u64::from(port),
        community_id: format!("1:test{port}"),
        flow: FlowTuple {
            src_ip: "192.0.2.23".parse().unwrap(),
            src_port: port,
            dst_ip: wire.dst.parse().unwrap(),
            dst_port: if wire.tls { 443 } else { 80 },
            proto: "tcp",
        },
        app_proto: if wire.tls {
            AppProto::Tls
        } else {
            AppProto::Http
        },
        host: Some(wire.host.into()),
        sdk: wire.sdk.map(sdk),
        third_party: wire.sdk.is_some() || !s.app.is_first_party(wire.host),
        consent_phase: s.phase_at(ts).as_str(),
    }
}

pub(crate) fn leak(s: &Session, secs: i64, wire: Wire<'_>, items: Vec<PiItem>) -> Record {
    let fields = PiLeakFields {
        http: None,
        tls: wire.tls.then(|| TlsRef {
            sni: Some(wire.host.into()),
            version: Some("TLS 1.3".into()),
            decrypted: true,
        }),
        pi: items,
        evidence: None,
    };
    Record::new(
        at(secs),
        common(s, secs, wire, 50_000),
        Body::PiLeak(fields),
    )
}

pub(crate) fn leak_of(s: &Session, secs: i64, wire: Wire<'_>, pi_type: &str) -> Record {
    leak(s, secs, wire, vec![item(pi_type, PiMethod::KnownValue)])
}

pub(crate) fn contact(s: &Session, secs: i64, wire: Wire<'_>) -> Record {
    Record::new(
        at(secs),
        common(s, secs, wire, 40_000),
        Body::SdkContact(SdkContactFields { via: "dns" }),
    )
}

pub(crate) fn engine() -> FindingEngine {
    FindingEngine::new(RuleTable::embedded().unwrap(), Settings::default(), None)
}

/// Runs `records` through a fresh engine; returns it and the sealed output.
/// (rule, destination, PI type, refs) of one finding.
type Found = (&'static str, Option<String>, Option<String>, Vec<u64>);

pub(crate) fn run_with(
    mut engine: FindingEngine,
    sessions: &SessionSet,
    records: Vec<Record>,
) -> (FindingEngine, Vec<Record>) {
    let mut chain = Chain::new();
    let out = evaluate(records, sessions, &mut engine, &mut chain);
    (engine, out)
}

/// (rule, destination, pi_type, refs) of every finding.
fn findings(sessions: &SessionSet, records: Vec<Record>) -> Vec<Found> {
    let (engine, _) = run_with(engine(), sessions, records);
    summarize(&engine)
}

fn summarize(engine: &FindingEngine) -> Vec<Found> {
    engine
        .findings()
        .iter()
        .map(|f| {
            (
                f.rule.as_str(),
                f.destination.clone(),
                f.pi_type.clone(),
                f.refs.clone(),
            )
        })
        .collect()
}

fn rules_of(found: &[Found]) -> Vec<&'static str> {
    found.iter().map(|f| f.0).collect()
}

fn has(found: &[Found], rule: RuleId) -> bool {
    found.iter().any(|f| f.0 == rule.as_str())
}

// ---- LT-PRECONSENT ----

#[test]
fn preconsent_triggers_before_consent() {
    let s = base();
    let r = leak_of(&s, 10, UMENG, "imei");
    assert_eq!(r.common.consent_phase, "before_consent");
    let found = findings(&set(s), vec![r]);
    assert!(found.contains(&(
        "LT-PRECONSENT",
        Some("ulogs.umeng.com".into()),
        Some("imei".into()),
        vec![1]
    )));
}

#[test]
fn preconsent_not_after_consent() {
    let s = base();
    let r = leak_of(&s, 50, UMENG, "imei");
    assert_eq!(r.common.consent_phase, "after_consent");
    let found = findings(&set(s), vec![r]);
    assert!(!has(&found, RuleId::Preconsent), "{found:?}");
}

// ---- LT-PRECONSENT-SDK ----

#[test]
fn preconsent_sdk_triggers_without_pi() {
    let s = base();
    // umeng is declared: contacting it before consent is still a finding.
    let records = vec![contact(&s, 5, UMENG), contact(&s, 6, UMENG)];
    let found = findings(&set(s), records);
    assert_eq!(
        found,
        [(
            "LT-PRECONSENT-SDK",
            Some("ulogs.umeng.com".into()),
            None,
            vec![1, 2]
        )]
    );
}

#[test]
fn preconsent_sdk_not_after_consent_or_first_party() {
    let s = base();
    let own_contact = Wire {
        sdk: None,
        ..OWN_API
    };
    let records = vec![contact(&s, 45, UMENG), contact(&s, 5, own_contact)];
    assert!(findings(&set(s), records).is_empty());
}

// ---- LT-AFTER-DENIAL ----

#[test]
fn after_denial_triggers() {
    let s = with_events(
        base(),
        &[(0, EventKind::AppLaunched), (30, EventKind::ConsentDenied)],
    );
    let r = leak_of(&s, 35, OWN_API, "android_id");
    assert_eq!(r.common.consent_phase, "after_denial");
    let found = findings(&set(s), vec![r]);
    assert_eq!(rules_of(&found), ["LT-AFTER-DENIAL"]);
}

#[test]
fn after_denial_not_after_grant() {
    let s = base();
    let r = leak_of(&s, 45, OWN_API, "android_id");
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-AFTER-WITHDRAWAL ----

#[test]
fn after_withdrawal_triggers() {
    let s = with_events(
        base(),
        &[
            (10, EventKind::ConsentGranted),
            (100, EventKind::ConsentWithdrawn),
        ],
    );
    let r = leak_of(&s, 120, OWN_API, "android_id");
    let found = findings(&set(s), vec![r]);
    assert_eq!(rules_of(&found), ["LT-AFTER-WITHDRAWAL"]);
}

#[test]
fn after_withdrawal_not_before_withdrawing() {
    let s = with_events(
        base(),
        &[
            (10, EventKind::ConsentGranted),
            (100, EventKind::ConsentWithdrawn),
        ],
    );
    let r = leak_of(&s, 50, OWN_API, "android_id");
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-UNDISCLOSED-SDK ----

#[test]
fn undisclosed_sdk_and_unknown_third_party_trigger() {
    let s = base();
    let getui = Wire {
        host: "sdk.getui.example",
        sdk: Some("getui"),
        ..UMENG
    };
    let tracker = Wire {
        host: "t.tracker.example",
        sdk: None,
        ..OWN_API
    };
    let records = vec![
        leak_of(&s, 50, getui, "imei"),
        leak_of(&s, 51, tracker, "imei"),
    ];
    let found = findings(&set(s), records);
    let undisclosed: Vec<_> = found
        .iter()
        .filter(|f| f.0 == "LT-UNDISCLOSED-SDK")
        .map(|f| (f.1.clone().unwrap(), f.3.clone()))
        .collect();
    assert_eq!(
        undisclosed,
        [
            ("sdk.getui.example".to_string(), vec![1]),
            ("t.tracker.example".to_string(), vec![2])
        ]
    );
}

#[test]
fn undisclosed_sdk_not_when_declared_or_first_party() {
    let s = base();
    let records = vec![
        leak_of(&s, 50, UMENG, "imei"),
        leak_of(&s, 51, OWN_API, "imei"),
    ];
    let found = findings(&set(s), records);
    assert!(!has(&found, RuleId::UndisclosedSdk), "{found:?}");
    // Without declared first-party domains an unknown host cannot be judged.
    let mut s = base();
    s.app.first_party_domains.clear();
    let tracker = Wire {
        host: "t.tracker.example",
        sdk: None,
        ..OWN_API
    };
    let r = leak_of(&s, 50, tracker, "imei");
    assert!(r.common.third_party);
    assert!(!has(&findings(&set(s), vec![r]), RuleId::UndisclosedSdk));
}

// ---- LT-BEYOND-SCOPE ----

#[test]
fn beyond_scope_triggers_for_undeclared_type() {
    let s = base();
    let r = leak_of(&s, 50, OWN_API, "oaid");
    let found = findings(&set(s), vec![r]);
    assert_eq!(
        found,
        [(
            "LT-BEYOND-SCOPE",
            Some("api.example-reader.cn".into()),
            Some("oaid".into()),
            vec![1]
        )]
    );
}

#[test]
fn beyond_scope_not_for_declared_type() {
    let s = base();
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-UNNECESSARY ----

#[test]
fn unnecessary_triggers() {
    // A news app (no necessary PI): any PI at all, even after consent.
    let mut s = base();
    s.app.category = Some("news".into());
    let r = leak_of(&s, 50, OWN_API, "phone_number");
    assert_eq!(rules_of(&findings(&set(s), vec![r])), ["LT-UNNECESSARY"]);
    // A shopping app: a device identifier after the user refused.
    let mut s = with_events(base(), &[(30, EventKind::ConsentDenied)]);
    s.app.category = Some("online_shopping".into());
    let r = leak_of(&s, 35, OWN_API, "imei");
    assert_eq!(
        rules_of(&findings(&set(s), vec![r])),
        ["LT-AFTER-DENIAL", "LT-UNNECESSARY"]
    );
}

#[test]
fn unnecessary_not_for_necessary_or_consented_or_uncategorised() {
    // The phone number is necessary for online shopping, even after refusal.
    let mut s = with_events(base(), &[(30, EventKind::ConsentDenied)]);
    s.app.category = Some("online_shopping".into());
    let r = leak_of(&s, 35, OWN_API, "phone_number");
    assert!(!has(&findings(&set(s), vec![r]), RuleId::Unnecessary));
    // A device identifier after consent in an app type with a necessary set.
    let mut s = base();
    s.app.category = Some("online_shopping".into());
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s), vec![r]).is_empty());
    // No category: the rule does not apply.
    let s = with_events(base(), &[(30, EventKind::ConsentDenied)]);
    let r = leak_of(&s, 35, OWN_API, "imei");
    assert!(!has(&findings(&set(s), vec![r]), RuleId::Unnecessary));
}

// ---- LT-SENSITIVE-NO-SEPARATE-CONSENT ----

#[test]
fn sensitive_without_separate_consent_triggers() {
    let s = base();
    let r = leak_of(&s, 50, OWN_API, "gps_location");
    assert!(!r.common.third_party);
    let found = findings(&set(s), vec![r]);
    assert_eq!(rules_of(&found), ["LT-SENSITIVE-NO-SEPARATE-CONSENT"]);
}

#[test]
fn sensitive_not_after_separate_consent() {
    let s = with_events(
        base(),
        &[
            (40, EventKind::ConsentGranted),
            (45, EventKind::SensitiveConsentGranted),
        ],
    );
    let r = leak_of(&s, 50, OWN_API, "gps_location");
    assert!(findings(&set(s), vec![r]).is_empty());
    // Non-sensitive PI never needs it.
    let s = base();
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-MINOR ----

#[test]
fn minor_triggers_before_guardian_consent() {
    let mut s = base();
    s.app.audience = crate::session::Audience::Children;
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert_eq!(rules_of(&findings(&set(s), vec![r])), ["LT-MINOR"]);
}

#[test]
fn minor_not_after_guardian_consent_or_for_general_audience() {
    let mut s = with_events(
        base(),
        &[
            (40, EventKind::ConsentGranted),
            (42, EventKind::GuardianConsentGranted),
        ],
    );
    s.app.audience = crate::session::Audience::Children;
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s), vec![r]).is_empty());
    let s = base();
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-PLAINTEXT ----

#[test]
fn plaintext_triggers_with_severity_by_sensitivity() {
    let s = with_events(
        base(),
        &[
            (40, EventKind::ConsentGranted),
            (41, EventKind::SensitiveConsentGranted),
        ],
    );
    let plain = Wire {
        tls: false,
        dst: "198.51.100.8",
        ..OWN_API
    };
    let records = vec![
        leak_of(&s, 50, plain, "imei"),
        leak_of(&s, 51, plain, "id_card"),
    ];
    let (engine, out) = run_with(engine(), &set(s), records);
    let sev: Vec<(&str, Option<String>, &str)> = engine
        .findings()
        .iter()
        .map(|f| (f.rule.as_str(), f.pi_type.clone(), f.severity.as_str()))
        .collect();
    assert_eq!(
        sev,
        [
            ("LT-PLAINTEXT", Some("imei".into()), "medium"),
            ("LT-PLAINTEXT", Some("id_card".into()), "high")
        ]
    );
    // The finding records carry the same severity.
    let severities: Vec<&str> = out
        .iter()
        .filter_map(|r| match &r.body {
            Body::Finding(f) => Some(f.severity.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(severities, ["medium", "high"]);
}

#[test]
fn plaintext_not_over_tls() {
    let s = base();
    // Decrypted from TLS: the record carries its tls object.
    let r = leak_of(&s, 50, OWN_API, "imei");
    assert!(findings(&set(s.clone()), vec![r]).is_empty());
    // QUIC flows are encrypted too.
    let mut r = leak_of(&s, 50, OWN_API, "imei");
    if let Body::PiLeak(l) = &mut r.body {
        l.tls = None;
    }
    r.common.app_proto = AppProto::Quic;
    assert!(findings(&set(s), vec![r]).is_empty());
}

// ---- LT-FREQUENCY ----

#[test]
fn frequency_triggers_above_max_within_window() {
    let s = base();
    // 11 sends within 50 s (default: more than 10 within 60 s), then one more.
    let records: Vec<Record> = (0..12)
        .map(|i| leak_of(&s, 100 + i * 5, OWN_API, "imei"))
        .collect();
    let (engine, out) = run_with(engine(), &set(s), records);
    let f = &engine.findings()[0];
    assert_eq!(f.rule, RuleId::Frequency);
    assert_eq!(f.refs, (1..=12).collect::<Vec<u64>>());
    assert_eq!(f.count, 12);
    assert_eq!(f.raised_at, at(150));
    assert_eq!(engine.findings().len(), 1);
    let finding = out.last().unwrap();
    assert_eq!(finding.seq, 13);
    assert_eq!(finding.ts, at(150));
}

#[test]
fn frequency_not_at_max_or_spread_out() {
    let s = base();
    let ten: Vec<Record> = (0..10)
        .map(|i| leak_of(&s, 100 + i, OWN_API, "imei"))
        .collect();
    assert!(findings(&set(s.clone()), ten).is_empty());
    // Eleven sends, 6 s apart: never more than 10 inside a 60 s window.
    let spread: Vec<Record> = (0..11)
        .map(|i| leak_of(&s, 100 + i * 6, OWN_API, "imei"))
        .collect();
    assert!(findings(&set(s), spread).is_empty());
}

#[test]
fn frequency_of_location_uses_its_own_threshold() {
    let s = with_events(
        base(),
        &[
            (40, EventKind::ConsentGranted),
            (41, EventKind::SensitiveConsentGranted),
        ],
    );
    let fast = vec![
        leak_of(&s, 100, OWN_API, "gps_location"),
        leak_of(&s, 129, OWN_API, "gps_location"),
    ];
    let found = findings(&set(s.clone()), fast);
    assert_eq!(
        found,
        [(
            "LT-FREQUENCY",
            Some("api.example-reader.cn".into()),
            Some("gps_location".into()),
            vec![1, 2]
        )]
    );
    let slow = vec![
        leak_of(&s, 100, OWN_API, "gps_location"),
        leak_of(&s, 130, OWN_API, "gps_location"),
        leak_of(&s, 160, OWN_API, "gps_location"),
    ];
    assert!(findings(&set(s), slow).is_empty());
}

// ---- LT-CROSS-BORDER ----

fn geo() -> Arc<dyn CountryLookup> {
    let table = CidrTable::parse(
        "203.0.113.0/24,US\n198.51.100.0/24,CN\n",
        Path::new("geo.csv"),
        10,
    )
    .unwrap();
    Arc::new(table)
}

#[test]
fn cross_border_triggers_outside_mainland() {
    let s = base();
    let engine = FindingEngine::new(
        RuleTable::embedded().unwrap(),
        Settings::default(),
        Some(geo()),
    );
    assert!(engine.rules_off().is_empty());
    let r = leak_of(&s, 50, UMENG, "imei");
    let (engine, _) = run_with(engine, &set(s), vec![r]);
    assert!(has(&summarize(&engine), RuleId::CrossBorder));
}

#[test]
fn cross_border_not_for_mainland_unknown_or_without_database() {
    let s = base();
    let engine = FindingEngine::new(
        RuleTable::embedded().unwrap(),
        Settings::default(),
        Some(geo()),
    );
    let records = vec![
        leak_of(&s, 50, OWN_API, "imei"),
        leak_of(
            &s,
            51,
            Wire {
                dst: "192.0.2.200",
                ..OWN_API
            },
            "imei",
        ),
    ];
    let (engine, _) = run_with(engine, &set(s.clone()), records);
    assert!(!has(&summarize(&engine), RuleId::CrossBorder));
    assert_eq!(engine.stats().country_unknown, 1);
    // No database: the rule is off and says so.
    let plain = engine_without_geo_run(&s);
    assert!(!has(&plain.0, RuleId::CrossBorder));
    assert_eq!(plain.1, ["LT-CROSS-BORDER"]);
}

fn engine_without_geo_run(s: &Session) -> (Vec<Found>, Vec<&'static str>) {
    let e = engine();
    let off: Vec<&'static str> = e.rules_off().iter().map(|o| o.rule.as_str()).collect();
    let (e, _) = run_with(e, &set(s.clone()), vec![leak_of(s, 50, UMENG, "imei")]);
    (summarize(&e), off)
}

// ---- LT-DEVICE-ID-CROSS-APP ----

fn sdk_wire(id: &'static str, host: &'static str) -> Wire<'static> {
    Wire {
        host,
        dst: "203.0.113.30",
        sdk: Some(id),
        tls: true,
    }
}

#[test]
fn device_id_cross_app_triggers_at_three_sdks() {
    let mut s = base();
    s.app.declared_sdks = vec!["umeng".into(), "getui".into(), "jpush".into()];
    let records = vec![
        leak_of(&s, 50, sdk_wire("umeng", "a.umeng.example"), "oaid"),
        leak_of(&s, 51, sdk_wire("getui", "b.getui.example"), "oaid"),
        leak_of(&s, 52, sdk_wire("getui", "b.getui.example"), "oaid"),
        leak_of(&s, 53, sdk_wire("jpush", "c.jpush.example"), "oaid"),
        leak_of(&s, 54, sdk_wire("umeng", "a.umeng.example"), "oaid"),
    ];
    s.app.declared_pi.push("oaid".into());
    let (engine, out) = run_with(engine(), &set(s), records);
    let found = summarize(&engine);
    assert_eq!(
        found,
        [(
            "LT-DEVICE-ID-CROSS-APP",
            None,
            Some("oaid".into()),
            vec![1, 2, 3, 4, 5]
        )]
    );
    // The record spans several destinations: no host or SDK of its own.
    let rec = out.last().unwrap();
    assert_eq!(rec.common.host, None);
    assert!(rec.common.sdk.is_none());
    assert_eq!(rec.ts, at(53));
}

#[test]
fn device_id_cross_app_not_below_three_or_by_pattern() {
    let mut s = base();
    s.app.declared_sdks = vec!["umeng".into(), "getui".into(), "jpush".into()];
    s.app.declared_pi.push("oaid".into());
    let two = vec![
        leak_of(&s, 50, sdk_wire("umeng", "a.umeng.example"), "oaid"),
        leak_of(&s, 51, sdk_wire("getui", "b.getui.example"), "oaid"),
    ];
    assert!(findings(&set(s.clone()), two).is_empty());
    // A pattern match is not the device's own known identifier.
    let by_pattern = ["umeng", "getui", "jpush"]
        .iter()
        .zip(["a.umeng.example", "b.getui.example", "c.jpush.example"])
        .enumerate()
        .map(|(i, (id, host))| {
            leak(
                &s,
                50 + i as i64,
                sdk_wire(id, host),
                vec![item("oaid", PiMethod::Pattern)],
            )
        })
        .collect();
    assert!(findings(&set(s), by_pattern).is_empty());
}

// ---- engine behaviour ----

#[test]
fn one_finding_per_key_grows_refs() {
    let s = base();
    let getui = Wire {
        host: "sdk.getui.example",
        sdk: Some("getui"),
        ..UMENG
    };
    let records = vec![
        leak(
            &s,
            10,
            UMENG,
            vec![
                item("imei", PiMethod::KnownValue),
                item("imei", PiMethod::Pattern),
            ],
        ),
        leak_of(&s, 11, UMENG, "imei"),
        leak_of(&s, 12, getui, "imei"),
        leak_of(&s, 13, UMENG, "android_id"),
        // A protocol record in between is not evaluated but takes a seq.
        contact(&s, 14, UMENG),
    ];
    let found = findings(&set(s), records);
    let pre: Vec<_> = found.iter().filter(|f| f.0 == "LT-PRECONSENT").collect();
    assert_eq!(pre.len(), 3);
    assert_eq!(pre[0].3, [1, 2]);
    assert_eq!(pre[1].1.as_deref(), Some("sdk.getui.example"));
    assert_eq!(pre[2].2.as_deref(), Some("android_id"));
}

#[test]
fn finding_records_follow_the_chain() {
    let s = base();
    let records = vec![
        contact(&s, 5, UMENG),
        leak_of(&s, 10, UMENG, "oaid"),
        leak_of(&s, 50, OWN_API, "imei"),
    ];
    let (engine, out) = run_with(engine(), &set(s), records);
    let n = engine.findings().len();
    assert_eq!(out.len(), 3 + n);
    let mut prev = GENESIS_HASH.to_string();
    for (i, r) in out.iter().enumerate() {
        let line = serde_json::to_value(r).unwrap().to_string();
        prev = verify_line(&prev, i as u64 + 1, &line).unwrap();
    }
    let finding = out
        .iter()
        .find(|r| r.event_type == crate::record::EventType::Finding)
        .unwrap();
    assert_eq!(finding.seq, 4);
    let json = serde_json::to_value(finding).unwrap();
    assert_eq!(json["event_type"], "finding");
    assert_eq!(json["rule"], "LT-PRECONSENT-SDK");
    assert_eq!(
        json["title"],
        "同意前即向第三方SDK发送数据 / third-party SDK contacted before consent"
    );
    assert_eq!(json["severity"], "medium");
    assert_eq!(json["regulation"][0], "PIPL Art. 23");
    assert_eq!(json["refs"], serde_json::json!([1]));
    assert_eq!(json["count"], 1);
    assert_eq!(json["destination"], "ulogs.umeng.com");
    assert!(json.get("pi_type").is_none());
    assert_eq!(json["consent_phase"], "before_consent");
    assert_eq!(json["session_id"], "lab3-reader");
    // Every ref points backwards to a pi_leak or sdk_contact record.
    for r in &out {
        if let Body::Finding(f) = &r.body {
            for seq in &f.refs {
                let target = &out[(*seq - 1) as usize];
                assert!(target.seq < r.seq);
                assert!(matches!(target.body, Body::PiLeak(_) | Body::SdkContact(_)));
            }
        }
    }
}

#[test]
fn no_session_and_unknown_session_are_ignored() {
    let s = with_events(
        base(),
        &[(0, EventKind::AppLaunched), (60, EventKind::SessionEnd)],
    );
    let after_end = leak_of(&s, 70, UMENG, "imei");
    assert_eq!(after_end.common.consent_phase, "no_session");
    let mut stranger = leak_of(&s, 10, UMENG, "imei");
    stranger.common.session_id = Some("other-phone".into());
    let mut none = leak_of(&s, 10, UMENG, "imei");
    none.common.session_id = None;
    let (engine, _) = run_with(engine(), &set(s), vec![after_end, stranger, none]);
    assert!(engine.findings().is_empty());
    assert_eq!(engine.stats().unknown_session, 1);
    assert_eq!(engine.stats().records_evaluated, 0);
}

#[test]
fn limits_are_counted() {
    let s = base();
    let settings = Settings {
        max_findings: 2,
        max_refs_per_finding: 2,
        ..Settings::default()
    };
    let e = FindingEngine::new(RuleTable::embedded().unwrap(), settings, None);
    // Each leak raises LT-PRECONSENT, LT-BEYOND-SCOPE (oaid), LT-PLAINTEXT ...
    let records: Vec<Record> = (0..4)
        .map(|i| {
            leak_of(
                &s,
                10 + i,
                Wire {
                    sdk: Some("umeng"),
                    ..UMENG
                },
                "oaid",
            )
        })
        .collect();
    let (e, _) = run_with(e, &set(s), records);
    assert_eq!(e.findings().len(), 2);
    assert!(e.stats().dropped_max_findings > 0);
    let first = &e.findings()[0];
    assert_eq!(first.refs, [1, 2]);
    assert_eq!(first.count, 4);
    assert_eq!(e.stats().refs_dropped, 4);
    assert_eq!(
        e.stats()
            .anomalies()
            .iter()
            .map(|a| a.0)
            .collect::<Vec<_>>(),
        ["dropped_max_findings", "refs_dropped"]
    );
}

#[test]
fn updates_report_raise_then_growth() {
    let s = base();
    let sessions = set(s.clone());
    let mut e = engine();
    let mut chain = Chain::new();
    let mut r1 = contact(&s, 5, UMENG);
    chain.seal(&mut r1);
    let u1 = e.observe(&r1, &sessions);
    assert_eq!(
        u1,
        [FindingUpdate {
            finding: 0,
            rule: RuleId::PreconsentSdk,
            change: Change::Raised,
            seq: 1
        }]
    );
    let mut r2 = contact(&s, 6, UMENG);
    chain.seal(&mut r2);
    let u2 = e.observe(&r2, &sessions);
    assert_eq!(u2[0].change, Change::Grew);
    assert_eq!(u2[0].seq, 2);
    // The same record again adds nothing.
    assert!(e.observe(&r2, &sessions).is_empty());
}
