//! Every PI type that has a pattern, in every position of an HTTP request (query, form,
//! nested JSON, multipart, cookie, header), sent as real packets through the real
//! pipeline: each request must give exactly one `pi_leak` record with exactly the
//! expected items (type, category, sensitivity, where, encoding, method, masked value,
//! confidence) and a masked URL.

mod detect_support;

use leaktap::pi::validator;
use leaktap::record::mask;
use leaktap::synth::tcp::Segmentation;
use leaktap::synth::traffic;
use serde_json::{json, Value};

use detect_support::*;

/// One PI sample: the field(s) that carry it and what the detector must report.
struct Sample {
    pi_type: &'static str,
    /// (key, value) fields; two for a coordinate pair.
    fields: Vec<(&'static str, String)>,
    /// Reported items: (type, category, sensitive, value before masking, confidence,
    /// index of the field whose place is reported).
    items: Vec<(&'static str, &'static str, bool, String, f64, usize)>,
    /// JSON numbers instead of strings in the JSON position.
    json_numbers: bool,
}

fn with_check(body: &str, check: Option<u8>) -> String {
    format!("{body}{}", char::from(check.expect("check digit")))
}

fn single(
    pi_type: &'static str,
    category: &'static str,
    sensitive: bool,
    key: &'static str,
    value: &str,
    confidence: f64,
) -> Sample {
    Sample {
        pi_type,
        fields: vec![(key, value.to_string())],
        items: vec![(
            pi_type,
            category,
            sensitive,
            value.to_string(),
            confidence,
            0,
        )],
        json_numbers: false,
    }
}

fn samples() -> Vec<Sample> {
    let imei = with_check(
        "86123456789012",
        validator::imei_check_digit(b"86123456789012"),
    );
    let iccid = with_check(
        "898600123456789012",
        validator::luhn_check_digit(b"898600123456789012"),
    );
    let card = with_check(
        "622202020011223344",
        validator::luhn_check_digit(b"622202020011223344"),
    );
    let uscc = with_check(
        "92110105MA01ABCD1",
        validator::uscc_check_char(b"92110105MA01ABCD1"),
    );
    assert!(validator::imei(&imei) && validator::bank_card(&card) && validator::uscc(&uscc));
    let mut out = vec![
        single("phone_number", "basic", false, "phone", "13912345678", 0.95),
        single(
            "email",
            "basic",
            false,
            "email",
            "zhang.san@example.com",
            0.98,
        ),
        single("license_plate", "basic", false, "plate", "京A12345", 0.9),
        single(
            "id_card",
            "identity",
            true,
            "id_card",
            "11010519491231002X",
            0.98,
        ),
        single("passport", "identity", true, "passport", "E12345678", 0.85),
        single("bank_card", "property", true, "card_no", &card, 0.95),
        single("imei", "device", false, "imei", &imei, 0.95),
        single("meid", "device", false, "meid", "A0123456789ABC", 0.9),
        single("imsi", "device", false, "imsi", "460001234567890", 0.95),
        single("iccid", "device", false, "iccid", &iccid, 0.95),
        single(
            "android_id",
            "device",
            false,
            "android_id",
            "3a5f9c2e7b1d4f60",
            0.9,
        ),
        single(
            "oaid",
            "device",
            false,
            "oaid",
            "5b8f1c2a-7d3e-4f6a-9b0c-1d2e3f4a5b6c",
            0.9,
        ),
        single(
            "idfa",
            "device",
            false,
            "idfa",
            "E621E1F8-C36C-495A-93FC-0C247A3E6E5F",
            0.9,
        ),
        single(
            "mac_address",
            "device",
            false,
            "mac",
            "3c:22:fb:12:34:56",
            0.9,
        ),
        single(
            "wifi_bssid",
            "location",
            true,
            "bssid",
            "3c:22:fb:ab:cd:ef",
            0.9,
        ),
        single("cell_id", "location", true, "cell_id", "123456789", 0.8),
        single("uscc", "other", false, "credit_code", &uscc, 0.8),
        Sample {
            pi_type: "installed_apps",
            fields: vec![(
                "app_list",
                "com.tencent.mm,com.eg.android.AlipayGphone,com.sina.weibo".into(),
            )],
            items: vec![(
                "installed_apps",
                "online_history",
                false,
                "com.tencent.mm,com.eg.android.AlipayGphone,com.sina.weibo".into(),
                0.9,
                0,
            )],
            json_numbers: false,
        },
        Sample {
            pi_type: "contacts",
            fields: vec![("contacts", "张三:13912345678,李四:15012345678".into())],
            items: vec![
                ("phone_number", "basic", false, "13912345678".into(), 0.7, 0),
                ("phone_number", "basic", false, "15012345678".into(), 0.7, 0),
                (
                    "contacts",
                    "contacts",
                    true,
                    "13912345678,15012345678".into(),
                    0.9,
                    0,
                ),
            ],
            json_numbers: false,
        },
        Sample {
            pi_type: "gps_location",
            fields: vec![("lat", "39.908692".into()), ("lng", "116.397477".into())],
            items: vec![(
                "gps_location",
                "location",
                true,
                "39.908692,116.397477".into(),
                0.9,
                1,
            )],
            json_numbers: true,
        },
    ];
    out.sort_by_key(|s| s.pi_type);
    out
}

/// Percent-encodes what a form or query value cannot carry as is.
fn pct(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~:@,".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Position {
    Cookie,
    Form,
    Header,
    Json,
    Multipart,
    Query,
}

const POSITIONS: [Position; 6] = [
    Position::Query,
    Position::Form,
    Position::Json,
    Position::Multipart,
    Position::Cookie,
    Position::Header,
];

fn request(sample: &Sample, pos: Position) -> Vec<u8> {
    let host = "api.example.net";
    let pairs = |encode: bool| -> String {
        sample
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", if encode { pct(v) } else { v.clone() }))
            .collect::<Vec<_>>()
            .join("&")
    };
    match pos {
        Position::Query => traffic::http_request(
            "GET",
            host,
            &format!("/v1/report?{}", pairs(true)),
            &[],
            b"",
        ),
        Position::Form => traffic::http_request(
            "POST",
            host,
            "/v1/report",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            pairs(true).as_bytes(),
        ),
        Position::Json => {
            let mut user = serde_json::Map::new();
            for (k, v) in &sample.fields {
                let value = if sample.json_numbers {
                    Value::Number(v.parse::<serde_json::Number>().expect("number"))
                } else {
                    Value::String(v.clone())
                };
                user.insert((*k).to_string(), value);
            }
            let body = json!({"ver": "2.1.0", "data": {"user": Value::Object(user)}}).to_string();
            traffic::http_request(
                "POST",
                host,
                "/v1/report",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
        }
        Position::Multipart => {
            let mut body = Vec::new();
            for (k, v) in &sample.fields {
                body.extend_from_slice(
                    format!("--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
                );
            }
            body.extend_from_slice(b"--XBOUNDARY--\r\n");
            traffic::http_request(
                "POST",
                host,
                "/v1/upload",
                &[("Content-Type", "multipart/form-data; boundary=XBOUNDARY")],
                &body,
            )
        }
        Position::Cookie => {
            let cookie: Vec<String> = sample
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            traffic::http_request(
                "GET",
                host,
                "/v1/ping",
                &[("Cookie", &cookie.join("; "))],
                b"",
            )
        }
        Position::Header => {
            let names: Vec<String> = sample
                .fields
                .iter()
                .map(|(k, _)| format!("X-{k}"))
                .collect();
            let headers: Vec<(&str, &str)> = names
                .iter()
                .zip(&sample.fields)
                .map(|(n, (_, v))| (n.as_str(), v.as_str()))
                .collect();
            traffic::http_request("GET", host, "/v1/ping", &headers, b"")
        }
    }
}

fn location(pos: Position, key: &str) -> String {
    match pos {
        Position::Query => format!("url.query:{key}"),
        Position::Form => format!("body.form:{key}"),
        Position::Json => format!("body.json:$.data.user.{key}"),
        Position::Multipart => format!("body.multipart:{key}"),
        Position::Cookie => format!("cookie:{key}"),
        Position::Header => format!("header:X-{key}"),
    }
}

fn expected(sample: &Sample, pos: Position) -> Value {
    let items: Vec<Value> = sample
        .items
        .iter()
        .map(|(ty, cat, sens, value, conf, field)| {
            let (key, raw) = &sample.fields[*field];
            let encoded = matches!(pos, Position::Query | Position::Form) && pct(raw) != *raw;
            json!({
                "type": ty,
                "category": cat,
                "sensitive": sens,
                "where": location(pos, key),
                "encoding": if encoded { "url" } else { "plain" },
                "method": "pattern",
                "value": mask(value),
                "confidence": conf,
            })
        })
        .collect();
    Value::Array(items)
}

fn expected_url(sample: &Sample, pos: Position) -> String {
    match pos {
        Position::Query => {
            let q: Vec<String> = sample
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={}", mask(&pct(v))))
                .collect();
            format!("http://api.example.net/v1/report?{}", q.join("&"))
        }
        Position::Form => "http://api.example.net/v1/report".into(),
        Position::Json => "http://api.example.net/v1/report".into(),
        Position::Multipart => "http://api.example.net/v1/upload".into(),
        Position::Cookie | Position::Header => "http://api.example.net/v1/ping".into(),
    }
}

#[test]
fn every_pi_type_in_every_position() {
    let samples = samples();
    let set = signature_set();
    // Every PI signature with a pattern or a field detector has a sample here (face
    // images have their own test).
    let mut covered: Vec<&str> = samples.iter().map(|s| s.pi_type).collect();
    covered.push("face_image");
    covered.sort();
    let mut ids: Vec<&str> = set.pi_signatures().iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    assert_eq!(covered, ids);

    let mut frames = Vec::new();
    let mut cases = Vec::new();
    for (si, sample) in samples.iter().enumerate() {
        for (pi, pos) in POSITIONS.iter().enumerate() {
            let port = 20_000 + (si * 10 + pi) as u16;
            let start = 1_772_442_000_000_000 + (si * 10 + pi) as i64 * 1_000_000;
            frames.extend(http_exchange(
                port,
                &request(sample, *pos),
                &Segmentation::whole(),
                start,
            ));
            cases.push((port, si, *pos));
        }
    }
    frames.sort_by_key(|(ts, _)| *ts);
    let (records, stats) = run(&frames, set, Vec::new());
    let leaks = of_type(&records, "pi_leak");
    let mut failures = Vec::new();
    for (port, si, pos) in &cases {
        let sample = &samples[*si];
        let got: Vec<&&Value> = leaks
            .iter()
            .filter(|r| r["flow"]["src_port"] == *port)
            .collect();
        let want = expected(sample, *pos);
        if got.len() != 1 {
            failures.push(format!(
                "{} in {pos:?}: {} pi_leak records",
                sample.pi_type,
                got.len()
            ));
            continue;
        }
        let r = got[0];
        if r["pi"] != want {
            failures.push(format!(
                "{} in {pos:?}:\n  got  {}\n  want {}",
                sample.pi_type, r["pi"], want
            ));
        }
        let url = expected_url(sample, *pos);
        if r["http"]["url"] != url.as_str() {
            failures.push(format!(
                "{} in {pos:?}: url {} want {url}",
                sample.pi_type, r["http"]["url"]
            ));
        }
        assert_eq!(r["host"], "api.example.net");
        assert_eq!(r["sdk"], Value::Null);
        assert_eq!(r["third_party"], false);
        assert_eq!(r["tls"], Value::Null);
        assert_eq!(r["consent_phase"], "no_session");
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(leaks.len(), cases.len());
    assert_eq!(stats.detect.leaks_by_type.get("imei"), Some(&6));
    assert_eq!(
        stats.detect.leaks_by_sdk.get("-"),
        Some(&(cases.len() as u64))
    );
    println!(
        "{} requests, {} pi_leak records, all exact",
        cases.len(),
        leaks.len()
    );
}
