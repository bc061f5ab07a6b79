//! Findings end to end: synthetic lab captures written as pcap files, read through the
//! real pipeline (capture → decode → flow → reassembly → HTTP/DNS → records), then the
//! findings engine. `pi_leak`/`sdk_contact` records come from the detection seam in
//! `common` (see its module doc: flip `REAL_DETECTION` after the detection merge).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use leaktap::finding::{self, FindingEngine, RuleTable, Settings};
use leaktap::record::{verify_line, Body, Chain, EventType, Record, GENESIS_HASH};
use leaktap::session::SessionSet;
use leaktap::synth::Endpoint;

fn phone_a(port: u16) -> Endpoint {
    Endpoint::new(MAC_A, ip("192.0.2.23"), port)
}

fn umeng() -> Endpoint {
    Endpoint::new(GATEWAY, ip("203.0.113.10"), 80)
}

const DEVICE_A: &str = "mac = \"02:1a:2b:3c:4d:5e\"\nip = [\"192.0.2.23\"]";
const APP: &str = "declared_pi = [\"android_id\"]\ndeclared_sdks = []\nfirst_party_domains = [\"example-reader.cn\"]";

/// Runs pipeline + detection + findings; returns the sealed chain (findings last).
fn findings_run(captures: &[PathBuf], sessions: &Arc<SessionSet>, events: &str) -> Vec<Record> {
    let records = detect(pipeline(captures, sessions, events));
    let mut engine = FindingEngine::new(RuleTable::embedded().unwrap(), Settings::default(), None);
    let mut chain = Chain::new();
    finding::evaluate(records, sessions, &mut engine, &mut chain)
}

/// (rule, session, destination, pi_type, refs) of one finding record.
type Key = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Vec<u64>,
);

