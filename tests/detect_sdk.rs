//! SDK attribution and `sdk_contact` records: via DNS (query and answer), TLS SNI, QUIC
//! SNI and HTTP Host; once per (session, SDK, host, phase); the destination of a flow
//! without Host or SNI named by the DNS answer the phone received; third party from the
//! session's first-party domains; face images only towards face-recognition SDKs.

mod detect_support;

use std::net::{IpAddr, Ipv4Addr};

use base64::Engine as _;
use leaktap::flow::Direction;
use leaktap::session::{self, KnownIds};
use leaktap::synth::tcp::{Segmentation, TcpConversation};
use leaktap::synth::traffic;
use serde_json::{json, Value};

use detect_support::*;

/// 2026-03-02T09:00:00Z.
const T0: i64 = 1_772_442_000_000_000;
const SEC: i64 = 1_000_000;

fn dns_exchange(port: u16, name: &str, answer: Ipv4Addr, at: i64) -> Vec<(i64, Vec<u8>)> {
    let resolver = server(1, 53);
    let q = traffic::dns_query(0x1234, name, traffic::RrType::A);
    let r = traffic::dns_response(0x1234, name, &[IpAddr::V4(answer)]);
    traffic::udp_exchange(
        &phone(port),
        &resolver,
        &[],
        &[(Direction::ToServer, &q[..]), (Direction::ToClient, &r[..])],
        at,
        1000,
    )
}

fn tls_hello(port: u16, sni: &str, at: i64) -> Vec<(i64, Vec<u8>)> {
    let mut conv = TcpConversation::new(phone(port), server(40, 443)).with_start_micros(at);
    conv.handshake();
    conv.client_sends(
        &traffic::tls_client_hello(sni, &["h2"], [7; 32]),
        &Segmentation::whole(),
    );
    conv.close();
    conv.take_frames()
}

fn quic_initial(port: u16, at: i64) -> Vec<(i64, Vec<u8>)> {
    let hex_text = include_str!("../src/proto/quic/testdata/rfc9001_a2_client_initial.hex");
    let hex: String = hex_text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    traffic::udp_exchange(
        &phone(port),
        &server(50, 443),
        &[],
        &[(Direction::ToServer, &bytes[..])],
        at,
        1000,
    )
}

fn http_to(
    port: u16,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    at: i64,
) -> Vec<(i64, Vec<u8>)> {
    let method = if body.is_empty() { "GET" } else { "POST" };
    http_exchange(
        port,
        &traffic::http_request(method, host, path, headers, body),
        &Segmentation::whole(),
        at,
    )
}

