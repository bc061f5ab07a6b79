use super::*;
use crate::finding::tests::{
    base, contact, engine, leak, leak_of, run_with, set, with_events, Wire, OWN_API, UMENG,
};
use crate::finding::RuleTable;
use crate::record::{HttpRef, PiMethod};
use crate::session::EventKind;

fn sample(lang: Lang) -> Report {
    let s = with_events(
        base(),
        &[
            (0, EventKind::AppLaunched),
            (40, EventKind::ConsentGranted),
            (300, EventKind::SessionEnd),
        ],
    );
    let evil = Wire {
        host: "<script>alert(1)</script>.example",
        dst: "203.0.113.66",
        sdk: None,
        tls: false,
    };
    let mut with_url = leak_of(&s, 12, UMENG, "imei");
    if let Body::PiLeak(l) = &mut with_url.body {
        l.http = Some(HttpRef {
            method: "POST".into(),
            url: "http://ulogs.umeng.com/u?imei=861********0127&x=\"><img src=x>".into(),
            user_agent: None,
        });
    }
    let records = vec![
        contact(&s, 5, UMENG),
        with_url,
        leak(
            &s,
            20,
            evil,
            vec![crate::finding::tests::item(
                "gps_location",
                PiMethod::KnownValue,
            )],
        ),
        leak_of(&s, 60, OWN_API, "oaid"),
    ];
    let sessions = set(s.clone());
    let (engine, sealed) = run_with(engine(), &sessions, records);
    let rules = RuleTable::embedded().unwrap();
    let last = sealed.last().map(|r| r.hash.clone()).unwrap_or_default();
    Report::build(ReportInput {
        session: &s,
        records: &sealed,
        rules: &rules,
        rules_off: &engine.rules_off(),
        inputs: vec![InputFile {
            role: "capture",
            path: "lab/<odd>.pcap".into(),
            sha256: "ab".repeat(32),
            bytes: 1234,
        }],
        run: RunFacts {
            packets: 10,
            bytes: 1234,
            first_ts: Some(crate::finding::tests::at(5).to_rfc3339()),
            last_ts: Some(crate::finding::tests::at(60).to_rfc3339()),
            records: sealed.len() as u64,
            chain_head: last,
            file_problems: Vec::new(),
        },
        notes: vec![Note {
            zh: "说明".into(),
            en: "note".into(),
        }],
        generator: "leaktap test".into(),
        lang,
    })
}

#[test]
fn report_json_has_findings_first_and_evidence() {
    let r = sample(Lang::Zh);
    assert!(!r.findings.is_empty());
    // Most severe first.
    let ranks: Vec<u8> = r
        .findings
        .iter()
        .map(|f| {
            crate::finding::Severity::from_id(&f.severity)
                .unwrap()
                .rank()
        })
        .collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted);
    let pre = r
        .findings
        .iter()
        .find(|f| f.rule == "LT-PRECONSENT" && f.pi_type.as_deref() == Some("imei"))
        .unwrap();
    assert_eq!(pre.refs, [2]);
    assert_eq!(pre.evidence.len(), 1);
    assert_eq!(pre.evidence[0].seq, 2);
    assert_eq!(pre.evidence[0].community_id, "1:test50000");
    assert_eq!(pre.title_en, "PI collected before consent");
    assert_eq!(r.transmissions.len(), 4);
    assert_eq!(r.transmissions[0].event_type, "sdk_contact");
    assert_eq!(r.transmissions[0].via, Some("dns"));
    // Destinations × PI types: third parties first.
    let rows: Vec<(&str, &str)> = r
        .destinations
        .rows
        .iter()
        .map(|d| (d.destination.as_str(), d.party))
        .collect();
    assert_eq!(
        rows,
        [
            ("ulogs.umeng.com", "third"),
            ("<script>alert(1)</script>.example", "third"),
            ("api.example-reader.cn", "first")
        ]
    );
    assert_eq!(r.destinations.rows[0].pi_counts.get("imei"), Some(&1));
    assert_eq!(r.destinations.rows[0].sdk_contacts, 1);
    assert_eq!(r.destinations.pi_types, ["imei", "oaid", "gps_location"]);
    // Phases over the drawn range: before consent, after consent, no session.
    let phases: Vec<&str> = r.timeline.phases.iter().map(|p| p.phase).collect();
    assert_eq!(phases, ["before_consent", "after_consent", "no_session"]);
    // Identifiers are masked.
    assert_eq!(
        r.session.device.identifiers.get("imei"),
        Some(&vec!["861********0127".to_string()])
    );
    assert_eq!(r.rules_off.len(), 1);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["schema"], "leaktap-report/1");
    assert_eq!(json["findings"][0]["severity"], "high");
    assert!(json["regulations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["abbreviation"] == "PIPL"));
}

#[test]
fn html_is_self_contained_and_escaped() {
    for lang in [Lang::Zh, Lang::En] {
        let html = sample(lang).to_html();
        for id in [
            "id=\"findings-table\"",
            "id=\"timeline-svg\"",
            "id=\"destinations-table\"",
            "id=\"transmissions-table\"",
            "id=\"session\"",
            "id=\"inputs-table\"",
        ] {
            assert!(html.contains(id), "{id} missing");
        }
        // Findings come before the timeline.
        assert!(html.find("id=\"findings\"").unwrap() < html.find("id=\"timeline\"").unwrap());
        // Nothing from traffic becomes markup.
        assert!(!html.contains("<script"), "unescaped script");
        assert!(!html.contains("<img"), "unescaped img");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"));
        assert!(html.contains("lab/&lt;odd&gt;.pcap"));
        // No reference that would make a browser fetch anything.
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("http:&#47;&#47;ulogs.umeng.com/u?imei=861********0127"));
        for tag in tags(&html) {
            let lower = tag.to_ascii_lowercase();
            assert!(!lower.contains(" src="), "{tag}");
            assert!(
                !lower.contains("href=") || lower.contains("href=\"#"),
                "{tag}"
            );
            assert!(
                !lower.starts_with("<script") && !lower.starts_with("<link"),
                "{tag}"
            );
            assert!(
                !lower.starts_with("<img") && !lower.starts_with("<iframe"),
                "{tag}"
            );
        }
        let style = html
            .split("<style>")
            .nth(1)
            .and_then(|s| s.split("</style>").next())
            .unwrap();
        assert!(!style.contains("url(") && !style.contains("@import"));
        assert!(html.contains("default-src 'none'"));
        assert!(html.contains("@media print"));
        match lang {
            Lang::Zh => {
                assert!(html.contains("<html lang=\"zh-CN\">"));
                assert!(html.contains("征得同意前收集个人信息"));
                assert!(html.contains("北京时间（UTC+8）"));
            }
            Lang::En => {
                assert!(html.contains("<html lang=\"en\">"));
                assert!(html.contains("PI collected before consent"));
                assert!(html.contains("Beijing time (UTC+8)"));
                assert!(!html.contains("征得同意前收集个人信息"));
            }
        }
    }
}

/// The markup tags of a page (text `<` is always escaped, so every `<` opens a tag).
fn tags(html: &str) -> Vec<&str> {
    html.match_indices('<')
        .filter_map(|(i, _)| {
            html.get(i..)
                .and_then(|t| t.find('>').and_then(|e| t.get(..=e)))
        })
        .collect()
}

#[test]
fn report_is_deterministic() {
    assert_eq!(sample(Lang::Zh).to_html(), sample(Lang::Zh).to_html());
    assert_eq!(sample(Lang::En).to_json(), sample(Lang::En).to_json());
}