/// The keys of the finding records.
fn finding_keys(chain: &[Record]) -> Vec<Key> {
    chain
        .iter()
        .filter_map(|r| match &r.body {
            Body::Finding(f) => Some((
                f.rule.clone(),
                r.common.session_id.clone(),
                f.destination.clone(),
                f.pi_type.clone(),
                f.refs.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn rules(chain: &[Record]) -> Vec<String> {
    finding_keys(chain).into_iter().map(|k| k.0).collect()
}

fn assert_chain(chain: &[Record]) {
    let mut prev = GENESIS_HASH.to_string();
    for (i, r) in chain.iter().enumerate() {
        let line = serde_json::to_value(r).unwrap().to_string();
        prev = verify_line(&prev, i as u64 + 1, &line).expect("chain verifies");
    }
}

#[test]
fn request_spanning_the_consent_instant_takes_the_phase_of_its_last_segment() {
    let dir = temp_dir();
    let session = session_file(
        dir.path(),
        "phone-a",
        DEVICE_A,
        APP,
        &[(0, "app_launched"), (40, "consent_granted")],
    );
    let mut cap = Capture::default();
    let path = "/u?imei=861234567890127";
    // Entirely before consent.
    cap.http_get(
        phone_a(50001),
        umeng(),
        "ulogs.umeng.com",
        path,
        T0 + 10 * SEC,
        0,
        30_000,
    );
    // Handshake and first request segment before 09:00:40, the last segment after it.
    let sent = cap.http_get(
        phone_a(50002),
        umeng(),
        "ulogs.umeng.com",
        path,
        T0 + 39_880_000,
        24,
        30_000,
    );
    let consent = T0 + 40 * SEC;
    assert!(sent.len() >= 3, "{sent:?}");
    assert!(
        sent.first().unwrap().0 < consent && sent.last().unwrap().0 >= consent,
        "{sent:?}"
    );
    // Entirely after consent.
    cap.http_get(
        phone_a(50003),
        umeng(),
        "ulogs.umeng.com",
        path,
        T0 + 50 * SEC,
        0,
        30_000,
    );
    let pcap = dir.path().join("span.pcap");
    cap.write(&pcap);
    let sessions = sessions(&[session]);

    let records = pipeline(std::slice::from_ref(&pcap), &sessions, "http");
    let http: Vec<(u16, i64, &str)> = records
        .iter()
        .filter(|r| r.event_type == EventType::Http)
        .map(|r| {
            (
                r.common.flow.src_port,
                r.ts.as_micros(),
                r.common.consent_phase,
            )
        })
        .collect();
    assert_eq!(http.len(), 3, "{http:?}");
    assert_eq!(http[0].2, "before_consent");
    // The record carries the time of a packet at or after the request's last segment,
    // and the phase at that time.
    assert_eq!(http[1].0, 50002);
    assert!(http[1].1 >= sent.last().unwrap().0, "{http:?} {sent:?}");
    assert_eq!(http[1].2, "after_consent");
    assert_eq!(http[2].2, "after_consent");

    // Only the request sent entirely before consent proves LT-PRECONSENT.
    let chain = findings_run(&[pcap], &sessions, "http");
    assert_chain(&chain);
    let pre: Vec<_> = finding_keys(&chain)
        .into_iter()
        .filter(|k| k.0 == "LT-PRECONSENT")
        .collect();
    assert_eq!(pre.len(), 1, "{pre:?}");
    let refs = &pre[0].4;
    assert_eq!(refs.len(), 1);
    let proving = &chain[(refs[0] - 1) as usize];
    assert_eq!(proving.event_type, EventType::PiLeak);
    assert_eq!(proving.common.flow.src_port, 50001);
}

#[test]
fn two_phones_in_one_capture_land_in_their_own_sessions() {
    let dir = temp_dir();
    let a = session_file(
        dir.path(),
        "phone-a",
        DEVICE_A,
        APP,
        &[(0, "app_launched"), (40, "consent_granted")],
    );
    let b = session_file(
        dir.path(),
        "phone-b",
        "ip = [\"192.0.2.42\"]",
        APP,
        &[(0, "app_launched"), (2, "consent_granted")],
    );
    let phone_b = |port| Endpoint::new(MAC_B, ip("192.0.2.42"), port);
    let other = |port| Endpoint::new(MAC_OTHER, ip("192.0.2.99"), port);
    let api = Endpoint::new(GATEWAY, ip("198.51.100.7"), 80);
    let web = Endpoint::new(GATEWAY, ip("198.51.100.80"), 80);
    let mut cap = Capture::default();
    cap.dns(
        phone_a(40001),
        "ulogs.umeng.com",
        "203.0.113.10",
        T0 + 5 * SEC,
    );
    cap.http_get(
        phone_a(50001),
        umeng(),
        "ulogs.umeng.com",
        "/u?imei=861234567890127",
        T0 + 6 * SEC,
        0,
        200,
    );
    cap.dns(
        phone_b(40002),
        "api.example-reader.cn",
        "198.51.100.7",
        T0 + 7 * SEC,
    );
    cap.http_get(
        phone_b(50002),
        api,
        "api.example-reader.cn",
        "/feed?android_id=3a5f9c2e8b7d6140",
        T0 + 8 * SEC,
        0,
        200,
    );
    cap.dns(
        other(40003),
        "www.example.com",
        "198.51.100.80",
        T0 + 9 * SEC,
    );
    cap.http_get(
        other(50003),
        web,
        "www.example.com",
        "/?imei=861234567890127",
        T0 + 10 * SEC,
        0,
        200,
    );
    let pcap = dir.path().join("two.pcap");
    cap.write(&pcap);
    let sessions = sessions(&[a, b]);

    let records = pipeline(std::slice::from_ref(&pcap), &sessions, "http,dns");
    let mut seen = std::collections::BTreeMap::new();
    // Protocol records only; the PI and SDK records of each phone are checked below.
    for r in records
        .iter()
        .filter(|r| matches!(r.event_type.as_str(), "dns" | "http"))
    {
        let key = (r.common.flow.src_ip.to_string(), r.event_type.as_str());
        let who = (r.common.session_id.clone(), r.common.consent_phase);
        *seen.entry((key, who)).or_insert(0) += 1;
    }
    let expect = |src: &str, kind: &'static str, sid: Option<&str>, phase: &'static str, n: i32| {
        (
            ((src.to_string(), kind), (sid.map(str::to_string), phase)),
            n,
        )
    };
    let expected: std::collections::BTreeMap<_, _> = [
        expect("192.0.2.23", "dns", Some("phone-a"), "before_consent", 2),
        expect("192.0.2.23", "http", Some("phone-a"), "before_consent", 1),
        expect("192.0.2.42", "dns", Some("phone-b"), "after_consent", 2),
        expect("192.0.2.42", "http", Some("phone-b"), "after_consent", 1),
        expect("192.0.2.99", "dns", None, "no_session", 2),
        expect("192.0.2.99", "http", None, "no_session", 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected);
    // Every pi_leak lands in the session of the phone that sent it.
    for r in records
        .iter()
        .filter(|r| r.event_type.as_str() == "pi_leak")
    {
        let want = match r.common.flow.src_ip.to_string().as_str() {
            "192.0.2.23" => Some("phone-a"),
            "192.0.2.42" => Some("phone-b"),
            _ => None,
        };
        assert_eq!(r.common.session_id.as_deref(), want, "{:?}", r.common.flow);
    }
    // Device facts follow the session.
    let b_rec = records
        .iter()
        .find(|r| r.common.session_id.as_deref() == Some("phone-b"))
        .unwrap();
    assert_eq!(b_rec.common.device.as_ref().unwrap().name, "phone-b phone");

    // Findings stay in their session; the third host's PI is in no session and in no
    // finding.
    let chain = findings_run(&[pcap], &sessions, "http,dns");
    assert_chain(&chain);
    let keys = finding_keys(&chain);
    assert!(keys
        .iter()
        .any(|k| k.0 == "LT-PRECONSENT" && k.1.as_deref() == Some("phone-a")));
    assert!(keys
        .iter()
        .any(|k| k.0 == "LT-PRECONSENT-SDK" && k.1.as_deref() == Some("phone-a")));
    assert!(keys.iter().all(|k| k.1.is_some()));
    assert!(!keys
        .iter()
        .any(|k| k.2.as_deref() == Some("www.example.com")));
    // phone-b: its own declared PI to its own back end after consent: only the fact
    // that it went over plain HTTP.
    let b: Vec<&str> = keys
        .iter()
        .filter(|k| k.1.as_deref() == Some("phone-b"))
        .map(|k| k.0.as_str())
        .collect();
    assert_eq!(b, ["LT-PLAINTEXT"], "{keys:?}");
}

/// One capture, two sessions that differ only in what the rule looks at.
fn pair(
    app_trigger: &str,
    events_trigger: &[(i64, &str)],
    app_quiet: &str,
    events_quiet: &[(i64, &str)],
    build: impl Fn(&mut Capture),
) -> (Vec<String>, Vec<String>) {
    let dir = temp_dir();
    let mut cap = Capture::default();
    build(&mut cap);
    let pcap = dir.path().join("pair.pcap");
    cap.write(&pcap);
    let run = |id: &str, app: &str, events: &[(i64, &str)]| {
        let s = session_file(dir.path(), id, DEVICE_A, app, events);
        let chain = findings_run(std::slice::from_ref(&pcap), &sessions(&[s]), "http,dns");
        assert_chain(&chain);
        rules(&chain)
    };
    (
        run("trigger", app_trigger, events_trigger),
        run("quiet", app_quiet, events_quiet),
    )
}

fn imei_to_umeng(cap: &mut Capture) {
    cap.dns(
        phone_a(40001),
        "ulogs.umeng.com",
        "203.0.113.10",
        T0 + 20 * SEC,
    );
    cap.http_get(
        phone_a(50001),
        umeng(),
        "ulogs.umeng.com",
        "/u?imei=861234567890127",
        T0 + 21 * SEC,
        0,
        200,
    );
}

#[test]
fn preconsent_end_to_end_and_same_traffic_after_consent() {
    let (hit, quiet) = pair(
        APP,
        &[(0, "app_launched"), (40, "consent_granted")],
        APP,
        &[(0, "app_launched"), (10, "consent_granted")],
        imei_to_umeng,
    );
    assert!(hit.contains(&"LT-PRECONSENT".to_string()), "{hit:?}");
    assert!(hit.contains(&"LT-PRECONSENT-SDK".to_string()), "{hit:?}");
    assert!(!quiet.contains(&"LT-PRECONSENT".to_string()), "{quiet:?}");
    assert!(
        !quiet.contains(&"LT-PRECONSENT-SDK".to_string()),
        "{quiet:?}"
    );
}

#[test]
fn undisclosed_sdk_end_to_end_and_with_the_sdk_declared() {
    let declared = "declared_pi = [\"imei\"]\ndeclared_sdks = [\"umeng\"]\nfirst_party_domains = [\"example-reader.cn\"]";
    let undeclared = "declared_pi = [\"imei\"]\ndeclared_sdks = []\nfirst_party_domains = [\"example-reader.cn\"]";
    let events = [(0, "app_launched"), (10, "consent_granted")];
    let (hit, quiet) = pair(undeclared, &events, declared, &events, imei_to_umeng);
    assert!(hit.contains(&"LT-UNDISCLOSED-SDK".to_string()), "{hit:?}");
    assert!(
        !quiet.contains(&"LT-UNDISCLOSED-SDK".to_string()),
        "{quiet:?}"
    );
    // Declared PI type, after consent: beyond-scope stays quiet in both.
    assert!(!hit.contains(&"LT-BEYOND-SCOPE".to_string()));
}

#[test]
fn after_denial_and_unnecessary_end_to_end() {
    let news = "declared_pi = [\"imei\"]\ndeclared_sdks = [\"umeng\"]\ncategory = \"news\"";
    let uncategorised = "declared_pi = [\"imei\"]\ndeclared_sdks = [\"umeng\"]";
    let (hit, quiet) = pair(
        news,
        &[(0, "app_launched"), (10, "consent_denied")],
        uncategorised,
        &[(0, "app_launched"), (10, "consent_granted")],
        imei_to_umeng,
    );
    assert!(hit.contains(&"LT-AFTER-DENIAL".to_string()), "{hit:?}");
    assert!(hit.contains(&"LT-UNNECESSARY".to_string()), "{hit:?}");
    assert!(!quiet.contains(&"LT-AFTER-DENIAL".to_string()), "{quiet:?}");
    assert!(!quiet.contains(&"LT-UNNECESSARY".to_string()), "{quiet:?}");
}

#[test]
fn frequency_and_cross_app_end_to_end() {
    let app = "declared_pi = [\"imei\"]\ndeclared_sdks = [\"umeng\", \"getui\", \"jpush\"]";
    let build = |cap: &mut Capture| {
        // Twelve reports within a minute to one destination.
        for i in 0..12 {
            cap.http_get(
                phone_a(51000 + i),
                umeng(),
                "ulogs.umeng.com",
                "/u?imei=861234567890127",
                T0 + (60 + 4 * i64::from(i)) * SEC,
                0,
                200,
            );
        }
        // The same IMEI to two more SDKs.
        let getui = Endpoint::new(GATEWAY, ip("203.0.113.20"), 80);
        let jpush = Endpoint::new(GATEWAY, ip("203.0.113.30"), 80);
        cap.http_get(
            phone_a(52001),
            getui,
            "c.getui.net",
            "/r?imei=861234567890127",
            T0 + 130 * SEC,
            0,
            200,
        );
        cap.http_get(
            phone_a(52002),
            jpush,
            "api.jpush.cn",
            "/r?imei=861234567890127",
            T0 + 131 * SEC,
            0,
            200,
        );
    };
    let events = [(0, "app_launched"), (10, "consent_granted")];
    let (hit, _) = pair(app, &events, app, &events, build);
    assert!(hit.contains(&"LT-FREQUENCY".to_string()), "{hit:?}");
    // LT-DEVICE-ID-CROSS-APP counts known-value matches of the phone's own identifiers;
    // the pipeline finds those only once known-value search (issue 4) is built, so end to
    // end it is checked with the stand-in detector (the rule itself has unit tests).
    if !REAL_DETECTION {
        assert!(
            hit.contains(&"LT-DEVICE-ID-CROSS-APP".to_string()),
            "{hit:?}"
        );
    }
    // Spread out and to one SDK only: neither.
    let (quiet, _) = pair(app, &events, app, &events, |cap: &mut Capture| {
        for i in 0..12 {
            cap.http_get(
                phone_a(51000 + i),
                umeng(),
                "ulogs.umeng.com",
                "/u?imei=861234567890127",
                T0 + (60 + 7 * i64::from(i)) * SEC,
                0,
                200,
            );
        }
    });
    assert!(!quiet.contains(&"LT-FREQUENCY".to_string()), "{quiet:?}");
    assert!(
        !quiet.contains(&"LT-DEVICE-ID-CROSS-APP".to_string()),
        "{quiet:?}"
    );
}

#[test]
fn analyze_cli_writes_findings_last_in_a_valid_chain() {
    let dir = temp_dir();
    let session = session_file(
        dir.path(),
        "phone-a",
        DEVICE_A,
        APP,
        &[(0, "app_launched"), (40, "consent_granted")],
    );
    let mut cap = Capture::default();
    imei_to_umeng(&mut cap);
    let pcap = dir.path().join("cli.pcap");
    cap.write(&pcap);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args([
            "analyze",
            "--findings",
            "--format",
            "jsonl",
            "--events",
            "http,dns",
            "--session",
        ])
        .arg(&session)
        .arg(&pcap)
        .output()
        .expect("run leaktap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut prev = GENESIS_HASH.to_string();
    let mut kinds = Vec::new();
    for (i, line) in stdout.lines().enumerate() {
        prev = verify_line(&prev, i as u64 + 1, line).expect("chain");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        kinds.push(v["event_type"].as_str().unwrap().to_string());
    }
    assert_eq!(kinds.iter().filter(|k| *k == "dns").count(), 2, "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| *k == "http").count(),
        1,
        "{kinds:?}"
    );
    // Finding records, if any, come after every other record.
    if let Some(first) = kinds.iter().position(|k| k == "finding") {
        assert!(kinds[first..].iter().all(|k| k == "finding"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("发现 findings:"), "{stderr}");
    assert!(
        stderr.contains("LT-CROSS-BORDER: no IP-to-country database"),
        "{stderr}"
    );

    // With a country table the rule runs; a bad table is a bad input (exit 2) naming
    // file and line.
    let geo = dir.path().join("geo.csv");
    std::fs::write(&geo, "203.0.113.0/24,US\n203.0.113.0/33,US\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args(["analyze", "--findings", "--ip-country"])
        .arg(&geo)
        .arg("--session")
        .arg(&session)
        .arg(&pcap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("geo.csv:2: '203.0.113.0/33' has a prefix length"),
        "{stderr}"
    );
    std::fs::write(&geo, "203.0.113.0/24,US\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leaktap"))
        .args(["analyze", "--findings", "--ip-country"])
        .arg(&geo)
        .arg("--session")
        .arg(&session)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!table.contains("rule off"), "{table}");
    assert!(table.contains("== 摘要 summary =="), "{table}");
}

#[test]
fn analyze_table_shows_findings_first_then_leaks_by_phase_and_destination() {
    // Table layout over the seam's records (the CLI shows the same sections once
    // detection emits pi_leak records).
    let dir = temp_dir();
    let session = session_file(
        dir.path(),
        "phone-a",
        DEVICE_A,
        APP,
        &[(0, "app_launched"), (40, "consent_granted")],
    );
    let mut cap = Capture::default();
    imei_to_umeng(&mut cap);
    cap.http_get(
        phone_a(50009),
        umeng(),
        "ulogs.umeng.com",
        "/u?imei=861234567890127",
        T0 + 50 * SEC,
        0,
        200,
    );
    let pcap = dir.path().join("table.pcap");
    cap.write(&pcap);
    let chain = findings_run(&[pcap], &sessions(&[session]), "http,dns");
    let mut writer = leaktap::output::RecordWriter::new(Vec::new(), leaktap::output::Format::Table);
    for mut r in chain {
        // Re-sealing gives the same seq (same order from a fresh chain).
        writer.write_ref(&mut r).unwrap();
    }
    writer.finish().unwrap();
    let text = String::from_utf8(writer.into_inner()).unwrap();
    let findings = text.find("== 发现 findings").expect("findings section");
    let leaks = text.find("== 个人信息与SDK连接").expect("leaks section");
    let events = text.find("== 协议记录").expect("protocol section");
    assert!(findings < leaks && leaks < events, "{text}");
    let before = text
        .find("-- before_consent · ulogs.umeng.com")
        .expect("group");
    let after = text
        .find("-- after_consent · ulogs.umeng.com")
        .expect("group");
    assert!(before < after);
    assert!(text.contains("LT-PRECONSENT [high]"), "{text}");
}