fn contacts(records: &[Value]) -> Vec<(String, String, String, String)> {
    of_type(records, "sdk_contact")
        .iter()
        .map(|r| {
            (
                r["via"].as_str().unwrap_or_default().to_string(),
                r["host"].as_str().unwrap_or_default().to_string(),
                r["sdk"]["id"].as_str().unwrap_or_default().to_string(),
                r["consent_phase"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn c(via: &str, host: &str, sdk: &str, phase: &str) -> (String, String, String, String) {
    (via.into(), host.into(), sdk.into(), phase.into())
}

#[test]
fn contacts_via_dns_tls_quic_and_http() {
    let mut frames = Vec::new();
    frames.extend(dns_exchange(
        30_001,
        "alog.umeng.com",
        Ipv4Addr::new(198, 51, 100, 30),
        T0,
    ));
    frames.extend(tls_hello(30_002, "mi.gdt2.qq.com", T0 + SEC));
    frames.extend(quic_initial(30_003, T0 + 2 * SEC));
    frames.extend(http_to(
        30_004,
        "ulogs.umengcloud.com",
        "/stat?x=1",
        &[],
        b"",
        T0 + 3 * SEC,
    ));
    // The same host again: no second contact.
    frames.extend(http_to(
        30_005,
        "ulogs.umengcloud.com",
        "/stat?x=2",
        &[],
        b"",
        T0 + 4 * SEC,
    ));
    // A host that is no SDK: no contact.
    frames.extend(http_to(
        30_006,
        "api.example.net",
        "/",
        &[],
        b"",
        T0 + 5 * SEC,
    ));
    frames.sort_by_key(|(ts, _)| *ts);
    let (records, stats) = run(&frames, signature_set(), Vec::new());
    assert_eq!(
        contacts(&records),
        [
            c("dns", "alog.umeng.com", "test_umeng", "no_session"),
            c("tls_sni", "mi.gdt2.qq.com", "test_gdt", "no_session"),
            c("quic_sni", "example.com", "test_quic_example", "no_session"),
            c(
                "http_host",
                "ulogs.umengcloud.com",
                "test_umeng",
                "no_session"
            ),
        ]
    );
    let dns = &of_type(&records, "sdk_contact")[0];
    assert_eq!(
        dns["sdk"],
        json!({"id": "test_umeng", "name": "友盟+ 统计分析 (test entry)", "vendor": "test", "category": "analytics"})
    );
    assert_eq!(dns["third_party"], true);
    assert_eq!(dns["app_proto"], "dns");
    assert_eq!(stats.records_of(leaktap::record::EventType::SdkContact), 4);
}

#[test]
fn phases_sessions_and_first_party() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("phone.toml");
    std::fs::write(
        &path,
        r#"
[device]
name = "lab phone 3"
mac = "02:1a:2b:3c:4d:5e"
ip = ["192.0.2.23"]

[app]
name = "Example Reader"
package = "com.example.reader"
first_party_domains = ["example.net", "umeng.com"]

[[events]]
at = "2026-03-02T09:00:00Z"
kind = "app_launched"

[[events]]
at = "2026-03-02T09:00:40Z"
kind = "consent_granted"
"#,
    )
    .expect("write");
    let session = session::load(&path, &KnownIds::builtin()).expect("session");
    let mut frames = Vec::new();
    let imei = "/a?imei=861234567890127";
    frames.extend(http_to(
        31_001,
        "api.example.net",
        imei,
        &[],
        b"",
        T0 + 10 * SEC,
    ));
    frames.extend(http_to(
        31_002,
        "ulogs.umeng.com",
        imei,
        &[],
        b"",
        T0 + 20 * SEC,
    ));
    frames.extend(http_to(
        31_003,
        "ulogs.umeng.com",
        imei,
        &[],
        b"",
        T0 + 30 * SEC,
    ));
    frames.extend(http_to(
        31_004,
        "ulogs.umeng.com",
        imei,
        &[],
        b"",
        T0 + 50 * SEC,
    ));
    frames.sort_by_key(|(ts, _)| *ts);
    let (records, _) = run(&frames, signature_set(), vec![session]);
    assert_eq!(
        contacts(&records),
        [
            c(
                "http_host",
                "ulogs.umeng.com",
                "test_umeng",
                "before_consent"
            ),
            c(
                "http_host",
                "ulogs.umeng.com",
                "test_umeng",
                "after_consent"
            ),
        ]
    );
    let leaks = of_type(&records, "pi_leak");
    let summary: Vec<(String, bool, String, Value)> = leaks
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap_or_default().to_string(),
                r["third_party"].as_bool().unwrap_or_default(),
                r["consent_phase"].as_str().unwrap_or_default().to_string(),
                r["sdk"]["id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "api.example.net".into(),
                false,
                "before_consent".into(),
                Value::Null
            ),
            // A known SDK host is a third party even under a first-party domain.
            (
                "ulogs.umeng.com".into(),
                true,
                "before_consent".into(),
                json!("test_umeng")
            ),
            (
                "ulogs.umeng.com".into(),
                true,
                "before_consent".into(),
                json!("test_umeng")
            ),
            (
                "ulogs.umeng.com".into(),
                true,
                "after_consent".into(),
                json!("test_umeng")
            ),
        ]
    );
    assert_eq!(
        leaks[0]["session_id"],
        of_type(&records, "sdk_contact")[0]["session_id"]
    );
    assert_eq!(leaks[0]["device"]["name"], "lab phone 3");
}

#[test]
fn destination_named_by_the_dns_answer() {
    // No Host, no SNI: a private protocol to the address the phone resolved.
    let addr = Ipv4Addr::new(198, 51, 100, 60);
    let mut frames = dns_exchange(32_001, "push.umeng.com", addr, T0);
    let mut conv =
        TcpConversation::new(phone(32_002), endpoint(addr, 5222)).with_start_micros(T0 + SEC);
    conv.handshake();
    conv.client_sends(
        br#"{"cmd":"bind","imsi":"460001234567890"}"#,
        &Segmentation::whole(),
    );
    conv.close();
    frames.extend(conv.take_frames());
    let (records, _) = run(&frames, signature_set(), Vec::new());
    let leaks = of_type(&records, "pi_leak");
    assert_eq!(leaks.len(), 1, "{leaks:#?}");
    assert_eq!(leaks[0]["host"], "push.umeng.com");
    assert_eq!(leaks[0]["sdk"]["id"], "test_umeng");
    assert_eq!(leaks[0]["pi"][0]["where"], "stream.raw>json:$.imsi");
    assert_eq!(leaks[0]["pi"][0]["type"], "imsi");
}

fn endpoint(ip: Ipv4Addr, port: u16) -> leaktap::synth::Endpoint {
    leaktap::synth::Endpoint::new(GATEWAY_MAC, IpAddr::V4(ip), port)
}

/// A tiny synthetic JPEG (SOI, APP0 JFIF, EOI) — not a real face, only the shape.
fn jpeg() -> Vec<u8> {
    let mut j = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10];
    j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    j.extend_from_slice(&[0x5a; 64]);
    j.extend_from_slice(&[0xff, 0xd9]);
    j
}

#[test]
fn face_images_to_face_recognition_sdks() {
    let img = jpeg();
    let mut multipart = b"--FB\r\nContent-Disposition: form-data; name=\"image\"; filename=\"face.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".to_vec();
    multipart.extend_from_slice(&img);
    multipart.extend_from_slice(b"\r\n--FB--\r\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&img);
    let json_body = json!({"biz": "liveness", "image_best": b64}).to_string();
    let mp = [("Content-Type", "multipart/form-data; boundary=FB")];
    let js = [("Content-Type", "application/json")];
    let mut frames = Vec::new();
    frames.extend(http_to(
        33_001,
        "api.faceid-test.cn",
        "/v3/verify",
        &mp,
        &multipart,
        T0,
    ));
    frames.extend(http_to(
        33_002,
        "api.faceid-test.cn",
        "/v3/verify",
        &js,
        json_body.as_bytes(),
        T0 + SEC,
    ));
    frames.extend(http_to(
        33_003,
        "api.faceid-test.cn",
        "/v3/raw",
        &[("Content-Type", "image/jpeg")],
        &img,
        T0 + 2 * SEC,
    ));
    // The same image to a host that is no face-recognition SDK: not a face image.
    frames.extend(http_to(
        33_004,
        "api.example.net",
        "/avatar",
        &mp,
        &multipart,
        T0 + 3 * SEC,
    ));
    frames.sort_by_key(|(ts, _)| *ts);
    let (records, _) = run(&frames, signature_set(), Vec::new());
    let leaks = of_type(&records, "pi_leak");
    let got: Vec<Value> = leaks.iter().map(|r| r["pi"].clone()).collect();
    let len = img.len();
    let item = |place: &str, enc: &str, value: String| {
        json!([{
            "type": "face_image", "category": "biometric", "sensitive": true, "where": place,
            "encoding": enc, "method": "pattern", "value": leaktap::record::mask(&value),
            "confidence": 0.8,
        }])
    };
    assert_eq!(
        got,
        [
            item("body.multipart:image", "plain", format!("jpeg:{len}")),
            item(
                "body.json:$.image_best",
                "base64",
                format!("jpeg:{}", b64.len() / 4 * 3)
            ),
            item("body.raw", "plain", format!("jpeg:{len}")),
        ]
    );
    assert!(leaks.iter().all(|r| r["sdk"]["id"] == "test_face"));
}
